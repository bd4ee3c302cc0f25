//! What one sync may take from the others: its share of the invocation (a record whose planning or rate-limit
//! wait outlasts the share is handed back, and the next record of the batch still syncs), and its part of the
//! token's GitLab budget (concurrent worker processes of one token pace together, through the state table).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use shared::aws::commit_store::DynamoCommitStore;
use shared::aws::credential_store::DynamoCredentialStore;
use shared::aws::rate_bucket::DynamoSlotStore;
use shared::aws::secrets::SecretsManagerVault;
use shared::aws::sync_queue::SqsSyncQueue;
use shared::aws::sync_state_store::DynamoSyncStateStore;
use shared::gitlab::GitLabConnector;
use shared::gitlab::budget::GITLAB_COM_REQUESTS_PER_MINUTE;
use shared::sync::worker::TimeBudget;
use shared::sync::{RecordOutcome, SyncOptions, SyncOutcome, SyncWorker};
use testkit::clients::{fast_retry, local_http};
use testkit::gitlab_sim::{Fault, RateLimit, routes};

use crate::sync_worker::{Env, Worker, env};

/// The deployed budget scaled down from a 900 s timeout to 12 s: 2 s of margin, abandoned 1 s before the end, a
/// record started only with 3 s left. Two records: the first's share is 5 s.
fn scaled_budget() -> TimeBudget {
    TimeBudget {
        margin: Duration::from_secs(2),
        abort_margin: Duration::from_secs(1),
        min_record_time: Duration::from_secs(3),
    }
}

const TIME_LEFT: Duration = Duration::from_secs(12);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_wait_longer_than_the_share_defers_the_record_and_the_next_one_syncs() {
    let mut env = env(40).await;
    env.worker.budget = scaled_budget();
    let next = env.add_projects(1)[0];
    // GitLab asks the first record to wait 8 s: longer than its 5 s share, well within what the client accepts.
    env.sim.fail_next(
        routes::BRANCH,
        1,
        Fault::RateLimited {
            retry_after_secs: 8,
        },
    );
    let failures = env
        .handle(env.event(&[env.project, next], false), TIME_LEFT)
        .await;
    // Slept through, the wait would have left the next record too little time to start.
    assert_eq!(failures, [format!("message-{}", env.project)]);
    assert_eq!(env.stored_shas(next).await, env.oracle());
    assert!(env.stored_shas(env.project).await.is_empty());
    // Deferred is no error of the credential.
    assert_eq!(env.last_sync().await.last_error, None);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planning_longer_than_the_share_defers_the_record_and_the_next_one_syncs() {
    // Over five pages: the first record's sync reads five pages, then plans windows.
    let mut env = env(700).await;
    env.worker.budget = scaled_budget();
    let next = env.add_projects(1)[0];
    // The next project is imported already: its sync reads its head.
    assert!(
        env.handle(env.event(&[next], false), Duration::from_secs(900))
            .await
            .is_empty()
    );
    // The five pages that decide the first record's plan take 1.5 s each: 7.5 s, beyond its 5 s share.
    env.sim.fail_next(
        routes::COMMITS,
        5,
        Fault::Latency(Duration::from_millis(1_500)),
    );
    env.sim.reset_counts();
    let failures = env
        .handle(env.event(&[env.project, next], false), TIME_LEFT)
        .await;
    assert_eq!(failures, [format!("message-{}", env.project)]);
    assert_eq!(
        env.sim.request_count(routes::BRANCH),
        2,
        "the next record ran"
    );
    assert!(env.stored_shas(env.project).await.is_empty());
    assert!(!env.project_item(env.project).await.contains_key("job"));

    // Delivered again without the slow pages, it imports.
    env.sim.clear_faults();
    assert!(
        env.handle(env.event(&[env.project], false), Duration::from_secs(900))
            .await
            .is_empty()
    );
    assert_eq!(env.stored_shas(env.project).await, env.oracle());
    env.stop().await;
}

/// A worker process of its own: its own SDK clients, GitLab connector and request budget, as a Lambda instance
/// has; only the AWS stand-in (and so the token's timeline in the state table) is shared.
fn worker_process(env: &Env) -> Worker {
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(env.aws.dynamodb.config().clone());
    let state_table = env.aws.table("StateTable");
    let mut worker = SyncWorker::new(
        DynamoCredentialStore::new(dynamodb.clone(), state_table),
        SecretsManagerVault::new(env.aws.secrets.clone()),
        DynamoCommitStore::new(dynamodb.clone(), env.aws.table("CommitsTable")),
        DynamoSyncStateStore::new(dynamodb.clone(), state_table),
        SqsSyncQueue::new(env.aws.sqs.clone(), &env.aws.queue("SyncQueue").url),
        GitLabConnector::new(Arc::new(local_http()), GITLAB_COM_REQUESTS_PER_MINUTE)
            .with_shared_budget(Arc::new(DynamoSlotStore::new(dynamodb, state_table))),
        SyncOptions {
            retry: fast_retry(),
            ..SyncOptions::default()
        },
    );
    worker.embedded_metrics = false;
    worker
}

/// GitLab requests the five processes send together: more than the limit allows in a minute, so that processes
/// that each spent the whole budget would be refused within seconds.
const REQUESTS: u64 = 2_100;

/// Five worker processes sync five projects of one token at once, over and over, against a simulator that
/// allows 2,000 requests in any minute (a sliding window: stricter than GitLab's fixed one). About a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_worker_processes_of_one_token_stay_within_its_limit_together() {
    let env = env(30).await;
    let mut projects = vec![env.project];
    projects.extend(env.add_projects(4));
    // Each project imported once: from here each sync is one GitLab request (the head, unchanged).
    assert!(
        env.handle(env.event(&projects, false), Duration::from_secs(900))
            .await
            .is_empty()
    );
    env.sim
        .set_rate_limit(Some(RateLimit::gitlab_com().sliding()));
    let processes: Vec<Worker> = (0..5).map(|_| worker_process(&env)).collect();
    let requests = AtomicU64::new(0);
    let rate_limited = AtomicU64::new(0);
    let started = std::time::Instant::now();
    let syncs = processes.iter().zip(&projects).map(|(worker, project)| {
        let (requests, rate_limited, env) = (&requests, &rate_limited, &env);
        async move {
            while requests.load(Ordering::Relaxed) < REQUESTS {
                let report = worker.run(env.message(*project), None, 1).await;
                assert_eq!(
                    report.outcome,
                    RecordOutcome::Synced(SyncOutcome::Unchanged)
                );
                requests.fetch_add(report.stats.requests, Ordering::Relaxed);
                rate_limited.fetch_add(report.stats.rate_limited, Ordering::Relaxed);
            }
        }
    });
    futures::future::join_all(syncs).await;
    let elapsed = started.elapsed();
    let requests = requests.into_inner();
    let floor =
        Duration::from_secs(60) * u32::try_from(requests).unwrap() / GITLAB_COM_REQUESTS_PER_MINUTE;
    println!(
        "{requests} requests, {} answered 429, in {elapsed:?} (the budget's floor: {floor:?})",
        rate_limited.load(Ordering::Relaxed)
    );
    assert_eq!(rate_limited.into_inner(), 0, "no request was refused");
    assert_eq!(env.sim.rate_limit_refusals(), 0);
    env.stop().await;
}
