//! The memory commit store as a [`CommitReader`], with DynamoDB's order and paging: newest first by
//! (`committed_at`, `sha`), `limit` counts items evaluated before the removed filter, and the last key is set
//! whenever the read stopped at its limit (even when nothing follows).

use crate::commits::{CommitRange, CommitReader, PageKey, ReadOutcome};
use crate::kernel::store::StoreError;
use crate::testing::MemoryCommitStore;

impl CommitReader for MemoryCommitStore {
    async fn read(
        &self,
        range: &CommitRange,
        start: Option<&PageKey>,
        limit: usize,
    ) -> Result<ReadOutcome, StoreError> {
        let mut records: Vec<_> = self
            .project(&range.project)
            .into_values()
            .filter(|r| {
                range
                    .from
                    .as_ref()
                    .is_none_or(|from| &r.committed_at >= from)
            })
            .filter(|r| range.to.as_ref().is_none_or(|to| &r.committed_at <= to))
            .collect();
        records.sort_by(|a, b| (&b.committed_at, &b.sha).cmp(&(&a.committed_at, &a.sha)));
        let after = |r: &crate::kernel::commit_record::CommitRecord| {
            start.is_none_or(|key| (&r.committed_at, &r.sha) < (&key.committed_at, &key.sha))
        };
        let evaluated: Vec<_> = records.into_iter().filter(after).take(limit).collect();
        let last_key = (evaluated.len() == limit)
            .then(|| evaluated.last().map(PageKey::of))
            .flatten();
        Ok(ReadOutcome {
            scanned: evaluated.len() as u64,
            commits: evaluated
                .into_iter()
                .filter(|r| range.include_removed || r.removed_at.is_none())
                .collect(),
            last_key,
        })
    }
}
