//! What the scheduler needs from storage and the queue, as small `Send + Sync` traits, one per job: the tick's
//! lease, the connections' turns and locks, the projects' schedule items, and the queue. The AWS adapters live in
//! `crate::aws` (`project_store` implements the three storage traits, `sync_queue`); tests use the memory fakes
//! of `crate::testing`.

use std::future::Future;

use super::model::DiscoveredProject;
use crate::kernel::enqueue_lease::EnqueueLease;
use crate::kernel::ids::ConnectionId;
use crate::kernel::instance::{InstanceUrl, InstanceUrlError};
use crate::kernel::project_status::ProjectStatus;
use crate::kernel::store::StoreError;
use crate::kernel::sync_message::SyncMessage;

/// The scheduler's whole record of one project, as a tick writes it (it replaces the previous one).
#[derive(Debug, Clone, Copy)]
pub struct ProjectRecord<'a> {
    pub project: &'a DiscoveredProject,
    pub seen_at: &'a str,
    /// The lease to keep (an earlier message's, still holding) or to take (this tick's message).
    pub lease: Option<&'a EnqueueLease>,
    pub status: ProjectStatus,
}

/// The sync's last refusal of a project (its item's `access_error` and `access_error_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRefusal {
    pub status: ProjectStatus,
    /// Epoch seconds.
    pub at: i64,
}

/// A project item of a connection as the scheduler last left it (read once per tick, so that unchanged items
/// are not written again and vanished projects can be found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownProject {
    pub project_id: u64,
    pub gone: bool,
    /// The enqueue lease of the last message sent, if the item holds one (it may have lapsed).
    pub lease: Option<EnqueueLease>,
    /// The sync's state says the history is fully imported (`last_head` set, no unfinished `job`).
    pub imported: bool,
    /// The sync's state says GitLab refused the project's repository, and when.
    pub refused: Option<AccessRefusal>,
    /// The sync's last finding that the imported head was current, unless an operator's re-import is pending.
    pub verified: Option<Verified>,
    /// The scheduler's metadata, when every attribute of it is present.
    pub recorded: Option<DiscoveredProject>,
    /// The status the scheduler last recorded.
    pub status: Option<ProjectStatus>,
}

impl KnownProject {
    /// The item of a project the sync knows and no tick recorded yet.
    pub fn unrecorded(project_id: u64) -> Self {
        KnownProject {
            project_id,
            gone: false,
            lease: None,
            imported: false,
            refused: None,
            verified: None,
            recorded: None,
            status: None,
        }
    }
}

/// A sync found the project's imported head current on `branch` at `at` (epoch seconds; before it read the head).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub at: i64,
    pub branch: String,
}

/// A connection, and when a tick last started its turn (the tick's order: oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownConnection {
    pub id: ConnectionId,
    /// Epoch seconds; `None` if no tick has taken its turn yet.
    pub last_scheduled_at: Option<i64>,
    /// The GitLab instance the credentials API bound the connection to (`None` for a connection stored before
    /// connections were bound); `Err` when what is stored is no instance address (an item edited by hand): that
    /// connection fails its turn.
    pub instance: Result<Option<InstanceUrl>, InstanceUrlError>,
}

/// The lease of a schedule tick, so that a second delivery of one tick does nothing.
pub trait TickLeases: Send + Sync {
    /// Takes the lease of a tick; `false` if another delivery of the same tick holds it or finished it.
    fn claim_tick(
        &self,
        tick: &str,
        now: i64,
        until: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records that the tick finished: later deliveries of it do nothing.
    fn complete_tick(
        &self,
        tick: &str,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The connections, the order of their turns, and each one's scheduling lock.
pub trait ConnectionTurns: Send + Sync {
    /// Every connection that exists, with the end of its last turn.
    fn connections(&self) -> impl Future<Output = Result<Vec<KnownConnection>, StoreError>> + Send;

    /// Records that a tick started the connection's turn at `at` (epoch seconds), before its discovery, so that a
    /// turn that never ends (the process died) still moves the connection to the back of the order.
    fn mark_scheduled(
        &self,
        connection: &ConnectionId,
        at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Puts back the turn a tick took and could not finish (its time ran out): `previous` is the connection's
    /// `last_scheduled_at` before it (`None`: never scheduled), so the connection goes first again.
    fn restore_turn(
        &self,
        connection: &ConnectionId,
        previous: Option<i64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes the connection's scheduling lock for `holder` until `until` (epoch seconds): `false` if another tick
    /// holds it. While held, only the holder reads and writes the connection's scheduler records, so they need no
    /// per-item conditions; `until` must outlast the holder's invocation (the function's timeout).
    fn lock_connection(
        &self,
        connection: &ConnectionId,
        holder: &str,
        now: i64,
        until: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives the lock back (only if `holder` still holds it).
    fn unlock_connection(
        &self,
        connection: &ConnectionId,
        holder: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The scheduler's item of each project of a connection (metadata, enqueue lease, gone mark), read with what the
/// sync's item says of the project. Written only under the connection's lock ([`ConnectionTurns::lock_connection`]).
pub trait ScheduleItems: Send + Sync {
    /// [`ScheduleItems::write`]'s limit (`BatchWriteItem`'s).
    const MAX_WRITE_BATCH: usize = 25;

    /// Every project item of the connection (strongly consistent reads).
    fn known_projects(
        &self,
        connection: &ConnectionId,
    ) -> impl Future<Output = Result<Vec<KnownProject>, StoreError>> + Send;

    /// Writes up to [`ScheduleItems::MAX_WRITE_BATCH`] scheduler records (metadata, `seen_at`, lease; any gone
    /// mark is cleared), each replacing the previous one, never touching the sync's state. Only under the
    /// connection's lock. `Ok` lists the project ids that could not be written (after retries); `Err` means none
    /// is known to be written.
    fn write(
        &self,
        connection: &ConnectionId,
        records: &[ProjectRecord<'_>],
    ) -> impl Future<Output = Result<Vec<u64>, StoreError>> + Send;

    /// Gives back a lease taken by [`ScheduleItems::write`] whose message could not be sent (only if it is still
    /// the same lease).
    fn release(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        until: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks a project no longer visible (`gone_at`); the item and its history stay.
    fn mark_gone(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        at: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// One entry of a batch send; `id` is unique within the call.
#[derive(Debug, Clone, Copy)]
pub struct BatchEntry<'a> {
    pub id: &'a str,
    pub message: &'a SyncMessage,
}

/// An entry the queue refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEntry {
    pub id: String,
    pub code: String,
    /// The entry itself is wrong (retrying it cannot help).
    pub sender_fault: bool,
}

/// The sync queue, sending up to [`BatchQueue::MAX_BATCH`] messages per call.
pub trait BatchQueue: Send + Sync {
    /// SQS `SendMessageBatch`'s limit.
    const MAX_BATCH: usize = 10;

    /// Sends the entries in one call. `Ok` lists the entries that failed (empty: all sent); `Err` means the call
    /// as a whole failed and none is known to be sent.
    fn send_batch(
        &self,
        entries: &[BatchEntry<'_>],
    ) -> impl Future<Output = Result<Vec<FailedEntry>, StoreError>> + Send;
}
