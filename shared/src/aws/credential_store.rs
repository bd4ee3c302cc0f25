//! The [`CredentialStore`] port on the DynamoDB state table. Layout (shared with the scheduler and worker):
//! - connection: `pk = CONN#<connection_id>`, `sk = CONNECTION`, `entity = connection`, `created_at`, and
//!   `base_url`, the one GitLab instance the connection imports from (set by its first credential);
//! - credential: `pk = CONN#<connection_id>`, `sk = CRED#<credential_id>`, `entity = credential`, and the
//!   fields of [`CredentialRecord`] (serde_dynamo). The API writes only its own fields on update, so the sync
//!   summary (`last_sync_*` attributes, written by the scheduler and the worker) is never overwritten.
//!
//! SDK types stay in this file.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;

use super::keys::{
    self, CONNECTION_SK, CREDENTIAL_SK_PREFIX, connection_items, connection_pk, credential_sk,
};
use super::{condition_failed, conditional};
use crate::credentials::model::{
    CredentialRecord, CredentialStatus, DiscoverySummary, LastSync, SyncTally,
};
use crate::credentials::ports::{CredentialStatusStore, CredentialStore};
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::instance::InstanceUrl;
use crate::kernel::store::StoreError;

type Item = HashMap<String, AttributeValue>;

/// Fields the credentials API owns and rewrites on update and delete.
const API_OWNED_FIELDS: &[&str] = &[
    "label",
    "settings",
    "secret_version_id",
    "token_fingerprint",
    "status",
    "updated_at",
    "disabled_at",
    "deleted_at",
    "expiration_date",
    "token_expires_at",
    "last_verified_at",
    "scopes",
    "version",
];

/// The state table behind the [`CredentialStore`] port.
#[derive(Debug, Clone)]
pub struct DynamoCredentialStore {
    client: Client,
    table: String,
}

impl DynamoCredentialStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoCredentialStore {
            client,
            table: table.into(),
        }
    }

    fn key(connection: &ConnectionId, sk: String) -> Item {
        HashMap::from([
            (
                "pk".to_owned(),
                AttributeValue::S(connection_pk(connection.as_str())),
            ),
            ("sk".to_owned(), AttributeValue::S(sk)),
        ])
    }
}

fn unavailable<E>(operation: &'static str, error: &SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if condition_failed(error) {
        return StoreError::Conflict;
    }
    StoreError::Unavailable {
        operation,
        detail: DisplayErrorContext(error).to_string(),
    }
}

fn to_item(record: &CredentialRecord) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(record).map_err(|e| StoreError::Unavailable {
        operation: "serialize credential",
        detail: e.to_string(),
    })?;
    item.extend(DynamoCredentialStore::key(
        &record.connection_id,
        credential_sk(record.credential_id.as_str()),
    ));
    item.insert("entity".into(), AttributeValue::S("credential".into()));
    Ok(item)
}

fn from_item(item: Item) -> Result<CredentialRecord, StoreError> {
    let last_sync = last_sync(&item);
    let mut record: CredentialRecord =
        serde_dynamo::from_item(item).map_err(|e| StoreError::Unavailable {
            operation: "deserialize credential",
            detail: e.to_string(),
        })?;
    record.last_sync = last_sync;
    Ok(record)
}

/// The sync summary's attributes of a credential item (top-level, so that `ADD` can count on them before they
/// exist); `None` before the first tick.
mod summary {
    pub const PROJECTS: &str = "last_sync_projects";
    pub const STATUSES: &str = "last_sync_project_statuses";
    pub const DISCOVERED_AT: &str = "last_sync_discovered_at";
    pub const COMMITS: &str = "last_sync_commits";
    pub const COMMITS_SKIPPED: &str = "last_sync_commits_skipped";
    pub const SUCCESS_AT: &str = "last_sync_success_at";
    pub const ERROR: &str = "last_sync_error";
    pub const ERROR_AT: &str = "last_sync_error_at";
}

fn last_sync(item: &Item) -> Option<LastSync> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number = |value: &AttributeValue| value.as_n().ok().and_then(|n| n.parse::<u64>().ok());
    let last = LastSync {
        projects: item.get(summary::PROJECTS).and_then(number),
        project_statuses: item
            .get(summary::STATUSES)
            .and_then(|v| v.as_m().ok())
            .map(|statuses| {
                statuses
                    .iter()
                    .filter_map(|(status, count)| Some((status.clone(), number(count)?)))
                    .collect()
            })
            .unwrap_or_default(),
        discovered_at: text(summary::DISCOVERED_AT),
        commits: item.get(summary::COMMITS).and_then(number),
        commits_skipped: item.get(summary::COMMITS_SKIPPED).and_then(number),
        last_success_at: text(summary::SUCCESS_AT),
        last_error: text(summary::ERROR),
        last_error_at: text(summary::ERROR_AT),
    };
    (last != LastSync::default()).then_some(last)
}

impl CredentialStore for DynamoCredentialStore {
    async fn bind_connection(
        &self,
        connection: &ConnectionId,
        base_url: &InstanceUrl,
        created_at: &str,
    ) -> Result<Option<InstanceUrl>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(connection, CONNECTION_SK.into())))
            .update_expression(
                "SET created_at = if_not_exists(created_at, :now), entity = :entity, connection_id = :id, \
                 base_url = :base_url",
            )
            .condition_expression("attribute_not_exists(base_url) OR base_url = :base_url")
            .expression_attribute_values(":now", AttributeValue::S(created_at.to_owned()))
            .expression_attribute_values(":entity", AttributeValue::S("connection".into()))
            .expression_attribute_values(":id", AttributeValue::S(connection.to_string()))
            .expression_attribute_values(":base_url", AttributeValue::S(base_url.to_string()))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(error) if condition_failed(&error) => {
                let bound = error.as_service_error().and_then(|e| match e {
                    UpdateItemError::ConditionalCheckFailedException(failed) => {
                        let text = failed.item.as_ref()?.get("base_url")?.as_s().ok()?;
                        InstanceUrl::parse(text).ok()
                    }
                    _ => None,
                });
                // The condition names the bound instance: without one that parses, the answer makes no sense.
                bound.map(Some).ok_or_else(|| {
                    StoreError::unavailable(
                        "UpdateItem connection",
                        "a failed condition without the bound instance",
                    )
                })
            }
            Err(error) => Err(unavailable("UpdateItem connection", &error)),
        }
    }

    async fn connection_exists(&self, connection: &ConnectionId) -> Result<bool, StoreError> {
        keys::connection_exists(&self.client, &self.table, connection.as_str())
            .await
            .map_err(|e| unavailable("GetItem connection", &e))
    }

    async fn insert(&self, record: &CredentialRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(drop)
            .map_err(|e| unavailable("PutItem credential", &e))
    }

    async fn replace(
        &self,
        record: &CredentialRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let item = to_item(record)?;
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                &record.connection_id,
                credential_sk(record.credential_id.as_str()),
            )))
            .condition_expression("attribute_exists(pk) AND #f_version = :expected")
            .expression_attribute_values(
                ":expected",
                AttributeValue::N(expected_version.to_string()),
            );
        let mut sets = Vec::new();
        for field in API_OWNED_FIELDS {
            let value = item
                .get(*field)
                .cloned()
                .unwrap_or(AttributeValue::Null(true));
            sets.push(format!("#f_{field} = :v_{field}"));
            request = request
                .expression_attribute_names(format!("#f_{field}"), *field)
                .expression_attribute_values(format!(":v_{field}"), value);
        }
        request
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await
            .map(drop)
            .map_err(|e| unavailable("UpdateItem credential", &e))
    }

    async fn get(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
    ) -> Result<Option<CredentialRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(connection, credential_sk(id.as_str()))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem credential", &e))?;
        output.item.map(from_item).transpose()
    }

    async fn list(&self, connection: &ConnectionId) -> Result<Vec<CredentialRecord>, StoreError> {
        connection_items(
            &self.client,
            &self.table,
            connection.as_str(),
            CREDENTIAL_SK_PREFIX,
            None,
        )
        .await
        .map_err(|e| unavailable("Query credentials", &e))?
        .into_iter()
        .map(from_item)
        .collect()
    }
}

impl CredentialStatusStore for DynamoCredentialStore {
    /// Sets only `status` and `status_changed_at`, and only on the credential as the sync read it: same `version`,
    /// not deleted (`deleted_at` absent or null). A missing item is not brought back, and the API's `version`
    /// stays as it is.
    async fn mark_status(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
        version: u64,
        status: CredentialStatus,
    ) -> Result<bool, StoreError> {
        let status =
            serde_dynamo::to_attribute_value::<_, AttributeValue>(status).map_err(|e| {
                StoreError::Unavailable {
                    operation: "encode status",
                    detail: e.to_string(),
                }
            })?;
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(connection, credential_sk(id.as_str()))))
            .update_expression("SET #status = :status, status_changed_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND #version = :version \
                 AND (attribute_not_exists(deleted_at) OR attribute_type(deleted_at, :null))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":status", status)
            .expression_attribute_values(":now", AttributeValue::S(now))
            .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
            .expression_attribute_values(":null", AttributeValue::S("NULL".into()))
            .send()
            .await;
        // `false`: updated, rotated or deleted meanwhile; the refusal was of a token the credential no longer holds.
        conditional(result, "UpdateItem credential status")
    }

    async fn record_discovery(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
        found: &DiscoverySummary,
    ) -> Result<(), StoreError> {
        let update = match found {
            DiscoverySummary::Found { statuses, at } => {
                let total: u64 = statuses.values().sum();
                let counts = statuses
                    .iter()
                    .map(|(status, n)| ((*status).to_owned(), AttributeValue::N(n.to_string())))
                    .collect();
                vec![
                    (summary::PROJECTS, AttributeValue::N(total.to_string())),
                    (summary::STATUSES, AttributeValue::M(counts)),
                    (summary::DISCOVERED_AT, AttributeValue::S(at.clone())),
                ]
            }
            DiscoverySummary::Failed { code, at } => vec![
                (summary::ERROR, AttributeValue::S(code.clone())),
                (summary::ERROR_AT, AttributeValue::S(at.clone())),
            ],
        };
        self.update_summary(connection, id, update, &[]).await
    }

    async fn record_syncs(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
        tally: &SyncTally,
        at: &str,
    ) -> Result<(), StoreError> {
        let mut sets = Vec::new();
        if tally.succeeded > 0 {
            sets.push((summary::SUCCESS_AT, AttributeValue::S(at.to_owned())));
        }
        if let Some(code) = &tally.last_error {
            sets.push((summary::ERROR, AttributeValue::S(code.clone())));
            sets.push((summary::ERROR_AT, AttributeValue::S(at.to_owned())));
        }
        let mut adds = vec![(summary::COMMITS, tally.commits)];
        if tally.commits_skipped > 0 {
            adds.push((summary::COMMITS_SKIPPED, tally.commits_skipped));
        }
        self.update_summary(connection, id, sets, &adds).await
    }
}

impl DynamoCredentialStore {
    /// One `UpdateItem` of summary attributes: `SET` each of `sets`, `ADD` each of `adds` (the worker adds its
    /// commits also when zero, so the figure exists after the first sync), only on a credential that exists.
    async fn update_summary(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
        sets: Vec<(&'static str, AttributeValue)>,
        adds: &[(&'static str, u64)],
    ) -> Result<(), StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(connection, credential_sk(id.as_str()))))
            .condition_expression("attribute_exists(pk)");
        let mut expression = String::new();
        for (index, (name, value)) in sets.into_iter().enumerate() {
            expression.push_str(if index == 0 { "SET " } else { ", " });
            expression.push_str(&format!("{name} = :s{index}"));
            request = request.expression_attribute_values(format!(":s{index}"), value);
        }
        for (index, (name, n)) in adds.iter().enumerate() {
            expression.push_str(if index == 0 { " ADD " } else { ", " });
            expression.push_str(&format!("{name} :a{index}"));
            request = request.expression_attribute_values(
                format!(":a{index}"),
                AttributeValue::N(n.to_string()),
            );
        }
        if expression.is_empty() {
            return Ok(());
        }
        let result = request.update_expression(expression).send().await;
        // Deleted meanwhile: no summary for it.
        conditional(result, "UpdateItem credential sync summary").map(drop)
    }
}
