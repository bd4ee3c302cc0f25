//! The [`CommitReader`] port on the commits table's `by_committed_at` index (`project_key`, `committed_at`):
//! one `Query` per read, newest first, `Limit` items evaluated, commits that left the branch filtered out by
//! DynamoDB unless the range includes them. Eventually consistent, as every index read is: a commit written a
//! moment ago may show up one read later.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::commits::{CommitRange, CommitReader, PageKey, ReadOutcome};
use crate::kernel::commit_record::CommitRecord;
use crate::kernel::store::StoreError;

/// The time-range index the template declares on the commits table.
pub const BY_COMMITTED_AT: &str = "by_committed_at";

#[derive(Debug, Clone)]
pub struct DynamoCommitReader {
    client: Client,
    table: String,
}

impl DynamoCommitReader {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoCommitReader {
            client,
            table: table.into(),
        }
    }
}

impl CommitReader for DynamoCommitReader {
    async fn read(
        &self,
        range: &CommitRange,
        start: Option<&PageKey>,
        limit: usize,
    ) -> Result<ReadOutcome, StoreError> {
        let partition = range.project.partition();
        let condition = match (&range.from, &range.to) {
            (Some(_), Some(_)) => "project_key = :p AND committed_at BETWEEN :from AND :to",
            (Some(_), None) => "project_key = :p AND committed_at >= :from",
            (None, Some(_)) => "project_key = :p AND committed_at <= :to",
            (None, None) => "project_key = :p",
        };
        let mut values = HashMap::from([(":p".to_owned(), AttributeValue::S(partition.clone()))]);
        for (name, bound) in [(":from", &range.from), (":to", &range.to)] {
            if let Some(bound) = bound {
                values.insert(name.to_owned(), AttributeValue::S(bound.clone()));
            }
        }
        // An index's start key is the table's key and the index's.
        let start = start.map(|key| {
            HashMap::from([
                ("project_key".to_owned(), AttributeValue::S(partition)),
                ("sha".to_owned(), AttributeValue::S(key.sha.clone())),
                (
                    "committed_at".to_owned(),
                    AttributeValue::S(key.committed_at.clone()),
                ),
            ])
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_COMMITTED_AT)
            .key_condition_expression(condition)
            .set_filter_expression(
                (!range.include_removed).then(|| "attribute_not_exists(removed_at)".to_owned()),
            )
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::unavailable("Query", DisplayErrorContext(&e)))?;
        let commits: Vec<CommitRecord> = serde_dynamo::from_items(output.items.unwrap_or_default())
            .map_err(|e| StoreError::unavailable("decoding a commit", e))?;
        let last_key = match output.last_evaluated_key {
            Some(key) if !key.is_empty() => Some(page_key(&key).ok_or_else(|| {
                StoreError::unavailable("Query", "LastEvaluatedKey without committed_at and sha")
            })?),
            _ => None,
        };
        Ok(ReadOutcome {
            commits,
            scanned: u64::try_from(output.scanned_count).unwrap_or(0),
            last_key,
        })
    }
}

fn page_key(key: &HashMap<String, AttributeValue>) -> Option<PageKey> {
    let text = |name: &str| match key.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    Some(PageKey {
        committed_at: text("committed_at")?,
        sha: text("sha")?,
    })
}
