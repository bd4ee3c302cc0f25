//! What discovery finds and what one tick reports.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::gitlab::Project;
use crate::kernel::ids::ConnectionId;
use crate::metrics::{Emitter, PROJECTS_ENQUEUED, TICK_DURATION, millis};

/// A project as the scheduler records it on its state-table item (the scheduler's own attributes only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredProject {
    pub project_id: u64,
    pub path_with_namespace: String,
    pub web_url: String,
    /// GitLab's default branch (never null on GitLab, even for an empty repository).
    pub default_branch: String,
    pub archived: bool,
    pub empty_repo: bool,
    pub last_activity_at: Option<String>,
    /// The credential whose discovery found it first (credentials of a connection in id order), preferring one
    /// whose scope includes it.
    pub credential_id: String,
    /// That credential's `include`/`exclude` patterns leave it out: recorded, never enqueued, its commits kept.
    pub excluded: bool,
}

impl DiscoveredProject {
    pub fn from_gitlab(project: &Project, credential_id: &str, excluded: bool) -> Self {
        DiscoveredProject {
            project_id: project.id,
            path_with_namespace: project.path_with_namespace.clone(),
            web_url: project.web_url.clone(),
            default_branch: project.default_branch.clone().unwrap_or_default(),
            archived: project.archived.unwrap_or(false),
            // `simple` entities leave it out; GitLab never does for the full entity we ask for.
            empty_repo: project.empty_repo.unwrap_or(false),
            last_activity_at: project.last_activity_at.map(crate::kernel::time::utc),
            credential_id: credential_id.to_owned(),
            excluded,
        }
    }

    /// Worth a sync message: a repository with a branch to import.
    pub fn has_history(&self) -> bool {
        !self.empty_repo && !self.default_branch.is_empty()
    }
}

/// One connection's part of a tick.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConnectionReport {
    pub connection_id: String,
    /// Live credentials whose discovery ran (succeeded or not).
    pub credentials: usize,
    /// Another tick held the connection's scheduling lock: this one discovered but left the rest to it.
    pub busy: bool,
    /// The tick's time ran out before this connection's turn (not started, or its discovery cut): nothing was
    /// recorded for it, and it goes first next tick.
    pub deferred: bool,
    /// Distinct projects found by the credentials that succeeded.
    pub discovered: usize,
    pub enqueued: usize,
    /// Empty repositories: recorded, not enqueued.
    pub empty: usize,
    /// Projects with a sync message still in flight (their enqueue lease holds).
    pub in_flight: usize,
    /// Imported projects GitLab shows no activity on since a sync found them current: not enqueued.
    pub quiet: usize,
    /// Archived projects not enqueued: history fully imported (or a message still in flight).
    pub archived_done: usize,
    /// Left out by a credential's `include`/`exclude` patterns.
    pub excluded: usize,
    /// Refused by GitLab at their last sync (403/404), not due for a retry yet.
    pub inaccessible: usize,
    /// Projects no longer visible, marked `gone_at` this tick.
    pub gone: usize,
    /// Messages that could not be sent after every retry; their leases are released for the next tick.
    pub not_sent: usize,
    pub gitlab_requests: u64,
    pub sqs_calls: u64,
    /// Project item writes (metadata with or without a lease, gone marks); unchanged items are not written.
    pub writes: usize,
    /// Write requests to the store (lock, batches of records, lease releases, gone marks).
    pub write_calls: u64,
    /// Error codes (`credential_id: code`) of credentials or steps that failed.
    pub errors: Vec<String>,
}

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// The tick's identity (the event's scheduled `time`, else its `id`), when the event carries one.
    pub tick: Option<String>,
    /// This tick was already handled (a second delivery): nothing was done.
    pub duplicate: bool,
    pub connections: Vec<ConnectionReport>,
}

impl TickReport {
    pub fn enqueued(&self) -> usize {
        self.connections.iter().map(|c| c.enqueued).sum()
    }

    pub fn not_sent(&self) -> usize {
        self.connections.iter().map(|c| c.not_sent).sum()
    }

    /// Connections left for the next tick because this one ran out of time.
    pub fn deferred(&self) -> usize {
        self.connections.iter().filter(|c| c.deferred).count()
    }

    /// The tick's metric line ([`crate::metrics`]): its time and the sync messages it sent.
    pub fn metric_line(&self, emitter: &Emitter, took: Duration) -> String {
        emitter.line(
            &[],
            &[
                (TICK_DURATION, millis(took)),
                (PROJECTS_ENQUEUED, self.enqueued() as u64),
            ],
        )
    }
}

/// One schedule tick, as the entry point read it from its event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    /// The tick's identity (two deliveries of one tick carry the same); `None`: no duplicate check.
    pub key: Option<String>,
    /// When the invocation ends; `None`: no limit but each connection's window.
    pub ends_at: Option<tokio::time::Instant>,
    /// Only this connection's turn (an operator's `connections.sync`); `None`: every connection's.
    pub only: Option<ConnectionId>,
}

/// Epoch seconds, as the leases store them.
pub fn epoch(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tick's line names exactly the metrics the catalogue says the scheduler emits.
    #[test]
    fn the_tick_line_names_the_schedulers_metrics() {
        let report = TickReport {
            connections: vec![
                ConnectionReport {
                    enqueued: 3,
                    ..ConnectionReport::default()
                },
                ConnectionReport {
                    enqueued: 4,
                    ..ConnectionReport::default()
                },
            ],
            ..TickReport::default()
        };
        let line: serde_json::Value = serde_json::from_str(
            &report.metric_line(&Emitter::new("ns"), Duration::from_millis(1_234)),
        )
        .unwrap();
        assert_eq!(
            crate::metrics::declared_names(&line),
            crate::metrics::catalogue_names("scheduler")
        );
        assert_eq!(line["TickDuration"], 1_234);
        assert_eq!(line["ProjectsEnqueued"], 7);
    }

    #[test]
    fn an_empty_repository_has_no_history_to_sync() {
        let project: Project = serde_json::from_value(serde_json::json!({
            "id": 7, "path_with_namespace": "g/p", "default_branch": "main", "empty_repo": true,
            "archived": false, "web_url": "https://gitlab.example.com/g/p",
            "last_activity_at": "2026-01-02T03:04:05.000+01:00"
        }))
        .unwrap();
        let found = DiscoveredProject::from_gitlab(&project, "cred_1", false);
        assert!(!found.has_history());
        assert_eq!(
            found.last_activity_at.as_deref(),
            Some("2026-01-02T02:04:05Z")
        );
    }
}
