//! Fault injection and rate limiting: what can go wrong between an importer and GitLab.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt as _;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// One injected failure.
#[derive(Debug, Clone, PartialEq)]
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
    /// The request waits until the test opens the gate, then gets the normal response: for races that must
    /// happen while a request is in flight, whatever the machine's load.
    Held(Gate),
    /// What a broken or hostile GitLab answers instead (see [`Hostile`]).
    Hostile(Hostile),
}

/// What a [`Fault::Held`] request waits for. Opening it before the request arrives lets the request through.
#[derive(Debug, Clone, Default)]
pub struct Gate(Arc<tokio::sync::Notify>);

impl Gate {
    pub fn open(&self) {
        self.0.notify_one();
    }

    pub(crate) async fn passed(&self) {
        self.0.notified().await;
    }
}

impl PartialEq for Gate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Rewrites the JSON of a real answer (the commits page of another range, commits with huge trailers, ...).
pub type Rewrite = Arc<dyn Fn(serde_json::Value) -> serde_json::Value + Send + Sync>;

/// Answers of a broken or hostile GitLab. Each is one answer to one request of the route it is queued for.
#[derive(Clone)]
pub enum Hostile {
    /// The real answer, with these headers added or replaced (`RateLimit-Reset: 18446744073709551615`,
    /// `X-Next-Page` pointing back, ...).
    Headers(Vec<(String, String)>),
    /// 429 with exactly these headers (`Retry-After`, `RateLimit-*` of any value) and a plain-text body.
    TooManyRequests(Vec<(String, String)>),
    /// This status, content type and body instead of the real answer (HTML with a 200, invalid UTF-8 or JSON, a
    /// valid but empty array, ...).
    Body {
        status: u16,
        content_type: String,
        body: Bytes,
    },
    /// A 200 `Content-Encoding: gzip` body that inflates to `inflated` bytes of a valid JSON array (`[`, then
    /// spaces, then `]`): a few hundred KiB on the wire.
    GzipBomb { inflated: usize },
    /// A 200 of `bytes` bytes of valid JSON (an empty array padded with spaces), streamed without being held.
    Huge { bytes: usize },
    /// The real answer, one byte every `every`.
    Drip { every: Duration },
    /// A redirect (302) to `location`.
    Redirect(String),
    /// The real answer with its JSON rewritten.
    Rewrite(Rewrite),
    /// A project listing that never ends: page `n` (the request's `page`) is 100 valid projects, ids from
    /// `1_000_000_000 + 100·n`, whose paths make the page just under `page_bytes`, and advertises page `n + 1`.
    EndlessProjects { page_bytes: usize },
}

impl std::fmt::Debug for Hostile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hostile::Headers(h) => f.debug_tuple("Headers").field(h).finish(),
            Hostile::TooManyRequests(h) => f.debug_tuple("TooManyRequests").field(h).finish(),
            Hostile::Body { status, body, .. } => f
                .debug_struct("Body")
                .field("status", status)
                .field("bytes", &body.len())
                .finish(),
            Hostile::GzipBomb { inflated } => f
                .debug_struct("GzipBomb")
                .field("inflated", inflated)
                .finish(),
            Hostile::Huge { bytes } => f.debug_struct("Huge").field("bytes", bytes).finish(),
            Hostile::Drip { every } => f.debug_struct("Drip").field("every", every).finish(),
            Hostile::Redirect(to) => f.debug_tuple("Redirect").field(to).finish(),
            Hostile::Rewrite(_) => f.write_str("Rewrite(..)"),
            Hostile::EndlessProjects { page_bytes } => f
                .debug_struct("EndlessProjects")
                .field("page_bytes", page_bytes)
                .finish(),
        }
    }
}

impl PartialEq for Hostile {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Hostile::Rewrite(a), Hostile::Rewrite(b)) => Arc::ptr_eq(a, b),
            (a, b) => format!("{a:?}") == format!("{b:?}"),
        }
    }
}

impl Hostile {
    /// Answers that replace the real one: the handler never runs. `page` is the request's `page` parameter.
    pub(crate) fn instead(&self, page: u32) -> Option<Response> {
        let with_headers = |status: StatusCode, headers: &[(String, String)], body: Body| {
            let mut resp = Response::new(body);
            *resp.status_mut() = status;
            insert_headers(resp.headers_mut(), headers);
            resp
        };
        match self {
            Hostile::TooManyRequests(headers) => Some(with_headers(
                StatusCode::TOO_MANY_REQUESTS,
                headers,
                Body::from("Retry later\n"),
            )),
            Hostile::Body {
                status,
                content_type,
                body,
            } => Some(with_headers(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::OK),
                &[("content-type".into(), content_type.clone())],
                Body::from(body.clone()),
            )),
            Hostile::GzipBomb { inflated } => Some(with_headers(
                StatusCode::OK,
                &[
                    ("content-type".into(), "application/json".into()),
                    ("content-encoding".into(), "gzip".into()),
                ],
                Body::from(gzip_bomb(*inflated)),
            )),
            Hostile::Huge { bytes } => Some(with_headers(
                StatusCode::OK,
                &[
                    ("content-type".into(), "application/json".into()),
                    ("content-length".into(), bytes.max(&2).to_string()),
                ],
                Body::from_stream(padded_empty_array(*bytes)),
            )),
            Hostile::Redirect(location) => Some(with_headers(
                StatusCode::FOUND,
                &[("location".into(), location.clone())],
                Body::empty(),
            )),
            Hostile::EndlessProjects { page_bytes } => Some(with_headers(
                StatusCode::OK,
                &[
                    ("content-type".into(), "application/json".into()),
                    ("x-page".into(), page.to_string()),
                    ("x-next-page".into(), page.saturating_add(1).to_string()),
                ],
                Body::from(endless_projects_page(page, *page_bytes)),
            )),
            Hostile::Headers(_) | Hostile::Drip { .. } | Hostile::Rewrite(_) => None,
        }
    }

    /// Answers that alter the real one.
    pub(crate) async fn alter(&self, resp: Response) -> Response {
        match self {
            Hostile::Headers(headers) => {
                let mut resp = resp;
                insert_headers(resp.headers_mut(), headers);
                resp
            }
            Hostile::Drip { every } => {
                let every = *every;
                let (mut parts, body) = resp.into_parts();
                let full = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .unwrap_or_default();
                parts.headers.remove(header::CONTENT_LENGTH);
                let bytes = (0..full.len()).map(move |i| full.slice(i..=i));
                let chunks = futures::stream::iter(bytes).then(move |byte| async move {
                    tokio::time::sleep(every).await;
                    Ok::<Bytes, std::io::Error>(byte)
                });
                Response::from_parts(parts, Body::from_stream(chunks))
            }
            Hostile::Rewrite(rewrite) => {
                let (mut parts, body) = resp.into_parts();
                let full = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .unwrap_or_default();
                let json: serde_json::Value =
                    serde_json::from_slice(&full).unwrap_or(serde_json::Value::Null);
                let rewritten = serde_json::to_vec(&rewrite(json)).unwrap_or_default();
                parts.headers.remove(header::CONTENT_LENGTH);
                Response::from_parts(parts, Body::from(rewritten))
            }
            _ => resp,
        }
    }
}

/// Adds or replaces each header that is a valid HTTP header (the simulator sends what a test asks, nothing else).
fn insert_headers(headers: &mut HeaderMap, pairs: &[(String, String)]) {
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
}

/// Page `page` of [`Hostile::EndlessProjects`]: 100 projects of about `page_bytes / 100` bytes each.
fn endless_projects_page(page: u32, page_bytes: usize) -> Bytes {
    const PER_PAGE: u64 = 100;
    let padding = "x".repeat((page_bytes / PER_PAGE as usize).saturating_sub(250));
    let first = 1_000_000_000 + u64::from(page) * PER_PAGE;
    let projects: Vec<serde_json::Value> = (first..first + PER_PAGE)
        .map(|id| {
            serde_json::json!({
                "id": id,
                "path_with_namespace": format!("endless/p{id}-{padding}"),
                "default_branch": "main",
                "empty_repo": false,
                "archived": false,
                "web_url": "",
                "last_activity_at": "2026-01-01T00:00:00Z",
            })
        })
        .collect();
    Bytes::from(serde_json::to_vec(&projects).expect("JSON of plain values"))
}

/// `[`, spaces, `]` gzip-compressed: `inflated` bytes once decoded (at least 2). Compressed once per size and
/// process: deflating hundreds of MiB takes seconds of CPU, which on a loaded machine
/// would make every bombed answer slower than the client's timeout instead of larger than its cap.
fn gzip_bomb(inflated: usize) -> Bytes {
    static MADE: std::sync::Mutex<Vec<(usize, Bytes)>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, bomb)) = made.iter().find(|(size, _)| *size == inflated) {
        return bomb.clone();
    }
    let bomb = compress_spaces(inflated);
    made.push((inflated, bomb.clone()));
    bomb
}

/// The bomb itself, made anew.
fn compress_spaces(inflated: usize) -> Bytes {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let spaces = vec![b' '; 1 << 16];
    let mut left = inflated.saturating_sub(2);
    let mut write = |bytes: &[u8]| encoder.write_all(bytes).expect("writes to memory");
    write(b"[");
    while left > 0 {
        let n = left.min(spaces.len());
        write(&spaces[..n]);
        left -= n;
    }
    write(b"]");
    Bytes::from(encoder.finish().expect("writes to memory"))
}

/// `[`, spaces, `]`: `bytes` bytes (at least 2) in 64 KiB chunks, made as they are sent.
fn padded_empty_array(
    bytes: usize,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    const CHUNK: usize = 1 << 16;
    let spaces = Bytes::from(vec![b' '; CHUNK]);
    let middle = bytes.saturating_sub(2);
    let chunks = middle.div_ceil(CHUNK);
    futures::stream::iter(
        std::iter::once(Bytes::from_static(b"["))
            .chain((0..chunks).map(move |i| {
                let n = if i + 1 == chunks && !middle.is_multiple_of(CHUNK) {
                    middle % CHUNK
                } else {
                    CHUNK
                };
                spaces.slice(..n)
            }))
            .chain(std::iter::once(Bytes::from_static(b"]")))
            .map(Ok),
    )
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

/// A limiter per user: a fixed window like GitLab's `throttle_authenticated_api`, or a sliding one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub requests_per_period: u32,
    pub period: Duration,
    pub name: String,
    /// Counts the requests of the last `period` at every request, rather than those of the current fixed window:
    /// stricter than GitLab (no burst across a window boundary passes), so a client that never trips it never
    /// trips GitLab's, wherever GitLab's windows begin.
    pub sliding: bool,
}

impl RateLimit {
    pub fn new(requests_per_period: u32, period: Duration) -> Self {
        Self {
            requests_per_period,
            period,
            name: "throttle_authenticated_api".to_owned(),
            sliding: false,
        }
    }

    /// GitLab.com's authenticated API limit: 2,000 requests a minute per user.
    pub fn gitlab_com() -> Self {
        Self::new(2000, Duration::from_secs(60))
    }

    /// The same limit over a sliding window.
    pub fn sliding(self) -> Self {
        Self {
            sliding: true,
            ..self
        }
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
    /// Per route, faults and how many more requests each is for.
    queued: HashMap<String, VecDeque<(Fault, u32)>>,
    limit: Option<RateLimit>,
    /// user -> (window index, requests seen in it).
    windows: HashMap<u64, (u128, u32)>,
    /// user -> arrival times (ms) of the requests of the last period, for a sliding limit.
    recent: HashMap<u64, VecDeque<u128>>,
    /// Requests the limiter refused (429), for tests and benchmarks.
    pub(crate) refused: u64,
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
            recent: HashMap::new(),
            refused: 0,
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
        if n > 0 {
            self.queued
                .entry(route.to_owned())
                .or_default()
                .push_back((fault, n));
        }
    }

    pub(crate) fn clear_queued(&mut self) {
        self.queued.clear();
    }

    pub(crate) fn set_limit(&mut self, limit: Option<RateLimit>) {
        self.limit = limit;
        self.windows.clear();
        self.recent.clear();
        self.refused = 0;
    }

    /// The fault for this request, if any: queued faults for the route first, then `*`, then the mix.
    pub(crate) fn decide(&mut self, route: &str) -> Option<Fault> {
        for key in [route, super::routes::ANY] {
            let Some(queue) = self.queued.get_mut(key) else {
                continue;
            };
            if let Some((fault, left)) = queue.front_mut() {
                let fault = fault.clone();
                *left -= 1;
                if *left == 0 {
                    queue.pop_front();
                }
                return Some(fault);
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
        let info = if limit.sliding {
            // Every request counts, refused ones too, as Rack::Attack counts them.
            let recent = self.recent.entry(user).or_default();
            while recent.front().is_some_and(|at| *at + period <= now) {
                recent.pop_front();
            }
            recent.push_back(now);
            let reset_at_ms = recent.front().map_or(now, |oldest| oldest + period);
            RateInfo {
                name: limit.name.clone(),
                limit: limit.requests_per_period,
                observed: u32::try_from(recent.len()).unwrap_or(u32::MAX),
                reset_at_ms,
                retry_after_secs: u64::try_from((reset_at_ms - now).div_ceil(1000))
                    .unwrap_or(u64::MAX)
                    .max(1),
            }
        } else {
            self.fixed_window(user, now, period)
        };
        self.refused += u64::from(info.exceeded());
        Some(info)
    }

    fn fixed_window(&mut self, user: u64, now: u128, period: u128) -> RateInfo {
        let limit = self.limit.as_ref().expect("called with a limit");
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
        RateInfo {
            name: limit.name.clone(),
            limit: limit.requests_per_period,
            observed: entry.1,
            reset_at_ms,
            retry_after_secs,
        }
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
