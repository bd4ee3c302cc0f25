//! The sync's DynamoDB adapters against the moto server through the real SDK: AWS's batch limit, idempotent
//! writes, the conditional head update, and a whole import read back from the table equal to git.

use std::collections::BTreeSet;

use shared::aws::commit_store::{DynamoCommitStore, MAX_BATCH_WRITE};
use shared::aws::sync_state_store::DynamoSyncStateStore;
use shared::gitlab::ProjectRef;
use shared::sync::{
    CommitRecord, CommitStore, ProjectKey, ProjectSync, SyncOptions, SyncOutcome, SyncState,
    SyncStateStore, SyncTarget,
};
use testkit::aws_local::AwsStandIn;
use testkit::clients::client;
use testkit::git_fixture::GitRepo;
use testkit::gitlab_sim::{OneProject, Simulator, World};

const TOKEN: &str = "glpat-dynamo-sync-token";

/// Every item of one project in the commits table: (sha, removed_at).
async fn table_commits(aws: &AwsStandIn, key: &ProjectKey) -> Vec<(String, Option<String>)> {
    aws.stored_commits(key)
        .await
        .into_iter()
        .map(|(sha, commit)| (sha, commit.removed_at))
        .collect()
}

fn record(key: &ProjectKey, sha: &str) -> CommitRecord {
    let json = serde_json::json!({
        "project_key": key.partition(), "sha": sha, "committed_at": "2024-01-01T00:00:00Z",
        "short_id": &sha[..8], "parent_ids": [], "title": "t", "message": "t\n", "message_truncated": false,
        "author_name": "a", "author_email": "a@example.com", "authored_date": "2024-01-01T02:00:00+02:00",
        "committer_name": "c", "committer_email": "c@example.com", "committed_date": "2024-01-01T00:00:00Z",
        "trailers": {}, "extended_trailers": {}, "web_url": "", "stats_missing": true,
        "project_path": "g/p", "default_branch": "main", "imported_at": "2024-02-01T00:00:00Z"
    });
    serde_json::from_value(json).unwrap()
}

#[tokio::test]
async fn batches_stay_within_aws_limits_and_rewrites_are_harmless() {
    let aws = AwsStandIn::provision().await.unwrap();
    let store = DynamoCommitStore::new(aws.dynamodb.clone(), aws.table("CommitsTable"));
    let key = ProjectKey::new("c1", 7);
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
    let removed: Vec<_> = table_commits(&aws, &key)
        .await
        .into_iter()
        .filter(|(_, removed)| removed.is_some())
        .map(|(sha, _)| sha)
        .collect();
    assert_eq!(removed, [format!("{:040x}", 3)]);
    aws.teardown().await;
}

#[tokio::test]
async fn the_head_moves_only_from_the_head_that_was_read() {
    let aws = AwsStandIn::provision().await.unwrap();
    let store = DynamoSyncStateStore::new(aws.dynamodb.clone(), aws.table("StateTable"));
    let key = ProjectKey::new("c1", 9);
    assert_eq!(store.load(&key).await.unwrap(), SyncState::default());
    let first = SyncState {
        last_head: Some("a".repeat(40)),
        default_branch: Some("main".into()),
        job: None,
        access_error: None,
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
    let aws = AwsStandIn::provision().await.unwrap();
    let repo = GitRepo::init("main");
    repo.fast_import_history("main", 1_500, Some(10));
    let OneProject {
        world,
        project: project_id,
        ..
    } = World::one_project(TOKEN, Some(repo.path()));
    let sim = Simulator::start(world).await.unwrap();
    let gitlab = client(&sim.base_url(), TOKEN);
    let commits = DynamoCommitStore::new(aws.dynamodb.clone(), aws.table("CommitsTable"));
    let state = DynamoSyncStateStore::new(aws.dynamodb.clone(), aws.table("StateTable"));
    let target = SyncTarget {
        key: ProjectKey::new("c1", project_id),
        project: ProjectRef::Id(project_id),
        path_with_namespace: "acme/app".into(),
        default_branch: "main".into(),
    };
    let sync = ProjectSync {
        gitlab: &gitlab,
        commits: &commits,
        state: &state,
        options: SyncOptions::default(),
    };
    assert!(matches!(
        sync.run(&target, None).await.unwrap(),
        SyncOutcome::Imported(_)
    ));
    let stored: BTreeSet<String> = table_commits(&aws, &target.key)
        .await
        .into_iter()
        .map(|(sha, _)| sha)
        .collect();
    let oracle: BTreeSet<String> = repo.rev_list(&["main"]).into_iter().collect();
    assert_eq!(stored, oracle);

    let calls = commits.write_calls();
    sim.reset_counts();
    assert_eq!(
        sync.run(&target, None).await.unwrap(),
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
        sync.run(&target, None).await.unwrap(),
        SyncOutcome::Unchanged
    );
    assert_eq!(state.load(&target.key).await.unwrap().access_error, None);
    let item = aws
        .state_item("CONN#c1", &format!("PROJ#{project_id}"))
        .await;
    assert!(!item.contains_key("access_error_at"), "{item:?}");
    sim.shutdown().await;
    aws.teardown().await;
}
