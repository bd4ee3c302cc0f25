//! One token's request budget shared by every process that spends it (the scheduler and each concurrent sync
//! worker): the slots of one timeline kept in a store (a DynamoDB item, see `crate::aws::rate_bucket`), taken a
//! batch at a time.
//!
//! The timeline is GCRA's: the time of the next free slot. A process takes up to [`LEASE_SLOTS`] slots `interval`
//! apart with one atomic write and sends one request per slot, never before the slot's time. A process that
//! sends slower than its slots come (a sync that spends its time on the tables between requests) leases fewer at a
//! time: after a lease some of whose slots came too late, as many as it used of that one; after one fully used,
//! one more. An idle timeline restarts
//! at most [`BURST_TOLERANCE`] in the past, which lets a short burst go at once. A slot more than
//! [`LATE_SLOT_LIMIT`] behind the clock is dropped, never used, so any period `L` holds at most
//! `(L + LATE_SLOT_LIMIT) / interval + 2` requests of the token however many processes send them; the interval
//! ([`shared_interval`]) makes that `requests_per_minute` for any minute, which a fixed or sliding per-minute
//! limiter such as GitLab's then never exceeds.

use std::fmt::Debug;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::budget::LONGEST_CREDIBLE_WAIT;
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::store::StoreError;

/// Slots one write takes: one store write per this many GitLab requests at most.
pub const LEASE_SLOTS: u32 = 10;

/// A slot this far behind the clock is dropped (its process was busy elsewhere): what bounds a late burst.
pub const LATE_SLOT_LIMIT: Duration = Duration::from_secs(1);

/// How far in the past an idle timeline restarts: the burst a quiet token may send at once.
pub const BURST_TOLERANCE: Duration = Duration::from_millis(500);

/// Takes at most this many batches for one request before it goes on local pacing alone.
const MAX_LEASES_PER_SLOT: u32 = 3;

/// The longest a batch may take to be taken: a store slower than this counts as unavailable, so a request (and
/// every task of the process waiting behind the lease) never waits on the store longer.
const TAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whose timeline: one per credential.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BucketKey {
    pub connection_id: ConnectionId,
    pub credential_id: CredentialId,
}

/// A batch of slots to take from a timeline, times in microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRequest {
    pub count: u32,
    pub interval_us: i64,
    pub now_us: i64,
    /// How far before `now_us` an idle timeline restarts.
    pub tolerance_us: i64,
}

impl SlotRequest {
    /// Where the timeline restarts when it is behind: `now - tolerance`.
    pub fn floor_us(&self) -> i64 {
        self.now_us.saturating_sub(self.tolerance_us)
    }

    /// How far the batch moves the timeline.
    pub fn span_us(&self) -> i64 {
        self.interval_us.saturating_mul(i64::from(self.count))
    }
}

/// Where a token's timeline is kept, shared by every process.
pub trait SlotStore: Send + Sync + Debug {
    /// Atomically moves the timeline from `max(next, floor)` on by the request's span, and returns where the
    /// batch starts (its first slot).
    fn take<'a>(
        &'a self,
        key: &'a BucketKey,
        request: SlotRequest,
    ) -> BoxFuture<'a, Result<i64, StoreError>>;
}

/// The interval between a token's requests on the shared timeline: `(60 s + LATE_SLOT_LIMIT)` over
/// `requests_per_minute - 2`, so that no minute holds more than `requests_per_minute` (2,000 a minute: 30.5 ms,
/// a pace of 1,966 a minute).
pub fn shared_interval(requests_per_minute: u32) -> Duration {
    (Duration::from_secs(60) + LATE_SLOT_LIMIT) / requests_per_minute.max(3).saturating_sub(2)
}

/// What one process holds of a token's timeline: its leased slots, taken from the store as needed.
#[derive(Debug)]
pub struct SharedSlots {
    store: std::sync::Arc<dyn SlotStore>,
    key: BucketKey,
    interval_us: i64,
    /// Held while a batch is taken, so one process asks the store once for all its waiting tasks.
    lease: tokio::sync::Mutex<Lease>,
}

/// Slots `next_us`, `next_us + interval`, ... (`left` of them), and how many the next lease takes.
#[derive(Debug)]
struct Lease {
    next_us: i64,
    left: u32,
    /// Slots this lease took, and how many of them were sent.
    size: u32,
    used: u32,
    /// Some slot of this lease came too late and was dropped.
    dropped: bool,
}

impl Default for Lease {
    fn default() -> Self {
        Lease {
            next_us: 0,
            left: 0,
            size: LEASE_SLOTS,
            used: 0,
            dropped: false,
        }
    }
}

/// Where the next request's slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedSlot {
    /// Send at this instant.
    At(Instant),
    /// The store could not be reached: pace locally (GitLab's 429s still stop an overrun).
    Unavailable,
}

impl SharedSlots {
    pub fn new(
        store: std::sync::Arc<dyn SlotStore>,
        key: BucketKey,
        requests_per_minute: u32,
    ) -> Self {
        SharedSlots {
            store,
            key,
            interval_us: i64::try_from(shared_interval(requests_per_minute).as_micros())
                .unwrap_or(i64::MAX),
            lease: tokio::sync::Mutex::new(Lease::default()),
        }
    }

    /// The slot of the next request, taken. When it is later than `deadline`, nothing is taken and the wait it
    /// would have needed is returned at once instead.
    pub async fn next(&self, deadline: Option<Instant>) -> Result<SharedSlot, Duration> {
        let mut lease = self.lease.lock().await;
        for _ in 0..MAX_LEASES_PER_SLOT {
            let now_us = unix_now_us();
            lease.drop_late(now_us, self.interval_us);
            if lease.left > 0 {
                let wait = Duration::from_micros(
                    u64::try_from(lease.next_us.saturating_sub(now_us)).unwrap_or(0),
                )
                .min(LONGEST_CREDIBLE_WAIT);
                let now = Instant::now();
                let at = now.checked_add(wait).unwrap_or(now);
                if deadline.is_some_and(|deadline| at > deadline) {
                    return Err(wait);
                }
                lease.next_us = lease.next_us.saturating_add(self.interval_us);
                lease.left -= 1;
                lease.used += 1;
                return Ok(SharedSlot::At(at));
            }
            let request = SlotRequest {
                count: lease.next_size(),
                interval_us: self.interval_us,
                now_us,
                tolerance_us: i64::try_from(BURST_TOLERANCE.as_micros()).unwrap_or(0),
            };
            let taken = tokio::time::timeout(TAKE_TIMEOUT, self.store.take(&self.key, request))
                .await
                .unwrap_or_else(|_| Err(StoreError::unavailable("taking slots", "timed out")));
            match taken {
                Ok(first) => {
                    *lease = Lease {
                        next_us: first,
                        left: request.count,
                        size: request.count,
                        used: 0,
                        dropped: false,
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error, "the shared GitLab request budget is unavailable; pacing locally");
                    return Ok(SharedSlot::Unavailable);
                }
            }
        }
        tracing::warn!("every shared GitLab slot taken came too late to use; pacing locally");
        Ok(SharedSlot::Unavailable)
    }
}

impl Lease {
    /// The size of the lease after this one: what this process used of it when some came too late, else one
    /// more (up to [`LEASE_SLOTS`]).
    fn next_size(&self) -> u32 {
        if self.dropped {
            self.used.max(1)
        } else {
            self.size.saturating_add(1).min(LEASE_SLOTS)
        }
    }

    /// Drops the slots more than [`LATE_SLOT_LIMIT`] behind `now_us`.
    fn drop_late(&mut self, now_us: i64, interval_us: i64) {
        let limit_us = i64::try_from(LATE_SLOT_LIMIT.as_micros()).unwrap_or(i64::MAX);
        let behind = now_us.saturating_sub(limit_us).saturating_sub(self.next_us);
        if behind <= 0 || self.left == 0 {
            return;
        }
        // Slots at or before `now - limit`: ceil(behind / interval), at most what is left.
        let late = behind
            .saturating_add(interval_us.max(1) - 1)
            .checked_div(interval_us.max(1))
            .unwrap_or(i64::MAX);
        let late = u32::try_from(late).unwrap_or(u32::MAX).min(self.left);
        self.left -= late;
        self.dropped = true;
        self.next_us = self
            .next_us
            .saturating_add(interval_us.saturating_mul(i64::from(late)));
    }
}

/// Microseconds since the Unix epoch: the clock every process shares (Lambda hosts keep it within a millisecond).
pub fn unix_now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The timeline in memory, as the DynamoDB adapter keeps it (a fake of the port).
    #[derive(Debug, Default)]
    struct MemoryTimeline {
        next_us: Mutex<Option<i64>>,
        takes: AtomicU32,
        fail: std::sync::atomic::AtomicBool,
    }

    impl SlotStore for MemoryTimeline {
        fn take<'a>(
            &'a self,
            _key: &'a BucketKey,
            request: SlotRequest,
        ) -> BoxFuture<'a, Result<i64, StoreError>> {
            Box::pin(async move {
                if self.fail.load(Ordering::Relaxed) {
                    return Err(StoreError::unavailable("UpdateItem", "down"));
                }
                self.takes.fetch_add(1, Ordering::Relaxed);
                let mut next = self.next_us.lock().unwrap();
                let start = next.map_or(request.floor_us(), |n| n.max(request.floor_us()));
                *next = Some(start + request.span_us());
                Ok(start)
            })
        }
    }

    fn key() -> BucketKey {
        BucketKey {
            connection_id: ConnectionId::parse("c1").unwrap(),
            credential_id: CredentialId::parse("cred_1").unwrap(),
        }
    }

    #[test]
    fn the_interval_keeps_any_minute_within_the_limit() {
        let interval = shared_interval(2_000);
        assert_eq!(interval.as_micros(), 30_530);
        // The bound of the module note: (60 s + late limit) / interval + 2 requests in any minute.
        let bound =
            (Duration::from_secs(60) + LATE_SLOT_LIMIT).as_micros() / interval.as_micros() + 2;
        assert!(bound <= 2_000, "{bound}");
        assert!(!shared_interval(0).is_zero());
    }

    /// Given five processes of one token drawing on one timeline, when each sends as fast as its slots allow,
    /// then together they keep the shared pace, with one store write per ten requests.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn processes_of_one_token_share_one_pace() {
        let store = Arc::new(MemoryTimeline::default());
        let processes: Vec<_> = (0..5)
            .map(|_| Arc::new(SharedSlots::new(store.clone(), key(), 6_000)))
            .collect();
        let started = Instant::now();
        let tasks: Vec<_> = processes
            .iter()
            .map(|slots| {
                let slots = slots.clone();
                tokio::spawn(async move {
                    for _ in 0..40 {
                        match slots.next(None).await.unwrap() {
                            SharedSlot::At(at) => tokio::time::sleep_until(at).await,
                            SharedSlot::Unavailable => panic!("the store is up"),
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        // 200 requests at 10.17 ms (6,000 a minute), less the 0.5 s burst: at least 1.5 s in all.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(1_450), "{elapsed:?}");
        // 20 writes when no slot came late; a stalled task on a loaded machine may drop a lease and take another.
        let takes = store.takes.load(Ordering::Relaxed);
        assert!((20..=30).contains(&takes), "{takes}");
    }

    #[tokio::test]
    async fn a_slot_past_the_deadline_is_refused_and_kept_and_a_down_store_falls_back() {
        let store = Arc::new(MemoryTimeline::default());
        // Another process leased ten seconds of the timeline ahead.
        *store.next_us.lock().unwrap() = Some(unix_now_us() + 10_000_000);
        let slots = SharedSlots::new(store.clone(), key(), 60_000);
        let soon = Instant::now() + Duration::from_secs(1);
        let wait = slots.next(Some(soon)).await.unwrap_err();
        assert!(wait > Duration::from_secs(9), "{wait:?}");
        // The lease stays for a caller that can wait: no second write.
        assert!(matches!(slots.next(None).await, Ok(SharedSlot::At(_))));
        assert_eq!(store.takes.load(Ordering::Relaxed), 1);

        let down = Arc::new(MemoryTimeline::default());
        down.fail.store(true, Ordering::Relaxed);
        let slots = SharedSlots::new(down, key(), 60_000);
        assert_eq!(slots.next(None).await, Ok(SharedSlot::Unavailable));
    }

    #[test]
    fn late_slots_are_dropped() {
        let mut lease = Lease {
            left: 10,
            ..Lease::default()
        };
        // 1.25 s later with slots 100 ms apart: the slots at 0 and 100 ms... 200 ms are over a second behind.
        lease.drop_late(1_250_000, 100_000);
        assert_eq!(
            (lease.next_us, lease.left, lease.dropped),
            (300_000, 7, true)
        );
        lease.drop_late(100_000_000, 100_000);
        assert_eq!(lease.left, 0);
    }

    #[test]
    fn a_process_that_sends_slower_than_its_slots_come_leases_fewer() {
        let full = Lease::default();
        assert_eq!(full.next_size(), LEASE_SLOTS);
        // Four of ten sent before the rest came too late: four next time, then one more while all are used.
        let mut lease = Lease {
            used: 4,
            dropped: true,
            ..Lease::default()
        };
        assert_eq!(lease.next_size(), 4);
        lease = Lease {
            size: 4,
            used: 4,
            ..Lease::default()
        };
        assert_eq!(lease.next_size(), 5);
        let none_used = Lease {
            dropped: true,
            ..Lease::default()
        };
        assert_eq!(none_used.next_size(), 1);
    }
}
