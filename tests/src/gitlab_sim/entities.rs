//! GitLab's JSON shapes (the `API::Entities::*` classes), built from the world and from git.

use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

use super::git::RawCommit;
use super::world::{Namespace, TokenSpec, World};

const API_TIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
const HTTP_DATE: &[FormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// Rails' JSON timestamps: UTC with milliseconds, `2020-07-23T14:31:47.729Z`.
pub(crate) fn api_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(API_TIME)
        .unwrap_or_default()
}

pub(crate) fn http_date(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(HTTP_DATE)
        .unwrap_or_default()
}

/// Git's strict ISO date (`%aI`) as GitLab prints commit dates: `2021-09-20T11:50:22.000+03:00`,
/// keeping the commit's own offset (`+00:00`, where newer git prints `Z`).
pub(crate) fn commit_time(git_iso: &str) -> String {
    match (git_iso.get(..19), git_iso.get(19..)) {
        (Some(head), Some("Z")) => format!("{head}.000+00:00"),
        (Some(head), Some(offset)) if !offset.is_empty() => format!("{head}.000{offset}"),
        _ => git_iso.to_owned(),
    }
}

/// GitLab's `Commit#title`: the first line, cut to 80 characters plus `...` when 100 or longer.
pub(crate) fn commit_title(message: &str) -> String {
    if message.trim().is_empty() {
        return "No commit message".to_owned();
    }
    let full = message.split(['\r', '\n']).next().unwrap_or_default();
    let chars: Vec<char> = full.chars().collect();
    if chars.len() < 100 {
        return full.to_owned();
    }
    // Rails' `truncate(81, separator: ' ', omission: '...')`.
    let room = 81 - 3;
    let stop = chars[..=room]
        .iter()
        .rposition(|c| *c == ' ')
        .unwrap_or(room);
    let mut title: String = chars[..stop].iter().collect();
    title.push_str("...");
    title
}

#[derive(Debug, Serialize)]
pub(crate) struct Stats {
    pub additions: u64,
    pub deletions: u64,
    pub total: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct CommitEntity {
    pub id: String,
    pub short_id: String,
    pub created_at: String,
    pub parent_ids: Vec<String>,
    pub title: String,
    pub message: String,
    pub author_name: String,
    pub author_email: String,
    pub authored_date: String,
    pub committer_name: String,
    pub committer_email: String,
    pub committed_date: String,
    pub trailers: Map<String, Value>,
    pub extended_trailers: Map<String, Value>,
    pub web_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
}

impl CommitEntity {
    /// `project_url` is the project's web URL; trailers are only filled when asked for, as GitLab does.
    pub(crate) fn new(c: RawCommit, project_url: &str, with_trailers: bool) -> Self {
        let mut trailers = Map::new();
        let mut extended = Map::new();
        if with_trailers {
            for (key, value) in c.trailers {
                trailers.insert(key.clone(), Value::String(value.clone()));
                let all = extended
                    .entry(key)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(values) = all {
                    values.push(Value::String(value));
                }
            }
        }
        let committed = commit_time(&c.committer_date);
        Self {
            short_id: c.id.chars().take(8).collect(),
            web_url: format!("{project_url}/-/commit/{}", c.id),
            id: c.id,
            created_at: committed.clone(),
            parent_ids: c.parent_ids,
            title: commit_title(&c.message),
            message: c.message,
            author_name: c.author_name,
            author_email: c.author_email,
            authored_date: commit_time(&c.author_date),
            committer_name: c.committer_name,
            committer_email: c.committer_email,
            committed_date: committed,
            trailers,
            extended_trailers: extended,
            stats: c.stats.map(|(additions, deletions)| Stats {
                additions,
                deletions,
                total: additions + deletions,
            }),
        }
    }
}

pub(crate) fn token(id: u64, t: &TokenSpec, today: time::Date) -> Value {
    json!({
        "id": id,
        "name": t.name,
        "revoked": t.revoked,
        "created_at": api_time(t.created_at),
        "description": t.description,
        "scopes": t.scopes,
        "user_id": t.user_id,
        "last_used_at": t.last_used_at.map(api_time),
        "active": t.active && !t.revoked && !t.is_expired(today),
        "expires_at": t.expires_at.map(|d| d.to_string()),
    })
}

pub(crate) fn user(w: &World, id: u64, base: &str) -> Value {
    let u = &w.users[&id];
    json!({
        "id": id,
        "username": u.username,
        "name": u.name,
        "state": "active",
        "locked": false,
        "avatar_url": null,
        "web_url": format!("{base}{}", u.username),
        "created_at": "2020-01-01T00:00:00.000Z",
        "bio": "",
        "public_email": null,
        "bot": false,
    })
}

pub(crate) fn group(w: &World, id: u64, base: &str) -> Value {
    let g = &w.groups[&id];
    let full_path = w.group_full_path(id);
    json!({
        "id": id,
        "web_url": format!("{base}groups/{full_path}"),
        "name": g.name,
        "path": g.path,
        "description": g.description,
        "visibility": "private",
        "full_name": w.group_full_name(id),
        "full_path": full_path,
        "created_at": api_time(g.created_at),
        "parent_id": g.parent,
        "avatar_url": null,
    })
}

/// User namespaces live in the same id space as groups in GitLab; keep them clear of group ids.
const USER_NAMESPACE_ID_OFFSET: u64 = 1_000_000;

fn namespace(w: &World, ns: Namespace, base: &str) -> Value {
    match ns {
        Namespace::Group(g) => {
            let group = &w.groups[&g];
            let full_path = w.group_full_path(g);
            json!({
                "id": g, "name": group.name, "path": group.path, "kind": "group",
                "full_path": full_path, "parent_id": group.parent, "avatar_url": null,
                "web_url": format!("{base}groups/{full_path}"),
            })
        }
        Namespace::User(u) => {
            let user = w.users.get(&u);
            let username = user.map(|u| u.username.as_str()).unwrap_or_default();
            json!({
                "id": USER_NAMESPACE_ID_OFFSET + u, "name": user.map(|u| u.name.as_str()).unwrap_or_default(),
                "path": username, "kind": "user", "full_path": username, "parent_id": null,
                "avatar_url": null, "web_url": format!("{base}{username}"),
            })
        }
    }
}

pub(crate) fn project_web_url(w: &World, id: u64, base: &str) -> String {
    format!("{base}{}", w.project_full_path(id))
}

/// The project entity; `simple` is `simple=true`'s shape (no `archived`, `empty_repo`, `visibility`).
pub(crate) fn project(w: &World, id: u64, base: &str, simple: bool) -> Value {
    let p = &w.projects[&id];
    let path_with_namespace = w.project_full_path(id);
    let host = base
        .trim_start_matches("http://")
        .split([':', '/'])
        .next()
        .unwrap_or_default();
    let mut v = json!({
        "id": id,
        "description": p.description,
        "name": p.name,
        "name_with_namespace": format!("{} / {}", w.namespace_full_name(p.namespace), p.name),
        "path": p.path,
        "path_with_namespace": path_with_namespace,
        "created_at": api_time(p.created_at),
        "default_branch": p.default_branch,
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": format!("git@{host}:{path_with_namespace}.git"),
        "http_url_to_repo": format!("{base}{path_with_namespace}.git"),
        "web_url": format!("{base}{path_with_namespace}"),
        "readme_url": null,
        "forks_count": 0,
        "avatar_url": null,
        "star_count": 0,
        "last_activity_at": api_time(p.last_activity_at),
        "namespace": namespace(w, p.namespace, base),
    });
    if !simple && let Value::Object(fields) = &mut v {
        let empty = p
            .repo
            .as_deref()
            .is_none_or(|r| !super::git::has_branches(r));
        let level = if p.repository_enabled {
            "enabled"
        } else {
            "disabled"
        };
        fields.insert("visibility".into(), json!("private"));
        fields.insert("archived".into(), json!(p.archived));
        fields.insert("empty_repo".into(), json!(empty));
        fields.insert("repository_access_level".into(), json!(level));
        fields.insert("issues_enabled".into(), json!(true));
        fields.insert("merge_requests_enabled".into(), json!(p.repository_enabled));
    }
    v
}

/// `GET /projects/:id/repository/branches/:branch`.
pub(crate) fn branch(
    name: &str,
    commit: &CommitEntity,
    is_default: bool,
    access: u32,
    project_url: &str,
) -> Value {
    // GitLab protects the default branch by default: only maintainers push to it.
    let can_push = access >= super::world::access::MAINTAINER
        || (!is_default && access >= super::world::access::DEVELOPER);
    json!({
        "name": name,
        "commit": commit,
        "merged": false,
        "protected": is_default,
        "default": is_default,
        "developers_can_push": false,
        "developers_can_merge": false,
        "can_push": can_push,
        "web_url": format!("{project_url}/-/tree/{name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_dates_keep_their_offset() {
        assert_eq!(
            commit_time("2021-09-20T11:50:22+03:00"),
            "2021-09-20T11:50:22.000+03:00"
        );
        assert_eq!(
            commit_time("2021-09-20T11:50:22Z"),
            "2021-09-20T11:50:22.000+00:00"
        );
    }

    #[test]
    fn long_titles_are_cut_like_rails() {
        assert_eq!(commit_title("Fix it\n\nbody"), "Fix it");
        assert_eq!(commit_title("  \n"), "No commit message");
        let long = "word ".repeat(30);
        let t = commit_title(&long);
        assert!(t.ends_with("...") && t.chars().count() <= 81, "{t}");
    }
}
