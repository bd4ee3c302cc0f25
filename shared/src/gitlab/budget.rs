//! The request budget one GitLab token shares across every concurrent task of a process.
//!
//! GitLab limits requests per user, not per connection or task, so all tasks that use one token draw from one
//! budget: a steady pace of `requests_per_minute` with a small burst allowance (GCRA), a pause for everybody when
//! GitLab says 429, and a slower pace when `RateLimit-Remaining` runs low before `RateLimit-Reset`.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// GitLab.com's documented authenticated API limit per user.
pub const GITLAB_COM_REQUESTS_PER_MINUTE: u32 = 2_000;

/// Remaining requests below this fraction of the window's limit make the budget spread what is left.
const LOW_REMAINING_FRACTION: f64 = 0.1;

#[derive(Debug)]
pub struct RequestBudget {
    interval: Duration,
    burst_allowance: Duration,
    state: Mutex<BudgetState>,
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
            burst_allowance: interval * burst.max(1).saturating_sub(1),
            state: Mutex::new(BudgetState {
                next_slot: Instant::now(),
                paused_until: None,
                slowdown: None,
            }),
        }
    }

    /// Waits until this task may send one request, and takes that slot.
    pub async fn acquire(&self) {
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
            let send_at = earliest.max(pause_end).max(now);
            state.next_slot = slot.max(send_at) + interval;
            send_at
        };
        tokio::time::sleep_until(send_at).await;
    }

    /// Everybody waits `wait` (GitLab answered 429 with this `Retry-After`).
    pub fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
    }

    /// Adapts to GitLab's `RateLimit-Limit`/`RateLimit-Remaining`/`RateLimit-Reset` headers: when few requests
    /// remain in the window, spread them evenly until the reset; when none remain, pause until the reset.
    pub fn observe(&self, headers: &RateLimitHeaders) {
        let (Some(remaining), Some(reset_at)) = (headers.remaining, headers.reset_unix) else {
            return;
        };
        let until_reset = Duration::from_secs(reset_at.saturating_sub(unix_now()));
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
            state.slowdown = Some((pace, Instant::now() + until_reset));
        }
    }
}

/// GitLab's rate-limit headers on one response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset_unix: Option<u64>,
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
            retry_after: number("retry-after").map(Duration::from_secs),
        }
    }

    /// How long a 429 asks us to wait: `Retry-After`, else until `RateLimit-Reset`, else `fallback`.
    pub fn wait_after_429(&self, fallback: Duration) -> Duration {
        self.retry_after
            .or_else(|| {
                self.reset_unix
                    .map(|reset| Duration::from_secs(reset.saturating_sub(unix_now())))
            })
            .unwrap_or(fallback)
    }
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
            budget.acquire().await;
        }
        assert!(start.elapsed() < Duration::from_millis(5), "burst is free");
        for _ in 0..10 {
            budget.acquire().await;
        }
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
        budget.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn low_remaining_spreads_the_rest_of_the_window() {
        let budget = RequestBudget::per_minute(60_000, 100);
        budget.observe(&RateLimitHeaders {
            limit: Some(100),
            remaining: Some(5),
            reset_unix: Some(unix_now() + 10),
            retry_after: None,
        });
        let start = Instant::now();
        for _ in 0..3 {
            budget.acquire().await;
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
}
