//! One imported commit as the commits table stores it, and the limits that keep it within a DynamoDB item.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One imported commit, as stored. Every field GitLab returns, plus where it came from and when it was imported.
/// Dates keep the commit's own UTC offset; `committed_at` is the UTC form that the time-range index sorts on.
/// The sync builds it from GitLab's commit (`sync::record::from_gitlab`) and cuts it with [`CommitRecord::fit`], so
/// a stored record always fits in a DynamoDB item.
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

impl CommitRecord {
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
    pub fn fit(&mut self) {
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
            if !cut.apply(self, excess) && !named {
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
pub const KEPT_BYTES: usize = 1024;

/// How a field is cut: a text by its accessor, anything else by its own cut. A cut shortens the value by at
/// least `excess` bytes, or to its floor, and says `false` when nothing was cut.
#[derive(Clone, Copy)]
enum Cut {
    Text(fn(&mut CommitRecord) -> &mut String),
    Other(fn(&mut CommitRecord, usize) -> bool),
}

impl Cut {
    fn apply(self, record: &mut CommitRecord, excess: usize) -> bool {
        match self {
            Cut::Text(field) => cut_text(field(record), excess),
            Cut::Other(cut) => cut(record, excess),
        }
    }
}

/// What is cut, in order, while a record is over [`MAX_ITEM_BYTES`], each field to [`KEPT_BYTES`] at the least:
/// the trailers first (GitLab parses them out of the message, so they repeat it; the list of every value before
/// the map of last values), then the free text, the identities and the link, the parents beyond what fits, and
/// the provenance. Keys, dates and stats are never cut: they are small and bounded (the importer
/// admits only commit ids).
const CUT_ORDER: [(&str, Cut); 13] = [
    (
        "extended_trailers",
        Cut::Other(|r, excess| cut_multimap(&mut r.extended_trailers, excess)),
    ),
    (
        "trailers",
        Cut::Other(|r, excess| cut_map(&mut r.trailers, excess)),
    ),
    ("message", Cut::Text(|r| &mut r.message)),
    ("title", Cut::Text(|r| &mut r.title)),
    ("short_id", Cut::Text(|r| &mut r.short_id)),
    ("author_name", Cut::Text(|r| &mut r.author_name)),
    ("author_email", Cut::Text(|r| &mut r.author_email)),
    ("committer_name", Cut::Text(|r| &mut r.committer_name)),
    ("committer_email", Cut::Text(|r| &mut r.committer_email)),
    ("web_url", Cut::Text(|r| &mut r.web_url)),
    (
        "parent_ids",
        Cut::Other(|r, excess| cut_list(&mut r.parent_ids, excess)),
    ),
    ("project_path", Cut::Text(|r| &mut r.project_path)),
    ("default_branch", Cut::Text(|r| &mut r.default_branch)),
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

/// The message as stored: whole, or cut at [`MAX_MESSAGE_BYTES`] (at a character boundary) and `true`.
pub fn cap_message(mut message: String) -> (String, bool) {
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
