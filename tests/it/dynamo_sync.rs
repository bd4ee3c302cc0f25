//! The sync's DynamoDB adapters against the moto server through the real SDK: AWS's batch limit, idempotent
//! writes, an item DynamoDB refuses isolated, the conditional head update, and whole imports (commits with huge
//! trailers included) read back from the table equal to git.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use shared::aws::commit_store::{DynamoCommitStore, MAX_BATCH_WRITE};
use shared::aws::sync_state_store::DynamoSyncStateStore;
use shared::gitlab::{MergeBase, ProjectRef};
use shared::kernel::commit_record::{CommitRecord, MAX_ITEM_BYTES};
use shared::kernel::ids::ConnectionId;
use shared::kernel::project_key::ProjectKey;
use shared::kernel::time::change_stamp;
use shared::sync::{
    CommitStore, ProjectSync, SyncEnd, SyncJob, SyncOptions, SyncOutcome, SyncState,
    SyncStateStore, SyncTarget,
};
use shared::testing::project_key;
use testkit::aws_local::AwsStandIn;
use testkit::clients::client;
use testkit::git_fixture::GitRepo;
use testkit::gitlab_sim::{Fault, Hostile, OneProject, Rewrite, Simulator, World, routes};
use tokio::time::Instant;

const TOKEN: &str = "glpat-dynamo-sync-token";

/// Every item of one project in the commits table: (sha, removed_at).
async fn table_commits(aws: &AwsStandIn, key: &ProjectKey) -> Vec<(String, Option<String>)> {
    aws.stored_commits(key)
        .await
        .into_iter()
        .map(|(sha, commit)| (sha, commit.removed_at))
        .collect()
}

/// The shas of one project in the commits table, in order: the live ones, and those marked removed.
async fn live_and_removed(aws: &AwsStandIn, key: &ProjectKey) -> (Vec<String>, Vec<String>) {
    let (live, removed): (Vec<_>, Vec<_>) = table_commits(aws, key)
        .await
        .into_iter()
        .partition(|(_, removed)| removed.is_none());
    let shas = |items: Vec<(String, _)>| items.into_iter().map(|(sha, _)| sha).collect();
    (shas(live), shas(removed))
}

/// A stand-in of its own and the commit store on its commits table.
async fn commit_store() -> (AwsStandIn, DynamoCommitStore) {
    let aws = AwsStandIn::provision().await.unwrap();
    let store = DynamoCommitStore::new(aws.dynamodb.clone(), aws.table("CommitsTable"));
    (aws, store)
}

/// A stand-in of its own and the sync state store on its state table.
async fn state_store() -> (AwsStandIn, DynamoSyncStateStore) {
    let aws = AwsStandIn::provision().await.unwrap();
    let store = DynamoSyncStateStore::new(aws.dynamodb.clone(), aws.table("StateTable"));
    (aws, store)
}

fn record(key: &ProjectKey, sha: &str) -> CommitRecord {
    let json = serde_json::json!({
        "project_key": key.partition(), "sha": sha, "committed_at": "2024-01-01T00:00:00Z",
        "short_id": &sha[..8], "parent_ids": [], "title": "t", "message": "t\n",
        "author_name": "a", "author_email": "a@example.com", "authored_date": "2024-01-01T02:00:00+02:00",
        "committer_name": "c", "committer_email": "c@example.com", "committed_date": "2024-01-01T00:00:00Z",
        "trailers": {}, "extended_trailers": {}, "web_url": "", "stats_missing": true,
        "project_path": "g/p", "default_branch": "main", "imported_at": "2024-02-01T00:00:00Z"
    });
    serde_json::from_value(json).unwrap()
}

/// One project on the simulator, imported through the real DynamoDB adapters on moto.
struct Import {
    aws: AwsStandIn,
    repo: GitRepo,
    project_id: u64,
    sim: Simulator,
    gitlab: shared::gitlab::GitLabClient,
    commits: DynamoCommitStore,
    state: DynamoSyncStateStore,
    target: SyncTarget,
}

impl Import {
    /// A repository of `commits` commits (a merge every `merge_every`) behind a simulator, and the stores.
    async fn start(commits: usize, merge_every: Option<usize>) -> Import {
        let aws = AwsStandIn::provision().await.unwrap();
        let repo = GitRepo::init("main");
        repo.fast_import_history("main", commits, merge_every);
        let OneProject {
            world,
            project: project_id,
            ..
        } = World::one_project(TOKEN, Some(repo.path()));
        let sim = Simulator::start(world).await.unwrap();
        Import {
            gitlab: client(&sim.base_url(), TOKEN),
            commits: DynamoCommitStore::new(aws.dynamodb.clone(), aws.table("CommitsTable")),
            state: DynamoSyncStateStore::new(aws.dynamodb.clone(), aws.table("StateTable")),
            target: SyncTarget {
                key: project_key("c1", project_id),
                project: ProjectRef::Id(project_id),
                path_with_namespace: "acme/app".into(),
                default_branch: "main".into(),
            },
            aws,
            repo,
            project_id,
            sim,
        }
    }

    async fn stop(self) {
        self.sim.shutdown().await;
        self.aws.teardown().await;
    }

    fn sync(&self) -> ProjectSync<'_, DynamoCommitStore, DynamoSyncStateStore> {
        ProjectSync {
            gitlab: &self.gitlab,
            commits: &self.commits,
            state: &self.state,
            options: SyncOptions::default(),
        }
    }

    /// The first sync of the project, which imports it.
    async fn import_first(&self) {
        assert!(matches!(
            self.sync().run(&self.target, None).await.unwrap(),
            SyncOutcome::Imported(_)
        ));
    }

    /// The shas in the table (removed ones too) are those on git's `main`.
    async fn assert_table_equals_git(&self) {
        let stored: BTreeSet<String> = table_commits(&self.aws, &self.target.key)
            .await
            .into_iter()
            .map(|(sha, _)| sha)
            .collect();
        let oracle: BTreeSet<String> = self.repo.rev_list(&["main"]).into_iter().collect();
        assert_eq!(stored, oracle);
    }
}

#[tokio::test]
async fn batches_stay_within_aws_limits_and_rewrites_are_harmless() {
    let (aws, store) = commit_store().await;
    let key = project_key("c1", 7);
    let records: Vec<_> = (0..60)
        .map(|i| record(&key, &format!("{i:040x}")))
        .collect();
    store.put(records.clone()).await.unwrap();
    assert_eq!(
        store.write_calls(),
        3,
        "60 items in batches of at most {MAX_BATCH_WRITE}"
    );
    // A duplicate inside one call and a full rewrite: still 60 items, each once, the later duplicate kept.
    let mut again = records.clone();
    let mut later = records[0].clone();
    later.imported_at = "2024-03-01T00:00:00Z".into();
    again.push(later);
    store.put(again).await.unwrap();
    assert_eq!(
        aws.stored_commits(&key).await[&records[0].sha].imported_at,
        "2024-03-01T00:00:00Z"
    );
    let stored = table_commits(&aws, &key).await;
    assert_eq!(stored.len(), 60);
    assert_eq!(
        stored
            .iter()
            .map(|(sha, _)| sha)
            .collect::<BTreeSet<_>>()
            .len(),
        60
    );

    // Marking: known shas get removed_at, an unknown one is ignored.
    let at = time::OffsetDateTime::now_utc();
    store
        .mark_removed(&key, vec![format!("{:040x}", 3), "f".repeat(40)], at)
        .await
        .unwrap();
    let (_, removed) = live_and_removed(&aws, &key).await;
    assert_eq!(removed, [format!("{:040x}", 3)]);
    aws.teardown().await;
}

#[tokio::test]
async fn reconciling_marks_only_live_items_last_written_before_its_start() {
    let (aws, store) = commit_store().await;
    let key = project_key("c1", 8);
    let sha = |i: usize| format!("{i:040x}");
    // More than one page of the reconciling query.
    let records: Vec<_> = (0..1_100).map(|i| record(&key, &sha(i))).collect();
    store.put(records.clone()).await.unwrap();
    store
        .mark_removed(&key, vec![sha(0)], time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    // An item written before writes were stamped.
    let legacy = record(&key, &sha(5_000));
    aws.dynamodb
        .put_item()
        .table_name(aws.table("CommitsTable"))
        .set_item(Some(serde_dynamo::to_item(&legacy).unwrap()))
        .send()
        .await
        .unwrap();
    // A re-import started an hour ahead of this host's clock (another host's), and rewrote ten commits from here:
    // they are stamped at its start, not before it, so they stay live.
    let since = change_stamp(time::OffsetDateTime::now_utc() + time::Duration::hours(1));
    store
        .put_changed_from(records[1..11].to_vec(), Some(&since))
        .await
        .unwrap();
    // Another project's commits are not this reconciliation's business.
    let other = project_key("c1", 80);
    store.put(vec![record(&other, &sha(1))]).await.unwrap();

    let at = time::OffsetDateTime::now_utc();
    let marked = store
        .remove_unchanged_since(&key, &since, at)
        .await
        .unwrap();
    assert_eq!(marked, 1_100 - 1 - 10 + 1);
    let (live, _) = live_and_removed(&aws, &key).await;
    assert_eq!(live, (1..11).map(sha).collect::<Vec<_>>());
    assert_eq!(table_commits(&aws, &other).await, [(sha(1), None)]);
    assert_eq!(
        store
            .remove_unchanged_since(&key, &since, at)
            .await
            .unwrap(),
        0,
        "what is marked stays out"
    );
    aws.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_force_push_whose_old_head_is_pruned_leaves_the_table_equal_to_git() {
    let f = Import::start(1_500, Some(10)).await;
    f.import_first().await;
    let Import {
        aws, repo, target, ..
    } = &f;
    let sync = f.sync();
    let old_head = repo.head();
    let left = repo.force_push("main", 30, 5);
    repo.prune_unreachable();
    let merge_base = f
        .gitlab
        .merge_base(&target.project, &old_head, &repo.head())
        .await;
    assert!(
        matches!(merge_base, Ok(MergeBase::UnknownRef)),
        "{merge_base:?}"
    );
    // Continued from checkpoints, a window per run.
    let mut removed = None;
    for _ in 0..50 {
        match sync.run(target, Some(Instant::now())).await.unwrap() {
            SyncOutcome::Continue(_) => {}
            SyncOutcome::Imported(report) => {
                removed = Some(report.commits_removed);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(removed, Some(left.len()));
    let (live, gone) = live_and_removed(aws, &target.key).await;
    let mut oracle = repo.rev_list(&["main"]);
    oracle.sort();
    assert_eq!(live, oracle);
    assert_eq!(gone, left);
    f.stop().await;
}

#[tokio::test]
async fn the_head_moves_only_from_the_head_that_was_read() {
    let (aws, store) = state_store().await;
    let key = project_key("c1", 9);
    assert_eq!(store.load(&key).await.unwrap(), SyncState::default());
    let first = SyncState {
        last_head: Some("a".repeat(40)),
        default_branch: Some("main".into()),
        job: None,
        access_error: None,
        resync_requested: None,
    };
    assert!(store.advance(&key, None, &first).await.unwrap());
    assert!(
        !store.advance(&key, None, &first).await.unwrap(),
        "a second first import loses"
    );
    let second = SyncState {
        last_head: Some("b".repeat(40)),
        ..first.clone()
    };
    assert!(
        !store
            .advance(&key, Some(&"c".repeat(40)), &second)
            .await
            .unwrap()
    );
    assert!(
        store
            .advance(&key, first.last_head.as_deref(), &second)
            .await
            .unwrap()
    );
    assert_eq!(store.load(&key).await.unwrap(), second);
    aws.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_import_lands_in_the_table_equal_to_git() {
    let f = Import::start(1_500, Some(10)).await;
    f.import_first().await;
    f.assert_table_equals_git().await;
    let Import {
        aws,
        project_id,
        sim,
        commits,
        state,
        target,
        ..
    } = &f;
    let sync = f.sync();
    let calls = commits.write_calls();
    sim.reset_counts();
    assert_eq!(
        sync.run(target, None).await.unwrap(),
        SyncOutcome::Unchanged
    );
    assert_eq!(sim.total_requests(), 1);
    assert_eq!(
        commits.write_calls(),
        calls,
        "no writes for an unchanged project"
    );

    // A refusal recorded earlier (GitLab answered 403 once) goes at the next sync that reads the project, even
    // an unchanged one, so the scheduler stops holding it.
    state
        .mark_inaccessible(&target.key, "forbidden")
        .await
        .unwrap();
    assert_eq!(
        state
            .load(&target.key)
            .await
            .unwrap()
            .access_error
            .as_deref(),
        Some("forbidden")
    );
    assert_eq!(
        sync.run(target, None).await.unwrap(),
        SyncOutcome::Unchanged
    );
    assert_eq!(state.load(&target.key).await.unwrap().access_error, None);
    let item = aws
        .state_item("CONN#c1", &format!("PROJ#{project_id}"))
        .await;
    assert!(!item.contains_key("access_error_at"), "{item:?}");
    f.stop().await;
}

#[tokio::test]
async fn an_item_dynamodb_refuses_is_skipped_and_the_rest_of_its_page_written() {
    let (aws, store) = commit_store().await;
    let key = project_key("c1", 11);
    let mut records: Vec<_> = (0..25)
        .map(|i| record(&key, &format!("{i:040x}")))
        .collect();
    // Over DynamoDB's 400 KB, which moto enforces too: built by hand, since no record from GitLab can be.
    let oversized = |record: &mut CommitRecord| record.message = "m".repeat(500 * 1024);
    oversized(&mut records[7]);
    let refused = records[7].sha.clone();
    let skipped = store.put(records.clone()).await.unwrap();
    assert_eq!(skipped, [refused.as_str()]);
    let stored = table_commits(&aws, &key).await;
    assert_eq!(stored.len(), 24);
    assert!(stored.iter().all(|(sha, _)| *sha != refused));
    // Found by halving the batch: a bounded number of calls (here 11), not one per item.
    assert!(store.write_calls() <= 11, "{}", store.write_calls());

    // Alone, a refused item is skipped too; but a table that refuses every one of several items is failing
    // itself, and that is an error rather than commits recorded as skipped.
    assert_eq!(
        store.put(vec![records[7].clone()]).await.unwrap(),
        [refused]
    );
    let mut both = vec![records[7].clone(), records[8].clone()];
    oversized(&mut both[1]);
    let error = store.put(both).await.unwrap_err();
    assert!(error.to_string().contains("every one of 2"), "{error}");
    aws.teardown().await;
}

#[tokio::test]
async fn a_job_marked_for_a_new_plan_reads_back_marked() {
    let (aws, store) = state_store().await;
    let key = project_key("c1", 12);
    let mut job = SyncJob {
        head: "b".repeat(40),
        default_branch: "main".into(),
        windows: vec![
            format!("{}..{}", "a".repeat(40), "b".repeat(40)),
            "a".repeat(40),
        ],
        done: vec![1],
        replan: false,
        // A whole-branch re-import carries its start through checkpoints.
        reconcile_since: Some("2024-03-01T09:00:00.000000Z".into()),
    };
    assert!(store.save_job(&key, None, &job).await.unwrap());
    assert_eq!(store.load(&key).await.unwrap().job.as_ref(), Some(&job));
    job.replan = true;
    assert!(store.save_job(&key, None, &job).await.unwrap());
    assert_eq!(store.load(&key).await.unwrap().job, Some(job));
    aws.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_commits_with_300_kb_of_trailers_each_is_stored_cut_and_equal_to_git() {
    let f = Import::start(50, None).await;
    f.import_first().await;
    let Import {
        aws,
        repo,
        sim,
        target,
        ..
    } = &f;
    let sync = f.sync();

    // A push of 100 commits, listed on one page whose every commit carries 300 KB of trailers, twice over
    // (the map of last values and the list of all), as GitLab shows them.
    repo.fast_import_history("main", 100, None);
    let trailers: serde_json::Map<String, Value> = (0..30)
        .map(|i| (format!("Trailer-{i:02}"), json!("t".repeat(10 * 1024))))
        .collect();
    let extended: serde_json::Map<String, Value> = trailers
        .iter()
        .map(|(key, value)| (key.clone(), json!([value])))
        .collect();
    let heavy: Rewrite = Arc::new(move |mut page| {
        for commit in page.as_array_mut().into_iter().flatten() {
            commit["trailers"] = Value::Object(trailers.clone());
            commit["extended_trailers"] = Value::Object(extended.clone());
        }
        page
    });
    // The whole page (some 60 MB) is over the client's body limit, so it is read again in ten parts of ten
    // commits (6 MB each): all eleven answers carry the trailers.
    let commits_before = sim.request_count(routes::COMMITS);
    sim.fail_next(routes::COMMITS, 11, Fault::Hostile(Hostile::Rewrite(heavy)));
    let SyncOutcome::Imported(report) = sync.run(target, None).await.unwrap() else {
        panic!("the push is imported");
    };
    assert_eq!(report.commits_written, 100);
    assert_eq!(report.commits_skipped, Vec::<String>::new());
    // The whole page, its ten parts, and the empty page that ends a listing of exactly 100.
    assert_eq!(
        sim.request_count(routes::COMMITS) - commits_before,
        1 + 10 + 1
    );
    f.assert_table_equals_git().await;

    // Each item as DynamoDB holds it: the list of all values cut, the map of last values whole, and flagged.
    for sha in repo.rev_list(&["-100", "main"]) {
        let item = aws
            .dynamodb
            .get_item()
            .table_name(aws.table("CommitsTable"))
            .key("project_key", AttributeValue::S(target.key.partition()))
            .key("sha", AttributeValue::S(sha.clone()))
            .send()
            .await
            .unwrap()
            .item
            .expect("stored");
        let record: CommitRecord = serde_dynamo::from_item(item).unwrap();
        assert_eq!(record.truncated_fields, ["extended_trailers"], "{sha}");
        assert_eq!(record.trailers.len(), 30);
        assert!(record.extended_trailers.len() < 30);
        assert!(record.item_size() <= MAX_ITEM_BYTES);
    }
    f.stop().await;
}

/// The daily write ceiling is one count per connection and day, atomic across processes: racing reservations
/// never pass it together, a reservation that would pass it adds nothing, and each connection and day counts apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_write_reservations_never_pass_the_ceiling() {
    let (aws, state) = state_store().await;
    let reserve = |connection: &'static str, day: &'static str, writes: u64| {
        let state = &state;
        async move {
            let connection = ConnectionId::parse(connection).unwrap();
            state
                .reserve_writes(&connection, day, writes, 105)
                .await
                .unwrap()
        }
    };
    let races = (0..20).map(|_| reserve("conn-a", "2026-12-07", 10));
    let granted = futures::future::join_all(races).await;
    assert_eq!(granted.into_iter().filter(|g| *g).count(), 10);
    let count = |sk: &'static str| {
        let aws = &aws;
        async move {
            aws.state_item("CONN#conn-a", sk).await["commit_writes"]
                .as_n()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        }
    };
    assert_eq!(count("WRITES#2026-12-07").await, 100);
    let expires_at = aws.state_item("CONN#conn-a", "WRITES#2026-12-07").await["expires_at"]
        .as_n()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    let in_a_week = time::OffsetDateTime::now_utc().unix_timestamp() + 7 * 24 * 3600;
    assert!((in_a_week - 60..=in_a_week).contains(&expires_at));
    // What is left (5) is granted; one more is not, and adds nothing.
    assert!(reserve("conn-a", "2026-12-07", 5).await);
    assert!(!reserve("conn-a", "2026-12-07", 1).await);
    assert_eq!(count("WRITES#2026-12-07").await, 105);
    // A reservation larger than the ceiling itself is refused without a write.
    assert!(!reserve("conn-b", "2026-12-07", 106).await);
    // Another day, another connection: counts of their own.
    assert!(reserve("conn-a", "2026-12-08", 105).await);
    assert!(reserve("conn-b", "2026-12-07", 105).await);
    aws.teardown().await;
}

#[tokio::test]
async fn a_project_item_records_how_its_syncs_ended_and_keeps_the_newest_five_failures() {
    let (aws, store) = state_store().await;
    let key = project_key("c1", 12);
    let at = |minute: u32| format!("2026-12-07T10:{minute:02}:00Z");
    store
        .record_outcome(
            &key,
            &SyncEnd::Succeeded {
                at: at(0),
                commits: 40,
                verified_at: Some(1_796_000_000),
            },
        )
        .await
        .unwrap();
    store
        .record_outcome(
            &key,
            &SyncEnd::Succeeded {
                at: at(1),
                commits: 2,
                verified_at: None,
            },
        )
        .await
        .unwrap();
    for minute in 2..9 {
        let code = format!("code_{minute}");
        store
            .record_outcome(
                &key,
                &SyncEnd::Failed {
                    at: at(minute),
                    code,
                },
            )
            .await
            .unwrap();
    }
    let item = aws.state_item("CONN#c1", "PROJ#12").await;
    let text = |name: &str| item[name].as_s().unwrap().clone();
    assert_eq!(item["commits_written"], AttributeValue::N("42".into()));
    // Only an unchanged sync says when the table was current; an import leaves the last such time alone.
    assert_eq!(item["verified_at"], AttributeValue::N("1796000000".into()));
    assert_eq!(
        (text("last_success_at"), text("last_synced_at")),
        (at(1), at(8))
    );
    assert_eq!(
        (text("last_error"), text("last_error_at")),
        ("code_8".into(), at(8))
    );
    let failures: Vec<String> = item["recent_failures"]
        .as_l()
        .unwrap()
        .iter()
        .map(|f| f.as_m().unwrap()["code"].as_s().unwrap().clone())
        .collect();
    assert_eq!(failures, ["code_8", "code_7", "code_6", "code_5", "code_4"]);

    // A re-import request stands until an import that started at or after it has reconciled.
    let requested = change_stamp(time::OffsetDateTime::now_utc());
    let item = || aws.state_item("CONN#c1", "PROJ#12");
    aws.dynamodb
        .update_item()
        .table_name(aws.table("StateTable"))
        .key("pk", AttributeValue::S("CONN#c1".into()))
        .key("sk", AttributeValue::S("PROJ#12".into()))
        .update_expression("SET resync_requested_at = :at")
        .expression_attribute_values(":at", AttributeValue::S(requested.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        store.load(&key).await.unwrap().resync_requested.as_deref(),
        Some(requested.as_str())
    );
    store
        .clear_resync(&key, "2000-01-01T00:00:00.000000Z")
        .await
        .unwrap();
    assert!(
        item().await.contains_key("resync_requested_at"),
        "an earlier import does not answer it"
    );
    store.clear_resync(&key, &requested).await.unwrap();
    assert!(!item().await.contains_key("resync_requested_at"));
    store.clear_resync(&key, &requested).await.unwrap();
}
