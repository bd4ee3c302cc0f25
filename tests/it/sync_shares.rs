//! What one sync may take from the others: its share of the invocation (a record whose planning or rate-limit
//! wait outlasts the share is handed back, and the next record of the batch still syncs), and its part of the
//! token's GitLab budget (concurrent worker processes of one token pace together, through the state table).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use shared::gitlab::budget::GITLAB_COM_REQUESTS_PER_MINUTE;
use shared::sync::worker::TimeBudget;
use shared::sync::{ProjectSync, SyncOptions};
use shared::testing::{MemoryCommitStore, MemoryStateStore};
use testkit::aws_local::AwsStandIn;
use testkit::clients::fast_retry;
use testkit::git_fixture::GitRepo;
use testkit::gitlab_sim::{Fault, RateLimit, Simulator, routes};
use testkit::token_processes::{Pacing, process_client, projects_of_one_token};

use crate::sync_worker::env;

const TOKEN: &str = "glpat-one-token-many-processes";

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

/// GitLab requests the five processes send together: more than the limit allows in a minute, so that processes
/// that each spent the whole budget would be refused within seconds.
const REQUESTS: u64 = 2_100;

/// Five sync processes of one token (each its own connector, budget and SDK client, as five Lambda instances of
/// the worker have) sync five projects at once, over and over, against a simulator that allows the token 2,000
/// requests in any minute (a sliding window: stricter than GitLab's fixed one). About a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_sync_processes_of_one_token_stay_within_its_limit_together() {
    let aws = AwsStandIn::provision().await.expect("stand-in");
    let repo = GitRepo::init("main");
    repo.fast_import_history("main", 30, Some(10));
    let (world, targets) = projects_of_one_token(TOKEN, repo.path(), 5);
    let sim = Simulator::start(world).await.expect("simulator");
    sim.set_rate_limit(Some(RateLimit::gitlab_com().sliding()));
    let requests = AtomicU64::new(0);
    let started = std::time::Instant::now();
    let processes = targets.iter().map(|target| {
        let (requests, sim, aws) = (&requests, &sim, &aws);
        async move {
            let gitlab = process_client(
                &sim.base_url(),
                TOKEN,
                GITLAB_COM_REQUESTS_PER_MINUTE,
                Pacing::Shared(aws),
            )
            .await;
            let (commits, state) = (MemoryCommitStore::default(), MemoryStateStore::default());
            let sync = ProjectSync {
                gitlab: &gitlab,
                commits: &commits,
                state: &state,
                options: SyncOptions {
                    retry: fast_retry(),
                    ..SyncOptions::default()
                },
            };
            // The first sync imports the project; every one after reads its head (one request).
            while requests.load(Ordering::Relaxed) < REQUESTS {
                let before = gitlab.stats().requests;
                sync.run(target, None).await.expect("synced");
                requests.fetch_add(gitlab.stats().requests - before, Ordering::Relaxed);
            }
            gitlab.stats()
        }
    });
    let stats = futures::future::join_all(processes).await;
    let elapsed = started.elapsed();
    let requests = requests.into_inner();
    let rate_limited: u64 = stats.iter().map(|s| s.rate_limited).sum();
    let floor =
        Duration::from_secs(60) * u32::try_from(requests).unwrap() / GITLAB_COM_REQUESTS_PER_MINUTE;
    println!(
        "{requests} requests, {rate_limited} answered 429, in {elapsed:?} (the budget's floor: {floor:?})"
    );
    assert_eq!(rate_limited, 0, "no request was refused");
    assert_eq!(sim.rate_limit_refusals(), 0);
    sim.shutdown().await;
    aws.teardown().await;
}

/// The token's timeline on the state table: a new or idle one restarts at the floor, a busy one moves on by each
/// batch whatever the clock of the process that takes it.
#[tokio::test]
async fn the_timeline_in_the_state_table_restarts_when_idle_and_moves_on_when_busy() {
    use shared::aws::rate_bucket::DynamoSlotStore;
    use shared::gitlab::{BucketKey, SlotRequest, SlotStore};
    use shared::kernel::ids::{ConnectionId, CredentialId};

    let aws = AwsStandIn::provision().await.expect("stand-in");
    let store = DynamoSlotStore::new(aws.dynamodb.clone(), aws.table("StateTable"));
    let key = BucketKey {
        connection_id: ConnectionId::parse("c1").unwrap(),
        credential_id: CredentialId::parse("cred_1").unwrap(),
    };
    let at = |now_us: i64| SlotRequest {
        count: 10,
        interval_us: 1_000,
        now_us,
        tolerance_us: 500,
    };
    // New: the batch starts at the floor (now less the tolerance).
    assert_eq!(store.take(&key, at(1_000_000)).await, Ok(999_500));
    // Busy: the next batch starts where the last ended, even for a process whose clock is behind.
    assert_eq!(store.take(&key, at(1_000_100)).await, Ok(1_009_500));
    assert_eq!(store.take(&key, at(999_000)).await, Ok(1_019_500));
    // Idle: far behind the clock, it restarts at the floor.
    assert_eq!(store.take(&key, at(5_000_000)).await, Ok(4_999_500));
    let item = aws.state_item("CONN#c1", "RATE#cred_1").await;
    assert_eq!(item["next_slot_us"].as_n().unwrap(), "5009500");
    assert!(item.contains_key("expires_at"));
    aws.teardown().await;
}
