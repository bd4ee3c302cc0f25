//! The [`CredentialStore`] port on the DynamoDB state table. Layout (shared with the scheduler and worker):
//! - connection: `pk = CONN#<connection_id>`, `sk = CONNECTION`, `entity = connection`, `created_at`;
//! - credential: `pk = CONN#<connection_id>`, `sk = CRED#<credential_id>`, `entity = credential`, and the
//!   fields of [`CredentialRecord`] (serde_dynamo). The API writes only its own fields on update, so the
//!   `last_sync` summary written by the worker is never overwritten.
//!
//! SDK types stay in this file.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use super::condition_failed;
use super::keys::{
    CONNECTION_SK, CREDENTIAL_SK_PREFIX, connection_items, connection_pk, credential_sk,
};
use crate::credentials::model::{ConnectionId, CredentialId, CredentialRecord, CredentialStatus};
use crate::credentials::ports::{CredentialStatusStore, CredentialStore, StoreError};

type Item = HashMap<String, AttributeValue>;

/// Fields the credentials API owns and rewrites on update and delete.
const API_OWNED_FIELDS: &[&str] = &[
    "label",
    "settings",
    "token_fingerprint",
    "status",
    "updated_at",
    "disabled_at",
    "deleted_at",
    "expiration_date",
    "token_expires_at",
    "last_verified_at",
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
    serde_dynamo::from_item(item).map_err(|e| StoreError::Unavailable {
        operation: "deserialize credential",
        detail: e.to_string(),
    })
}

impl CredentialStore for DynamoCredentialStore {
    async fn ensure_connection(
        &self,
        connection: &ConnectionId,
        created_at: &str,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(connection, CONNECTION_SK.into())))
            .update_expression(
                "SET created_at = if_not_exists(created_at, :now), entity = :entity, connection_id = :id",
            )
            .expression_attribute_values(":now", AttributeValue::S(created_at.to_owned()))
            .expression_attribute_values(":entity", AttributeValue::S("connection".into()))
            .expression_attribute_values(":id", AttributeValue::S(connection.to_string()))
            .send()
            .await
            .map(drop)
            .map_err(|e| unavailable("UpdateItem connection", &e))
    }

    async fn connection_exists(&self, connection: &ConnectionId) -> Result<bool, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(connection, CONNECTION_SK.into())))
            .consistent_read(true)
            .projection_expression("pk")
            .send()
            .await
            .map_err(|e| unavailable("GetItem connection", &e))?;
        Ok(output.item.is_some())
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
    /// Sets only `status` and `status_changed_at`, and only on a credential that exists: a deleted item is not
    /// brought back, and the API's `version` stays as it is.
    async fn mark_status(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
        status: CredentialStatus,
    ) -> Result<(), StoreError> {
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
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", status)
            .expression_attribute_values(":now", AttributeValue::S(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Deleted meanwhile: nothing to mark.
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(unavailable("UpdateItem credential status", &e)),
        }
    }
}
