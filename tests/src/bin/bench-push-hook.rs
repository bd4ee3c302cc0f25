//! Benchmark of push hooks: how long a push to the default branch takes to be in the commits table, with no
//! scheduler tick in between. The simulator's push sends GitLab's push hook over real HTTP to the push hook handler
//! (behind an API Gateway front on loopback), which queues a sync message on the stand-in's SQS; the worker drains
//! it as the SQS event source would. Lone pushes first: each waits for its commit, and comes a coalescing window
//! (`PUSH_COALESCE_SECONDS`, 5 s by default) and a second after the project's last message, so it is queued at
//! once (the leading edge). Then a burst: 50 pushes in 10 s, and how many syncs they cost.
//!
//! Prints p50, p95 and max of push-to-table, and the burst's syncs, GitLab requests and a check against git.
//! Run: `scripts/with-moto cargo run --profile profiling -p testkit --bin bench-push-hook -- [PUSHES]`.

use std::time::{Duration, Instant};

use testkit::bench_support::BenchResult;
use testkit::local_run::CONNECTION;
use testkit::push_pipeline::PushPipeline;

/// Lone pushes start this far apart: the coalescing window and a second, so each follows a quiet spell.
const LONE_SPACING: Duration = Duration::from_secs(6);

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> BenchResult<()> {
    let pushes: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        return Err("run it under scripts/with-moto (it needs the AWS stand-in)".into());
    }
    let p = PushPipeline::start(&format!("bench-hooks-{}", std::process::id())).await?;
    println!(
        "Push hook benchmark: {pushes} lone pushes to one project's default branch, {} s apart",
        LONE_SPACING.as_secs()
    );
    let mut latencies = Vec::new();
    let (mut syncs, mut requests) = (0, 0);
    // The pipeline's first import sent a message just now: the first push waits out a quiet spell too.
    let mut last_push = Instant::now();
    for i in 0..pushes {
        tokio::time::sleep(LONE_SPACING.saturating_sub(last_push.elapsed())).await;
        let started = Instant::now();
        last_push = started;
        let head = p.push(&format!("push {i}"), 1_700_100_000 + i as i64).await;
        let pushed_in = started.elapsed();
        let (drained, waited) = p
            .run
            .drain_until_head(CONNECTION, p.project, &head, Duration::from_secs(60))
            .await?;
        let waited = waited.ok_or("a push did not reach the table within 60 s")?;
        syncs += drained.records.len();
        requests += drained.sync_requests;
        latencies.push(pushed_in + waited);
    }
    latencies.sort();
    let secs = |d: Duration| d.as_secs_f64();
    println!(
        "  push to table: p50 {:.2} s, p95 {:.2} s, min {:.2} s, max {:.2} s ({} syncs, {} GitLab requests)",
        secs(percentile(&latencies, 50)),
        secs(percentile(&latencies, 95)),
        secs(latencies[0]),
        secs(latencies[latencies.len() - 1]),
        syncs,
        requests
    );

    tokio::time::sleep(LONE_SPACING).await;
    let started = Instant::now();
    for i in 0..50_u32 {
        let due = Duration::from_millis(u64::from(i) * 200);
        tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
        p.push(&format!("burst {i}"), 1_700_200_000 + i64::from(i))
            .await;
    }
    let pushed_in = started.elapsed();
    let drained = p.run.drain().await?;
    let differences = p.differences_from_git().await;
    println!(
        "  burst: 50 pushes in {:.1} s -> {} syncs, {} commits, {} GitLab requests; table vs git: {}",
        secs(pushed_in),
        drained.records.len(),
        drained.commits_written,
        drained.sync_requests,
        if differences.is_empty() {
            "equal".to_owned()
        } else {
            format!("{} differences", differences.len())
        }
    );
    p.stop().await;
    Ok(())
}
