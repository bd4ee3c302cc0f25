//! Benchmark of the analytics export: COMMITS commits (default 200,000) in PROJECTS projects (default 20), dated
//! over two years, written straight into the commits table through the commit store (as the sync worker writes
//! them, each stamped `changed_at`), then one export run of everything to S3. Prints the load's time and rate, and
//! the export's wall time, rows, files, bytes, CPU seconds and peak RSS of this process (the exporter runs here
//! on a single-threaded runtime, as in its Lambda function; the stand-ins are other processes).
//!
//! Needs the stand-in: `scripts/with-moto cargo run --profile profiling -p testkit --bin bench-export -- [COMMITS]
//! [PROJECTS]`. moto takes about 1,500 writes a second; with `AWS_ENDPOINT_URL_DYNAMODB` pointing at an in-memory
//! dynalite (`dynalite --port P --createTableMs 0`), DynamoDB calls go there while S3 stays on moto.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use futures::StreamExt;
use shared::aws::commit_store::DynamoCommitStore;
use shared::config::exporter::ExportConfig;
use shared::kernel::commit_record::CommitRecord;
use shared::sync::CommitStore;
use shared::testing::project_key;
use testkit::aws_local::AwsStandIn;
use testkit::bench_support::{BenchResult, function_runtime, measured};
use time::OffsetDateTime;

const CONNECTION: &str = "bench";

/// Records per `put` (a GitLab page) and puts in flight at once (a few sync workers).
const PAGE: usize = 100;
const CONCURRENT_PUTS: usize = 8;

/// A commit as GitLab gives one: a merge every tenth, a message with a body and a trailer, stats.
fn record(project: u64, i: usize, per_project: usize, imported_at: &str) -> CommitRecord {
    let sha = format!("{project:08x}{i:032x}");
    let parents = if i.is_multiple_of(10) { 2 } else { 1 };
    // Two years of history in each project: 24 monthly partitions.
    let step = 2 * 365 * 86_400 / per_project.max(1) as i64;
    let committed = 1_704_067_200 + i as i64 * step;
    let date = OffsetDateTime::from_unix_timestamp(committed)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let author = i % 37;
    CommitRecord {
        project_key: project_key(CONNECTION, project).partition(),
        sha: sha.clone(),
        committed_at: date.clone(),
        short_id: sha[..8].to_owned(),
        parent_ids: (0..parents).map(|p| format!("{p:040x}")).collect(),
        title: format!("Fix the retry of upload number {i} when the server answers 429"),
        message: format!(
            "Fix the retry of upload number {i} when the server answers 429\n\nThe client now waits as long as \
             Retry-After says and gives up after five attempts, so a busy server is not hammered.\n\n\
             Co-authored-by: Person {author} <person{author}@example.com>\n"
        ),
        truncated_fields: Vec::new(),
        author_name: format!("Person {author}"),
        author_email: format!("person{author}@example.com"),
        authored_date: date.clone(),
        committer_name: format!("Person {author}"),
        committer_email: format!("person{author}@example.com"),
        committed_date: date,
        trailers: BTreeMap::from([(
            "Co-authored-by".to_owned(),
            format!("Person {author} <person{author}@example.com>"),
        )]),
        extended_trailers: BTreeMap::new(),
        web_url: format!("https://gitlab.example.com/group/project-{project}/-/commit/{sha}"),
        additions: Some((i % 200) as u64),
        deletions: Some((i % 50) as u64),
        total_changes: Some((i % 200 + i % 50) as u64),
        stats_missing: false,
        project_path: format!("group/project-{project}"),
        default_branch: "main".to_owned(),
        imported_at: imported_at.to_owned(),
        removed_at: None,
    }
}

/// Items of the `by_changed_at` index, counted with `Select: COUNT` queries per project.
async fn index_count(aws: &AwsStandIn, projects: u64) -> BenchResult<usize> {
    let mut count = 0;
    for project in 1..=projects {
        let mut start = None;
        for _ in 0..100_000 {
            let page = aws
                .dynamodb
                .query()
                .table_name(aws.table("CommitsTable"))
                .index_name("by_changed_at")
                .key_condition_expression("project_key = :p")
                .expression_attribute_values(
                    ":p",
                    AttributeValue::S(project_key(CONNECTION, project).partition()),
                )
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            count += page.count() as usize;
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
    }
    Ok(count)
}

fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let commits: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(200_000);
    let projects: u64 = args
        .get(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20)
        .max(1);
    let runtime = function_runtime()?;
    let aws = runtime.block_on(AwsStandIn::provision())?;
    let dynamodb_at = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .map(|url| format!("dynalite at {url}"))
        .unwrap_or_else(|_| "moto".to_owned());
    println!(
        "Export benchmark: {commits} commits in {projects} projects; DynamoDB on {dynamodb_at}, S3 on moto"
    );

    // The load: the sync's state items (the exporter lists projects by them) and the commits.
    let store = DynamoCommitStore::new(aws.dynamodb.clone(), aws.table("CommitsTable"));
    let imported_at = shared::kernel::time::utc(OffsetDateTime::now_utc());
    let started = Instant::now();
    runtime.block_on(async {
        for project in 1..=projects {
            aws.dynamodb
                .put_item()
                .table_name(aws.table("StateTable"))
                .item("pk", AttributeValue::S(format!("CONN#{CONNECTION}")))
                .item("sk", AttributeValue::S(format!("PROJ#{project}")))
                .send()
                .await?;
        }
        let per_project = commits.div_ceil(projects as usize);
        let pages = (0..commits).step_by(PAGE).map(|first| {
            let store = &store;
            let imported_at = &imported_at;
            async move {
                let page: Vec<CommitRecord> = (first..(first + PAGE).min(commits))
                    .map(|n| {
                        record(
                            1 + (n / per_project) as u64,
                            n % per_project,
                            per_project,
                            imported_at,
                        )
                    })
                    .collect();
                store.put(page).await
            }
        });
        let mut puts = futures::stream::iter(pages).buffer_unordered(CONCURRENT_PUTS);
        while let Some(result) = puts.next().await {
            let refused = result?;
            assert!(refused.is_empty(), "refused: {refused:?}");
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    let load = started.elapsed().as_secs_f64();
    println!(
        "load: {commits} commits in {load:.1} s ({:.0} commits/s, {} write calls)",
        commits as f64 / load,
        store.write_calls()
    );

    let bucket = format!("bench-export-{}", std::process::id());
    let s3 = aws.s3();
    runtime.block_on(s3.create_bucket().bucket(&bucket).send())?;
    let config = ExportConfig {
        state_table: aws.table("StateTable").to_owned(),
        commits_table: aws.table("CommitsTable").to_owned(),
        bucket,
        prefix: String::new(),
        settle: Duration::ZERO,
        metrics_namespace: shared::metrics::DEFAULT_NAMESPACE.to_owned(),
    };
    let mut exporter = shared::app::exporter_function(&config, &aws.config);
    // The bench prints its own figures.
    exporter.metrics.enabled = false;
    let (report, cost) =
        measured(|| runtime.block_on(exporter.run(OffsetDateTime::now_utc(), None)));
    let report = report?;
    // What the change index holds is what an export can see: count it apart from the exporter.
    let indexed = runtime.block_on(index_count(&aws, projects))?;
    assert_eq!(
        report.rows, indexed,
        "every indexed commit exported once: {report:?}"
    );
    if indexed != commits {
        println!(
            "NOTE: the stand-in's change index holds {indexed} of the {commits} commits written (its own fault: \
             the table holds them all); the export wrote every one it holds"
        );
    }
    println!(
        "{:>9} {:>8} {:>7} {:>11} {:>9} {:>7} {:>12}",
        "export s", "rows", "files", "MiB", "rows/s", "CPU s", "peak RSS MiB"
    );
    println!(
        "{:>9.2} {:>8} {:>7} {:>11.1} {:>9.0} {:>7.2} {:>12.1}",
        cost.wall,
        report.rows,
        report.files,
        report.bytes as f64 / (1024.0 * 1024.0),
        report.rows as f64 / cost.wall,
        cost.cpu,
        cost.peak_rss_mib
    );
    runtime.block_on(aws.teardown());
    Ok(())
}
