//! AWS adapters behind the domain's ports. SDK types never leave this module.

pub mod commit_reader;
pub mod commit_store;
pub mod credential_store;
#[cfg(feature = "export")]
pub mod export_bucket;
#[cfg(feature = "export")]
pub mod export_feed;
pub mod keys;
pub mod project_states;
pub mod project_store;
pub mod rate_bucket;
pub mod secrets;
pub mod sync_queue;
pub mod sync_state_store;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemError;
use aws_sdk_dynamodb::operation::scan::ScanError;
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};

use crate::backoff::jittered;
use crate::kernel::store::StoreError;

/// `BatchWriteItem` calls for one batch (the first and the retries of what DynamoDB left unprocessed, i.e.
/// throttling) before the rest counts as not written.
pub(crate) const MAX_BATCH_ATTEMPTS: u32 = 8;

/// A conditional write whose condition did not hold: an answer (someone else got there first), not a failure.
pub(crate) fn condition_failed<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// The answer of a conditional write: `true` when it was written, `false` when its condition did not hold
/// ([`condition_failed`]); any other error is the store unavailable for `operation`.
pub(crate) fn conditional<T, E>(
    result: Result<T, SdkError<E>>,
    operation: &'static str,
) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if condition_failed(&e) => Ok(false),
        Err(e) => Err(StoreError::unavailable(operation, DisplayErrorContext(&e))),
    }
}

/// Every item `scan` finds, all pages: the scan is sent again from each page's `LastEvaluatedKey` until a page
/// has none.
pub(crate) async fn scan_all(
    scan: ScanFluentBuilder,
) -> Result<Vec<HashMap<String, AttributeValue>>, SdkError<ScanError>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let output = scan.clone().set_exclusive_start_key(start).send().await?;
        items.extend(output.items.unwrap_or_default());
        match output.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(items),
        }
    }
}

/// Writes `requests` (at most 25) to `table` with `BatchWriteItem`, sending `UnprocessedItems` again after a jittered
/// backoff of at most `max_delay`, in at most [`MAX_BATCH_ATTEMPTS`] calls; `before_call` runs before each call
/// with the requests it sends (and may change them: the commit store stamps them with the call's moment).
/// Returns what is still unprocessed after the last call (empty when everything was written).
pub(crate) async fn batch_write(
    client: &Client,
    table: &str,
    mut requests: Vec<WriteRequest>,
    max_delay: Duration,
    before_call: impl Fn(&mut [WriteRequest]),
) -> Result<Vec<WriteRequest>, SdkError<BatchWriteItemError>> {
    for attempt in 1..=MAX_BATCH_ATTEMPTS {
        if requests.is_empty() {
            break;
        }
        if attempt > 1 {
            tokio::time::sleep(jittered(Duration::from_millis(50), max_delay, attempt - 1)).await;
        }
        before_call(&mut requests);
        let output = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await?;
        requests = output
            .unprocessed_items
            .and_then(|mut unprocessed| unprocessed.remove(table))
            .unwrap_or_default();
    }
    Ok(requests)
}
