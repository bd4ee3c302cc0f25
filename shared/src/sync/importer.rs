//! Imports one project's default branch: gap-free (revision ranges, never a date watermark), idempotent (keyed
//! writes, a conditional head update) and fast on large histories (concurrent windows, no deep offsets).
//!
//! New commits are exactly `last_head..head`. A large range is cut into windows along the first-parent spine:
//! anchors `A1, A2, ...` are spine commits found with `first_parent=true&until=<t>&per_page=1` for descending
//! instants `t`. For any dates at all, the first spine commit at or before `t` moves down the spine as `t`
//! decreases, so the anchors are in spine order and the windows `A1..head`, `A2..A1`, ..., `base..Ak` partition
//! the range exactly: dates only decide where the cuts fall, never what is imported. The windows are then
//! fetched concurrently with small offsets inside each.
//!
//! GitLab's answers are checked before they count as progress (see [`RangeCheck`]): a range's commits are
//! written only once they are reachable from its top through the parents read, and a window is checkpointed (or
//! `last_head` moved) only when its top was read, nothing read was outside it, and its base was reached. A
//! window that fails (the check, or GitLab) has its plan made again at the next attempt, since a wrong anchor may
//! be the cause.
//!
//! A force-push whose old head GitLab no longer has (the merge base answers 404) cannot list what left: the whole
//! branch is imported again, its writes stamped no earlier than its start, and once it is done every live commit
//! stamped before that start is marked removed (see `ProjectSync::reconcile`).

use std::collections::{HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};
use time::{Duration, OffsetDateTime};
use tokio::time::Instant;

use super::model::{CommitRecord, ProjectKey, ProjectOrigin, SyncJob, SyncState};
use super::ports::{CommitStore, SyncStateStore};
use crate::gitlab::client::MAX_PER_PAGE;
use crate::gitlab::{
    BranchCommit, Commit, CommitPage, CommitQuery, GitLabClient, GitLabError, MergeBase,
    ProjectRef, RetryPolicy,
};
use crate::kernel::StoreError;
use crate::kernel::time::change_stamp;

/// Tuning of one project sync.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Spine anchors probed for a large range: at most this many windows plus one.
    pub anchors: usize,
    /// Concurrent GitLab requests of one sync (probes and windows).
    pub concurrency: usize,
    /// How the GitLab client retries each request of the sync.
    pub retry: RetryPolicy,
    /// Commits one connection's imports may write in a day (UTC): a GitLab that serves an endless chain of
    /// made-up commits costs at most this much, whatever it sends.
    pub writes_per_day: u64,
}

/// The default of [`SyncOptions::writes_per_day`]: a first import of several repositories of a million commits
/// each fits in a day, while a runaway GitLab costs at most a few dollars of DynamoDB writes a day.
pub const DEFAULT_WRITES_PER_DAY: u64 = 5_000_000;

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            anchors: 48,
            concurrency: 16,
            retry: RetryPolicy::default(),
            writes_per_day: DEFAULT_WRITES_PER_DAY,
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
    /// Commits the commits table refused as invalid however they were sent (logged with the project): they are
    /// not stored, and the sync went on without them.
    pub commits_skipped: Vec<String>,
    /// Commits marked as having left the default branch.
    pub commits_removed: usize,
    pub windows: usize,
}

impl SyncReport {
    fn add(&mut self, written: Written) {
        self.commits_written += written.commits;
        self.commits_skipped.extend(written.skipped);
    }
}

/// What writes of admitted commits did.
#[derive(Debug, Default)]
struct Written {
    commits: usize,
    skipped: Vec<String>,
}

impl Written {
    fn add(&mut self, more: Written) {
        self.commits += more.commits;
        self.skipped.extend(more.skipped);
    }
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
    /// GitLab answered well-formed data that cannot be right for what was asked (an empty page for a range that
    /// holds commits, commits from outside the range, something that is not a commit id). Nothing it would have
    /// completed is recorded as done; worth a retry, since a broken cache or proxy may recover.
    #[error("GitLab's answer cannot be right: {detail}")]
    Inconsistent { detail: String },
    /// The connection's imports wrote their ceiling of commits for today; the sync goes on from its checkpoint
    /// on a later day.
    #[error("the connection wrote its ceiling of {ceiling} commits today")]
    WriteCeiling { ceiling: u64 },
}

impl SyncError {
    fn inconsistent(detail: impl Into<String>) -> Self {
        SyncError::Inconsistent {
            detail: detail.into(),
        }
    }
}

/// Where the import of a changed history starts.
#[derive(Debug)]
enum Start {
    /// At this base: the merge base, or the root when there is none.
    At(Option<String>),
    /// At the root, since the previous head is gone: the import reconciles from this change stamp.
    Reconcile(String),
}

/// Where admitted commits are written: their provenance, and the floor of their change stamps when the import
/// reconciles (see [`SyncJob::reconcile_since`]).
#[derive(Debug)]
struct Sink {
    origin: ProjectOrigin,
    floor: Option<String>,
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
        commit_key(&head.id)?;
        let mut report = SyncReport {
            head: head.id.clone(),
            default_branch: branch_name.clone(),
            ..SyncReport::default()
        };
        let expected = state.last_head.as_deref();
        // Set when this import re-imports the whole branch because the previous head is gone (see `reconcile`).
        let reconcile_since;
        let job = match state.job {
            // A checkpointed import resumes with its own target; a newer head is the next round's business.
            Some(job) if !job.replan => {
                reconcile_since = job.reconcile_since.clone();
                Some(job)
            }
            // A window of this plan failed, and the branch still points at the plan's head: plan the job's range
            // again, keeping the windows done (and the start of its reconciliation, which they were written after).
            Some(stale) if stale.head == head.id => {
                report.head.clone_from(&stale.head);
                report.default_branch.clone_from(&stale.default_branch);
                reconcile_since = stale.reconcile_since.clone();
                let base = stale.windows.last().and_then(|w| bounds(w).0);
                let sink = self.sink(target, &stale.default_branch, reconcile_since.clone());
                self.plan(
                    target,
                    expected,
                    &stale.head,
                    base,
                    Some(&stale),
                    sink,
                    &mut report,
                )
                .await?
            }
            // No plan, or a failed one the branch has moved away from (its head may be gone for good, so planning
            // it again could fail forever): plan from the branch as it is now; writes are idempotent.
            _ => {
                let start = match expected {
                    None => Start::At(None),
                    Some(last) => {
                        self.base_after_history_change(target, last, &head.id, &mut report)
                            .await?
                    }
                };
                let base = match start {
                    Start::At(base) => {
                        reconcile_since = None;
                        base
                    }
                    Start::Reconcile(since) => {
                        reconcile_since = Some(since);
                        None
                    }
                };
                let sink = self.sink(target, &branch_name, reconcile_since.clone());
                self.plan(
                    target,
                    expected,
                    &head.id,
                    base.as_deref(),
                    None,
                    sink,
                    &mut report,
                )
                .await?
            }
        };
        if let Some(mut job) = job {
            report.head.clone_from(&job.head);
            report.default_branch.clone_from(&job.default_branch);
            report.windows = job.windows.len();
            let sink = self.sink(target, &job.default_branch, job.reconcile_since.clone());
            self.import_windows(target, &sink, expected, &mut job, deadline, &mut report)
                .await?;
            if job.done.len() < job.windows.len() {
                return Ok(SyncOutcome::Continue(report));
            }
        }
        if let Some(since) = &reconcile_since {
            report.commits_removed = self.reconcile(target, expected, since).await?;
        }
        let behind = report.head != head.id;
        let (done_head, done_branch) = (report.head.clone(), report.default_branch.clone());
        let outcome = self
            .finish(target, expected, &done_head, &done_branch, report)
            .await?;
        match outcome {
            // The branch moved while the job ran: another round imports the rest.
            SyncOutcome::Imported(report) if behind => Ok(SyncOutcome::Continue(report)),
            other => Ok(other),
        }
    }

    /// Imports `base..top` into `sink` on the spot when it is short, or plans its windows and saves them as a job
    /// (`done` carried over from `stale` for the windows that come out the same). `None` when the range is
    /// imported.
    #[allow(clippy::too_many_arguments)]
    async fn plan(
        &self,
        target: &SyncTarget,
        expected: Option<&str>,
        top: &str,
        base: Option<&str>,
        stale: Option<&SyncJob>,
        sink: Sink,
        report: &mut SyncReport,
    ) -> Result<Option<SyncJob>, SyncError> {
        let Some(windows) = self
            .small_range_or_windows(target, &sink, top, base, report)
            .await?
        else {
            return Ok(None);
        };
        let done = stale.map_or_else(Vec::new, |stale| {
            let was_done = |window: &String| {
                stale
                    .done
                    .iter()
                    .any(|&i| stale.windows.get(i) == Some(window))
            };
            (0..windows.len())
                .filter(|&i| was_done(&windows[i]))
                .collect()
        });
        let job = SyncJob {
            head: top.to_owned(),
            default_branch: sink.origin.default_branch,
            windows,
            done,
            replan: false,
            reconcile_since: sink.floor,
        };
        if !self.state.save_job(&target.key, expected, &job).await? {
            return Err(SyncError::Superseded);
        }
        Ok(Some(job))
    }

    fn sink(&self, target: &SyncTarget, branch: &str, floor: Option<String>) -> Sink {
        Sink {
            origin: ProjectOrigin {
                key: target.key.clone(),
                path_with_namespace: target.path_with_namespace.clone(),
                default_branch: branch.to_owned(),
            },
            floor,
        }
    }

    /// The whole branch up to the job's head was written again, every write stamped `since` or later: a live
    /// commit stamped before it was not written, so it is not on the branch any more, and is marked. Whatever
    /// the hosts' clocks say, nothing this import wrote is marked (its stamps are raised to `since`), nor anything
    /// rewritten after the store's read of it (each mark is conditional). Done before `last_head` moves, so a
    /// crash here leaves the job to be finished again; and only while `last_head` is still `expected`: a sync that
    /// finished first may have written commits of a newer head before `since`.
    async fn reconcile(
        &self,
        target: &SyncTarget,
        expected: Option<&str>,
        since: &str,
    ) -> Result<usize, SyncError> {
        if self.state.load(&target.key).await?.last_head.as_deref() != expected {
            return Err(SyncError::Superseded);
        }
        let removed = self
            .commits
            .remove_unchanged_since(&target.key, since, OffsetDateTime::now_utc())
            .await?;
        tracing::warn!(
            project_id = target.key.project_id,
            removed,
            "previous head was gone: marked the stored commits the re-imported branch does not hold"
        );
        Ok(removed)
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
    ) -> Result<Start, SyncError> {
        // The head did not move (the default branch was renamed, or another branch at the same commit became the
        // default): the range is empty by definition. GitLab is not asked for the merge base of a commit with
        // itself, which it may not answer with that commit.
        if last == head {
            return Ok(Start::At(Some(last.to_owned())));
        }
        let merge_base = match self.gitlab.merge_base(&target.project, last, head).await? {
            MergeBase::Commit(merge_base) => Some(merge_base),
            MergeBase::Unrelated => None,
            // `head` was just read from the branch, so the ref GitLab no longer holds is `last` (or `head` was
            // force-pushed again since, and the re-import's own checks fail until the branch settles).
            MergeBase::UnknownRef => {
                // The old head no longer exists in the repository: what left cannot be listed. Import all of
                // head's history, then mark what was not written again.
                tracing::warn!(
                    project_id = target.key.project_id,
                    "previous head is gone from the repository; re-importing the whole branch"
                );
                return Ok(Start::Reconcile(change_stamp(OffsetDateTime::now_utc())));
            }
        };
        if let Some(merge_base) = &merge_base {
            commit_key(merge_base)?;
        }
        // Trusted for now: the range `last..head` must then show `last` as a parent, which its check requires.
        if merge_base.as_deref() == Some(last) {
            return Ok(Start::At(Some(last.to_owned())));
        }
        // What left is `head..last`: listed from `last` down to the merge base, checked like any range, so that
        // an answer from elsewhere never marks a commit that is still on the branch.
        let left_range = format!("{head}..{last}");
        let query = CommitQuery {
            with_stats: false,
            trailers: false,
            ..CommitQuery::history(&left_range)
        };
        let mut check = RangeCheck::new(&left_range, last, merge_base.as_deref())?;
        let mut pages = std::pin::pin!(self.gitlab.commits(&target.project, &query));
        let mut left = Vec::new();
        while let Some(page) = pages.try_next().await? {
            left.extend(check.admit(page)?.into_iter().map(|(commit, _)| commit.id));
        }
        check.finish()?;
        report.commits_removed = left.len();
        if !left.is_empty() {
            self.commits
                .mark_removed(&target.key, left, OffsetDateTime::now_utc())
                .await?;
        }
        Ok(Start::At(merge_base))
    }

    /// Imports `base..top` (or all of `top` without a base) page by page when it ends within
    /// [`SEQUENTIAL_PAGES`] pages (`None`), or returns the windows to import it by. Most incremental syncs end
    /// here in a page or two; probing for windows pays off only for ranges longer than that. A range whose base
    /// is its top is empty: the merge base proved the top imported, and nothing is asked.
    async fn small_range_or_windows(
        &self,
        target: &SyncTarget,
        sink: &Sink,
        top: &str,
        base: Option<&str>,
        report: &mut SyncReport,
    ) -> Result<Option<Vec<String>>, SyncError> {
        if base == Some(top) {
            return Ok(None);
        }
        let spine = range(base, top);
        let query = CommitQuery::history(&spine);
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
                    // The top's own date, as listed (git lists a range from its top).
                    let head = pages
                        .iter()
                        .flat_map(|p| &p.commits)
                        .find(|c| c.id == top)
                        .map(|c| BranchCommit {
                            id: c.id.clone(),
                            committed_date: c.committed_date,
                        })
                        .ok_or_else(|| {
                            SyncError::inconsistent(format!(
                                "the first {SEQUENTIAL_PAGES} pages of {spine} do not hold its top"
                            ))
                        })?;
                    let sample = RangeSample::of(&pages, &head);
                    return Ok(Some(self.plan_windows(target, &head, base, sample).await?));
                }
                Some(next) => page_number = next,
            }
        }
        report.windows = 1;
        let mut check = RangeCheck::new(&spine, top, base)?;
        for mut page in pages {
            // The page's share of the memory budget is held until its commits are written.
            let held = page.memory.take();
            let admitted = check.admit(page)?;
            report.add(self.write(sink, admitted).await?);
            drop(held);
        }
        check.finish()?;
        Ok(None)
    }

    /// Imports the job's pending windows concurrently, checkpointing each finished window. Stops starting new
    /// windows once `deadline` has passed (after the first). A window stopped by the client's time or a wait it
    /// cannot hold ends the run early when another window of it finished: the rest is the continuation's.
    async fn import_windows(
        &self,
        target: &SyncTarget,
        sink: &Sink,
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
                    let written = self.import_window(target, sink, window).await?;
                    Ok::<_, SyncError>((index, written))
                })
                .buffer_unordered(self.options.concurrency.max(1))
        );
        let mut finished_here = 0_usize;
        while let Some(window) = finished.next().await {
            let (index, written) = match window {
                Ok(window) => window,
                // A wait GitLab asked for, or time that ran out, says nothing about the window's bounds.
                Err(SyncError::GitLab(
                    GitLabError::RateLimited { .. } | GitLabError::TimedOut { .. },
                )) if finished_here > 0 => return Ok(()),
                Err(
                    error @ SyncError::GitLab(
                        GitLabError::RateLimited { .. } | GitLabError::TimedOut { .. },
                    ),
                ) => return Err(error),
                Err(error @ (SyncError::Inconsistent { .. } | SyncError::GitLab(_))) => {
                    // The window's bounds may be what is wrong: an anchor answered from elsewhere makes a range
                    // GitLab lists wrongly, or cannot list at all. The next attempt plans the range again; the
                    // windows that come out the same keep their done mark, so a passing fault costs only the
                    // planning requests.
                    job.replan = true;
                    if !self.state.save_job(&target.key, expected, job).await? {
                        return Err(SyncError::Superseded);
                    }
                    return Err(error);
                }
                Err(error) => return Err(error),
            };
            report.add(written);
            job.done.push(index);
            finished_here += 1;
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

    /// Every page of one window, its commits written as they are admitted (memory stays at about one page per
    /// window in flight, plus the check's 32 bytes per commit id); an error unless the whole window checked out.
    async fn import_window(
        &self,
        target: &SyncTarget,
        sink: &Sink,
        window: String,
    ) -> Result<Written, SyncError> {
        let (base, top) = bounds(&window);
        let mut check = RangeCheck::new(&window, top, base)?;
        let query = CommitQuery::history(window.as_str());
        let mut pages = std::pin::pin!(self.gitlab.commits(&target.project, &query));
        let mut written = Written::default();
        while let Some(mut page) = pages.try_next().await? {
            // The page's share of the memory budget is held until its commits are written.
            let held = page.memory.take();
            let admitted = check.admit(page)?;
            written.add(self.write(sink, admitted).await?);
            drop(held);
        }
        check.finish()?;
        Ok(written)
    }

    /// Writes admitted commits (each with its page's `stats_missing`); what the table refused is logged here,
    /// with the project, and reported.
    async fn write(
        &self,
        sink: &Sink,
        admitted: Vec<(Commit, bool)>,
    ) -> Result<Written, SyncError> {
        let origin = &sink.origin;
        if admitted.is_empty() {
            return Ok(Written::default());
        }
        let imported_at = OffsetDateTime::now_utc();
        let records: Vec<CommitRecord> = admitted
            .into_iter()
            .map(|(commit, stats_missing)| {
                CommitRecord::from_gitlab(commit, origin, stats_missing, imported_at)
            })
            .collect();
        let count = records.len();
        let day = OffsetDateTime::now_utc().date().to_string();
        let ceiling = self.options.writes_per_day;
        if !self
            .state
            .reserve_writes(&origin.key.connection_id, &day, count as u64, ceiling)
            .await?
        {
            return Err(SyncError::WriteCeiling { ceiling });
        }
        let skipped = self
            .commits
            .put_changed_from(records, sink.floor.as_deref())
            .await?;
        if !skipped.is_empty() {
            tracing::warn!(
                project_id = origin.key.project_id,
                project = %origin.path_with_namespace,
                shas = ?skipped,
                "the commits table refused these commits; the sync goes on without them"
            );
        }
        Ok(Written {
            commits: count.saturating_sub(skipped.len()),
            skipped,
        })
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

/// The base (if any) and the top of a window made by [`range`].
fn bounds(window: &str) -> (Option<&str>, &str) {
    match window.split_once("..") {
        Some((base, top)) => (Some(base), top),
        None => (None, window),
    }
}

/// A commit id as a key: its bytes (SHA-1's 20, SHA-256's 32). Anything else GitLab calls a commit id (only 40 or
/// 64 lowercase hex digits are) is an inconsistent answer, and never reaches a revision range or a table key.
type CommitKey = [u8; 32];

fn commit_key(id: &str) -> Result<CommitKey, SyncError> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let mut key = [0; 32];
    let pairs = id.as_bytes().chunks(2);
    let valid = matches!(id.len(), 40 | 64)
        && pairs.zip(key.iter_mut()).all(|(pair, byte)| {
            let (Some(high), Some(low)) = (digit(pair[0]), digit(pair[1])) else {
                return false;
            };
            *byte = high << 4 | low;
            true
        });
    if !valid {
        let shown: String = id.chars().take(80).collect();
        return Err(SyncError::inconsistent(format!(
            "{shown:?} is not a commit id"
        )));
    }
    Ok(key)
}

/// Commits read before any commit naming them as a parent, held until one does: a page's worth. Git lists a range
/// from its top down, children before parents, so none are held from a GitLab that answers right.
const WAITING_COMMITS: usize = MAX_PER_PAGE as usize;

/// Checks that what was read for the range `base..top` is that range, as far as the ids and parents read can
/// show it: every commit of a range is reachable from its top along parents inside the range, so each commit read
/// must be the top or a parent of a commit admitted before it (one from another range or project is not); the top
/// must be read; and `base`, an ancestor of the top, must be the parent of some commit admitted (which also proves
/// an anchor or merge base to be on the range). Commits are admitted (and may be written) as soon as they are
/// reachable, so nothing from outside the range is ever written; duplicates are harmless.
#[derive(Debug)]
struct RangeCheck {
    range: String,
    base: Option<CommitKey>,
    /// The top and every parent of an admitted commit.
    reachable: HashSet<CommitKey>,
    /// Commits not reachable yet, with their page's `stats_missing`.
    waiting: HashMap<CommitKey, (Commit, bool)>,
    admitted: usize,
    base_reached: bool,
}

impl RangeCheck {
    fn new(range: &str, top: &str, base: Option<&str>) -> Result<Self, SyncError> {
        let top = commit_key(top)?;
        Ok(RangeCheck {
            range: range.to_owned(),
            base: base.map(commit_key).transpose()?,
            reachable: HashSet::from([top]),
            waiting: HashMap::new(),
            admitted: 0,
            base_reached: false,
        })
    }

    /// The commits of `page` (and any waiting ones) that are now reachable from the top, in an order that lists
    /// each after one of its children.
    fn admit(&mut self, page: CommitPage) -> Result<Vec<(Commit, bool)>, SyncError> {
        let mut admitted = Vec::with_capacity(page.commits.len());
        for commit in page.commits {
            let key = commit_key(&commit.id)?;
            for parent in &commit.parent_ids {
                commit_key(parent)?;
            }
            if !self.reachable.contains(&key) {
                self.waiting.insert(key, (commit, page.stats_missing));
                if self.waiting.len() > WAITING_COMMITS {
                    return Err(self.unreachable());
                }
                continue;
            }
            let mut ready = vec![(commit, page.stats_missing)];
            while let Some((commit, stats_missing)) = ready.pop() {
                for parent in &commit.parent_ids {
                    let parent = commit_key(parent)?;
                    self.base_reached |= self.base == Some(parent);
                    if self.reachable.insert(parent)
                        && let Some(waiting) = self.waiting.remove(&parent)
                    {
                        ready.push(waiting);
                    }
                }
                self.admitted += 1;
                admitted.push((commit, stats_missing));
            }
        }
        Ok(admitted)
    }

    fn unreachable(&self) -> SyncError {
        SyncError::inconsistent(format!(
            "{} commits listed for {} are not reachable from its top",
            self.waiting.len(),
            self.range
        ))
    }

    /// Whether everything read was the range, once the listing has ended.
    fn finish(self) -> Result<(), SyncError> {
        if self.admitted == 0 {
            return Err(SyncError::inconsistent(format!(
                "the listing of {} does not hold its top commit",
                self.range
            )));
        }
        if !self.waiting.is_empty() {
            return Err(self.unreachable());
        }
        if self.base.is_some() && !self.base_reached {
            return Err(SyncError::inconsistent(format!(
                "no commit listed for {} has its base as a parent",
                self.range
            )));
        }
        Ok(())
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

    #[test]
    fn a_range_without_base_is_the_whole_history() {
        assert_eq!(range(None, "abc"), "abc");
        assert_eq!(range(Some("def"), "abc"), "def..abc");
        assert_eq!(bounds("def..abc"), (Some("def"), "abc"));
        assert_eq!(bounds("abc"), (None, "abc"));
    }

    fn id(n: u32) -> String {
        format!("{n:040x}")
    }

    fn commit(n: u32, parents: &[u32]) -> Commit {
        let at = OffsetDateTime::UNIX_EPOCH;
        Commit {
            id: id(n),
            short_id: id(n)[..8].to_owned(),
            parent_ids: parents.iter().map(|&p| id(p)).collect(),
            title: String::new(),
            message: String::new(),
            author_name: String::new(),
            author_email: String::new(),
            authored_date: at,
            committer_name: String::new(),
            committer_email: String::new(),
            committed_date: at,
            trailers: Default::default(),
            extended_trailers: Default::default(),
            web_url: String::new(),
            stats: None,
        }
    }

    fn page(commits: Vec<Commit>) -> CommitPage {
        CommitPage {
            commits,
            next_page: None,
            stats_missing: false,
            memory: Default::default(),
        }
    }

    fn admitted(check: &mut RangeCheck, commits: Vec<Commit>) -> Vec<String> {
        let admitted = check.admit(page(commits)).unwrap();
        admitted.into_iter().map(|(c, _)| c.id).collect()
    }

    /// `1..5`: 5 merges 4 and 3 (a side line from 2), 4 and 3 come from 2, 2 from 1 (the base).
    fn diamond() -> Vec<Commit> {
        vec![
            commit(5, &[4, 3]),
            commit(4, &[2]),
            commit(3, &[2]),
            commit(2, &[1]),
        ]
    }

    #[test]
    fn a_range_listed_from_its_top_down_checks_out_over_pages() {
        let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
        let mut commits = diamond();
        let second = commits.split_off(2);
        assert_eq!(admitted(&mut check, commits), [id(5), id(4)]);
        assert_eq!(admitted(&mut check, second), [id(3), id(2)]);
        check.finish().unwrap();

        // Duplicates (a page read twice) change nothing.
        let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
        admitted(&mut check, diamond());
        assert_eq!(admitted(&mut check, diamond()).len(), 4);
        check.finish().unwrap();

        // A whole history has no base to reach.
        let mut check = RangeCheck::new(&id(2), &id(2), None).unwrap();
        admitted(&mut check, vec![commit(2, &[1]), commit(1, &[])]);
        check.finish().unwrap();
    }

    #[test]
    fn an_empty_listing_or_one_without_its_top_is_inconsistent() {
        let check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
        assert!(matches!(
            check.finish(),
            Err(SyncError::Inconsistent { .. })
        ));

        // An older range of the same history: nothing is admitted, so nothing would be written.
        let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
        assert!(admitted(&mut check, diamond().split_off(1)).is_empty());
        let error = check.finish().unwrap_err();
        assert!(error.to_string().contains("top"), "{error}");
    }

    #[test]
    fn commits_from_outside_the_range_are_never_admitted() {
        let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
        let mut commits = diamond();
        // Another project's commit, with parents of its own, in the middle of the page.
        commits.insert(2, commit(90, &[91]));
        let ids = admitted(&mut check, commits);
        assert_eq!(ids, [id(5), id(4), id(3), id(2)]);
        assert!(matches!(
            check.finish(),
            Err(SyncError::Inconsistent { .. })
        ));
    }

    #[test]
    fn the_base_must_be_the_parent_of_a_commit_read() {
        // Cut short: 2, whose parent is the base, is missing.
        let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
        admitted(&mut check, diamond()[..3].to_vec());
        let error = check.finish().unwrap_err();
        assert!(error.to_string().contains("base"), "{error}");

        // A base that is not an ancestor of the top (a wrong anchor or merge base).
        let mut check = RangeCheck::new("7..5", &id(5), Some(&id(7))).unwrap();
        admitted(&mut check, diamond());
        assert!(check.finish().is_err());
    }

    #[test]
    fn a_parent_listed_before_its_child_waits_for_it() {
        let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
        let [five, four, three, two] = <[Commit; 4]>::try_from(diamond()).unwrap();
        assert_eq!(admitted(&mut check, vec![five, two]), [id(5)]);
        // 4 makes 2 reachable; 3 is reachable from 5 already.
        assert_eq!(
            admitted(&mut check, vec![four, three]),
            [id(4), id(2), id(3)]
        );
        check.finish().unwrap();

        // But no more than a page waits: an answer from elsewhere fails early.
        let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
        let foreign: Vec<Commit> = (100..=100 + WAITING_COMMITS as u32)
            .map(|n| commit(n, &[n + 1]))
            .collect();
        assert!(matches!(
            check.admit(page(foreign)),
            Err(SyncError::Inconsistent { .. })
        ));
    }

    #[test]
    fn only_commit_ids_are_accepted() {
        for good in [id(7), "c".repeat(64)] {
            assert!(commit_key(&good).is_ok(), "{good}");
        }
        for bad in [
            "main".to_owned(),
            id(0xabc).to_uppercase(),
            id(7)[..39].to_owned(),
            format!("{}g", &id(7)[..39]),
            format!("{}..{}", &id(1)[..19], &id(2)[..19]),
            "x".repeat(1 << 20),
        ] {
            let error = commit_key(&bad).unwrap_err();
            assert!(error.to_string().len() < 200, "the detail stays short");
        }
        let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
        let mut bad_parent = commit(5, &[4]);
        bad_parent.parent_ids.push("HEAD~1".into());
        assert!(check.admit(page(vec![bad_parent])).is_err());
    }
}
