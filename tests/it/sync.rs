//! The sync of one project against the GitLab simulator over real HTTP, with in-memory stores; every scenario is
//! checked against git's own answer (`git rev-list`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use shared::gitlab::{CommitQuery, GitLabClient, GitLabError, MergeBase, ProjectRef};
use shared::kernel::project_key::ProjectKey;
use shared::sync::{ProjectSync, SyncError, SyncOptions, SyncOutcome, SyncTarget};
use shared::testing::{MemoryCommitStore, MemoryStateStore, project_key};
use testkit::clients::client;
use testkit::git_fixture::{CommitSpec, GitRepo};
use testkit::gitlab_sim::{
    Fault, FaultMix, Hostile, OneProject, Rewrite, Simulator, World, routes,
};
use tokio::time::Instant;

const TOKEN: &str = "glpat-sync-test-token";
const EPOCH: i64 = 1_600_000_000;

struct Fixture {
    sim: Simulator,
    repo: GitRepo,
    project_id: u64,
    gitlab: GitLabClient,
    commits: MemoryCommitStore,
    state: MemoryStateStore,
}

impl Fixture {
    async fn new(repo: GitRepo) -> Fixture {
        let OneProject { world, project, .. } = World::one_project(TOKEN, Some(repo.path()));
        let project_id = project;
        let sim = Simulator::start(world).await.expect("simulator");
        let gitlab = client(&sim.base_url(), TOKEN);
        Fixture {
            sim,
            repo,
            project_id,
            gitlab,
            commits: MemoryCommitStore::default(),
            state: MemoryStateStore::default(),
        }
    }

    /// The project of [`history`]`(commits)`, imported once.
    async fn imported(commits: usize) -> Fixture {
        let f = Fixture::new(history(commits)).await;
        imported(f.sync("main").await.unwrap());
        f
    }

    fn key(&self) -> ProjectKey {
        project_key("conn-1", self.project_id)
    }

    fn target(&self, default_branch: &str) -> SyncTarget {
        SyncTarget {
            key: self.key(),
            project: ProjectRef::Id(self.project_id),
            path_with_namespace: "acme/app".into(),
            default_branch: default_branch.into(),
        }
    }

    async fn sync(&self, default_branch: &str) -> Result<SyncOutcome, SyncError> {
        self.sync_until(default_branch, None).await
    }

    async fn sync_until(
        &self,
        default_branch: &str,
        deadline: Option<Instant>,
    ) -> Result<SyncOutcome, SyncError> {
        ProjectSync {
            gitlab: &self.gitlab,
            commits: &self.commits,
            state: &self.state,
            options: SyncOptions::default(),
        }
        .run(&self.target(default_branch), deadline)
        .await
    }

    /// The next sync of `branch` imports, and leaves the table equal to git ([`Fixture::assert_matches_git`]).
    async fn import_matching_git(&self, branch: &str) -> shared::sync::SyncReport {
        let report = imported(self.sync(branch).await.unwrap());
        self.assert_matches_git(branch);
        report
    }

    /// The table's live commits equal git's history of `branch`, as a set (each once: keys are unique).
    fn assert_matches_git(&self, branch: &str) {
        let mut oracle = self.repo.rev_list(&[branch]);
        oracle.sort();
        assert_eq!(self.commits.live_shas(&self.key()), oracle);
    }

    /// Renames the default branch `main` to `trunk`, in git and in GitLab's project.
    fn rename_main_to_trunk(&self) {
        self.repo.rename_branch("main", "trunk");
        let id = self.project_id;
        self.sim
            .with_world(|w| w.project_mut(id).default_branch = "trunk".into());
    }

    fn last_head(&self) -> Option<String> {
        self.state.state(&self.key()).last_head
    }

    /// The next `n` commit listings are rewritten by `rewrite`.
    fn rewrite_commits(&self, n: u32, rewrite: impl Fn(Value) -> Value + Send + Sync + 'static) {
        let rewrite: Rewrite = Arc::new(rewrite);
        self.sim.fail_next(
            routes::COMMITS,
            n,
            Fault::Hostile(Hostile::Rewrite(rewrite)),
        );
    }
}

/// The commits of a listing as another project would have them: every id and parent id changed (reversed), so
/// the page is a consistent history, but not of this range.
fn another_projects(mut page: Value) -> Value {
    let reversed = |id: &Value| {
        json!(
            id.as_str()
                .unwrap_or_default()
                .chars()
                .rev()
                .collect::<String>()
        )
    };
    for commit in page.as_array_mut().into_iter().flatten() {
        commit["id"] = reversed(&commit["id"]);
        let parents: Vec<Value> = commit["parent_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .map(reversed)
            .collect();
        commit["parent_ids"] = json!(parents);
    }
    page
}

fn inconsistent(outcome: Result<SyncOutcome, SyncError>) -> String {
    match outcome {
        Err(SyncError::Inconsistent { detail }) => detail,
        other => panic!("expected an inconsistent answer, got {other:?}"),
    }
}

fn imported(outcome: SyncOutcome) -> shared::sync::SyncReport {
    match outcome {
        SyncOutcome::Imported(report) => report,
        other => panic!("expected an import, got {other:?}"),
    }
}

/// A repository with `n` fast-imported commits (merges every 10th) and its work tree checked out.
fn history(n: usize) -> GitRepo {
    let repo = GitRepo::init("main");
    repo.fast_import_history("main", n, Some(10));
    repo.reset_hard("main");
    repo
}

#[tokio::test]
async fn first_import_then_unchanged_then_new_commits() {
    let f = Fixture::new(history(3_000)).await;
    let report = imported(f.sync("main").await.unwrap());
    assert!(
        report.windows > 1,
        "a large history is cut into windows: {report:?}"
    );
    f.assert_matches_git("main");
    // Windows partition the history: no commit fetched twice.
    assert_eq!(report.commits_written, 3_000);

    // Unchanged: exactly one GitLab request (the branch head) and no writes at all.
    f.sim.reset_counts();
    let (puts, state_writes) = (f.commits.put_calls(), f.state.writes());
    assert_eq!(f.sync("main").await.unwrap(), SyncOutcome::Unchanged);
    assert_eq!(f.sim.total_requests(), 1);
    assert_eq!(
        (f.commits.put_calls(), f.state.writes()),
        (puts, state_writes)
    );

    // New commits: only those are fetched.
    f.repo.fast_import_history("main", 40, None);
    let report = f.import_matching_git("main").await;
    assert_eq!(report.commits_written, 40);
    f.sim.shutdown().await;
}

#[tokio::test]
async fn a_merge_of_commits_dated_before_the_last_sync_is_imported() {
    let f = Fixture::imported(200).await;
    // A branch made long ago, with commits dated before the first sync, merged only now.
    let old_base = f.repo.rev_list(&["--first-parent", "main"])[150].clone();
    f.repo.checkout_new("feature", &old_base);
    let mut feature = Vec::new();
    for i in 0..5 {
        feature.push(
            f.repo
                .commit(CommitSpec::new(&format!("old work {i}"), EPOCH + 100 + i)),
        );
    }
    f.repo.checkout("main");
    f.repo
        .merge("feature", "Merge old feature", EPOCH + 1_000_000);
    let report = imported(f.sync("main").await.unwrap());
    assert_eq!(
        report.commits_written, 6,
        "five old-dated commits and the merge"
    );
    f.assert_matches_git("main");
    let live = f.commits.live_shas(&f.key());
    assert!(feature.iter().all(|sha| live.contains(sha)));
    f.sim.shutdown().await;
}

#[tokio::test]
async fn a_force_push_marks_what_left_and_imports_what_came() {
    let f = Fixture::imported(120).await;
    let before = f.repo.rev_list(&["main"]);
    let rewind_to = f.repo.rev_list(&["--first-parent", "main"])[5].clone();
    f.repo.reset_hard(&rewind_to);
    for i in 0..3 {
        f.repo.commit(CommitSpec::new(
            &format!("rewritten {i}"),
            EPOCH + 10_000_000 + i,
        ));
    }
    let report = imported(f.sync("main").await.unwrap());
    let after = f.repo.rev_list(&["main"]);
    let mut left: Vec<String> = before
        .into_iter()
        .filter(|sha| !after.contains(sha))
        .collect();
    left.sort();
    assert!(!left.is_empty());
    assert_eq!(f.commits.removed_shas(&f.key()), left);
    assert_eq!(report.commits_removed, left.len());
    f.assert_matches_git("main");
    f.sim.shutdown().await;
}

impl Fixture {
    /// Force-pushes `main` (see [`GitRepo::force_push`]) and prunes what left, so that GitLab no longer knows the
    /// imported head: asked for the merge base of it and the new head, GitLab answers 400 `Could not find ref`. Returns the commits that left.
    async fn force_push_and_prune(&self, back: usize, commits: i64) -> Vec<String> {
        let old_head = self.last_head().expect("an imported head");
        let left = self.repo.force_push("main", back, commits);
        self.repo.prune_unreachable();
        let merge_base = self
            .gitlab
            .merge_base(
                &ProjectRef::Id(self.project_id),
                &old_head,
                &self.repo.head(),
            )
            .await;
        assert!(
            matches!(merge_base, Ok(MergeBase::UnknownRef)),
            "{merge_base:?}"
        );
        left
    }

    /// The commits that left are marked removed, nothing else is, and the live ones are git's.
    fn assert_reconciled(&self, left: &[String]) {
        assert!(!left.is_empty());
        assert_eq!(self.commits.removed_shas(&self.key()), left);
        self.assert_matches_git("main");
        assert_eq!(self.last_head(), Some(self.repo.head()));
        assert_eq!(self.state.state(&self.key()).job, None);
    }
}

#[tokio::test]
async fn a_force_push_whose_old_head_is_pruned_marks_what_left_by_reconciling() {
    let f = Fixture::imported(120).await;
    let left = f.force_push_and_prune(5, 3).await;
    let report = imported(f.sync("main").await.unwrap());
    assert_eq!(report.commits_removed, left.len());
    assert_eq!(report.commits_written, f.repo.rev_list(&["main"]).len());
    f.assert_reconciled(&left);
    // Reconciled once: the next sync has nothing to do.
    assert_eq!(f.sync("main").await.unwrap(), SyncOutcome::Unchanged);
    f.sim.shutdown().await;
}

#[tokio::test]
async fn a_windowed_reimport_over_a_pruned_head_reconciles_once_its_last_window_is_done() {
    let f = Fixture::imported(3_000).await;
    let left = f.force_push_and_prune(40, 10).await;
    let (mut continuations, mut removed) = (0, 0);
    // Bounded: each run imports one window at the least, and about three cover the branch.
    for _ in 0..50 {
        match f.sync_until("main", Some(Instant::now())).await.unwrap() {
            SyncOutcome::Continue(report) => {
                continuations += 1;
                assert_eq!(
                    report.commits_removed, 0,
                    "nothing is marked before the end"
                );
                let job = f.state.state(&f.key()).job.expect("a checkpoint");
                assert!(
                    job.reconcile_since.is_some(),
                    "the checkpoint keeps its start"
                );
                assert!(f.commits.removed_shas(&f.key()).is_empty());
            }
            SyncOutcome::Imported(report) => {
                removed = report.commits_removed;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        continuations >= 1,
        "the re-import was windowed and continued"
    );
    assert_eq!(removed, left.len());
    f.assert_reconciled(&left);
    f.sim.shutdown().await;
}

#[tokio::test]
async fn a_renamed_default_branch_is_followed() {
    let f = Fixture::imported(50).await;
    f.rename_main_to_trunk();
    f.repo
        .commit(CommitSpec::new("on trunk", EPOCH + 9_000_000));
    // The scheduler's message still says "main": the worker finds the new default branch itself.
    let report = imported(f.sync("main").await.unwrap());
    assert_eq!(report.default_branch, "trunk");
    assert_eq!(report.commits_written, 1);
    f.assert_matches_git("trunk");
    f.sim.shutdown().await;
}

/// A rename that leaves the head where it was is a legitimate state, not a lie: the range `H..H` is empty, nothing
/// is asked or written, the new branch is recorded, and what lands on it later is imported.
#[tokio::test]
async fn a_renamed_default_branch_with_the_same_head_is_unchanged_then_followed() {
    let f = Fixture::imported(20).await;
    let head = f.last_head();
    f.rename_main_to_trunk();
    let puts = f.commits.put_calls();
    let merge_bases = f.sim.request_count(routes::MERGE_BASE);
    let report = imported(f.sync("main").await.unwrap());
    assert_eq!(
        f.sim.request_count(routes::MERGE_BASE),
        merge_bases,
        "a head compared with itself is not a question for GitLab"
    );
    assert_eq!(report.default_branch, "trunk");
    assert_eq!(report.commits_written, 0);
    assert_eq!(f.commits.put_calls(), puts, "an empty range writes nothing");
    assert_eq!(f.last_head(), head);
    assert_eq!(
        f.state.state(&f.key()).default_branch.as_deref(),
        Some("trunk")
    );
    // The scheduler now says "trunk": nothing to do, one request.
    assert_eq!(f.sync("trunk").await.unwrap(), SyncOutcome::Unchanged);
    f.repo
        .commit(CommitSpec::new("on trunk", EPOCH + 9_000_000));
    let report = f.import_matching_git("trunk").await;
    assert_eq!(report.commits_written, 1);
    f.sim.shutdown().await;
}

/// Git allows any date, and GitLab writes it in the commit's own offset: a head dated `9999-12-31T20:00:00-05:00`
/// (year 10000 in UTC) is planned and imported like any other, as are commits with that date.
#[tokio::test]
async fn dates_past_year_9999_in_utc_are_imported_not_a_panic() {
    const PAST_9999: &str = "9999-12-31T20:00:00.000-05:00";
    let f = Fixture::new(history(1_200)).await;
    // A range too long to read in order: its windows are planned back from the head's date.
    f.sim.fail_next(
        routes::BRANCH,
        1,
        Fault::Hostile(Hostile::Rewrite(Arc::new(|mut branch: Value| {
            branch["commit"]["committed_date"] = json!(PAST_9999);
            branch
        }))),
    );
    // Every listing, the windows' included.
    f.rewrite_commits(1_000, |mut page| {
        for commit in page.as_array_mut().into_iter().flatten() {
            commit["committed_date"] = json!(PAST_9999);
        }
        page
    });
    f.import_matching_git("main").await;
    let late = f
        .commits
        .project(&f.key())
        .into_values()
        .filter(|r| r.committed_date == "9999-12-31T20:00:00-05:00")
        .collect::<Vec<_>>();
    assert!(!late.is_empty());
    for record in late {
        // The index key is clamped to what RFC 3339 writes in UTC; GitLab's value is kept exactly.
        assert_eq!(record.committed_at, "9999-12-31T23:59:59.999999999Z");
    }
    f.sim.shutdown().await;
}

#[tokio::test]
async fn an_empty_repository_imports_nothing_and_a_missing_one_is_an_error() {
    let f = Fixture::new(GitRepo::init("main")).await;
    assert_eq!(f.sync("main").await.unwrap(), SyncOutcome::EmptyRepository);
    assert_eq!(f.commits.put_calls(), 0);
    let id = f.project_id;
    f.sim.with_world(|w| w.project_mut(id).repo = None);
    let error = f.sync("main").await.unwrap_err();
    assert!(
        matches!(error, SyncError::GitLab(GitLabError::NotFound { .. })),
        "{error:?}"
    );
    f.sim.shutdown().await;
}

#[tokio::test]
async fn two_roots_non_ascii_trailers_and_stats_are_kept() {
    let repo = GitRepo::init("main");
    repo.commit(
        CommitSpec::new(
            "Première version\n\nCorps du message\nsur plusieurs lignes.\n\nCo-authored-by: Zoë Ångström <zoe@example.com>\nCo-authored-by: 李雷 <li@example.com>\n",
            EPOCH,
        )
        .author("Jürgen Groß", "jurgen@example.com")
        .tz("+0300")
        .file("src/main.rs", "fn main() {}\n"),
    );
    repo.orphan("other");
    repo.commit(CommitSpec::new("second root", EPOCH + 10).file("b.txt", "b\n"));
    repo.checkout("main");
    repo.merge_unrelated("other", "join roots", EPOCH + 20);
    let f = Fixture::new(repo).await;
    f.import_matching_git("main").await;
    let records = f.commits.project(&f.key());
    let roots: Vec<_> = records
        .values()
        .filter(|r| r.parent_ids.is_empty())
        .collect();
    assert_eq!(roots.len(), 2);
    let first = records
        .values()
        .find(|r| r.title == "Première version")
        .expect("non-ASCII title");
    assert_eq!(first.author_name, "Jürgen Groß");
    assert!(first.message.contains("sur plusieurs lignes."));
    assert_eq!(first.extended_trailers["Co-authored-by"].len(), 2);
    assert!(
        first.authored_date.ends_with("+03:00"),
        "{}",
        first.authored_date
    );
    assert_eq!(
        (first.additions, first.deletions, first.total_changes),
        (Some(1), Some(0), Some(1))
    );
    assert!(!first.stats_missing);
    f.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_under_the_fault_mix_equals_git() {
    let f = Fixture::new(history(4_000)).await;
    f.sim.set_fault_mix(FaultMix {
        server_error: 0.10,
        rate_limited: 0.05,
        reset: 0.01,
        truncated: 0.01,
        seed: 7,
    });
    // The seed fixes the faults' sequence, not which request meets each one (requests run concurrently), so now
    // and then a request meets more faults in a row than its retries absorb. The message is then delivered again,
    // as the queue does (up to `SyncMaxReceiveCount` times), and the sync resumes from what it recorded.
    let mut deliveries = 0;
    let outcome = loop {
        deliveries += 1;
        match f.sync("main").await {
            Err(SyncError::GitLab(error)) if error.is_transient() && deliveries < 5 => continue,
            outcome => break outcome,
        }
    };
    imported(outcome.unwrap());
    f.assert_matches_git("main");
    f.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_message_twice_at_once_ends_in_one_state() {
    let f = Fixture::new(history(1_500)).await;
    let (a, b) = tokio::join!(f.sync("main"), f.sync("main"));
    let outcomes = [a, b];
    let won = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(SyncOutcome::Imported(_))))
        .count();
    let superseded = outcomes
        .iter()
        .filter(|o| matches!(o, Err(SyncError::Superseded)))
        .count();
    assert_eq!((won, superseded), (1, 1), "{outcomes:?}");
    f.assert_matches_git("main");
    assert_eq!(f.sync("main").await.unwrap(), SyncOutcome::Unchanged);
    f.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_deadline_finishes_a_100k_backfill_through_continuations() {
    let f = Fixture::new(history(100_000)).await;
    let (mut continuations, mut written) = (0, 0);
    // Bounded: each round imports at least one window.
    for _ in 0..200 {
        match f
            .sync_until("main", Some(Instant::now() + Duration::from_millis(300)))
            .await
            .unwrap()
        {
            SyncOutcome::Continue(report) => {
                continuations += 1;
                written += report.commits_written;
            }
            SyncOutcome::Imported(report) => {
                written += report.commits_written;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        continuations >= 2,
        "the deadline cut the import: {continuations}"
    );
    assert_eq!(
        written, 100_000,
        "every commit written exactly once across continuations"
    );
    f.assert_matches_git("main");
    assert_eq!(
        f.state.state(&f.key()).job,
        None,
        "the checkpoint is cleared at the end"
    );
    f.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_window_and_redelivered_loses_nothing() {
    let f = Fixture::new(history(20_000)).await;
    // The first delivery dies after some writes: its future is dropped mid-window, like a crashed Lambda.
    let killed = tokio::select! {
        outcome = f.sync("main") => Some(outcome),
        () = async {
            // Killed once some windows are checkpointed and others are in flight.
            while f.state.state(&f.key()).job.is_none_or(|job| job.done.len() < 3) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        } => None,
    };
    assert!(
        killed.is_none(),
        "the first delivery must be cut short for this test to mean anything"
    );
    let checkpoint = f.state.state(&f.key()).job.expect("a checkpoint was saved");
    assert!(checkpoint.done.len() < checkpoint.windows.len());
    // The redelivery resumes from the checkpoint and ends with exactly git's history.
    let report = imported(f.sync("main").await.unwrap());
    assert!(
        report.commits_written < 20_000,
        "finished windows are not fetched again"
    );
    f.assert_matches_git("main");
    f.sim.shutdown().await;
}

#[tokio::test]
async fn a_run_with_no_time_left_still_makes_progress() {
    let f = Fixture::new(history(3_000)).await;
    let mut written = 0;
    // Bounded: one window per run at the least, and a 3,000-commit history has about fifty.
    for round in 0..200 {
        match f.sync_until("main", Some(Instant::now())).await.unwrap() {
            SyncOutcome::Continue(report) => {
                assert!(report.commits_written > 0, "round {round} made no progress");
                written += report.commits_written;
            }
            SyncOutcome::Imported(report) => {
                written += report.commits_written;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(written, 3_000);
    f.assert_matches_git("main");
    f.sim.shutdown().await;
}

#[tokio::test]
async fn an_empty_answer_for_new_commits_moves_nothing_until_gitlab_answers_right() {
    let f = Fixture::new(history(300)).await;
    // A first import answered with a valid but empty array.
    f.sim.fail_next(
        routes::COMMITS,
        1,
        Fault::Hostile(Hostile::Body {
            status: 200,
            content_type: "application/json".into(),
            body: "[]".into(),
        }),
    );
    let detail = inconsistent(f.sync("main").await);
    assert!(detail.contains("top"), "{detail}");
    assert_eq!((f.last_head(), f.commits.put_calls()), (None, 0));
    f.import_matching_git("main").await;

    // A push answered empty: the head it names is not recorded as imported.
    let before = f.last_head();
    let pushed = f.repo.fast_import_history("main", 30, None);
    f.rewrite_commits(1, |_| json!([]));
    inconsistent(f.sync("main").await);
    assert_eq!(f.last_head(), before);
    assert_eq!(f.commits.live_shas(&f.key()).len(), 300);
    let report = f.import_matching_git("main").await;
    assert_eq!((report.commits_written, f.last_head()), (30, Some(pushed)));
    f.sim.shutdown().await;
}

#[tokio::test]
async fn a_page_from_outside_the_range_is_refused_and_none_of_it_written() {
    let f = Fixture::new(history(300)).await;
    // A first import answered with another project's commits: nothing written, nothing recorded.
    f.rewrite_commits(1, another_projects);
    inconsistent(f.sync("main").await);
    assert_eq!((f.last_head(), f.commits.put_calls()), (None, 0));
    f.import_matching_git("main").await;

    // A push answered with an older range of the same history (real commits, imported already).
    let before = f.last_head();
    let imported_at = |f: &Fixture| -> Vec<String> {
        f.commits
            .project(&f.key())
            .into_values()
            .map(|r| r.imported_at)
            .collect()
    };
    let first_import = imported_at(&f);
    let old_top = f.repo.rev_list(&["-1", "main~150"]).remove(0);
    let older = f
        .gitlab
        .commits_page(
            &ProjectRef::Id(f.project_id),
            &CommitQuery::history(old_top),
            1,
        )
        .await
        .unwrap();
    assert_eq!(older.commits.len(), 100);
    let older = serde_json::to_value(&older.commits).unwrap();
    f.repo.fast_import_history("main", 30, None);
    f.rewrite_commits(1, move |_| older.clone());
    inconsistent(f.sync("main").await);
    assert_eq!(f.last_head(), before);
    assert_eq!(
        imported_at(&f),
        first_import,
        "not one commit of the wrong page was written"
    );
    f.import_matching_git("main").await;
    f.sim.shutdown().await;
}

#[tokio::test]
async fn a_force_push_answered_from_elsewhere_marks_nothing() {
    let f = Fixture::imported(120).await;
    let before = f.last_head();
    let rewind_to = f.repo.rev_list(&["--first-parent", "main"])[5].clone();
    f.repo.reset_hard(&rewind_to);
    f.repo
        .commit(CommitSpec::new("rewritten", EPOCH + 10_000_000));
    // The listing of what left (`head..last`) comes back as another project's commits.
    f.rewrite_commits(1, another_projects);
    inconsistent(f.sync("main").await);
    assert_eq!(f.last_head(), before);
    assert!(
        f.commits.removed_shas(&f.key()).is_empty(),
        "nothing is marked on a wrong answer"
    );
    imported(f.sync("main").await.unwrap());
    assert!(!f.commits.removed_shas(&f.key()).is_empty());
    f.assert_matches_git("main");
    f.sim.shutdown().await;
}

/// What a rewrite answers instead of a real page while it is set.
type Answer = Arc<Mutex<Option<fn(Value) -> Value>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_answered_wrongly_is_planned_again_keeping_the_windows_done() {
    let f = Fixture::new(history(3_000)).await;
    // One run with no time left: the plan and its first window.
    let SyncOutcome::Continue(first) = f.sync_until("main", Some(Instant::now())).await.unwrap()
    else {
        panic!("a 3,000-commit import is windowed");
    };
    let job = f.state.state(&f.key()).job.expect("a checkpoint");
    assert_eq!(job.done.len(), 1);
    let kept: Vec<_> = f.commits.project(&f.key()).into_values().collect();
    assert_eq!(kept.len(), first.commits_written);

    // The first page of every other window (a window's listing starts with its top) comes back empty, then as
    // another project's commits.
    let tops: BTreeSet<String> = job
        .windows
        .iter()
        .enumerate()
        .filter(|(i, _)| !job.done.contains(i))
        .map(|(_, window)| window.rsplit("..").next().unwrap().to_owned())
        .collect();
    let answer = Answer::default();
    let rewrite = {
        let answer = answer.clone();
        move |page: Value| {
            let window_page = page.as_array().is_some_and(|p| p.len() > 1);
            let top = page[0]["id"].as_str().unwrap_or_default();
            match *answer.lock().unwrap() {
                Some(answer) if window_page && tops.contains(top) => answer(page),
                _ => page,
            }
        }
    };
    f.rewrite_commits(10_000, rewrite);
    let empty: fn(Value) -> Value = |_| json!([]);
    for wrong in [empty, another_projects] {
        *answer.lock().unwrap() = Some(wrong);
        inconsistent(f.sync("main").await);
        let state = f.state.state(&f.key());
        assert_eq!(state.last_head, None);
        assert!(
            state.job.is_some_and(|job| job.replan),
            "the next attempt plans again"
        );
    }

    // GitLab answers right again: the range is planned again, the same windows come out, and the one done
    // before is not fetched again.
    *answer.lock().unwrap() = None;
    let report = f.import_matching_git("main").await;
    assert!(report.commits_written < 3_000, "{report:?}");
    let records = f.commits.project(&f.key());
    assert!(
        kept.iter().all(|r| records[&r.sha] == *r),
        "the window done before was not written again"
    );
    assert_eq!(f.state.state(&f.key()).job, None);
    f.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anchors_answered_from_elsewhere_are_caught_by_their_windows() {
    let f = Fixture::new(history(3_000)).await;
    // Every one-commit answer (the spine probes) names another project's commit.
    let armed = Arc::new(AtomicBool::new(true));
    let probes = {
        let armed = armed.clone();
        move |page: Value| {
            let probe = page.as_array().is_some_and(|p| p.len() == 1);
            if armed.load(Ordering::SeqCst) && probe {
                another_projects(page)
            } else {
                page
            }
        }
    };
    f.rewrite_commits(10_000, probes);
    // The windows they bound are answered with commits from outside them, or refused (a revision GitLab does not
    // know): either way nothing counts as done and the plan is made again.
    let error = f.sync("main").await.unwrap_err();
    assert!(
        matches!(
            error,
            SyncError::Inconsistent { .. } | SyncError::GitLab(GitLabError::Transient { .. })
        ),
        "{error:?}"
    );
    armed.store(false, Ordering::SeqCst);
    assert_eq!(f.last_head(), None);
    assert!(f.state.state(&f.key()).job.is_some_and(|job| job.replan));
    f.import_matching_git("main").await;
    f.sim.shutdown().await;
}

/// A job whose plan failed, for a head the branch has since left (force-pushed away and gone for good): the next
/// run plans from the branch as it is, instead of planning the vanished head again forever.
#[tokio::test]
async fn a_failed_plan_for_a_head_that_vanished_gives_way_to_the_branch() {
    let f = Fixture::new(history(300)).await;
    let gone = "0123456789abcdef0123456789abcdef01234567".to_owned();
    let job = shared::sync::SyncJob {
        head: gone.clone(),
        default_branch: "main".into(),
        windows: vec![gone.clone()],
        done: Vec::new(),
        replan: true,
        reconcile_since: None,
    };
    use shared::sync::SyncStateStore as _;
    assert!(f.state.save_job(&f.key(), None, &job).await.unwrap());
    f.import_matching_git("main").await;
    assert_eq!(f.last_head(), Some(f.repo.head()));
    assert_eq!(f.state.state(&f.key()).job, None);
    f.sim.shutdown().await;
}
