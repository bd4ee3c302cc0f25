//! A project's enqueue lease: the word the scheduler's ticks and the push hooks share to keep one project's sync
//! messages apart, and how long it holds by default.

use std::time::Duration;

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
