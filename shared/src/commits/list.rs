//! `commits.list`: one page of a project's imported commits, newest first, in a window of commit time.
//!
//! The window is `since` (inclusive) to `until` (exclusive). Commits that left the default branch are left out
//! unless asked for; that filter applies after the store has read its items, so one read may return a short page:
//! reads go on until the page is full, the range is exhausted, or [`MAX_READS`] reads were made. A page may then be
//! short (even empty) while `next_cursor` is still set; only a missing `next_cursor` ends the listing.
//!
//! A page also ends before its reply would reach [`MAX_REPLY_BYTES`] (Lambda refuses a response over 6 MB): each
//! commit is measured as the reply carries it, JSON escaping included, so five 1 MB reads of messages full of
//! control characters (six bytes of JSON each) still make a page Lambda can return. One commit always fits: an
//! item is at most 400 KB, which escapes to at most 2.8 MB.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::cursor::{self, CursorError};
use super::ports::{CommitRange, CommitReader, PageKey};
use crate::kernel::commit_record::CommitRecord;
use crate::kernel::ids::ConnectionId;
use crate::kernel::project_key::ProjectKey;
use crate::kernel::store::StoreError;

/// Commits per page when the caller names no `limit`.
pub const DEFAULT_LIMIT: usize = 50;
/// The most commits one page holds.
pub const MAX_LIMIT: usize = 100;
/// Store reads for one page. Each evaluates at most `limit` items, so a page costs at most this many times
/// `limit` items read, however many commits left the branch.
pub const MAX_READS: u32 = 5;

/// A page's reply stays under this many bytes, as the function returns it: the JSON body inside the response's
/// own JSON, where it is a string and escaped once more (each `\u0001` of a message is seven bytes there).
pub const MAX_REPLY_BYTES: usize = 5_000_000;
/// What the reply's frame may take besides its commits: `{"ok":true,"commits":[],"next_cursor":"..."}` and the
/// cursor, well under this.
const FRAME_BYTES: usize = 8 * 1024;

/// One `commits.list` call, its parameters read and typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub project_id: u64,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    /// 1..=[`MAX_LIMIT`].
    pub limit: usize,
    pub cursor: Option<String>,
    pub include_removed: bool,
}

/// One page, and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPage {
    pub commits: Vec<CommitRecord>,
    /// Where the next page starts; `None` at the end.
    pub next_cursor: Option<String>,
    pub reads: u32,
    /// Items the store evaluated (`ScannedCount` summed).
    pub scanned: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The caller's: a parameter's value cannot be served.
    #[error("{parameter} {reason}")]
    InvalidParameter {
        parameter: &'static str,
        reason: &'static str,
    },
    /// Ours: the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CursorError> for ListError {
    fn from(error: CursorError) -> Self {
        ListError::InvalidParameter {
            parameter: "cursor",
            reason: error.reason(),
        }
    }
}

/// The `commits.list` use case over a [`CommitReader`].
#[derive(Debug)]
pub struct CommitLog<R> {
    pub reader: R,
}

impl<R: CommitReader> CommitLog<R> {
    pub fn new(reader: R) -> Self {
        CommitLog { reader }
    }

    /// One page of `request`'s commits in `connection` (whose existence the caller has checked).
    pub async fn list(
        &self,
        connection: &ConnectionId,
        request: ListRequest,
    ) -> Result<CommitPage, ListError> {
        if !(1..=MAX_LIMIT).contains(&request.limit) {
            return Err(ListError::InvalidParameter {
                parameter: "limit",
                reason: "must be an integer from 1 to 100",
            });
        }
        let project = ProjectKey::new(connection.clone(), request.project_id);
        let Some((from, to)) = window(request.since, request.until)? else {
            return Ok(CommitPage {
                commits: Vec::new(),
                next_cursor: None,
                reads: 0,
                scanned: 0,
            });
        };
        let range = CommitRange {
            project,
            from,
            to,
            include_removed: request.include_removed,
        };
        let mut start = match &request.cursor {
            Some(text) => Some(cursor::decode(text, &range)?),
            None => None,
        };
        let limit = request.limit;
        let mut page = CommitPage {
            commits: Vec::with_capacity(limit),
            next_cursor: None,
            reads: 0,
            scanned: 0,
        };
        let mut reply_bytes = FRAME_BYTES;
        'reads: loop {
            let wanted = limit - page.commits.len();
            let read = self.reader.read(&range, start.as_ref(), wanted).await?;
            page.reads += 1;
            page.scanned += read.scanned;
            start = read.last_key;
            for commit in read.commits {
                let size = reply_size(&commit);
                if !page.commits.is_empty() && reply_bytes.saturating_add(size) >= MAX_REPLY_BYTES {
                    // The reply is full: the next page starts after its last commit.
                    start = page.commits.last().map(PageKey::of);
                    break 'reads;
                }
                reply_bytes = reply_bytes.saturating_add(size);
                page.commits.push(commit);
            }
            if page.commits.len() >= limit || start.is_none() || page.reads >= MAX_READS {
                break;
            }
        }
        // A store that answered more than asked: the page ends at its last commit, and the rest comes next.
        if page.commits.len() > limit {
            page.commits.truncate(limit);
            start = page.commits.last().map(PageKey::of);
        }
        page.next_cursor = start.map(|key| cursor::encode(&range, &key));
        Ok(page)
    }
}

/// The bytes a commit adds to a page's reply as the function returns it: its JSON (the stored record, a little
/// more than the caller's view of it), escaped again as part of the body string, and a separating comma.
fn reply_size(commit: &CommitRecord) -> usize {
    let json = serde_json::to_string(commit).unwrap_or_default();
    let in_body = serde_json::to_string(&json).map_or(usize::MAX, |text| text.len());
    in_body.saturating_add(1)
}

/// `since` (inclusive) and `until` (exclusive) as inclusive bounds on the stored whole-second `committed_at`;
/// `None` when no commit time can fall in between.
#[allow(clippy::type_complexity)]
fn window(
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
) -> Result<Option<(Option<String>, Option<String>)>, ListError> {
    let in_utc = |at: OffsetDateTime, parameter| {
        at.checked_to_offset(UtcOffset::UTC)
            .ok_or(ListError::InvalidParameter {
                parameter,
                reason: "is out of range",
            })
    };
    let since = since.map(|at| in_utc(at, "since")).transpose()?;
    let until = until.map(|at| in_utc(at, "until")).transpose()?;
    if let (Some(since), Some(until)) = (since, until)
        && since >= until
    {
        return Err(ListError::InvalidParameter {
            parameter: "until",
            reason: "must be later than since",
        });
    }
    // The first whole second at or after `since`, the last one before `until`; none past the calendar's ends.
    let from = match since {
        Some(at) if at.nanosecond() == 0 => Some(at),
        Some(at) => match at
            .replace_nanosecond(0)
            .ok()
            .and_then(|at| at.checked_add(Duration::SECOND))
        {
            Some(at) => Some(at),
            None => return Ok(None),
        },
        None => None,
    };
    let to = match until {
        Some(at) if at.nanosecond() == 0 => match at.checked_sub(Duration::SECOND) {
            Some(at) => Some(at),
            None => return Ok(None),
        },
        Some(at) => at.replace_nanosecond(0).ok(),
        None => None,
    };
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Ok(None);
    }
    let key = |at: Option<OffsetDateTime>| at.and_then(|at| at.format(&Rfc3339).ok());
    match (key(from), key(to)) {
        (from_key, to_key)
            if from_key.is_some() == from.is_some() && to_key.is_some() == to.is_some() =>
        {
            Ok(Some((from_key, to_key)))
        }
        // A bound the stored format cannot write (a year beyond 9999, or before year 0): nothing lies there.
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::macros::datetime;

    use super::*;
    use crate::sync::CommitStore;
    use crate::testing::faults::{Fault, FaultPlan, Faulty};
    use crate::testing::{MemoryCommitStore, project_key};

    fn connection() -> ConnectionId {
        ConnectionId::parse("acme").unwrap()
    }

    /// A log of no commits whose reads `plan` counts (and fails, if it says so).
    fn counted(plan: &Arc<FaultPlan>) -> CommitLog<Faulty<MemoryCommitStore>> {
        CommitLog::new(Faulty::new(MemoryCommitStore::default(), plan))
    }

    fn request() -> ListRequest {
        ListRequest {
            project_id: 7,
            since: None,
            until: None,
            limit: DEFAULT_LIMIT,
            cursor: None,
            include_removed: false,
        }
    }

    /// A commit of project 7 at `second` seconds into 2024; shas sort in commit order.
    fn commit(second: i64) -> CommitRecord {
        let at = datetime!(2024-01-01 00:00:00 UTC) + Duration::seconds(second);
        CommitRecord {
            project_key: "acme#7".to_owned(),
            sha: format!("{second:040x}"),
            committed_at: at.format(&Rfc3339).unwrap(),
            short_id: String::new(),
            parent_ids: Vec::new(),
            title: String::new(),
            message: String::new(),
            truncated_fields: Vec::new(),
            author_name: String::new(),
            author_email: String::new(),
            authored_date: String::new(),
            committer_name: String::new(),
            committer_email: String::new(),
            committed_date: String::new(),
            trailers: Default::default(),
            extended_trailers: Default::default(),
            web_url: String::new(),
            additions: None,
            deletions: None,
            total_changes: None,
            stats_missing: false,
            project_path: "acme/app".to_owned(),
            default_branch: "main".to_owned(),
            imported_at: String::new(),
            removed_at: None,
        }
    }

    /// `n` commits, one a second; those whose second `removed` says are marked removed.
    async fn store(n: i64, removed: impl Fn(i64) -> bool) -> MemoryCommitStore {
        let store = MemoryCommitStore::default();
        store.put((0..n).map(commit).collect()).await.unwrap();
        let gone = (0..n)
            .filter(|s| removed(*s))
            .map(|s| commit(s).sha)
            .collect();
        store
            .mark_removed(
                &project_key("acme", 7),
                gone,
                datetime!(2025-01-01 0:00 UTC),
            )
            .await
            .unwrap();
        store
    }

    async fn walk(log: &CommitLog<MemoryCommitStore>, request: ListRequest) -> Vec<Vec<i64>> {
        let mut pages = Vec::new();
        let mut cursor = None;
        for _ in 0..1000 {
            let page = log
                .list(
                    &connection(),
                    ListRequest {
                        cursor: cursor.clone(),
                        ..request.clone()
                    },
                )
                .await
                .unwrap();
            pages.push(
                page.commits
                    .iter()
                    .map(|c| i64::from_str_radix(&c.sha, 16).unwrap())
                    .collect(),
            );
            cursor = page.next_cursor;
            if cursor.is_none() {
                return pages;
            }
        }
        panic!("the listing never ended");
    }

    #[tokio::test]
    async fn pages_walk_the_history_newest_first_without_gaps_or_repeats() {
        let log = CommitLog::new(store(23, |_| false).await);
        let pages = walk(
            &log,
            ListRequest {
                limit: 10,
                ..request()
            },
        )
        .await;
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 3]);
        let all: Vec<i64> = pages.concat();
        assert_eq!(all, (0..23).rev().collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn removed_commits_are_left_out_unless_asked_for_and_pages_still_fill() {
        let log = CommitLog::new(store(30, |s| s % 3 == 0).await);
        let pages = walk(
            &log,
            ListRequest {
                limit: 4,
                ..request()
            },
        )
        .await;
        let live: Vec<i64> = (0..30).rev().filter(|s| s % 3 != 0).collect();
        assert_eq!(pages.concat(), live);
        // Every page but the last is full, though each first read came back short.
        assert!(
            pages[..pages.len() - 1].iter().all(|p| p.len() == 4),
            "{pages:?}"
        );
        let all = walk(
            &log,
            ListRequest {
                limit: 4,
                include_removed: true,
                ..request()
            },
        )
        .await;
        assert_eq!(all.concat(), (0..30).rev().collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn pages_of_control_characters_stay_under_five_megabytes_and_walk_every_commit_once() {
        // given 20 commits whose messages are 200,000 control characters each (1.2 MB of JSON, 1.4 MB in the
        // Lambda response), every third a short one
        let store = MemoryCommitStore::default();
        let commits: Vec<CommitRecord> = (0..20)
            .map(|second| CommitRecord {
                message: if second % 3 == 0 {
                    "short".to_owned()
                } else {
                    "\u{1}".repeat(200_000)
                },
                ..commit(second)
            })
            .collect();
        store.put(commits).await.unwrap();
        let log = CommitLog::new(store);
        // when the listing is walked with the largest page
        let mut cursor = None;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = log
                .list(
                    &connection(),
                    ListRequest {
                        limit: MAX_LIMIT,
                        cursor: cursor.clone(),
                        ..request()
                    },
                )
                .await
                .unwrap();
            pages += 1;
            // then each reply, as the function returns it, is under 5 MB
            let body = serde_json::json!({
                "ok": true, "commits": page.commits, "next_cursor": page.next_cursor
            })
            .to_string();
            let response = serde_json::to_string(&body).unwrap();
            assert!(
                response.len() < MAX_REPLY_BYTES,
                "page {pages}: {} bytes",
                response.len()
            );
            assert!(!page.commits.is_empty(), "page {pages}");
            seen.extend(
                page.commits
                    .iter()
                    .map(|c| i64::from_str_radix(&c.sha, 16).unwrap()),
            );
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        // and every commit came exactly once, newest first
        assert_eq!(seen, (0..20).rev().collect::<Vec<_>>());
        assert!(pages >= 4, "{pages} pages");
    }

    #[tokio::test]
    async fn a_page_ends_after_max_reads_and_the_cursor_goes_on() {
        // Twenty removed commits in a row, then live ones: reads of 2 items find nothing for a while.
        let log = CommitLog::new(store(30, |s| s >= 10).await);
        let page = log
            .list(
                &connection(),
                ListRequest {
                    limit: 2,
                    ..request()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.reads, MAX_READS);
        assert_eq!(page.scanned, 2 * u64::from(MAX_READS));
        assert!(page.commits.is_empty());
        assert!(page.next_cursor.is_some());
        let pages = walk(
            &log,
            ListRequest {
                limit: 2,
                ..request()
            },
        )
        .await;
        assert_eq!(pages.concat(), (0..10).rev().collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn since_is_inclusive_and_until_exclusive() {
        let log = CommitLog::new(store(20, |_| false).await);
        let at = |s: i64| datetime!(2024-01-01 00:00:00 UTC) + Duration::seconds(s);
        let cases = [
            (Some(at(5)), Some(at(9)), vec![8, 7, 6, 5]),
            (Some(at(15)), None, vec![19, 18, 17, 16, 15]),
            (None, Some(at(3)), vec![2, 1, 0]),
            // Fractions of a second: the next whole second from `since`, up to `until`'s second.
            (
                Some(at(5) + Duration::milliseconds(1)),
                Some(at(8) + Duration::milliseconds(1)),
                vec![8, 7, 6],
            ),
            // Another offset names the same instant.
            (
                Some(at(17).to_offset(UtcOffset::from_hms(2, 0, 0).unwrap())),
                None,
                vec![19, 18, 17],
            ),
            // Within one second: no whole second between.
            (
                Some(at(5) + Duration::milliseconds(100)),
                Some(at(5) + Duration::milliseconds(900)),
                vec![],
            ),
        ];
        for (since, until, expected) in cases {
            let pages = walk(
                &log,
                ListRequest {
                    since,
                    until,
                    ..request()
                },
            )
            .await;
            assert_eq!(pages.concat(), expected, "{since:?} {until:?}");
        }
    }

    #[tokio::test]
    async fn bad_parameters_name_themselves_and_read_nothing() {
        let log = counted(&FaultPlan::new());
        let at = datetime!(2024-06-01 00:00:00 UTC);
        let cases = [
            (
                ListRequest {
                    limit: 0,
                    ..request()
                },
                "limit",
            ),
            (
                ListRequest {
                    limit: MAX_LIMIT + 1,
                    ..request()
                },
                "limit",
            ),
            (
                ListRequest {
                    since: Some(at),
                    until: Some(at),
                    ..request()
                },
                "until",
            ),
            (
                ListRequest {
                    cursor: Some("not-a-cursor".to_owned()),
                    ..request()
                },
                "cursor",
            ),
            (
                ListRequest {
                    since: Some(datetime!(9999-12-31 23:00:00 -10:00)),
                    ..request()
                },
                "since",
            ),
        ];
        for (request, parameter) in cases {
            match log.list(&connection(), request).await {
                Err(ListError::InvalidParameter { parameter: p, .. }) => assert_eq!(p, parameter),
                other => panic!("{parameter}: {other:?}"),
            }
        }
        assert_eq!(log.reader.plan().calls("reader.read"), 0);
    }

    #[tokio::test]
    async fn the_calendars_ends_read_nothing_and_fail_nothing() {
        let log = counted(&FaultPlan::new());
        for (since, until) in [
            (None, Some(datetime!(0000-01-01 00:00:00 UTC))),
            (Some(datetime!(9999-12-31 23:59:59.5 UTC)), None),
        ] {
            let page = log
                .list(
                    &connection(),
                    ListRequest {
                        since,
                        until,
                        ..request()
                    },
                )
                .await
                .unwrap();
            assert_eq!((page.commits.len(), page.next_cursor), (0, None));
        }
        assert_eq!(log.reader.plan().calls("reader.read"), 0);
    }

    #[tokio::test]
    async fn a_store_failure_is_ours() {
        let log = counted(&FaultPlan::with(Fault::fail("reader.read").every()));
        assert!(matches!(
            log.list(&connection(), request()).await,
            Err(ListError::Store(_))
        ));
    }
}
