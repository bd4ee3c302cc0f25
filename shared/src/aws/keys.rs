//! The state table's key layout, and the one query by key prefix, in one place for every adapter that shares
//! the table:
//! - connection: `pk = CONN#<connection>`, `sk = CONNECTION`;
//! - credential: `pk = CONN#<connection>`, `sk = CRED#<credential>`;
//! - project (the sync's state): `pk = CONN#<connection>`, `sk = PROJ#<project>`;
//! - project schedule (the scheduler's metadata and enqueue lease): `pk = CONN#<connection>`,
//!   `sk = SCHED#<project>`;
//! - the scheduler's lock of a connection: `pk = CONN#<connection>`, `sk = SCHEDULING`;
//! - the analytics export's watermark of a project: `pk = CONN#<connection>`, `sk = EXPORT#<project>`;
//! - the commit writes of a connection's imports on one day (UTC): `pk = CONN#<connection>`,
//!   `sk = WRITES#<YYYY-MM-DD>`;
//! - a token's shared GitLab request timeline: `pk = CONN#<connection>`, `sk = RATE#<credential>`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::get_item::GetItemError;
use aws_sdk_dynamodb::operation::query::QueryError;
use aws_sdk_dynamodb::types::AttributeValue;

pub const CONNECTION_SK: &str = "CONNECTION";
pub const CREDENTIAL_SK_PREFIX: &str = "CRED#";
pub const PROJECT_SK_PREFIX: &str = "PROJ#";
pub const SCHEDULE_SK_PREFIX: &str = "SCHED#";
pub const SCHEDULING_SK: &str = "SCHEDULING";
pub const EXPORT_SK_PREFIX: &str = "EXPORT#";
pub const WRITES_SK_PREFIX: &str = "WRITES#";
pub const RATE_SK_PREFIX: &str = "RATE#";

pub fn connection_pk(connection_id: &str) -> String {
    format!("CONN#{connection_id}")
}

pub fn credential_sk(credential_id: &str) -> String {
    format!("{CREDENTIAL_SK_PREFIX}{credential_id}")
}

pub fn project_sk(project_id: u64) -> String {
    format!("{PROJECT_SK_PREFIX}{project_id}")
}

pub fn schedule_sk(project_id: u64) -> String {
    format!("{SCHEDULE_SK_PREFIX}{project_id}")
}

pub fn export_sk(project_id: u64) -> String {
    format!("{EXPORT_SK_PREFIX}{project_id}")
}

pub fn rate_sk(credential_id: &str) -> String {
    format!("{RATE_SK_PREFIX}{credential_id}")
}

pub fn writes_sk(day: &str) -> String {
    format!("{WRITES_SK_PREFIX}{day}")
}

/// Whether the connection's item exists: one strongly consistent `GetItem` of its key only (half a KB read at
/// most, whatever the item holds).
pub async fn connection_exists(
    client: &Client,
    table: &str,
    connection_id: &str,
) -> Result<bool, SdkError<GetItemError>> {
    let output = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(connection_pk(connection_id)))
        .key("sk", AttributeValue::S(CONNECTION_SK.to_owned()))
        .consistent_read(true)
        .projection_expression("pk")
        .send()
        .await?;
    Ok(output.item.is_some())
}

/// Every item of a connection whose sort key starts with `prefix` (all pages, consistent reads), with only the
/// `projection` attributes when given.
pub async fn connection_items(
    client: &Client,
    table: &str,
    connection_id: &str,
    prefix: &str,
    projection: Option<String>,
) -> Result<Vec<HashMap<String, AttributeValue>>, SdkError<QueryError>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let output = client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(connection_pk(connection_id)))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            .set_projection_expression(projection.clone())
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        items.extend(output.items.unwrap_or_default());
        match output.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(items),
        }
    }
}
