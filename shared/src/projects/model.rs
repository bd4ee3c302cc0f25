//! A project as an operator sees it: the scheduler's record and the sync's state of it, read together, and the
//! one status word that sums them up.

use serde::Serialize;
use serde_json::{Value, json};

use crate::kernel::enqueue_lease::EnqueueLease;
use crate::kernel::project_status::ProjectStatus;
use crate::kernel::time::parse_utc;

/// How many of a project's recent failures its sync item keeps (newest first).
pub const RECENT_FAILURES: usize = 5;

/// One failed sync of a project: its error code and when (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub code: String,
    pub at: String,
}

/// What the sync worker records of a project's syncs (its sync item's `last_synced_at`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncRecord {
    /// The last sync that ended (in success or failure; a sync handed back for lack of time is not one).
    pub last_synced_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// Commit writes of the project's syncs: its commits, once each unless a window was fetched again.
    pub commits_written: u64,
    /// When a sync last found the imported head current (RFC 3339): ticks leave the project alone while GitLab
    /// shows no activity on it since (a quiet project).
    pub verified_at: Option<String>,
    /// Newest first, at most [`RECENT_FAILURES`].
    pub recent_failures: Vec<Failure>,
}

/// An import in progress: its target head and its windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobProgress {
    pub head: String,
    pub windows: usize,
    pub windows_done: usize,
    /// The job imports the whole branch again and then marks removed what it did not write.
    pub reimport: bool,
}

/// What the state table holds of one project: the scheduler's schedule item and the sync's item, joined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectState {
    pub project_id: u64,
    pub path_with_namespace: Option<String>,
    pub default_branch: Option<String>,
    /// The status the scheduler last recorded.
    pub schedule_status: Option<ProjectStatus>,
    /// When the scheduler last saw the project (RFC 3339).
    pub seen_at: Option<String>,
    /// When discovery stopped finding it.
    pub gone_at: Option<String>,
    pub lease: Option<EnqueueLease>,
    /// The head whose whole history is imported.
    pub last_head: Option<String>,
    /// GitLab's last refusal of the project's repository (`forbidden`, `not_found`) and when.
    pub access_error: Option<(String, String)>,
    pub job: Option<JobProgress>,
    /// An operator asked for a re-import (a change stamp) that has not run to its end yet.
    pub resync_requested_at: Option<String>,
    pub sync: SyncRecord,
}

/// The statuses an operator filters by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Active,
    Failing,
    Forbidden,
    Excluded,
    Empty,
    Archived,
    Gone,
}

impl StatusFilter {
    pub const ALL: [StatusFilter; 7] = [
        StatusFilter::Active,
        StatusFilter::Failing,
        StatusFilter::Forbidden,
        StatusFilter::Excluded,
        StatusFilter::Empty,
        StatusFilter::Archived,
        StatusFilter::Gone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Active => "active",
            StatusFilter::Failing => "failing",
            StatusFilter::Forbidden => "forbidden",
            StatusFilter::Excluded => "excluded",
            StatusFilter::Empty => "empty",
            StatusFilter::Archived => "archived",
            StatusFilter::Gone => "gone",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }
}

impl ProjectState {
    /// The one word that sums the project up, first match wins: `gone` (discovery no longer finds it),
    /// `forbidden` (GitLab refuses its repository: 403, or 404 to this token), `excluded`, `archived`, `failing`
    /// (its last sync failed after its last success), `empty`, else `active`.
    pub fn status(&self) -> StatusFilter {
        let refused = matches!(
            self.schedule_status,
            Some(ProjectStatus::Forbidden | ProjectStatus::NotFound)
        );
        if self.gone_at.is_some() {
            StatusFilter::Gone
        } else if refused || self.access_error.is_some() {
            StatusFilter::Forbidden
        } else if self.schedule_status == Some(ProjectStatus::Excluded) {
            StatusFilter::Excluded
        } else if self.schedule_status == Some(ProjectStatus::Archived) {
            StatusFilter::Archived
        } else if self.failing() {
            StatusFilter::Failing
        } else if self.schedule_status == Some(ProjectStatus::Empty) {
            StatusFilter::Empty
        } else {
            StatusFilter::Active
        }
    }

    /// The last sync that ended failed, after the last success if any.
    fn failing(&self) -> bool {
        let at = |text: &Option<String>| text.as_deref().and_then(parse_utc);
        match (at(&self.sync.last_error_at), at(&self.sync.last_success_at)) {
            (Some(error), Some(success)) => error > success,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// A sync message is queued or running: an enqueue lease holds at `now` (epoch seconds) and no sync ended
    /// since its message became visible. Compared in whole seconds, as syncs record their end: a sync that ended
    /// within the second its message became visible counts as that message's.
    pub fn sync_queued(&self, now: i64) -> bool {
        let Some(lease) = self.lease.as_ref().filter(|lease| lease.until > now) else {
            return false;
        };
        let last = self.sync.last_synced_at.as_deref().and_then(parse_utc);
        last.is_none_or(|ended| ended.unix_timestamp() < lease.visible_at_ms.div_euclid(1000))
    }

    /// The project as `projects.list` shows it.
    pub fn view(&self, now: i64) -> Value {
        let last_error = match (&self.sync.last_error, &self.sync.last_error_at) {
            (Some(code), Some(at)) => json!({"code": code, "at": at}),
            _ => Value::Null,
        };
        let access_error = self
            .access_error
            .as_ref()
            .map_or(Value::Null, |(code, at)| json!({"code": code, "at": at}));
        json!({
            "project_id": self.project_id,
            "path_with_namespace": self.path_with_namespace,
            "default_branch": self.default_branch,
            "status": self.status().as_str(),
            "last_head": self.last_head,
            "last_synced_at": self.sync.last_synced_at,
            "last_success_at": self.sync.last_success_at,
            "last_error": last_error,
            "access_error": access_error,
            "commits_written": self.sync.commits_written,
            "verified_at": self.sync.verified_at,
            "sync_queued": self.sync_queued(now),
            "seen_at": self.seen_at,
            "gone_at": self.gone_at,
        })
    }

    /// The project as `projects.info` shows it: the list's view, its job and its recent failures.
    pub fn detail(&self, now: i64) -> Value {
        let mut view = self.view(now);
        view["job"] = json!(self.job);
        view["resync_requested_at"] = json!(self.resync_requested_at);
        view["recent_failures"] = json!(self.sync.recent_failures);
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ProjectState {
        ProjectState {
            project_id: 7,
            schedule_status: Some(ProjectStatus::Active),
            ..ProjectState::default()
        }
    }

    #[test]
    fn the_status_sums_up_schedule_refusal_and_the_last_sync() {
        let mut project = state();
        assert_eq!(project.status(), StatusFilter::Active);
        project.sync.last_success_at = Some("2026-12-01T10:00:00Z".into());
        project.sync.last_error_at = Some("2026-12-01T09:00:00Z".into());
        assert_eq!(
            project.status(),
            StatusFilter::Active,
            "failed, then succeeded"
        );
        project.sync.last_error_at = Some("2026-12-01T11:00:00Z".into());
        assert_eq!(project.status(), StatusFilter::Failing);
        project.access_error = Some(("forbidden".into(), "2026-12-01T11:00:00Z".into()));
        assert_eq!(project.status(), StatusFilter::Forbidden);
        project.gone_at = Some("2026-12-02T00:00:00Z".into());
        assert_eq!(project.status(), StatusFilter::Gone);
        for (schedule, status) in [
            (ProjectStatus::Excluded, StatusFilter::Excluded),
            (ProjectStatus::Archived, StatusFilter::Archived),
            (ProjectStatus::Empty, StatusFilter::Empty),
            (ProjectStatus::NotFound, StatusFilter::Forbidden),
        ] {
            let project = ProjectState {
                schedule_status: Some(schedule),
                ..state()
            };
            assert_eq!(project.status(), status, "{schedule:?}");
        }
        for word in StatusFilter::ALL {
            assert_eq!(StatusFilter::parse(word.as_str()), Some(word));
        }
        assert_eq!(StatusFilter::parse("not_found"), None);
    }

    #[test]
    fn a_sync_is_queued_while_a_lease_holds_and_no_sync_ended_after_its_message_showed() {
        let mut project = state();
        assert!(!project.sync_queued(1_000));
        project.lease = Some(EnqueueLease {
            enqueued_at: "1970-01-01T00:16:40Z".into(),
            until: 4_000,
            visible_at_ms: 1_005_000,
        });
        assert!(project.sync_queued(1_000));
        project.sync.last_synced_at = Some("1970-01-01T00:16:50Z".into()); // 1_010
        assert!(!project.sync_queued(1_020), "the message ran");
        project.sync.last_synced_at = Some("1970-01-01T00:16:40Z".into()); // 1_000
        assert!(project.sync_queued(1_020), "a sync before the message");
        assert!(!project.sync_queued(4_000), "the lease lapsed");
        // A lone push's message, visible at 1_010.300, and its sync, ended at 1_010.800, recorded in whole seconds.
        project.lease.as_mut().unwrap().visible_at_ms = 1_010_300;
        project.sync.last_synced_at = Some("1970-01-01T00:16:50Z".into()); // 1_010
        assert!(
            !project.sync_queued(1_020),
            "the message ran within its second"
        );
    }
}
