//! The [`SyncQueue`] port on SQS (a continuation is the same sync message sent again), the scheduler's
//! [`BatchQueue`] port (`SendMessageBatch`, ten messages a call), and the [`TurnQueue`] of `connections.sync`
//! (the scheduler's own queue).

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::kernel::store::StoreError;

use crate::kernel::sync_message::{SyncMessage, SyncQueue};
use crate::kernel::turn_request::{TurnQueue, TurnRequest};
use crate::scheduler::ports::{BatchEntry, BatchQueue, FailedEntry};

#[derive(Debug, Clone)]
pub struct SqsSyncQueue {
    client: Client,
    queue_url: String,
}

impl SqsSyncQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        SqsSyncQueue {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl SyncQueue for SqsSyncQueue {
    async fn enqueue(&self, message: &SyncMessage, delay: Duration) -> Result<(), StoreError> {
        let body = serde_json::to_string(message)
            .map_err(|e| StoreError::unavailable("encoding a sync message", e))?;
        let delay_seconds = delay.min(Self::MAX_DELAY).as_secs() as i32;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay_seconds)
            .send()
            .await
            .map_err(|e| StoreError::unavailable("SendMessage", DisplayErrorContext(&e)))?;
        Ok(())
    }
}

/// The queue that hands `connections.sync`'s requests to the scheduler.
#[derive(Debug, Clone)]
pub struct SqsTurnQueue {
    client: Client,
    queue_url: String,
}

impl SqsTurnQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        SqsTurnQueue {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl TurnQueue for SqsTurnQueue {
    async fn request_turn(&self, request: &TurnRequest) -> Result<(), StoreError> {
        let body = serde_json::to_string(request)
            .map_err(|e| StoreError::unavailable("encoding a turn request", e))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| StoreError::unavailable("SendMessage", DisplayErrorContext(&e)))?;
        Ok(())
    }
}

impl BatchQueue for SqsSyncQueue {
    /// `SendMessageBatch`: `Ok` with the entries SQS refused (and any it did not answer for), `Err` when the call
    /// itself failed.
    async fn send_batch(&self, entries: &[BatchEntry<'_>]) -> Result<Vec<FailedEntry>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        if entries.len() > Self::MAX_BATCH {
            return Err(StoreError::unavailable(
                "SendMessageBatch",
                format!(
                    "it takes at most {} entries, not {}",
                    Self::MAX_BATCH,
                    entries.len()
                ),
            ));
        }
        let mut request = self.client.send_message_batch().queue_url(&self.queue_url);
        for entry in entries {
            let body = serde_json::to_string(entry.message)
                .map_err(|e| StoreError::unavailable("encoding a sync message", e))?;
            request = request.entries(
                SendMessageBatchRequestEntry::builder()
                    .id(entry.id)
                    .message_body(body)
                    .build()
                    .map_err(|e| StoreError::unavailable("SendMessageBatch", e))?,
            );
        }
        let output = request
            .send()
            .await
            .map_err(|e| StoreError::unavailable("SendMessageBatch", DisplayErrorContext(&e)))?;
        let mut failed: Vec<FailedEntry> = output
            .failed
            .into_iter()
            .map(|f| FailedEntry {
                id: f.id,
                code: f.code,
                sender_fault: f.sender_fault,
            })
            .collect();
        // An entry in neither list is not known to be sent: treat it as failed (a retry may duplicate it, which
        // the worker tolerates; losing it would not be noticed).
        for entry in entries {
            let answered = output.successful.iter().any(|s| s.id == entry.id)
                || failed.iter().any(|f| f.id == entry.id);
            if !answered {
                failed.push(FailedEntry {
                    id: entry.id.to_owned(),
                    code: "NoReply".into(),
                    sender_fault: false,
                });
            }
        }
        Ok(failed)
    }
}
