//! A project's enqueue lease: the word the scheduler's ticks and the push hooks share to keep one project's sync
//! messages apart, and how long it holds by default.

use std::time::Duration;

use time::OffsetDateTime;

use super::ids::{ConnectionId, CredentialId};
use super::project_status::ProjectStatus;
use super::store::StoreError;
use super::sync_message::{MessageError, SyncMessage, SyncQueue};
use super::time::utc;

/// How long a sent message keeps its project from being enqueued again, by default: it should outlast the time a
/// message waits and runs. The scheduler's ticks and the push hooks take leases of this length.
pub const DEFAULT_ENQUEUE_LEASE: Duration = Duration::from_secs(50 * 60);

/// A project's enqueue lease, the one mechanism that keeps sync messages of one project apart, whoever sends them:
/// - a tick enqueues a project only if no lease of an earlier message still holds (`until`), so two ticks close
///   together never send a second message while one is in flight;
/// - a push hook enqueues only if no queued message becomes visible after the push (`visible_at`): such a message
///   reads the branch head after the push, so it covers it. The hook's own messages are delayed by a short window
///   and so cover the pushes of that window: a burst of pushes makes one sync per window
///   (`crate::hooks`, which takes its lease with one conditional write of the same item).
///
/// A tick reads and writes leases only while it holds the connection's scheduling lock (the scheduler's
/// `ConnectionTurns::lock_connection`); a hook's lease taken during a tick may be overwritten by the tick's own (two
/// messages, both harmless) but never lost without a message having been sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnqueueLease {
    /// When the message was enqueued (RFC 3339).
    pub enqueued_at: String,
    /// Until when the lease holds, in epoch seconds.
    pub until: i64,
    /// When the message becomes visible to the worker, in epoch seconds (a tick's at once; a hook's after its
    /// coalescing window). `0` for leases recorded before hooks existed.
    pub visible_at: i64,
}

/// The statuses of a project a push hook or an operator's `projects.sync` enqueues: those a tick enqueues (one
/// recorded empty may be empty no more after a push). Archived, excluded and refused projects are left to the tick.
pub const ON_DEMAND_STATUSES: [ProjectStatus; 2] = [ProjectStatus::Active, ProjectStatus::Empty];

/// The scheduler's record of a project a hook (or an operator) enqueues: what its sync message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledProject {
    pub credential_id: CredentialId,
    pub path_with_namespace: String,
    /// The default branch as the last tick recorded it: the branch the sync imports.
    pub default_branch: String,
}

/// How taking a project's lease for a push (or an operator's sync) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseTake {
    /// The lease is this push's: send its message.
    Taken(ScheduledProject),
    /// A queued message becomes visible after this push and reads the head after it: nothing to send.
    Covered,
    /// No tick has recorded the project (new, or not readable by any of the connection's credentials).
    Unknown,
    /// The tick does not sync the project: it is excluded, archived, refused by GitLab, or gone (the status).
    NotSynced(String),
}

impl EnqueueLease {
    /// The lease a message sent at `now` takes: it holds for `hold`, and the message becomes visible after `delay`.
    pub fn delayed(now: OffsetDateTime, hold: Duration, delay: Duration) -> Self {
        let now_s = now.unix_timestamp();
        EnqueueLease {
            enqueued_at: utc(now),
            until: now_s.saturating_add(hold.as_secs() as i64),
            visible_at: now_s.saturating_add(delay.as_secs() as i64),
        }
    }
}

/// Why the message of a lease taken was not sent: the lease is to be given back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotSent {
    Queue(StoreError),
    /// The tick wrote the record from GitLab's answer; one that makes no message is a bug, not the caller's.
    ScheduleItem(MessageError),
}

impl ScheduledProject {
    /// Sends the project's sync message on `queue`, visible after `delay`.
    pub async fn send<Q: SyncQueue>(
        self,
        queue: &Q,
        connection: &ConnectionId,
        project_id: u64,
        delay: Duration,
    ) -> Result<(), NotSent> {
        let message = SyncMessage::new(
            connection.clone(),
            self.credential_id,
            project_id,
            self.path_with_namespace,
            self.default_branch,
        )
        .map_err(NotSent::ScheduleItem)?;
        queue.enqueue(&message, delay).await.map_err(NotSent::Queue)
    }
}

impl LeaseTake {
    /// Why a push of a project a tick recorded sends nothing whatever its lease: the project is gone, or its stored
    /// `status` (`None` if it has none) is not one of [`ON_DEMAND_STATUSES`]. `None` when the tick syncs it.
    pub fn not_synced(gone: bool, status: Option<&str>) -> Option<LeaseTake> {
        if gone {
            return Some(LeaseTake::NotSynced("gone".into()));
        }
        let status = status.unwrap_or("unknown");
        (!ON_DEMAND_STATUSES.iter().any(|s| s.as_str() == status))
            .then(|| LeaseTake::NotSynced(status.to_owned()))
    }
}
