//! One export run: for every project, the changes stamped after its watermark and up to `now - settle`, read page by
//! page from the change feed, buffered per partition month, written as Parquet files when a partition's buffer is
//! full or the buffers together are too heavy (so memory stays bounded whatever a project holds), and at the end of
//! the project; then the watermark moves to the window's end. The settle time leaves room for the index's eventual
//! consistency and for writers whose clocks run behind: a write lands in the index before its stamp is that old.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;

use super::columnar::{self, EncodeError};
use super::model::{self, ExportRow, micros};
use super::ports::{ChangeFeed, ExportProject, ObjectSink, Window};
use crate::kernel::StoreError;
use crate::kernel::time::change_stamp;
use crate::sync::model::ProjectKey;

/// Tunables of a run; the defaults are the deployed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// Object name prefix (`""` or ending with `/`).
    pub prefix: String,
    /// Changes younger than this wait for the next run.
    pub settle: Duration,
    /// Rows of one file at most.
    pub max_rows_per_file: usize,
    /// Rows held in memory at most (by [`ExportRow::weight`]) before the heaviest partition is written out.
    pub max_buffered_bytes: usize,
    /// A project is started only with this much time left before the invocation's deadline.
    pub project_time: Duration,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            prefix: String::new(),
            settle: Duration::from_secs(5 * 60),
            max_rows_per_file: 250_000,
            max_buffered_bytes: 64 * 1024 * 1024,
            project_time: Duration::from_secs(60),
        }
    }
}

/// A run failed: storage (DynamoDB, S3) or the encoder. Never the fault of a caller: the exporter has none.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("{failed} of {projects} projects could not be exported; the next run retries them")]
    Incomplete { failed: usize, projects: usize },
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportReport {
    pub projects: usize,
    /// Projects with at least one change in their window.
    pub changed_projects: usize,
    pub rows: usize,
    pub files: usize,
    pub bytes: u64,
    /// Stored commits that could not become rows (unreadable items, broken dates): logged with their shas.
    pub skipped: usize,
    /// Projects left for the next run because the deadline was near.
    pub deferred: usize,
    pub failed: usize,
}

/// The export service over its two ports.
#[derive(Debug)]
pub struct Exporter<F, S> {
    pub feed: F,
    pub sink: S,
    pub options: ExportOptions,
}

/// The pages of one project's window, at most (a page holds at least one change, so this bounds the loop far
/// beyond any real project).
const MAX_PAGES: usize = 1_000_000;

impl<F: ChangeFeed, S: ObjectSink> Exporter<F, S> {
    pub fn new(feed: F, sink: S, options: ExportOptions) -> Self {
        Exporter {
            feed,
            sink,
            options,
        }
    }

    /// Exports every project's changes up to `now - settle`. A project that fails is logged and retried by the
    /// next run (its watermark stays); the run then reports [`ExportError::Incomplete`] after doing the others.
    pub async fn run(
        &self,
        now: OffsetDateTime,
        ends_at: Option<Instant>,
    ) -> Result<ExportReport, ExportError> {
        let until = change_stamp(now - self.options.settle);
        let exported_at = micros(now);
        let projects = self.feed.projects().await?;
        let mut report = ExportReport {
            projects: projects.len(),
            ..ExportReport::default()
        };
        for (i, project) in projects.iter().enumerate() {
            if ends_at.is_some_and(|end| {
                end.saturating_duration_since(Instant::now()) < self.options.project_time
            }) {
                report.deferred = projects.len() - i;
                tracing::warn!(
                    deferred = report.deferred,
                    "deadline near; the next run exports the rest"
                );
                break;
            }
            let window = Window {
                after: project.exported_to.clone(),
                until: until.clone(),
            };
            if window
                .after
                .as_ref()
                .is_some_and(|after| *after >= window.until)
            {
                continue;
            }
            match self
                .project(project, &window, exported_at, &mut report)
                .await
            {
                Ok(()) => {}
                Err(error) => {
                    report.failed += 1;
                    tracing::error!(
                        connection_id = %project.key.connection_id,
                        project_id = project.key.project_id,
                        error = %error,
                        "export of the project failed; its watermark stays for the next run"
                    );
                }
            }
        }
        tracing::info!(
            projects = report.projects,
            changed_projects = report.changed_projects,
            rows = report.rows,
            files = report.files,
            bytes = report.bytes,
            skipped = report.skipped,
            deferred = report.deferred,
            failed = report.failed,
            "export run finished"
        );
        if report.failed > 0 {
            return Err(ExportError::Incomplete {
                failed: report.failed,
                projects: report.projects,
            });
        }
        Ok(report)
    }

    /// One project's window: every page, the files, then the watermark.
    async fn project(
        &self,
        project: &ExportProject,
        window: &Window,
        exported_at: i64,
        report: &mut ExportReport,
    ) -> Result<(), ExportError> {
        let key = &project.key;
        let mut files = PartitionFiles::new(key, window);
        let mut rows = 0;
        let mut start = None;
        for _ in 0..MAX_PAGES {
            let page = self.feed.changes(key, window, start).await?;
            if !page.unreadable.is_empty() {
                report.skipped += page.unreadable.len();
                tracing::warn!(project_id = key.project_id, shas = ?page.unreadable, "unreadable commit items skipped");
            }
            for change in page.changes {
                // The feed's lower bound is inclusive: the watermark's own stamp was exported by the last run.
                if window
                    .after
                    .as_ref()
                    .is_some_and(|after| change.changed_at <= *after)
                {
                    continue;
                }
                match ExportRow::from_change(key, change, exported_at) {
                    Ok((month, row)) => {
                        rows += 1;
                        if let Some(full) = files.push(month, row, &self.options) {
                            self.write(&mut files, &full, report).await?;
                        }
                    }
                    Err(error) => {
                        report.skipped += 1;
                        tracing::warn!(project_id = key.project_id, error = %error, "commit skipped");
                    }
                }
            }
            start = page.next;
            if start.is_none() {
                break;
            }
        }
        for month in files.months() {
            self.write(&mut files, &month, report).await?;
        }
        if rows > 0 {
            report.changed_projects += 1;
            report.rows += rows;
        }
        self.feed.advance(key, &window.until).await?;
        Ok(())
    }

    async fn write(
        &self,
        files: &mut PartitionFiles<'_>,
        month: &str,
        report: &mut ExportReport,
    ) -> Result<(), ExportError> {
        let Some((name, rows)) = files.take(&self.options.prefix, month) else {
            return Ok(());
        };
        let body = columnar::encode(&rows)?;
        drop(rows);
        report.files += 1;
        report.bytes += body.len() as u64;
        self.sink.put(&name, body).await?;
        Ok(())
    }
}

/// The rows of one project's window waiting to be written, per partition month, and how many files each
/// partition has had.
struct PartitionFiles<'a> {
    project: &'a ProjectKey,
    window: &'a Window,
    buffers: BTreeMap<String, (Vec<ExportRow>, usize)>,
    written: BTreeMap<String, usize>,
    weight: usize,
}

impl<'a> PartitionFiles<'a> {
    fn new(project: &'a ProjectKey, window: &'a Window) -> Self {
        PartitionFiles {
            project,
            window,
            buffers: BTreeMap::new(),
            written: BTreeMap::new(),
            weight: 0,
        }
    }

    /// Holds a row; returns a partition to write now: the row's own once it has a file's rows, or the heaviest
    /// while the buffers together are over their weight.
    fn push(&mut self, month: String, row: ExportRow, options: &ExportOptions) -> Option<String> {
        let weight = row.weight();
        self.weight += weight;
        let (rows, held) = self.buffers.entry(month.clone()).or_default();
        rows.push(row);
        *held += weight;
        if rows.len() >= options.max_rows_per_file {
            return Some(month);
        }
        if self.weight <= options.max_buffered_bytes {
            return None;
        }
        self.buffers
            .iter()
            .max_by_key(|(_, (_, held))| *held)
            .map(|(month, _)| month.clone())
    }

    fn months(&self) -> Vec<String> {
        self.buffers.keys().cloned().collect()
    }

    /// The next file of `month`: its object name and the partition's rows (at most a file's: `push` has it
    /// written as soon as it has that many).
    fn take(&mut self, prefix: &str, month: &str) -> Option<(String, Vec<ExportRow>)> {
        let (rows, held) = self.buffers.remove(month)?;
        self.weight -= held;
        let n = self.written.entry(month.to_owned()).or_default();
        let name = model::object_key(
            prefix,
            month,
            self.project,
            self.window.after.as_deref(),
            &self.window.until,
            *n,
        );
        *n += 1;
        Some((name, rows))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use time::macros::datetime;

    use super::*;
    use crate::export::columnar::tests::read;
    use crate::export::model::ChangedCommit;
    use crate::export::model::tests::record;
    use crate::testing::{MemoryChangeFeed, MemorySink};

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
        sink.objects
            .lock()
            .unwrap()
            .values()
            .map(|body| read(body.clone()).len())
            .sum()
    }

    fn names(sink: &MemorySink) -> Vec<String> {
        sink.objects.lock().unwrap().keys().cloned().collect()
    }

    #[tokio::test]
    async fn a_run_exports_each_settled_change_once_by_month_and_moves_the_watermark() {
        let (a, b) = (ProjectKey::new("c1", 1), ProjectKey::new("c1", 2));
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
        assert_eq!(
            names(&exporter.sink),
            [
                "commits/commit_month=2023-12/c1-2-0-20240401T115500000000Z-0.parquet",
                "commits/commit_month=2024-01/c1-1-0-20240401T115500000000Z-0.parquet",
                "commits/commit_month=2024-02/c1-1-0-20240401T115500000000Z-0.parquet",
            ]
        );
        let until = "2024-04-01T11:55:00.000000Z";
        assert_eq!(feed.watermark(&a).as_deref(), Some(until));
        assert_eq!(
            report.bytes,
            exporter
                .sink
                .objects
                .lock()
                .unwrap()
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
        assert!(names(&exporter.sink).contains(
            &"commits/commit_month=2024-01/c1-1-20240401T115500000000Z-20240401T125500000000Z-0.parquet".to_owned()
        ));
    }

    #[tokio::test]
    async fn files_are_cut_at_the_row_limit_and_when_the_buffers_are_heavy() {
        let a = ProjectKey::new("c1", 1);
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
        let a = ProjectKey::new("c1", 1);
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
    async fn projects_wait_for_the_next_run_when_the_deadline_is_near() {
        let exporter = service(10, ExportOptions::default());
        for project in 1..=3 {
            let key = ProjectKey::new("c1", project);
            exporter
                .feed
                .write(&key, change('a', "2024-01", "2024-04-01T10:00:00.000000Z"));
        }
        let report = exporter
            .run(NOW, Some(Instant::now() + Duration::from_secs(30)))
            .await
            .unwrap();
        assert_eq!((report.deferred, report.rows), (3, 0));
        assert_eq!(exporter.run(NOW, None).await.unwrap().rows, 3);
    }
}
