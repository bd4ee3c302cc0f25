//! Push hooks end to end: the simulator's pushes send GitLab's push hooks over real HTTP to the push hook handler
//! behind an API Gateway front, which queues delayed sync messages on moto's SQS; the worker imports them. No
//! scheduler tick runs between the pushes and the check.

use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::git_fixture::CommitSpec;
use testkit::gitlab_sim::DeliveryOutcome;
use testkit::local_run::CONNECTION;
use testkit::push_pipeline::PushPipeline;

async fn pipeline(name: &str) -> PushPipeline {
    PushPipeline::start(&format!("{name}{}", std::process::id()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_pushes_in_ten_seconds_make_at_most_three_syncs_and_the_table_is_git() {
    let p = pipeline("hooks50").await;
    let started = Instant::now();
    let mut last = String::new();
    for i in 0..50_u32 {
        let due = Duration::from_millis(u64::from(i) * 200);
        tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
        last = p
            .push(&format!("push {i}"), 1_700_100_000 + i64::from(i))
            .await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(11),
        "{:?}",
        started.elapsed()
    );
    let deliveries = p.sim.settled_hook_deliveries(Duration::from_secs(30)).await;
    assert_eq!(deliveries.len(), 50);
    let mut queued = 0;
    for delivery in &deliveries {
        assert!(
            matches!(
                delivery.outcome,
                DeliveryOutcome::Answered { status: 202, .. }
            ),
            "{:?}",
            delivery.outcome
        );
        queued += usize::from(delivery.payload["total_commits_count"] == 1);
    }
    assert_eq!(queued, 50);

    let drained = p.run.drain().await.unwrap();
    let syncs = drained.records.len();
    assert!(
        (1..=3).contains(&syncs),
        "{syncs} syncs: {:?}",
        drained.results
    );
    assert_eq!(drained.commits_written, 50, "{:?}", drained.results);
    assert!(
        p.run
            .wait_for_head(CONNECTION, p.project, &last, Duration::from_secs(1))
            .await
            .is_some()
    );
    assert_eq!(p.differences_from_git().await, Vec::<String>::new());

    // One mechanism: the hooks' lease keeps the next tick from sending the project again.
    let tick = p.run.pass().await.unwrap();
    assert_eq!(
        (tick.enqueued, tick.records.len()),
        (0, 0),
        "{:?}",
        tick.results
    );
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_push_costs_one_unchanged_sync_and_other_branches_nothing() {
    let p = pipeline("hooksreplay").await;
    let head = p.push("the push", 1_700_200_000).await;
    let (drained, waited) = p
        .run
        .drain_until_head(CONNECTION, p.project, &head, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(waited.is_some());
    assert_eq!(drained.commits_written, 1);
    assert_eq!(p.differences_from_git().await, Vec::<String>::new());

    // The same delivery again, after the window: one sync, unchanged, one GitLab request.
    let delivered = p.sim.settled_hook_deliveries(Duration::from_secs(10)).await;
    let payload: Value = delivered.last().unwrap().payload.clone();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let client = reqwest::Client::new();
    let url = p.hooks.url.clone();
    let send = |payload: Value, token: String| {
        client
            .post(&url)
            .header("X-Gitlab-Event", "Push Hook")
            .header("X-Gitlab-Token", token)
            .json(&payload)
            .send()
    };
    let replayed = send(payload.clone(), p.hooks.secret.clone()).await.unwrap();
    assert_eq!(replayed.status(), 202);
    let drained = p.run.drain().await.unwrap();
    let results: Vec<(&str, u64)> = drained
        .records
        .iter()
        .map(|r| (r.result(), r.stats.requests))
        .collect();
    assert_eq!(results, vec![("unchanged", 1)]);

    // A push to another branch is answered and queues nothing.
    let pushed = p
        .sim
        .push(p.project, "feature", |_| {
            p.repo.checkout_new("feature", "main");
            p.repo.commit(CommitSpec::new("on a branch", 1_700_300_000));
            p.repo.checkout("main");
        })
        .await;
    assert_ne!(pushed.after, pushed.before);
    let deliveries = p.sim.settled_hook_deliveries(Duration::from_secs(10)).await;
    assert!(matches!(
        deliveries.last().unwrap().outcome,
        DeliveryOutcome::Answered { status: 202, .. }
    ));
    let wrong = send(payload, "0".repeat(64)).await.unwrap();
    assert_eq!(wrong.status(), 401);
    let drained = p.run.drain().await.unwrap();
    assert!(drained.records.is_empty(), "{:?}", drained.results);
    assert_eq!(p.differences_from_git().await, Vec::<String>::new());
    p.stop().await;
}
