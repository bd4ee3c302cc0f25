//! Cutting a large range into windows along its first-parent spine (see the module note of [`super::importer`]): how many
//! anchors the range's size calls for, and the probes that find them.

use futures::{StreamExt, TryStreamExt};
use time::{Duration, OffsetDateTime};

use super::importer::{ProjectSync, SyncError, SyncTarget};
use super::ports::{CommitStore, SyncStateStore};
use super::range_check::{commit_key, range};
use crate::gitlab::{BranchCommit, CommitPage, CommitQuery};

/// Pages of a range read in order before deciding to cut it into windows.
pub const SEQUENTIAL_PAGES: usize = 5;

/// Commits a window should hold at least: fewer make the anchor probes cost more than they save.
const COMMITS_PER_WINDOW: f64 = 1_000.0;

/// What the first pages of a range tell about its size: how many commits span how much time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RangeSample {
    commits: usize,
    span: Duration,
}

impl RangeSample {
    pub(super) fn of(pages: &[CommitPage], head: &BranchCommit) -> Self {
        let commits = pages.iter().map(|p| p.commits.len()).sum();
        let oldest = pages
            .iter()
            .flat_map(|p| &p.commits)
            .map(|c| c.committed_date)
            .min()
            .unwrap_or(head.committed_date);
        RangeSample {
            commits,
            span: head.committed_date - oldest,
        }
    }

    /// Anchors for a range whose spine spans `span`: its commits estimated at the sample's rate, one window per
    /// [`COMMITS_PER_WINDOW`], between 1 and `max`. A wrong estimate costs requests, never commits.
    fn anchors_for(&self, span: Duration, max: usize) -> usize {
        let rate = self.commits as f64 / self.span.as_seconds_f64().max(1.0);
        let estimate = (rate * span.as_seconds_f64()).max(self.commits as f64);
        ((estimate / COMMITS_PER_WINDOW) as usize).clamp(1, max.max(1))
    }
}

impl<C: CommitStore, S: SyncStateStore> ProjectSync<'_, C, S> {
    /// The windows of `base..head`: spine anchors at evenly spaced instants between the oldest spine commit's
    /// date (bracketed by doubling probes) and the head's date; as many as the range's estimated size needs.
    pub(super) async fn plan_windows(
        &self,
        target: &SyncTarget,
        head: &BranchCommit,
        base: Option<&str>,
        sample: RangeSample,
    ) -> Result<Vec<String>, SyncError> {
        let spine = range(base, &head.id);
        let newest = head.committed_date;
        let oldest_bracket = self.oldest_spine_bracket(target, &spine, newest).await?;
        let count = sample.anchors_for(newest - oldest_bracket, self.options.anchors) as i32;
        let step = (newest - oldest_bracket) / count;
        let instants: Vec<OffsetDateTime> = (1..=count).map(|i| newest - step * i).collect();
        let anchors = self.spine_anchors(target, &spine, &instants).await?;

        // Anchors arrive in spine order (see the module note); consecutive repeats and the head make no window.
        let mut windows = Vec::new();
        let mut upper = head.id.clone();
        for anchor in anchors.into_iter().flatten() {
            if anchor != upper {
                windows.push(format!("{anchor}..{upper}"));
                upper = anchor;
            }
        }
        windows.push(range(base, &upper));
        Ok(windows)
    }

    /// An instant at or before the oldest spine commit's date, close to it: doubling probes back from the head
    /// (1, 2, 4 ... days) until one finds nothing, then three halvings of the last interval. Sequential, so that
    /// only one or two probes walk the whole spine; never before 1970 (git reads earlier instants as no limit).
    async fn oldest_spine_bracket(
        &self,
        target: &SyncTarget,
        spine: &str,
        newest: OffsetDateTime,
    ) -> Result<OffsetDateTime, SyncError> {
        let floor = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        let probe = |at: OffsetDateTime| async move {
            let found = self.spine_anchors(target, spine, &[at]).await?;
            Ok::<_, SyncError>(found.into_iter().next().flatten().is_some())
        };
        // The oldest spine date lies in (older, newer].
        let (mut older, mut newer) = (newest - Duration::days(1), newest);
        for k in 0..16 {
            let at = (newest - Duration::days(1 << k)).max(floor);
            if !probe(at).await? {
                older = at;
                break;
            }
            newer = at;
            older = floor;
            if at == floor {
                return Ok(floor);
            }
        }
        for _ in 0..3 {
            let middle = older + (newer - older) / 2;
            if probe(middle).await? {
                newer = middle;
            } else {
                older = middle;
            }
        }
        Ok(older)
    }

    /// For each instant, the first spine commit of `spine` at or before it (`None` when there is none).
    async fn spine_anchors(
        &self,
        target: &SyncTarget,
        spine: &str,
        instants: &[OffsetDateTime],
    ) -> Result<Vec<Option<String>>, SyncError> {
        let probes = instants.iter().map(|until| {
            let query = CommitQuery {
                first_parent: true,
                with_stats: false,
                trailers: false,
                until: Some(*until),
                per_page: 1,
                ..CommitQuery::history(spine)
            };
            async move {
                let page = self.gitlab.commits_page(&target.project, &query, 1).await?;
                let anchor = page.commits.into_iter().next().map(|c| c.id);
                // Only the form is checked here: the windows an anchor bounds check that it is on the range.
                if let Some(anchor) = &anchor {
                    commit_key(anchor)?;
                }
                Ok::<_, SyncError>(anchor)
            }
        });
        futures::stream::iter(probes)
            .buffered(self.options.concurrency.max(1))
            .try_collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_the_estimated_size_of_the_range() {
        let sample = RangeSample {
            commits: 500,
            span: Duration::days(5),
        };
        // 100 commits a day: ten days is ~1,000 commits, one window's worth; a year is capped.
        assert_eq!(sample.anchors_for(Duration::days(10), 48), 1);
        assert_eq!(sample.anchors_for(Duration::days(100), 48), 10);
        assert_eq!(sample.anchors_for(Duration::days(365), 48), 36);
        assert_eq!(sample.anchors_for(Duration::days(3650), 48), 48);
        // Commits all at one instant (imports): the sample's own size stands.
        let burst = RangeSample {
            commits: 500,
            span: Duration::ZERO,
        };
        assert_eq!(burst.anchors_for(Duration::ZERO, 48), 1);
    }
}
