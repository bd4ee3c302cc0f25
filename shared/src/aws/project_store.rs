//! The scheduler's [`ProjectStore`] port on the DynamoDB state table.
//!
//! - project: `pk = CONN#<connection>`, `sk = PROJ#<project_id>` (the item the sync's state lives on). The
//!   scheduler writes only its own attributes, with `UpdateItem SET`: `entity`, `path_with_namespace`, `web_url`,
//!   `gitlab_default_branch`, `archived`, `empty_repo`, `last_activity_at`, `seen_at`, `credential_id`,
//!   `enqueued_at`, `enqueue_lease_until` (epoch seconds), and `gone_at` (set when the project is no longer
//!   visible; removed when it is seen again). It reads `last_head` and `job` in a condition, never writes them.
//! - tick lease: `pk = SCHEDULER`, `sk = TICK#<tick>`, with `lease_until`, `completed_at` and `expires_at`
//!   (epoch seconds, for a TTL).
//! - connections: the credentials API's `sk = CONNECTION` items, found with a filtered `Scan` (keys only).
//!
//! SDK types stay in this file.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use super::condition_failed;
use super::keys::{CONNECTION_SK, PROJECT_SK_PREFIX, connection_items, connection_pk, project_sk};
use crate::credentials::ConnectionId;
use crate::scheduler::model::DiscoveredProject;
use crate::scheduler::ports::{EnqueueClaim, KnownProject, ProjectStore};
use crate::sync::StoreError;

type Item = HashMap<String, AttributeValue>;

/// What a tick reads of a project item (none of them is a DynamoDB reserved word).
const KNOWN_ATTRIBUTES: &[&str] = &[
    "sk",
    "gone_at",
    "enqueue_lease_until",
    "last_head",
    "job",
    "path_with_namespace",
    "web_url",
    "gitlab_default_branch",
    "archived",
    "empty_repo",
    "last_activity_at",
    "credential_id",
];

fn known_project(item: &Item) -> Option<KnownProject> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    let flag = |name: &str| match item.get(name) {
        Some(AttributeValue::Bool(value)) => Some(*value),
        _ => None,
    };
    let project_id = text("sk")?.strip_prefix(PROJECT_SK_PREFIX)?.parse().ok()?;
    let recorded = (|| {
        Some(DiscoveredProject {
            project_id,
            path_with_namespace: text("path_with_namespace")?,
            web_url: text("web_url")?,
            default_branch: text("gitlab_default_branch")?,
            archived: flag("archived")?,
            empty_repo: flag("empty_repo")?,
            last_activity_at: text("last_activity_at"),
            credential_id: text("credential_id")?,
        })
    })();
    Some(KnownProject {
        project_id,
        gone: item.contains_key("gone_at"),
        lease_until: match item.get("enqueue_lease_until") {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        },
        imported: item.contains_key("last_head") && !item.contains_key("job"),
        recorded,
    })
}

/// Tick items are kept this long (for the table's TTL, if enabled on `expires_at`).
const TICK_RETENTION_SECONDS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone)]
pub struct DynamoProjectStore {
    client: Client,
    table: String,
}

impl DynamoProjectStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoProjectStore {
            client,
            table: table.into(),
        }
    }

    fn project_key(connection: &ConnectionId, project_id: u64) -> Item {
        HashMap::from([
            (
                "pk".to_owned(),
                AttributeValue::S(connection_pk(connection.as_str())),
            ),
            ("sk".to_owned(), AttributeValue::S(project_sk(project_id))),
        ])
    }

    fn tick_key(tick: &str) -> Item {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S("SCHEDULER".into())),
            ("sk".to_owned(), AttributeValue::S(format!("TICK#{tick}"))),
        ])
    }

    /// The metadata update, with or without the lease.
    async fn update_project(
        &self,
        connection: &ConnectionId,
        project: &DiscoveredProject,
        seen_at: &str,
        claim: Option<EnqueueClaim>,
    ) -> Result<(), SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError>> {
        let mut values: Vec<(&str, AttributeValue)> = vec![
            (":entity", AttributeValue::S("project".into())),
            (
                ":path",
                AttributeValue::S(project.path_with_namespace.clone()),
            ),
            (":web", AttributeValue::S(project.web_url.clone())),
            (":branch", AttributeValue::S(project.default_branch.clone())),
            (":archived", AttributeValue::Bool(project.archived)),
            (":empty", AttributeValue::Bool(project.empty_repo)),
            (":seen", AttributeValue::S(seen_at.to_owned())),
            (":cred", AttributeValue::S(project.credential_id.clone())),
        ];
        let mut sets = vec![
            "entity = :entity",
            "path_with_namespace = :path",
            "web_url = :web",
            "gitlab_default_branch = :branch",
            "archived = :archived",
            "empty_repo = :empty",
            "seen_at = :seen",
            "credential_id = :cred",
        ];
        if let Some(activity) = &project.last_activity_at {
            sets.push("last_activity_at = :activity");
            values.push((":activity", AttributeValue::S(activity.clone())));
        }
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::project_key(connection, project.project_id)));
        if let Some(claim) = claim {
            sets.push("enqueued_at = :seen");
            sets.push("enqueue_lease_until = :until");
            values.push((":until", AttributeValue::N(claim.until.to_string())));
            values.push((":now", AttributeValue::N(claim.now.to_string())));
            let mut condition =
                "(attribute_not_exists(enqueue_lease_until) OR enqueue_lease_until < :now)"
                    .to_owned();
            if claim.unless_imported {
                condition
                    .push_str(" AND (attribute_not_exists(#last_head) OR attribute_exists(#job))");
                request = request
                    .expression_attribute_names("#last_head", "last_head")
                    .expression_attribute_names("#job", "job");
            }
            request = request.condition_expression(condition);
        }
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        request
            .update_expression(format!("SET {} REMOVE gone_at", sets.join(", ")))
            .send()
            .await
            .map(drop)
    }
}

fn unavailable<E>(operation: &str, error: &SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    StoreError(format!("{operation}: {}", DisplayErrorContext(error)))
}

impl ProjectStore for DynamoProjectStore {
    async fn connections(&self) -> Result<Vec<ConnectionId>, StoreError> {
        let mut connections = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :connection")
                .expression_attribute_values(":connection", AttributeValue::S(CONNECTION_SK.into()))
                .projection_expression("pk")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable("Scan connections", &e))?;
            for item in output.items.unwrap_or_default() {
                if let Some(AttributeValue::S(pk)) = item.get("pk")
                    && let Some(id) = pk.strip_prefix("CONN#").and_then(ConnectionId::parse)
                {
                    connections.push(id);
                }
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        connections.sort();
        connections.dedup();
        Ok(connections)
    }

    async fn claim_tick(&self, tick: &str, now: i64, until: i64) -> Result<bool, StoreError> {
        let mut item = Self::tick_key(tick);
        item.insert("entity".into(), AttributeValue::S("tick".into()));
        item.insert("started_at".into(), AttributeValue::N(now.to_string()));
        item.insert("lease_until".into(), AttributeValue::N(until.to_string()));
        item.insert(
            "expires_at".into(),
            AttributeValue::N((now + TICK_RETENTION_SECONDS).to_string()),
        );
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR (lease_until < :now AND attribute_not_exists(completed_at))",
            )
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable("PutItem tick", &e)),
        }
    }

    async fn complete_tick(&self, tick: &str, now: i64) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::tick_key(tick)))
            .update_expression("SET completed_at = :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await
            .map(drop)
            .map_err(|e| unavailable("UpdateItem tick", &e))
    }

    async fn record(
        &self,
        connection: &ConnectionId,
        project: &DiscoveredProject,
        seen_at: &str,
        claim: Option<EnqueueClaim>,
    ) -> Result<bool, StoreError> {
        match self
            .update_project(connection, project, seen_at, claim)
            .await
        {
            Ok(()) => Ok(claim.is_some()),
            // The lease holds (or the archived project is imported): record the metadata alone.
            Err(e) if claim.is_some() && condition_failed(&e) => self
                .update_project(connection, project, seen_at, None)
                .await
                .map(|()| false)
                .map_err(|e| unavailable("UpdateItem project", &e)),
            Err(e) => Err(unavailable("UpdateItem project", &e)),
        }
    }

    async fn release(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        until: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::project_key(connection, project_id)))
            .update_expression("REMOVE enqueue_lease_until, enqueued_at")
            .condition_expression("enqueue_lease_until = :until")
            .expression_attribute_values(":until", AttributeValue::N(until.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone else's lease now: not ours to give back.
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(unavailable("UpdateItem project lease", &e)),
        }
    }

    async fn known_projects(
        &self,
        connection: &ConnectionId,
    ) -> Result<Vec<KnownProject>, StoreError> {
        let items = connection_items(
            &self.client,
            &self.table,
            connection.as_str(),
            PROJECT_SK_PREFIX,
            Some(KNOWN_ATTRIBUTES.join(", ")),
        )
        .await
        .map_err(|e| unavailable("Query projects", &e))?;
        Ok(items.iter().filter_map(known_project).collect())
    }

    async fn mark_gone(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        at: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::project_key(connection, project_id)))
            .update_expression("SET gone_at = :at")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(gone_at)")
            .expression_attribute_values(":at", AttributeValue::S(at.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(unavailable("UpdateItem project gone", &e)),
        }
    }
}
