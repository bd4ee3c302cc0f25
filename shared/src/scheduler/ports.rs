//! What the scheduler needs from storage and the queue, as small `Send + Sync` traits. The AWS adapters live in
//! `crate::aws` (`project_store`, `sync_queue`); unit tests use in-memory fakes.

use std::future::Future;

use super::model::DiscoveredProject;
use crate::credentials::ConnectionId;
use crate::sync::StoreError;
use crate::sync::worker::SyncMessage;

/// The enqueue lease a project's metadata write tries to take: a project is enqueued only if no lease of an
/// earlier message still holds, so a tick delivered twice (or two ticks close together) never sends a second
/// message while one is in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnqueueClaim {
    /// Now, in epoch seconds: a lease that ends before this has lapsed.
    pub now: i64,
    /// Until when this claim holds, in epoch seconds.
    pub until: i64,
    /// Archived project: take the lease only if its history is not fully imported yet (no `last_head`, or an
    /// unfinished `job`).
    pub unless_imported: bool,
}

/// A project item of a connection as the scheduler last left it (read once per tick, so that unchanged items
/// are not written again and vanished projects can be found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownProject {
    pub project_id: u64,
    pub gone: bool,
    /// The enqueue lease, epoch seconds.
    pub lease_until: Option<i64>,
    /// The sync's state says the history is fully imported (`last_head` set, no unfinished `job`).
    pub imported: bool,
    /// The scheduler's metadata, when every attribute of it is present.
    pub recorded: Option<DiscoveredProject>,
}

/// Project metadata, leases and the list of connections, in the state table.
pub trait ProjectStore: Send + Sync {
    /// Every connection that exists.
    fn connections(&self) -> impl Future<Output = Result<Vec<ConnectionId>, StoreError>> + Send;

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

    /// Writes the scheduler's metadata of a project (only its own attributes; clears `gone_at`) and, with a
    /// claim, takes the project's enqueue lease in the same write. `Ok(true)` when the lease was taken.
    fn record(
        &self,
        connection: &ConnectionId,
        project: &DiscoveredProject,
        seen_at: &str,
        claim: Option<EnqueueClaim>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives back a lease taken by [`ProjectStore::record`] whose message could not be sent (only if it is still
    /// the same lease).
    fn release(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        until: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every project item of the connection (strongly consistent reads).
    fn known_projects(
        &self,
        connection: &ConnectionId,
    ) -> impl Future<Output = Result<Vec<KnownProject>, StoreError>> + Send;

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
