//! Benchmark of the sync worker: a first import (backfill) of a large default branch, windowed as the worker
//! does it, against a plain sequential page-by-page baseline, at 0 ms and 20 ms simulated GitLab latency.
//! Prints wall time, commits/s, GitLab requests, DynamoDB write calls, CPU seconds (also per 100,000 commits) and
//! peak RSS of this process, which is the worker alone: the simulator is a child process and moto another one, and
//! CPU and RSS are read from this process's own /proc entries (its threads included, its children not). The
//! worker runs on a single-threaded runtime, as in the Lambda function.
//!
//! Without `AWS_ENDPOINT_URL`, each case runs twice: with a store that encodes every item as the adapter does and
//! counts the `BatchWriteItem` calls it would make (the worker's own CPU), and through the real adapter and AWS SDK
//! into a write sink in the simulator child (the worker's CPU with the SDK's share, without a slow stand-in). With
//! `AWS_ENDPOINT_URL` set (run it under `scripts/with-moto`), commits go to DynamoDB on the moto server.
//! Run: `cargo run --profile profiling -p testkit --bin bench-sync -- [COMMITS] [WINDOW_CONCURRENCY]`.

use std::time::Duration;

use futures::TryStreamExt;
use shared::aws::commit_store::DynamoCommitStore;
use shared::gitlab::{CommitQuery, GitLabClient, ProjectRef};
use shared::kernel::project_key::ProjectKey;
use shared::sync::record::{ProjectOrigin, from_gitlab};
use shared::sync::{CommitStore, ProjectSync, SyncOptions, SyncOutcome, SyncTarget};
use shared::testing::{MemoryStateStore, project_key};
use testkit::aws_local::AwsStandIn;
use testkit::bench_support::{
    BENCH_PROJECT, BENCH_TOKEN, BenchResult, DroppedCommits, SimulatorProcess, function_runtime,
    measured, serve_as_child_or_commits,
};
use time::OffsetDateTime;

fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(commits) = serve_as_child_or_commits(&args)? else {
        return Ok(());
    };
    let runtime = function_runtime()?;
    let options = SyncOptions {
        concurrency: args
            .get(2)
            .and_then(|n| n.parse().ok())
            .unwrap_or(SyncOptions::default().concurrency),
        ..SyncOptions::default()
    };
    let mut server = SimulatorProcess::spawn(commits)?;
    let moto = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(_) => Some(runtime.block_on(AwsStandIn::provision())?),
        Err(_) => None,
    };
    let sink = match moto {
        Some(_) => None,
        None => Some(aws_sdk_dynamodb::Client::new(
            &runtime.block_on(sink_sdk_config(&server.sink_url)),
        )),
    };
    println!(
        "Sync benchmark: first import of {commits} commits (with stats and trailers), {} windows at once",
        options.concurrency
    );
    println!(
        "{:>9} {:>8} {:>10} {:>9} {:>10} {:>9} {:>9} {:>9} {:>11} {:>12}",
        "latency",
        "store",
        "mode",
        "wall s",
        "commits/s",
        "requests",
        "db writes",
        "CPU s",
        "CPU s/100k",
        "peak RSS MiB"
    );
    let kinds: &[StoreKind] = if moto.is_some() {
        &[StoreKind::Moto]
    } else {
        &[StoreKind::Counting, StoreKind::Sink]
    };
    for latency_ms in [0_u64, 20] {
        server.set_latency(Duration::from_millis(latency_ms))?;
        for &kind in kinds {
            let mut throughputs = Vec::new();
            for mode in [Mode::Windowed, Mode::Baseline] {
                let gitlab = testkit::clients::client(&server.base_url, BENCH_TOKEN);
                let key = project_key(&format!("bench-{latency_ms}-{mode:?}"), BENCH_PROJECT);
                let dynamo = match (kind, &moto, &sink) {
                    (StoreKind::Moto, Some(aws), _) => Some(DynamoCommitStore::new(
                        aws.dynamodb.clone(),
                        aws.table("CommitsTable"),
                    )),
                    (StoreKind::Sink, _, Some(client)) => {
                        Some(DynamoCommitStore::new(client.clone(), "commits"))
                    }
                    _ => None,
                };
                let dropped = DroppedCommits::encoding();
                let (written, cost) = measured(|| match &dynamo {
                    Some(store) => runtime.block_on(mode.run(&gitlab, store, key, options)),
                    None => runtime.block_on(mode.run(&gitlab, &dropped, key, options)),
                });
                let written = written?;
                let write_calls = dynamo
                    .as_ref()
                    .map_or_else(|| dropped.write_calls(), DynamoCommitStore::write_calls);
                assert_eq!(
                    written, commits,
                    "{mode:?} must write every commit exactly once"
                );
                throughputs.push(written as f64 / cost.wall);
                println!(
                    "{:>7}ms {:>8} {:>10} {:>9.2} {:>10.0} {:>9} {:>9} {:>9.2} {:>11.2} {:>12.1}",
                    latency_ms,
                    format!("{kind:?}").to_lowercase(),
                    format!("{mode:?}").to_lowercase(),
                    cost.wall,
                    written as f64 / cost.wall,
                    gitlab.stats().requests,
                    write_calls,
                    cost.cpu,
                    cost.cpu * 100_000.0 / written as f64,
                    cost.peak_rss_mib
                );
            }
            println!(
                "{:>7}ms {:>8} windowed / baseline throughput: {:.1}x",
                latency_ms,
                format!("{kind:?}").to_lowercase(),
                throughputs[0] / throughputs[1]
            );
        }
    }
    if let Some(aws) = moto {
        runtime.block_on(aws.teardown());
    }
    Ok(())
}

/// Where the benchmark's commits go.
#[derive(Debug, Clone, Copy)]
enum StoreKind {
    /// Encoded as the adapter encodes them, then dropped: the worker's own CPU without the AWS SDK.
    Counting,
    /// The real adapter and AWS SDK, sending every `BatchWriteItem` to the simulator child's write sink.
    Sink,
    /// The real adapter and AWS SDK against DynamoDB on moto (`AWS_ENDPOINT_URL`).
    Moto,
}

/// An AWS SDK configuration that reaches the write sink only (loopback, dummy credentials).
async fn sink_sdk_config(sink_url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(sink_url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "bench", "bench", None, None, "bench",
        ))
        .load()
        .await
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// The worker's import: concurrent windows along the first-parent spine.
    Windowed,
    /// What importers without windows do: one page after another with growing offsets.
    Baseline,
}

impl Mode {
    async fn run(
        self,
        gitlab: &GitLabClient,
        store: &impl CommitStore,
        key: ProjectKey,
        options: SyncOptions,
    ) -> BenchResult<usize> {
        let target = SyncTarget {
            key,
            project: ProjectRef::Id(BENCH_PROJECT),
            path_with_namespace: "acme/app".into(),
            default_branch: "main".into(),
        };
        match self {
            Mode::Windowed => {
                let state = MemoryStateStore::default();
                let sync = ProjectSync {
                    gitlab,
                    commits: store,
                    state: &state,
                    options,
                };
                match sync.run(&target, None).await? {
                    SyncOutcome::Imported(report) => Ok(report.commits_written),
                    other => Err(format!("unexpected outcome {other:?}").into()),
                }
            }
            Mode::Baseline => {
                let origin = ProjectOrigin {
                    key: target.key.clone(),
                    path_with_namespace: target.path_with_namespace.clone(),
                    default_branch: target.default_branch.clone(),
                };
                let query = CommitQuery::history("main");
                let mut pages = std::pin::pin!(gitlab.commits(&target.project, &query));
                let mut written = 0;
                while let Some(page) = pages.try_next().await? {
                    let now = OffsetDateTime::now_utc();
                    let records: Vec<_> = page
                        .commits
                        .into_iter()
                        .map(|c| from_gitlab(c, &origin, page.stats_missing, now))
                        .collect();
                    written += records.len();
                    store.put(records).await?;
                }
                Ok(written)
            }
        }
    }
}
