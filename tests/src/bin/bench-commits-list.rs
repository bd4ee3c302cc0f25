//! Benchmark of `commits.list`: writes COMMITS commits of one project through the sync's own adapter
//! (`DynamoCommitStore`; one in twenty then marked removed, and a force-pushed stretch of 1,000 in a row deep in
//! the history), then times pages of the use case over the `by_committed_at` index (`CommitLog::list` on
//! `DynamoCommitReader`, the handler's whole path but the JSON reply): p50/p95 of 50 calls each, with the DynamoDB
//! reads and items read (`ScannedCount`) one page costs, first page and a deep one.
//!
//! Needs a DynamoDB stand-in at `AWS_ENDPOINT_URL` (loopback only): `scripts/with-moto` (moto writes about 1,500
//! items/s, and its Query sorts the whole partition on every call), or dynalite, several times faster (see
//! "Reading commits" in docs/benchmarks.md). Only the template's tables are created.
//! Run: `cargo run --profile profiling -p testkit --bin bench-commits-list -- [COMMITS]`.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::client::Waiters;
use futures::{StreamExt, TryStreamExt};
use shared::aws::commit_reader::DynamoCommitReader;
use shared::aws::commit_store::DynamoCommitStore;
use shared::commits::cursor;
use shared::commits::{CommitLog, CommitPage, CommitRange, ListRequest, PageKey};
use shared::kernel::commit_record::CommitRecord;
use shared::kernel::ids::ConnectionId;
use shared::sync::CommitStore;
use shared::testing::project_key;
use testkit::aws_local::{AwsStandIn, endpoint};
use testkit::bench_support::{BenchResult, function_runtime};
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;

const CONNECTION: &str = "bench";
const PROJECT: u64 = 1;
/// Calls per measured case.
const CALLS: usize = 50;
/// `put` calls in flight while writing (each is up to four `BatchWriteItem` calls of 25).
const WRITERS: usize = 8;
/// The force-pushed stretch: this many commits in a row, starting this deep (newest first).
const STRETCH: usize = 1_000;

fn main() -> BenchResult<()> {
    let commits: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let runtime = function_runtime()?;
    runtime.block_on(run(commits))
}

/// Commit `i` (0 is the oldest), one a minute: a typical commit's fields and sizes.
fn commit(i: usize) -> CommitRecord {
    let sha = format!(
        "{:040x}",
        (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
    );
    let at = (datetime!(2020-01-01 00:00:00 UTC) + time::Duration::minutes(i as i64))
        .format(&Rfc3339)
        .unwrap_or_default();
    let title = format!("Fix the widget's handling of case {i}");
    serde_json::from_value(serde_json::json!({
        "project_key": project_key(CONNECTION, PROJECT).partition(), "sha": sha, "committed_at": at,
        "short_id": &sha[..8], "parent_ids": [format!("{:040x}", i + 1)], "title": title,
        "message": format!("{title}\n\nThe widget mishandled this case when the input was empty; it now checks \
            first and says why.\n\nSigned-off-by: Dev Eloper <dev@example.com>\n"),
        "author_name": "Dev Eloper", "author_email": "dev@example.com", "authored_date": at,
        "committer_name": "Dev Eloper", "committer_email": "dev@example.com", "committed_date": at,
        "trailers": {"Signed-off-by": "Dev Eloper <dev@example.com>"},
        "web_url": format!("https://gitlab.example.com/acme/app/-/commit/{sha}"),
        "additions": 12, "deletions": 3, "total_changes": 15,
        "project_path": "acme/app", "default_branch": "main", "imported_at": "2025-01-01T00:00:00Z"
    }))
    .expect("a commit record")
}

/// The commits marked removed: one in twenty, and the stretch (positions counted newest first from `deep`).
fn removed(i: usize, commits: usize, stretch_from: usize) -> bool {
    let depth = commits - 1 - i;
    i.is_multiple_of(20) || (stretch_from..stretch_from + STRETCH).contains(&depth)
}

async fn run(commits: usize) -> BenchResult<()> {
    let endpoint = endpoint()?;
    let prefix = format!("bench-list-{}", std::process::id());
    let aws = AwsStandIn::provision_tables(&prefix).await?;
    let table = aws.table("CommitsTable").to_owned();
    // dynalite makes tables in the background (moto at once), as DynamoDB does.
    aws.dynamodb
        .wait_until_table_exists()
        .table_name(&table)
        .wait(Duration::from_secs(60))
        .await?;
    let store = DynamoCommitStore::new(aws.dynamodb.clone(), &table);
    let deep = commits * 3 / 4;
    let stretch_from = commits / 2;
    println!("commits.list benchmark: {commits} commits of one project, DynamoDB at {endpoint}");

    let started = Instant::now();
    // Each page is built when its write starts, so the history is never in memory whole.
    let writes = (0..commits)
        .step_by(100)
        .map(|first| store.put((first..commits.min(first + 100)).map(commit).collect()));
    futures::stream::iter(writes)
        .buffer_unordered(WRITERS)
        .try_for_each(|refused| async move {
            assert!(refused.is_empty(), "refused: {refused:?}");
            Ok(())
        })
        .await?;
    let written = started.elapsed();
    let gone: Vec<String> = (0..commits)
        .filter(|i| removed(*i, commits, stretch_from))
        .map(|i| commit(i).sha)
        .collect();
    let marked = gone.len();
    let started = Instant::now();
    store
        .mark_removed(
            &project_key(CONNECTION, PROJECT),
            gone,
            datetime!(2025-02-01 0:00 UTC),
        )
        .await?;
    println!(
        "written: {commits} items in {:.1} s ({:.0} items/s, {} write calls); {marked} marked removed in {:.1} s",
        written.as_secs_f64(),
        commits as f64 / written.as_secs_f64(),
        store.write_calls(),
        started.elapsed().as_secs_f64()
    );

    let log = CommitLog::new(DynamoCommitReader::new(aws.dynamodb.clone(), &table));
    // A cursor that starts `depth` commits from the newest, as a walk of earlier pages would have returned it.
    let at_depth = |depth: usize, include_removed: bool| {
        let newer = commit(commits - depth);
        let range = CommitRange {
            project: project_key(CONNECTION, PROJECT),
            from: None,
            to: None,
            include_removed,
        };
        cursor::encode(&range, &PageKey::of(&newer))
    };
    println!(
        "{:<44} {:>5} {:>8} {:>8} {:>6} {:>8} {:>8}",
        "page", "limit", "p50 ms", "p95 ms", "reads", "scanned", "commits"
    );
    let cases = [
        ("first page", 50, None, false),
        ("first page", 100, None, false),
        ("first page, include_removed", 100, None, true),
        ("deep page (3/4 of the history in)", 50, Some(deep), false),
        ("deep page (3/4 of the history in)", 100, Some(deep), false),
        (
            "inside a force-pushed stretch of 1,000",
            50,
            Some(stretch_from),
            false,
        ),
    ];
    for (name, limit, depth, include_removed) in cases {
        let request = ListRequest {
            project_id: PROJECT,
            since: None,
            until: None,
            limit,
            cursor: depth.map(|depth| at_depth(depth, include_removed)),
            include_removed,
        };
        let mut times = Vec::with_capacity(CALLS);
        let mut last: Option<CommitPage> = None;
        for _ in 0..CALLS {
            let started = Instant::now();
            let page = log
                .list(
                    &ConnectionId::parse(CONNECTION).expect("an id"),
                    request.clone(),
                )
                .await?;
            times.push(started.elapsed());
            last = Some(page);
        }
        times.sort_unstable();
        let page = last.expect("at least one call");
        println!(
            "{:<44} {:>5} {:>8.1} {:>8.1} {:>6} {:>8} {:>8}",
            name,
            limit,
            millis(times[CALLS / 2]),
            millis(times[CALLS * 95 / 100]),
            page.reads,
            page.scanned,
            page.commits.len()
        );
    }
    Ok(())
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
