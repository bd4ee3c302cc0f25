//! Imports one project's default branch: gap-free (revision ranges, never a date watermark), idempotent (keyed
//! writes, a conditional head update) and fast on large histories (concurrent windows, no deep offsets).
//!
//! New commits are exactly `last_head..head`. A large range is cut into windows along the first-parent spine:
//! anchors `A1, A2, ...` are spine commits found with `first_parent=true&until=<t>&per_page=1` for descending
//! instants `t`. For any dates at all, the first spine commit at or before `t` moves down the spine as `t`
//! decreases, so the anchors are in spine order and the windows `A1..head`, `A2..A1`, ..., `base..Ak` partition
//! the range exactly: dates only decide where the cuts fall, never what is imported. The windows are then
//! fetched concurrently with small offsets inside each.

use futures::{StreamExt, TryStreamExt};
use time::{Duration, OffsetDateTime};
use tokio::time::Instant;

use super::model::{CommitRecord, ProjectKey, ProjectOrigin, SyncJob, SyncState};
use super::ports::{CommitStore, StoreError, SyncStateStore};
use crate::gitlab::{
    BranchCommit, CommitPage, CommitQuery, GitLabClient, GitLabError, ProjectRef, RetryPolicy,
};

/// Tuning of one project sync.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Spine anchors probed for a large range: at most this many windows plus one.
    pub anchors: usize,
    /// Concurrent GitLab requests of one sync (probes and windows).
    pub concurrency: usize,
    /// How the GitLab client retries each request of the sync.
    pub retry: RetryPolicy,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            anchors: 48,
            concurrency: 16,
            retry: RetryPolicy::default(),
        }
    }
}

/// What to sync: the project and what the scheduler knew of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncTarget {
    pub key: ProjectKey,
    pub project: ProjectRef,
    pub path_with_namespace: String,
    pub default_branch: String,
}

/// How a sync ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The head is the one already imported: one GitLab request, no writes.
    Unchanged,
    /// The repository has no commits: nothing to import, not an error.
    EmptyRepository,
    Imported(SyncReport),
    /// Work remains (the deadline came, or the branch moved meanwhile): send a continuation message.
    Continue(SyncReport),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncReport {
    pub head: String,
    pub default_branch: String,
    /// Records written (a commit can be written twice only when a window is retried).
    pub commits_written: usize,
    /// Commits marked as having left the default branch.
    pub commits_removed: usize,
    pub windows: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    GitLab(#[from] GitLabError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another delivery advanced the head first; its import covers ours.
    #[error("another sync of this project finished first")]
    Superseded,
}

/// Runs syncs of projects against one GitLab client and the stores.
#[derive(Debug)]
pub struct ProjectSync<'a, C, S> {
    pub gitlab: &'a GitLabClient,
    pub commits: &'a C,
    pub state: &'a S,
    pub options: SyncOptions,
}

impl<C: CommitStore, S: SyncStateStore> ProjectSync<'_, C, S> {
    /// GitLab answered for a project marked inaccessible: the mark goes (an import clears it when it advances).
    async fn readable_again(
        &self,
        target: &SyncTarget,
        state: &SyncState,
    ) -> Result<(), StoreError> {
        if state.access_error.is_some() {
            self.state.clear_inaccessible(&target.key).await?;
        }
        Ok(())
    }

    /// Brings the project's commits up to its default branch head. With a `deadline`, no new window starts after
    /// it; the windows done so far are checkpointed and the outcome is [`SyncOutcome::Continue`].
    pub async fn run(
        &self,
        target: &SyncTarget,
        deadline: Option<Instant>,
    ) -> Result<SyncOutcome, SyncError> {
        let state = self.state.load(&target.key).await?;
        let Some((branch_name, head)) = self.resolve_head(target).await? else {
            self.readable_again(target, &state).await?;
            return Ok(SyncOutcome::EmptyRepository);
        };
        if state.job.is_none()
            && state.last_head.as_deref() == Some(head.id.as_str())
            && state.default_branch.as_deref() == Some(branch_name.as_str())
        {
            self.readable_again(target, &state).await?;
            return Ok(SyncOutcome::Unchanged);
        }
        let mut report = SyncReport {
            head: head.id.clone(),
            default_branch: branch_name.clone(),
            ..SyncReport::default()
        };
        let expected = state.last_head.as_deref();
        let mut job = match state.job.clone() {
            // A checkpointed import resumes with its own target; a newer head is the next round's business.
            Some(job) => job,
            None => {
                let base = match expected {
                    None => None,
                    Some(last) => {
                        self.base_after_history_change(target, last, &head.id, &mut report)
                            .await?
                    }
                };
                let origin = self.origin(target, &branch_name);
                let Some(windows) = self
                    .small_range_or_windows(target, &origin, &head, base.as_deref(), &mut report)
                    .await?
                else {
                    return self
                        .finish(target, expected, &head.id, &branch_name, report)
                        .await;
                };
                let job = SyncJob {
                    head: head.id.clone(),
                    default_branch: branch_name.clone(),
                    windows,
                    done: Vec::new(),
                };
                if !self.state.save_job(&target.key, expected, &job).await? {
                    return Err(SyncError::Superseded);
                }
                job
            }
        };
        report.head.clone_from(&job.head);
        report.default_branch.clone_from(&job.default_branch);
        report.windows = job.windows.len();
        let origin = self.origin(target, &job.default_branch);
        self.import_windows(target, &origin, expected, &mut job, deadline, &mut report)
            .await?;
        if job.done.len() < job.windows.len() {
            return Ok(SyncOutcome::Continue(report));
        }
        let behind = job.head != head.id;
        let outcome = self
            .finish(target, expected, &job.head, &job.default_branch, report)
            .await?;
        match outcome {
            // The branch moved while the job ran: another round imports the rest.
            SyncOutcome::Imported(report) if behind => Ok(SyncOutcome::Continue(report)),
            other => Ok(other),
        }
    }

    fn origin(&self, target: &SyncTarget, branch: &str) -> ProjectOrigin {
        ProjectOrigin {
            key: target.key.clone(),
            path_with_namespace: target.path_with_namespace.clone(),
            default_branch: branch.to_owned(),
        }
    }

    /// The head is fully imported: move `last_head` to it, conditionally.
    async fn finish(
        &self,
        target: &SyncTarget,
        expected: Option<&str>,
        head: &str,
        branch: &str,
        report: SyncReport,
    ) -> Result<SyncOutcome, SyncError> {
        let next = SyncState {
            last_head: Some(head.to_owned()),
            default_branch: Some(branch.to_owned()),
            job: None,
            access_error: None,
        };
        if !self.state.advance(&target.key, expected, &next).await? {
            return Err(SyncError::Superseded);
        }
        Ok(SyncOutcome::Imported(report))
    }

    /// The default branch and its head. A branch that is gone means the default branch was renamed (ask the
    /// project for the new one) or the repository is empty (`None`).
    async fn resolve_head(
        &self,
        target: &SyncTarget,
    ) -> Result<Option<(String, BranchCommit)>, SyncError> {
        match self
            .gitlab
            .branch(&target.project, &target.default_branch)
            .await
        {
            Ok(branch) => return Ok(Some((target.default_branch.clone(), branch.commit))),
            Err(GitLabError::NotFound { message }) if message.contains("Branch") => {}
            Err(error) => return Err(error.into()),
        }
        let project = self.gitlab.project(&target.project).await?;
        let renamed = project
            .default_branch
            .filter(|name| *name != target.default_branch);
        let (Some(name), Some(false) | None) = (renamed, project.empty_repo) else {
            return Ok(None);
        };
        match self.gitlab.branch(&target.project, &name).await {
            Ok(branch) => Ok(Some((name, branch.commit))),
            Err(GitLabError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Where the new range starts. When `last` is still an ancestor of `head`, the range is `last..head`.
    /// Otherwise history was rewritten (force-push, another default branch): the commits in `head..last` left
    /// the branch and are marked, and the range starts at the merge base (or at the root when there is none).
    async fn base_after_history_change(
        &self,
        target: &SyncTarget,
        last: &str,
        head: &str,
        report: &mut SyncReport,
    ) -> Result<Option<String>, SyncError> {
        let merge_base = match self.gitlab.merge_base(&target.project, last, head).await {
            Ok(merge_base) => merge_base.map(|c| c.id),
            Err(GitLabError::NotFound { .. }) => {
                // The old head no longer exists in the repository: what left cannot be listed. Import all of
                // head's history; every commit still on the branch is rewritten, nothing is lost.
                tracing::warn!(
                    project_id = target.key.project_id,
                    "previous head is gone from the repository; re-importing the whole branch"
                );
                return Ok(None);
            }
            Err(error) => return Err(error.into()),
        };
        if merge_base.as_deref() == Some(last) {
            return Ok(Some(last.to_owned()));
        }
        let query = CommitQuery {
            with_stats: false,
            trailers: false,
            ..CommitQuery::history(format!("{head}..{last}"))
        };
        let left: Vec<String> = self
            .gitlab
            .commits(&target.project, &query)
            .map_ok(|page| page.commits.into_iter().map(|c| c.id).collect::<Vec<_>>())
            .try_concat()
            .await?;
        report.commits_removed = left.len();
        if !left.is_empty() {
            self.commits
                .mark_removed(&target.key, left, OffsetDateTime::now_utc())
                .await?;
        }
        Ok(merge_base)
    }

    /// Imports `base..head` (or all of `head` without a base) page by page when it ends within
    /// [`SEQUENTIAL_PAGES`] pages (`None`), or returns the windows to import it by. Most incremental syncs end
    /// here in a page or two; probing for windows pays off only for ranges longer than that.
    async fn small_range_or_windows(
        &self,
        target: &SyncTarget,
        origin: &ProjectOrigin,
        head: &BranchCommit,
        base: Option<&str>,
        report: &mut SyncReport,
    ) -> Result<Option<Vec<String>>, SyncError> {
        let query = CommitQuery::history(range(base, &head.id));
        // Held back until the range is known to end here, so that a large range's windows write each commit once.
        let mut pages = Vec::new();
        let mut page_number = 1;
        loop {
            let page = self
                .gitlab
                .commits_page(&target.project, &query, page_number)
                .await?;
            let next = page.next_page;
            pages.push(page);
            match next {
                None => break,
                Some(_) if pages.len() >= SEQUENTIAL_PAGES => {
                    let sample = RangeSample::of(&pages, head);
                    return Ok(Some(self.plan_windows(target, head, base, sample).await?));
                }
                Some(next) => page_number = next,
            }
        }
        report.windows = 1;
        for page in pages {
            report.commits_written += self.write_page(origin, page).await?;
        }
        Ok(None)
    }

    /// Imports the job's pending windows concurrently, checkpointing each finished window. Stops starting new
    /// windows once `deadline` has passed (after the first).
    async fn import_windows(
        &self,
        target: &SyncTarget,
        origin: &ProjectOrigin,
        expected: Option<&str>,
        job: &mut SyncJob,
        deadline: Option<Instant>,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        // The first window always starts, so every run makes progress however little time it was given.
        let pending = job
            .pending()
            .into_iter()
            .enumerate()
            .take_while(|(started, _)| *started == 0 || deadline.is_none_or(|d| Instant::now() < d))
            .map(|(_, window)| window);
        let mut finished = std::pin::pin!(
            futures::stream::iter(pending)
                .map(|(index, window)| async move {
                    let written = self.import_window(target, origin, window).await?;
                    Ok::<_, SyncError>((index, written))
                })
                .buffer_unordered(self.options.concurrency.max(1))
        );
        while let Some((index, written)) = finished.try_next().await? {
            report.commits_written += written;
            job.done.push(index);
            if !self.state.save_job(&target.key, expected, job).await? {
                return Err(SyncError::Superseded);
            }
        }
        Ok(())
    }

    /// The windows of `base..head`: spine anchors at evenly spaced instants between the oldest spine commit's
    /// date (bracketed by doubling probes) and the head's date; as many as the range's estimated size needs.
    async fn plan_windows(
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
                Ok::<_, SyncError>(page.commits.into_iter().next().map(|c| c.id))
            }
        });
        futures::stream::iter(probes)
            .buffered(self.options.concurrency.max(1))
            .try_collect()
            .await
    }

    /// Every page of one window, written as it arrives (memory stays at one page per window in flight).
    async fn import_window(
        &self,
        target: &SyncTarget,
        origin: &ProjectOrigin,
        window: String,
    ) -> Result<usize, SyncError> {
        let query = CommitQuery::history(window);
        let mut pages = std::pin::pin!(self.gitlab.commits(&target.project, &query));
        let mut written = 0;
        while let Some(page) = pages.try_next().await? {
            written += self.write_page(origin, page).await?;
        }
        Ok(written)
    }

    async fn write_page(
        &self,
        origin: &ProjectOrigin,
        page: CommitPage,
    ) -> Result<usize, SyncError> {
        let imported_at = OffsetDateTime::now_utc();
        let records: Vec<CommitRecord> = page
            .commits
            .into_iter()
            .map(|commit| {
                CommitRecord::from_gitlab(commit, origin, page.stats_missing, imported_at)
            })
            .collect();
        let count = records.len();
        if count > 0 {
            self.commits.put(records).await?;
        }
        Ok(count)
    }
}

/// Pages of a range read in order before deciding to cut it into windows.
pub const SEQUENTIAL_PAGES: usize = 5;

/// Commits a window should hold at least: fewer make the anchor probes cost more than they save.
const COMMITS_PER_WINDOW: f64 = 1_000.0;

/// What the first pages of a range tell about its size: how many commits span how much time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RangeSample {
    commits: usize,
    span: Duration,
}

impl RangeSample {
    fn of(pages: &[CommitPage], head: &BranchCommit) -> Self {
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

/// `base..head`, or `head` alone for a whole history.
fn range(base: Option<&str>, head: &str) -> String {
    base.map_or_else(|| head.to_owned(), |base| format!("{base}..{head}"))
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

    #[test]
    fn a_range_without_base_is_the_whole_history() {
        assert_eq!(range(None, "abc"), "abc");
        assert_eq!(range(Some("def"), "abc"), "def..abc");
    }
}
