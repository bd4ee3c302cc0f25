//! The one way the importer talks to GitLab: typed operations over GitLab REST v4 (the token, groups, projects,
//! branches, merge bases, commits), page by page. How each request is sent, retried and read is [`super::transport`]'s.

use std::sync::Arc;

use futures::{Stream, TryStreamExt};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use url::Url;

use super::address::GitLabAddress;
use super::budget::RequestBudget;
use super::error::GitLabError;
use super::memory::{MemoryBudget, Reservation};
use super::model::{Branch, Commit, Group, Project, TokenInfo};
use super::transport::{ClientStats, Limits, RetryPolicy, Transport};
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

    /// The query string of page `page`, with or without stats.
    fn params(&self, page: u32, with_stats: bool) -> Vec<(&'static str, String)> {
        let mut params = vec![
            ("per_page", self.per_page.clamp(1, MAX_PER_PAGE).to_string()),
            ("page", page.to_string()),
        ];
        if let Some(ref_name) = &self.ref_name {
            params.push(("ref_name", ref_name.clone()));
        }
        if self.first_parent {
            params.push(("first_parent", "true".into()));
        }
        if let Some(until) = self.until {
            params.push(("until", crate::kernel::time::utc(until)));
        }
        if self.trailers {
            params.push(("trailers", "true".into()));
        }
        if with_stats {
            params.push(("with_stats", "true".into()));
        }
        params
    }
}

/// One page of commits.
#[derive(Debug)]
pub struct CommitPage {
    pub commits: Vec<Commit>,
    /// The next page number GitLab advertised, if any.
    pub next_page: Option<u32>,
    /// Stats were asked for but GitLab failed to compute them: the page was fetched without.
    pub stats_missing: bool,
    /// The page's share of the client's [`MemoryBudget`], given back when the page is dropped (or when whoever
    /// takes it drops it: a caller that keeps the commits after the page keeps this too).
    pub memory: Reservation,
}

/// One page of a listing (groups, projects), holding its share of the client's [`MemoryBudget`].
#[derive(Debug)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub memory: Reservation,
}

/// A GitLab API client for one token.
#[derive(Debug, Clone)]
pub struct GitLabClient {
    address: GitLabAddress,
    transport: Transport,
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
            address,
            transport: Transport::new(http, token, budget, retry),
        }
    }

    /// Other limits than [`Limits::default`].
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.transport.limits = limits;
        self
    }

    /// Answers held within `memory`, a budget shared with other clients, instead of one of this client's own.
    pub fn with_memory(mut self, memory: MemoryBudget) -> Self {
        self.transport.memory = memory;
        self
    }

    /// Nothing of this client runs past `deadline` (an invocation's end; `None`: no deadline): a request still
    /// running then fails with [`GitLabError::TimedOut`], a budget or 429 wait that would end later fails at once
    /// with [`GitLabError::RateLimited`], and a backoff that would end later returns the transient failure it
    /// follows.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.transport.deadline = deadline;
        self
    }

    pub fn address(&self) -> &GitLabAddress {
        &self.address
    }

    pub fn stats(&self) -> ClientStats {
        self.transport.counters.snapshot()
    }

    /// `GET /personal_access_tokens/self`: the token's scopes, state and expiry.
    pub async fn token_self(&self) -> Result<TokenInfo, GitLabError> {
        let url = self.endpoint(&["personal_access_tokens", "self"], &[]);
        Ok(self.transport.get_json(url, self.retry()).await?.items)
    }

    /// `GET /groups?min_access_level=20`, every page: the groups whose repositories the token can read.
    pub fn groups(&self) -> impl Stream<Item = Result<ListPage<Group>, GitLabError>> + '_ {
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
    ) -> impl Stream<Item = Result<ListPage<Project>, GitLabError>> + '_ {
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
    pub fn member_projects(
        &self,
    ) -> impl Stream<Item = Result<ListPage<Project>, GitLabError>> + '_ {
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
        Ok(self.transport.get_json(url, self.retry()).await?.items)
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
        Ok(self.transport.get_json(url, self.retry()).await?.items)
    }

    /// `GET /projects/:id`.
    pub async fn project(&self, project: &ProjectRef) -> Result<Project, GitLabError> {
        let url = self.endpoint(&["projects", &project.segment()], &[]);
        Ok(self.transport.get_json(url, self.retry()).await?.items)
    }

    /// `GET /projects/:id/repository/branches/:branch`.
    pub async fn branch(&self, project: &ProjectRef, branch: &str) -> Result<Branch, GitLabError> {
        let id = project.segment();
        let url = self.endpoint(&["projects", &id, "repository", "branches", branch], &[]);
        Ok(self.transport.get_json(url, self.retry()).await?.items)
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
        match self.transport.get_json::<Commit>(url, self.retry()).await {
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
            memory: Reservation::default(),
        };
        for part_page in (first..).take(parts as usize) {
            let piece = Box::pin(self.commits_page(project, &smaller, part_page)).await?;
            joined.stats_missing |= piece.stats_missing;
            let full = piece.commits.len() == part as usize;
            joined.commits.extend(piece.commits);
            joined.memory.merge(piece.memory);
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
        let per_page = query.per_page.clamp(1, MAX_PER_PAGE);
        let url = |with_stats: bool| {
            let id = project.segment();
            let params = query.params(page, with_stats);
            self.endpoint(&["projects", &id, "repository", "commits"], &params)
        };
        if query.with_stats {
            let policy = RetryPolicy {
                max_attempts: self.retry().stats_attempts,
                ..self.retry()
            };
            match self
                .transport
                .get_json::<Vec<Commit>>(url(true), policy)
                .await
            {
                Ok(page) => {
                    return Ok(CommitPage {
                        commits: at_most(page.items, per_page)?,
                        next_page: page.next_page,
                        stats_missing: false,
                        memory: page.memory,
                    });
                }
                Err(GitLabError::Transient {
                    status: Some(500..=599),
                    ..
                }) => {
                    self.transport.count_stats_fallback();
                    tracing::warn!(
                        page,
                        "GitLab failed to compute commit stats; fetching the page without them"
                    );
                }
                Err(error) => return Err(error),
            }
        }
        let page = self
            .transport
            .get_json::<Vec<Commit>>(url(false), self.retry())
            .await?;
        Ok(CommitPage {
            commits: at_most(page.items, per_page)?,
            next_page: page.next_page,
            stats_missing: query.with_stats,
            memory: page.memory,
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
    ) -> impl Stream<Item = Result<ListPage<T>, GitLabError>> + '_ {
        futures::stream::try_unfold(Some(1_u32), move |page| {
            let segments = segments.clone();
            let mut query = query.clone();
            async move {
                let Some(page) = page else { return Ok(None) };
                query.push(("per_page", MAX_PER_PAGE.to_string()));
                query.push(("page", page.to_string()));
                let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
                let url = self.endpoint(&segments, &query);
                let mut fetched = self.transport.get_json::<Vec<T>>(url, self.retry()).await?;
                fetched.items = at_most(fetched.items, MAX_PER_PAGE)?;
                let next = next_page_after(page, fetched.next_page, fetched.items.is_empty());
                let listed = ListPage {
                    items: fetched.items,
                    memory: fetched.memory,
                };
                Ok(Some((listed, next)))
            }
        })
        .try_filter(|page| futures::future::ready(!page.items.is_empty()))
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

    fn retry(&self) -> RetryPolicy {
        self.transport.retry
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

/// The next page to ask for, or `None` to stop. A page that came back empty ends the listing; so does a server
/// that advertises a page at or before the current one (a loop) or beyond the ceiling.
fn next_page_after(current: u32, advertised: Option<u32>, empty: bool) -> Option<u32> {
    if empty {
        return None;
    }
    advertised.filter(|next| *next > current && *next <= MAX_PAGES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_stop_on_empty_pages_and_loops() {
        assert_eq!(next_page_after(1, Some(2), false), Some(2));
        assert_eq!(next_page_after(2, Some(3), true), None);
        assert_eq!(next_page_after(4, Some(4), false), None);
        assert_eq!(next_page_after(4, Some(1), false), None);
        assert_eq!(next_page_after(4, None, false), None);
    }
}
