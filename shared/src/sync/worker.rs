//! The sync worker's handling of one batch of sync messages (read from SQS by
//! [`crate::entrypoints::sync_worker`]): each record is one project's sync, run on its own. A bad record or a
//! transient failure is reported as that record's batch item failure (SQS redelivers it and,
//! in the end, dead-letters it); a token GitLab refuses for certain marks the credential and stops, without a
//! retry storm (a 401 is confirmed first, and a credential changed during the sync is not marked: see
//! [`crate::credentials::refusal`]); a project GitLab hides is marked and skipped; a sync cut by the deadline is
//! continued through a new message.
//!
//! Records run one after another and share the invocation's time ([`TimeBudget`]): each started record gets an
//! equal share of what is left for the records still waiting, and every phase of it (reading the head, planning,
//! its windows, GitLab's rate-limit waits) runs within that share: no GitLab request runs and no wait sleeps past
//! its end. A record stopped there with windows done continues through a new message; one stopped before (or
//! asked to wait longer than its share holds) goes back to SQS at once, as a batch item failure, like a record
//! not started because too little was left. A record still running close to the Lambda deadline (stuck on
//! storage) is abandoned, so the batch's answer always goes out before Lambda would kill the invocation.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;
use tracing::Instrument;

use super::importer::{ProjectSync, SyncError, SyncOptions, SyncOutcome, SyncReport, SyncTarget};
use super::ports::{CommitStore, SyncEnd, SyncStateStore};
use crate::credentials::model::SyncTally;
use crate::credentials::refusal::{self, Refusal};
use crate::credentials::{
    CredentialRecord, CredentialStatus, CredentialStatusStore, CredentialStore,
};
use crate::gitlab::connect::{ConnectError, GitLabConnector};
use crate::gitlab::{GitLabClient, GitLabError, ProjectRef};
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::project_key::ProjectKey;
use crate::kernel::sync_message::{SyncMessage, SyncQueue};
use crate::kernel::time::{before, timestamp};
use crate::kernel::vault::SecretVault;
use crate::metrics::Emitter;

/// How the records of one batch share the invocation's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBudget {
    /// Kept back from the Lambda deadline: no window starts after it, so windows already running finish and the
    /// checkpoint is written.
    pub margin: Duration,
    /// A record still running this close to the Lambda deadline is abandoned (and retried; its finished windows
    /// are checkpointed), so that the batch's answer goes out before Lambda kills the invocation.
    pub abort_margin: Duration,
    /// A record is started only with at least this much time left before the margin; otherwise it is handed back
    /// to SQS at once. `template.yaml` keeps `BatchSize` times this within the worker's timeout less the margin,
    /// so a record is handed back only when the records before it overran their shares.
    pub min_record_time: Duration,
}

impl Default for TimeBudget {
    fn default() -> Self {
        TimeBudget {
            margin: Duration::from_secs(60),
            abort_margin: Duration::from_secs(10),
            min_record_time: Duration::from_secs(120),
        }
    }
}

/// The time one record may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordSlot {
    /// No new window of its import starts after this (a continuation carries on): three quarters into the share,
    /// so that the windows running then can finish within it.
    pub windows_until: Option<Instant>,
    /// The end of the record's share: no GitLab request runs and no wait (the budget, a 429, a backoff) sleeps
    /// past it. A wait that would end later fails at once, and the record is deferred instead of sleeping.
    pub share_end: Option<Instant>,
    /// The record is abandoned at this instant.
    pub abort_at: Option<Instant>,
}

impl TimeBudget {
    /// The slot of a record started `now` with `waiting` records of the batch not yet started (itself
    /// included), the invocation ending at `end`: an equal share of the time left before the margin, so one
    /// record cannot take the time of the records after it. `None` when too little is left to start it.
    pub fn slot(&self, end: Option<Instant>, waiting: usize, now: Instant) -> Option<RecordSlot> {
        let Some(end) = end else {
            return Some(RecordSlot::default());
        };
        let left = end
            .saturating_duration_since(now)
            .saturating_sub(self.margin);
        if left < self.min_record_time {
            return None;
        }
        let share = left / u32::try_from(waiting.max(1)).unwrap_or(u32::MAX);
        Some(RecordSlot {
            windows_until: now.checked_add(share * 3 / 4),
            // Before `abort_at`: the share is at most the time left before the margin.
            share_end: now.checked_add(share),
            abort_at: end.checked_sub(self.abort_margin),
        })
    }
}

/// How one record ended; everything but `Retry` and `Deferred` deletes the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    Synced(SyncOutcome),
    Continued(SyncReport),
    /// Not started (too little of the invocation was left), or stopped at the end of its share before any window
    /// was done, or asked by GitLab to wait longer than its share holds. SQS delivers it again (from its
    /// checkpoint); not a failure of the sync.
    Deferred,
    /// Nothing to do for this credential or project (deleted, disabled, marked invalid, hidden): the reason, and
    /// for a refusal the code its credential's summary shows (`forbidden`, `not_found`, `invalid_credentials`).
    Skipped(&'static str),
    /// Transient trouble (GitLab, AWS): SQS redelivers the message. `code` names the kind (GitLab's error code,
    /// `storage_unavailable`, ...), `reason` the detail for the log.
    Retry {
        code: &'static str,
        reason: String,
    },
}

impl RecordOutcome {
    fn retry(code: &'static str, reason: String) -> Self {
        RecordOutcome::Retry { code, reason }
    }
}

/// Skip reasons that are a failure of the credential or project, and so its summary's `last_error`.
const REFUSALS: [&str; 9] = [
    "forbidden",
    "not_found",
    "invalid_credentials",
    "invalid_permissions",
    "invalid_settings",
    "rejected",
    "connection_failed",
    "response_too_large",
    "write_ceiling",
];

/// What one record did and what it cost.
#[derive(Debug, Clone)]
pub struct RecordReport {
    /// The sync message, when the record carried a readable one.
    pub message: Option<SyncMessage>,
    pub outcome: RecordOutcome,
    pub stats: crate::gitlab::ClientStats,
    pub duration: Duration,
}

impl RecordReport {
    /// A record whose body is no sync message: SQS delivers it again, and in the end dead-letters it.
    pub fn malformed(reason: String) -> Self {
        RecordReport {
            message: None,
            outcome: RecordOutcome::retry("malformed_message", reason),
            stats: crate::gitlab::ClientStats::default(),
            duration: Duration::ZERO,
        }
    }

    fn deferred(message: SyncMessage) -> Self {
        RecordReport {
            message: Some(message),
            outcome: RecordOutcome::Deferred,
            stats: crate::gitlab::ClientStats::default(),
            duration: Duration::ZERO,
        }
    }

    /// SQS must deliver the record again (it failed, or was never started).
    pub fn redeliver(&self) -> bool {
        matches!(
            self.outcome,
            RecordOutcome::Retry { .. } | RecordOutcome::Deferred
        )
    }

    /// Commits written by this record's sync.
    pub fn commits(&self) -> usize {
        match &self.outcome {
            RecordOutcome::Synced(SyncOutcome::Imported(r)) | RecordOutcome::Continued(r) => {
                r.commits_written
            }
            _ => 0,
        }
    }

    /// Commits the table refused (recorded in the log and the credential's summary, never silently dropped).
    pub fn commits_skipped(&self) -> usize {
        match &self.outcome {
            RecordOutcome::Synced(SyncOutcome::Imported(r)) | RecordOutcome::Continued(r) => {
                r.commits_skipped.len()
            }
            _ => 0,
        }
    }

    fn windows(&self) -> usize {
        match &self.outcome {
            RecordOutcome::Synced(SyncOutcome::Imported(r)) | RecordOutcome::Continued(r) => {
                r.windows
            }
            _ => 0,
        }
    }

    /// The outcome in one word, as the log line and the local run's progress show it.
    pub fn result(&self) -> &'static str {
        match &self.outcome {
            RecordOutcome::Synced(SyncOutcome::Unchanged) => "unchanged",
            RecordOutcome::Synced(SyncOutcome::EmptyRepository) => "empty_repository",
            RecordOutcome::Synced(SyncOutcome::Imported(_)) => "imported",
            RecordOutcome::Synced(SyncOutcome::Continue(_)) | RecordOutcome::Continued(_) => {
                "continued"
            }
            RecordOutcome::Deferred => "deferred",
            RecordOutcome::Skipped(reason) => reason,
            RecordOutcome::Retry { .. } => "retry",
        }
    }

    /// How the sync that started at `started_at` ended, as the project's sync item records it: `None` for a
    /// record that never read the project for a reason of its own (deferred, or skipped for its credential's
    /// state).
    pub fn end(&self, started_at: OffsetDateTime) -> Option<SyncEnd> {
        let at = timestamp(OffsetDateTime::now_utc());
        let commits = self.commits() as u64;
        match &self.outcome {
            // Not ended: a continuation carries on (its message is queued).
            RecordOutcome::Synced(SyncOutcome::Continue(_)) | RecordOutcome::Continued(_) => {
                Some(SyncEnd::Progressed { commits })
            }
            // The head it read, after it started, was the one imported: the table was current then.
            RecordOutcome::Synced(SyncOutcome::Unchanged) => Some(SyncEnd::Succeeded {
                at,
                commits,
                verified_at: Some(started_at.unix_timestamp()),
            }),
            RecordOutcome::Synced(_) => Some(SyncEnd::Succeeded {
                at,
                commits,
                verified_at: None,
            }),
            // Handed back (SQS delivers it again), or another delivery of the message did the sync.
            RecordOutcome::Deferred | RecordOutcome::Skipped("superseded") => None,
            // Refused, or not run for its credential's state (deleted, disabled, no longer active).
            RecordOutcome::Skipped(code) | RecordOutcome::Retry { code, .. } => {
                Some(SyncEnd::Failed {
                    at,
                    code: (*code).to_owned(),
                })
            }
        }
    }

    /// The error this record adds to its credential's sync summary, if it failed.
    pub fn error_code(&self) -> Option<&'static str> {
        match &self.outcome {
            RecordOutcome::Skipped(reason) => REFUSALS.into_iter().find(|r| r == reason),
            RecordOutcome::Retry { code, .. } => Some(code),
            RecordOutcome::Synced(_) | RecordOutcome::Continued(_) | RecordOutcome::Deferred => {
                None
            }
        }
    }
}

/// Everything the worker needs, built once per process.
#[derive(Debug)]
pub struct SyncWorker<K, V, C, S, Q> {
    pub credentials: K,
    pub vault: V,
    pub commits: C,
    pub state: S,
    pub queue: Q,
    pub connector: GitLabConnector,
    pub options: SyncOptions,
    /// How the records of a batch share the invocation's time.
    pub budget: TimeBudget,
    /// CloudWatch embedded-metric-format lines per record on stdout (where Lambda's log agent reads them), in the
    /// stack's namespace ([`super::metrics`]); the local run turns them off and prints its own progress instead.
    pub metrics: Emitter,
}

impl<K, V, C, S, Q> SyncWorker<K, V, C, S, Q>
where
    K: CredentialStore + CredentialStatusStore,
    V: SecretVault,
    C: CommitStore,
    S: SyncStateStore,
    Q: SyncQueue,
{
    pub fn new(
        credentials: K,
        vault: V,
        commits: C,
        state: S,
        queue: Q,
        connector: GitLabConnector,
        options: SyncOptions,
    ) -> Self {
        SyncWorker {
            credentials,
            vault,
            commits,
            state,
            queue,
            connector,
            options,
            budget: TimeBudget::default(),
            metrics: Emitter::default(),
        }
    }

    /// One record of a batch, with `waiting` records not yet started (itself included) and the invocation ending
    /// at `end`: run within its share of the time left, or handed back at once when too little is left.
    pub async fn run(
        &self,
        message: SyncMessage,
        end: Option<Instant>,
        waiting: usize,
    ) -> RecordReport {
        match self.budget.slot(end, waiting, Instant::now()) {
            // Boxed: the sync's future is deep enough to pass the compiler's layout depth limit in the Lambda's
            // main otherwise.
            Some(slot) => Box::pin(self.process(message, slot)).await,
            None => {
                let report = RecordReport::deferred(message);
                self.metrics
                    .print(super::metrics::record_lines(&self.metrics, &report, false));
                report
            }
        }
    }

    /// A record whose body is no sync message ([`RecordReport::malformed`]), counted in the metrics.
    pub fn malformed(&self, reason: String) -> RecordReport {
        let report = RecordReport::malformed(reason);
        self.metrics
            .print(super::metrics::record_lines(&self.metrics, &report, false));
        report
    }

    /// After a batch's records: each credential's summary, written within the invocation too (in the second half
    /// of the margin kept after abandoned records), so a slow table does not make Lambda end the batch before it
    /// answers.
    pub async fn finish_batch(&self, reports: &[RecordReport], end: Option<Instant>) {
        let summaries_until = end.and_then(|end| end.checked_sub(self.budget.abort_margin / 2));
        if before(summaries_until, Box::pin(self.record_summaries(reports)))
            .await
            .is_none()
        {
            tracing::warn!("credential summaries not written before the deadline");
        }
    }

    /// Each credential's figures of this batch: one atomic write per credential, not per record. A failure is
    /// only logged: the syncs themselves are done, and the figures are a summary.
    async fn record_summaries(&self, reports: &[RecordReport]) {
        let mut tallies: BTreeMap<(&ConnectionId, &CredentialId), SyncTally> = BTreeMap::new();
        for report in reports {
            let Some(message) = &report.message else {
                continue;
            };
            let tally = tallies
                .entry((message.connection_id(), message.credential_id()))
                .or_default();
            tally.succeeded += u64::from(matches!(report.outcome, RecordOutcome::Synced(_)));
            tally.commits += report.commits() as u64;
            tally.commits_skipped += report.commits_skipped() as u64;
            if let Some(code) = report.error_code() {
                tally.last_error = Some(code.to_owned());
            }
        }
        let at = timestamp(OffsetDateTime::now_utc());
        for ((connection, credential), tally) in tallies {
            if tally.is_empty() {
                continue;
            }
            if let Err(error) = self
                .credentials
                .record_syncs(connection, credential, &tally, &at)
                .await
            {
                tracing::warn!(credential_id = %credential, error = %error, "sync summary not written");
            }
        }
    }

    /// One project's sync within its slot, with the logging and metrics of its outcome.
    pub async fn process(&self, message: SyncMessage, slot: RecordSlot) -> RecordReport {
        let span = tracing::info_span!(
            "sync",
            connection_id = %message.connection_id(),
            project_id = message.project_id()
        );
        let started = std::time::Instant::now();
        let started_at = OffsetDateTime::now_utc();
        let (outcome, stats) = self.sync(&message, slot).instrument(span.clone()).await;
        let report = RecordReport {
            message: Some(message),
            outcome,
            stats,
            duration: started.elapsed(),
        };
        self.record_end(&report, slot, started_at)
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        let message = report.message.as_ref().expect("set above");
        let duration_ms = report.duration.as_millis() as u64;
        tracing::info!(
            result = report.result(),
            project = %message.path_with_namespace(),
            commits = report.commits(),
            commits_skipped = report.commits_skipped(),
            windows = report.windows(),
            requests = stats.requests,
            retries = stats.retries,
            rate_limited = stats.rate_limited,
            budget_waits = stats.budget_waits,
            duration_ms,
            "sync finished"
        );
        self.metrics
            .print(super::metrics::record_lines(&self.metrics, &report, true));
        report
    }

    /// Records how the record's sync ended on the project's sync item (what `projects.list` shows), within the
    /// record's time. A failure to record is only logged: the sync itself is done.
    async fn record_end(
        &self,
        report: &RecordReport,
        slot: RecordSlot,
        started_at: OffsetDateTime,
    ) {
        let (Some(message), Some(end)) = (&report.message, report.end(started_at)) else {
            return;
        };
        let key = ProjectKey::new(message.connection_id().clone(), message.project_id());
        match before(slot.abort_at, self.state.record_outcome(&key, &end)).await {
            Some(Ok(())) => {}
            Some(Err(error)) => tracing::warn!(error = %error, "sync outcome not recorded"),
            None => tracing::warn!("sync outcome not recorded before the deadline"),
        }
    }

    async fn sync(
        &self,
        message: &SyncMessage,
        slot: RecordSlot,
    ) -> (RecordOutcome, crate::gitlab::ClientStats) {
        let (record, gitlab) = match self.connect(message, slot).await {
            Ok(connected) => connected,
            Err(outcome) => return (outcome, crate::gitlab::ClientStats::default()),
        };
        let target = SyncTarget {
            key: ProjectKey::new(message.connection_id().clone(), message.project_id()),
            project: ProjectRef::Id(message.project_id()),
            path_with_namespace: message.path_with_namespace().to_owned(),
            default_branch: message.default_branch().to_owned(),
        };
        let sync = ProjectSync {
            gitlab: &gitlab,
            commits: &self.commits,
            state: &self.state,
            options: self.options,
        };
        let outcome = before(slot.abort_at, async {
            let synced = sync.run(&target, slot.windows_until).await;
            let run = SyncRun {
                message,
                slot,
                record: &record,
                gitlab: &gitlab,
                target: &target,
            };
            self.settle(run, synced).await
        })
        .await
        .unwrap_or_else(abandoned);
        (outcome, gitlab.stats())
    }

    /// The record's credential, live, and a GitLab client for it that ends with the record's share; or how the
    /// record ends without one.
    async fn connect(
        &self,
        message: &SyncMessage,
        slot: RecordSlot,
    ) -> Result<(CredentialRecord, GitLabClient), RecordOutcome> {
        let found = before(
            slot.abort_at,
            self.credentials
                .get(message.connection_id(), message.credential_id()),
        )
        .await
        .ok_or_else(abandoned)?;
        let record = match found {
            Ok(Some(record)) => record,
            Ok(None) => return Err(RecordOutcome::Skipped("unknown_credential")),
            Err(error) => {
                return Err(RecordOutcome::retry(
                    "storage_unavailable",
                    error.to_string(),
                ));
            }
        };
        if let Some(reason) = record.not_live(OffsetDateTime::now_utc().date()) {
            return Err(RecordOutcome::Skipped(reason));
        }
        let client = before(
            slot.abort_at,
            self.connector
                .client_for(&self.vault, &record.gitlab_target(), self.options.retry),
        )
        .await
        .ok_or_else(abandoned)?;
        match client {
            // Every request and wait of the record ends with its share, not by being cut off.
            Ok(client) => Ok((record, client.with_deadline(slot.share_end))),
            Err(ConnectError::Settings) => Err(RecordOutcome::Skipped("invalid_settings")),
            Err(error @ ConnectError::Secret(_)) => Err(RecordOutcome::retry(
                "secret_unavailable",
                error.to_string(),
            )),
        }
    }

    /// What the sync's result means for the record: a continuation sent, a retry, a deferral, a skip.
    async fn settle(
        &self,
        run: SyncRun<'_>,
        synced: Result<SyncOutcome, SyncError>,
    ) -> RecordOutcome {
        let SyncRun { message, slot, .. } = run;
        match synced {
            Ok(SyncOutcome::Continue(report)) => {
                match self.queue.enqueue(message, Duration::ZERO).await {
                    Ok(()) => RecordOutcome::Continued(report),
                    // The checkpoint is saved: a redelivery of this message resumes it.
                    Err(error) => RecordOutcome::retry("queue_unavailable", error.to_string()),
                }
            }
            Ok(outcome) => RecordOutcome::Synced(outcome),
            Err(SyncError::Superseded) => RecordOutcome::Skipped("superseded"),
            Err(SyncError::Store(error)) => {
                RecordOutcome::retry("storage_unavailable", error.to_string())
            }
            // The client stopped at the record's end: abandoned, as if cut off there.
            Err(SyncError::GitLab(GitLabError::TimedOut { .. }))
                if slot.abort_at.is_some_and(|at| Instant::now() >= at) =>
            {
                abandoned()
            }
            // The share is used up, or GitLab asks for a wait it cannot hold: handed back, not slept through,
            // so the records behind it get their time. A wait longer than any GitLab should ask stays an error
            // of the connection (`rate_limited`).
            Err(SyncError::GitLab(GitLabError::TimedOut { .. }))
                if slot.share_end.is_some_and(|at| Instant::now() >= at) =>
            {
                tracing::info!("the record's share of the invocation is used up; deferred");
                RecordOutcome::Deferred
            }
            Err(SyncError::GitLab(GitLabError::RateLimited { retry_after }))
                if retry_after <= self.options.retry.max_rate_limit_wait =>
            {
                tracing::info!(
                    wait_ms = retry_after.as_millis() as u64,
                    "GitLab's rate limit asks for a longer wait than the record's share holds; deferred"
                );
                RecordOutcome::Deferred
            }
            Err(SyncError::GitLab(error)) => {
                self.gitlab_refused(run.record, run.gitlab, run.target, error)
                    .await
            }
            // Checkpointed; the next day's tick goes on. Not a retry: SQS would only hit the ceiling again.
            Err(error @ SyncError::WriteCeiling { .. }) => {
                tracing::warn!(error = %error, "daily write ceiling reached");
                RecordOutcome::Skipped("write_ceiling")
            }
            Err(error @ SyncError::Inconsistent { .. }) => {
                RecordOutcome::retry("inconsistent_answer", error.to_string())
            }
        }
    }

    /// Decides what a GitLab error means for the credential (the rule of [`refusal::settle`], asked with the
    /// token the sync used), the project, or the message.
    async fn gitlab_refused(
        &self,
        record: &CredentialRecord,
        gitlab: &GitLabClient,
        target: &SyncTarget,
        error: GitLabError,
    ) -> RecordOutcome {
        match refusal::settle(&self.credentials, record, &error, gitlab).await {
            Ok(Refusal::Marked(status)) => return RecordOutcome::Skipped(status_code(status)),
            // SQS delivers it again, and that sync reads the credential as it is now.
            Ok(Refusal::Changed(_)) => {
                return RecordOutcome::retry(
                    "credential_changed",
                    "GitLab refused the token this sync began with; the credential has changed since".into(),
                );
            }
            Ok(Refusal::Unconfirmed { detail }) => {
                return RecordOutcome::retry(error.code(), detail);
            }
            Ok(Refusal::NotTheToken) => {}
            Err(store) => return RecordOutcome::retry("storage_unavailable", store.to_string()),
        }
        match error {
            GitLabError::Forbidden { .. } | GitLabError::NotFound { .. } => {
                tracing::warn!(code = error.code(), "project is not accessible; skipped");
                match self
                    .state
                    .mark_inaccessible(&target.key, error.code())
                    .await
                {
                    Ok(()) => RecordOutcome::Skipped(error.code()),
                    Err(store) => RecordOutcome::retry("storage_unavailable", store.to_string()),
                }
            }
            // Redelivering cannot change GitLab's answer (a 4xx, a refused address, a commit over the body
            // limit): recorded, and tried again when the next tick sends the project, not dead-lettered.
            other if !other.is_transient() => {
                tracing::warn!(code = other.code(), error = %other, "GitLab's answer will not change on a retry; skipped");
                RecordOutcome::Skipped(other.code())
            }
            other => RecordOutcome::retry(other.code(), other.to_string()),
        }
    }
}

/// What one record's sync ran with, for deciding what its result means.
#[derive(Clone, Copy)]
struct SyncRun<'a> {
    message: &'a SyncMessage,
    slot: RecordSlot,
    record: &'a CredentialRecord,
    gitlab: &'a GitLabClient,
    target: &'a SyncTarget,
}

/// A record cut off near the Lambda deadline: retried, from its checkpoint.
fn abandoned() -> RecordOutcome {
    RecordOutcome::retry(
        "deadline_exceeded",
        "the invocation's time ran out during this sync; finished windows are checkpointed".into(),
    )
}

/// A refused credential's status as its summary's error code.
fn status_code(status: CredentialStatus) -> &'static str {
    match status {
        CredentialStatus::InvalidPermissions => "invalid_permissions",
        _ => "invalid_credentials",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_ends_as_its_outcome_says_and_a_continued_one_has_not_ended() {
        let report = |outcome| RecordReport {
            message: None,
            outcome,
            stats: crate::gitlab::ClientStats::default(),
            duration: Duration::ZERO,
        };
        let written = SyncReport {
            commits_written: 7,
            ..SyncReport::default()
        };
        let started_at = time::macros::datetime!(2026-12-07 12:00:00 UTC);
        let end = |outcome| report(outcome).end(started_at);
        // Only a sync that found the imported head unchanged says the table was current when it started.
        assert!(matches!(
            end(RecordOutcome::Synced(SyncOutcome::Imported(
                written.clone()
            ))),
            Some(SyncEnd::Succeeded {
                commits: 7,
                verified_at: None,
                ..
            })
        ));
        assert_eq!(
            end(RecordOutcome::Synced(SyncOutcome::Unchanged)).map(|end| match end {
                SyncEnd::Succeeded {
                    commits,
                    verified_at,
                    ..
                } => (commits, verified_at),
                other => panic!("{other:?}"),
            }),
            Some((0, Some(started_at.unix_timestamp())))
        );
        assert_eq!(
            end(RecordOutcome::Continued(written)),
            Some(SyncEnd::Progressed { commits: 7 })
        );
        for (outcome, code) in [
            (RecordOutcome::Skipped("forbidden"), "forbidden"),
            (
                RecordOutcome::Skipped("credential_disabled"),
                "credential_disabled",
            ),
            (
                RecordOutcome::retry("gitlab_unavailable", "5xx".into()),
                "gitlab_unavailable",
            ),
        ] {
            match end(outcome) {
                Some(SyncEnd::Failed { code: got, .. }) => assert_eq!(got, code),
                other => panic!("{code}: {other:?}"),
            }
        }
        assert_eq!(end(RecordOutcome::Deferred), None);
        assert_eq!(end(RecordOutcome::Skipped("superseded")), None);
    }

    #[test]
    fn each_record_gets_an_equal_share_of_what_is_left_and_none_starts_too_late() {
        let budget = TimeBudget::default();
        let now = Instant::now();
        let end = now + Duration::from_secs(900);
        // Ten records waiting: the first gets a tenth of the 840 s before the margin, and starts windows in the
        // first three quarters of it.
        let first = budget.slot(Some(end), 10, now).unwrap();
        assert_eq!(first.share_end, Some(now + Duration::from_secs(84)));
        assert_eq!(first.windows_until, Some(now + Duration::from_secs(63)));
        assert_eq!(first.abort_at, Some(end - Duration::from_secs(10)));
        // The last one gets all that is left.
        let later = now + Duration::from_secs(600);
        let last = budget.slot(Some(end), 1, later).unwrap();
        assert_eq!(last.share_end, Some(end - Duration::from_secs(60)));
        assert_eq!(last.windows_until, Some(later + Duration::from_secs(180)));
        // Less than two minutes before the margin: not started.
        let late = end - Duration::from_secs(60 + 119);
        assert_eq!(budget.slot(Some(end), 3, late), None);
        assert_eq!(
            budget.slot(Some(end), 1, end + Duration::from_secs(5)),
            None
        );
        assert!(
            budget
                .slot(Some(end), 1, late - Duration::from_secs(1))
                .is_some()
        );
        // No deadline (a local run): no limits.
        assert_eq!(budget.slot(None, 10, now), Some(RecordSlot::default()));
    }
}
