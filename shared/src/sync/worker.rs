//! The sync worker's handling of one SQS batch: each record is one project's sync, parsed and run on its own.
//! A bad record or a transient failure is reported as that record's batch item failure (SQS redelivers it and,
//! in the end, dead-letters it); a token GitLab refuses marks the credential and stops, without a retry storm; a
//! project GitLab hides is marked and skipped; a sync cut by the deadline is continued through a new message.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::time::Instant;
use tracing::Instrument;

use super::importer::{ProjectSync, SyncError, SyncOptions, SyncOutcome, SyncReport, SyncTarget};
use super::model::ProjectKey;
use super::ports::{CommitStore, StoreError, SyncStateStore};
use crate::credentials::model::{SyncTally, timestamp};
use crate::credentials::{
    ConnectError, ConnectionId, CredentialId, CredentialRecord, CredentialStatus,
    CredentialStatusStore, CredentialStore, GitLabConnector, SecretVault,
};
use crate::gitlab::{GitLabError, ProjectRef};

/// One project to sync: the body of a sync queue message (the scheduler's, or a continuation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncMessage {
    pub connection_id: String,
    pub credential_id: String,
    pub project_id: u64,
    pub path_with_namespace: String,
    pub default_branch: String,
}

/// Where continuation messages go.
pub trait SyncQueue: Send + Sync {
    fn enqueue(
        &self,
        message: &SyncMessage,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;
}

/// Time kept back from the Lambda deadline: windows already running finish and the checkpoint is written.
const DEADLINE_MARGIN: Duration = Duration::from_secs(60);

/// How one record ended; everything but `Retry` deletes the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    Synced(SyncOutcome),
    Continued(SyncReport),
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
const REFUSALS: [&str; 5] = [
    "forbidden",
    "not_found",
    "invalid_credentials",
    "invalid_permissions",
    "invalid_settings",
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
    fn unread(reason: String) -> Self {
        RecordReport {
            message: None,
            outcome: RecordOutcome::retry("malformed_message", reason),
            stats: crate::gitlab::ClientStats::default(),
            duration: Duration::ZERO,
        }
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
            RecordOutcome::Skipped(reason) => reason,
            RecordOutcome::Retry { .. } => "retry",
        }
    }

    /// The error this record adds to its credential's sync summary, if it failed.
    pub fn error_code(&self) -> Option<&'static str> {
        match &self.outcome {
            RecordOutcome::Skipped(reason) => REFUSALS.into_iter().find(|r| r == reason),
            RecordOutcome::Retry { code, .. } => Some(code),
            RecordOutcome::Synced(_) | RecordOutcome::Continued(_) => None,
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
    /// One CloudWatch embedded-metric-format line per sync on stdout (where Lambda's log agent reads it); the
    /// local run turns it off and prints its own progress instead.
    pub embedded_metrics: bool,
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
            embedded_metrics: true,
        }
    }

    /// The Lambda handler: records one after another, each with the invocation's deadline.
    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        Ok(self.handle_batch(event).await.0)
    }

    /// The handler's work, with what each record did (the local run shows it as progress).
    pub async fn handle_batch(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> (SqsBatchResponse, Vec<RecordReport>) {
        let deadline = deadline_of(event.context.deadline);
        let mut response = SqsBatchResponse::default();
        let mut reports = Vec::with_capacity(event.payload.records.len());
        for record in event.payload.records {
            let id = record.message_id.clone().unwrap_or_default();
            let report = match record
                .body
                .as_deref()
                .map(serde_json::from_str::<SyncMessage>)
            {
                Some(Ok(message)) => self.process(message, deadline).await,
                Some(Err(error)) => {
                    RecordReport::unread(format!("malformed sync message: {error}"))
                }
                None => RecordReport::unread("sync message without a body".into()),
            };
            if let RecordOutcome::Retry { code, reason } = &report.outcome {
                tracing::warn!(message_id = %id, code, reason = %reason, "sync message will be retried");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
            reports.push(report);
        }
        self.record_summaries(&reports).await;
        (response, reports)
    }

    /// Each credential's figures of this batch: one atomic write per credential, not per record. A failure is
    /// only logged: the syncs themselves are done, and the figures are a summary.
    async fn record_summaries(&self, reports: &[RecordReport]) {
        let mut tallies: BTreeMap<(&str, &str), SyncTally> = BTreeMap::new();
        for report in reports {
            let Some(message) = &report.message else {
                continue;
            };
            let tally = tallies
                .entry((&message.connection_id, &message.credential_id))
                .or_default();
            tally.succeeded += u64::from(matches!(report.outcome, RecordOutcome::Synced(_)));
            tally.commits += report.commits() as u64;
            if let Some(code) = report.error_code() {
                tally.last_error = Some(code.to_owned());
            }
        }
        let at = timestamp(OffsetDateTime::now_utc());
        for ((connection, credential), tally) in tallies {
            let (Some(connection), Some(credential)) = (
                ConnectionId::parse(connection),
                CredentialId::parse(credential),
            ) else {
                continue;
            };
            if tally.is_empty() {
                continue;
            }
            if let Err(error) = self
                .credentials
                .record_syncs(&connection, &credential, &tally, &at)
                .await
            {
                tracing::warn!(credential_id = %credential, error = %error, "sync summary not written");
            }
        }
    }

    /// One project's sync, with the logging and metrics of its outcome.
    pub async fn process(&self, message: SyncMessage, deadline: Option<Instant>) -> RecordReport {
        let span = tracing::info_span!(
            "sync",
            connection_id = %message.connection_id,
            project_id = message.project_id
        );
        let started = std::time::Instant::now();
        let (outcome, stats) = self.sync(&message, deadline).instrument(span.clone()).await;
        let _entered = span.enter();
        let report = RecordReport {
            message: Some(message),
            outcome,
            stats,
            duration: started.elapsed(),
        };
        let message = report.message.as_ref().expect("set above");
        let duration_ms = report.duration.as_millis() as u64;
        tracing::info!(
            result = report.result(),
            project = %message.path_with_namespace,
            commits = report.commits(),
            windows = report.windows(),
            requests = stats.requests,
            retries = stats.retries,
            rate_limited = stats.rate_limited,
            duration_ms,
            "sync finished"
        );
        if self.embedded_metrics {
            println!(
                "{}",
                embedded_metrics(
                    &message.connection_id,
                    report.commits(),
                    &stats,
                    duration_ms
                )
            );
        }
        report
    }

    async fn sync(
        &self,
        message: &SyncMessage,
        deadline: Option<Instant>,
    ) -> (RecordOutcome, crate::gitlab::ClientStats) {
        let no_requests = crate::gitlab::ClientStats::default();
        let (Some(connection), Some(credential_id)) = (
            ConnectionId::parse(&message.connection_id),
            CredentialId::parse(&message.credential_id),
        ) else {
            return (RecordOutcome::Skipped("unknown_credential"), no_requests);
        };
        let record = match self.credentials.get(&connection, &credential_id).await {
            Ok(Some(record)) => record,
            Ok(None) => return (RecordOutcome::Skipped("unknown_credential"), no_requests),
            Err(error) => {
                return (
                    RecordOutcome::retry("storage_unavailable", error.to_string()),
                    no_requests,
                );
            }
        };
        if let Some(reason) = not_live(&record) {
            return (RecordOutcome::Skipped(reason), no_requests);
        }
        let gitlab = match self
            .connector
            .client_for(&self.vault, &record, self.options.retry)
            .await
        {
            Ok(client) => client,
            Err(ConnectError::Settings) => {
                return (RecordOutcome::Skipped("invalid_settings"), no_requests);
            }
            Err(error @ ConnectError::Secret(_)) => {
                return (
                    RecordOutcome::retry("secret_unavailable", error.to_string()),
                    no_requests,
                );
            }
        };
        let target = SyncTarget {
            key: ProjectKey::new(&message.connection_id, message.project_id),
            project: ProjectRef::Id(message.project_id),
            path_with_namespace: message.path_with_namespace.clone(),
            default_branch: message.default_branch.clone(),
        };
        let sync = ProjectSync {
            gitlab: &gitlab,
            commits: &self.commits,
            state: &self.state,
            options: self.options,
        };
        let outcome = match sync.run(&target, deadline).await {
            Ok(SyncOutcome::Continue(report)) => match self.queue.enqueue(message).await {
                Ok(()) => RecordOutcome::Continued(report),
                // The checkpoint is saved: a redelivery of this message resumes it.
                Err(error) => RecordOutcome::retry("queue_unavailable", error.to_string()),
            },
            Ok(outcome) => RecordOutcome::Synced(outcome),
            Err(SyncError::Superseded) => RecordOutcome::Skipped("superseded"),
            Err(SyncError::Store(error)) => {
                RecordOutcome::retry("storage_unavailable", error.to_string())
            }
            Err(SyncError::GitLab(error)) => self.gitlab_refused(&record, &target, error).await,
            Err(error @ SyncError::Inconsistent { .. }) => {
                RecordOutcome::retry("inconsistent_answer", error.to_string())
            }
        };
        (outcome, gitlab.stats())
    }

    /// Decides what a GitLab error means for the credential, the project, or the message.
    async fn gitlab_refused(
        &self,
        record: &CredentialRecord,
        target: &SyncTarget,
        error: GitLabError,
    ) -> RecordOutcome {
        let credential_status = match &error {
            GitLabError::Unauthorized { .. } => Some(CredentialStatus::InvalidCredentials),
            GitLabError::InsufficientScope { .. } => Some(CredentialStatus::InvalidPermissions),
            _ => None,
        };
        if let Some(status) = credential_status {
            tracing::warn!(
                code = error.code(),
                "GitLab refused the token; its syncs stop until it is updated"
            );
            return match self
                .credentials
                .mark_status(&record.connection_id, &record.credential_id, status)
                .await
            {
                Ok(()) => RecordOutcome::Skipped(status_code(status)),
                Err(store) => RecordOutcome::retry("storage_unavailable", store.to_string()),
            };
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
            other => RecordOutcome::retry(other.code(), other.to_string()),
        }
    }
}

/// A refused credential's status as its summary's error code.
fn status_code(status: CredentialStatus) -> &'static str {
    match status {
        CredentialStatus::InvalidPermissions => "invalid_permissions",
        _ => "invalid_credentials",
    }
}

/// Why a credential must not sync, if it must not.
fn not_live(record: &CredentialRecord) -> Option<&'static str> {
    if record.deleted_at.is_some() {
        return Some("credential_deleted");
    }
    if record.disabled_at.is_some() {
        return Some("credential_disabled");
    }
    match record.effective_status(OffsetDateTime::now_utc().date()) {
        CredentialStatus::Active => None,
        _ => Some("credential_not_active"),
    }
}

/// The invocation's deadline (ms since the epoch) as an instant, less the margin; `None` if it is unset.
fn deadline_of(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let left = Duration::from_millis(u64::try_from(i128::from(deadline_ms) - now_ms).unwrap_or(0));
    Some(Instant::now() + left.saturating_sub(DEADLINE_MARGIN))
}

/// One CloudWatch embedded-metric-format line per sync (printed to stdout, where Lambda's log agent reads it).
fn embedded_metrics(
    connection_id: &str,
    commits: usize,
    stats: &crate::gitlab::ClientStats,
    duration_ms: u64,
) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": OffsetDateTime::now_utc().unix_timestamp() * 1000,
            "CloudWatchMetrics": [{
                "Namespace": "GitLabCommitImporter",
                "Dimensions": [["ConnectionId"]],
                "Metrics": [
                    {"Name": "CommitsImported", "Unit": "Count"},
                    {"Name": "GitLabRequests", "Unit": "Count"},
                    {"Name": "GitLabRetries", "Unit": "Count"},
                    {"Name": "GitLabRateLimited", "Unit": "Count"},
                    {"Name": "SyncDuration", "Unit": "Milliseconds"}
                ]
            }]
        },
        "ConnectionId": connection_id,
        "CommitsImported": commits,
        "GitLabRequests": stats.requests,
        "GitLabRetries": stats.retries,
        "GitLabRateLimited": stats.rate_limited,
        "SyncDuration": duration_ms
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_must_have_every_field_and_no_other() {
        let ok = r#"{"connection_id":"c1","credential_id":"k1","project_id":7,"path_with_namespace":"g/p","default_branch":"main"}"#;
        assert_eq!(
            serde_json::from_str::<SyncMessage>(ok).unwrap().project_id,
            7
        );
        assert!(serde_json::from_str::<SyncMessage>(r#"{"connection_id":"c1"}"#).is_err());
        let extra = ok.replace('}', r#","token":"x"}"#);
        assert!(serde_json::from_str::<SyncMessage>(&extra).is_err());
    }

    #[test]
    fn the_metrics_line_is_embedded_metric_format() {
        let stats = crate::gitlab::ClientStats {
            requests: 12,
            ..Default::default()
        };
        let line: serde_json::Value =
            serde_json::from_str(&embedded_metrics("c1", 250, &stats, 900)).unwrap();
        assert_eq!(line["CommitsImported"], 250);
        assert_eq!(line["GitLabRequests"], 12);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "ConnectionId"
        );
    }

    #[test]
    fn the_deadline_keeps_a_margin() {
        assert_eq!(deadline_of(0), None);
        let in_five_minutes = (OffsetDateTime::now_utc().unix_timestamp() as u64 + 300) * 1000;
        let deadline = deadline_of(in_five_minutes).unwrap();
        let left = deadline - Instant::now();
        assert!(
            left > Duration::from_secs(230) && left <= Duration::from_secs(240),
            "{left:?}"
        );
    }
}
