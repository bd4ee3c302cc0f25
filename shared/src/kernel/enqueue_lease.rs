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
/// - a push hook (or an operator's `projects.sync`) enqueues only if no queued message becomes visible after the
///   push (`visible_at_ms`): such a message reads the branch head after the push, so it covers it. Otherwise
///   [`LeaseRequest::plan`] spaces the project's messages: the first push after a quiet spell is sent at once
///   (the leading edge), and one that comes while the last message may still be queued or running is held back
///   until a window after it, covering every push until then. A burst makes one sync at its start and one per
///   window after (`crate::hooks`, which takes its lease with one conditional write of the same item).
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
    /// When the message becomes visible to the worker, in milliseconds since the epoch (a tick's at once; a
    /// hook's as [`LeaseRequest::plan`] says). `0` for leases recorded without one.
    pub visible_at_ms: i64,
}

/// How far apart the clocks of two hosts that compare lease times may be: a queued message covers a push only if
/// it becomes visible at least this long after the push arrived (the message may be sent by another host than the
/// one that receives the push). Hosts in AWS keep time within a millisecond of each other; this is ample.
pub const CLOCK_MARGIN_MS: i64 = 500;

/// A sync message of one project wanted now (for a push, or an operator's request), and how the project's messages
/// are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRequest {
    pub now: OffsetDateTime,
    /// The least time between two messages of the project becoming visible (the coalescing window), in whole
    /// seconds as SQS delays messages. It bounds the syncs of a burst: one at its start and one per window after.
    pub spacing: Duration,
    /// How long the lease keeps the tick from sending another message ([`DEFAULT_ENQUEUE_LEASE`]).
    pub hold: Duration,
    /// The longest the queue holds a message back (`SyncQueue::MAX_DELAY`).
    pub max_delay: Duration,
}

/// A lease to take, and how long its message is held back in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedLease {
    pub lease: EnqueueLease,
    pub delay: Duration,
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
    /// The lease is this push's: send its message with the planned delay.
    Taken(ScheduledProject, PlannedLease),
    /// A queued message becomes visible after this push and reads the head after it: nothing to send.
    Covered,
    /// No tick has recorded the project (new, or not readable by any of the connection's credentials).
    Unknown,
    /// The tick does not sync the project: it is excluded, archived, refused by GitLab, or gone (the status).
    NotSynced(String),
}

impl EnqueueLease {
    /// The lease of a message sent at `now` and visible after `delay` (a tick's at once): it holds for `hold`.
    pub fn new(now: OffsetDateTime, hold: Duration, delay: Duration) -> Self {
        EnqueueLease {
            enqueued_at: utc(now),
            until: now.unix_timestamp().saturating_add(secs(hold)),
            visible_at_ms: epoch_ms(now).saturating_add(secs(delay).saturating_mul(1000)),
        }
    }
}

impl LeaseRequest {
    /// A request at `now` for a message on a queue of kind `Q`, spaced by `spacing` and holding for `hold`.
    pub fn on_queue<Q: SyncQueue>(now: OffsetDateTime, spacing: Duration, hold: Duration) -> Self {
        LeaseRequest {
            now,
            spacing,
            hold,
            max_delay: Q::MAX_DELAY,
        }
    }

    /// What this request does, given when the project's last message became (or becomes) visible (`None`: no lease
    /// recorded): `None` when that message is still held back until after now (plus [`CLOCK_MARGIN_MS`]), since it
    /// reads the branch head after this request; otherwise the lease to take. Its message is visible at once when
    /// the last one became visible a whole spacing ago or more (a quiet spell: the leading edge); else it is held
    /// back until a spacing after the last one, which may still be queued or running, and covers every push
    /// until then.
    pub fn plan(&self, last_visible_ms: Option<i64>) -> Option<PlannedLease> {
        let now_ms = epoch_ms(self.now);
        if last_visible_ms.is_some_and(|last| last >= now_ms.saturating_add(CLOCK_MARGIN_MS)) {
            return None;
        }
        let spacing_ms = secs(self.spacing).saturating_mul(1000);
        let wait_ms = last_visible_ms.map_or(0, |last| {
            last.saturating_add(spacing_ms).saturating_sub(now_ms)
        });
        // SQS delays by whole seconds: rounded up, so the spacing holds (less than a spacing and the margin).
        let whole_seconds = u64::try_from(wait_ms.saturating_add(999) / 1000).unwrap_or(0);
        let delay = Duration::from_secs(whole_seconds).min(self.max_delay);
        Some(PlannedLease {
            lease: EnqueueLease::new(self.now, self.hold, delay),
            delay,
        })
    }
}

/// Milliseconds since the epoch.
fn epoch_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
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

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-12-07 12:00:00.300 UTC);

    fn request(now: OffsetDateTime) -> LeaseRequest {
        LeaseRequest {
            now,
            spacing: Duration::from_secs(5),
            hold: DEFAULT_ENQUEUE_LEASE,
            max_delay: Duration::from_secs(900),
        }
    }

    fn delay_after(last_visible_ms: Option<i64>) -> Option<u64> {
        request(NOW)
            .plan(last_visible_ms)
            .map(|planned| planned.delay.as_secs())
    }

    #[test]
    fn after_a_quiet_spell_the_message_is_sent_at_once() {
        let now_ms = epoch_ms(NOW);
        let planned = request(NOW).plan(None).unwrap();
        assert_eq!(planned.delay, Duration::ZERO);
        assert_eq!(planned.lease.visible_at_ms, now_ms);
        assert_eq!(planned.lease.until, NOW.unix_timestamp() + 50 * 60);
        assert_eq!(planned.lease.enqueued_at, "2026-12-07T12:00:00.3Z");
        // The last message became visible a whole spacing ago or more.
        assert_eq!(delay_after(Some(now_ms - 5_000)), Some(0));
        assert_eq!(delay_after(Some(0)), Some(0));
    }

    #[test]
    fn while_the_last_message_may_run_the_next_waits_a_spacing_after_it_in_whole_seconds() {
        let now_ms = epoch_ms(NOW);
        assert_eq!(delay_after(Some(now_ms - 4_999)), Some(1));
        assert_eq!(delay_after(Some(now_ms - 200)), Some(5));
        assert_eq!(delay_after(Some(now_ms)), Some(5));
        // A message within the clocks' margin may already be received: not counted on.
        assert_eq!(delay_after(Some(now_ms + CLOCK_MARGIN_MS - 1)), Some(6));
        // Never longer than the queue holds a message back.
        let short = LeaseRequest {
            max_delay: Duration::from_secs(3),
            ..request(NOW)
        };
        let planned = short.plan(Some(now_ms)).unwrap();
        assert_eq!(planned.delay, Duration::from_secs(3));
        assert_eq!(planned.lease.visible_at_ms, now_ms + 3_000);
        let planned = request(NOW).plan(Some(now_ms - 2_500)).unwrap();
        assert_eq!(planned.lease.visible_at_ms, now_ms + 3_000);
    }

    #[test]
    fn a_message_held_back_past_the_margin_covers_the_request() {
        let now_ms = epoch_ms(NOW);
        assert_eq!(delay_after(Some(now_ms + CLOCK_MARGIN_MS)), None);
        assert_eq!(delay_after(Some(now_ms + 4_000)), None);
        assert_eq!(delay_after(Some(i64::MAX)), None);
    }

    #[test]
    fn fifty_requests_in_ten_seconds_make_three_messages_whatever_the_phase() {
        for phase_ms in (0..1000).step_by(50) {
            let start = NOW + time::Duration::milliseconds(phase_ms);
            let mut last: Option<i64> = None;
            let mut sent = 0;
            for i in 0..50 {
                let at = start + time::Duration::milliseconds(i * 200);
                if let Some(planned) = request(at).plan(last) {
                    sent += 1;
                    last = Some(planned.lease.visible_at_ms);
                }
            }
            assert_eq!(sent, 3, "phase {phase_ms} ms");
        }
    }
}
