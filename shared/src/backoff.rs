//! Exponential backoff with equal jitter, shared by every retry loop (GitLab requests, DynamoDB batches).

use std::hash::{BuildHasher, Hasher, RandomState};
use std::time::Duration;

/// The delay before retry number `attempt` (1-based): `base` doubling per attempt up to `max`, of which half is
/// fixed and half random, so that many tasks retrying at once spread out.
pub fn jittered(base: Duration, max: Duration, attempt: u32) -> Duration {
    let step = base
        .saturating_mul(1_u32 << attempt.saturating_sub(1).min(16))
        .min(max);
    // RandomState is seeded randomly per instance: a cheap source of jitter without an RNG dependency.
    let random = RandomState::new().build_hasher().finish();
    let fraction = (random >> 11) as f64 / (1_u64 << 53) as f64;
    // Saturating and capped at `step`: no Duration overflow whatever `base` and `max` are.
    let half = step / 2;
    half.saturating_add(Duration::from_secs_f64(half.as_secs_f64() * fraction).min(half))
        .min(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_stays_within_bounds() {
        let (base, max) = (Duration::from_millis(200), Duration::from_secs(10));
        for attempt in 1..40 {
            let delay = jittered(base, max, attempt);
            let step = base.saturating_mul(1 << (attempt - 1).min(16)).min(max);
            assert!(delay >= step / 2 && delay <= step, "{attempt}: {delay:?}");
        }
    }

    #[test]
    fn never_overflows() {
        for attempt in [0, 1, 17, u32::MAX] {
            let delay = jittered(Duration::MAX, Duration::MAX, attempt);
            assert!(delay >= Duration::MAX / 2, "{attempt}: {delay:?}");
            assert_eq!(
                jittered(Duration::ZERO, Duration::MAX, attempt),
                Duration::ZERO
            );
        }
    }
}
