//! Benchmark of the GitLab client against hostile answers: the peak RSS of the client process while it reads a
//! gzip bomb that inflates to 1 GiB and a 64 MB body, each refused at the client's body cap (target: under
//! 64 MiB). For reference, the same 64 MB body read with no cap. Then 16 commit pages of 8 MiB each, read at
//! once as the sync worker's 16 windows read them and each held while its commits are written (1 s here):
//! within the default memory budget that all of a process's answers share, and with no budget for reference.
//!
//! The simulator runs in a child process (this binary re-executed with `--serve`), so the figures are the
//! client's alone. Run: `cargo run --release -p testkit --bin bench-hostile-rss`.

use std::time::Duration;

use shared::gitlab::{CommitQuery, GitLabClient, Limits, MemoryBudget, ProjectRef, RetryPolicy};
use testkit::bench_support::{
    BENCH_PROJECT, BENCH_TOKEN, BenchResult, Cost, SimulatorProcess, function_runtime, measured,
    serve_as_child_or_commits,
};

/// Commits of the simulator's project: one ordinary page.
const COMMITS: usize = 100;
/// Concurrent windows of one sync (`SyncOptions::concurrency`).
const WINDOWS: u32 = 16;
/// A commit message that makes a page of 100 commits just under the 8 MiB body cap.
const FAT_MESSAGE: usize = 80 * 1024;
/// How long each window keeps its page, as the worker does while it writes the page's commits.
const HOLD: Duration = Duration::from_secs(1);

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
        let (outcome, cost) = measured(|| runtime.block_on(first_page(gitlab)));
        print_row(name, &outcome, cost);
    };
    measure("a page of 100 commits (baseline)", &capped);
    server.next_answer_gzip_bomb(1 << 30)?;
    measure("gzip bomb inflating to 1 GiB", &capped);
    server.next_answer_huge(64_000_000)?;
    measure("64 MB body", &capped);
    server.next_answer_huge(64_000_000)?;
    measure("64 MB body, no cap (reference)", &uncapped);

    // As the sync worker's client: the default retry policy, one memory budget for all windows.
    let worker = testkit::clients::client_with(
        &testkit::clients::local_http(),
        &server.base_url,
        BENCH_TOKEN,
        None,
        RetryPolicy::default(),
    );
    println!(
        "\n{WINDOWS} concurrent commit pages of 100 commits with {} KiB messages (~8 MiB a body), each held {} ms",
        FAT_MESSAGE >> 10,
        HOLD.as_millis()
    );
    println!(
        "{:<34} {:>22} {:>8} {:>13}",
        "memory budget", "outcome", "wall s", "peak RSS MiB"
    );
    let budgets = [
        (
            format!("{} MiB (default)", MemoryBudget::default().total() >> 20),
            MemoryBudget::default(),
        ),
        ("none (reference)".to_owned(), MemoryBudget::new(u64::MAX)),
    ];
    for (name, budget) in budgets {
        // Enough fat answers for every retry too.
        server.next_commit_pages_fat(WINDOWS * 8, FAT_MESSAGE)?;
        let gitlab = worker.clone().with_memory(budget);
        let (outcome, cost) = measured(|| runtime.block_on(concurrent_pages(&gitlab)));
        print_row(&name, &outcome, cost);
    }
    Ok(())
}

/// One row of the table: the answer, its outcome, wall seconds and peak RSS.
fn print_row(name: &str, outcome: &str, cost: Cost) {
    println!(
        "{name:<34} {outcome:>22} {:>8.2} {:>13.1}",
        cost.wall, cost.peak_rss_mib
    );
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

/// [`WINDOWS`] reads of the first commits page at once, each page kept for [`HOLD`]; the outcome is how many
/// pages were read, and the client's retries (reads that found the budget in use waited and tried again).
async fn concurrent_pages(gitlab: &GitLabClient) -> String {
    let before = gitlab.stats().retries;
    let reads = (0..WINDOWS).map(|_| async {
        let page = gitlab
            .commits_page(
                &ProjectRef::Id(BENCH_PROJECT),
                &CommitQuery::history("main"),
                1,
            )
            .await?;
        tokio::time::sleep(HOLD).await;
        Ok::<_, shared::gitlab::GitLabError>(page.commits.len())
    });
    let outcomes = futures::future::join_all(reads).await;
    let read = outcomes.iter().filter(|o| o.is_ok()).count();
    let failed = outcomes
        .iter()
        .find_map(|o| o.as_ref().err())
        .map_or(String::new(), |e| format!(", {}", e.code()));
    format!(
        "{read} read, {} retries{failed}",
        gitlab.stats().retries - before
    )
}
