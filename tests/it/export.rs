//! The analytics export end to end: the demo GitLab imported through the real pipeline (credentials API,
//! scheduler, SQS, sync worker) into DynamoDB on moto, exported by the exporter to S3 on moto, copied into a
//! folder, and queried with DuckDB through the saved queries of `sql/` (DuckDB's S3 extension downloads itself at
//! run time, which it cannot do here). The answers must be git's: commits per project and month and per author and
//! week, a force-pushed-away commit listed as removed and never counted as trunk, and no commit seen twice although
//! a crashed export left its rows behind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use shared::aws::export_bucket::S3ExportBucket;
use shared::aws::export_feed::DynamoChangeFeed;
use shared::export::config::ExportConfig;
use shared::export::{ChangeCursor, ChangeFeed, ChangePage, ExportProject, Exporter, Window};
use shared::kernel::StoreError;
use shared::sync::ProjectKey;
use testkit::demo::{DEMO_TOKEN, Demo};
use testkit::gitlab_sim::Simulator;
use testkit::local_run::{CONNECTION, GitLabTarget, LocalRun, Tuning};
use time::OffsetDateTime;

use crate::template::root;

/// The real feed, except that the run "crashes" after writing its files: the watermark never moves.
struct CrashBeforeWatermark(DynamoChangeFeed);

impl ChangeFeed for CrashBeforeWatermark {
    async fn projects(&self) -> Result<Vec<ExportProject>, StoreError> {
        self.0.projects().await
    }

    async fn changes(
        &self,
        project: &ProjectKey,
        window: &Window,
        start: Option<ChangeCursor>,
    ) -> Result<ChangePage, StoreError> {
        self.0.changes(project, window, start).await
    }

    async fn advance(&self, _: &ProjectKey, _: &str) -> Result<(), StoreError> {
        Err(StoreError::unavailable("UpdateItem", "the process died"))
    }
}

/// An S3 client for the stand-in (path-style, as the exporter's own off AWS).
fn s3(run: &LocalRun) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&run.aws.config)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Every object of the bucket, copied under `dir` by its name (bounded: a page holds up to 1,000 names).
async fn download(s3: &aws_sdk_s3::Client, bucket: &str, dir: &Path) -> usize {
    let mut copied = 0;
    let mut token = None;
    for _ in 0..1_000 {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        for object in page.contents() {
            let key = object.key().unwrap();
            let body = s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap();
            let bytes = body.body.collect().await.unwrap().into_bytes();
            let path = dir.join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
            copied += 1;
        }
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    copied
}

/// `scripts/query-export` (DuckDB over the folder, every saved query), as JSON.
fn query(dir: &Path) -> Value {
    let out = std::process::Command::new(root().join(".venv/bin/python"))
        .arg(root().join("scripts/query-export"))
        .arg(dir)
        .output()
        .expect("run scripts/query-export with the project's venv");
    assert!(
        out.status.success(),
        "query-export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A saved query's rows, as text.
fn rows<'a>(answers: &'a Value, file: &str) -> Vec<Vec<&'a str>> {
    answers[file]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no answer for {file}: {answers}"))
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap_or("NULL"))
                .collect()
        })
        .collect()
}

/// The first day of the week (Monday) and of the month, in UTC, of a unix time.
fn week_and_month(unix: i64) -> (String, String) {
    let day = OffsetDateTime::from_unix_timestamp(unix).unwrap().date();
    let monday = day - time::Duration::days(i64::from(day.weekday().number_days_from_monday()));
    let first = day.replace_day(1).unwrap();
    (monday.to_string(), first.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saved_queries_answer_what_git_says_through_duckdb() {
    let (demo, world) = Demo::build(400);
    let sim = Simulator::start(world).await.unwrap();
    let prefix = format!("exp{}", std::process::id());
    let target = GitLabTarget {
        base_url: sim.base_url(),
        requests_per_minute: 60_000,
    };
    let run = LocalRun::prepare(&prefix, &target, false, Tuning::default())
        .await
        .unwrap();
    run.create_credential(CONNECTION, &target.base_url, DEMO_TOKEN, "export")
        .await
        .unwrap();
    run.pass().await.unwrap();
    let truth_total: usize = demo.expected().map(|p| p.truth().len()).sum();

    let s3 = s3(&run);
    let bucket = format!("{prefix}-export");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let config = ExportConfig {
        state_table: run.aws.table("StateTable").to_owned(),
        commits_table: run.aws.table("CommitsTable").to_owned(),
        bucket: bucket.clone(),
        prefix: String::new(),
    };
    let mut exporter = shared::app::exporter_function(&config, &run.aws.config);
    // Nothing here is written by a clock that runs behind: no settle time, so the test need not wait.
    exporter.options.settle = Duration::ZERO;
    let first = exporter.run(OffsetDateTime::now_utc(), None).await.unwrap();
    assert_eq!(first.rows, truth_total, "{first:?}");
    assert!(first.files >= demo.expected().count(), "{first:?}");

    // A force-push takes commits off api's default branch; the next sync marks them removed.
    let api = demo.project("acme/platform/api");
    let before: BTreeSet<String> = api.truth().into_iter().collect();
    api.repo.reset_hard("main~2");
    let left: BTreeSet<String> = before
        .difference(&api.truth().into_iter().collect())
        .cloned()
        .collect();
    assert!(left.len() >= 2, "{left:?}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    run.pass().await.unwrap();

    // An export that dies after writing its files, then the scheduled run, then that run delivered again.
    let crashed = Exporter::new(
        CrashBeforeWatermark(DynamoChangeFeed::new(
            run.aws.dynamodb.clone(),
            config.state_table.clone(),
            config.commits_table.clone(),
        )),
        S3ExportBucket::new(s3.clone(), bucket.clone()),
        exporter.options.clone(),
    );
    assert!(crashed.run(OffsetDateTime::now_utc(), None).await.is_err());
    tokio::time::sleep(Duration::from_millis(10)).await;
    let now = OffsetDateTime::now_utc();
    let second = exporter.run(now, None).await.unwrap();
    assert_eq!(
        second.rows,
        left.len(),
        "only the removal marks: {second:?}"
    );
    assert_eq!(exporter.run(now, None).await.unwrap().rows, 0);

    let dir = tempfile::tempdir().unwrap();
    let copied = download(&s3, &bucket, dir.path()).await;
    assert_eq!(copied, first.files + 2 * second.files);
    let answers = query(dir.path());

    // Stored twice (the crashed run's rows), seen once.
    let counts = &answers["_counts"];
    assert_eq!(
        counts["rows"].as_u64().unwrap() as usize,
        truth_total + 2 * left.len()
    );
    assert_eq!(counts["current"], counts["distinct_commits"]);
    assert_eq!(counts["current"].as_u64().unwrap() as usize, truth_total);

    // Git's answers: per project and month, per author and week (a commit once however many projects hold it).
    let mut per_project_month: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut per_author_week: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for project in demo.expected() {
        let log = project
            .repo
            .git(&["log", "--format=%H %ct %ae", &project.default_branch]);
        for line in log.lines() {
            let mut fields = line.splitn(3, ' ');
            let (sha, at, email) = (
                fields.next().unwrap(),
                fields.next().unwrap().parse().unwrap(),
                fields.next().unwrap(),
            );
            let (week, month) = week_and_month(at);
            *per_project_month
                .entry((project.path_with_namespace.clone(), month))
                .or_default() += 1;
            per_author_week
                .entry((week, email.to_owned()))
                .or_default()
                .insert(sha.to_owned());
        }
    }
    let answered: BTreeMap<(String, String), usize> =
        rows(&answers, "commits_per_project_per_month.sql")
            .into_iter()
            .map(|r| ((r[2].to_owned(), r[3].to_owned()), r[4].parse().unwrap()))
            .collect();
    assert_eq!(answered, per_project_month);
    let answered: BTreeMap<(String, String), usize> =
        rows(&answers, "commits_per_author_per_week.sql")
            .into_iter()
            .map(|r| ((r[0].to_owned(), r[1].to_owned()), r[3].parse().unwrap()))
            .collect();
    let truth: BTreeMap<(String, String), usize> = per_author_week
        .into_iter()
        .map(|(key, shas)| (key, shas.len()))
        .collect();
    assert_eq!(answered, truth);

    // The force-pushed-away commits: listed as removed, with their project.
    let removed = rows(&answers, "commits_removed_from_default_branch.sql");
    assert_eq!(
        removed
            .iter()
            .map(|r| r[3].to_owned())
            .collect::<BTreeSet<_>>(),
        left
    );
    assert!(
        removed
            .iter()
            .all(|r| r[2] == "acme/platform/api" && r[7] != "NULL")
    );

    run.aws.teardown().await;
    sim.shutdown().await;
}
