//! Groups and projects: what a user can see, with GitLab's filters, order and offset pagination.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::ApiError;
use super::auth::ApiUser;
use crate::gitlab_sim::entities;
use crate::gitlab_sim::params::{Page, Params};
use crate::gitlab_sim::state::Shared;
use crate::gitlab_sim::world::{Namespace, World};

/// `GET /groups/:id` embeds this many projects; importers must not rely on it.
const EMBEDDED_PROJECTS: usize = 20;

/// Sorting as `order_by` + `sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderBy {
    Id,
    Name,
    Path,
    LastActivity,
}

fn order(
    q: &Params,
    default: (OrderBy, bool),
    allowed: &[(&str, OrderBy)],
) -> Result<(OrderBy, bool), ApiError> {
    let by = match q.text("order_by") {
        None => default.0,
        Some(v) => allowed
            .iter()
            .find(|(name, _)| *name == v)
            .map(|(_, o)| *o)
            .ok_or_else(|| ApiError::not_a_valid_value("order_by"))?,
    };
    let desc = match q.text("sort") {
        None => default.1,
        Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(ApiError::not_a_valid_value("sort")),
    };
    Ok((by, desc))
}

fn directed(o: Ordering, desc: bool) -> Ordering {
    if desc { o.reverse() } else { o }
}

fn matches_search(search: Option<&str>, fields: &[&str]) -> bool {
    search.is_none_or(|s| {
        fields
            .iter()
            .any(|f| f.to_lowercase().contains(&s.to_lowercase()))
    })
}

// ---- groups --------------------------------------------------------------------------------

/// `GET /groups`: groups with effective access plus their ancestors (or, with `min_access_level`,
/// only groups reached at that level).
pub(super) async fn list_groups(
    State(st): State<Arc<Shared>>,
    ApiUser(user): ApiUser,
    q: Params,
    uri: Uri,
) -> Result<Response, ApiError> {
    let min = q.uint("min_access_level")?;
    let top_level_only = q.flag("top_level_only")?;
    q.bool("all_available")?; // accepted; a non-admin sees the same either way
    let search = q.text("search");
    let (by, desc) = order(
        &q,
        (OrderBy::Name, false),
        &[
            ("name", OrderBy::Name),
            ("path", OrderBy::Path),
            ("id", OrderBy::Id),
        ],
    )?;
    let page = Page::from_params(&q)?;
    let w = st.world();
    let candidates: BTreeSet<u64> = match min {
        Some(level) => w
            .groups
            .keys()
            .copied()
            .filter(|g| {
                w.group_access(user, *g)
                    .is_some_and(|a| u64::from(a) >= level)
            })
            .collect(),
        None => w.listed_groups(user),
    };
    let mut ids: Vec<u64> = candidates
        .into_iter()
        .filter(|g| !top_level_only || w.groups[g].parent.is_none())
        .filter(|g| matches_search(search, &[&w.groups[g].path, &w.groups[g].name]))
        .collect();
    ids.sort_by(|a, b| {
        let (ga, gb) = (&w.groups[a], &w.groups[b]);
        let o = match by {
            OrderBy::Name => ga.name.cmp(&gb.name),
            OrderBy::Path => ga.path.cmp(&gb.path),
            OrderBy::Id | OrderBy::LastActivity => Ordering::Equal,
        };
        directed(o.then(a.cmp(b)), desc)
    });
    let (ids, headers) = page.cut(&ids, &st.base_url, &uri);
    let items: Vec<Value> = ids
        .iter()
        .map(|g| entities::group(&w, *g, &st.base_url))
        .collect();
    Ok((headers, Json(items)).into_response())
}

fn visible_group(w: &World, user: u64, key: &str) -> Result<u64, ApiError> {
    w.find_group(key)
        .filter(|g| w.group_visible(user, *g))
        .ok_or_else(|| ApiError::not_found("Group"))
}

/// `GET /groups/:id`, with the capped `projects` array GitLab embeds.
pub(super) async fn get_group(
    State(st): State<Arc<Shared>>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let w = st.world();
    let gid = visible_group(&w, user, &id)?;
    let mut v = entities::group(&w, gid, &st.base_url);
    let projects: Vec<Value> = w
        .projects
        .iter()
        .rev()
        .filter(|(pid, p)| {
            p.namespace == Namespace::Group(gid) && w.project_access(user, **pid).is_some()
        })
        .take(EMBEDDED_PROJECTS)
        .map(|(pid, _)| entities::project(&w, *pid, &st.base_url, false))
        .collect();
    v["projects"] = Value::Array(projects);
    v["shared_projects"] = Value::Array(Vec::new());
    Ok(Json(v))
}

// ---- projects ------------------------------------------------------------------------------

/// The filters `GET /projects` and `GET /groups/:id/projects` share.
struct ProjectFilter<'a> {
    archived: Option<bool>,
    min_access: Option<u64>,
    search: Option<&'a str>,
    simple: bool,
    by: OrderBy,
    desc: bool,
}

impl<'a> ProjectFilter<'a> {
    fn parse(q: &'a Params) -> Result<Self, ApiError> {
        let (by, desc) = order(
            q,
            (OrderBy::Id, true),
            &[
                ("id", OrderBy::Id),
                ("created_at", OrderBy::Id),
                ("name", OrderBy::Name),
                ("path", OrderBy::Path),
                ("last_activity_at", OrderBy::LastActivity),
                ("updated_at", OrderBy::LastActivity),
            ],
        )?;
        Ok(Self {
            archived: q.bool("archived")?,
            min_access: q.uint("min_access_level")?,
            search: q.text("search"),
            simple: q.flag("simple")?,
            by,
            desc,
        })
    }

    /// Keeps the projects the user reaches that pass the filters, in the requested order.
    fn apply(&self, w: &World, user: u64, ids: impl IntoIterator<Item = u64>) -> Vec<u64> {
        let mut kept: Vec<u64> = ids
            .into_iter()
            .filter(|id| {
                let p = &w.projects[id];
                w.project_access(user, *id)
                    .is_some_and(|a| self.min_access.is_none_or(|m| u64::from(a) >= m))
                    && self.archived.is_none_or(|a| a == p.archived)
                    && matches_search(self.search, &[&p.path, &p.name])
            })
            .collect();
        kept.sort_by(|a, b| {
            let (pa, pb) = (&w.projects[a], &w.projects[b]);
            let o = match self.by {
                OrderBy::Id => Ordering::Equal,
                OrderBy::Name => pa.name.cmp(&pb.name),
                OrderBy::Path => pa.path.cmp(&pb.path),
                OrderBy::LastActivity => pa.last_activity_at.cmp(&pb.last_activity_at),
            };
            directed(o.then(a.cmp(b)), self.desc)
        });
        kept
    }

    fn respond(&self, w: &World, ids: &[u64], page: Page, st: &Shared, uri: &Uri) -> Response {
        let (ids, headers) = page.cut(ids, &st.base_url, uri);
        let items: Vec<Value> = ids
            .iter()
            .map(|id| entities::project(w, *id, &st.base_url, self.simple))
            .collect();
        (headers, Json(items)).into_response()
    }
}

/// `GET /projects` (`membership=true` or not: everything here is private, so the same list).
pub(super) async fn list_projects(
    State(st): State<Arc<Shared>>,
    ApiUser(user): ApiUser,
    q: Params,
    uri: Uri,
) -> Result<Response, ApiError> {
    q.bool("membership")?;
    let filter = ProjectFilter::parse(&q)?;
    let page = Page::from_params(&q)?;
    let w = st.world();
    let ids = filter.apply(&w, user, w.projects.keys().copied());
    Ok(filter.respond(&w, &ids, page, &st, &uri))
}

/// `GET /groups/:id/projects`: the group's projects, its subgroups' with `include_subgroups`, and
/// projects shared into them unless `with_shared=false`.
pub(super) async fn group_projects(
    State(st): State<Arc<Shared>>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    q: Params,
    uri: Uri,
) -> Result<Response, ApiError> {
    let include_subgroups = q.flag("include_subgroups")?;
    let with_shared = q.bool("with_shared")?.unwrap_or(true);
    let filter = ProjectFilter::parse(&q)?;
    let page = Page::from_params(&q)?;
    let w = st.world();
    let gid = visible_group(&w, user, &id)?;
    let groups = if include_subgroups {
        w.group_descendants(gid)
    } else {
        BTreeSet::from([gid])
    };
    let mut found: BTreeSet<u64> = w
        .projects
        .iter()
        .filter(|(_, p)| matches!(p.namespace, Namespace::Group(g) if groups.contains(&g)))
        .map(|(id, _)| *id)
        .collect();
    if with_shared {
        for (pid, shares) in &w.shares {
            if shares.iter().any(|(g, _)| groups.contains(g)) {
                found.insert(*pid);
            }
        }
    }
    let ids = filter.apply(&w, user, found);
    Ok(filter.respond(&w, &ids, page, &st, &uri))
}

/// `GET /projects/:id` by numeric id or URL-encoded full path.
pub(super) async fn get_project(
    State(st): State<Arc<Shared>>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let w = st.world();
    let pid = w
        .find_project(&id)
        .filter(|p| w.project_access(user, *p).is_some())
        .ok_or_else(|| ApiError::not_found("Project"))?;
    Ok(Json(entities::project(&w, pid, &st.base_url, false)))
}
