//! The dataset: one row per change of a commit (its columns are the contract with `sql/` and the Glue table), and
//! where each file of rows goes.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ports::ExportPosition;
use crate::kernel::commit_record::CommitRecord;
use crate::kernel::project_key::ProjectKey;

/// A commit as the commits table holds it, with the stamp of the write that last changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedCommit {
    pub record: CommitRecord,
    pub changed_at: String,
}

/// One row of the dataset. Timestamps are microseconds since the epoch, UTC; `None` is SQL's null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    pub connection_id: String,
    pub project_id: i64,
    pub project_path: String,
    pub default_branch: String,
    pub sha: String,
    pub short_id: String,
    /// Space-separated, in GitLab's order (first parent first).
    pub parent_ids: String,
    pub parent_count: i32,
    pub title: String,
    pub message: String,
    pub author_name: String,
    pub author_email: String,
    pub authored_at: Option<i64>,
    pub committer_name: String,
    pub committer_email: String,
    pub committed_at: i64,
    pub additions: Option<i64>,
    pub deletions: Option<i64>,
    pub total_changes: Option<i64>,
    /// The trailers (last value per key) as a JSON object.
    pub trailers: String,
    pub web_url: String,
    pub imported_at: Option<i64>,
    pub removed_at: Option<i64>,
    pub changed_at: i64,
    pub exported_at: i64,
}

/// A stored commit that cannot become a row: its commit or change time is not a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("commit {sha}: {field} is not an RFC 3339 timestamp")]
pub struct RowError {
    pub sha: String,
    pub field: &'static str,
}

/// The partition months Athena's projection covers (`template.yaml`): a commit dated outside (a broken clock)
/// is filed at the nearest end; its `committed_at` column keeps the truth.
const FIRST_MONTH: (i32, u8) = (1970, 1);
const LAST_MONTH: (i32, u8) = (2099, 12);

impl ExportRow {
    /// The row of one change, and its partition (`YYYY-MM` of the commit time, UTC).
    pub fn from_change(
        project: &ProjectKey,
        change: ChangedCommit,
        exported_at: i64,
    ) -> Result<(String, ExportRow), RowError> {
        let ChangedCommit { record, changed_at } = change;
        let required = |field: &'static str, value: &str| {
            parse(value).ok_or_else(|| RowError {
                sha: record.sha.clone(),
                field,
            })
        };
        let committed = required("committed_at", &record.committed_at)?;
        let changed_at = micros(required("changed_at", &changed_at)?);
        let month = month(committed);
        let optional = |value: Option<&str>| value.and_then(parse).map(micros);
        let trailers = serde_json::to_string(&record.trailers).unwrap_or_else(|_| "{}".into());
        let count = |n: Option<u64>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let row = ExportRow {
            connection_id: project.connection_id.to_string(),
            project_id: i64::try_from(project.project_id).unwrap_or(i64::MAX),
            authored_at: optional(Some(&record.authored_date)),
            imported_at: optional(Some(&record.imported_at)),
            removed_at: optional(record.removed_at.as_deref()),
            committed_at: micros(committed),
            changed_at,
            exported_at,
            parent_count: i32::try_from(record.parent_ids.len()).unwrap_or(i32::MAX),
            parent_ids: record.parent_ids.join(" "),
            additions: count(record.additions),
            deletions: count(record.deletions),
            total_changes: count(record.total_changes),
            trailers,
            project_path: record.project_path,
            default_branch: record.default_branch,
            sha: record.sha,
            short_id: record.short_id,
            title: record.title,
            message: record.message,
            author_name: record.author_name,
            author_email: record.author_email,
            committer_name: record.committer_name,
            committer_email: record.committer_email,
            web_url: record.web_url,
        };
        Ok((month, row))
    }

    /// What the row holds in memory, roughly: its text and a word per number.
    pub fn weight(&self) -> usize {
        let texts = [
            &self.connection_id,
            &self.project_path,
            &self.default_branch,
            &self.sha,
            &self.short_id,
            &self.parent_ids,
            &self.title,
            &self.message,
            &self.author_name,
            &self.author_email,
            &self.committer_name,
            &self.committer_email,
            &self.trailers,
            &self.web_url,
        ];
        texts.iter().map(|t| t.len()).sum::<usize>() + std::mem::size_of::<ExportRow>()
    }
}

/// Microseconds since the epoch (saturating: an `i64` holds ±292,000 years of them).
pub fn micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

pub(super) fn parse(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn month(at: OffsetDateTime) -> String {
    let at = crate::kernel::time::in_utc(at);
    let (year, month) = (at.year(), u8::from(at.month())).clamp(FIRST_MONTH, LAST_MONTH);
    format!("{year:04}-{month:02}")
}

/// A change stamp as a file name part: `2024-03-01T09:00:00.000000Z` -> `20240301T090000000000Z`.
fn compact(stamp: &str) -> String {
    stamp.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// The object name of the `n`th file of a project's window in one partition:
/// `<prefix>commits/commit_month=YYYY-MM/<connection>-<project>-<after>-<until>-<n>.parquet`, `<after>` being the
/// watermark's stamp and sha (`0` for none). Names depend only on the window, so a rerun of the same window
/// replaces its files instead of adding to them, and every turn of a project starts at a position of its own.
pub fn object_key(
    prefix: &str,
    month: &str,
    project: &ProjectKey,
    after: Option<&ExportPosition>,
    until: &str,
    n: usize,
) -> String {
    let after = after.map_or_else(
        || "0".to_owned(),
        |after| match &after.sha {
            Some(sha) => format!("{}_{sha}", compact(&after.changed_at)),
            None => compact(&after.changed_at),
        },
    );
    format!(
        "{prefix}commits/commit_month={month}/{}-{}-{after}-{}-{n}.parquet",
        project.connection_id,
        project.project_id,
        compact(until)
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::testing::project_key;

    /// A stored merge commit of project `c1#7`, dated 2024-02-29T23:30:00Z.
    pub(crate) fn record() -> CommitRecord {
        CommitRecord {
            project_key: "c1#7".into(),
            sha: "a".repeat(40),
            committed_at: "2024-02-29T23:30:00Z".into(),
            short_id: "aaaaaaaa".into(),
            parent_ids: vec!["b".repeat(40), "c".repeat(40)],
            title: "Merge".into(),
            message: "Merge\n\nSigned-off-by: Zoë <z@example.com>".into(),
            truncated_fields: Vec::new(),
            author_name: "Zoë".into(),
            author_email: "z@example.com".into(),
            authored_date: "2024-03-01T01:30:00+02:00".into(),
            committer_name: "Zoë".into(),
            committer_email: "z@example.com".into(),
            committed_date: "2024-03-01T01:30:00+02:00".into(),
            trailers: BTreeMap::from([("Signed-off-by".into(), "Zoë <z@example.com>".into())]),
            extended_trailers: BTreeMap::new(),
            web_url: "https://gitlab.example/c/-/commit/a".into(),
            additions: Some(3),
            deletions: None,
            total_changes: Some(3),
            stats_missing: false,
            project_path: "group/project".into(),
            default_branch: "main".into(),
            imported_at: "2024-03-02T00:00:00.5Z".into(),
            removed_at: None,
        }
    }

    #[test]
    fn a_change_becomes_a_typed_row_in_its_commit_months_partition() {
        let key = project_key("c1", 7);
        let change = ChangedCommit {
            record: record(),
            changed_at: "2024-03-02T00:00:00.500000Z".into(),
        };
        let (month, row) = ExportRow::from_change(&key, change, 42).unwrap();
        // The UTC month: 01:30 at +02:00 on March 1st is still February.
        assert_eq!(month, "2024-02");
        assert_eq!(row.committed_at, 1_709_249_400_000_000);
        assert_eq!(row.authored_at, Some(row.committed_at));
        assert_eq!(row.imported_at, Some(1_709_337_600_500_000));
        assert_eq!(row.changed_at, 1_709_337_600_500_000);
        assert_eq!(row.removed_at, None);
        assert_eq!(row.parent_count, 2);
        assert_eq!(
            row.parent_ids,
            format!("{} {}", "b".repeat(40), "c".repeat(40))
        );
        assert_eq!((row.additions, row.deletions), (Some(3), None));
        assert_eq!(row.trailers, r#"{"Signed-off-by":"Zoë <z@example.com>"}"#);
        assert_eq!((row.connection_id.as_str(), row.project_id), ("c1", 7));
        assert_eq!(row.exported_at, 42);
    }

    #[test]
    fn a_broken_date_is_an_error_or_a_null_never_a_panic() {
        let key = project_key("c1", 7);
        let mut broken = record();
        broken.committed_at = "yesterday".into();
        let change = ChangedCommit {
            record: broken,
            changed_at: "2024-03-02T00:00:00.000000Z".into(),
        };
        assert_eq!(
            ExportRow::from_change(&key, change, 0).unwrap_err().field,
            "committed_at"
        );
        let mut odd = record();
        odd.authored_date = "-".into();
        odd.committed_at = "2500-01-01T00:00:00Z".into();
        let change = ChangedCommit {
            record: odd,
            changed_at: "2024-03-02T00:00:00.000000Z".into(),
        };
        let (month, row) = ExportRow::from_change(&key, change, 0).unwrap();
        assert_eq!(month, "2099-12", "clamped into the projected range");
        assert_eq!(row.authored_at, None);
    }

    #[test]
    fn object_names_are_the_windows_own() {
        let key = project_key("c1", 7);
        let after = |sha: Option<&str>| ExportPosition {
            changed_at: "2024-03-01T00:00:00.000000Z".into(),
            sha: sha.map(str::to_owned),
        };
        let until = "2024-03-02T00:00:00.000000Z";
        let cases = [
            (
                "exports/",
                None,
                0,
                "exports/commits/commit_month=2024-02/c1-7-0-20240302T000000000000Z-0.parquet",
            ),
            (
                "",
                Some(after(None)),
                3,
                "commits/commit_month=2024-02/c1-7-20240301T000000000000Z-20240302T000000000000Z-3.parquet",
            ),
            (
                "",
                Some(after(Some("ab12"))),
                0,
                "commits/commit_month=2024-02/c1-7-20240301T000000000000Z_ab12-20240302T000000000000Z-0.parquet",
            ),
        ];
        for (prefix, after, n, expected) in cases {
            let name = object_key(prefix, "2024-02", &key, after.as_ref(), until, n);
            assert_eq!(name, expected);
        }
    }
}
