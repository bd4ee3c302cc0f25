//! What the sync needs from storage, as small traits: the AWS adapters implement them over DynamoDB, tests over
//! memory.

use std::future::Future;

use time::OffsetDateTime;

use crate::kernel::ids::ConnectionId;
use crate::kernel::store::StoreError;

use super::model::{SyncJob, SyncState};
use crate::kernel::commit_record::CommitRecord;
use crate::kernel::project_key::ProjectKey;

/// The commits table. Writes are idempotent: a record is keyed by (project, sha), so a redelivered message or a
/// window fetched twice writes the same item again.
pub trait CommitStore: Send + Sync {
    /// Writes every record, except those the table refuses as invalid however they are sent: their shas are
    /// returned (skipped), so that one bad item cannot fail its page forever. When the table refuses every one
    /// of several records, the fault is the table's (a wrong key schema, say), not theirs: that is an error, so
    /// nothing is recorded as skipped that was never written for a reason of its own.
    fn put(
        &self,
        records: Vec<CommitRecord>,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        self.put_changed_from(records, None)
    }

    /// [`CommitStore::put`], with every item's change stamp (`changed_at`) at least `floor` (a
    /// [`change_stamp`](crate::kernel::time::change_stamp)) whatever this host's clock says: a reconciling import
    /// stamps its writes no earlier than its start, so that [`CommitStore::remove_unchanged_since`] never takes
    /// them for leftovers, even when written by another invocation whose clock is behind.
    fn put_changed_from(
        &self,
        records: Vec<CommitRecord>,
        floor: Option<&str>,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Marks commits that left the default branch; they stay in the table with `removed_at`.
    fn mark_removed(
        &self,
        project: &ProjectKey,
        shas: Vec<String>,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks removed (like [`CommitStore::mark_removed`]) every live commit of the project whose last write is
    /// stamped before `since` (or not stamped at all), and returns how many it marked. Each mark is conditional on
    /// the item as it is then, so a commit written meanwhile is left live. Reads the partition page by page.
    fn remove_unchanged_since(
        &self,
        project: &ProjectKey,
        since: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

/// How one sync of a project ended, as its sync item records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEnd {
    /// It read the project and wrote `commits` (or had nothing to write). `verified_at` (epoch seconds): the
    /// branch head it read then was the one already imported, so the table was current at that time (what lets the
    /// scheduler leave a quiet project alone).
    Succeeded {
        at: String,
        commits: u64,
        verified_at: Option<i64>,
    },
    /// It failed with this code (`forbidden`, `gitlab_unavailable`, ...), or did not run for its credential's
    /// state (`credential_disabled`, ...).
    Failed { at: String, code: String },
    /// It wrote `commits` and a continuation carries on: it has not ended.
    Progressed { commits: u64 },
}

/// Per-project sync state.
pub trait SyncStateStore: Send + Sync {
    fn load(
        &self,
        project: &ProjectKey,
    ) -> impl Future<Output = Result<SyncState, StoreError>> + Send;

    /// Saves an import's checkpoint, if `last_head` still equals `expected`.
    fn save_job(
        &self,
        project: &ProjectKey,
        expected: Option<&str>,
        job: &SyncJob,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records that GitLab hides the project from this token (`forbidden`, `not_found`) and when; the scheduler
    /// retries such a project only after a while. A later successful sync clears the mark.
    fn mark_inaccessible(
        &self,
        project: &ProjectKey,
        code: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Clears the mark of [`SyncStateStore::mark_inaccessible`] after a sync that read the project (one whose
    /// head moved clears it in [`SyncStateStore::advance`]).
    fn clear_inaccessible(
        &self,
        project: &ProjectKey,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records how a sync of the project ended (the operator's view of it, `projects.list`): when, and its error
    /// code or the commits it wrote.
    fn record_outcome(
        &self,
        project: &ProjectKey,
        outcome: &SyncEnd,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Clears the project's re-import request once an import that started at `reconciled_since` (a change stamp)
    /// reconciled the table: only a request made at or before it, so a later request stands.
    fn clear_resync(
        &self,
        project: &ProjectKey,
        reconciled_since: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds `writes` to the commit writes of the connection's imports on `day` (UTC, `YYYY-MM-DD`), unless the
    /// day's count would then pass `ceiling`: `Ok(false)`, and nothing is added. Atomic across processes, so
    /// concurrent syncs of one connection never write past the ceiling together.
    fn reserve_writes(
        &self,
        connection_id: &ConnectionId,
        day: &str,
        writes: u64,
        ceiling: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Sets `last_head` and `default_branch` and clears the job, only if `last_head` still equals `expected` (a
    /// conditional write): of two deliveries of one message, one advances the head and the other learns it lost
    /// (`Ok(false)`).
    fn advance(
        &self,
        project: &ProjectKey,
        expected: Option<&str>,
        next: &SyncState,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
