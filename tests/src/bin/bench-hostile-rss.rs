//! Benchmark of the GitLab client against hostile answers: the peak RSS of the client process while it reads a
//! gzip bomb that inflates to 1 GiB and a 64 MB body, each refused at the client's body cap (target: under
//! 64 MiB). For reference, the same 64 MB body read with no cap.
//!
//! The simulator runs in a child process (this binary re-executed with `--serve`), so the figures are the
//! client's alone. Run: `cargo run --release -p testkit --bin bench-hostile-rss`.

use std::time::Instant;

use shared::gitlab::{CommitQuery, GitLabClient, Limits, ProjectRef};
use testkit::bench_support::{
    BENCH_PROJECT, BENCH_TOKEN, BenchResult, SimulatorProcess, function_runtime, peak_rss_mib,
    reset_peak_rss, serve_as_child_or_commits,
};

/// Commits of the simulator's project: one ordinary page.
const COMMITS: usize = 100;

fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().collect();
    if serve_as_child_or_commits(&args)?.is_none() {
        return Ok(());
    }
    let runtime = function_runtime()?;
    let mut server = SimulatorProcess::spawn(COMMITS)?;
    let capped = testkit::clients::client(&server.base_url, BENCH_TOKEN);
    let uncapped = capped.clone().with_limits(Limits {
        max_body_bytes: u64::MAX,
    });
    println!(
        "GitLab client under hostile answers: body cap {} MiB (decompressed)",
        Limits::default().max_body_bytes >> 20
    );
    println!(
        "{:<34} {:>22} {:>8} {:>13}",
        "answer", "outcome", "wall s", "peak RSS MiB"
    );
    let measure = |name: &str, gitlab: &GitLabClient| {
        reset_peak_rss();
        let started = Instant::now();
        let outcome = runtime.block_on(first_page(gitlab));
        let wall = started.elapsed().as_secs_f64();
        println!(
            "{name:<34} {outcome:>22} {wall:>8.2} {:>13.1}",
            peak_rss_mib()
        );
    };
    measure("a page of 100 commits (baseline)", &capped);
    server.next_answer_gzip_bomb(1 << 30)?;
    measure("gzip bomb inflating to 1 GiB", &capped);
    server.next_answer_huge(64_000_000)?;
    measure("64 MB body", &capped);
    server.next_answer_huge(64_000_000)?;
    measure("64 MB body, no cap (reference)", &uncapped);
    Ok(())
}

/// Reads the first commits page with stats and trailers; the outcome is the number of commits or the error code.
async fn first_page(gitlab: &GitLabClient) -> String {
    let page = gitlab
        .commits_page(
            &ProjectRef::Id(BENCH_PROJECT),
            &CommitQuery::history("main"),
            1,
        )
        .await;
    match page {
        Ok(page) => format!("{} commits", page.commits.len()),
        Err(error) => error.code().to_owned(),
    }
}
