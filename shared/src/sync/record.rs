//! The stored record of a commit GitLab listed: its fields, its provenance and when it was imported.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::gitlab::Commit;
use crate::kernel::commit_record::{CommitRecord, cap_message};
use crate::kernel::project_key::ProjectKey;
use crate::kernel::time::utc;

/// Where a project's commits come from, for the record's provenance fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectOrigin {
    pub key: ProjectKey,
    pub path_with_namespace: String,
    pub default_branch: String,
}

/// The record of `commit`, stored from `origin` at `imported_at`, cut to fit a DynamoDB item
/// ([`CommitRecord::fit`]). `stats_missing`: GitLab could not compute its page's stats.
pub fn from_gitlab(
    commit: Commit,
    origin: &ProjectOrigin,
    stats_missing: bool,
    imported_at: OffsetDateTime,
) -> CommitRecord {
    let stats = commit.stats;
    let (message, message_cut) = cap_message(commit.message);
    let mut record = CommitRecord {
        project_key: origin.key.partition(),
        committed_at: utc(commit.committed_date),
        authored_date: rfc3339(commit.authored_date),
        committed_date: rfc3339(commit.committed_date),
        sha: commit.id,
        short_id: commit.short_id,
        parent_ids: commit.parent_ids,
        title: commit.title,
        message,
        truncated_fields: if message_cut {
            vec!["message".to_owned()]
        } else {
            Vec::new()
        },
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
    };
    record.fit();
    record
}

/// RFC 3339 with the original offset.
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests;
