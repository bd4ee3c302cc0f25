//! One export run: for every project, the changes after its watermark and stamped up to `now - settle`, read page
//! by page from the change feed, buffered per partition month, written as Parquet files when a partition's buffer
//! is full or the buffers together are too heavy (so memory stays bounded whatever a project holds), and at the end
//! of the project's turn; then the watermark moves to the last change read. The settle time leaves room for the
//! index's eventual consistency and for writers whose clocks run behind: every write is stamped at its own call
//! (`aws::commit_store`), so it lands in the index long before its stamp is that old.
//!
//! The watermark is a position in the index's total order (`changed_at`, then `sha`), not a stamp, since many
//! changes share a stamp: a turn that cannot finish a project's window stops between two pages, and the next
//! turn (this run's or the next's) goes on after exactly what was written, so no change is written twice and
//! none is skipped. Projects take turns: the furthest behind first, each with an even share of the invocation's
//! time left, and those with more go round again; so one project with a backlog slows the others, never stops them.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;

use super::columnar::{self, EncodeError};
use super::model::{self, ExportRow, micros};
use super::ports::{ChangeFeed, ExportPosition, ExportProject, ObjectSink, Window};
use crate::kernel::project_key::ProjectKey;
use crate::kernel::store::StoreError;
use crate::kernel::time::{change_stamp, utc};
use crate::metrics::{EXPORT_LAG, EXPORT_ROWS, Emitter};

/// Where each run records what it did (the [`ExportReport`] with `started_at` and `finished_at`), beside the
/// dataset rather than in it: Athena reads every object under `commits/` as Parquet.
pub const RUN_RECORD: &str = "runs/latest.json";

/// How old a write must be before a run exports it, unless `EXPORT_SETTLE_SECONDS` says otherwise.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(5 * 60);

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
    /// Kept back before the invocation's deadline to write the rows read and move the watermark: no page is read
    /// later, except until the run has read a change (so that every run gets somewhere).
    pub finish_time: Duration,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            prefix: String::new(),
            settle: DEFAULT_SETTLE,
            max_rows_per_file: 250_000,
            max_buffered_bytes: 64 * 1024 * 1024,
            finish_time: Duration::from_secs(60),
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
    /// Projects left with changes for the next run because the deadline was near.
    pub deferred: usize,
    pub failed: usize,
    /// The change stamp up to which every project's changes are exported after this run: the run's window end
    /// when it finished every project, else the earliest watermark of those it left (deferred or failed); `None`
    /// when one of those was never exported.
    pub exported_through: Option<String>,
}

impl ExportReport {
    /// Lowers [`ExportReport::exported_through`] to `watermark`, a project's that was left behind.
    fn left_behind(&mut self, watermark: Option<&ExportPosition>) {
        let at = watermark.map(|w| w.changed_at.clone());
        self.exported_through = self.exported_through.take().min(at);
    }

    /// The run's metric line ([`crate::metrics`]) at `now`: rows written, and the export's lag when known.
    pub fn metric_line(&self, emitter: &Emitter, now: OffsetDateTime) -> String {
        let mut values = vec![(EXPORT_ROWS, self.rows as u64)];
        let through = self.exported_through.as_deref().and_then(model::parse);
        if let Some(through) = through {
            let lag = (now - through).whole_seconds().max(0);
            values.push((EXPORT_LAG, u64::try_from(lag).unwrap_or(0)));
        }
        emitter.line(&[], &values)
    }
}

/// The export service over its two ports.
#[derive(Debug)]
pub struct Exporter<F, S> {
    pub feed: F,
    pub sink: S,
    pub options: ExportOptions,
    /// One embedded-metric-format line per run on stdout; the local run turns it off.
    pub metrics: Emitter,
}

/// The pages of one project's turn, at most (a page holds at least one change, so this bounds the loop far beyond
/// any real project; a turn that reaches it leaves the rest to the next).
const MAX_PAGES: usize = 1_000_000;

impl<F: ChangeFeed, S: ObjectSink> Exporter<F, S> {
    pub fn new(feed: F, sink: S, options: ExportOptions) -> Self {
        Exporter {
            feed,
            sink,
            options,
            metrics: Emitter::default(),
        }
    }

    /// Exports every project's changes up to `now - settle`, or as many as the invocation's time allows (the rest
    /// go on from where they stopped next run). A project that fails is logged and retried by the next run (its
    /// watermark stays at what was written); the run then reports [`ExportError::Incomplete`] after doing the others.
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
            exported_through: Some(until.clone()),
            ..ExportReport::default()
        };
        let mut queue = turn_order(projects, &until);
        let stop = ends_at.map(|end| end.checked_sub(self.options.finish_time).unwrap_or(end));
        while let Some((project, wrote)) = queue.pop_front() {
            let left = stop.map(|stop| stop.saturating_duration_since(Instant::now()));
            // Out of time, once the run has read a change: a project with nothing new is one empty page.
            let progressed = report.rows + report.skipped > 0;
            if progressed && left.is_some_and(|left| left.is_zero()) {
                report.deferred = queue.len() + 1;
                report.left_behind(project.exported_to.as_ref());
                for (left, _) in &queue {
                    report.left_behind(left.exported_to.as_ref());
                }
                tracing::warn!(
                    deferred = report.deferred,
                    "deadline near; the next run exports the rest"
                );
                break;
            }
            // An even share of the time left for each project still waiting, this one included.
            let waiting = u32::try_from(queue.len() + 1).unwrap_or(u32::MAX);
            let turn_ends = left.map(|left| Instant::now() + left / waiting);
            let turn = self.take_turn(project, wrote, &until, turn_ends, exported_at, &mut report);
            if let Some(again) = turn.await {
                queue.push_back(again);
            }
        }
        self.metrics
            .print([report.metric_line(&self.metrics, OffsetDateTime::now_utc())]);
        self.record_run(&report, now).await?;
        finished(report)
    }

    /// Writes what the run did to [`RUN_RECORD`] under the prefix, replacing the last run's: the operator's
    /// `status` reads it. A run that cannot record fails, so the export's alarm says so.
    async fn record_run(
        &self,
        report: &ExportReport,
        started: OffsetDateTime,
    ) -> Result<(), ExportError> {
        let mut record = serde_json::json!(report);
        record["started_at"] = utc(started).into();
        record["finished_at"] = utc(OffsetDateTime::now_utc()).into();
        let key = format!("{}{RUN_RECORD}", self.options.prefix);
        self.sink.put(&key, record.to_string().into_bytes()).await?;
        Ok(())
    }

    /// A project's [`turn`](Self::turn) (`wrote`: it wrote rows in an earlier turn of this run), counted in the
    /// report: the project with its new watermark when it has more, for another turn. A failure is logged and
    /// counted; the project's watermark stays at what was written.
    async fn take_turn(
        &self,
        project: ExportProject,
        wrote: bool,
        until: &str,
        turn_ends: Option<Instant>,
        exported_at: i64,
        report: &mut ExportReport,
    ) -> Option<(ExportProject, bool)> {
        let rows_before = report.rows;
        match self
            .turn(&project, until, turn_ends, exported_at, report)
            .await
        {
            Ok(turn) => {
                let wrote_now = report.rows > rows_before;
                if wrote_now && !wrote {
                    report.changed_projects += 1;
                }
                let Turn::More(exported_to) = turn else {
                    return None;
                };
                let project = ExportProject {
                    exported_to,
                    ..project
                };
                Some((project, wrote || wrote_now))
            }
            Err(error) => {
                report.failed += 1;
                report.left_behind(project.exported_to.as_ref());
                tracing::error!(
                    connection_id = %project.key.connection_id,
                    project_id = project.key.project_id,
                    error = %error,
                    "export of the project failed; its watermark stays at what was written"
                );
                None
            }
        }
    }

    /// One turn of a project: its changes after its watermark up to `until`, page by page until the window ends
    /// or `turn_ends` passes (one change read at least), written out, then the watermark moved to the last change
    /// read.
    async fn turn(
        &self,
        project: &ExportProject,
        until: &str,
        turn_ends: Option<Instant>,
        exported_at: i64,
        report: &mut ExportReport,
    ) -> Result<Turn, ExportError> {
        let key = &project.key;
        let window = Window {
            after: project.exported_to.clone(),
            until: until.to_owned(),
        };
        let mut files = PartitionFiles::new(key, &window);
        let mut start = window.after.as_ref().and_then(ExportPosition::cursor);
        let mut last = None;
        for _ in 0..MAX_PAGES {
            let page = self.feed.changes(key, &window, start).await?;
            if !page.unreadable.is_empty() {
                report.skipped += page.unreadable.len();
                tracing::warn!(project_id = key.project_id, shas = ?page.unreadable, "unreadable commit items skipped");
            }
            for change in page.changes {
                // A watermark without a sha covers its whole stamp, which the feed's lower bound includes.
                if window.after.as_ref().is_some_and(|after| {
                    after.sha.is_none() && change.changed_at <= after.changed_at
                }) {
                    continue;
                }
                match ExportRow::from_change(key, change, exported_at) {
                    Ok((month, row)) => {
                        report.rows += 1;
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
            last = page.last.or(last);
            start = page.next;
            let time_up = turn_ends.is_some_and(|end| Instant::now() >= end);
            if start.is_none() || (time_up && last.is_some()) {
                break;
            }
        }
        for month in files.months() {
            self.write(&mut files, &month, report).await?;
        }
        let reached = last.map(ExportPosition::at);
        if let Some(reached) = &reached {
            self.feed.advance(key, reached).await?;
        }
        Ok(match start {
            Some(_) => Turn::More(reached.or(window.after)),
            None => Turn::Done,
        })
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

/// How a project's turn ended.
enum Turn {
    /// Its window is exported.
    Done,
    /// Its window has more, after this watermark.
    More(Option<ExportPosition>),
}

/// The projects that may have changes up to `until`, the furthest behind first (never exported before all), each
/// with whether it wrote rows in this run yet.
fn turn_order(mut projects: Vec<ExportProject>, until: &str) -> VecDeque<(ExportProject, bool)> {
    projects.sort_by(|a, b| a.exported_to.cmp(&b.exported_to));
    projects
        .into_iter()
        .filter(|project| may_have_changes(project, until))
        .map(|project| (project, false))
        .collect()
}

/// The run's report, logged; [`ExportError::Incomplete`] when a project failed.
fn finished(report: ExportReport) -> Result<ExportReport, ExportError> {
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

/// Whether a project's window may hold changes: not when its watermark is already past `until`.
fn may_have_changes(project: &ExportProject, until: &str) -> bool {
    project
        .exported_to
        .as_ref()
        .is_none_or(|after| match after.sha {
            Some(_) => after.changed_at.as_str() <= until,
            None => after.changed_at.as_str() < until,
        })
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
            self.window.after.as_ref(),
            &self.window.until,
            *n,
        );
        *n += 1;
        Some((name, rows))
    }
}

#[cfg(test)]
mod tests;
