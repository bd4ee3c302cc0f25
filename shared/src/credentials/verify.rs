//! Verification of a GitLab token before it is stored: a bounded number of requests whatever the size of the
//! organisation (`personal_access_tokens/self`, then one page of groups, then at most one page of projects).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::model::{CredentialRecord, ExpirationDate, StoredSettings};
use crate::gitlab::{
    GitLabAddress, GitLabClient, GitLabError, HttpClients, RequestBudget, RetryPolicy, TokenInfo,
};
use crate::kernel::instance::InstanceUrl;
use crate::secret::SecretString;

/// What a successful verification learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The instance's web root.
    pub base_url: InstanceUrl,
    /// The token's own expiry, when GitLab reports one (as `YYYY-MM-DD`).
    pub token_expires_at: Option<ExpirationDate>,
    /// The token's scopes, as GitLab reports them (those beyond reading are accepted, and shown).
    pub scopes: Vec<String>,
}

/// Why a token or its settings were not accepted. Messages are for the caller and never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    InvalidSettings(String),
    #[error("{0}")]
    InvalidCredentials(String),
    #[error("{0}")]
    InvalidPermissions(String),
    #[error(
        "the token can read no project's repository (it needs at least the Reporter role in a group or project)"
    )]
    NoResources,
    /// GitLab down, a TLS failure, 5xx, timeouts, rate limits: not the token's fault. `detail` is for logs.
    #[error("GitLab could not be reached: {detail}")]
    Unreachable { detail: String },
}

/// The verification port: GitLab over HTTP in production, a fake in unit tests.
pub trait Verifier: Send + Sync {
    fn verify(
        &self,
        settings: &StoredSettings,
        token: &SecretString,
    ) -> impl Future<Output = Result<Verified, VerifyError>> + Send;
}

/// Verifies against the GitLab the settings name, through the process's shared HTTP clients.
#[derive(Debug)]
pub struct GitLabVerifier {
    http: Arc<HttpClients>,
    default_requests_per_minute: u32,
    retry: RetryPolicy,
    /// The whole verification's deadline, well inside the API Gateway / Lambda timeouts.
    deadline: Duration,
}

impl GitLabVerifier {
    pub fn new(http: Arc<HttpClients>, default_requests_per_minute: u32) -> Self {
        GitLabVerifier {
            http,
            default_requests_per_minute,
            // A caller is waiting: few attempts, and a long rate-limit wait is reported instead of waited out.
            retry: RetryPolicy {
                max_attempts: 3,
                max_rate_limit_waits: 2,
                max_rate_limit_wait: Duration::from_secs(5),
                ..RetryPolicy::default()
            },
            deadline: Duration::from_secs(20),
        }
    }

    /// Other retry delays and deadline (tests shorten them).
    pub fn with_limits(mut self, retry: RetryPolicy, deadline: Duration) -> Self {
        self.retry = retry;
        self.deadline = deadline;
        self
    }

    async fn verify_inner(
        &self,
        settings: &StoredSettings,
        token: &SecretString,
    ) -> Result<Verified, VerifyError> {
        let policy = self.http.policy();
        let address = GitLabAddress::parse(settings.base_url.as_str(), policy)
            .map_err(|e| VerifyError::InvalidSettings(e.to_string()))?;
        address
            .check_resolves(policy)
            .await
            .map_err(|e| VerifyError::InvalidSettings(e.to_string()))?;
        let http = self
            .http
            .for_ca_bundle(settings.ca_bundle.as_deref())
            .map_err(|e| match e {
                GitLabError::Connection { detail } => VerifyError::InvalidSettings(detail),
                other => VerifyError::Unreachable {
                    detail: other.to_string(),
                },
            })?;
        let rpm = settings
            .requests_per_minute
            .unwrap_or(self.default_requests_per_minute);
        let client = GitLabClient::new(
            http,
            address.clone(),
            token.clone(),
            Arc::new(RequestBudget::per_minute(rpm, 10)),
            self.retry,
        );

        let info = client.token_self().await.map_err(classify)?;
        if let Some(why) = unusable(&info, time::OffsetDateTime::now_utc().date()) {
            return Err(VerifyError::InvalidCredentials(format!("the token {why}")));
        }
        if !info.can_read_api() {
            return Err(VerifyError::InvalidPermissions(
                "the token needs the read_api or api scope".into(),
            ));
        }
        let groups = client.first_groups(1).await.map_err(classify)?;
        if groups.is_empty() {
            let projects = client.first_member_projects(1).await.map_err(classify)?;
            if projects.is_empty() {
                return Err(VerifyError::NoResources);
            }
        }
        Ok(Verified {
            base_url: address.web_root().clone(),
            token_expires_at: info.expires_at.as_deref().and_then(ExpirationDate::parse),
            scopes: info.scopes,
        })
    }
}

impl Verifier for GitLabVerifier {
    async fn verify(
        &self,
        settings: &StoredSettings,
        token: &SecretString,
    ) -> Result<Verified, VerifyError> {
        match tokio::time::timeout(self.deadline, self.verify_inner(settings, token)).await {
            Ok(result) => result,
            Err(_) => Err(VerifyError::Unreachable {
                detail: format!("verification did not finish within {:?}", self.deadline),
            }),
        }
    }
}

/// Why GitLab no longer takes a token, by its own `personal_access_tokens/self` answer: revoked, expired (its
/// `expires_at` before `today`) or otherwise inactive.
pub fn unusable(info: &TokenInfo, today: time::Date) -> Option<&'static str> {
    let expired = info
        .expires_at
        .as_deref()
        .and_then(ExpirationDate::parse)
        .is_some_and(|d| d.has_passed(today));
    if info.revoked {
        Some("has been revoked")
    } else if expired {
        Some("has expired")
    } else if !info.active {
        Some("is not active")
    } else {
        None
    }
}

/// Tokens with scopes beyond reading are accepted (refusing `api` would break the many setups that use such a
/// token) but logged at each create and update, as `info` and `list` show them, so the operator can rotate to a
/// `read_api` token. Never logs the token.
pub fn warn_of_excess_scopes(record: &CredentialRecord) {
    let excess = record.excess_scopes();
    if !excess.is_empty() {
        tracing::warn!(
            connection_id = %record.connection_id,
            credential_id = %record.credential_id,
            excess_scopes = %excess.join(","),
            "the token has scopes beyond reading; the importer needs only read_api"
        );
    }
}

/// A GitLab failure during verification, as the caller should hear it.
fn classify(error: GitLabError) -> VerifyError {
    match error {
        GitLabError::Unauthorized { .. } => VerifyError::InvalidCredentials(
            "GitLab rejected the token (unknown, expired or revoked)".into(),
        ),
        GitLabError::InsufficientScope { .. } | GitLabError::Forbidden { .. } => {
            VerifyError::InvalidPermissions("the token needs the read_api or api scope".into())
        }
        GitLabError::NotFound { .. } => VerifyError::InvalidSettings(
            "base_url does not answer like a GitLab API (404 on personal_access_tokens/self)"
                .into(),
        ),
        // OAuth tokens get 400 from personal_access_tokens/self; other 4xx are a token GitLab will not take.
        GitLabError::Rejected { .. } => VerifyError::InvalidCredentials(
            "GitLab refused the token; use a personal, group, project or service-account access token"
                .into(),
        ),
        GitLabError::Connection { detail } if detail.contains("not allowed") => {
            VerifyError::InvalidSettings(
                "base_url points at a loopback, link-local or private address, which is not allowed"
                    .into(),
            )
        }
        other @ (GitLabError::Connection { .. }
        | GitLabError::Transient { .. }
        | GitLabError::TimedOut { .. }
        | GitLabError::InvalidResponse { .. }
        | GitLabError::ResponseTooLarge { .. }
        | GitLabError::MemoryBusy { .. }
        | GitLabError::RateLimited { .. }) => VerifyError::Unreachable {
            detail: other.to_string(),
        },
    }
}
