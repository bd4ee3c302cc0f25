//! The [`SyncStateStore`] port on the DynamoDB state table: a project's item is `pk = CONN#<connection>`,
//! `sk = PROJ#<project>`. The sync owns `last_head`, `default_branch`, `synced_at`, `job` (the checkpoint of a
//! large import, as JSON), `access_error`/`access_error_at` (GitLab's last refusal), and what the operator's view
//! reads of its syncs (`last_synced_at`, `last_success_at`, `last_error`, `last_error_at`, `commits_written`,
//! `recent_failures`), `verified_at` (epoch seconds: when a sync last found the imported head current, which the
//! scheduler reads to leave quiet projects alone), and updates only those (`projects.resync` sets `resync_requested_at`, which the sync
//! clears), so the scheduler's project metadata is never overwritten. The writes of progress are conditional on
//! the `last_head` the sync read. The connection's daily count of commit writes (`sk = WRITES#<day>`,
//! `commit_writes`, `expires_at` a week on) is kept in the same table.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::conditional;
use super::keys::{connection_pk, project_sk, writes_sk};
use crate::kernel::ids::ConnectionId;
use crate::kernel::project_key::ProjectKey;
use crate::kernel::store::StoreError;
use crate::kernel::time::utc;
use crate::projects::model::RECENT_FAILURES;
use crate::sync::model::{SyncJob, SyncState};
use crate::sync::ports::{SyncEnd, SyncStateStore};

/// A day's count of commit writes is kept a week (the table's TTL, `expires_at`), for an operator to look at.
const WRITES_KEPT_SECONDS: i64 = 7 * 24 * 60 * 60;

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
            AttributeValue::S(connection_pk(project.connection_id.as_str())),
        ),
        ("sk", AttributeValue::S(project_sk(project.project_id))),
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
            .projection_expression(
                "last_head, default_branch, job, access_error, resync_requested_at",
            )
            .send()
            .await
            .map_err(|e| StoreError::unavailable("GetItem", DisplayErrorContext(&e)))?
            .item
            .unwrap_or_default();
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(value)) => Some(value.clone()),
            _ => None,
        };
        let job = text("job")
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| StoreError::unavailable("reading the sync checkpoint", e))?;
        Ok(SyncState {
            last_head: text("last_head"),
            default_branch: text("default_branch"),
            job,
            access_error: text("access_error"),
            resync_requested: text("resync_requested_at"),
        })
    }

    async fn mark_inaccessible(&self, project: &ProjectKey, code: &str) -> Result<(), StoreError> {
        let update = self
            .unconditional(project)
            .update_expression("SET access_error = :code, access_error_at = :now")
            .expression_attribute_values(":code", AttributeValue::S(code.to_owned()))
            .expression_attribute_values(":now", AttributeValue::S(utc(OffsetDateTime::now_utc())));
        send(update).await
    }

    async fn clear_inaccessible(&self, project: &ProjectKey) -> Result<(), StoreError> {
        let update = self
            .unconditional(project)
            .update_expression("REMOVE access_error, access_error_at");
        send(update).await
    }

    async fn record_outcome(
        &self,
        project: &ProjectKey,
        outcome: &SyncEnd,
    ) -> Result<(), StoreError> {
        let update = match outcome {
            SyncEnd::Succeeded {
                at,
                commits,
                verified_at,
            } => {
                let update = self
                    .unconditional(project)
                    .expression_attribute_values(":at", AttributeValue::S(at.clone()))
                    .expression_attribute_values(
                        ":commits",
                        AttributeValue::N(commits.to_string()),
                    );
                match verified_at {
                    Some(verified) => update
                        .update_expression(
                            "SET last_synced_at = :at, last_success_at = :at, verified_at = :verified \
                             ADD commits_written :commits",
                        )
                        .expression_attribute_values(":verified", AttributeValue::N(verified.to_string())),
                    None => update.update_expression(
                        "SET last_synced_at = :at, last_success_at = :at ADD commits_written :commits",
                    ),
                }
            }
            SyncEnd::Progressed { commits } => self
                .unconditional(project)
                .update_expression("ADD commits_written :commits")
                .expression_attribute_values(":commits", AttributeValue::N(commits.to_string())),
            SyncEnd::Failed { at, code } => {
                let failure = AttributeValue::M(HashMap::from([
                    ("code".to_owned(), AttributeValue::S(code.clone())),
                    ("at".to_owned(), AttributeValue::S(at.clone())),
                ]));
                self.unconditional(project)
                    .update_expression(
                        "SET last_synced_at = :at, last_error = :code, last_error_at = :at, \
                         recent_failures = list_append(:failure, if_not_exists(recent_failures, :none))",
                    )
                    .expression_attribute_values(":at", AttributeValue::S(at.clone()))
                    .expression_attribute_values(":code", AttributeValue::S(code.clone()))
                    .expression_attribute_values(":failure", AttributeValue::L(vec![failure]))
                    .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            }
        };
        send(update).await?;
        if matches!(outcome, SyncEnd::Failed { .. }) {
            self.trim_failures(project).await?;
        }
        Ok(())
    }

    async fn clear_resync(
        &self,
        project: &ProjectKey,
        reconciled_since: &str,
    ) -> Result<(), StoreError> {
        let update = self
            .unconditional(project)
            .update_expression("REMOVE resync_requested_at")
            .condition_expression("resync_requested_at <= :since")
            .expression_attribute_values(":since", AttributeValue::S(reconciled_since.to_owned()));
        // A later request (or none) fails the condition: it stands.
        conditional(update.send().await, "UpdateItem resync").map(drop)
    }

    async fn save_job(
        &self,
        project: &ProjectKey,
        expected: Option<&str>,
        job: &SyncJob,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(job)
            .map_err(|e| StoreError::unavailable("encoding the sync checkpoint", e))?;
        let update = self
            .update(project, expected)
            .update_expression("SET job = :job")
            .expression_attribute_values(":job", AttributeValue::S(json));
        conditional(update.send().await, "UpdateItem")
    }

    async fn reserve_writes(
        &self,
        connection_id: &ConnectionId,
        day: &str,
        writes: u64,
        ceiling: u64,
    ) -> Result<bool, StoreError> {
        let Some(room) = ceiling.checked_sub(writes) else {
            return Ok(false);
        };
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(
                "pk",
                AttributeValue::S(connection_pk(connection_id.as_str())),
            )
            .key("sk", AttributeValue::S(writes_sk(day)))
            .update_expression("ADD commit_writes :writes SET expires_at = :expires")
            .condition_expression("attribute_not_exists(commit_writes) OR commit_writes <= :room")
            .expression_attribute_values(":writes", AttributeValue::N(writes.to_string()))
            .expression_attribute_values(":room", AttributeValue::N(room.to_string()))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N(
                    (OffsetDateTime::now_utc().unix_timestamp() + WRITES_KEPT_SECONDS).to_string(),
                ),
            );
        conditional(update.send().await, "UpdateItem")
    }

    async fn advance(
        &self,
        project: &ProjectKey,
        expected: Option<&str>,
        next: &SyncState,
    ) -> Result<bool, StoreError> {
        let update = self
            .update(project, expected)
            .update_expression(
                "SET last_head = :head, default_branch = :branch, synced_at = :now \
                 REMOVE job, access_error, access_error_at",
            )
            .expression_attribute_values(
                ":head",
                AttributeValue::S(next.last_head.clone().unwrap_or_default()),
            )
            .expression_attribute_values(
                ":branch",
                AttributeValue::S(next.default_branch.clone().unwrap_or_default()),
            )
            .expression_attribute_values(":now", AttributeValue::S(utc(OffsetDateTime::now_utc())));
        conditional(update.send().await, "UpdateItem")
    }
}

impl DynamoSyncStateStore {
    /// Keeps the newest [`RECENT_FAILURES`] failures: a list cannot be cut in the write that prepends to it, so
    /// a second write drops the entries past them, only when there are some.
    async fn trim_failures(&self, project: &ProjectKey) -> Result<(), StoreError> {
        let past: Vec<String> = (RECENT_FAILURES..RECENT_FAILURES + 5)
            .map(|i| format!("recent_failures[{i}]"))
            .collect();
        let update = self
            .unconditional(project)
            .update_expression(format!("REMOVE {}", past.join(", ")))
            .condition_expression("size(recent_failures) > :kept")
            .expression_attribute_values(":kept", AttributeValue::N(RECENT_FAILURES.to_string()));
        conditional(update.send().await, "UpdateItem recent failures").map(drop)
    }

    /// An `UpdateItem` of the project's item.
    fn unconditional(&self, project: &ProjectKey) -> UpdateItemFluentBuilder {
        let [(pk, pk_value), (sk, sk_value)] = project_key(project);
        self.client
            .update_item()
            .table_name(&self.table)
            .key(pk, pk_value)
            .key(sk, sk_value)
    }

    /// An `UpdateItem` of the project's item, conditional on `last_head` being `expected`.
    fn update(&self, project: &ProjectKey, expected: Option<&str>) -> UpdateItemFluentBuilder {
        let update = self.unconditional(project);
        match expected {
            None => update.condition_expression("attribute_not_exists(last_head)"),
            Some(head) => update
                .condition_expression("last_head = :expected")
                .expression_attribute_values(":expected", AttributeValue::S(head.to_owned())),
        }
    }
}

/// Sends an unconditional update.
async fn send(update: UpdateItemFluentBuilder) -> Result<(), StoreError> {
    update
        .send()
        .await
        .map(drop)
        .map_err(|e| StoreError::unavailable("UpdateItem", DisplayErrorContext(&e)))
}
