//! One memory budget for every GitLab answer a process holds at once: each body reserves its bytes as it streams
//! in, and its decoded page keeps the reservation for as long as the page lives, so that 16 concurrent windows
//! (or a tick's discoveries) hold at most the budget in total, not 16 times the per-body cap.
//!
//! Reservations never wait: a body that cannot reserve its next bytes fails at once with [`MemoryBusy`], which the
//! client retries after a backoff like a passing fault. A reader that waited could wait for bytes that only its
//! own siblings release while they wait for it; one that fails gives its bytes back, so the others go on.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget a process gives GitLab's answers when none is configured: 12 bodies at the 8 MiB cap (or a commit
/// page read in parts and joined, up to some 80 MB), far more than the ~100 KB pages GitLab really sends, and
/// well inside a 256 MB function.
pub const DEFAULT_MEMORY_BYTES: u64 = 96 << 20;

/// The bytes the process's GitLab answers may hold at once. Clones share the budget.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    bytes: Arc<Semaphore>,
    total: u64,
}

/// A reservation could not grow: the budget is held by other answers (or by this one's own earlier bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{wanted} more bytes of GitLab answers do not fit in the memory budget of {total} bytes")]
pub struct MemoryBusy {
    pub wanted: u64,
    pub total: u64,
}

impl MemoryBudget {
    pub fn new(total: u64) -> Self {
        let total = total.min(Semaphore::MAX_PERMITS as u64);
        MemoryBudget {
            bytes: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes no reservation holds.
    pub fn available(&self) -> u64 {
        self.bytes.available_permits() as u64
    }

    /// Adds `bytes` to `reservation`, or fails at once when they are not free.
    pub fn grow(&self, reservation: &mut Reservation, bytes: u64) -> Result<(), MemoryBusy> {
        if bytes == 0 {
            return Ok(());
        }
        let busy = MemoryBusy {
            wanted: bytes,
            total: self.total,
        };
        let count = u32::try_from(bytes).map_err(|_| busy)?;
        let permit = self
            .bytes
            .clone()
            .try_acquire_many_owned(count)
            .map_err(|_| busy)?;
        reservation.add(permit);
        Ok(())
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget::new(DEFAULT_MEMORY_BYTES)
    }
}

/// Bytes held of one or more budgets; given back when dropped.
#[derive(Debug, Default)]
pub struct Reservation {
    /// At most one permit per budget.
    permits: Vec<OwnedSemaphorePermit>,
}

impl Reservation {
    pub fn bytes(&self) -> u64 {
        self.permits.iter().map(|p| p.num_permits() as u64).sum()
    }

    /// Gives back all but `bytes` (the last budget's bytes first).
    pub fn shrink_to(&mut self, bytes: u64) {
        let mut excess = self.bytes().saturating_sub(bytes);
        while excess > 0 {
            let Some(last) = self.permits.last_mut() else {
                return;
            };
            let held = last.num_permits() as u64;
            if held <= excess {
                excess -= held;
                self.permits.pop();
            } else {
                drop(last.split(excess as usize));
                return;
            }
        }
    }

    /// Holds `other`'s bytes too, until this reservation is dropped.
    pub fn merge(&mut self, other: Reservation) {
        for permit in other.permits {
            self.add(permit);
        }
    }

    /// Leaves an empty reservation in its place and returns what it held.
    pub fn take(&mut self) -> Reservation {
        std::mem::take(self)
    }

    fn add(&mut self, permit: OwnedSemaphorePermit) {
        let same = self
            .permits
            .iter_mut()
            .find(|held| Arc::ptr_eq(held.semaphore(), permit.semaphore()));
        match same {
            Some(held) => held.merge(permit),
            None => self.permits.push(permit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_hold_their_bytes_until_dropped() {
        let budget = MemoryBudget::new(100);
        let mut first = Reservation::default();
        budget.grow(&mut first, 60).unwrap();
        budget.grow(&mut first, 30).unwrap();
        assert_eq!((first.bytes(), budget.available()), (90, 10));

        let mut second = Reservation::default();
        assert_eq!(
            budget.grow(&mut second, 11),
            Err(MemoryBusy {
                wanted: 11,
                total: 100
            }),
            "fails at once instead of waiting"
        );
        assert_eq!(second.bytes(), 0);

        drop(first);
        assert_eq!(budget.available(), 100);
        budget.grow(&mut second, 100).unwrap();
        assert_eq!(budget.available(), 0);
    }

    #[test]
    fn shrinking_gives_back_only_the_excess() {
        let budget = MemoryBudget::new(100);
        let mut held = Reservation::default();
        budget.grow(&mut held, 80).unwrap();
        held.shrink_to(25);
        assert_eq!((held.bytes(), budget.available()), (25, 75));
        held.shrink_to(50);
        assert_eq!(held.bytes(), 25, "shrinking never grows");
        held.shrink_to(0);
        assert_eq!(budget.available(), 100);
    }

    #[test]
    fn merged_and_taken_reservations_keep_every_budget_s_bytes() {
        let (one, other) = (MemoryBudget::new(100), MemoryBudget::new(100));
        let mut page = Reservation::default();
        one.grow(&mut page, 10).unwrap();
        let mut part = Reservation::default();
        one.grow(&mut part, 20).unwrap();
        let mut elsewhere = Reservation::default();
        other.grow(&mut elsewhere, 30).unwrap();
        page.merge(part);
        page.merge(elsewhere);
        assert_eq!(page.bytes(), 60);
        assert_eq!((one.available(), other.available()), (70, 70));

        let moved = page.take();
        assert_eq!((page.bytes(), moved.bytes()), (0, 60));
        drop(page);
        assert_eq!(one.available(), 70, "the bytes moved with the reservation");
        drop(moved);
        assert_eq!((one.available(), other.available()), (100, 100));
    }

    #[test]
    fn more_than_a_semaphore_can_count_is_busy_not_a_panic() {
        let budget = MemoryBudget::new(u64::MAX);
        assert_eq!(budget.total(), Semaphore::MAX_PERMITS as u64);
        let mut held = Reservation::default();
        assert!(budget.grow(&mut held, u64::from(u32::MAX) + 1).is_err());
        assert_eq!(held.bytes(), 0);
    }

    /// Sixteen readers that each reserve a 2 MiB body as it streams, in lockstep, and keep it while they hold
    /// their page: the budget never holds more than its total, none waits for another (the test ends), and
    /// those that could not finish gave back what they had.
    #[tokio::test]
    async fn concurrent_readers_share_the_budget_and_never_wait_for_each_other() {
        let budget = MemoryBudget::new(8 << 20);
        let readers = (0..16).map(|_| {
            let budget = budget.clone();
            async move {
                let mut body = Reservation::default();
                for _ in 0..32 {
                    budget.grow(&mut body, 64 << 10)?;
                    tokio::task::yield_now().await;
                }
                Ok::<_, MemoryBusy>(body)
            }
        });
        let outcomes = futures::future::join_all(readers).await;
        let held: u64 = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .map(Reservation::bytes)
            .sum();
        let busy = outcomes.iter().filter(|o| o.is_err()).count();
        assert!(held <= 8 << 20);
        assert_eq!(held, (16 - busy) as u64 * (2 << 20));
        assert!(
            busy >= 12,
            "only four 2 MiB bodies fit in 8 MiB: {busy} busy"
        );
        drop(outcomes);
        assert_eq!(
            budget.available(),
            8 << 20,
            "the failed readers gave theirs back"
        );
    }
}
