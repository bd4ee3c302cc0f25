//! What can go wrong talking to GitLab, classified the way callers decide: the token's fault, the project's,
//! the caller's request, or a passing fault on GitLab's side or the network's.

use std::time::Duration;

/// A GitLab request that failed after the client's own retries. Messages never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitLabError {
    /// 401: unknown, expired or revoked token.
    #[error("GitLab rejected the token (401): {message}")]
    Unauthorized { message: String },
    /// 403 with `insufficient_scope`: the token lacks `read_api`/`api`.
    #[error("the token lacks a required scope ({required})")]
    InsufficientScope { required: String },
    /// Any other 403: no access to this resource.
    #[error("GitLab refused access (403): {message}")]
    Forbidden { message: String },
    /// 404, with GitLab's message (`404 Project Not Found`, `404 Repository Not Found`, ...).
    #[error("GitLab answered 404: {message}")]
    NotFound { message: String },
    /// 429 that outlasted the client's waiting budget.
    #[error("GitLab rate limit still exceeded; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// 5xx, connection failures and resets, bodies cut short: retried, and still failing.
    #[error("GitLab is unavailable: {detail}")]
    Transient { detail: String, status: Option<u16> },
    /// The request did not finish in time: GitLab stalled (a body that drips) past the client's total timeout, or
    /// the caller's deadline came first. Not retried by the client: one attempt already took all the time allowed.
    #[error("GitLab did not answer in time: {detail}")]
    TimedOut { detail: String },
    /// A 200 that cannot be the answer: not JSON (an HTML sign-in or maintenance page), invalid UTF-8 or JSON, JSON
    /// of another shape; or a redirect, which the client never follows. Not retried by the client (the same server
    /// tends to answer the same way), but worth trying again later.
    #[error("GitLab's answer is not valid: {detail}")]
    InvalidResponse { detail: String },
    /// The body, once decompressed, is larger than the client's limit: reading stopped there. Not retried.
    #[error("GitLab's answer is larger than the limit of {limit} bytes")]
    ResponseTooLarge { limit: u64 },
    /// Other 4xx: our request was wrong for this GitLab.
    #[error("GitLab refused the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// The address is refused by the network policy, or the TLS/connection setup is impossible.
    #[error("cannot connect to GitLab: {detail}")]
    Connection { detail: String },
}

/// `text` with every whole occurrence of `secret` replaced by `[redacted]`. Text is blanked before it is cut to a
/// length: a token cut in two is no longer found whole, and its first part would stay.
pub(crate) fn blank_secret(text: String, secret: &str) -> String {
    if secret.is_empty() || !text.contains(secret) {
        text
    } else {
        text.replace(secret, "[redacted]")
    }
}

impl GitLabError {
    /// The same error with `secret` blanked out of every text a server could have written into it (an echoed
    /// header in a 4xx message, a value quoted by a JSON error), so that no hostile GitLab can make us log the
    /// token.
    pub fn redacted(self, secret: &str) -> Self {
        let blank = |text: String| blank_secret(text, secret);
        match self {
            GitLabError::Unauthorized { message } => GitLabError::Unauthorized {
                message: blank(message),
            },
            GitLabError::InsufficientScope { required } => GitLabError::InsufficientScope {
                required: blank(required),
            },
            GitLabError::Forbidden { message } => GitLabError::Forbidden {
                message: blank(message),
            },
            GitLabError::NotFound { message } => GitLabError::NotFound {
                message: blank(message),
            },
            GitLabError::Transient { detail, status } => GitLabError::Transient {
                detail: blank(detail),
                status,
            },
            GitLabError::TimedOut { detail } => GitLabError::TimedOut {
                detail: blank(detail),
            },
            GitLabError::InvalidResponse { detail } => GitLabError::InvalidResponse {
                detail: blank(detail),
            },
            GitLabError::Rejected { status, message } => GitLabError::Rejected {
                status,
                message: blank(message),
            },
            GitLabError::Connection { detail } => GitLabError::Connection {
                detail: blank(detail),
            },
            other @ (GitLabError::RateLimited { .. } | GitLabError::ResponseTooLarge { .. }) => {
                other
            }
        }
    }

    /// Worth trying again later (SQS redelivery): GitLab or the network may recover on its own. A body over the
    /// limit is not: the same page will be as large next time.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GitLabError::Transient { .. }
                | GitLabError::RateLimited { .. }
                | GitLabError::TimedOut { .. }
                | GitLabError::InvalidResponse { .. }
        )
    }

    /// A short stable code for logs, metrics and stored "last error" fields.
    pub fn code(&self) -> &'static str {
        match self {
            GitLabError::Unauthorized { .. } => "unauthorized",
            GitLabError::InsufficientScope { .. } => "insufficient_scope",
            GitLabError::Forbidden { .. } => "forbidden",
            GitLabError::NotFound { .. } => "not_found",
            GitLabError::RateLimited { .. } => "rate_limited",
            GitLabError::Transient { .. } => "gitlab_unavailable",
            GitLabError::TimedOut { .. } => "timed_out",
            GitLabError::InvalidResponse { .. } => "invalid_response",
            GitLabError::ResponseTooLarge { .. } => "response_too_large",
            GitLabError::Rejected { .. } => "rejected",
            GitLabError::Connection { .. } => "connection_failed",
        }
    }
}
