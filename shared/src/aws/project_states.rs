//! The [`ProjectStates`] port (an operator's view of a connection's projects, and the requests an operator makes)
//! on the state table, for [`DynamoProjectStore`]: each project's schedule item (`SCHED#<project>`, the tick's)
//! and sync item (`PROJ#<project>`, the worker's) read together; the enqueue lease taken as a push hook takes it,
//! in one transaction with a check that no tick holds the connection's scheduling lock (`SCHEDULING`, whose
//! `turn_requested_at` also marks the last `connections.sync`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};

use super::conditional;
use super::keys::{PROJECT_SK_PREFIX, SCHEDULE_SK_PREFIX, connection_items, project_sk};
use super::project_store::{
    DynamoProjectStore, Item, LEASE_TAKE, enqueue_lease, key, number, project_id, unavailable,
};
use crate::kernel::enqueue_lease::{LeaseRequest, LeaseTake};
use crate::kernel::ids::ConnectionId;
use crate::kernel::project_status::ProjectStatus;
use crate::kernel::store::StoreError;
use crate::kernel::time::utc;
use crate::projects::model::{Failure, JobProgress, ProjectState, SyncRecord};
use crate::projects::ports::ProjectStates;
use crate::sync::model::SyncJob;

/// The lock's condition: no tick holds it at `:now`.
const UNLOCKED: &str = "attribute_not_exists(lock_until) OR lock_until < :now";

impl ProjectStates for DynamoProjectStore {
    async fn project_states(
        &self,
        connection: &ConnectionId,
    ) -> Result<Vec<ProjectState>, StoreError> {
        let items =
            |prefix| connection_items(&self.client, &self.table, connection.as_str(), prefix, None);
        let (schedules, syncs) =
            futures::try_join!(items(SCHEDULE_SK_PREFIX), items(PROJECT_SK_PREFIX))
                .map_err(|e| unavailable("Query projects", &e))?;
        let mut syncs: HashMap<u64, Item> = syncs
            .into_iter()
            .filter_map(|item| Some((project_id(&item, PROJECT_SK_PREFIX)?, item)))
            .collect();
        let mut states: Vec<ProjectState> = schedules
            .iter()
            .filter_map(|schedule| {
                let id = project_id(schedule, SCHEDULE_SK_PREFIX)?;
                Some(project_state(
                    id,
                    schedule,
                    &syncs.remove(&id).unwrap_or_default(),
                ))
            })
            .collect();
        states.sort_by_key(|state| state.project_id);
        Ok(states)
    }

    async fn project_state(
        &self,
        connection: &ConnectionId,
        project_id: u64,
    ) -> Result<Option<ProjectState>, StoreError> {
        let read = |key: Item| {
            self.client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .consistent_read(true)
                .send()
        };
        let pk = || super::keys::connection_pk(connection.as_str());
        let (schedule, sync) = futures::try_join!(
            read(Self::schedule_key(connection, project_id)),
            read(key(pk(), project_sk(project_id))),
        )
        .map_err(|e| unavailable("GetItem project", &e))?;
        Ok(schedule
            .item
            .map(|schedule| project_state(project_id, &schedule, &sync.item.unwrap_or_default())))
    }

    async fn take_operator_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        request: &LeaseRequest,
        seen_visible_ms: i64,
    ) -> Result<Option<LeaseTake>, StoreError> {
        let key = Self::schedule_key(connection, project_id);
        let candidate = match self.lease_candidate(&key, request).await? {
            Ok(candidate) => candidate,
            Err(answer) => return Ok(Some(answer)),
        };
        if candidate.read_visible_ms.unwrap_or(0) != seen_visible_ms {
            return Ok(None);
        }
        let n = |value: i64| AttributeValue::N(value.to_string());
        let unlocked = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(Self::lock_key(connection)))
            .condition_expression(UNLOCKED)
            .expression_attribute_values(":now", n(request.now.unix_timestamp()))
            .build()
            .map_err(|e| StoreError::unavailable("building the lock check", e))?;
        let (condition, values) = candidate.take();
        let take = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(LEASE_TAKE)
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::unavailable("building the lease update", e))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(unlocked)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().update(take).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(LeaseTake::Taken(candidate.project, candidate.planned))),
            // The tick's lock held, another request took the lease since the read, or the transaction met another
            // write of the same items: the caller reads the lease again.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
            {
                Ok(None)
            }
            Err(error) => Err(unavailable("TransactWriteItems operator lease", &error)),
        }
    }

    async fn release_operator_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        visible_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.give_back_lease(connection, project_id, visible_at_ms)
            .await
    }

    async fn request_resync(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        stamp: &str,
    ) -> Result<(), StoreError> {
        let pk = super::keys::connection_pk(connection.as_str());
        self.update(key(pk, project_sk(project_id)))
            .update_expression("SET resync_requested_at = :stamp")
            .expression_attribute_values(":stamp", AttributeValue::S(stamp.to_owned()))
            .send()
            .await
            .map(drop)
            .map_err(|e| unavailable("UpdateItem resync", &e))
    }

    async fn claim_turn_request(
        &self,
        connection: &ConnectionId,
        at: i64,
        since: i64,
    ) -> Result<bool, StoreError> {
        let n = |value: i64| AttributeValue::N(value.to_string());
        let result = self
            .update(Self::lock_key(connection))
            .update_expression("SET entity = :entity, turn_requested_at = :at")
            .condition_expression(
                "attribute_not_exists(turn_requested_at) OR turn_requested_at < :since",
            )
            .expression_attribute_values(":entity", AttributeValue::S("scheduling_lock".into()))
            .expression_attribute_values(":at", n(at))
            .expression_attribute_values(":since", n(since))
            .send()
            .await;
        conditional(result, "UpdateItem turn request")
    }

    async fn release_turn_request(
        &self,
        connection: &ConnectionId,
        at: i64,
    ) -> Result<(), StoreError> {
        self.give_back(
            Self::lock_key(connection),
            "REMOVE turn_requested_at",
            ("turn_requested_at", AttributeValue::N(at.to_string())),
            "UpdateItem turn request",
        )
        .await
    }
}

/// A project's state from its schedule item and its sync item (empty when the sync never wrote one).
fn project_state(project_id: u64, schedule: &Item, sync: &Item) -> ProjectState {
    let text = |item: &Item, name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    let job = text(sync, "job")
        .and_then(|json| serde_json::from_str::<SyncJob>(&json).ok())
        .map(|job| JobProgress {
            head: job.head,
            windows: job.windows.len(),
            windows_done: job.done.len(),
            reimport: job.reconcile_since.is_some(),
        });
    let access_error = text(sync, "access_error").zip(text(sync, "access_error_at"));
    ProjectState {
        project_id,
        path_with_namespace: text(schedule, "path_with_namespace"),
        default_branch: text(sync, "default_branch")
            .or_else(|| text(schedule, "gitlab_default_branch")),
        schedule_status: text(schedule, "status")
            .as_deref()
            .and_then(ProjectStatus::parse),
        seen_at: text(schedule, "seen_at"),
        gone_at: text(schedule, "gone_at"),
        lease: enqueue_lease(schedule),
        last_head: text(sync, "last_head"),
        access_error,
        job,
        resync_requested_at: text(sync, "resync_requested_at"),
        sync: SyncRecord {
            last_synced_at: text(sync, "last_synced_at"),
            last_success_at: text(sync, "last_success_at"),
            last_error: text(sync, "last_error"),
            last_error_at: text(sync, "last_error_at"),
            commits_written: number(sync, "commits_written").map_or(0, |n| n.max(0) as u64),
            verified_at: number(sync, "verified_at")
                .and_then(|at| time::OffsetDateTime::from_unix_timestamp(at).ok())
                .map(utc),
            recent_failures: failures(sync),
        },
    }
}

/// The sync item's `recent_failures` (newest first), leaving out entries of another shape.
fn failures(sync: &Item) -> Vec<Failure> {
    let Some(AttributeValue::L(list)) = sync.get("recent_failures") else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|entry| {
            let map = entry.as_m().ok()?;
            let field = |name: &str| map.get(name)?.as_s().ok().cloned();
            Some(Failure {
                code: field("code")?,
                at: field("at")?,
            })
        })
        .collect()
}
