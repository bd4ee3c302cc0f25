//! The export run on the memory fakes: windows, files, crashes, and turns under a deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

use time::macros::datetime;

use super::*;
use crate::export::columnar::tests::read;
use crate::export::model::ChangedCommit;
use crate::export::model::tests::record;
use crate::testing::{MemoryChangeFeed, MemorySink, project_key};

const NOW: OffsetDateTime = datetime!(2024-04-01 12:00:00 UTC);

/// A commit of `month` (`YYYY-MM`), changed at `changed_at`.
fn change(sha: char, month: &str, changed_at: &str) -> ChangedCommit {
    let mut record = record();
    record.sha = sha.to_string().repeat(40);
    record.committed_at = format!("{month}-10T10:00:00Z");
    ChangedCommit {
        record,
        changed_at: changed_at.to_owned(),
    }
}

fn service(page_size: usize, options: ExportOptions) -> Exporter<MemoryChangeFeed, MemorySink> {
    Exporter::new(
        MemoryChangeFeed::new(page_size),
        MemorySink::default(),
        options,
    )
}

fn rows_in(sink: &MemorySink) -> usize {
    sink.files()
        .values()
        .map(|body| read(body.clone()).len())
        .sum()
}

fn names(sink: &MemorySink) -> Vec<String> {
    sink.files().keys().cloned().collect()
}

/// The run's metric line at `now`, parsed.
fn metric_line(report: &ExportReport, now: OffsetDateTime) -> serde_json::Value {
    serde_json::from_str(&report.metric_line(&Emitter::new("ns"), now)).unwrap()
}

use crate::metrics::declared_names as declared;

fn exporter_catalogue() -> Vec<String> {
    crate::metrics::catalogue_names("exporter")
}

#[tokio::test]
async fn a_run_exports_each_settled_change_once_by_month_and_moves_the_watermark() {
    let (a, b) = (project_key("c1", 1), project_key("c1", 2));
    let exporter = service(2, ExportOptions::default());
    let feed = &exporter.feed;
    feed.write(&a, change('a', "2024-01", "2024-04-01T10:00:00.000000Z"));
    feed.write(&a, change('b', "2024-01", "2024-04-01T10:00:00.000000Z"));
    feed.write(&a, change('c', "2024-02", "2024-04-01T11:00:00.000000Z"));
    // Younger than the settle time: the next run's.
    feed.write(&a, change('d', "2024-02", "2024-04-01T11:58:00.000000Z"));
    feed.write(&b, change('e', "2023-12", "2024-03-01T00:00:00.000000Z"));

    let report = exporter.run(NOW, None).await.unwrap();
    assert_eq!(
        (
            report.projects,
            report.changed_projects,
            report.rows,
            report.files
        ),
        (2, 2, 4, 3)
    );
    assert_eq!(rows_in(&exporter.sink), 4);
    // Every project is exported up to the window's end: the lag is the settle time.
    assert_eq!(
        report.exported_through.as_deref(),
        Some("2024-04-01T11:55:00.000000Z")
    );
    let line = metric_line(&report, NOW);
    assert_eq!(declared(&line), exporter_catalogue());
    assert_eq!(
        (line["ExportRows"].as_u64(), line["ExportLag"].as_u64()),
        (Some(4), Some(300))
    );
    assert_eq!(
        names(&exporter.sink),
        [
            "commits/commit_month=2023-12/c1-2-0-20240401T115500000000Z-0.parquet",
            "commits/commit_month=2024-01/c1-1-0-20240401T115500000000Z-0.parquet",
            "commits/commit_month=2024-02/c1-1-0-20240401T115500000000Z-0.parquet",
        ]
    );
    // The run's record, beside the dataset: what it did, when.
    let record: serde_json::Value =
        serde_json::from_slice(&exporter.sink.objects.lock().unwrap()[RUN_RECORD]).unwrap();
    assert_eq!(
        (
            &record["rows"],
            &record["files"],
            &record["changed_projects"]
        ),
        (
            &serde_json::json!(4),
            &serde_json::json!(3),
            &serde_json::json!(2)
        )
    );
    assert_eq!(record["exported_through"], "2024-04-01T11:55:00.000000Z");
    assert_eq!(record["started_at"], "2024-04-01T12:00:00Z");
    assert!(record["finished_at"].is_string());
    // The last change written, which `d` (not settled) comes after.
    assert_eq!(
        feed.watermark(&a),
        Some(ExportPosition {
            changed_at: "2024-04-01T11:00:00.000000Z".into(),
            sha: Some("c".repeat(40)),
        })
    );
    assert_eq!(
        report.bytes,
        exporter
            .sink
            .files()
            .values()
            .map(|b| b.len() as u64)
            .sum::<u64>()
    );

    // The same moment again: nothing new. Later: the settled change and a removal, nothing already exported.
    assert_eq!(exporter.run(NOW, None).await.unwrap().rows, 0);
    let mut removed = change('a', "2024-01", "2024-04-01T12:30:00.000000Z");
    removed.record.removed_at = Some("2024-04-01T12:30:00Z".into());
    feed.write(&a, removed);
    let later = exporter
        .run(NOW + Duration::from_secs(3600), None)
        .await
        .unwrap();
    assert_eq!((later.rows, later.changed_projects, later.files), (2, 1, 2));
    assert_eq!(rows_in(&exporter.sink), 6);
    let after_c = format!("20240401T110000000000Z_{}", "c".repeat(40));
    assert!(names(&exporter.sink).contains(&format!(
        "commits/commit_month=2024-01/c1-1-{after_c}-20240401T125500000000Z-0.parquet"
    )));
}

#[tokio::test]
async fn files_are_cut_at_the_row_limit_and_when_the_buffers_are_heavy() {
    let a = project_key("c1", 1);
    let by_rows = service(
        3,
        ExportOptions {
            max_rows_per_file: 2,
            ..ExportOptions::default()
        },
    );
    for (i, sha) in ['a', 'b', 'c', 'd', 'e'].into_iter().enumerate() {
        let at = format!("2024-04-01T10:00:0{i}.000000Z");
        by_rows.feed.write(&a, change(sha, "2024-01", &at));
    }
    let report = by_rows.run(NOW, None).await.unwrap();
    assert_eq!((report.rows, report.files), (5, 3));
    assert!(names(&by_rows.sink)[2].ends_with("-2.parquet"));

    // A buffer limit below one row's weight: every row goes out on its own, whatever the months.
    let by_weight = service(
        3,
        ExportOptions {
            max_buffered_bytes: 1,
            ..ExportOptions::default()
        },
    );
    for (i, (sha, month)) in [('a', "2024-01"), ('b', "2024-02"), ('c', "2024-01")]
        .into_iter()
        .enumerate()
    {
        let at = format!("2024-04-01T10:00:0{i}.000000Z");
        by_weight.feed.write(&a, change(sha, month, &at));
    }
    let report = by_weight.run(NOW, None).await.unwrap();
    assert_eq!((report.rows, report.files), (3, 3));
    assert_eq!(rows_in(&by_weight.sink), 3);
}

#[tokio::test]
async fn a_crashed_run_keeps_the_watermark_and_its_rerun_replaces_the_same_files() {
    let a = project_key("c1", 1);
    let exporter = service(10, ExportOptions::default());
    exporter
        .feed
        .write(&a, change('a', "2024-01", "2024-04-01T10:00:00.000000Z"));
    exporter.feed.fail_advance.store(true, Ordering::Relaxed);
    let crashed = exporter.run(NOW, None).await.unwrap_err();
    assert!(
        matches!(
            crashed,
            ExportError::Incomplete {
                failed: 1,
                projects: 1
            }
        ),
        "{crashed}"
    );
    assert_eq!(exporter.feed.watermark(&a), None);
    let written = names(&exporter.sink);
    assert_eq!(written.len(), 1);

    exporter.feed.fail_advance.store(false, Ordering::Relaxed);
    let rerun = exporter.run(NOW, None).await.unwrap();
    assert_eq!(rerun.rows, 1);
    assert_eq!(
        names(&exporter.sink),
        written,
        "the same names: replaced, not added"
    );
    assert!(exporter.feed.watermark(&a).is_some());

    // A sink that refuses: no watermark moves, and the run says so.
    let refused = service(10, ExportOptions::default());
    refused
        .feed
        .write(&a, change('a', "2024-01", "2024-04-01T10:00:00.000000Z"));
    refused.sink.fail.store(true, Ordering::Relaxed);
    assert!(refused.run(NOW, None).await.is_err());
    assert_eq!(refused.feed.watermark(&a), None);
}

#[tokio::test]
async fn a_run_past_its_deadline_still_writes_one_page_and_leaves_the_rest_waiting() {
    let exporter = service(10, ExportOptions::default());
    for project in 1..=3 {
        let key = project_key("c1", project);
        exporter
            .feed
            .write(&key, change('a', "2024-01", "2024-04-01T10:00:00.000000Z"));
    }
    // Less than the finish time left: only the run's first page.
    let report = exporter
        .run(NOW, Some(Instant::now() + Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!((report.rows, report.deferred), (1, 2));
    // Projects never exported were left: how far behind they are is unknown, and no lag is claimed.
    assert_eq!(report.exported_through, None);
    assert_eq!(declared(&metric_line(&report, NOW)), ["ExportRows"]);
    assert_eq!(exporter.run(NOW, None).await.unwrap().rows, 2);
}

/// A run that leaves projects for the next one is as far behind as the earliest of their watermarks.
#[tokio::test]
async fn the_lag_of_a_cut_run_is_the_earliest_watermark_it_left() {
    let exporter = service(10, ExportOptions::default());
    let watermarks = [
        "2024-03-01T00:00:00.000000Z",
        "2024-03-10T00:00:00.000000Z",
        "2024-03-20T00:00:00.000000Z",
    ];
    for (project, watermark) in (1..).zip(watermarks) {
        let key = project_key("c1", project);
        exporter.feed.set_watermark(
            &key,
            ExportPosition {
                changed_at: watermark.into(),
                sha: None,
            },
        );
        exporter
            .feed
            .write(&key, change('a', "2024-01", "2024-04-01T10:00:00.000000Z"));
    }
    let report = exporter
        .run(NOW, Some(Instant::now() + Duration::from_secs(30)))
        .await
        .unwrap();
    // The furthest behind went first and finished; the two others wait.
    assert_eq!((report.rows, report.deferred), (1, 2));
    assert_eq!(
        report.exported_through.as_deref(),
        Some("2024-03-10T00:00:00.000000Z")
    );
    let line = metric_line(&report, NOW);
    assert_eq!(declared(&line), exporter_catalogue());
    assert_eq!(line["ExportLag"], (22 * 24 + 12) * 3600);
}

#[tokio::test]
async fn an_old_stamp_only_watermark_covers_its_whole_stamp() {
    let a = project_key("c1", 1);
    let exporter = service(10, ExportOptions::default());
    let stamp = "2024-04-01T10:00:00.000000Z";
    exporter.feed.write(&a, change('a', "2024-01", stamp));
    exporter
        .feed
        .write(&a, change('b', "2024-01", "2024-04-01T10:00:00.000001Z"));
    exporter.feed.set_watermark(
        &a,
        ExportPosition {
            changed_at: stamp.into(),
            sha: None,
        },
    );
    let report = exporter.run(NOW, None).await.unwrap();
    assert_eq!(report.rows, 1, "only b: a's stamp was exported");
    assert_eq!(
        exporter.feed.watermark(&a).and_then(|w| w.sha),
        Some("b".repeat(40))
    );
}

/// Commit number `i` of project `project`, its sha unique in the whole test.
fn numbered(project: u64, i: usize, changed_at: &str) -> ChangedCommit {
    let mut record = record();
    record.sha = format!("{project:08x}{i:032x}");
    record.committed_at = format!("2024-{:02}-10T10:00:00Z", 1 + i % 12);
    ChangedCommit {
        record,
        changed_at: changed_at.to_owned(),
    }
}

/// A change as a row holds it, or as the table's item would be exported: (project, sha, changed_at, removed).
type Change = (i64, String, i64, bool);

/// Every row the sink holds.
fn exported_rows(sink: &MemorySink) -> Vec<Change> {
    use ::parquet::record::RowAccessor;
    sink.files()
        .values()
        .flat_map(|body| read(body.clone()))
        .map(|row| {
            (
                row.get_long(1).unwrap(),
                row.get_string(4).unwrap().clone(),
                row.get_timestamp_micros(23).unwrap(),
                row.get_timestamp_micros(22).is_ok(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_one_page_deadline_over_a_hundred_thousand_changes_ends_equal_to_the_table_without_a_duplicate()
 {
    // Given 100,000 changes in three projects, most in the first, written in batches of 25 that share a stamp.
    const PAGE: usize = 1_000;
    let exporter = service(PAGE, ExportOptions::default());
    let feed = &exporter.feed;
    let sizes = [(1_u64, 98_000_usize), (2, 1_500), (3, 500)];
    let stamp = |i: usize| {
        change_stamp(datetime!(2024-04-01 00:00:00 UTC) + Duration::from_millis((i / 25) as u64))
    };
    for (project, size) in sizes {
        let key = project_key("c1", project);
        for i in 0..size {
            feed.write(&key, numbered(project, i, &stamp(i)));
        }
    }
    let big = project_key("c1", 1);
    let done = |project: u64, size: usize| {
        feed.watermark(&project_key("c1", project))
            .and_then(|w| w.sha)
            == Some(numbered(project, size - 1, "").record.sha)
    };

    // When every run may read one page only, and some commits change again (marked removed) on the way.
    let mut runs = 0;
    let mut small_ones_done_after = None;
    loop {
        let report = exporter.run(NOW, Some(Instant::now())).await.unwrap();
        runs += 1;
        assert!(report.rows <= PAGE, "one page a run: {report:?}");
        if small_ones_done_after.is_none() && done(2, 1_500) && done(3, 500) {
            small_ones_done_after = Some(runs);
        }
        if runs == 50 {
            for i in (0..98_000).step_by(1_000) {
                let mut removed = numbered(1, i, "2024-04-01T11:00:00.000000Z");
                removed.record.removed_at = Some("2024-04-01T11:00:00Z".into());
                feed.write(&big, removed);
            }
        }
        if report.rows == 0 && report.deferred == 0 {
            break;
        }
        assert!(runs < 1_000, "no end in sight: {report:?}");
    }

    // Then each change is one row, the latest row of each commit is the table's item, and the small projects
    // did not wait for the big one.
    let rows = exported_rows(&exporter.sink);
    let distinct: BTreeSet<&Change> = rows.iter().collect();
    assert_eq!(distinct.len(), rows.len(), "a change written twice");
    // A commit marked before its first change was exported has one row, its last; one marked after, two.
    assert!((100_000..=100_098).contains(&rows.len()), "{}", rows.len());
    let mut latest: BTreeMap<(i64, String), (i64, bool)> = BTreeMap::new();
    for (project, sha, changed_at, removed) in rows {
        let entry = latest
            .entry((project, sha))
            .or_insert((changed_at, removed));
        if changed_at > entry.0 {
            *entry = (changed_at, removed);
        }
    }
    let table: BTreeMap<(i64, String), (i64, bool)> = sizes
        .iter()
        .flat_map(|&(project, _)| {
            let key = project_key("c1", project);
            feed.items(&key).into_iter().map(move |item| {
                let (_, row) = ExportRow::from_change(&key, item, 0).unwrap();
                (
                    (row.project_id, row.sha),
                    (row.changed_at, row.removed_at.is_some()),
                )
            })
        })
        .collect();
    assert_eq!(latest, table);
    // Furthest behind first: a handful of runs, not after the big one's hundred.
    assert!(
        small_ones_done_after.is_some_and(|runs| runs < 10),
        "{small_ones_done_after:?} of {runs}"
    );
}

#[tokio::test(start_paused = true)]
async fn projects_take_turns_with_a_share_of_the_time_left() {
    // Given a project with a backlog of 100 pages, first in line, and two with two pages each.
    let mut feed = MemoryChangeFeed::new(1);
    feed.page_delay = Duration::from_secs(1);
    let exporter = Exporter::new(feed, MemorySink::default(), ExportOptions::default());
    let big = project_key("c1", 1);
    let small = [2, 3].map(|p| project_key("c1", p));
    let at = "2024-04-01T10:00:00.000000Z";
    for i in 0..100 {
        exporter.feed.write(&big, numbered(1, i, at));
    }
    for key in &small {
        for i in 0..2 {
            exporter.feed.write(key, numbered(key.project_id, i, at));
        }
    }

    // When the invocation has ten pages' time before its finish time.
    let ends_at = Instant::now() + ExportOptions::default().finish_time + Duration::from_secs(10);
    let report = exporter.run(NOW, Some(ends_at)).await.unwrap();

    // Then the big one had a third of it (four pages: a turn ends after the page that overran), the small ones
    // finished in their shares, the big one had what was left, and goes on next run after its sixth change.
    assert_eq!((report.rows, report.deferred), (10, 1), "{report:?}");
    for key in &small {
        assert_eq!(
            exporter.feed.watermark(key).and_then(|w| w.sha),
            Some(numbered(key.project_id, 1, at).record.sha)
        );
    }
    assert_eq!(
        exporter.feed.watermark(&big).and_then(|w| w.sha),
        Some(numbered(1, 5, at).record.sha)
    );
}
