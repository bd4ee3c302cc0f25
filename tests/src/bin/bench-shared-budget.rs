//! Benchmark of one token's GitLab budget across processes: five sync processes (each its own connector, budget
//! and SDK client, as five Lambda instances of the worker have) import five projects of one token at once
//! against a simulator that allows the token 2,000 requests in any minute (a sliding window, stricter than
//! GitLab's fixed one). Prints, per way of dividing the limit, the GitLab requests, the 429s, the wall time and the
//! budget's floor (requests / 2,000 a minute):
//! - `shared`: one timeline in the state table (DynamoDB on moto), what the scheduler and the worker do;
//! - `per-process`: each process at the whole limit, as before the timeline was shared;
//! - `divided`: each process at a sixth of it (the worker's maximum concurrency of five, plus the scheduler).
//!
//! Commits are encoded nowhere (the figure is GitLab's pace, not the table's). Needs the stand-in:
//! `scripts/with-moto cargo run --release -p testkit --bin bench-shared-budget -- [COMMITS_PER_PROJECT] [MODES]`
//! (default 40,000 commits each, modes `shared,per-process,divided`).

use std::time::{Duration, Instant};

use shared::gitlab::budget::GITLAB_COM_REQUESTS_PER_MINUTE;
use shared::sync::{ProjectSync, SyncOptions, SyncOutcome};
use shared::testing::MemoryStateStore;
use testkit::aws_local::AwsStandIn;
use testkit::bench_support::{BenchResult, DroppedCommits};
use testkit::git_fixture::GitRepo;
use testkit::gitlab_sim::{RateLimit, Simulator};
use testkit::token_processes::{Pacing, process_client, projects_of_one_token};

const TOKEN: &str = "glpat-bench-shared-budget";
const PROCESSES: usize = 5;

fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let commits: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(40_000);
    let modes = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "shared,per-process,divided".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let aws = AwsStandIn::provision().await?;
        let repo = GitRepo::init("main");
        repo.fast_import_history("main", commits, Some(20));
        let (world, targets) = projects_of_one_token(TOKEN, repo.path(), PROCESSES);
        let sim = Simulator::start(world).await?;
        println!(
            "{PROCESSES} processes of one token import {commits} commits each, against 2,000 requests in any minute"
        );
        println!(
            "{:>12} {:>9} {:>6} {:>8} {:>8} {:>9}",
            "pacing", "requests", "429s", "wall s", "floor s", "wall/floor"
        );
        for (i, mode) in modes.split(',').enumerate() {
            if i > 0 {
                // Let the sliding window empty before the next mode.
                tokio::time::sleep(Duration::from_secs(61)).await;
            }
            let pacing = match mode {
                "shared" => Pacing::Shared(&aws),
                "per-process" => Pacing::PerProcess,
                "divided" => Pacing::Divided(PROCESSES as u32 + 1),
                other => return Err(format!("unknown mode {other:?}").into()),
            };
            // A fresh window for each mode.
            sim.set_rate_limit(Some(RateLimit::gitlab_com().sliding()));
            let started = Instant::now();
            let imports = targets.iter().map(|target| {
                let sim = &sim;
                async move {
                    let gitlab = process_client(
                        &sim.base_url(),
                        TOKEN,
                        GITLAB_COM_REQUESTS_PER_MINUTE,
                        pacing,
                    )
                    .await;
                    let state = MemoryStateStore::default();
                    let sync = ProjectSync {
                        gitlab: &gitlab,
                        commits: &DroppedCommits::default(),
                        state: &state,
                        options: SyncOptions::default(),
                    };
                    let outcome = sync.run(target, None).await;
                    (outcome, gitlab.stats())
                }
            });
            let results = futures::future::join_all(imports).await;
            let wall = started.elapsed();
            let (mut requests, mut rate_limited) = (0, 0);
            for (outcome, stats) in results {
                match outcome {
                    Ok(SyncOutcome::Imported(report)) if report.commits_written == commits => {}
                    other => return Err(format!("{mode}: {other:?}").into()),
                }
                requests += stats.requests;
                rate_limited += stats.rate_limited;
            }
            let floor = Duration::from_secs(60) * u32::try_from(requests)?
                / GITLAB_COM_REQUESTS_PER_MINUTE;
            println!(
                "{:>12} {:>9} {:>6} {:>8.1} {:>8.1} {:>9.3}",
                mode,
                requests,
                rate_limited,
                wall.as_secs_f64(),
                floor.as_secs_f64(),
                wall.as_secs_f64() / floor.as_secs_f64()
            );
        }
        sim.shutdown().await;
        aws.teardown().await;
        Ok(())
    })
}
