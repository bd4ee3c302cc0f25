//! The analytics export end to end: the demo GitLab imported through the real pipeline (credentials API,
//! scheduler, SQS, sync worker) into DynamoDB on moto, exported by the exporter to S3 on moto, copied into a
//! folder, and queried with DuckDB through the saved queries of `sql/` (DuckDB's S3 extension downloads itself at
//! run time, which it cannot do here). The answers must be git's: commits per project and month and per author and
//! week, a force-pushed-away commit listed as removed and never counted as trunk, and no commit seen twice although
//! a crashed export left its rows behind. Then the export's own guarantees on moto: a run that may write one page
//! only goes on after it next run (no row twice, none missed), and a batch of removal marks that lasts longer than
//! the settle time is exported whole, its retried `UnprocessedItems` stamped at the retry.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use shared::aws::commit_store::DynamoCommitStore;
use shared::aws::export_bucket::S3ExportBucket;
use shared::aws::export_feed::DynamoChangeFeed;
use shared::config::exporter::ExportConfig;
use shared::export::folder::FolderSink;
use shared::export::{ExportOptions, Exporter};
use shared::kernel::commit_record::CommitRecord;
use shared::kernel::project_key::ProjectKey;
use shared::sync::CommitStore;
use shared::testing::faults::{Fault, FaultPlan, Faulty};
use shared::testing::project_key;
use testkit::aws_local::AwsStandIn;
use testkit::demo::{DEMO_TOKEN, Demo};
use testkit::gitlab_sim::Simulator;
use testkit::local_run::{CONNECTION, LocalRun};
use time::OffsetDateTime;

use crate::template::root;

/// Every object of the dataset (`commits/`), copied under `dir` by its name (bounded: a page holds up to 1,000 names).
async fn download(s3: &aws_sdk_s3::Client, bucket: &str, dir: &Path) -> usize {
    let mut copied = 0;
    let mut token = None;
    for _ in 0..1_000 {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix("commits/")
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
    let run = LocalRun::on_simulator(&prefix, &sim).await.unwrap();
    run.create_credential(CONNECTION, &sim.base_url(), DEMO_TOKEN, "export")
        .await
        .unwrap();
    run.pass().await.unwrap();
    let truth_total: usize = demo.expected().map(|p| p.truth().len()).sum();

    let s3 = run.aws.s3();
    let bucket = format!("{prefix}-export");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let config = ExportConfig {
        state_table: run.aws.table("StateTable").to_owned(),
        commits_table: run.aws.table("CommitsTable").to_owned(),
        bucket: bucket.clone(),
        prefix: String::new(),
        // Nothing here is written by a clock that runs behind: no settle time, so the test need not wait.
        settle: Duration::ZERO,
        metrics_namespace: "GitLabCommitImporter/test".to_owned(),
    };
    let exporter = shared::app::exporter_function(&config, &run.aws.config);
    assert_eq!(exporter.metrics.namespace, "GitLabCommitImporter/test");
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

    // An export that dies after writing its files (its watermark never moves), then the scheduled run, then that
    // run delivered again.
    let dies = FaultPlan::with(
        Fault::fail("feed.advance")
            .every()
            .detail("the process died"),
    );
    let crashed = Exporter::new(
        Faulty::new(
            DynamoChangeFeed::new(
                run.aws.dynamodb.clone(),
                config.state_table.clone(),
                config.commits_table.clone(),
            ),
            &dies,
        ),
        S3ExportBucket::new(s3.clone(), bucket.clone()),
        exporter.options.clone(),
    );
    assert!(crashed.run(OffsetDateTime::now_utc(), None).await.is_err());
    assert!(dies.calls("feed.advance") > 0, "died at the watermark");
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
    // Beside the dataset, the record of the last run, which found nothing new.
    let record = s3
        .get_object()
        .bucket(&bucket)
        .key(shared::export::RUN_RECORD)
        .send()
        .await
        .unwrap();
    assert_eq!(record.content_type(), Some("application/json"));
    let record: serde_json::Value =
        serde_json::from_slice(&record.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!((&record["rows"], &record["files"]), (&0.into(), &0.into()));
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

/// Commit `i` of `key`, as the sync stores one.
fn commit(key: &ProjectKey, i: usize) -> CommitRecord {
    let sha = format!("{:08x}{i:032x}", key.project_id);
    serde_json::from_value(serde_json::json!({
        "project_key": key.partition(), "sha": sha, "committed_at": format!("2024-{:02}-01T00:00:00Z", 1 + i % 12),
        "short_id": &sha[..8], "parent_ids": [], "title": "t", "message": "t\n",
        "author_name": "a", "author_email": "a@example.com", "authored_date": "2024-01-01T00:00:00Z",
        "committer_name": "c", "committer_email": "c@example.com", "committed_date": "2024-01-01T00:00:00Z",
        "trailers": {}, "extended_trailers": {}, "web_url": "", "stats_missing": true,
        "project_path": "g/p", "default_branch": "main", "imported_at": "2024-02-01T00:00:00Z"
    }))
    .unwrap()
}

/// The projects' state items (the exporter lists projects by them) and `size` commits each, written as the sync
/// writes them: pages of 100, each `BatchWriteItem` of 25 stamped at its own call.
async fn import(aws: &AwsStandIn, store: &DynamoCommitStore, projects: &[(ProjectKey, usize)]) {
    for (key, size) in projects {
        aws.dynamodb
            .put_item()
            .table_name(aws.table("StateTable"))
            .item(
                "pk",
                AttributeValue::S(format!("CONN#{}", key.connection_id)),
            )
            .item("sk", AttributeValue::S(format!("PROJ#{}", key.project_id)))
            .send()
            .await
            .unwrap();
        let records: Vec<CommitRecord> = (0..*size).map(|i| commit(key, i)).collect();
        for page in records.chunks(100) {
            assert!(store.put(page.to_vec()).await.unwrap().is_empty());
        }
    }
}

/// An exporter over the stand-in's tables into a folder, with pages of `page_limit` changes.
fn folder_exporter(
    aws: &AwsStandIn,
    dir: &Path,
    page_limit: i32,
    settle: Duration,
) -> Exporter<DynamoChangeFeed, FolderSink> {
    let feed = DynamoChangeFeed::new(
        aws.dynamodb.clone(),
        aws.table("StateTable"),
        aws.table("CommitsTable"),
    )
    .with_page_limit(page_limit);
    let options = ExportOptions {
        settle,
        ..ExportOptions::default()
    };
    Exporter::new(feed, FolderSink::new(dir), options)
}

/// DuckDB's counts over the folder: (rows, current commits, distinct commits).
fn counts(dir: &Path) -> (u64, u64, u64) {
    let answers = query(dir);
    let count = |name: &str| answers["_counts"][name].as_u64().unwrap();
    (count("rows"), count("current"), count("distinct_commits"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_one_page_a_run_ends_equal_to_the_table_with_no_duplicate_row() {
    // Given 3,000 commits in two projects, most in the first.
    let aws = AwsStandIn::provision().await.unwrap();
    let store = DynamoCommitStore::new(aws.dynamodb.clone(), aws.table("CommitsTable"));
    let projects = [(project_key("c1", 1), 2_500), (project_key("c1", 2), 500)];
    import(&aws, &store, &projects).await;

    // When every run is past its deadline, so that it writes one page of 100 changes.
    let dir = tempfile::tempdir().unwrap();
    let exporter = folder_exporter(&aws, dir.path(), 100, Duration::ZERO);
    let (mut runs, mut rows) = (0, 0);
    loop {
        let report = exporter
            .run(OffsetDateTime::now_utc(), Some(tokio::time::Instant::now()))
            .await
            .unwrap();
        runs += 1;
        rows += report.rows;
        assert!(report.rows <= 100, "one page a run: {report:?}");
        if report.rows == 0 && report.deferred == 0 {
            break;
        }
        assert!(runs < 100, "no end in sight after {rows} rows: {report:?}");
    }

    // Then every commit is one row, and DuckDB's current view holds each once.
    assert_eq!(rows, 3_000);
    assert!(runs > 30, "{runs} runs");
    assert_eq!(counts(dir.path()), (3_000, 3_000, 3_000));
    aws.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_batch_written_over_longer_than_the_settle_time_is_exported() {
    // Given 2,000 exported commits.
    let aws = AwsStandIn::provision().await.unwrap();
    let store = Arc::new(DynamoCommitStore::new(
        aws.dynamodb.clone(),
        aws.table("CommitsTable"),
    ));
    let key = project_key("c1", 1);
    import(&aws, &store, &[(key.clone(), 2_000)]).await;
    let dir = tempfile::tempdir().unwrap();
    // Short against the marks' time on any machine: 2,000 conditional updates take moto seconds, not 0.3 s.
    let settle = Duration::from_millis(150);
    let exporter = folder_exporter(&aws, dir.path(), 1_000, settle);
    tokio::time::sleep(settle).await;
    assert_eq!(
        exporter
            .run(OffsetDateTime::now_utc(), None)
            .await
            .unwrap()
            .rows,
        2_000
    );

    // When all of them leave the branch in one batch of marks (last sha first) that takes longer than the settle
    // time, while exports run.
    let mut shas: Vec<String> = (0..2_000).map(|i| commit(&key, i).sha).collect();
    shas.reverse();
    let started = std::time::Instant::now();
    let marking = tokio::spawn({
        let (store, key) = (store.clone(), key.clone());
        async move {
            store
                .mark_removed(&key, shas, OffsetDateTime::now_utc())
                .await
        }
    });
    let mut rows_during = 0;
    while !marking.is_finished() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        rows_during += exporter
            .run(OffsetDateTime::now_utc(), None)
            .await
            .unwrap()
            .rows;
    }
    marking.await.unwrap().unwrap();
    let took = started.elapsed();
    assert!(
        took > settle * 2 && rows_during > 0,
        "the marks took {took:?} and exports during them wrote {rows_during} rows: nothing shown"
    );
    tokio::time::sleep(settle).await;
    let rows_after = exporter
        .run(OffsetDateTime::now_utc(), None)
        .await
        .unwrap()
        .rows;

    // Then every removal is one row, and DuckDB lists every commit as removed.
    assert_eq!(rows_during + rows_after, 2_000);
    let answers = query(dir.path());
    assert_eq!(
        rows(&answers, "commits_removed_from_default_branch.sql").len(),
        2_000
    );
    assert_eq!(counts(dir.path()), (4_000, 2_000, 2_000));
    aws.teardown().await;
}

/// Sends the first `BatchWriteItem` without its last item and answers that item back as unprocessed, as DynamoDB
/// does when it throttles part of a batch (moto never does).
#[derive(Debug, Default)]
struct LeaveOneUnprocessed {
    /// The item left out, as `UnprocessedItems` holds it, until the answer carries it back.
    left_out: Mutex<Option<Value>>,
    done: AtomicBool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Intercept for LeaveOneUnprocessed {
    fn name(&self) -> &'static str {
        "LeaveOneUnprocessed"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let batch = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|target| target.ends_with(".BatchWriteItem"));
        if !batch || self.done.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let mut body: Value = serde_json::from_slice(request.body().bytes().unwrap_or_default())?;
        let (table, requests) = body["RequestItems"]
            .as_object_mut()
            .and_then(|tables| tables.iter_mut().next())
            .ok_or("no RequestItems")?;
        let left = requests.as_array_mut().and_then(Vec::pop).ok_or("empty")?;
        *self.left_out.lock().unwrap() = Some(serde_json::json!({ table.as_str(): [left] }));
        let body = serde_json::to_vec(&body)?;
        request
            .headers_mut()
            .insert("content-length", body.len().to_string());
        *request.body_mut() = body.into();
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(left_out) = self.left_out.lock().unwrap().take() else {
            return Ok(());
        };
        let body = serde_json::to_vec(&serde_json::json!({ "UnprocessedItems": left_out }))?;
        let response = context.response_mut();
        response.headers_mut().remove("x-amz-crc32");
        response
            .headers_mut()
            .insert("content-length", body.len().to_string());
        *response.body_mut() = body.into();
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_left_unprocessed_is_stamped_when_it_is_sent_again() {
    // Given a DynamoDB that leaves one item of the first batch unprocessed.
    let aws = AwsStandIn::provision().await.unwrap();
    let config = aws_sdk_dynamodb::config::Builder::from(&aws.config)
        .interceptor(LeaveOneUnprocessed::default())
        .build();
    let store = DynamoCommitStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        aws.table("CommitsTable"),
    );
    let key = project_key("c1", 1);

    // When a batch of 25 is written.
    let records: Vec<CommitRecord> = (0..25).map(|i| commit(&key, i)).collect();
    assert!(store.put(records).await.unwrap().is_empty());

    // Then the retried item carries the retry's stamp, later than the first call's.
    assert_eq!(store.write_calls(), 2);
    let stamps: BTreeMap<String, String> = aws
        .dynamodb
        .query()
        .table_name(aws.table("CommitsTable"))
        .key_condition_expression("project_key = :p")
        .expression_attribute_values(":p", AttributeValue::S(key.partition()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .map(|item| {
            let text = |name: &str| item[name].as_s().unwrap().clone();
            (text("sha"), text("changed_at"))
        })
        .collect();
    assert_eq!(stamps.len(), 25);
    let retried = &stamps[&commit(&key, 24).sha];
    let first = &stamps[&commit(&key, 0).sha];
    assert!(retried > first, "{retried} after {first}");
    aws.teardown().await;
}
