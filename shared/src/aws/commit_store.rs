//! The [`CommitStore`] port on the DynamoDB commits table: `project_key` (`<connection>#<project>`) and `sha` are
//! the key, so every write is idempotent. Items are written with `BatchWriteItem` within AWS's limit of 25 per
//! call; `UnprocessedItems` are retried with jittered backoff, a bounded number of times. An item DynamoDB refuses
//! as invalid is isolated by splitting its batch, skipped and reported; the rest of the page is written.
//!
//! Every write (a put, a removal mark) also sets `changed_at`, the sort key of the `by_changed_at` index that the
//! analytics export reads changes from: never the commit's own dates, as an old-dated merge is imported today.
//! Each call is stamped at its own moment ([`change_stamp_now`], taken right before the call: every
//! `BatchWriteItem`, each retry of its `UnprocessedItems`, every `UpdateItem`), never once for a whole batch of
//! calls: the export reads a stamp only once it is older than its settle time, so a write must be visible by then,
//! and a batch of marks or a retry after backoff can last longer than that. A put replaces the whole item, so a
//! commit that comes back to the branch loses its `removed_at` and is a change again. A reconciling import raises
//! its writes' stamps to its start (a floor), then marks the live items stamped before it with a consistent
//! `Query` of the partition and conditional updates: the condition, not the read, decides, so an item rewritten
//! after the read stays live.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::{StreamExt, TryStreamExt};
use time::OffsetDateTime;

use super::{MAX_BATCH_ATTEMPTS, batch_write, conditional};
use crate::kernel::commit_record::CommitRecord;
use crate::kernel::project_key::ProjectKey;
use crate::kernel::store::StoreError;
use crate::kernel::time::{change_stamp_now, utc};
use crate::sync::ports::CommitStore;

/// AWS rejects a `BatchWriteItem` with more than 25 requests (moto accepts more: the limit is ours to keep).
pub const MAX_BATCH_WRITE: usize = 25;

/// Concurrent `BatchWriteItem` calls of one `put` (a GitLab page of 100 commits is four batches).
const BATCH_CONCURRENCY: usize = 4;

/// The attribute (and the `by_changed_at` index's sort key) that says when the item last changed.
pub const CHANGED_AT: &str = "changed_at";

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

    /// Writes one batch. A batch DynamoDB refuses as invalid (`ValidationException`: an item over its size
    /// limit, say) is split in halves until each refused item is alone; the rest is written and the refused
    /// items are returned as (sha, reason). At most two calls per record, so the loop is bounded. Every call
    /// stamps what it sends with its own moment, at least `floor`.
    async fn write_isolating(
        &self,
        batch: &[CommitRecord],
        floor: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut refused = Vec::new();
        let mut parts = vec![batch];
        while let Some(part) = parts.pop() {
            let requests = part
                .iter()
                .map(put_request)
                .collect::<Result<Vec<_>, StoreError>>()?;
            let result = batch_write(
                &self.client,
                &self.table,
                requests,
                Duration::from_secs(5),
                |requests| {
                    self.write_calls.fetch_add(1, Ordering::Relaxed);
                    stamp(requests, &change_stamp_now(floor));
                },
            )
            .await;
            match result {
                Ok(unprocessed) if unprocessed.is_empty() => {}
                Ok(unprocessed) => {
                    return Err(StoreError::unavailable(
                        "BatchWriteItem",
                        format!(
                            "{} items still unprocessed after {MAX_BATCH_ATTEMPTS} attempts",
                            unprocessed.len()
                        ),
                    ));
                }
                Err(error) if error.code() == Some("ValidationException") => match part {
                    [record] => {
                        let reason = error.message().unwrap_or("invalid item").to_owned();
                        tracing::warn!(
                            project_key = %record.project_key,
                            sha = %record.sha,
                            reason = %reason,
                            "DynamoDB refused the commit item; skipped"
                        );
                        refused.push((record.sha.clone(), reason));
                    }
                    _ => {
                        let (first, second) = part.split_at(part.len() / 2);
                        parts.extend([second, first]);
                    }
                },
                Err(error) => {
                    return Err(StoreError::unavailable(
                        "BatchWriteItem",
                        DisplayErrorContext(&error),
                    ));
                }
            }
        }
        Ok(refused)
    }
}

/// One `PutRequest` of a record's item; [`stamp`] sets its `changed_at` when it is sent.
fn put_request(record: &CommitRecord) -> Result<WriteRequest, StoreError> {
    let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(record).map_err(|e| {
        StoreError::unavailable("encoding a commit", format!("{}: {e}", record.sha))
    })?;
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::unavailable("encoding a commit", e))?;
    Ok(WriteRequest::builder().put_request(put).build())
}

/// Sets `changed_at` on every put of a call about to be sent (again).
fn stamp(requests: &mut [WriteRequest], changed_at: &str) {
    for put in requests.iter_mut().filter_map(|r| r.put_request.as_mut()) {
        put.item.insert(
            CHANGED_AT.to_owned(),
            AttributeValue::S(changed_at.to_owned()),
        );
    }
}

impl CommitStore for DynamoCommitStore {
    async fn put_changed_from(
        &self,
        records: Vec<CommitRecord>,
        floor: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        // One batch may not name a key twice: keep the last record per key.
        let mut seen = HashSet::new();
        let last: Vec<bool> = records
            .iter()
            .rev()
            .map(|r| seen.insert((r.project_key.as_str(), r.sha.as_str())))
            .collect();
        let records: Vec<CommitRecord> = records
            .into_iter()
            .zip(last.into_iter().rev())
            .filter_map(|(record, is_last)| is_last.then_some(record))
            .collect();
        // A page's batches at once: the page costs one round trip to DynamoDB instead of four.
        let writes: Vec<_> = records
            .chunks(MAX_BATCH_WRITE)
            .map(|batch| self.write_isolating(batch, floor))
            .collect();
        let refused: Vec<(String, String)> = futures::stream::iter(writes)
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_concat()
            .await?;
        if records.len() > 1 && refused.len() == records.len() {
            return Err(StoreError::unavailable(
                "BatchWriteItem",
                format!(
                    "every one of {} items refused as invalid: {}",
                    records.len(),
                    refused[0].1
                ),
            ));
        }
        Ok(refused.into_iter().map(|(sha, _)| sha).collect())
    }

    async fn mark_removed(
        &self,
        project: &ProjectKey,
        shas: Vec<String>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.mark(project, shas, at, None).await?;
        Ok(())
    }

    async fn remove_unchanged_since(
        &self,
        project: &ProjectKey,
        since: &str,
        at: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        let partition = project.partition();
        let mut start = None;
        let mut marked = 0;
        // One page of shas at a time: `Limit` items evaluated, only the live ones stamped before `since` returned.
        for _ in 0..MAX_RECONCILE_PAGES {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("project_key = :p")
                .filter_expression(UNCHANGED_SINCE)
                .projection_expression("sha")
                .expression_attribute_values(":p", AttributeValue::S(partition.clone()))
                .expression_attribute_values(":since", AttributeValue::S(since.to_owned()))
                .limit(RECONCILE_PAGE)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::unavailable("Query", DisplayErrorContext(&e)))?;
            let shas: Vec<String> = output
                .items()
                .iter()
                .filter_map(|item| item.get("sha")?.as_s().ok().cloned())
                .collect();
            marked += self.mark(project, shas, at, Some(since)).await?;
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(marked);
            }
        }
        Err(StoreError::unavailable(
            "Query",
            format!("{partition}: more than {MAX_RECONCILE_PAGES} pages of commits"),
        ))
    }
}

/// A live item last written before `:since`, or before writes were stamped at all.
const UNCHANGED_SINCE: &str = "attribute_not_exists(removed_at) AND (attribute_not_exists(changed_at) OR changed_at < :since)";

/// Items a reconciling `Query` evaluates per page.
const RECONCILE_PAGE: i32 = 1_000;

/// Pages a reconciliation reads at most: a hundred million commits, far more than any project holds.
const MAX_RECONCILE_PAGES: usize = 100_000;

impl DynamoCommitStore {
    /// Sets `removed_at` (and `changed_at`, the moment of each call) on existing items, each with one conditional
    /// `UpdateItem`; with `unchanged_since`, only on items [`UNCHANGED_SINCE`] still holds for, and stamped no
    /// earlier than it (so a mark is always a later change than the write it marks). Returns how many were marked.
    async fn mark(
        &self,
        project: &ProjectKey,
        shas: Vec<String>,
        at: OffsetDateTime,
        unchanged_since: Option<&str>,
    ) -> Result<usize, StoreError> {
        let partition = project.partition();
        let removed_at = utc(at);
        let mut values = HashMap::from([(":at".to_owned(), AttributeValue::S(removed_at))]);
        // A commit that left before it was ever imported has nothing to mark.
        let condition = match unchanged_since {
            None => "attribute_exists(sha)".to_owned(),
            Some(since) => {
                values.insert(":since".to_owned(), AttributeValue::S(since.to_owned()));
                format!("attribute_exists(sha) AND {UNCHANGED_SINCE}")
            }
        };
        let marked: Vec<bool> = futures::stream::iter(shas)
            .map(|sha| {
                let (partition, mut values, condition) =
                    (partition.clone(), values.clone(), &condition);
                async move {
                    self.write_calls.fetch_add(1, Ordering::Relaxed);
                    values.insert(
                        ":changed".to_owned(),
                        AttributeValue::S(change_stamp_now(unchanged_since)),
                    );
                    let result = self
                        .client
                        .update_item()
                        .table_name(&self.table)
                        .key("project_key", AttributeValue::S(partition))
                        .key("sha", AttributeValue::S(sha))
                        .update_expression("SET removed_at = :at, changed_at = :changed")
                        .condition_expression(condition)
                        .set_expression_attribute_values(Some(values))
                        .send()
                        .await;
                    conditional(result, "UpdateItem")
                }
            })
            .buffer_unordered(MARK_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(marked.into_iter().filter(|&m| m).count())
    }
}
