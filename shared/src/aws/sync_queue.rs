//! The [`SyncQueue`] port on SQS: a continuation is the same sync message sent again.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;

use crate::sync::ports::StoreError;
use crate::sync::worker::{SyncMessage, SyncQueue};

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
    async fn enqueue(&self, message: &SyncMessage) -> Result<(), StoreError> {
        let body = serde_json::to_string(message).map_err(|e| StoreError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| StoreError(format!("SendMessage: {}", DisplayErrorContext(&e))))?;
        Ok(())
    }
}
