//! `/projects/:id/repository/*`: commits, branches and merge bases, answered by git.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::ApiError;
use super::auth::ApiUser;
use crate::gitlab_sim::entities::{self, CommitEntity};
use crate::gitlab_sim::git::Walk;
use crate::gitlab_sim::params::{Page, Params};
use crate::gitlab_sim::state::Shared;
use crate::gitlab_sim::world::access;

/// What a repository request needs from the world, copied out so no lock is held across git.
struct RepoTarget {
    repo: PathBuf,
    web_url: String,
    default_branch: String,
    access: u32,
}

impl Shared {
    /// The project's repository if this user may read code in it, else GitLab's error.
    fn repo_target(&self, user: u64, project: &str) -> Result<RepoTarget, ApiError> {
        let w = self.world();
        let (pid, access) = w
            .find_project(project)
            .and_then(|p| Some((p, w.project_access(user, p)?)))
            .ok_or_else(|| ApiError::not_found("Project"))?;
        let p = &w.projects[&pid];
        // Guests cannot read code of private projects, and nobody can with the feature off.
        if !p.repository_enabled || access < access::REPORTER {
            return Err(ApiError::Forbidden);
        }
        let repo = p
            .repo
            .clone()
            .filter(|r| r.exists())
            .ok_or_else(|| ApiError::not_found("Repository"))?;
        Ok(RepoTarget {
            repo,
            web_url: entities::project_web_url(&w, pid, &self.base_url),
            default_branch: p.default_branch.clone(),
            access,
        })
    }
}

/// GitLab's `ref_name` guard: no option-looking or whitespace/`:`/`\` refs reach git.
fn valid_ref_name(r: &str) -> bool {
    !r.starts_with('-')
        && !r
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ':' || c == '\\')
}

/// `git check-ref-format`'s rules, enough to keep a branch name from being read as a revision range.
fn valid_branch_name(b: &str) -> bool {
    !b.is_empty()
        && valid_ref_name(b)
        && !b.contains("..")
        && !b.contains("@{")
        && !b.chars().any(|c| "~^?*[".contains(c))
        && !b.ends_with(['/', '.'])
        && !b.ends_with(".lock")
}

/// `GET /projects/:id/repository/commits`: `git log --skip --max-count`, paged with `X-Next-Page`
/// only after a full page, and never with totals.
pub(super) async fn commits(
    State(st): State<Arc<Shared>>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    q: Params,
    uri: Uri,
) -> Result<Response, ApiError> {
    let target = st.repo_target(user, &id)?;
    let ref_name = q.text("ref_name");
    if ref_name.is_some_and(|r| !valid_ref_name(r)) {
        return Err(ApiError::invalid("ref_name"));
    }
    let topo = match q.text("order") {
        None | Some("default") => false,
        Some("topo") => true,
        Some(_) => return Err(ApiError::not_a_valid_value("order")),
    };
    let mut walk = Walk {
        revs: Vec::new(),
        first_parent: q.flag("first_parent")?,
        topo,
        since: q.time("since")?,
        until: q.time("until")?,
        path: q.text("path").map(str::to_owned),
        author: q.text("author").map(str::to_owned),
    };
    let with_stats = q.flag("with_stats")?;
    let with_trailers = q.flag("trailers")?;
    // `all=true` is documented as broken: every page is the same. Reproduce that.
    let all = q.flag("all")?;
    let page = Page::from_params(&q)?;

    let resolved = if all {
        Some(vec!["--all".to_owned()])
    } else {
        st.git
            .resolve(&target.repo, ref_name.unwrap_or(&target.default_branch))
            .await?
    };
    let commits = match resolved {
        // An unknown ref is an empty list, not a 404.
        None => Vec::new(),
        Some(revs) => {
            walk.revs = revs;
            let skip = if all { 0 } else { page.offset() };
            st.git
                .log_page(&target.repo, &walk, skip, page.per_page, with_stats)
                .await?
        }
    };
    let headers = page.headers(&st.base_url, &uri, commits.len() == page.per_page, None);
    let body: Vec<CommitEntity> = commits
        .into_iter()
        .map(|c| CommitEntity::new(c, &target.web_url, with_trailers))
        .collect();
    Ok((headers, Json(body)).into_response())
}

/// `GET /projects/:id/repository/branches/:branch`.
pub(super) async fn branch(
    State(st): State<Arc<Shared>>,
    ApiUser(user): ApiUser,
    Path((id, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let target = st.repo_target(user, &id)?;
    let head = if valid_branch_name(&name) {
        st.git.branch_head(&target.repo, &name).await?
    } else {
        None
    };
    let head = head.ok_or_else(|| ApiError::not_found("Branch"))?;
    let commit = CommitEntity::new(head, &target.web_url, false);
    let is_default = name == target.default_branch;
    Ok(Json(entities::branch(
        &name,
        &commit,
        is_default,
        target.access,
        &target.web_url,
    )))
}

/// `GET /projects/:id/repository/merge_base?refs[]=a&refs[]=b`.
pub(super) async fn merge_base(
    State(st): State<Arc<Shared>>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    q: Params,
) -> Result<Json<CommitEntity>, ApiError> {
    let target = st.repo_target(user, &id)?;
    let refs = q.all("refs[]");
    if refs.len() < 2 {
        return Err(ApiError::BadRequest("Provide at least 2 refs".to_owned()));
    }
    let mut shas = Vec::with_capacity(refs.len());
    for r in refs {
        let sha = if valid_ref_name(r) {
            st.git.commit_sha(&target.repo, r).await?
        } else {
            None
        };
        // GitLab's own answer for a ref the repository does not hold is a 400.
        shas.push(sha.ok_or_else(|| ApiError::BadRequest(format!("Could not find ref: {r}")))?);
    }
    let base = st
        .git
        .merge_base(&target.repo, &shas)
        .await?
        .ok_or_else(|| ApiError::not_found("Merge Base"))?;
    Ok(Json(CommitEntity::new(base, &target.web_url, false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_names_are_guarded_like_gitlab() {
        for bad in ["-all", "a b", "a:b", "a\\b", "x\ty"] {
            assert!(!valid_ref_name(bad), "{bad}");
        }
        for good in ["main", "a..b", "a...b", "feature/x", "v1.0"] {
            assert!(valid_ref_name(good), "{good}");
        }
        assert!(!valid_branch_name("a..b"));
        assert!(valid_branch_name("feature/x"));
    }
}
