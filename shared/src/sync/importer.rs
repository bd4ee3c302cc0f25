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
//! GitLab's answers are checked before they count as progress (see [`RangeCheck`] in `range_check`): a range's commits are
//! written only once they are reachable from its top through the parents read, and a window is checkpointed (or
//! `last_head` moved) only when its top was read, nothing read was outside it, and its base was reached. A
//! window that fails (the check, or GitLab) has its plan made again at the next attempt, since a wrong anchor may
//! be the cause.
//!
//! A force-push whose old head GitLab no longer has (the merge base answers 404) cannot list what left: the whole
//! branch is imported again, its writes stamped no earlier than its start, and once it is done every live commit
//! stamped before that start is marked removed (see `ProjectSync::reconcile`).

use futures::{StreamExt, TryStreamExt};
use time::OffsetDateTime;
use tokio::time::Instant;

use super::model::{SyncJob, SyncState};
use super::ports::{CommitStore, SyncStateStore};
use super::range_check::{Inconsistent, RangeCheck, bounds, commit_key, range};
use super::record::{ProjectOrigin, from_gitlab};
use super::windows::{RangeSample, SEQUENTIAL_PAGES};
use crate::gitlab::{
    BranchCommit, Commit, CommitQuery, GitLabClient, GitLabError, MergeBase, ProjectRef,
    RetryPolicy,
};
use crate::kernel::commit_record::CommitRecord;
use crate::kernel::project_key::ProjectKey;
use crate::kernel::store::StoreError;
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

impl From<Inconsistent> for SyncError {
    fn from(Inconsistent(detail): Inconsistent) -> Self {
        SyncError::Inconsistent { detail }
    }
}

/// An operator's re-import request that no import in progress answers yet (one answers it when it reconciles
/// from the request's time or later).
fn pending_resync(state: &SyncState) -> bool {
    let Some(requested) = state.resync_requested.as_deref() else {
        return false;
    };
    let running = state
        .job
        .as_ref()
        .and_then(|job| job.reconcile_since.as_deref());
    running.is_none_or(|since| since < requested)
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
        let mut state = self.state.load(&target.key).await?;
        // Before the head is read: a re-import request made after this is answered by a later sync.
        let started = change_stamp(OffsetDateTime::now_utc());
        let Some((branch_name, head)) = self.resolve_head(target).await? else {
            self.readable_again(target, &state).await?;
            if state.resync_requested.is_some() {
                tracing::warn!(
                    project_id = target.key.project_id,
                    "re-import requested of an empty repository: nothing to import, stored commits left as they are"
                );
                self.state.clear_resync(&target.key, &started).await?;
            }
            return Ok(SyncOutcome::EmptyRepository);
        };
        let reimport = pending_resync(&state).then_some(started);
        if reimport.is_none()
            && state.job.is_none()
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
        let stored_job = state.job.take();
        let expected = state.last_head.as_deref();
        let (job, reconcile_since) = match stored_job {
            // An operator asked for the whole branch again: whatever was planned before, plan it from the root.
            _ if reimport.is_some() => {
                let branch = (branch_name.as_str(), head.id.as_str());
                self.plan_from_branch(target, expected, branch, reimport, &mut report)
                    .await?
            }
            // A checkpointed import resumes with its own target; a newer head is the next round's business.
            Some(job) if !job.replan => {
                let since = job.reconcile_since.clone();
                (Some(job), since)
            }
            // A window of this plan failed, and the branch still points at the plan's head.
            Some(stale) if stale.head == head.id => {
                self.plan_again(target, expected, stale, &mut report)
                    .await?
            }
            // No plan, or a failed one the branch has moved away from (its head may be gone for good, so planning
            // it again could fail forever): plan from the branch as it is now; writes are idempotent.
            _ => {
                let branch = (branch_name.as_str(), head.id.as_str());
                self.plan_from_branch(target, expected, branch, None, &mut report)
                    .await?
            }
        };
        if let Some(job) = job
            && !self
                .import_job(target, expected, job, deadline, &mut report)
                .await?
        {
            return Ok(SyncOutcome::Continue(report));
        }
        if let Some(since) = &reconcile_since {
            report.commits_removed = self.reconcile(target, expected, since).await?;
            if state.resync_requested.is_some() {
                self.state.clear_resync(&target.key, since).await?;
            }
        }
        self.finish(target, expected, &head.id, report).await
    }

    /// Plans the range of a job whose window failed again (the last window's base to its head), keeping the
    /// windows done and the start of its reconciliation, which they were written after: the job to import (`None`
    /// when the range was imported on the spot) and that start.
    async fn plan_again(
        &self,
        target: &SyncTarget,
        expected: Option<&str>,
        stale: SyncJob,
        report: &mut SyncReport,
    ) -> Result<(Option<SyncJob>, Option<String>), SyncError> {
        report.head.clone_from(&stale.head);
        report.default_branch.clone_from(&stale.default_branch);
        let since = stale.reconcile_since.clone();
        let base = stale.windows.last().and_then(|w| bounds(w).0);
        let sink = self.sink(target, &stale.default_branch, since.clone());
        let job = self
            .plan(
                target,
                expected,
                &stale.head,
                base,
                Some(&stale),
                sink,
                report,
            )
            .await?;
        Ok((job, since))
    }

    /// Plans the range from the last head imported (or the root, and reconciling from the `reimport` stamp an
    /// operator's request gives, or from now when the last head is gone) to the branch's `(name, head)`: the job to
    /// import (`None` when the range was imported on the spot), and the start of its reconciliation.
    async fn plan_from_branch(
        &self,
        target: &SyncTarget,
        expected: Option<&str>,
        (branch, head): (&str, &str),
        reimport: Option<String>,
        report: &mut SyncReport,
    ) -> Result<(Option<SyncJob>, Option<String>), SyncError> {
        let start = match expected {
            _ if let Some(since) = reimport => Start::Reconcile(since),
            None => Start::At(None),
            Some(last) => {
                self.base_after_history_change(target, last, head, report)
                    .await?
            }
        };
        let (base, since) = match start {
            Start::At(base) => (base, None),
            Start::Reconcile(since) => (None, Some(since)),
        };
        let sink = self.sink(target, branch, since.clone());
        let job = self
            .plan(target, expected, head, base.as_deref(), None, sink, report)
            .await?;
        Ok((job, since))
    }

    /// Imports the job's pending windows into its sink; `false` when some are left for a continuation.
    async fn import_job(
        &self,
        target: &SyncTarget,
        expected: Option<&str>,
        mut job: SyncJob,
        deadline: Option<Instant>,
        report: &mut SyncReport,
    ) -> Result<bool, SyncError> {
        report.head.clone_from(&job.head);
        report.default_branch.clone_from(&job.default_branch);
        report.windows = job.windows.len();
        let sink = self.sink(target, &job.default_branch, job.reconcile_since.clone());
        self.import_windows(target, &sink, expected, &mut job, deadline, report)
            .await?;
        Ok(job.done.len() == job.windows.len())
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

    /// The job's head is fully imported: move `last_head` to it, conditionally. When the branch moved on from it
    /// meanwhile (to `branch_head`), the outcome says continue: another round imports the rest.
    async fn finish(
        &self,
        target: &SyncTarget,
        expected: Option<&str>,
        branch_head: &str,
        report: SyncReport,
    ) -> Result<SyncOutcome, SyncError> {
        let next = SyncState {
            last_head: Some(report.head.clone()),
            default_branch: Some(report.default_branch.clone()),
            job: None,
            access_error: None,
            resync_requested: None,
        };
        if !self.state.advance(&target.key, expected, &next).await? {
            return Err(SyncError::Superseded);
        }
        if report.head != branch_head {
            return Ok(SyncOutcome::Continue(report));
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
            .map(|(commit, stats_missing)| from_gitlab(commit, origin, stats_missing, imported_at))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn job(reconcile_since: Option<&str>) -> SyncJob {
        SyncJob {
            head: "h".into(),
            default_branch: "main".into(),
            windows: vec!["a..h".into()],
            done: Vec::new(),
            replan: false,
            reconcile_since: reconcile_since.map(str::to_owned),
        }
    }

    #[test]
    fn a_re_import_request_is_pending_until_an_import_reconciles_from_its_time_on() {
        let requested = "2026-12-07T10:00:00.000000Z";
        let state = |job: Option<SyncJob>, resync: Option<&str>| SyncState {
            job,
            resync_requested: resync.map(str::to_owned),
            ..SyncState::default()
        };
        assert!(!pending_resync(&state(None, None)));
        assert!(pending_resync(&state(None, Some(requested))));
        assert!(
            pending_resync(&state(Some(job(None)), Some(requested))),
            "an ordinary import"
        );
        let earlier = Some(job(Some("2026-12-07T09:59:59.999999Z")));
        assert!(
            pending_resync(&state(earlier, Some(requested))),
            "a reconcile begun before it"
        );
        let answering = Some(job(Some("2026-12-07T10:00:00.000001Z")));
        assert!(
            !pending_resync(&state(answering, Some(requested))),
            "the re-import it asked for"
        );
    }
}
