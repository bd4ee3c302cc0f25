//! What the sync stores: one record per (connection, project, sha), and the project's sync state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::gitlab::Commit;

/// Identifies one project of one connection; the commits table's partition key is `<connection>#<project>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectKey {
    pub connection_id: String,
    pub project_id: u64,
}

impl ProjectKey {
    pub fn new(connection_id: impl Into<String>, project_id: u64) -> Self {
        ProjectKey {
            connection_id: connection_id.into(),
            project_id,
        }
    }

    pub fn partition(&self) -> String {
        format!("{}#{}", self.connection_id, self.project_id)
    }
}

/// One imported commit, as stored. Every field GitLab returns, plus where it came from and when it was imported.
/// Dates keep the commit's own UTC offset; `committed_at` is the UTC form that the time-range index sorts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRecord {
    pub project_key: String,
    pub sha: String,
    pub committed_at: String,
    pub short_id: String,
    pub parent_ids: Vec<String>,
    pub title: String,
    pub message: String,
    /// The message was longer than [`MAX_MESSAGE_BYTES`] and is stored cut (DynamoDB items hold 400 KB at most).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub message_truncated: bool,
    pub author_name: String,
    pub author_email: String,
    pub authored_date: String,
    pub committer_name: String,
    pub committer_email: String,
    pub committed_date: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trailers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extended_trailers: BTreeMap<String, Vec<String>>,
    pub web_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additions: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletions: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_changes: Option<u64>,
    /// GitLab could not compute stats for this commit's page; a later re-import may fill them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stats_missing: bool,
    pub project_path: String,
    pub default_branch: String,
    pub imported_at: String,
    /// Set when the commit left the default branch (force-push, default branch changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<String>,
}

/// Where a project's commits come from, for the record's provenance fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectOrigin {
    pub key: ProjectKey,
    pub path_with_namespace: String,
    pub default_branch: String,
}

impl CommitRecord {
    pub fn from_gitlab(
        commit: Commit,
        origin: &ProjectOrigin,
        stats_missing: bool,
        imported_at: OffsetDateTime,
    ) -> Self {
        let stats = commit.stats;
        let (message, message_truncated) = cap_message(commit.message);
        CommitRecord {
            project_key: origin.key.partition(),
            committed_at: utc(commit.committed_date),
            authored_date: rfc3339(commit.authored_date),
            committed_date: rfc3339(commit.committed_date),
            sha: commit.id,
            short_id: commit.short_id,
            parent_ids: commit.parent_ids,
            title: commit.title,
            message,
            message_truncated,
            author_name: commit.author_name,
            author_email: commit.author_email,
            committer_name: commit.committer_name,
            committer_email: commit.committer_email,
            trailers: commit.trailers,
            extended_trailers: commit.extended_trailers,
            web_url: commit.web_url,
            additions: stats.map(|s| s.additions),
            deletions: stats.map(|s| s.deletions),
            total_changes: stats.map(|s| s.total),
            stats_missing: stats_missing || stats.is_none(),
            project_path: origin.path_with_namespace.clone(),
            default_branch: origin.default_branch.clone(),
            imported_at: utc(imported_at),
            removed_at: None,
        }
    }
}

/// The longest commit message stored whole; longer ones are cut at a character boundary and flagged.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

fn cap_message(mut message: String) -> (String, bool) {
    if message.len() <= MAX_MESSAGE_BYTES {
        return (message, false);
    }
    let mut cut = MAX_MESSAGE_BYTES;
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    message.truncate(cut);
    (message, true)
}

/// RFC 3339 with the original offset.
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// RFC 3339 in UTC, which sorts lexicographically in time order.
pub fn utc(at: OffsetDateTime) -> String {
    rfc3339(at.to_offset(time::UtcOffset::UTC))
}

/// A project's sync state, read before and written after each sync.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncState {
    /// The head whose whole history is imported.
    pub last_head: Option<String>,
    /// The default branch `last_head` belongs to.
    pub default_branch: Option<String>,
    /// An import in progress: a continuation (or a redelivered message) resumes it.
    pub job: Option<SyncJob>,
    /// GitLab refused this project's repository at the last attempt (`forbidden`, `not_found`); the next sync
    /// that reads it clears the mark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_error: Option<String>,
}

/// The checkpoint of a large import: its target, its windows, and which windows are fully written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub head: String,
    pub default_branch: String,
    /// Revision ranges that partition `last_head..head`.
    pub windows: Vec<String>,
    /// Indexes into `windows` whose every commit is written.
    pub done: Vec<usize>,
}

impl SyncJob {
    pub fn pending(&self) -> Vec<(usize, String)> {
        self.windows
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.done.contains(i))
            .map(|(i, w)| (i, w.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let (short, cut) = cap_message("fix".into());
        assert_eq!((short.as_str(), cut), ("fix", false));
        let long = "é".repeat(MAX_MESSAGE_BYTES); // two bytes each
        let (capped, cut) = cap_message(long);
        assert!(cut);
        assert!(capped.len() <= MAX_MESSAGE_BYTES);
        assert!(capped.chars().all(|c| c == 'é'));
    }

    #[test]
    fn items_leave_out_empty_trailers_and_false_flags_and_read_back_whole() {
        let date = time::macros::datetime!(2024-05-06 07:08:09 +02:00);
        let commit = Commit {
            id: "a".repeat(40),
            short_id: "a".repeat(8),
            parent_ids: vec![],
            title: "t".into(),
            message: "t\n".into(),
            author_name: "a".into(),
            author_email: "a@example.com".into(),
            authored_date: date,
            committer_name: "c".into(),
            committer_email: "c@example.com".into(),
            committed_date: date,
            trailers: BTreeMap::new(),
            extended_trailers: BTreeMap::new(),
            web_url: String::new(),
            stats: Some(crate::gitlab::CommitStats {
                additions: 1,
                deletions: 2,
                total: 3,
            }),
        };
        let origin = ProjectOrigin {
            key: ProjectKey::new("c", 1),
            path_with_namespace: "g/p".into(),
            default_branch: "main".into(),
        };
        let plain = CommitRecord::from_gitlab(commit.clone(), &origin, false, date);
        let item: serde_dynamo::Item = serde_dynamo::to_item(&plain).unwrap();
        for absent in [
            "trailers",
            "extended_trailers",
            "message_truncated",
            "stats_missing",
            "removed_at",
        ] {
            assert!(!item.contains_key(absent), "{absent} stored");
        }
        assert_eq!(
            serde_dynamo::from_item::<_, CommitRecord>(item).unwrap(),
            plain
        );

        let trailer = "Co-authored-by".to_owned();
        let coauthor = "B <b@example.com>".to_owned();
        let rich = CommitRecord::from_gitlab(
            Commit {
                trailers: BTreeMap::from([(trailer.clone(), coauthor.clone())]),
                extended_trailers: BTreeMap::from([(trailer, vec![coauthor])]),
                stats: None,
                ..commit
            },
            &origin,
            false,
            date,
        );
        let item: serde_dynamo::Item = serde_dynamo::to_item(&rich).unwrap();
        for present in ["trailers", "extended_trailers", "stats_missing"] {
            assert!(item.contains_key(present), "{present} missing");
        }
        assert_eq!(
            serde_dynamo::from_item::<_, CommitRecord>(item).unwrap(),
            rich
        );
    }

    #[test]
    fn utc_strings_sort_in_time_order() {
        let a = time::macros::datetime!(2021-09-20 11:50:22 +03:00);
        let b = time::macros::datetime!(2021-09-20 09:00:00 +00:00);
        assert!(utc(a) < utc(b), "{} {}", utc(a), utc(b));
    }
}
