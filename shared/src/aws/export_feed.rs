//! The export's [`ChangeFeed`] on DynamoDB: projects and watermarks from the state table, changes from the commits
//! table's `by_changed_at` index.
//!
//! - projects: one filtered, strongly consistent `Scan` of the state table for the sync's `PROJ#` items and the
//!   export's `EXPORT#` watermark items, all connections at once. `exported_to` holds the last change exported as
//!   `<changed_at> <sha>` (a stamp alone: a watermark of an older exporter), which sorts as the index does, since
//!   stamps have one width;
//! - changes: `Query` of `by_changed_at` with `changed_at BETWEEN <watermark's stamp> AND <until>`, starting after
//!   the watermark's change (`ExclusiveStartKey`: the index orders a stamp's items by the table's key, `sha`), 1 MB
//!   pages, in the index's order;
//! - the watermark: one conditional `UpdateItem` that only moves it forward.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;

use super::commit_store::CHANGED_AT;
use super::keys::{EXPORT_SK_PREFIX, PROJECT_SK_PREFIX, connection_pk, export_sk};
use super::{conditional, scan_all};
use crate::export::{
    ChangeCursor, ChangeFeed, ChangePage, ChangedCommit, ExportPosition, ExportProject, Window,
};
use crate::kernel::commit_record::CommitRecord;
use crate::kernel::ids::ConnectionId;
use crate::kernel::project_key::ProjectKey;
use crate::kernel::store::StoreError;

type Item = HashMap<String, AttributeValue>;

/// The commits table's index by change time (`template.yaml`).
pub const CHANGES_INDEX: &str = "by_changed_at";

#[derive(Debug, Clone)]
pub struct DynamoChangeFeed {
    client: Client,
    state_table: String,
    commits_table: String,
    /// Items of one page at most (`Limit`); `None`: DynamoDB's 1 MB pages.
    page_limit: Option<i32>,
}

impl DynamoChangeFeed {
    pub fn new(
        client: Client,
        state_table: impl Into<String>,
        commits_table: impl Into<String>,
    ) -> Self {
        DynamoChangeFeed {
            client,
            state_table: state_table.into(),
            commits_table: commits_table.into(),
            page_limit: None,
        }
    }

    /// Pages of at most `items` changes, so that a test can make many pages of few items.
    pub fn with_page_limit(self, items: i32) -> Self {
        DynamoChangeFeed {
            page_limit: Some(items),
            ..self
        }
    }
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// A watermark as `exported_to` holds it: `<changed_at> <sha>`, or a stamp alone.
fn encode_position(position: &ExportPosition) -> String {
    match &position.sha {
        Some(sha) => format!("{} {sha}", position.changed_at),
        None => position.changed_at.clone(),
    }
}

fn decode_position(text: &str) -> ExportPosition {
    match text.split_once(' ') {
        Some((changed_at, sha)) => ExportPosition {
            changed_at: changed_at.to_owned(),
            sha: Some(sha.to_owned()),
        },
        None => ExportPosition {
            changed_at: text.to_owned(),
            sha: None,
        },
    }
}

/// The project a state item belongs to, and whether it is the export's watermark (else the sync's item).
fn state_project(item: &Item) -> Option<(ProjectKey, bool)> {
    let connection = ConnectionId::parse(text(item, "pk")?.strip_prefix("CONN#")?)?;
    let sk = text(item, "sk")?;
    let (id, watermark) = match sk.strip_prefix(EXPORT_SK_PREFIX) {
        Some(id) => (id, true),
        None => (sk.strip_prefix(PROJECT_SK_PREFIX)?, false),
    };
    Some((ProjectKey::new(connection, id.parse().ok()?), watermark))
}

impl ChangeFeed for DynamoChangeFeed {
    async fn projects(&self) -> Result<Vec<ExportProject>, StoreError> {
        // project -> (the sync has an item for it, its watermark)
        let mut projects: BTreeMap<ProjectKey, (bool, Option<ExportPosition>)> = BTreeMap::new();
        let scan = self
            .client
            .scan()
            .table_name(&self.state_table)
            .filter_expression("begins_with(sk, :project) OR begins_with(sk, :export)")
            .expression_attribute_values(":project", AttributeValue::S(PROJECT_SK_PREFIX.into()))
            .expression_attribute_values(":export", AttributeValue::S(EXPORT_SK_PREFIX.into()))
            .projection_expression("pk, sk, exported_to")
            .consistent_read(true);
        let items = scan_all(scan)
            .await
            .map_err(|e| StoreError::unavailable("Scan projects", DisplayErrorContext(&e)))?;
        for item in items {
            let Some((key, watermark)) = state_project(&item) else {
                continue;
            };
            let entry = projects.entry(key).or_default();
            if watermark {
                entry.1 = text(&item, "exported_to").map(decode_position);
            } else {
                entry.0 = true;
            }
        }
        // A watermark alone (the sync's item gone) has nothing more to export.
        Ok(projects
            .into_iter()
            .filter(|(_, (synced, _))| *synced)
            .map(|(key, (_, exported_to))| ExportProject { key, exported_to })
            .collect())
    }

    async fn changes(
        &self,
        project: &ProjectKey,
        window: &Window,
        start: Option<ChangeCursor>,
    ) -> Result<ChangePage, StoreError> {
        let partition = project.partition();
        // The index's key of the change to start after: its own (changed_at) and the table's (project_key, sha).
        let start = start.map(|cursor| {
            HashMap::from([
                (
                    "project_key".to_owned(),
                    AttributeValue::S(partition.clone()),
                ),
                ("sha".to_owned(), AttributeValue::S(cursor.sha)),
                (CHANGED_AT.to_owned(), AttributeValue::S(cursor.changed_at)),
            ])
        });
        let mut query = self
            .client
            .query()
            .table_name(&self.commits_table)
            .index_name(CHANGES_INDEX)
            .expression_attribute_values(":p", AttributeValue::S(partition.clone()))
            .expression_attribute_values(":until", AttributeValue::S(window.until.clone()))
            .set_exclusive_start_key(start)
            .set_limit(self.page_limit);
        query = match &window.after {
            Some(after) => query
                .key_condition_expression(
                    "project_key = :p AND changed_at BETWEEN :after AND :until",
                )
                .expression_attribute_values(":after", AttributeValue::S(after.changed_at.clone())),
            None => query.key_condition_expression("project_key = :p AND changed_at <= :until"),
        };
        let output = query
            .send()
            .await
            .map_err(|e| StoreError::unavailable("Query changes", DisplayErrorContext(&e)))?;
        let mut page = ChangePage::default();
        for item in output.items.unwrap_or_default() {
            let changed_at = text(&item, CHANGED_AT).map(str::to_owned);
            let sha = text(&item, "sha").unwrap_or("?").to_owned();
            // Every item of the index has a text `changed_at` (its sort key) and the table's key `sha`.
            if let Some(changed_at) = &changed_at {
                page.last = Some(ChangeCursor {
                    changed_at: changed_at.clone(),
                    sha: sha.clone(),
                });
            }
            match (changed_at, serde_dynamo::from_item::<_, CommitRecord>(item)) {
                (Some(changed_at), Ok(record)) => {
                    page.changes.push(ChangedCommit { record, changed_at })
                }
                _ => page.unreadable.push(sha),
            }
        }
        page.next = output
            .last_evaluated_key
            .filter(|key| !key.is_empty())
            .and_then(|key| {
                Some(ChangeCursor {
                    sha: text(&key, "sha")?.to_owned(),
                    changed_at: text(&key, CHANGED_AT)?.to_owned(),
                })
            });
        Ok(page)
    }

    async fn advance(&self, project: &ProjectKey, to: &ExportPosition) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.state_table)
            .key(
                "pk",
                AttributeValue::S(connection_pk(project.connection_id.as_str())),
            )
            .key("sk", AttributeValue::S(export_sk(project.project_id)))
            .update_expression("SET entity = :entity, exported_to = :to")
            .condition_expression("attribute_not_exists(exported_to) OR exported_to < :to")
            .expression_attribute_values(":entity", AttributeValue::S("export_watermark".into()))
            .expression_attribute_values(":to", AttributeValue::S(encode_position(to)))
            .send()
            .await;
        // Another run already got further.
        conditional(result, "UpdateItem export watermark").map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermarks_sort_as_text_as_the_index_orders_changes() {
        let at = |changed_at: &str, sha: Option<&str>| ExportPosition {
            changed_at: changed_at.to_owned(),
            sha: sha.map(str::to_owned),
        };
        let ordered = [
            at("2024-03-01T09:00:00.000000Z", None),
            at("2024-03-01T09:00:00.000000Z", Some("0a")),
            at("2024-03-01T09:00:00.000000Z", Some("ff")),
            at("2024-03-01T09:00:00.000001Z", Some("00")),
        ];
        for pair in ordered.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(encode_position(&pair[0]) < encode_position(&pair[1]));
        }
        for position in ordered {
            assert_eq!(decode_position(&encode_position(&position)), position);
        }
    }
}
