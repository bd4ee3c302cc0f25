//! The [`SyncStateStore`] port on the DynamoDB state table: a project's item is `pk = CONN#<connection>`,
//! `sk = PROJ#<project>`. The sync owns `last_head`, `default_branch` and `synced_at` and updates only those, so
//! the scheduler's project metadata in the same item is never overwritten.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use crate::sync::model::{ProjectKey, SyncState, utc};
use crate::sync::ports::{StoreError, SyncStateStore};

#[derive(Debug, Clone)]
pub struct DynamoSyncStateStore {
    client: Client,
    table: String,
}

impl DynamoSyncStateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoSyncStateStore {
            client,
            table: table.into(),
        }
    }
}

/// The state table key of a project.
pub fn project_key(project: &ProjectKey) -> [(&'static str, AttributeValue); 2] {
    [
        (
            "pk",
            AttributeValue::S(format!("CONN#{}", project.connection_id)),
        ),
        (
            "sk",
            AttributeValue::S(format!("PROJ#{}", project.project_id)),
        ),
    ]
}

impl SyncStateStore for DynamoSyncStateStore {
    async fn load(&self, project: &ProjectKey) -> Result<SyncState, StoreError> {
        let [(pk, pk_value), (sk, sk_value)] = project_key(project);
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(pk, pk_value)
            .key(sk, sk_value)
            .consistent_read(true)
            .projection_expression("last_head, default_branch")
            .send()
            .await
            .map_err(|e| StoreError(format!("GetItem: {}", DisplayErrorContext(&e))))?
            .item
            .unwrap_or_default();
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(value)) => Some(value.clone()),
            _ => None,
        };
        Ok(SyncState {
            last_head: text("last_head"),
            default_branch: text("default_branch"),
        })
    }

    async fn advance(
        &self,
        project: &ProjectKey,
        expected: Option<&str>,
        next: &SyncState,
    ) -> Result<bool, StoreError> {
        let [(pk, pk_value), (sk, sk_value)] = project_key(project);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(pk, pk_value)
            .key(sk, sk_value)
            .update_expression("SET last_head = :head, default_branch = :branch, synced_at = :now")
            .expression_attribute_values(
                ":head",
                AttributeValue::S(next.last_head.clone().unwrap_or_default()),
            )
            .expression_attribute_values(
                ":branch",
                AttributeValue::S(next.default_branch.clone().unwrap_or_default()),
            )
            .expression_attribute_values(":now", AttributeValue::S(utc(OffsetDateTime::now_utc())));
        update = match expected {
            None => update.condition_expression("attribute_not_exists(last_head)"),
            Some(head) => update
                .condition_expression("last_head = :expected")
                .expression_attribute_values(":expected", AttributeValue::S(head.to_owned())),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(StoreError(format!(
                "UpdateItem: {}",
                DisplayErrorContext(&e)
            ))),
        }
    }
}
