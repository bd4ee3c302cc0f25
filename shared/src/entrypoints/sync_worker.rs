//! The sync worker's entry point: an SQS batch becomes one [`SyncWorker::run`] per record, in order and sharing
//! the invocation's time, and the reply names the records SQS must deliver again. Each record is read on its
//! own: a body that is no valid [`SyncMessage`] is that record's batch item failure, never the whole batch's.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;

use crate::credentials::{CredentialStatusStore, CredentialStore};
use crate::kernel::sync_message::{SyncMessage, SyncQueue};
use crate::kernel::time::deadline_from_epoch_ms;
use crate::kernel::vault::SecretVault;
use crate::sync::{CommitStore, RecordOutcome, RecordReport, SyncStateStore, SyncWorker};

/// The Lambda handler.
pub async fn handle<K, V, C, S, Q>(
    worker: &SyncWorker<K, V, C, S, Q>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error>
where
    K: CredentialStore + CredentialStatusStore,
    V: SecretVault,
    C: CommitStore,
    S: SyncStateStore,
    Q: SyncQueue,
{
    Ok(handle_batch(worker, event).await.0)
}

/// The handler's work, with what each record did (the local run shows it as progress).
pub async fn handle_batch<K, V, C, S, Q>(
    worker: &SyncWorker<K, V, C, S, Q>,
    event: LambdaEvent<SqsEvent>,
) -> (SqsBatchResponse, Vec<RecordReport>)
where
    K: CredentialStore + CredentialStatusStore,
    V: SecretVault,
    C: CommitStore,
    S: SyncStateStore,
    Q: SyncQueue,
{
    let end = deadline_from_epoch_ms(event.context.deadline);
    let mut response = SqsBatchResponse::default();
    let records = event.payload.records;
    let mut reports = Vec::with_capacity(records.len());
    let total = records.len();
    for (started, record) in records.into_iter().enumerate() {
        let id = record.message_id.clone().unwrap_or_default();
        let report = match record.body.as_deref().map(SyncMessage::from_json) {
            Some(Ok(message)) => worker.run(message, end, total - started).await,
            Some(Err(error)) => worker.malformed(format!("malformed sync message: {error}")),
            None => worker.malformed("sync message without a body".into()),
        };
        match &report.outcome {
            RecordOutcome::Retry { code, reason } => {
                tracing::warn!(message_id = %id, code, reason = %reason, "sync message will be retried");
            }
            RecordOutcome::Deferred => {
                tracing::info!(message_id = %id, "this sync did not fit in its share of the invocation; SQS delivers it again");
            }
            _ => {}
        }
        if report.redeliver() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
        reports.push(report);
    }
    worker.finish_batch(&reports, end).await;
    (response, reports)
}
