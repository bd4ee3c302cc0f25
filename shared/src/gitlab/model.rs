//! GitLab's JSON entities, as far as the importer reads them. Field names are GitLab's own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `GET /personal_access_tokens/self` (personal, group, project and service-account tokens).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenInfo {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default = "default_true")]
    pub active: bool,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub user_id: Option<u64>,
    /// `YYYY-MM-DD`, or null for tokens that never expire.
    pub expires_at: Option<String>,
}

impl TokenInfo {
    /// True when the scopes allow reading the API (`read_api` or `api`).
    pub fn can_read_api(&self) -> bool {
        self.scopes.iter().any(|s| s == "read_api" || s == "api")
    }
}

/// The scopes that only read what the importer reads: the API and repositories (`read_user`, the token's own user,
/// is a part of what `read_api` reads). Every other scope is more than the importer needs: writing (`api`,
/// `write_repository`, `write_registry`, `create_runner`, `manage_runner`, `self_rotate`, ...), administration
/// (`sudo`, `admin_mode`), other services (`k8s_proxy`, `ai_features`, registries), and any scope GitLab adds later.
pub const READ_SCOPES: [&str; 3] = ["read_api", "read_repository", "read_user"];

/// The scopes of `scopes` beyond [`READ_SCOPES`], in their order, each once.
pub fn excess_scopes(scopes: &[String]) -> Vec<String> {
    let mut excess: Vec<String> = Vec::new();
    for scope in scopes {
        if !READ_SCOPES.contains(&scope.as_str()) && !excess.contains(scope) {
            excess.push(scope.clone());
        }
    }
    excess
}

fn default_true() -> bool {
    true
}

/// `GET /groups` entity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Group {
    pub id: u64,
    pub full_path: String,
    #[serde(default)]
    pub parent_id: Option<u64>,
    #[serde(default)]
    pub web_url: String,
}

/// Project entity (full or `simple=true`; the fields the simple form drops are optional).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Project {
    pub id: u64,
    pub path_with_namespace: String,
    /// Never null on GitLab, even for an empty repository: look at `empty_repo`.
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub empty_repo: Option<bool>,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub web_url: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_activity_at: Option<OffsetDateTime>,
}

/// `GET /projects/:id/repository/branches/:branch`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Branch {
    pub name: String,
    pub commit: BranchCommit,
    #[serde(default)]
    pub default: bool,
}

/// The head commit embedded in a branch: its sha and committer date are what sync planning needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BranchCommit {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub committed_date: OffsetDateTime,
}

/// One commit as `GET /projects/:id/repository/commits` returns it. Dates keep the commit's own UTC offset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Commit {
    pub id: String,
    pub short_id: String,
    pub parent_ids: Vec<String>,
    pub title: String,
    pub message: String,
    pub author_name: String,
    pub author_email: String,
    #[serde(with = "time::serde::rfc3339")]
    pub authored_date: OffsetDateTime,
    pub committer_name: String,
    pub committer_email: String,
    #[serde(with = "time::serde::rfc3339")]
    pub committed_date: OffsetDateTime,
    #[serde(default)]
    pub trailers: BTreeMap<String, String>,
    #[serde(default)]
    pub extended_trailers: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub web_url: String,
    /// Present when asked for with `with_stats=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<CommitStats>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct CommitStats {
    pub additions: u64,
    pub deletions: u64,
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_keeps_every_field_and_its_offset() {
        let json = r#"{
            "id": "6104942438c14ec7bd21c6cd5bd995272b3faff6",
            "short_id": "61049424",
            "created_at": "2021-09-20T11:50:22.000+03:00",
            "parent_ids": ["ae1d9fb46aa2b07ee9836d49862ec4e2c46fbbba"],
            "title": "Sanitize for network graph",
            "message": "Sanitize for network graph\n\nCo-authored-by: Ann <ann@example.com>\n",
            "author_name": "Jöhn Smïth",
            "author_email": "john@example.com",
            "authored_date": "2021-09-20T11:50:22.000+03:00",
            "committer_name": "Jane",
            "committer_email": "jane@example.com",
            "committed_date": "2021-09-20T08:50:22.000Z",
            "trailers": {"Co-authored-by": "Ann <ann@example.com>"},
            "extended_trailers": {"Co-authored-by": ["Ann <ann@example.com>"]},
            "web_url": "https://gitlab.example.com/g/p/-/commit/6104942438c14ec7bd21c6cd5bd995272b3faff6",
            "stats": {"additions": 15, "deletions": 10, "total": 25}
        }"#;
        let commit: Commit = serde_json::from_str(json).unwrap();
        assert_eq!(commit.authored_date.offset().whole_hours(), 3);
        assert_eq!(commit.committed_date, commit.authored_date);
        assert_eq!(commit.author_name, "Jöhn Smïth");
        assert_eq!(commit.extended_trailers["Co-authored-by"].len(), 1);
        assert_eq!(commit.stats.unwrap().total, 25);
        let round_trip: serde_json::Value = serde_json::to_value(&commit).unwrap();
        assert_eq!(round_trip["authored_date"], "2021-09-20T11:50:22+03:00");
    }

    #[test]
    fn token_scopes_decide_api_access() {
        let token: TokenInfo = serde_json::from_str(
            r#"{"id":1,"name":"t","revoked":false,"active":true,"scopes":["read_repository"],"user_id":2,"expires_at":null}"#,
        )
        .unwrap();
        assert!(!token.can_read_api());
    }

    #[test]
    fn scopes_beyond_reading_are_excess() {
        let scopes = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(excess_scopes(&scopes(&["read_api", "read_repository", "read_user"])).is_empty());
        assert_eq!(
            excess_scopes(&scopes(&[
                "api",
                "read_api",
                "sudo",
                "api",
                "some_future_scope"
            ])),
            scopes(&["api", "sudo", "some_future_scope"])
        );
        assert_eq!(
            excess_scopes(&scopes(&[
                "write_repository",
                "admin_mode",
                "read_registry"
            ])),
            scopes(&["write_repository", "admin_mode", "read_registry"])
        );
    }
}
