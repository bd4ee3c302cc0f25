//! The read port of the commits table: one project's commits in a window of `committed_at`, newest first, one
//! bounded read at a time. The DynamoDB adapter is `crate::aws::commit_reader`; unit tests use the memory store.

use std::future::Future;

use crate::kernel::commit_record::CommitRecord;
use crate::kernel::project_key::ProjectKey;
use crate::kernel::store::StoreError;

/// What one listing reads: a project, inclusive bounds on the stored `committed_at` (UTC RFC 3339, whole
/// seconds, so they compare as strings the way the index sorts) and whether commits that left the default branch
/// count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRange {
    pub project: ProjectKey,
    pub from: Option<String>,
    pub to: Option<String>,
    pub include_removed: bool,
}

/// Where a read stopped: the index position of the last item it evaluated (returned or filtered out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageKey {
    pub committed_at: String,
    pub sha: String,
}

impl PageKey {
    pub fn of(record: &CommitRecord) -> Self {
        PageKey {
            committed_at: record.committed_at.clone(),
            sha: record.sha.clone(),
        }
    }
}

/// One read's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Newest first, commits that left the branch already left out unless the range includes them.
    pub commits: Vec<CommitRecord>,
    /// Items the read evaluated, before the filter (what DynamoDB bills).
    pub scanned: u64,
    /// `None` when the range holds nothing after this read.
    pub last_key: Option<PageKey>,
}

pub trait CommitReader: Send + Sync {
    /// Evaluates at most `limit` items of `range` after `start` (newest first) and returns those that pass the
    /// removed filter, so the answer may hold fewer than `limit` commits while more follow.
    fn read(
        &self,
        range: &CommitRange,
        start: Option<&PageKey>,
        limit: usize,
    ) -> impl Future<Output = Result<ReadOutcome, StoreError>> + Send;
}
