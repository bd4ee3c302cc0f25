//! Benchmark of the GitLab client: streams a large default branch from the GitLab simulator and prints requests,
//! wall time, commits/s, CPU seconds and peak RSS of the client process.
//!
//! The simulator runs in a child process (this binary re-executed with `--serve`), so the figures are the
//! client's alone. Run: `cargo run --profile profiling -p testkit --bin bench-gitlab-client -- [COMMITS]`.

use std::time::Duration;

use futures::TryStreamExt;
use shared::gitlab::{CommitQuery, ProjectRef};
use testkit::bench_support::{
    BENCH_PROJECT, BENCH_TOKEN, BenchResult, SimulatorProcess, function_runtime, measured,
    serve_as_child_or_commits,
};

fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(commits) = serve_as_child_or_commits(&args)? else {
        return Ok(());
    };
    let runtime = function_runtime()?;
    let mut server = SimulatorProcess::spawn(commits)?;
    println!(
        "GitLab client benchmark: {commits} commits, sequential pages of 100, with stats and trailers"
    );
    println!(
        "{:>10} {:>9} {:>9} {:>10} {:>9} {:>12} {:>13}",
        "latency", "requests", "wall s", "commits/s", "CPU s", "peak RSS MiB", "CPU s/100k"
    );
    for latency_ms in [0_u64, 20] {
        server.set_latency(Duration::from_millis(latency_ms))?;
        let (streamed, cost) = measured(|| runtime.block_on(stream_all(&server.base_url)));
        let (count, requests) = streamed?;
        assert_eq!(count, commits, "the client must yield every commit exactly");
        println!(
            "{:>8}ms {:>9} {:>9.2} {:>10.0} {:>9.2} {:>12.1} {:>13.2}",
            latency_ms,
            requests,
            cost.wall,
            count as f64 / cost.wall,
            cost.cpu,
            cost.peak_rss_mib,
            cost.cpu * 100_000.0 / count as f64
        );
    }
    Ok(())
}

/// Streams every commit of the default branch the way an importer without windows would: one page after another.
async fn stream_all(base_url: &str) -> BenchResult<(usize, u64)> {
    let gitlab = testkit::clients::client(base_url, BENCH_TOKEN);
    let project = ProjectRef::Id(BENCH_PROJECT);
    let head = gitlab.branch(&project, "main").await?.commit.id;
    let query = CommitQuery::history("main");
    let mut count = 0;
    let mut first = None;
    let mut pages = std::pin::pin!(gitlab.commits(&project, &query));
    while let Some(page) = pages.try_next().await? {
        if first.is_none() {
            first = page.commits.first().map(|c| c.id.clone());
        }
        count += page.commits.len();
    }
    assert_eq!(
        first.as_deref(),
        Some(head.as_str()),
        "the listing starts at the head"
    );
    Ok((count, gitlab.stats().requests))
}
