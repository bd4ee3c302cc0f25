//! What the sync stores: one record per (connection, project, sha), and the project's sync state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::gitlab::Commit;
use crate::kernel::time::utc;

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
/// Built with [`CommitRecord::from_gitlab`], a record always fits in a DynamoDB item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRecord {
    pub project_key: String,
    pub sha: String,
    pub committed_at: String,
    pub short_id: String,
    pub parent_ids: Vec<String>,
    pub title: String,
    pub message: String,
    /// Fields stored cut, in the order they were cut: a message over [`MAX_MESSAGE_BYTES`], then whatever had to
    /// go to keep the item within [`MAX_ITEM_BYTES`] (trailers first; see `CommitRecord::fit`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated_fields: Vec<String>,
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

    /// The item's size as DynamoDB counts it, rounded up: each attribute's name plus its value (a string's UTF-8
    /// bytes; a number at most 21 bytes; a list or map 3 bytes, plus 1 per element and the elements, a map's keys
    /// counted like names). Attributes left out of the item count nothing.
    pub fn item_size(&self) -> usize {
        const NUMBER: usize = 21;
        let texts = [
            ("project_key", &self.project_key),
            ("sha", &self.sha),
            ("committed_at", &self.committed_at),
            ("short_id", &self.short_id),
            ("title", &self.title),
            ("message", &self.message),
            ("author_name", &self.author_name),
            ("author_email", &self.author_email),
            ("authored_date", &self.authored_date),
            ("committer_name", &self.committer_name),
            ("committer_email", &self.committer_email),
            ("committed_date", &self.committed_date),
            ("web_url", &self.web_url),
            ("project_path", &self.project_path),
            ("default_branch", &self.default_branch),
            ("imported_at", &self.imported_at),
        ];
        let numbers = [
            ("additions", self.additions),
            ("deletions", self.deletions),
            ("total_changes", self.total_changes),
        ];
        let mut size: usize = texts
            .iter()
            .map(|(name, value)| name.len() + value.len())
            .sum();
        size += numbers
            .iter()
            .filter(|(_, value)| value.is_some())
            .map(|(name, _)| name.len() + NUMBER)
            .sum::<usize>();
        size += "parent_ids".len() + list_size(&self.parent_ids);
        if !self.truncated_fields.is_empty() {
            size += "truncated_fields".len() + list_size(&self.truncated_fields);
        }
        if !self.trailers.is_empty() {
            size += "trailers".len() + 3;
            size += self.trailers.iter().map(trailer_size).sum::<usize>();
        }
        if !self.extended_trailers.is_empty() {
            size += "extended_trailers".len() + 3;
            size += self
                .extended_trailers
                .iter()
                .map(|(key, values)| 1 + key.len() + list_size(values))
                .sum::<usize>();
        }
        if self.stats_missing {
            size += "stats_missing".len() + 1;
        }
        if let Some(removed_at) = &self.removed_at {
            size += "removed_at".len() + removed_at.len();
        }
        size
    }

    /// Cuts fields in `CUT_ORDER`, each only as much as needed, until the item is within [`MAX_ITEM_BYTES`],
    /// and names each field cut in `truncated_fields`.
    fn fit(&mut self) {
        for (field, cut) in CUT_ORDER {
            if self.item_size() <= MAX_ITEM_BYTES {
                return;
            }
            let named = self.truncated_fields.iter().any(|f| f == field);
            if !named {
                self.truncated_fields.push(field.to_owned());
            }
            // Measured after naming the field, so that the name's own bytes are paid for.
            let excess = self.item_size().saturating_sub(MAX_ITEM_BYTES);
            if !cut(self, excess) && !named {
                self.truncated_fields.pop();
            }
        }
    }
}

/// DynamoDB refuses items over 400 KB; a record stays within this, leaving room for `removed_at` and for
/// rounding in AWS's own count.
pub const MAX_ITEM_BYTES: usize = 350 * 1024;

/// What cutting leaves at least of a text or of the parents: enough to recognise them, and so little that these
/// floors together stay far below [`MAX_ITEM_BYTES`], so the cuts always end with a record that fits.
const KEPT_BYTES: usize = 1024;

/// Cuts a field's value by at least `excess` bytes, or to its floor; `false` when nothing was cut.
type Cut = fn(&mut CommitRecord, usize) -> bool;

/// What is cut, in order, while a record is over [`MAX_ITEM_BYTES`], each field to [`KEPT_BYTES`] at the least:
/// the trailers first (GitLab parses them out of the message, so they repeat it; the list of every value before
/// the map of last values), then the free text, the identities and the link, the parents beyond what fits, and
/// the provenance. Keys, dates and stats are never cut: they are small and bounded (the importer
/// admits only commit ids).
const CUT_ORDER: [(&str, Cut); 13] = [
    ("extended_trailers", |r, excess| {
        cut_multimap(&mut r.extended_trailers, excess)
    }),
    ("trailers", |r, excess| cut_map(&mut r.trailers, excess)),
    ("message", |r, excess| cut_text(&mut r.message, excess)),
    ("title", |r, excess| cut_text(&mut r.title, excess)),
    ("short_id", |r, excess| cut_text(&mut r.short_id, excess)),
    ("author_name", |r, excess| {
        cut_text(&mut r.author_name, excess)
    }),
    ("author_email", |r, excess| {
        cut_text(&mut r.author_email, excess)
    }),
    ("committer_name", |r, excess| {
        cut_text(&mut r.committer_name, excess)
    }),
    ("committer_email", |r, excess| {
        cut_text(&mut r.committer_email, excess)
    }),
    ("web_url", |r, excess| cut_text(&mut r.web_url, excess)),
    ("parent_ids", |r, excess| {
        cut_list(&mut r.parent_ids, excess)
    }),
    ("project_path", |r, excess| {
        cut_text(&mut r.project_path, excess)
    }),
    ("default_branch", |r, excess| {
        cut_text(&mut r.default_branch, excess)
    }),
];

/// A list of strings as DynamoDB counts it, without its name.
fn list_size(values: &[String]) -> usize {
    3 + values.iter().map(|v| 1 + v.len()).sum::<usize>()
}

fn trailer_size((key, value): (&String, &String)) -> usize {
    1 + key.len() + value.len()
}

/// Keeps a prefix `excess` bytes shorter (but at least [`KEPT_BYTES`]), at a character boundary.
fn cut_text(text: &mut String, excess: usize) -> bool {
    let keep = text.len().saturating_sub(excess).max(KEPT_BYTES);
    if keep >= text.len() {
        return false;
    }
    let mut cut = keep;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    true
}

/// Drops the last values until `excess` bytes are gone, or until about [`KEPT_BYTES`] are left.
fn cut_list(values: &mut Vec<String>, excess: usize) -> bool {
    let mut size: usize = values.iter().map(|v| 1 + v.len()).sum();
    let keep = size.saturating_sub(excess).max(KEPT_BYTES);
    let before = values.len();
    while size > keep {
        let Some(value) = values.pop() else { break };
        size -= 1 + value.len();
    }
    values.len() < before
}

/// Drops the last entries (in key order) until `excess` bytes are gone, or until about [`KEPT_BYTES`] are left.
fn cut_map(map: &mut BTreeMap<String, String>, excess: usize) -> bool {
    let mut size: usize = map.iter().map(trailer_size).sum();
    let keep = size.saturating_sub(excess).max(KEPT_BYTES);
    let before = map.len();
    while size > keep {
        let Some((key, value)) = map.pop_last() else {
            break;
        };
        size -= trailer_size((&key, &value));
    }
    map.len() < before
}

/// Drops the last values of the last keys (a key goes with its last value) until `excess` bytes are gone, or
/// until about [`KEPT_BYTES`] are left.
fn cut_multimap(map: &mut BTreeMap<String, Vec<String>>, excess: usize) -> bool {
    let entry_size = |key: &String, values: &Vec<String>| 1 + key.len() + list_size(values);
    let mut size: usize = map.iter().map(|(k, v)| entry_size(k, v)).sum();
    let keep = size.saturating_sub(excess).max(KEPT_BYTES);
    let mut cut = false;
    while size > keep {
        let Some(mut last) = map.last_entry() else {
            break;
        };
        cut = true;
        if let Some(value) = last.get_mut().pop() {
            size -= 1 + value.len();
        }
        if last.get().is_empty() {
            size -= entry_size(last.key(), last.get());
            last.remove();
        }
    }
    cut
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
    /// A window failed (its check, or GitLab), so an anchor may be wrong: the next attempt plans the range again
    /// (the last window's base to `head`), keeping the done mark of every window that comes out the same.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replan: bool,
    /// The previous head was gone from the repository, so this job re-imports the whole branch and, once done,
    /// marks removed every live commit it did not write: the change stamp its writes are raised to (its start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_since: Option<String>,
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
            "truncated_fields",
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

    fn commit() -> Commit {
        let date = time::macros::datetime!(2024-05-06 07:08:09 +02:00);
        Commit {
            id: "a".repeat(40),
            short_id: "a".repeat(8),
            parent_ids: vec!["b".repeat(40)],
            title: "Fix the build".into(),
            message: "Fix the build\n\nCo-authored-by: B <b@example.com>\n".into(),
            author_name: "Ann".into(),
            author_email: "ann@example.com".into(),
            authored_date: date,
            committer_name: "Bob".into(),
            committer_email: "bob@example.com".into(),
            committed_date: date,
            trailers: BTreeMap::from([("Co-authored-by".into(), "B <b@example.com>".into())]),
            extended_trailers: BTreeMap::from([(
                "Co-authored-by".into(),
                vec!["B <b@example.com>".into()],
            )]),
            web_url: "https://gitlab.example.com/g/p/-/commit/aaaa".into(),
            stats: Some(crate::gitlab::CommitStats {
                additions: 10,
                deletions: 2,
                total: 12,
            }),
        }
    }

    fn record(commit: Commit) -> CommitRecord {
        let origin = ProjectOrigin {
            key: ProjectKey::new("conn-1", 42),
            path_with_namespace: "group/project".into(),
            default_branch: "main".into(),
        };
        let at = time::macros::datetime!(2024-06-01 00:00:00 UTC);
        CommitRecord::from_gitlab(commit, &origin, false, at)
    }

    /// AWS's documented count of an encoded item (a number as its digits, which is more than AWS counts): what
    /// [`CommitRecord::item_size`] must never undercount.
    fn encoded_size(record: &CommitRecord) -> usize {
        use serde_dynamo::AttributeValue as V;
        fn value(v: &V) -> usize {
            match v {
                V::S(text) | V::N(text) => text.len(),
                V::Bool(_) | V::Null(_) => 1,
                V::L(list) => 3 + list.iter().map(|v| 1 + value(v)).sum::<usize>(),
                V::M(map) => {
                    3 + map
                        .iter()
                        .map(|(k, v)| 1 + k.len() + value(v))
                        .sum::<usize>()
                }
                other => panic!("a commit record encodes no {other:?}"),
            }
        }
        let item: serde_dynamo::Item = serde_dynamo::to_item(record).unwrap();
        item.iter().map(|(name, v)| name.len() + value(v)).sum()
    }

    /// `count` trailer values of `bytes` bytes each, under distinct keys (`Key-0000`, ...).
    fn big_trailers(count: usize, bytes: usize) -> Vec<(String, String)> {
        (0..count)
            .map(|i| (format!("Key-{i:04}"), "x".repeat(bytes)))
            .collect()
    }

    #[test]
    fn the_size_counts_every_attribute_of_the_item() {
        let mut full = record(commit());
        full.stats_missing = true;
        full.removed_at = Some(utc(time::OffsetDateTime::UNIX_EPOCH));
        full.truncated_fields = vec!["message".into()];
        let mut bare = record(Commit {
            parent_ids: Vec::new(),
            trailers: BTreeMap::new(),
            extended_trailers: BTreeMap::new(),
            stats: None,
            ..commit()
        });
        bare.web_url.clear();
        for record in [full, bare] {
            let (estimate, encoded) = (record.item_size(), encoded_size(&record));
            // Never less; more only by the numbers' rounding (21 bytes each for at most 20 digits).
            assert!(
                estimate >= encoded && estimate - encoded <= 3 * 21,
                "{estimate} vs {encoded}"
            );
        }
    }

    #[test]
    fn three_hundred_kb_of_trailers_lose_the_repeated_list_first() {
        let trailers = big_trailers(30, 10 * 1024);
        let original = Commit {
            trailers: trailers.iter().cloned().collect(),
            extended_trailers: trailers
                .iter()
                .map(|(k, v)| (k.clone(), vec![v.clone()]))
                .collect(),
            ..commit()
        };
        let stored = record(original.clone());
        assert!(
            encoded_size(&stored) <= MAX_ITEM_BYTES,
            "{}",
            encoded_size(&stored)
        );
        assert_eq!(stored.truncated_fields, ["extended_trailers"]);
        // The map of last values, the message and the rest are whole; the list keeps its first keys.
        assert_eq!(stored.trailers, original.trailers);
        assert_eq!(stored.message, original.message);
        assert!(!stored.extended_trailers.is_empty());
        assert!(
            stored
                .extended_trailers
                .iter()
                .zip(&original.extended_trailers)
                .all(|(kept, original)| kept == original),
            "a prefix of the keys in order"
        );

        // One key repeated 10,000 times (co-authors): only the list is long, and it keeps its first values.
        let coauthors: Vec<String> = (0..10_000)
            .map(|i| format!("Co Author {i:05} <c{i:05}@example.com>"))
            .collect();
        let stored = record(Commit {
            extended_trailers: BTreeMap::from([("Co-authored-by".into(), coauthors.clone())]),
            ..commit()
        });
        assert!(encoded_size(&stored) <= MAX_ITEM_BYTES);
        assert_eq!(stored.truncated_fields, ["extended_trailers"]);
        let kept = &stored.extended_trailers["Co-authored-by"];
        assert!(!kept.is_empty() && kept.len() < coauthors.len());
        assert_eq!(kept[..], coauthors[..kept.len()]);
    }

    #[test]
    fn a_one_mb_message_is_stored_cut_at_64_kib() {
        let message = format!("Big\n\n{}", "é".repeat(512 * 1024));
        let stored = record(Commit {
            message: message.clone(),
            ..commit()
        });
        assert_eq!(stored.truncated_fields, ["message"]);
        assert!(stored.message.len() <= MAX_MESSAGE_BYTES);
        assert!(message.starts_with(&stored.message));
        assert_eq!(stored.title, commit().title);
        assert_eq!(stored.trailers, commit().trailers);
    }

    #[test]
    fn cuts_follow_the_order_and_stop_once_the_item_fits() {
        let trailers = big_trailers(20, 10 * 1024);
        let original = Commit {
            message: "m".repeat(1024 * 1024),
            title: "t".repeat(100 * 1024),
            author_name: "n".repeat(300 * 1024),
            web_url: "u".repeat(300 * 1024),
            trailers: trailers.iter().cloned().collect(),
            extended_trailers: trailers
                .iter()
                .map(|(k, v)| (k.clone(), vec![v.clone()]))
                .collect(),
            ..commit()
        };
        let stored = record(original.clone());
        assert!(encoded_size(&stored) <= MAX_ITEM_BYTES);
        // The message was over 64 KiB; then both trailer fields went, the message and the title down to their
        // floor, and the author's name, cut last, kept what fits.
        assert_eq!(
            stored.truncated_fields,
            [
                "message",
                "extended_trailers",
                "trailers",
                "title",
                "author_name"
            ]
        );
        assert!(stored.trailers.is_empty() && stored.extended_trailers.is_empty());
        assert_eq!(
            (stored.message.len(), stored.title.len()),
            (KEPT_BYTES, KEPT_BYTES)
        );
        let name = stored.author_name.len();
        assert!(name > 10 * 1024 && name < 300 * 1024, "{name}");
        // Everything after the last cut is whole, the later big field included.
        assert_eq!(stored.web_url, original.web_url);
        assert_eq!(stored.author_email, original.author_email);
        assert_eq!(stored.parent_ids, original.parent_ids);
    }

    #[test]
    fn many_parents_keep_the_first_that_fit_and_nothing_else_is_cut() {
        let parents: Vec<String> = (0..20_000).map(|i| format!("{i:040x}")).collect();
        let original = Commit {
            parent_ids: parents.clone(),
            ..commit()
        };
        let stored = record(original.clone());
        assert!(encoded_size(&stored) <= MAX_ITEM_BYTES);
        // The small trailers are under their floor: only the parents are cut.
        assert_eq!(stored.truncated_fields, ["parent_ids"]);
        assert!(stored.parent_ids.len() > 8_000 && stored.parent_ids.len() < parents.len());
        assert_eq!(stored.parent_ids[..], parents[..stored.parent_ids.len()]);
        assert_eq!(
            (
                &stored.message,
                &stored.title,
                &stored.author_email,
                &stored.trailers
            ),
            (
                &original.message,
                &original.title,
                &original.author_email,
                &original.trailers
            )
        );
    }
}
