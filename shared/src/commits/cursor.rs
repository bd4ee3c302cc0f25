//! The opaque cursor of `commits.list`: base64url (no padding) of where the last read stopped, together with
//! the query it belongs to (project, bounds, removed filter). A cursor of another query, or one altered, is the
//! caller's mistake and never reaches DynamoDB: DynamoDB refuses a start key outside the query's bounds with an
//! error of its own, which would be ours to answer.
//!
//! Not signed: the project read is always the request's own, so a hand-made cursor can only move the starting
//! point within what the caller may read anyway.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ports::{CommitRange, PageKey};
use crate::kernel::time::utc;

/// The layout's version, first in every cursor, so a later layout can tell an old cursor apart.
const VERSION: u8 = 1;

/// Longer than any cursor we make (a 64-character connection id, two bounds and a SHA-256 id come to about 350).
const MAX_CURSOR_CHARS: usize = 1024;

/// The cursor as serialised: version, partition, bounds, removed filter, then the position.
type Layout = (
    u8,
    String,
    Option<String>,
    Option<String>,
    bool,
    String,
    String,
);

pub fn encode(range: &CommitRange, key: &PageKey) -> String {
    let layout: Layout = (
        VERSION,
        range.project.partition(),
        range.from.clone(),
        range.to.clone(),
        range.include_removed,
        key.committed_at.clone(),
        key.sha.clone(),
    );
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&layout).unwrap_or_default())
}

/// Why a cursor is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorError {
    Malformed,
    OtherQuery,
}

impl CursorError {
    /// As the caller reads it, after the parameter's name.
    pub fn reason(self) -> &'static str {
        match self {
            CursorError::Malformed => "is not a cursor this API returned",
            CursorError::OtherQuery => {
                "belongs to another query; send the same project_id, since, until and include_removed with it"
            }
        }
    }
}

/// The position a cursor of `range` names.
pub fn decode(cursor: &str, range: &CommitRange) -> Result<PageKey, CursorError> {
    if cursor.len() > MAX_CURSOR_CHARS {
        return Err(CursorError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| CursorError::Malformed)?;
    let (version, partition, from, to, include_removed, committed_at, sha): Layout =
        serde_json::from_slice(&bytes).map_err(|_| CursorError::Malformed)?;
    if version != VERSION || !is_stored_time(&committed_at) || !is_commit_id(&sha) {
        return Err(CursorError::Malformed);
    }
    if (partition, from, to, include_removed)
        != (
            range.project.partition(),
            range.from.clone(),
            range.to.clone(),
            range.include_removed,
        )
    {
        return Err(CursorError::OtherQuery);
    }
    let within = range.from.as_ref().is_none_or(|from| &committed_at >= from)
        && range.to.as_ref().is_none_or(|to| &committed_at <= to);
    if !within {
        return Err(CursorError::Malformed);
    }
    Ok(PageKey { committed_at, sha })
}

/// `committed_at` as the sync stores it (our UTC RFC 3339), so it is a position in the index.
fn is_stored_time(value: &str) -> bool {
    OffsetDateTime::parse(value, &Rfc3339).is_ok_and(|at| utc(at) == value)
}

/// What the sync stores as `sha`: 40 or 64 lowercase hex digits.
fn is_commit_id(value: &str) -> bool {
    matches!(value.len(), 40 | 64)
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::project_key;

    fn range() -> CommitRange {
        CommitRange {
            project: project_key("acme", 7),
            from: Some("2024-01-01T00:00:00Z".to_owned()),
            to: Some("2024-12-31T23:59:59Z".to_owned()),
            include_removed: false,
        }
    }

    fn key() -> PageKey {
        PageKey {
            committed_at: "2024-06-01T12:00:00Z".to_owned(),
            sha: "a".repeat(40),
        }
    }

    #[test]
    fn a_cursor_reads_back_to_its_position_and_is_url_safe() {
        let cursor = encode(&range(), &key());
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{cursor}"
        );
        assert!(cursor.len() < MAX_CURSOR_CHARS);
        assert_eq!(decode(&cursor, &range()), Ok(key()));
    }

    #[test]
    fn a_cursor_of_another_query_is_refused() {
        let cursor = encode(&range(), &key());
        let others = [
            CommitRange {
                project: project_key("acme", 8),
                ..range()
            },
            CommitRange {
                project: project_key("other", 7),
                ..range()
            },
            CommitRange {
                from: None,
                ..range()
            },
            CommitRange {
                to: Some("2024-12-01T00:00:00Z".to_owned()),
                ..range()
            },
            CommitRange {
                include_removed: true,
                ..range()
            },
        ];
        for other in others {
            assert_eq!(
                decode(&cursor, &other),
                Err(CursorError::OtherQuery),
                "{other:?}"
            );
        }
    }

    #[test]
    fn anything_but_our_cursor_is_malformed() {
        let made = |layout: Layout| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&layout).unwrap());
        let layout = |committed_at: &str, sha: &str| -> Layout {
            let r = range();
            (
                VERSION,
                r.project.partition(),
                r.from,
                r.to,
                false,
                committed_at.to_owned(),
                sha.to_owned(),
            )
        };
        let mut wrong_version = layout("2024-06-01T12:00:00Z", &"a".repeat(40));
        wrong_version.0 = 2;
        let bad = [
            String::new(),
            "!!!".to_owned(),
            "x".repeat(MAX_CURSOR_CHARS + 1),
            URL_SAFE_NO_PAD.encode("[1,2,3]"),
            URL_SAFE_NO_PAD.encode("{\"a\":1}"),
            made(wrong_version),
            // Outside the query's bounds: DynamoDB would refuse it as a start key.
            made(layout("2025-01-01T00:00:00Z", &"a".repeat(40))),
            made(layout("2023-12-31T23:59:59Z", &"a".repeat(40))),
            // Not a stored time or a commit id.
            made(layout("2024-06-01T12:00:00+02:00", &"a".repeat(40))),
            made(layout("June", &"a".repeat(40))),
            made(layout("2024-06-01T12:00:00Z", "")),
            made(layout("2024-06-01T12:00:00Z", &"A".repeat(40))),
            made(layout("2024-06-01T12:00:00Z", &"a".repeat(41))),
        ];
        for cursor in bad {
            assert_eq!(
                decode(&cursor, &range()),
                Err(CursorError::Malformed),
                "{cursor}"
            );
        }
    }
}
