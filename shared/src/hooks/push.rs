//! A GitLab push event as a hook delivers it: only what the hook needs is read, every field bounded and checked.
//! The rest of the payload (the commits, the repository) is skipped unread, so its size costs nothing but the
//! parse.

use serde::Deserialize;

/// The largest body a hook reads. A push payload carries at most 20 commits with their file lists; a bigger body
/// is refused (413) and that push waits for the next tick.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The longest ref or branch name read (git's own limit for a ref is the file system's, 4 KB at most).
const MAX_REF_BYTES: usize = 1024;

/// What a hook needs of a push event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    /// GitLab's project id.
    pub project_id: u64,
    /// The pushed ref, `refs/heads/<branch>` for a branch.
    pub git_ref: String,
    /// The project's default branch as GitLab named it when it sent the hook.
    pub default_branch: String,
    /// The branch head before and after the push (40 zeros: the branch was created, or deleted).
    pub before: String,
    pub after: String,
    /// Commits the push added to the branch (the payload lists at most 20 of them).
    pub total_commits_count: u64,
}

/// What the event is, read from its `object_kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Push(PushEvent),
    /// Any other kind (a tag push, a merge request...), named for the reply.
    Other(String),
}

/// Why a body is not a usable event: the caller's fault, answered with a 4xx.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the body is not JSON: {0}")]
    Json(String),
    #[error("the push event's {0}")]
    Shape(&'static str),
}

#[derive(Deserialize)]
struct RawKind {
    object_kind: Option<String>,
}

#[derive(Deserialize)]
struct RawPush {
    project_id: Option<u64>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    before: Option<String>,
    after: Option<String>,
    total_commits_count: Option<u64>,
    project: Option<RawProject>,
}

#[derive(Deserialize)]
struct RawProject {
    id: Option<u64>,
    default_branch: Option<String>,
}

impl Event {
    /// Reads a hook's body: its kind, and for a push every field a push must have, with its shape checked.
    pub fn parse(body: &[u8]) -> Result<Event, PushError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(PushError::TooLarge);
        }
        let kind: RawKind =
            serde_json::from_slice(body).map_err(|e| PushError::Json(e.to_string()))?;
        let kind = kind
            .object_kind
            .ok_or(PushError::Shape("object_kind is missing"))?;
        if kind != "push" {
            // Named in the reply: kept short and printable.
            let name: String = kind
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(32)
                .collect();
            return Ok(Event::Other(name));
        }
        let raw: RawPush =
            serde_json::from_slice(body).map_err(|e| PushError::Json(e.to_string()))?;
        let project = raw.project.ok_or(PushError::Shape("project is missing"))?;
        let project_id = project
            .id
            .filter(|id| *id > 0)
            .ok_or(PushError::Shape("project.id is missing or not positive"))?;
        if raw.project_id.is_some_and(|id| id != project_id) {
            return Err(PushError::Shape("project_id differs from project.id"));
        }
        let git_ref = raw
            .git_ref
            .filter(|r| is_ref(r))
            .ok_or(PushError::Shape("ref is missing or not a ref"))?;
        let default_branch =
            project
                .default_branch
                .filter(|b| is_branch(b))
                .ok_or(PushError::Shape(
                    "project.default_branch is missing or not a branch name",
                ))?;
        let before = raw
            .before
            .filter(|s| is_sha(s))
            .ok_or(PushError::Shape("before is missing or not a commit sha"))?;
        let after = raw
            .after
            .filter(|s| is_sha(s))
            .ok_or(PushError::Shape("after is missing or not a commit sha"))?;
        let total_commits_count = raw
            .total_commits_count
            .ok_or(PushError::Shape("total_commits_count is missing"))?;
        Ok(Event::Push(PushEvent {
            project_id,
            git_ref,
            default_branch,
            before,
            after,
            total_commits_count,
        }))
    }
}

impl PushEvent {
    /// The push moved the project's default branch (as the payload names it).
    pub fn is_default_branch(&self) -> bool {
        self.git_ref
            .strip_prefix("refs/heads/")
            .is_some_and(|branch| branch == self.default_branch)
    }
}

/// 40 (SHA-1) or 64 (SHA-256) hex digits.
fn is_sha(value: &str) -> bool {
    matches!(value.len(), 40 | 64) && value.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_ref(value: &str) -> bool {
    value.starts_with("refs/") && is_branch(value)
}

/// Bounded, printable, no whitespace: enough to compare a ref with a branch name safely.
fn is_branch(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REF_BYTES
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn push() -> Value {
        json!({
            "object_kind": "push",
            "event_name": "push",
            "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
            "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            "ref": "refs/heads/main",
            "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            "project_id": 15,
            "project": {"id": 15, "default_branch": "main", "path_with_namespace": "acme/api"},
            "commits": [{"id": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "message": "x"}],
            "total_commits_count": 1
        })
    }

    fn parse(value: &Value) -> Result<Event, PushError> {
        Event::parse(value.to_string().as_bytes())
    }

    #[test]
    fn a_push_to_the_default_branch_is_read() {
        let Event::Push(event) = parse(&push()).unwrap() else {
            panic!("a push");
        };
        assert_eq!(event.project_id, 15);
        assert!(event.is_default_branch());
        assert_eq!(event.total_commits_count, 1);
        let mut other = push();
        other["ref"] = json!("refs/heads/feature/main");
        let Event::Push(event) = parse(&other).unwrap() else {
            panic!("a push");
        };
        assert!(!event.is_default_branch());
        other["ref"] = json!("refs/tags/main");
        let Event::Push(event) = parse(&other).unwrap() else {
            panic!("a push");
        };
        assert!(!event.is_default_branch());
    }

    #[test]
    fn other_kinds_are_named_not_read() {
        let event = parse(&json!({"object_kind": "tag_push", "ref": 5})).unwrap();
        assert_eq!(event, Event::Other("tag_push".into()));
        let event = parse(&json!({"object_kind": "merge request\n\u{0}x"})).unwrap();
        assert_eq!(event, Event::Other("mergerequestx".into()));
    }

    #[test]
    fn a_malformed_push_is_refused_field_by_field() {
        let cases: Vec<(&str, Value)> = vec![
            ("project", json!(null)),
            ("project", json!({"default_branch": "main"})),
            ("project", json!({"id": 0, "default_branch": "main"})),
            ("project", json!({"id": 15, "default_branch": ""})),
            ("project", json!({"id": 15, "default_branch": "a b"})),
            (
                "project",
                json!({"id": 15, "default_branch": "m".repeat(2000)}),
            ),
            ("project_id", json!(16)),
            ("project_id", json!(-1)),
            ("ref", json!("main")),
            ("ref", json!(null)),
            ("ref", json!(["refs/heads/main"])),
            ("before", json!("xyz")),
            ("after", json!("DA1560886d4f094c3e6c9ef40349f7d38b5d27d")),
            ("total_commits_count", json!(null)),
            ("total_commits_count", json!(-3)),
        ];
        for (field, value) in cases {
            let mut body = push();
            if value.is_null() {
                body.as_object_mut().unwrap().remove(field);
            } else {
                body[field] = value.clone();
            }
            assert!(parse(&body).is_err(), "{field} = {value}");
        }
        assert!(matches!(
            Event::parse(b"{\"object_kind\": \"push\""),
            Err(PushError::Json(_))
        ));
        assert!(matches!(Event::parse(b"[]"), Err(PushError::Json(_))));
        assert_eq!(
            Event::parse(b"{}"),
            Err(PushError::Shape("object_kind is missing"))
        );
        let huge = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(Event::parse(&huge), Err(PushError::TooLarge));
    }
}
