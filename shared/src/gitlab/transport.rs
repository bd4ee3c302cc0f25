//! How one request reaches GitLab: the token's request budget first, one attempt within the caller's deadline,
//! then the retry policy: transient faults back off and retry, 429s wait as GitLab asks (and pause every task on
//! the token), a full memory budget waits for other answers to be given back, and everything else is returned.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::ACCEPT;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use url::Url;

use super::budget::{RateLimitHeaders, RequestBudget};
use super::error::GitLabError;
use super::memory::{MemoryBudget, MemoryBusy, Reservation};
use super::response::{
    check_json_content_type, classify_status, decode, invalid, next_page_header, read_body,
    read_error_body,
};
use crate::backoff::jittered;
use crate::secret::SecretString;

/// What the client accepts from GitLab.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest body read, counted after decompression (a gzip bomb stops here). A page of 100 commits with
    /// stats and trailers is about 100 KB; a `Content-Length` over the limit is refused before reading.
    pub max_body_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8 << 20,
        }
    }
}

/// How hard the client tries before it gives a failure back to its caller.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per request for transient faults (5xx, timeouts, resets, truncated bodies).
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, with jitter, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// 429 answers waited out per request before giving up with [`GitLabError::RateLimited`].
    pub max_rate_limit_waits: u32,
    /// The longest single wait GitLab can impose: a longer `Retry-After` is given back to the caller instead, and
    /// a `RateLimit-Reset` further ahead pauses or slows the budget for this long at most.
    pub max_rate_limit_wait: Duration,
    /// Attempts with stats before a page is fetched without them (GitLab's stats can time out into a 500).
    pub stats_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_rate_limit_waits: 10,
            max_rate_limit_wait: Duration::from_secs(120),
            stats_attempts: 3,
        }
    }
}

/// Counters of one client, for logs, metrics and benchmarks.
#[derive(Debug, Default)]
pub struct ClientCounters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    stats_fallbacks: AtomicU64,
    budget_waits: AtomicU64,
    budget_wait_us: AtomicU64,
}

/// A snapshot of [`ClientCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub stats_fallbacks: u64,
    /// Requests that waited for the token's request budget (its pace, a 429's pause, the shared timeline).
    pub budget_waits: u64,
    /// How long they waited, together.
    pub budget_wait: Duration,
}

impl ClientCounters {
    pub fn snapshot(&self) -> ClientStats {
        ClientStats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            stats_fallbacks: self.stats_fallbacks.load(Ordering::Relaxed),
            budget_waits: self.budget_waits.load(Ordering::Relaxed),
            budget_wait: Duration::from_micros(self.budget_wait_us.load(Ordering::Relaxed)),
        }
    }
}

/// A decoded page of any listing.
#[derive(Debug)]
pub(super) struct Page<T> {
    pub(super) items: T,
    pub(super) next_page: Option<u32>,
    pub(super) memory: Reservation,
}

/// What sends a client's requests: the HTTP client, the token, its budget and the policies that bound each wait.
#[derive(Debug, Clone)]
pub(super) struct Transport {
    pub(super) http: reqwest::Client,
    pub(super) token: SecretString,
    pub(super) budget: Arc<RequestBudget>,
    pub(super) retry: RetryPolicy,
    pub(super) limits: Limits,
    /// Shared by every client of the process ([`super::GitLabClient::with_memory`]): what all their answers hold
    /// at once.
    pub(super) memory: MemoryBudget,
    /// No request runs, and no wait sleeps, past this instant.
    pub(super) deadline: Option<Instant>,
    pub(super) counters: Arc<ClientCounters>,
}

/// How often one request has waited, by cause.
#[derive(Debug, Default)]
struct Waits {
    transient_failures: u32,
    rate_limits: u32,
    busy_memory: u32,
}

impl Transport {
    pub(super) fn new(
        http: reqwest::Client,
        token: SecretString,
        budget: Arc<RequestBudget>,
        retry: RetryPolicy,
    ) -> Self {
        Transport {
            http,
            token,
            budget,
            retry,
            limits: Limits::default(),
            memory: MemoryBudget::default(),
            deadline: None,
            counters: Arc::default(),
        }
    }

    /// A commit page was fetched again without the stats GitLab failed to compute.
    pub(super) fn count_stats_fallback(&self) {
        self.counters
            .stats_fallbacks
            .fetch_add(1, Ordering::Relaxed);
    }

    /// GET and decode JSON, with the retry policy. No wait is longer than the policy allows or ends past the
    /// deadline.
    pub(super) async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        policy: RetryPolicy,
    ) -> Result<Page<T>, GitLabError> {
        let mut waits = Waits::default();
        loop {
            self.admit().await?;
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let failure = match self.attempt_in_time(&url, policy.max_rate_limit_wait).await {
                Ok(page) => return Ok(page),
                Err(failure) => failure,
            };
            self.wait_before_retry(failure, &policy, &mut waits).await?;
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits for the token's request budget, unless the deadline has passed or would pass first.
    async fn admit(&self) -> Result<(), GitLabError> {
        if self
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return Err(deadline_passed());
        }
        let waited = self
            .budget
            .acquire(self.deadline)
            .await
            .map_err(|wait| GitLabError::RateLimited { retry_after: wait })?;
        if !waited.is_zero() {
            let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
            self.counters.budget_waits.fetch_add(1, Ordering::Relaxed);
            self.counters
                .budget_wait_us
                .fetch_add(micros, Ordering::Relaxed);
        }
        Ok(())
    }

    /// One attempt, cut short at the deadline; whatever the server wrote into a failure is cleared of the token.
    async fn attempt_in_time<T: DeserializeOwned>(
        &self,
        url: &Url,
        max_wait: Duration,
    ) -> Result<Page<T>, Attempt> {
        let attempt = self.attempt_once::<T>(url, max_wait);
        let outcome = match self.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, attempt)
                .await
                .unwrap_or_else(|_| Err(Attempt::Final(deadline_passed()))),
            None => attempt.await,
        };
        outcome.map_err(|failure| failure.redacted(self.token.expose()))
    }

    /// Waits as `failure` asks before the next attempt, or gives it back when the policy or the deadline says stop.
    async fn wait_before_retry(
        &self,
        failure: Attempt,
        policy: &RetryPolicy,
        waits: &mut Waits,
    ) -> Result<(), GitLabError> {
        match failure {
            Attempt::RateLimited(wait) => {
                waits.rate_limits += 1;
                self.wait_out_rate_limit(wait, waits.rate_limits, policy)
            }
            Attempt::Busy(busy) => {
                waits.busy_memory += 1;
                self.wait_for_memory(busy, waits.busy_memory).await
            }
            Attempt::Transient { detail, status } => {
                waits.transient_failures += 1;
                self.back_off(detail, status, waits.transient_failures, policy)
                    .await
            }
            Attempt::Final(error) => Err(error),
        }
    }

    /// A 429: every task on this token waits (the budget is paused; the next [`Transport::admit`] waits it out),
    /// whether or not this one has the time to.
    fn wait_out_rate_limit(
        &self,
        wait: Duration,
        waits: u32,
        policy: &RetryPolicy,
    ) -> Result<(), GitLabError> {
        self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
        let give_up = GitLabError::RateLimited { retry_after: wait };
        if waits > policy.max_rate_limit_waits || wait > policy.max_rate_limit_wait {
            return Err(give_up);
        }
        self.budget.pause_for(wait);
        if !self.ends_before_deadline(wait) {
            return Err(give_up);
        }
        tracing::info!(
            wait_ms = wait.as_millis() as u64,
            "GitLab rate limit reached; waiting"
        );
        Ok(())
    }

    /// Other answers hold the memory budget: they give it back as they are used, so wait as for a fault, as often
    /// as the client's own policy allows (not a narrower one meant for GitLab's faults).
    async fn wait_for_memory(&self, busy: MemoryBusy, waits: u32) -> Result<(), GitLabError> {
        let delay = jittered(self.retry.base_delay, self.retry.max_delay, waits);
        if waits >= self.retry.max_attempts || !self.ends_before_deadline(delay) {
            return Err(GitLabError::MemoryBusy {
                wanted: busy.wanted,
                total: busy.total,
            });
        }
        tracing::debug!(
            wanted = busy.wanted,
            "GitLab memory budget in use; retrying"
        );
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// A transient fault: a jittered backoff that doubles per failure, until the policy's attempts are spent.
    async fn back_off(
        &self,
        detail: String,
        status: Option<u16>,
        failures: u32,
        policy: &RetryPolicy,
    ) -> Result<(), GitLabError> {
        let delay = jittered(policy.base_delay, policy.max_delay, failures);
        if failures >= policy.max_attempts || !self.ends_before_deadline(delay) {
            return Err(GitLabError::Transient { detail, status });
        }
        tracing::debug!(
            attempt = failures,
            delay_ms = delay.as_millis() as u64,
            detail = %detail,
            "transient GitLab failure; retrying"
        );
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// Whether a wait of `wait` from now ends at or before the deadline (always, without one).
    fn ends_before_deadline(&self, wait: Duration) -> bool {
        self.deadline.is_none_or(|deadline| {
            Instant::now()
                .checked_add(wait)
                .is_some_and(|end| end <= deadline)
        })
    }

    async fn attempt_once<T: DeserializeOwned>(
        &self,
        url: &Url,
        max_wait: Duration,
    ) -> Result<Page<T>, Attempt> {
        let secret = self.token.expose();
        let response = self
            .http
            .get(url.clone())
            .header("PRIVATE-TOKEN", secret)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| classify_send_error(&e))?;
        let status = response.status();
        let rate_limit = RateLimitHeaders::from_headers(response.headers());
        self.budget.observe(&rate_limit, max_wait);

        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Attempt::RateLimited(
                rate_limit.wait_after_429(Duration::from_secs(60)),
            ));
        }
        if status.is_server_error() {
            return Err(Attempt::Transient {
                detail: format!("HTTP {}", status.as_u16()),
                status: Some(status.as_u16()),
            });
        }
        if status.is_redirection() {
            return Err(invalid(format!(
                "HTTP {} redirect; the client never follows one",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            let body = read_error_body(response).await;
            return Err(Attempt::Final(classify_status(status, &body, secret)));
        }
        check_json_content_type(response.headers(), secret)?;
        let next_page = next_page_header(response.headers());
        let (body, mut memory) =
            read_body(response, self.limits.max_body_bytes, &self.memory).await?;
        // The decoded page is charged its text's size, reserved before decoding, while the text is still held.
        let size = body.len() as u64;
        self.memory.grow(&mut memory, size).map_err(Attempt::Busy)?;
        let items = decode(&body, secret)?;
        drop(body);
        memory.shrink_to(size);
        Ok(Page {
            items,
            next_page,
            memory,
        })
    }
}

fn deadline_passed() -> GitLabError {
    GitLabError::TimedOut {
        detail: "the caller's deadline passed".into(),
    }
}

/// The outcome of one failed attempt, before the retry policy decides.
pub(super) enum Attempt {
    RateLimited(Duration),
    /// The memory budget could not hold the answer.
    Busy(MemoryBusy),
    Transient {
        detail: String,
        status: Option<u16>,
    },
    Final(GitLabError),
}

impl Attempt {
    /// The same failure with `secret` blanked out of the server's text (see [`GitLabError::redacted`]).
    fn redacted(self, secret: &str) -> Self {
        match self {
            Attempt::Final(error) => Attempt::Final(error.redacted(secret)),
            Attempt::Transient { detail, status } => {
                match (GitLabError::Transient { detail, status }).redacted(secret) {
                    GitLabError::Transient { detail, status } => {
                        Attempt::Transient { detail, status }
                    }
                    other => Attempt::Final(other),
                }
            }
            other @ (Attempt::RateLimited(_) | Attempt::Busy(_)) => other,
        }
    }
}

/// A send error is transient unless the address was refused or the certificate cannot be trusted (neither fixes
/// itself by retrying) or the answer did not come in time (one attempt took all the time allowed). The source
/// chain is inspected because reqwest wraps the cause.
fn classify_send_error(error: &reqwest::Error) -> Attempt {
    let detail = describe(error);
    if error.is_timeout() && !error.is_connect() {
        return Attempt::Final(GitLabError::TimedOut { detail });
    }
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<super::address::AddressError>() {
            return Attempt::Final(GitLabError::Connection {
                detail: format!(
                    "the GitLab host resolves to an address that is not allowed: {refusal}"
                ),
            });
        }
        source = cause.source();
    }
    if detail.contains("certificate") || detail.contains("UnknownIssuer") {
        return Attempt::Final(GitLabError::Connection {
            detail: format!("TLS certificate not trusted: {detail}"),
        });
    }
    Attempt::Transient {
        detail,
        status: None,
    }
}

/// A reqwest error with its causes, without the URL (it never carries the token, but stays short this way).
pub(super) fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
