//! [`Projects`]: an operator's view of a connection's projects, and the two requests an operator makes of one.
//!
//! `sync` and `resync` enqueue the project's usual sync message through its enqueue lease, as a push hook does:
//! at once after a quiet spell, else a coalescing window after the project's last message, and a message that
//! becomes visible after the request covers it (it reads the project after the request). A `sync` is also covered by a message queued earlier that
//! no sync has answered yet (queued, or running); a `resync` is not, since a running sync may have read the
//! project before the request. The lease is taken only while no tick holds the connection's scheduling lock (a
//! tick holds it for the seconds it reads and writes the connection's leases); a request waits out such a tick
//! for a bounded time, so of twenty requests at once, during a tick or not, exactly one sends a message.

use std::time::Duration;

use time::OffsetDateTime;

use super::model::{ProjectState, StatusFilter};
use super::ports::ProjectStates;
use crate::backoff::jittered;
use crate::kernel::enqueue_lease::{
    DEFAULT_ENQUEUE_LEASE, LeaseRequest, LeaseTake, NotSent, PlannedLease, ScheduledProject,
};
use crate::kernel::ids::ConnectionId;
use crate::kernel::store::StoreError;
use crate::kernel::sync_message::{MessageError, SyncQueue};
use crate::kernel::time::change_stamp;
use crate::kernel::turn_request::{TurnQueue, TurnRequest};

/// The most projects one page holds, and the default.
pub const MAX_PAGE: usize = 100;
pub const DEFAULT_PAGE: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectsOptions {
    /// The least time between two messages of a project becoming visible (the push hooks' coalescing window).
    pub coalesce_window: Duration,
    /// How long a sent message keeps the tick from sending another.
    pub enqueue_lease: Duration,
    /// How long a request waits for a tick to give the connection's scheduling lock back.
    pub lock_wait: Duration,
    /// A connection's turn requested this recently covers another request.
    pub turn_cover: Duration,
}

impl Default for ProjectsOptions {
    fn default() -> Self {
        ProjectsOptions {
            coalesce_window: Duration::from_secs(5),
            enqueue_lease: DEFAULT_ENQUEUE_LEASE,
            lock_wait: Duration::from_secs(10),
            turn_cover: Duration::from_secs(60),
        }
    }
}

/// One page of a connection's projects, in project id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub projects: Vec<ProjectState>,
    /// The last project id of this page when more follow: the next page starts after it.
    pub next_after: Option<u64>,
}

/// How a sync or re-import request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// A sync message is queued for the project by this request.
    Queued,
    /// A message already queued reads the project after the request: nothing more is sent.
    Covered,
}

/// Why a request about a project could not be served: the caller's, or ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectsError {
    #[error("no tick has recorded a project with this id in this connection")]
    ProjectNotFound,
    /// The tick does not sync it: the status says why (`excluded`, `archived`, `forbidden`, `gone`, ...).
    #[error("the project is {0}, and only active or empty projects are synced")]
    NotSynced(String),
    #[error("a schedule tick is enqueueing this connection's projects; try again in a minute")]
    Busy,
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("queue: {0}")]
    Queue(StoreError),
    #[error("the project's schedule item makes no sync message: {0}")]
    ScheduleItem(MessageError),
}

/// The projects use cases, built once per process.
#[derive(Debug)]
pub struct Projects<P, Q, T> {
    pub store: P,
    /// Where a project's sync message goes.
    pub queue: Q,
    /// Where a connection's turn request goes (the scheduler's queue).
    pub turns: T,
    pub options: ProjectsOptions,
}

impl<P: ProjectStates, Q: SyncQueue, T: TurnQueue> Projects<P, Q, T> {
    /// Runs the connection's discovery and fan-out now (the scheduler takes the request from its queue): one turn
    /// for every request within [`ProjectsOptions::turn_cover`], the later ones `covered` by the first.
    pub async fn sync_connection(
        &self,
        connection: &ConnectionId,
    ) -> Result<Requested, ProjectsError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let since = now.saturating_sub(self.options.turn_cover.as_secs() as i64);
        if !self
            .store
            .claim_turn_request(connection, now, since)
            .await?
        {
            return Ok(Requested::Covered);
        }
        let request = TurnRequest {
            connection_id: connection.clone(),
            requested_at: now,
        };
        if let Err(error) = self.turns.request_turn(&request).await {
            if let Err(release) = self.store.release_turn_request(connection, now).await {
                tracing::error!(error = %release, "turn request not taken back; it lapses by itself");
            }
            return Err(ProjectsError::Queue(error));
        }
        Ok(Requested::Queued)
    }

    /// The page of the connection's projects after project id `after`, with `status` when given.
    pub async fn list(
        &self,
        connection: &ConnectionId,
        status: Option<StatusFilter>,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page, ProjectsError> {
        let states = self.store.project_states(connection).await?;
        Ok(page(states, status, after, limit))
    }

    /// One project, or [`ProjectsError::ProjectNotFound`].
    pub async fn info(
        &self,
        connection: &ConnectionId,
        project_id: u64,
    ) -> Result<ProjectState, ProjectsError> {
        self.store
            .project_state(connection, project_id)
            .await?
            .ok_or(ProjectsError::ProjectNotFound)
    }

    /// Syncs the project now (at once, or within the coalescing window of its last message).
    pub async fn sync(
        &self,
        connection: &ConnectionId,
        project_id: u64,
    ) -> Result<Requested, ProjectsError> {
        self.enqueue(connection, project_id, Cover::QueuedOrLater)
            .await
    }

    /// Imports the project's whole default branch again and marks removed the stored commits no longer on it:
    /// the request is recorded on the project's sync item first (so whichever sync reads the project next does
    /// it, a queued one included), then the project is synced as by [`Projects::sync`].
    pub async fn resync(
        &self,
        connection: &ConnectionId,
        project_id: u64,
    ) -> Result<Requested, ProjectsError> {
        synced(&self.info(connection, project_id).await?)?;
        let stamp = change_stamp(OffsetDateTime::now_utc());
        self.store
            .request_resync(connection, project_id, &stamp)
            .await?;
        self.enqueue(connection, project_id, Cover::Later).await
    }

    /// Takes the project's lease (waiting out a tick's lock for [`ProjectsOptions::lock_wait`]) and sends its
    /// message.
    async fn enqueue(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        cover: Cover,
    ) -> Result<Requested, ProjectsError> {
        let mut attempt = 0;
        let waited_until = tokio::time::Instant::now() + self.options.lock_wait;
        let taken = loop {
            let now = OffsetDateTime::now_utc();
            let state = self.info(connection, project_id).await?;
            synced(&state)?;
            if cover == Cover::QueuedOrLater && state.sync_queued(now.unix_timestamp()) {
                return Ok(Requested::Covered);
            }
            // Taken only if the lease is still the one this decision read: another request's message, sent
            // since, is queued and covers this one (read again).
            let seen_visible_ms = state.lease.as_ref().map_or(0, |lease| lease.visible_at_ms);
            let request = LeaseRequest::on_queue::<Q>(
                now,
                self.options.coalesce_window,
                self.options.enqueue_lease,
            );
            let taken = self
                .store
                .take_operator_lease(connection, project_id, &request, seen_visible_ms)
                .await?;
            match taken {
                Some(taken) => break taken,
                None if tokio::time::Instant::now() < waited_until => {
                    attempt += 1;
                    let delay =
                        jittered(Duration::from_millis(100), Duration::from_secs(1), attempt);
                    tokio::time::sleep(delay).await;
                }
                None => return Err(ProjectsError::Busy),
            }
        };
        match taken {
            LeaseTake::Taken(project, planned) => {
                self.send(connection, project_id, project, &planned).await?;
                Ok(Requested::Queued)
            }
            LeaseTake::Covered => Ok(Requested::Covered),
            LeaseTake::Unknown => Err(ProjectsError::ProjectNotFound),
            other @ LeaseTake::NotSynced(_) => Err(not_synced(other)),
        }
    }

    /// Sends the project's message; one not sent gives its lease back, so that the request may be made again.
    async fn send(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        project: ScheduledProject,
        planned: &PlannedLease,
    ) -> Result<(), ProjectsError> {
        let sent = project
            .send(&self.queue, connection, project_id, planned.delay)
            .await
            .map_err(|failure| match failure {
                NotSent::Queue(error) => ProjectsError::Queue(error),
                NotSent::ScheduleItem(error) => ProjectsError::ScheduleItem(error),
            });
        if sent.is_err()
            && let Err(error) = self
                .store
                .release_operator_lease(connection, project_id, planned.lease.visible_at_ms)
                .await
        {
            tracing::error!(project_id, error = %error, "sync lease not given back; it lapses by itself");
        }
        sent
    }
}

/// Which queued message covers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cover {
    /// One no sync has answered yet (queued or running), or one that becomes visible after the request.
    QueuedOrLater,
    /// Only one that becomes visible after the request.
    Later,
}

/// `Ok` when a tick syncs the project (active or empty, not gone), else why not.
fn synced(state: &ProjectState) -> Result<(), ProjectsError> {
    let status = state.schedule_status.map(|status| status.as_str());
    match LeaseTake::not_synced(state.gone_at.is_some(), status) {
        Some(refusal) => Err(not_synced(refusal)),
        None => Ok(()),
    }
}

fn not_synced(take: LeaseTake) -> ProjectsError {
    match take {
        LeaseTake::NotSynced(status) => ProjectsError::NotSynced(status),
        LeaseTake::Unknown => ProjectsError::ProjectNotFound,
        LeaseTake::Taken(..) | LeaseTake::Covered => ProjectsError::NotSynced("unknown".into()),
    }
}

/// The projects after `after` with `status`, at most `limit` (1 to [`MAX_PAGE`]) of them, in id order.
fn page(
    mut states: Vec<ProjectState>,
    status: Option<StatusFilter>,
    after: Option<u64>,
    limit: usize,
) -> Page {
    let limit = limit.clamp(1, MAX_PAGE);
    states.sort_by_key(|s| s.project_id);
    let mut matching = states
        .into_iter()
        .filter(|s| after.is_none_or(|after| s.project_id > after))
        .filter(|s| status.is_none_or(|status| s.status() == status));
    let projects: Vec<ProjectState> = matching.by_ref().take(limit).collect();
    let next_after = if matching.next().is_some() {
        projects.last().map(|s| s.project_id)
    } else {
        None
    };
    Page {
        projects,
        next_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::project_status::ProjectStatus;

    fn project(id: u64, status: ProjectStatus) -> ProjectState {
        ProjectState {
            project_id: id,
            schedule_status: Some(status),
            ..ProjectState::default()
        }
    }

    #[test]
    fn pages_follow_project_ids_and_the_filter_and_end_without_a_next_page() {
        let states: Vec<ProjectState> = [5, 1, 4, 2, 3]
            .into_iter()
            .map(|id| {
                let status = if id % 2 == 0 {
                    ProjectStatus::Excluded
                } else {
                    ProjectStatus::Active
                };
                project(id, status)
            })
            .collect();
        let ids = |page: &Page| {
            page.projects
                .iter()
                .map(|s| s.project_id)
                .collect::<Vec<_>>()
        };
        let first = page(states.clone(), None, None, 2);
        assert_eq!((ids(&first), first.next_after), (vec![1, 2], Some(2)));
        let second = page(states.clone(), None, first.next_after, 2);
        assert_eq!((ids(&second), second.next_after), (vec![3, 4], Some(4)));
        let last = page(states.clone(), None, second.next_after, 2);
        assert_eq!((ids(&last), last.next_after), (vec![5], None));
        let exact = page(states.clone(), Some(StatusFilter::Active), None, 3);
        assert_eq!((ids(&exact), exact.next_after), (vec![1, 3, 5], None));
        let excluded = page(states.clone(), Some(StatusFilter::Excluded), Some(2), 0);
        assert_eq!((ids(&excluded), excluded.next_after), (vec![4], None));
        assert_eq!(page(states, None, None, 1000).projects.len(), 5);
    }
}
