//! The [`CommitStore`] port on the DynamoDB commits table: `project_key` (`<connection>#<project>`) and `sha` are
//! the key, so every write is idempotent. Items are written with `BatchWriteItem` within AWS's limit of 25 per
//! call; `UnprocessedItems` are retried with jittered backoff, a bounded number of times.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::{StreamExt, TryStreamExt};
use time::OffsetDateTime;

use super::{MAX_BATCH_ATTEMPTS, batch_write, condition_failed};
use crate::sync::model::{CommitRecord, ProjectKey, utc};
use crate::sync::ports::{CommitStore, StoreError};

/// AWS rejects a `BatchWriteItem` with more than 25 requests (moto accepts more: the limit is ours to keep).
pub const MAX_BATCH_WRITE: usize = 25;

/// Concurrent `BatchWriteItem` calls of one `put` (a GitLab page of 100 commits is four batches).
const BATCH_CONCURRENCY: usize = 4;

/// Concurrent `UpdateItem` calls when marking removed commits.
const MARK_CONCURRENCY: usize = 8;

#[derive(Debug)]
pub struct DynamoCommitStore {
    client: Client,
    table: String,
    write_calls: AtomicU64,
}

impl DynamoCommitStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoCommitStore {
            client,
            table: table.into(),
            write_calls: AtomicU64::new(0),
        }
    }

    /// DynamoDB write calls made so far (`BatchWriteItem` and `UpdateItem`), for metrics and benchmarks.
    pub fn write_calls(&self) -> u64 {
        self.write_calls.load(Ordering::Relaxed)
    }

    async fn write_batch(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let unprocessed = batch_write(
            &self.client,
            &self.table,
            requests,
            Duration::from_secs(5),
            || {
                self.write_calls.fetch_add(1, Ordering::Relaxed);
            },
        )
        .await
        .map_err(|e| StoreError(format!("BatchWriteItem: {}", DisplayErrorContext(&e))))?;
        if unprocessed.is_empty() {
            return Ok(());
        }
        Err(StoreError(format!(
            "BatchWriteItem: {} items still unprocessed after {MAX_BATCH_ATTEMPTS} attempts",
            unprocessed.len()
        )))
    }
}

impl CommitStore for DynamoCommitStore {
    async fn put(&self, records: Vec<CommitRecord>) -> Result<(), StoreError> {
        // One batch may not name a key twice: keep the last record per key.
        let mut seen = HashSet::new();
        let last: Vec<bool> = records
            .iter()
            .rev()
            .map(|r| seen.insert((r.project_key.as_str(), r.sha.as_str())))
            .collect();
        let requests = records
            .into_iter()
            .zip(last.into_iter().rev())
            .filter_map(|(record, is_last)| is_last.then_some(record))
            .map(|record| {
                let item = serde_dynamo::to_item(&record)
                    .map_err(|e| StoreError(format!("encoding commit {}: {e}", record.sha)))?;
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| StoreError(e.to_string()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut requests = requests.into_iter().peekable();
        let mut batches = Vec::new();
        while requests.peek().is_some() {
            batches.push(requests.by_ref().take(MAX_BATCH_WRITE).collect::<Vec<_>>());
        }
        // A page's batches at once: the page costs one round trip to DynamoDB instead of four.
        futures::stream::iter(batches)
            .map(|batch| self.write_batch(batch))
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn mark_removed(
        &self,
        project: &ProjectKey,
        shas: Vec<String>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let partition = project.partition();
        let removed_at = utc(at);
        futures::stream::iter(shas)
            .map(|sha| {
                let (partition, removed_at) = (partition.clone(), removed_at.clone());
                async move {
                    self.write_calls.fetch_add(1, Ordering::Relaxed);
                    let result = self
                        .client
                        .update_item()
                        .table_name(&self.table)
                        .key("project_key", AttributeValue::S(partition))
                        .key("sha", AttributeValue::S(sha))
                        .update_expression("SET removed_at = :at")
                        // A commit that left before it was ever imported has nothing to mark.
                        .condition_expression("attribute_exists(sha)")
                        .expression_attribute_values(":at", AttributeValue::S(removed_at))
                        .send()
                        .await;
                    match result {
                        Ok(_) => Ok(()),
                        Err(e) if condition_failed(&e) => Ok(()),
                        Err(e) => Err(StoreError(format!(
                            "UpdateItem: {}",
                            DisplayErrorContext(&e)
                        ))),
                    }
                }
            })
            .buffer_unordered(MARK_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }
}
