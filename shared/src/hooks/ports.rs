//! What a push hook needs from storage: whether a connection exists (checked before its hook secret is read, so
//! that made-up connection ids cost no Secrets Manager read), and the project's enqueue lease, taken with one
//! conditional write of the scheduler's item of the project (the AWS adapter is `crate::aws::project_store`, next
//! to the tick's writes of the same item; tests use the memory fake of `crate::testing`).

use std::future::Future;

use crate::kernel::enqueue_lease::EnqueueLease;
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::project_status::ProjectStatus;
use crate::kernel::store::StoreError;

/// The statuses of a project a push hook enqueues: those a tick enqueues (one recorded empty may be empty no more
/// after a push). Archived, excluded and refused projects are left to the tick.
pub const PUSH_STATUSES: [ProjectStatus; 2] = [ProjectStatus::Active, ProjectStatus::Empty];

/// The scheduler's record of a project a hook enqueues: what its sync message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledProject {
    pub credential_id: CredentialId,
    pub path_with_namespace: String,
    /// The default branch as the last tick recorded it: the branch the sync imports.
    pub default_branch: String,
}

/// How taking a project's lease for a push ended.
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

impl LeaseTake {
    /// Why a push of a project a tick recorded sends nothing whatever its lease: the project is gone, or its stored
    /// `status` (`None` if it has none) is not one of [`PUSH_STATUSES`]. `None` when the tick syncs it.
    pub fn not_synced(gone: bool, status: Option<&str>) -> Option<LeaseTake> {
        if gone {
            return Some(LeaseTake::NotSynced("gone".into()));
        }
        let status = status.unwrap_or("unknown");
        (!PUSH_STATUSES.iter().any(|s| s.as_str() == status))
            .then(|| LeaseTake::NotSynced(status.to_owned()))
    }
}

pub trait PushLeases: Send + Sync {
    /// Whether the credentials API has recorded the connection (one key lookup, far cheaper than a secret read).
    fn connection_exists(
        &self,
        connection: &ConnectionId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes `lease` on the project's schedule item if the project is one a tick would sync (its status in
    /// [`PUSH_STATUSES`], not gone) and no queued message covers a push at `covered_from` (its lease's `visible_at`
    /// is earlier). One conditional write.
    fn take_push_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        lease: &EnqueueLease,
        covered_from: i64,
    ) -> impl Future<Output = Result<LeaseTake, StoreError>> + Send;

    /// Gives back a lease whose message could not be sent, if it is still that lease (`visible_at` names it).
    fn release_push_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        visible_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
