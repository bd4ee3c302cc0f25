//! Fault injection and rate limiting: what can go wrong between an importer and GitLab.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// One injected failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// A JSON error with this status (500, 502, 503...).
    ServerError(u16),
    /// 429 with GitLab's rate-limit headers.
    RateLimited { retry_after_secs: u64 },
    /// The TCP connection is reset (RST) before any response byte.
    Reset,
    /// Full `Content-Length`, about half the body, then the connection closes.
    Truncated,
    /// Extra delay, then the normal response.
    Latency(Duration),
}

/// Per-request fault probabilities, drawn from a seeded RNG so a run can be replayed.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultMix {
    pub server_error: f64,
    pub rate_limited: f64,
    pub reset: f64,
    pub truncated: f64,
    pub seed: u64,
}

impl FaultMix {
    pub fn none() -> Self {
        Self::default()
    }

    fn is_none(&self) -> bool {
        self.server_error + self.rate_limited + self.reset + self.truncated <= 0.0
    }
}

/// A fixed-window limiter per user, like GitLab's `throttle_authenticated_api`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub requests_per_period: u32,
    pub period: Duration,
    pub name: String,
}

impl RateLimit {
    pub fn new(requests_per_period: u32, period: Duration) -> Self {
        Self {
            requests_per_period,
            period,
            name: "throttle_authenticated_api".to_owned(),
        }
    }

    /// GitLab.com's authenticated API limit: 2,000 requests a minute per user.
    pub fn gitlab_com() -> Self {
        Self::new(2000, Duration::from_secs(60))
    }
}

/// What a limiter (real or injected) reports in the `RateLimit-*` headers.
#[derive(Debug, Clone)]
pub(crate) struct RateInfo {
    name: String,
    limit: u32,
    observed: u32,
    /// Unix time (ms) at which the window ends.
    reset_at_ms: u128,
    retry_after_secs: u64,
}

impl RateInfo {
    pub(crate) fn exceeded(&self) -> bool {
        self.observed > self.limit
    }

    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        let reset_secs = u64::try_from(self.reset_at_ms.div_ceil(1000)).unwrap_or(u64::MAX);
        let reset_time =
            time::OffsetDateTime::from_unix_timestamp(i64::try_from(reset_secs).unwrap_or(0))
                .map(super::entities::http_date)
                .unwrap_or_default();
        let remaining = self.limit.saturating_sub(self.observed);
        for (name, value) in [
            ("ratelimit-name", self.name.clone()),
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-observed", self.observed.to_string()),
            ("ratelimit-remaining", remaining.to_string()),
            ("ratelimit-reset", reset_secs.to_string()),
            ("ratelimit-resettime", reset_time),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
    }

    /// GitLab's 429: a plain-text body and the limiter's headers.
    pub(crate) fn too_many_requests(&self) -> Response {
        let mut resp = (StatusCode::TOO_MANY_REQUESTS, "Retry later\n").into_response();
        self.apply(resp.headers_mut());
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.retry_after_secs),
        );
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        resp
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// Mutable fault/limiter state, behind one lock in the simulator.
#[derive(Debug)]
pub(crate) struct FaultState {
    pub(crate) latency: Duration,
    mix: FaultMix,
    rng: StdRng,
    queued: HashMap<String, VecDeque<Fault>>,
    limit: Option<RateLimit>,
    /// user -> (window index, requests seen in it).
    windows: HashMap<u64, (u128, u32)>,
}

impl Default for FaultState {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            mix: FaultMix::none(),
            rng: StdRng::seed_from_u64(0),
            queued: HashMap::new(),
            limit: None,
            windows: HashMap::new(),
        }
    }
}

impl FaultState {
    pub(crate) fn set_mix(&mut self, mix: FaultMix) {
        self.rng = StdRng::seed_from_u64(mix.seed);
        self.mix = mix;
    }

    pub(crate) fn mix(&self) -> FaultMix {
        self.mix
    }

    pub(crate) fn queue(&mut self, route: &str, n: u32, fault: Fault) {
        let q = self.queued.entry(route.to_owned()).or_default();
        q.extend(std::iter::repeat_n(fault, n as usize));
    }

    pub(crate) fn set_limit(&mut self, limit: Option<RateLimit>) {
        self.limit = limit;
        self.windows.clear();
    }

    /// The fault for this request, if any: queued faults for the route first, then `*`, then the mix.
    pub(crate) fn decide(&mut self, route: &str) -> Option<Fault> {
        for key in [route, super::routes::ANY] {
            if let Some(f) = self.queued.get_mut(key).and_then(VecDeque::pop_front) {
                return Some(f);
            }
        }
        if self.mix.is_none() {
            return None;
        }
        let roll: f64 = self.rng.random();
        let m = self.mix;
        let mut edge = m.server_error;
        if roll < edge {
            let code = [500, 502, 503][self.rng.random_range(0..3)];
            return Some(Fault::ServerError(code));
        }
        edge += m.rate_limited;
        if roll < edge {
            return Some(Fault::RateLimited {
                retry_after_secs: 1,
            });
        }
        edge += m.reset;
        if roll < edge {
            return Some(Fault::Reset);
        }
        edge += m.truncated;
        (roll < edge).then_some(Fault::Truncated)
    }

    /// Counts the request in the user's window; `None` when no limit is set.
    pub(crate) fn admit(&mut self, user: u64) -> Option<RateInfo> {
        let limit = self.limit.as_ref()?;
        let now = now_ms();
        let period = limit.period.as_millis().max(1);
        let window = now / period;
        let entry = self.windows.entry(user).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let reset_at_ms = (window + 1) * period;
        // Seconds until the window ends, as Rack::Attack reports it (at least 1).
        let retry_after_secs = u64::try_from((reset_at_ms - now).div_ceil(1000))
            .unwrap_or(u64::MAX)
            .max(1);
        Some(RateInfo {
            name: limit.name.clone(),
            limit: limit.requests_per_period,
            observed: entry.1,
            reset_at_ms,
            retry_after_secs,
        })
    }

    /// What an injected 429 reports: the configured limit (or GitLab.com's), just exceeded.
    pub(crate) fn injected_rate_info(&self, retry_after_secs: u64) -> RateInfo {
        let limit = self.limit.clone().unwrap_or_else(RateLimit::gitlab_com);
        let now = now_ms();
        RateInfo {
            name: limit.name,
            limit: limit.requests_per_period,
            observed: limit.requests_per_period.saturating_add(1),
            reset_at_ms: now + u128::from(retry_after_secs) * 1000,
            retry_after_secs,
        }
    }
}

pub(crate) fn server_error(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = serde_json::json!({ "message": format!("{} {reason}", status.as_u16()) });
    (status, axum::Json(body)).into_response()
}

/// Re-sends `resp` with its full `Content-Length` but only the first half of the body; the body
/// stream then fails, which makes hyper drop the connection mid-message.
pub(crate) async fn truncate(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let full = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = full.slice(..full.len() / 2);
    let chunks = futures::stream::iter([Ok::<Bytes, std::io::Error>(half)]).chain(
        futures::stream::once(async {
            // Give hyper a moment to flush the first half before the failure closes the socket.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(std::io::Error::other("simulated truncation"))
        }),
    );
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full.len()));
    Response::from_parts(parts, Body::from_stream(chunks))
}
