//! The one way the importer talks to GitLab: typed operations over GitLab REST v4, page by page, with retries,
//! rate-limit handling and a request budget shared by every task that uses the same token.

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, TryStreamExt};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use url::Url;

use super::address::{GitLabAddress, GuardedResolver, NetworkPolicy};
use super::budget::{RateLimitHeaders, RequestBudget};
use super::error::{GitLabError, blank_secret};
use super::model::{Branch, Commit, Group, Project, TokenInfo};
use crate::backoff::jittered;
use crate::secret::SecretString;

/// GitLab's largest page.
pub const MAX_PER_PAGE: u32 = 100;

/// The least role whose holder can read a private project's repository: Reporter (20). Every listing that
/// decides what is imported asks for it (`min_access_level`), so discovery and verification agree on "readable";
/// a Guest (10) gets 403 on the commits API, and asking for Developer (30) would silently skip Reporter projects.
pub const READ_REPOSITORY_ACCESS: u32 = 20;

/// A hard ceiling on pages per listing: far beyond any real organisation or history at 100 a page, it only stops
/// a server that keeps advertising a next page forever.
const MAX_PAGES: u32 = 1_000_000;

/// Error bodies are read only this far: enough for GitLab's JSON message, never a whole HTML page.
const MAX_ERROR_BODY: usize = 4 * 1024;

/// What a server's text may add to an error message: errors end up in logs and stored statuses.
const MAX_DETAIL_CHARS: usize = 160;

/// Timeouts of the HTTP client. GitLab.com cuts requests at 60 s; a slow commit page can take many seconds.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// The longest silence while waiting for or reading an answer.
    pub read: Duration,
    /// The whole request, body included: what bounds a body that drips a byte at a time.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(30),
            total: Duration::from_secs(75),
        }
    }
}

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

/// Builds and keeps the process's HTTP clients: one for public CAs, one per private CA bundle. Built once per
/// process and reused across invocations, so connections and TLS sessions are reused too.
#[derive(Debug)]
pub struct HttpClients {
    policy: NetworkPolicy,
    timeouts: Timeouts,
    default: reqwest::Client,
    with_private_ca: Mutex<HashMap<u64, reqwest::Client>>,
}

impl HttpClients {
    pub fn new(policy: NetworkPolicy, timeouts: Timeouts) -> Result<Self, GitLabError> {
        Ok(HttpClients {
            timeouts,
            default: build_http_client(&policy, timeouts, None)?,
            with_private_ca: Mutex::new(HashMap::new()),
            policy,
        })
    }

    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// The client for a connection: the shared one, or one that also trusts the connection's PEM CA bundle.
    pub fn for_ca_bundle(&self, ca_bundle: Option<&str>) -> Result<reqwest::Client, GitLabError> {
        let Some(pem) = ca_bundle.filter(|pem| !pem.trim().is_empty()) else {
            return Ok(self.default.clone());
        };
        // A fixed-key hash: the same bundle maps to the same client for the life of the process.
        let mut hasher = std::hash::DefaultHasher::new();
        hasher.write(pem.as_bytes());
        let key = hasher.finish();
        let mut cache = self
            .with_private_ca
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let client = build_http_client(&self.policy, self.timeouts, Some(pem))?;
        cache.insert(key, client.clone());
        Ok(client)
    }
}

fn build_http_client(
    policy: &NetworkPolicy,
    timeouts: Timeouts,
    ca_bundle: Option<&str>,
) -> Result<reqwest::Client, GitLabError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!(
            "gitlab-commit-importer/",
            env!("CARGO_PKG_VERSION")
        ))
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.read)
        .timeout(timeouts.total)
        .gzip(true)
        // A redirect could lead to an address the resolver never saw (an IP literal): GitLab's API needs none.
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from HTTPS_PROXY/HTTP_PROXY/ALL_PROXY would be sent `CONNECT host` and resolve the name itself,
        // so the guarded resolver would never run: the environment's proxy settings are ignored.
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            policy: policy.clone(),
        }))
        .https_only(policy.requires_https());
    if let Some(pem) = ca_bundle {
        let certificates = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|_| {
            GitLabError::Connection {
                detail: "ca_bundle is not a valid PEM certificate bundle".into(),
            }
        })?;
        if certificates.is_empty() {
            return Err(GitLabError::Connection {
                detail: "ca_bundle holds no certificate".into(),
            });
        }
        builder = builder.tls_certs_merge(certificates);
    }
    builder.build().map_err(|e| GitLabError::Connection {
        detail: format!("cannot build the HTTP client: {e}"),
    })
}

/// Counters of one client, for logs, metrics and benchmarks.
#[derive(Debug, Default)]
pub struct ClientCounters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    stats_fallbacks: AtomicU64,
}

/// A snapshot of [`ClientCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub stats_fallbacks: u64,
}

impl ClientCounters {
    pub fn snapshot(&self) -> ClientStats {
        ClientStats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            stats_fallbacks: self.stats_fallbacks.load(Ordering::Relaxed),
        }
    }
}

/// A project as GitLab's `:id` accepts it: numeric id or full path (URL-encoded when sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRef {
    Id(u64),
}

impl ProjectRef {
    fn segment(&self) -> String {
        match self {
            ProjectRef::Id(id) => id.to_string(),
        }
    }
}

impl From<u64> for ProjectRef {
    fn from(id: u64) -> Self {
        ProjectRef::Id(id)
    }
}

/// GitLab's answer about the merge base of two refs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeBase {
    /// The id of their best common ancestor.
    Commit(String),
    /// They share no history.
    Unrelated,
    /// The repository does not hold one of them (a force-pushed head pruned since).
    UnknownRef,
}

/// What to list from `GET /projects/:id/repository/commits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitQuery {
    /// A branch, tag, sha or revision range `a..b`; the default branch when `None`.
    pub ref_name: Option<String>,
    pub first_parent: bool,
    pub with_stats: bool,
    pub trailers: bool,
    /// Only commits whose committer date is at or before this instant (`until`, git's `--before`).
    pub until: Option<time::OffsetDateTime>,
    pub per_page: u32,
}

impl CommitQuery {
    /// All of a ref's history with stats and trailers, 100 a page.
    pub fn history(ref_name: impl Into<String>) -> Self {
        CommitQuery {
            ref_name: Some(ref_name.into()),
            first_parent: false,
            with_stats: true,
            trailers: true,
            until: None,
            per_page: MAX_PER_PAGE,
        }
    }
}

/// One page of commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPage {
    pub commits: Vec<Commit>,
    /// The next page number GitLab advertised, if any.
    pub next_page: Option<u32>,
    /// Stats were asked for but GitLab failed to compute them: the page was fetched without.
    pub stats_missing: bool,
}

/// A decoded page of any listing.
#[derive(Debug)]
struct Page<T> {
    items: T,
    next_page: Option<u32>,
}

/// A GitLab API client for one token.
#[derive(Debug, Clone)]
pub struct GitLabClient {
    http: reqwest::Client,
    address: GitLabAddress,
    token: SecretString,
    budget: Arc<RequestBudget>,
    retry: RetryPolicy,
    limits: Limits,
    /// No request runs, and no wait sleeps, past this instant.
    deadline: Option<Instant>,
    counters: Arc<ClientCounters>,
}

impl GitLabClient {
    pub fn new(
        http: reqwest::Client,
        address: GitLabAddress,
        token: SecretString,
        budget: Arc<RequestBudget>,
        retry: RetryPolicy,
    ) -> Self {
        GitLabClient {
            http,
            address,
            token,
            budget,
            retry,
            limits: Limits::default(),
            deadline: None,
            counters: Arc::default(),
        }
    }

    /// Other limits than [`Limits::default`].
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Nothing of this client runs past `deadline` (an invocation's end; `None`: no deadline): a request still
    /// running then fails with [`GitLabError::TimedOut`], a budget or 429 wait that would end later fails at once
    /// with [`GitLabError::RateLimited`], and a backoff that would end later returns the transient failure it
    /// follows.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    pub fn address(&self) -> &GitLabAddress {
        &self.address
    }

    pub fn stats(&self) -> ClientStats {
        self.counters.snapshot()
    }

    /// `GET /personal_access_tokens/self`: the token's scopes, state and expiry.
    pub async fn token_self(&self) -> Result<TokenInfo, GitLabError> {
        let url = self.endpoint(&["personal_access_tokens", "self"], &[]);
        Ok(self.get_json(url, self.retry).await?.items)
    }

    /// `GET /groups?min_access_level=20`, every page: the groups whose repositories the token can read.
    pub fn groups(&self) -> impl Stream<Item = Result<Vec<Group>, GitLabError>> + '_ {
        let query = vec![("min_access_level", READ_REPOSITORY_ACCESS.to_string())];
        self.paginate(vec!["groups".into()], query)
    }

    /// `GET /groups/:id/projects?min_access_level=20` with `include_subgroups`, never the capped `projects` array
    /// of `GET /groups/:id`.
    pub fn group_projects(
        &self,
        group_id: u64,
        include_subgroups: bool,
        archived: Option<bool>,
    ) -> impl Stream<Item = Result<Vec<Project>, GitLabError>> + '_ {
        let mut query = vec![
            ("include_subgroups", include_subgroups.to_string()),
            ("min_access_level", READ_REPOSITORY_ACCESS.to_string()),
        ];
        if let Some(archived) = archived {
            query.push(("archived", archived.to_string()));
        }
        self.paginate(
            vec!["groups".into(), group_id.to_string(), "projects".into()],
            query,
        )
    }

    /// `GET /projects?membership=true&min_access_level=20`: what the token reaches directly.
    pub fn member_projects(&self) -> impl Stream<Item = Result<Vec<Project>, GitLabError>> + '_ {
        let query = vec![
            ("membership", "true".to_owned()),
            ("min_access_level", READ_REPOSITORY_ACCESS.to_string()),
        ];
        self.paginate(vec!["projects".into()], query)
    }

    /// The first page only (of `per_page` items) of readable groups or member projects: a bounded reachability
    /// probe at the same access level as discovery.
    pub async fn first_groups(&self, per_page: u32) -> Result<Vec<Group>, GitLabError> {
        let query = [
            ("min_access_level", READ_REPOSITORY_ACCESS.to_string()),
            ("per_page", per_page.to_string()),
        ];
        let url = self.endpoint(&["groups"], &query);
        Ok(self.get_json(url, self.retry).await?.items)
    }

    /// See [`GitLabClient::first_groups`].
    pub async fn first_member_projects(&self, per_page: u32) -> Result<Vec<Project>, GitLabError> {
        let query = [
            ("membership", "true".to_owned()),
            ("min_access_level", READ_REPOSITORY_ACCESS.to_string()),
            ("simple", "true".to_owned()),
            ("per_page", per_page.to_string()),
        ];
        let url = self.endpoint(&["projects"], &query);
        Ok(self.get_json(url, self.retry).await?.items)
    }

    /// `GET /projects/:id`.
    pub async fn project(&self, project: &ProjectRef) -> Result<Project, GitLabError> {
        let url = self.endpoint(&["projects", &project.segment()], &[]);
        Ok(self.get_json(url, self.retry).await?.items)
    }

    /// `GET /projects/:id/repository/branches/:branch`.
    pub async fn branch(&self, project: &ProjectRef, branch: &str) -> Result<Branch, GitLabError> {
        let id = project.segment();
        let url = self.endpoint(&["projects", &id, "repository", "branches", branch], &[]);
        Ok(self.get_json(url, self.retry).await?.items)
    }

    /// `GET /projects/:id/repository/merge_base?refs[]=a&refs[]=b`. GitLab answers 400 `Could not find ref: ..`
    /// for a ref it does not hold and 404 `Merge Base Not Found` for refs that share no history: both are
    /// answers, not errors.
    pub async fn merge_base(
        &self,
        project: &ProjectRef,
        a: &str,
        b: &str,
    ) -> Result<MergeBase, GitLabError> {
        let id = project.segment();
        let query = [("refs[]", a.to_owned()), ("refs[]", b.to_owned())];
        let url = self.endpoint(&["projects", &id, "repository", "merge_base"], &query);
        match self.get_json::<Commit>(url, self.retry).await {
            Ok(page) => Ok(MergeBase::Commit(page.items.id)),
            Err(GitLabError::NotFound { message }) if message.contains("Merge Base") => {
                Ok(MergeBase::Unrelated)
            }
            Err(GitLabError::Rejected {
                status: 400,
                message,
            }) if message.starts_with("Could not find ref") => Ok(MergeBase::UnknownRef),
            Err(error) => Err(error),
        }
    }

    /// One page of `GET /projects/:id/repository/commits`. With stats, a page whose stats keep failing with a
    /// server error is fetched again without them and marked `stats_missing`, rather than failing the sync. A page
    /// over the body limit (commits with huge messages or trailers) is read in parts: see
    /// [`GitLabClient::commits_page_in_parts`].
    pub async fn commits_page(
        &self,
        project: &ProjectRef,
        query: &CommitQuery,
        page: u32,
    ) -> Result<CommitPage, GitLabError> {
        match self.commits_page_whole(project, query, page).await {
            Err(GitLabError::ResponseTooLarge { .. }) if query.per_page > 1 => {
                self.commits_page_in_parts(project, query, page).await
            }
            other => other,
        }
    }

    /// The same commits as page `page` of `query`, asked for in smaller pages over the same offsets (a tenth of
    /// the size, or one commit a page), each under the body limit; the parts are joined into one page with the
    /// next page GitLab would have advertised. Only a single commit over the limit stays an error.
    async fn commits_page_in_parts(
        &self,
        project: &ProjectRef,
        query: &CommitQuery,
        page: u32,
    ) -> Result<CommitPage, GitLabError> {
        let size = query.per_page.clamp(1, MAX_PER_PAGE);
        let part = if size >= 10 && size.is_multiple_of(10) {
            size / 10
        } else {
            1
        };
        let parts = size / part;
        let first = page
            .checked_sub(1)
            .and_then(|p| p.checked_mul(parts))
            .and_then(|p| p.checked_add(1))
            .ok_or_else(|| GitLabError::InvalidResponse {
                detail: format!("page {page} is beyond any listing"),
            })?;
        tracing::info!(
            page,
            part,
            "commit page over the body limit; reading it in parts"
        );
        let smaller = CommitQuery {
            per_page: part,
            ..query.clone()
        };
        let mut joined = CommitPage {
            commits: Vec::new(),
            next_page: None,
            stats_missing: false,
        };
        for part_page in (first..).take(parts as usize) {
            let piece = Box::pin(self.commits_page(project, &smaller, part_page)).await?;
            joined.stats_missing |= piece.stats_missing;
            let full = piece.commits.len() == part as usize;
            joined.commits.extend(piece.commits);
            if !full || piece.next_page.is_none() {
                return Ok(joined);
            }
        }
        joined.next_page = page.checked_add(1);
        Ok(joined)
    }

    async fn commits_page_whole(
        &self,
        project: &ProjectRef,
        query: &CommitQuery,
        page: u32,
    ) -> Result<CommitPage, GitLabError> {
        let url = |with_stats: bool| {
            let mut params = vec![
                (
                    "per_page",
                    query.per_page.clamp(1, MAX_PER_PAGE).to_string(),
                ),
                ("page", page.to_string()),
            ];
            if let Some(ref_name) = &query.ref_name {
                params.push(("ref_name", ref_name.clone()));
            }
            if query.first_parent {
                params.push(("first_parent", "true".into()));
            }
            if let Some(until) = query.until {
                params.push(("until", crate::kernel::time::utc(until)));
            }
            if query.trailers {
                params.push(("trailers", "true".into()));
            }
            if with_stats {
                params.push(("with_stats", "true".into()));
            }
            let id = project.segment();
            self.endpoint(&["projects", &id, "repository", "commits"], &params)
        };
        if query.with_stats {
            let policy = RetryPolicy {
                max_attempts: self.retry.stats_attempts,
                ..self.retry
            };
            match self.get_json::<Vec<Commit>>(url(true), policy).await {
                Ok(page) => {
                    return Ok(CommitPage {
                        commits: at_most(page.items, query.per_page.clamp(1, MAX_PER_PAGE))?,
                        next_page: page.next_page,
                        stats_missing: false,
                    });
                }
                Err(GitLabError::Transient {
                    status: Some(500..=599),
                    ..
                }) => {
                    self.counters
                        .stats_fallbacks
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        page,
                        "GitLab failed to compute commit stats; fetching the page without them"
                    );
                }
                Err(error) => return Err(error),
            }
        }
        let page = self.get_json::<Vec<Commit>>(url(false), self.retry).await?;
        Ok(CommitPage {
            commits: at_most(page.items, query.per_page.clamp(1, MAX_PER_PAGE))?,
            next_page: page.next_page,
            stats_missing: query.with_stats,
        })
    }

    /// Every page of a commit listing, in GitLab's order, one page at a time (never the whole history in memory).
    pub fn commits<'a>(
        &'a self,
        project: &'a ProjectRef,
        query: &'a CommitQuery,
    ) -> impl Stream<Item = Result<CommitPage, GitLabError>> + 'a {
        futures::stream::try_unfold(Some(1_u32), move |page| async move {
            let Some(page) = page else { return Ok(None) };
            let fetched = self.commits_page(project, query, page).await?;
            let next = next_page_after(page, fetched.next_page, fetched.commits.is_empty());
            Ok(Some((fetched, next)))
        })
    }

    /// Every page of an offset-paginated listing, following `X-Next-Page` (or `Link rel="next"`).
    fn paginate<T: DeserializeOwned>(
        &self,
        segments: Vec<String>,
        query: Vec<(&'static str, String)>,
    ) -> impl Stream<Item = Result<Vec<T>, GitLabError>> + '_ {
        futures::stream::try_unfold(Some(1_u32), move |page| {
            let segments = segments.clone();
            let mut query = query.clone();
            async move {
                let Some(page) = page else { return Ok(None) };
                query.push(("per_page", MAX_PER_PAGE.to_string()));
                query.push(("page", page.to_string()));
                let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
                let url = self.endpoint(&segments, &query);
                let mut fetched = self.get_json::<Vec<T>>(url, self.retry).await?;
                fetched.items = at_most(fetched.items, MAX_PER_PAGE)?;
                let next = next_page_after(page, fetched.next_page, fetched.items.is_empty());
                Ok(Some((fetched.items, next)))
            }
        })
        .try_filter(|items| futures::future::ready(!items.is_empty()))
    }

    /// `api_root` + path segments (each percent-encoded, so `group/project` and `feature/x` stay one segment).
    fn endpoint(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.address.api_root().clone();
        url.path_segments_mut()
            .expect("an http(s) URL has path segments")
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// GET and decode JSON, with the retry policy: transient faults back off and retry, 429s wait as GitLab asks
    /// (and pause every task on this token), everything else is classified and returned. No wait is longer than
    /// the policy allows or ends past the deadline.
    async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        policy: RetryPolicy,
    ) -> Result<Page<T>, GitLabError> {
        let mut transient_failures = 0_u32;
        let mut rate_limit_waits = 0_u32;
        loop {
            if self
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
            {
                return Err(deadline_passed());
            }
            if let Err(wait) = self.budget.acquire(self.deadline).await {
                return Err(GitLabError::RateLimited { retry_after: wait });
            }
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let attempt = self.attempt::<T>(&url, policy.max_rate_limit_wait);
            let outcome = match self.deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, attempt)
                    .await
                    .unwrap_or_else(|_| Err(Attempt::Final(deadline_passed()))),
                None => attempt.await,
            };
            let failure = match outcome {
                Ok(page) => return Ok(page),
                Err(failure) => failure,
            };
            match failure {
                Attempt::RateLimited(wait) => {
                    self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                    rate_limit_waits += 1;
                    if rate_limit_waits > policy.max_rate_limit_waits
                        || wait > policy.max_rate_limit_wait
                    {
                        return Err(GitLabError::RateLimited { retry_after: wait });
                    }
                    // Every task on this token waits, whether or not this one has the time to.
                    self.budget.pause_for(wait);
                    if !self.ends_before_deadline(wait) {
                        return Err(GitLabError::RateLimited { retry_after: wait });
                    }
                    tracing::info!(
                        wait_ms = wait.as_millis() as u64,
                        "GitLab rate limit reached; waiting"
                    );
                }
                Attempt::Transient { detail, status } => {
                    transient_failures += 1;
                    let delay = jittered(policy.base_delay, policy.max_delay, transient_failures);
                    if transient_failures >= policy.max_attempts
                        || !self.ends_before_deadline(delay)
                    {
                        return Err(GitLabError::Transient { detail, status });
                    }
                    tracing::debug!(
                        attempt = transient_failures,
                        delay_ms = delay.as_millis() as u64,
                        detail = %detail,
                        "transient GitLab failure; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                Attempt::Final(error) => return Err(error),
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether a wait of `wait` from now ends at or before the deadline (always, without one).
    fn ends_before_deadline(&self, wait: Duration) -> bool {
        self.deadline.is_none_or(|deadline| {
            Instant::now()
                .checked_add(wait)
                .is_some_and(|end| end <= deadline)
        })
    }

    /// One request; whatever the server wrote into a failure is cleared of the token.
    async fn attempt<T: DeserializeOwned>(
        &self,
        url: &Url,
        max_wait: Duration,
    ) -> Result<Page<T>, Attempt> {
        let secret = self.token.expose();
        self.attempt_once(url, max_wait)
            .await
            .map_err(|failure| match failure {
                Attempt::Final(error) => Attempt::Final(error.redacted(secret)),
                Attempt::Transient { detail, status } => {
                    match (GitLabError::Transient { detail, status }).redacted(secret) {
                        GitLabError::Transient { detail, status } => {
                            Attempt::Transient { detail, status }
                        }
                        other => Attempt::Final(other),
                    }
                }
                rate_limited @ Attempt::RateLimited(_) => rate_limited,
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
        let body = read_body(response, self.limits.max_body_bytes).await?;
        Ok(Page {
            items: decode(&body, secret)?,
            next_page,
        })
    }
}

/// A page holds at most what was asked for: more is not GitLab's pagination but a server filling our memory.
fn at_most<T>(items: Vec<T>, per_page: u32) -> Result<Vec<T>, GitLabError> {
    if items.len() > per_page as usize {
        return Err(GitLabError::InvalidResponse {
            detail: format!(
                "a page of {} entries where {per_page} were asked for",
                items.len()
            ),
        });
    }
    Ok(items)
}

fn deadline_passed() -> GitLabError {
    GitLabError::TimedOut {
        detail: "the caller's deadline passed".into(),
    }
}

/// The outcome of one failed attempt, before the retry policy decides.
pub(super) enum Attempt {
    RateLimited(Duration),
    Transient { detail: String, status: Option<u16> },
    Final(GitLabError),
}

/// The next page to ask for, or `None` to stop. A page that came back empty ends the listing; so does a server
/// that advertises a page at or before the current one (a loop) or beyond the ceiling.
fn next_page_after(current: u32, advertised: Option<u32>, empty: bool) -> Option<u32> {
    if empty {
        return None;
    }
    advertised.filter(|next| *next > current && *next <= MAX_PAGES)
}

/// `X-Next-Page` when not empty, or else the `page` of `Link rel="next"`. Only the number is used: the client
/// never follows a URL the server hands it, so a hostile `Link` cannot redirect the token elsewhere.
pub(super) fn next_page_header(headers: &HeaderMap) -> Option<u32> {
    if let Some(value) = headers
        .get("x-next-page")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
    {
        return value.trim().parse().ok();
    }
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.split(';').any(|p| p.trim() == r#"rel="next""#) {
            return None;
        }
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        let url = Url::parse(target).ok()?;
        url.query_pairs()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
    })
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
fn describe(error: &reqwest::Error) -> String {
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

/// The body, decompressed, as it streams in, refusing more than `limit` bytes: a `Content-Length` over the limit is
/// refused before reading, and a body that grows past it (a gzip bomb, a chunked flood) stops there.
async fn read_body(mut response: reqwest::Response, limit: u64) -> Result<Vec<u8>, Attempt> {
    let too_large = || Attempt::Final(GitLabError::ResponseTooLarge { limit });
    let announced = response.content_length();
    if announced.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(announced.map_or(0, |n| usize::try_from(n).unwrap_or(0)));
    while let Some(chunk) = response.chunk().await.map_err(|e| body_error(&e))? {
        if (body.len() as u64).saturating_add(chunk.len() as u64) > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A body that stopped coming in time is [`GitLabError::TimedOut`]; one cut short is transient (the next attempt
/// usually gets all of it).
fn body_error(error: &reqwest::Error) -> Attempt {
    let detail = describe(error);
    if error.is_timeout() {
        return Attempt::Final(GitLabError::TimedOut { detail });
    }
    Attempt::Transient {
        detail: format!("response body cut short: {detail}"),
        status: None,
    }
}

/// GitLab's API answers `application/json`. Anything else with a 200 (the HTML sign-in or maintenance page of a
/// proxy in front) is not an answer, and is not read; an answer without a type is left to the JSON parser.
fn check_json_content_type(headers: &HeaderMap, secret: &str) -> Result<(), Attempt> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let text = blank_secret(
        String::from_utf8_lossy(value.as_bytes()).into_owned(),
        secret,
    );
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        return Ok(());
    }
    Err(invalid(format!(
        "expected JSON, got content type {:?}",
        clip(&essence, secret)
    )))
}

/// UTF-8 JSON of the expected shape, or [`GitLabError::InvalidResponse`] saying what is wrong (never quoting more
/// than a few words of the body).
pub(super) fn decode<T: DeserializeOwned>(body: &[u8], secret: &str) -> Result<T, Attempt> {
    let text = std::str::from_utf8(body).map_err(|e| {
        invalid(format!(
            "the body is not valid UTF-8 (byte {})",
            e.valid_up_to()
        ))
    })?;
    serde_json::from_str(text).map_err(|e| {
        let position = format!("line {}, column {}", e.line(), e.column());
        invalid(match e.classify() {
            // serde's message says what was expected, with a few words of what came instead.
            serde_json::error::Category::Data => {
                format!("unexpected JSON: {}", clip(&e.to_string(), secret))
            }
            serde_json::error::Category::Eof => format!("JSON cut short ({position})"),
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                format!("invalid JSON ({position})")
            }
        })
    })
}

fn invalid(detail: String) -> Attempt {
    Attempt::Final(GitLabError::InvalidResponse { detail })
}

/// At most [`MAX_DETAIL_CHARS`] of a server's text, `secret` blanked out first: once cut, a token that straddled
/// the cut would no longer be found whole, and its first part would stay.
fn clip(text: &str, secret: &str) -> String {
    let text = blank_secret(text.to_owned(), secret);
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

async fn read_error_body(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_ERROR_BODY {
            body.truncate(MAX_ERROR_BODY);
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// GitLab's error bodies: `{"message": ".."}`, or OAuth-style `{"error": "..", "error_description": ".."}`.
pub(super) fn classify_status(status: StatusCode, body: &str, secret: &str) -> GitLabError {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let text = |key: &str| {
        json.get(key)
            .and_then(|v| v.as_str())
            .map(|text| clip(text, secret))
    };
    let message = text("message")
        .or_else(|| text("error_description"))
        .or_else(|| text("error"))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    match status {
        StatusCode::UNAUTHORIZED => GitLabError::Unauthorized { message },
        StatusCode::FORBIDDEN if text("error").as_deref() == Some("insufficient_scope") => {
            GitLabError::InsufficientScope {
                required: text("scope").unwrap_or_else(|| "api read_api".into()),
            }
        }
        StatusCode::FORBIDDEN => GitLabError::Forbidden { message },
        StatusCode::NOT_FOUND => GitLabError::NotFound { message },
        _ => GitLabError::Rejected {
            status: status.as_u16(),
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_page_comes_from_the_header_or_the_link() {
        let mut headers = HeaderMap::new();
        headers.insert("x-next-page", "3".parse().unwrap());
        assert_eq!(next_page_header(&headers), Some(3));
        headers.insert("x-next-page", "".parse().unwrap());
        assert_eq!(next_page_header(&headers), None);

        let mut linked = HeaderMap::new();
        linked.insert(
            "link",
            r#"<https://gitlab.example.com/api/v4/groups?page=1&per_page=100>; rel="prev", <https://gitlab.example.com/api/v4/groups?page=3&per_page=100>; rel="next", <https://gitlab.example.com/api/v4/groups?page=1&per_page=100>; rel="first""#
                .parse()
                .unwrap(),
        );
        assert_eq!(next_page_header(&linked), Some(3));
    }

    #[test]
    fn listings_stop_on_empty_pages_and_loops() {
        assert_eq!(next_page_after(1, Some(2), false), Some(2));
        assert_eq!(next_page_after(2, Some(3), true), None);
        assert_eq!(next_page_after(4, Some(4), false), None);
        assert_eq!(next_page_after(4, Some(1), false), None);
        assert_eq!(next_page_after(4, None, false), None);
    }

    #[test]
    fn classifies_gitlab_error_bodies() {
        let scope = classify_status(
            StatusCode::FORBIDDEN,
            r#"{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api read_api"}"#,
            "",
        );
        assert_eq!(
            scope,
            GitLabError::InsufficientScope {
                required: "api read_api".into()
            }
        );
        let expired = classify_status(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_token","error_description":"Token has expired."}"#,
            "",
        );
        assert_eq!(
            expired,
            GitLabError::Unauthorized {
                message: "Token has expired.".into()
            }
        );
        assert_eq!(
            classify_status(
                StatusCode::NOT_FOUND,
                r#"{"message":"404 Project Not Found"}"#,
                ""
            ),
            GitLabError::NotFound {
                message: "404 Project Not Found".into()
            }
        );
        assert_eq!(
            classify_status(StatusCode::BAD_REQUEST, "not json", ""),
            GitLabError::Rejected {
                status: 400,
                message: "Bad Request".into()
            }
        );
    }

    fn final_error(attempt: Attempt) -> GitLabError {
        match attempt {
            Attempt::Final(error) => error,
            Attempt::RateLimited(_) | Attempt::Transient { .. } => panic!("not a final error"),
        }
    }

    #[test]
    fn bodies_that_are_not_the_json_asked_for_are_invalid_responses() {
        let detail = |body: &[u8]| match final_error(decode::<Vec<Group>>(body, "").unwrap_err()) {
            GitLabError::InvalidResponse { detail } => detail,
            other => panic!("{other:?}"),
        };
        assert!(detail(b"[\"\xff\xfe\"]").contains("not valid UTF-8 (byte 2)"));
        assert!(detail(b"[{").starts_with("JSON cut short"));
        assert!(detail(b"<html>").starts_with("invalid JSON"));
        assert!(detail(b"{}").starts_with("unexpected JSON: invalid type: map"));
        let long = format!("[{{\"id\": \"{}\"}}]", "x".repeat(10_000));
        assert!(detail(long.as_bytes()).chars().count() < MAX_DETAIL_CHARS + 40);
        assert_eq!(decode::<Vec<Group>>(b" [] ", "").ok(), Some(vec![]));
    }

    #[test]
    fn only_json_content_types_are_read() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, value.parse().unwrap());
            check_json_content_type(&headers, "").map_err(final_error)
        };
        assert!(with("application/json").is_ok());
        assert!(with("Application/JSON; charset=utf-8").is_ok());
        assert!(with("application/problem+json").is_ok());
        assert!(check_json_content_type(&HeaderMap::new(), "").is_ok());
        assert_eq!(
            with("text/html; charset=utf-8").unwrap_err(),
            GitLabError::InvalidResponse {
                detail: r#"expected JSON, got content type "text/html""#.into()
            }
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_announced_or_not() {
        let announced = reqwest::Response::from(http::Response::new(vec![b' '; 11]));
        assert_eq!(announced.content_length(), Some(11));
        assert_eq!(
            final_error(read_body(announced, 10).await.unwrap_err()),
            GitLabError::ResponseTooLarge { limit: 10 }
        );
        // Streamed without a length: reading stops at the first chunk that crosses the limit.
        use futures::StreamExt as _;
        let pulled = Arc::new(AtomicU64::new(0));
        let counter = pulled.clone();
        let chunks = futures::stream::iter(0..1_000).map(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok::<_, std::io::Error>(vec![b' '; 4])
        });
        let streamed =
            reqwest::Response::from(http::Response::new(reqwest::Body::wrap_stream(chunks)));
        assert_eq!(streamed.content_length(), None);
        assert_eq!(
            final_error(read_body(streamed, 10).await.unwrap_err()),
            GitLabError::ResponseTooLarge { limit: 10 }
        );
        assert_eq!(
            pulled.load(Ordering::Relaxed),
            3,
            "three chunks of four bytes, no more"
        );
        let fits = reqwest::Response::from(http::Response::new(b"[]".to_vec()));
        assert_eq!(read_body(fits, 2).await.ok(), Some(b"[]".to_vec()));
    }
}
