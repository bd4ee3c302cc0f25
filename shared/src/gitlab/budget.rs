//! The request budget one GitLab token shares across every concurrent task of a process, and, with
//! [`SharedSlots`], across processes.
//!
//! GitLab limits requests per user, not per connection or task, so all tasks that use one token draw from one
//! budget: a steady pace of `requests_per_minute` with a small burst allowance (GCRA), a pause for everybody when
//! GitLab says 429, and a slower pace when `RateLimit-Remaining` runs low before `RateLimit-Reset`. With shared
//! slots, each request also waits for its slot on the token's timeline that every process shares (see
//! [`super::shared_budget`]), so concurrent syncs of one token stay within its limit together.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::shared_budget::{SharedSlot, SharedSlots, shared_interval};

/// GitLab.com's documented authenticated API limit per user.
pub const GITLAB_COM_REQUESTS_PER_MINUTE: u32 = 2_000;

/// Remaining requests below this fraction of the window's limit make the budget spread what is left.
const LOW_REMAINING_FRACTION: f64 = 0.1;

/// No wait a header asks for is taken as longer than this: a larger value (up to `u64::MAX` seconds) is a broken
/// or hostile server, and clamping keeps every `Instant` computed from it far from overflow.
pub const LONGEST_CREDIBLE_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug)]
pub struct RequestBudget {
    interval: Duration,
    burst_allowance: Duration,
    state: Mutex<BudgetState>,
    /// The token's timeline shared with other processes, if any.
    shared: Option<SharedSlots>,
}

#[derive(Debug)]
struct BudgetState {
    /// Theoretical arrival time of the next request under the steady pace (GCRA).
    next_slot: Instant,
    /// Nobody sends before this instant (a 429, or a window whose remaining requests are spent).
    paused_until: Option<Instant>,
    /// A slower pace GitLab's headers asked for, until the window resets.
    slowdown: Option<(Duration, Instant)>,
}

impl RequestBudget {
    /// A budget of `requests_per_minute`, allowing a burst of up to `burst` requests back to back.
    pub fn per_minute(requests_per_minute: u32, burst: u32) -> Self {
        let interval = Duration::from_secs(60) / requests_per_minute.max(1);
        RequestBudget {
            interval,
            burst_allowance: interval.saturating_mul(burst.max(1) - 1),
            state: Mutex::new(BudgetState {
                next_slot: Instant::now(),
                paused_until: None,
                slowdown: None,
            }),
            shared: None,
        }
    }

    /// A budget whose requests also take their slots from `shared`, the token's timeline across processes, at its
    /// pace ([`shared_interval`]).
    pub fn shared(requests_per_minute: u32, burst: u32, shared: SharedSlots) -> Self {
        let interval = shared_interval(requests_per_minute);
        RequestBudget {
            interval,
            burst_allowance: interval.saturating_mul(burst.max(1) - 1),
            shared: Some(shared),
            ..Self::per_minute(requests_per_minute, burst)
        }
    }

    /// Waits until this task may send one request, and takes that slot: how long it waited. When the slot is
    /// later than `deadline`, nothing is taken and the wait it would have needed is returned at once instead.
    pub async fn acquire(&self, deadline: Option<Instant>) -> Result<Duration, Duration> {
        // The shared slot first: the process's own pace, pauses and slowdowns apply on top of it.
        let shared_at = match &self.shared {
            Some(shared) => match shared.next(deadline).await? {
                SharedSlot::At(at) => Some(at),
                SharedSlot::Unavailable => None,
            },
            None => None,
        };
        let send_at = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let interval = match state.slowdown {
                Some((slow, until)) if now < until => slow.max(self.interval),
                _ => self.interval,
            };
            let pause_end = state.paused_until.filter(|p| *p > now).unwrap_or(now);
            let slot = state.next_slot.max(now);
            let earliest = slot.checked_sub(self.burst_allowance).unwrap_or(now);
            let send_at = earliest
                .max(pause_end)
                .max(now)
                .max(shared_at.unwrap_or(now));
            if deadline.is_some_and(|deadline| send_at > deadline) {
                return Err(send_at - now);
            }
            state.next_slot = later(slot.max(send_at), interval);
            send_at
        };
        let waited = send_at.saturating_duration_since(Instant::now());
        tokio::time::sleep_until(send_at).await;
        Ok(waited)
    }

    /// Everybody waits `wait` (GitLab answered 429 with this `Retry-After`), at most [`LONGEST_CREDIBLE_WAIT`].
    pub fn pause_for(&self, wait: Duration) {
        let until = later(Instant::now(), wait);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
    }

    /// Adapts to GitLab's `RateLimit-Limit`/`RateLimit-Remaining`/`RateLimit-Reset` headers: when few requests
    /// remain in the window, spread them evenly until the reset; when none remain, pause until the reset. A reset
    /// further ahead than `max_wait` (a clock running fast, a hostile value) counts as `max_wait` away.
    pub fn observe(&self, headers: &RateLimitHeaders, max_wait: Duration) {
        let (Some(remaining), Some(reset_at)) = (headers.remaining, headers.reset_unix) else {
            return;
        };
        let until_reset = seconds_until(reset_at).min(max_wait);
        if until_reset.is_zero() {
            return;
        }
        let limit = headers
            .limit
            .unwrap_or(u64::from(GITLAB_COM_REQUESTS_PER_MINUTE));
        let low = ((limit as f64) * LOW_REMAINING_FRACTION).ceil() as u64;
        if remaining == 0 {
            self.pause_for(until_reset);
        } else if remaining <= low {
            let pace = until_reset / u32::try_from(remaining).unwrap_or(u32::MAX);
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.slowdown = Some((pace, later(Instant::now(), until_reset)));
        }
    }
}

/// `at + wait`, with the wait clamped to [`LONGEST_CREDIBLE_WAIT`], so it cannot overflow.
fn later(at: Instant, wait: Duration) -> Instant {
    let wait = wait.min(LONGEST_CREDIBLE_WAIT);
    at.checked_add(wait).unwrap_or(at)
}

/// GitLab's rate-limit headers on one response. A value that is not a plain non-negative integer (negative,
/// fractional, text, beyond `u64`) counts as absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset_unix: Option<u64>,
    /// At most [`LONGEST_CREDIBLE_WAIT`].
    pub retry_after: Option<Duration>,
}

impl RateLimitHeaders {
    pub fn from_headers(headers: &reqwest::header::HeaderMap) -> Self {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        RateLimitHeaders {
            limit: number("ratelimit-limit"),
            remaining: number("ratelimit-remaining"),
            reset_unix: number("ratelimit-reset"),
            retry_after: number("retry-after")
                .map(|secs| Duration::from_secs(secs).min(LONGEST_CREDIBLE_WAIT)),
        }
    }

    /// How long a 429 asks us to wait: `Retry-After`, else until `RateLimit-Reset`, else `fallback`; at most
    /// [`LONGEST_CREDIBLE_WAIT`].
    pub fn wait_after_429(&self, fallback: Duration) -> Duration {
        self.retry_after
            .or_else(|| self.reset_unix.map(seconds_until))
            .unwrap_or(fallback)
            .min(LONGEST_CREDIBLE_WAIT)
    }
}

/// From now until the Unix time `at` (zero when past), at most [`LONGEST_CREDIBLE_WAIT`].
fn seconds_until(at: u64) -> Duration {
    Duration::from_secs(at.saturating_sub(unix_now())).min(LONGEST_CREDIBLE_WAIT)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_to_the_configured_rate_after_the_burst() {
        let budget = RequestBudget::per_minute(600, 5); // one per 100 ms, five at once
        let start = Instant::now();
        for _ in 0..5 {
            assert_eq!(budget.acquire(None).await, Ok(Duration::ZERO), "no wait");
        }
        assert!(start.elapsed() < Duration::from_millis(5), "burst is free");
        let mut waited = Duration::ZERO;
        for _ in 0..10 {
            waited += budget.acquire(None).await.unwrap();
        }
        // What the budget says it waited is the time that passed.
        assert_eq!(waited, start.elapsed());
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1000) && elapsed <= Duration::from_millis(1100),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_every_task() {
        let budget = RequestBudget::per_minute(60_000, 100);
        budget.pause_for(Duration::from_secs(3));
        let start = Instant::now();
        assert_eq!(budget.acquire(None).await, Ok(Duration::from_secs(3)));
        assert!(start.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn low_remaining_spreads_the_rest_of_the_window() {
        let budget = RequestBudget::per_minute(60_000, 100);
        budget.observe(
            &RateLimitHeaders {
                limit: Some(100),
                remaining: Some(5),
                reset_unix: Some(unix_now() + 10),
                retry_after: None,
            },
            Duration::from_secs(120),
        );
        let start = Instant::now();
        for _ in 0..3 {
            budget.acquire(None).await.unwrap();
        }
        // About 2 s per request (10 s / 5 remaining), bursts allowed at the start.
        assert!(
            start.elapsed() >= Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn reads_gitlab_headers_and_the_wait_of_a_429() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("RateLimit-Limit", "2000".parse().unwrap());
        headers.insert("RateLimit-Remaining", "0".parse().unwrap());
        headers.insert("Retry-After", "7".parse().unwrap());
        let parsed = RateLimitHeaders::from_headers(&headers);
        assert_eq!(parsed.limit, Some(2000));
        assert_eq!(parsed.remaining, Some(0));
        assert_eq!(
            parsed.wait_after_429(Duration::from_secs(60)),
            Duration::from_secs(7)
        );
        assert_eq!(
            RateLimitHeaders::default().wait_after_429(Duration::from_secs(60)),
            Duration::from_secs(60)
        );
    }

    /// The panic: no requests left and a reset at `u64::MAX` seconds.
    #[tokio::test(start_paused = true)]
    async fn a_reset_at_the_end_of_time_pauses_at_most_the_longest_wait() {
        let budget = RequestBudget::per_minute(60_000, 100);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("RateLimit-Remaining", "0".parse().unwrap());
        headers.insert("RateLimit-Reset", u64::MAX.to_string().parse().unwrap());
        let parsed = RateLimitHeaders::from_headers(&headers);
        budget.observe(&parsed, Duration::from_secs(120));
        let start = Instant::now();
        budget.acquire(None).await.unwrap();
        assert_eq!(
            start.elapsed().as_secs(),
            120,
            "clamped to the longest wait"
        );
        assert_eq!(
            parsed.wait_after_429(Duration::from_secs(60)),
            LONGEST_CREDIBLE_WAIT
        );

        // Nearly out of requests, with a reset hours ahead: the slowdown lasts at most the longest wait too.
        headers.insert("RateLimit-Remaining", "3".parse().unwrap());
        headers.insert(
            "RateLimit-Reset",
            (unix_now() + 5 * 3600).to_string().parse().unwrap(),
        );
        budget.observe(
            &RateLimitHeaders::from_headers(&headers),
            Duration::from_secs(120),
        );
        let start = Instant::now();
        for _ in 0..4 {
            budget.acquire(None).await.unwrap();
        }
        assert!(
            start.elapsed() <= Duration::from_secs(121),
            "{:?}",
            start.elapsed()
        );

        // Whatever a caller passes, a pause never overflows an Instant.
        budget.pause_for(Duration::MAX);
        budget.observe(&parsed, Duration::MAX);
    }

    #[test]
    fn values_that_are_not_plain_numbers_are_absent() {
        for value in [
            "-1",
            "abc",
            "1.5",
            "1e9",
            "",
            "18446744073709551616",
            "Wed, 21 Oct 2015 07:28:00 GMT",
        ] {
            let mut headers = reqwest::header::HeaderMap::new();
            for name in [
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "Retry-After",
            ] {
                headers.insert(name, value.parse().unwrap());
            }
            assert_eq!(
                RateLimitHeaders::from_headers(&headers),
                RateLimitHeaders::default(),
                "{value:?}"
            );
        }
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("Retry-After", u64::MAX.to_string().parse().unwrap());
        assert_eq!(
            RateLimitHeaders::from_headers(&headers).retry_after,
            Some(LONGEST_CREDIBLE_WAIT)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_past_the_deadline_is_refused_at_once_and_not_taken() {
        let budget = RequestBudget::per_minute(60, 1); // one a second
        budget.acquire(None).await.unwrap();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(500);
        assert_eq!(
            budget.acquire(Some(deadline)).await,
            Err(Duration::from_secs(1))
        );
        assert_eq!(start.elapsed(), Duration::ZERO, "no sleep");
        // The refused slot was not taken: the next caller gets it one second after the first.
        budget
            .acquire(Some(start + Duration::from_secs(2)))
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(1));

        budget.pause_for(Duration::from_secs(30));
        assert!(
            budget
                .acquire(Some(Instant::now() + Duration::from_secs(29)))
                .await
                .is_err()
        );
    }
}
