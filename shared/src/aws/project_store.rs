//! The scheduler's storage ports ([`TickLeases`], [`ConnectionTurns`], [`ScheduleItems`]) on the DynamoDB state
//! table: one adapter, as the three share one table and its keys.
//!
//! - project schedule: `pk = CONN#<connection>`, `sk = SCHED#<project_id>`, the scheduler's own item per project:
//!   `entity`, `path_with_namespace`, `web_url`, `gitlab_default_branch`, `archived`, `empty_repo`,
//!   `last_activity_at`, `seen_at`, `credential_id`, `status` (`active`, `excluded`, `empty`, `archived`,
//!   `forbidden`, `not_found`), `excluded` (true when the credential's patterns leave it out), `enqueued_at`,
//!   `enqueue_lease_until` (epoch seconds), `enqueue_visible_ms` (when the last message became or becomes visible,
//!   ms since the epoch), and `gone_at` (set when the project is no longer visible; cleared
//!   when it is seen again).
//! - project: `pk = CONN#<connection>`, `sk = PROJ#<project_id>`, the sync's item: the scheduler only reads
//!   `last_head`, `job`, `access_error(_at)`, `verified_at`, `default_branch` and `resync_requested_at` of it (an archived project whose history is imported
//!   is not enqueued again; one GitLab refused waits for its retry; a quiet one waits for activity) and never
//!   writes it, so nothing the scheduler does can race the sync's conditional writes.
//! - scheduling lock: `pk = CONN#<connection>`, `sk = SCHEDULING`, with `lock_holder`, `lock_until` and
//!   `last_scheduled_at` (epoch seconds: when a tick last started the connection's turn; ticks go oldest first): the tick
//!   holding it is the only writer of the connection's schedule items, so they are written whole with
//!   `BatchWriteItem` (25 a call) instead of one conditional `UpdateItem` each. On moto that is what makes a tick of
//!   10,000 projects fast: every call costs about 8 ms there whatever it carries (the server is GIL-bound), and its
//!   `TransactWriteItems` and PartiQL copy or convert the whole table for every item, so they are slower still.
//! - tick lease: `pk = SCHEDULER`, `sk = TICK#<tick>`, with `lease_until`, `completed_at` and `expires_at`
//!   (epoch seconds, for a TTL).
//! - connections: the credentials API's `sk = CONNECTION` items, found with a filtered `Scan` (keys only) that
//!   also reads each scheduling lock's `last_scheduled_at`.
//!
//! Cost on DynamoDB, per tick and connection: two lock writes, one query of the schedule items and one of the
//! project items (strongly consistent), and 1 WCU per project written (a schedule item is well under 1 KB; the
//! items unchanged and still leased are not written): the same WCUs as one `UpdateItem` per project, in 1/25 of
//! the requests. A transaction per 100 projects would cost 2 WCUs per project.
//!
//! A push hook takes the same enqueue lease on the schedule item ([`PushLeases`]): a `GetItem` of the item, then one
//! conditional `UpdateItem` of the lease's attributes only ([`LEASE_ATTRIBUTES`], all the hook role may write):
//! `enqueue_visible_ms` says when the last message became or becomes visible (ms since the epoch): a push before
//! that time is covered by it, and the next message is spaced from it. The write's condition is the value read, so
//! two writers never both take a lease from one reading. Before reading a hook secret, the hook looks up the connection's item (`GetItem` of its key).
//!
//! SDK types stay in this file.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

use super::keys::{
    CONNECTION_SK, PROJECT_SK_PREFIX, SCHEDULE_SK_PREFIX, SCHEDULING_SK, connection_items,
    connection_pk, schedule_sk,
};
use super::{batch_write, conditional, scan_all};
use crate::hooks::PushLeases;
use crate::kernel::enqueue_lease::{
    EnqueueLease, LeaseRequest, LeaseTake, PlannedLease, ScheduledProject,
};
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::instance::InstanceUrl;
use crate::kernel::project_status::ProjectStatus;
use crate::kernel::store::StoreError;
use crate::scheduler::model::DiscoveredProject;
use crate::scheduler::ports::{
    AccessRefusal, ConnectionTurns, KnownConnection, KnownProject, ProjectRecord, ScheduleItems,
    TickLeases, Verified,
};

pub(super) type Item = HashMap<String, AttributeValue>;

/// What a tick reads of the sync's project item.
const SYNC_ATTRIBUTES: &str = "sk, last_head, job, access_error, access_error_at, verified_at, default_branch, resync_requested_at";

pub(super) fn project_id(item: &Item, prefix: &str) -> Option<u64> {
    match item.get("sk") {
        Some(AttributeValue::S(sk)) => sk.strip_prefix(prefix)?.parse().ok(),
        _ => None,
    }
}

/// A schedule item as the tick left it (`imported` is filled in from the sync's item).
fn known_project(item: &Item) -> Option<KnownProject> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    let flag = |name: &str| match item.get(name) {
        Some(AttributeValue::Bool(value)) => Some(*value),
        _ => None,
    };
    let project_id = project_id(item, SCHEDULE_SK_PREFIX)?;
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
            excluded: flag("excluded").unwrap_or(false),
        })
    })();
    Some(KnownProject {
        project_id,
        gone: item.contains_key("gone_at"),
        lease: enqueue_lease(item),
        imported: false,
        refused: None,
        verified: None,
        recorded,
        status: text("status").as_deref().and_then(ProjectStatus::parse),
    })
}

/// The item's enqueue lease, if it holds one with a readable `enqueue_lease_until`.
pub(super) fn enqueue_lease(item: &Item) -> Option<EnqueueLease> {
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse::<i64>().ok(),
        _ => None,
    };
    Some(EnqueueLease {
        until: number("enqueue_lease_until")?,
        enqueued_at: match item.get("enqueued_at") {
            Some(AttributeValue::S(at)) => at.clone(),
            _ => String::new(),
        },
        visible_at_ms: number("enqueue_visible_ms").unwrap_or(0),
    })
}

/// The sync's last finding that the head was current, on the branch it imported, unless a re-import is pending.
fn verified(item: &Item) -> Option<Verified> {
    if item.contains_key("resync_requested_at") {
        return None;
    }
    let branch = match item.get("default_branch") {
        Some(AttributeValue::S(branch)) => branch.clone(),
        _ => return None,
    };
    Some(Verified {
        at: number(item, "verified_at")?,
        branch,
    })
}

/// The sync's last refusal of the project, when its item records one with a readable time.
fn refusal(item: &Item) -> Option<AccessRefusal> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
    let status = ProjectStatus::parse(text("access_error")?)?;
    let at = time::OffsetDateTime::parse(
        text("access_error_at")?,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()?;
    Some(AccessRefusal {
        status,
        at: at.unix_timestamp(),
    })
}

/// The whole schedule item of a record.
fn schedule_item(connection: &ConnectionId, record: &ProjectRecord<'_>) -> Item {
    let project = record.project;
    let s = |value: &str| AttributeValue::S(value.to_owned());
    let mut item = HashMap::from([
        ("pk".to_owned(), s(&connection_pk(connection.as_str()))),
        ("sk".to_owned(), s(&schedule_sk(project.project_id))),
        ("entity".to_owned(), s("project_schedule")),
        (
            "path_with_namespace".to_owned(),
            s(&project.path_with_namespace),
        ),
        ("web_url".to_owned(), s(&project.web_url)),
        (
            "gitlab_default_branch".to_owned(),
            s(&project.default_branch),
        ),
        (
            "archived".to_owned(),
            AttributeValue::Bool(project.archived),
        ),
        (
            "empty_repo".to_owned(),
            AttributeValue::Bool(project.empty_repo),
        ),
        ("seen_at".to_owned(), s(record.seen_at)),
        ("credential_id".to_owned(), s(&project.credential_id)),
        ("status".to_owned(), s(record.status.as_str())),
    ]);
    if project.excluded {
        item.insert("excluded".to_owned(), AttributeValue::Bool(true));
    }
    if let Some(activity) = &project.last_activity_at {
        item.insert("last_activity_at".to_owned(), s(activity));
    }
    if let Some(lease) = record.lease {
        if !lease.enqueued_at.is_empty() {
            item.insert("enqueued_at".to_owned(), s(&lease.enqueued_at));
        }
        item.insert(
            "enqueue_lease_until".to_owned(),
            AttributeValue::N(lease.until.to_string()),
        );
        item.insert(
            "enqueue_visible_ms".to_owned(),
            AttributeValue::N(lease.visible_at_ms.to_string()),
        );
    }
    item
}

/// Tick items are kept this long (for the table's TTL, if enabled on `expires_at`).
const TICK_RETENTION_SECONDS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone)]
pub struct DynamoProjectStore {
    pub(super) client: Client,
    pub(super) table: String,
}

impl DynamoProjectStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoProjectStore {
            client,
            table: table.into(),
        }
    }

    /// An `UpdateItem` of the item at `key`.
    pub(super) fn update(&self, key: Item) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
    }

    fn tick_key(tick: &str) -> Item {
        key("SCHEDULER".into(), format!("TICK#{tick}"))
    }

    pub(super) fn schedule_key(connection: &ConnectionId, project_id: u64) -> Item {
        key(connection_pk(connection.as_str()), schedule_sk(project_id))
    }

    pub(super) fn lock_key(connection: &ConnectionId) -> Item {
        key(connection_pk(connection.as_str()), SCHEDULING_SK.into())
    }

    /// Removes a lock or lease only while `owner` still holds it; one that lapsed and was taken by another tick
    /// is not ours to give back, and is left alone.
    pub(super) async fn give_back(
        &self,
        key: Item,
        remove: &str,
        (owner, value): (&str, AttributeValue),
        operation: &'static str,
    ) -> Result<(), StoreError> {
        let result = self
            .update(key)
            .update_expression(remove)
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", owner)
            .expression_attribute_values(":owner", value)
            .send()
            .await;
        conditional(result, operation).map(drop)
    }
}

pub(super) fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk)),
    ])
}

/// Sends an update whose answer is only success or failure.
async fn updated(
    update: UpdateItemFluentBuilder,
    operation: &'static str,
) -> Result<(), StoreError> {
    update
        .send()
        .await
        .map(drop)
        .map_err(|e| unavailable(operation, &e))
}

pub(super) fn unavailable<E>(operation: &'static str, error: &SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    StoreError::unavailable(operation, DisplayErrorContext(error))
}

impl TickLeases for DynamoProjectStore {
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
        conditional(result, "PutItem tick")
    }

    async fn complete_tick(&self, tick: &str, now: i64) -> Result<(), StoreError> {
        updated(
            self.update(Self::tick_key(tick))
                .update_expression("SET completed_at = :now")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string())),
            "UpdateItem tick",
        )
        .await
    }
}

impl ConnectionTurns for DynamoProjectStore {
    async fn connections(&self) -> Result<Vec<KnownConnection>, StoreError> {
        // id -> (its CONNECTION item exists, the end of its last turn, the instance it is bound to)
        let mut connections: BTreeMap<ConnectionId, (bool, Option<i64>, Option<String>)> =
            BTreeMap::new();
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk IN (:connection, :scheduling)")
            .expression_attribute_values(":connection", AttributeValue::S(CONNECTION_SK.into()))
            .expression_attribute_values(":scheduling", AttributeValue::S(SCHEDULING_SK.into()))
            .projection_expression("pk, sk, last_scheduled_at, base_url");
        let items = scan_all(scan)
            .await
            .map_err(|e| unavailable("Scan connections", &e))?;
        for item in items {
            let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                (item.get("pk"), item.get("sk"))
            else {
                continue;
            };
            let Some(id) = pk.strip_prefix("CONN#").and_then(ConnectionId::parse) else {
                continue;
            };
            let entry = connections.entry(id).or_default();
            if sk == CONNECTION_SK {
                entry.0 = true;
                entry.2 = item.get("base_url").and_then(|v| v.as_s().ok()).cloned();
            } else if let Some(AttributeValue::N(at)) = item.get("last_scheduled_at") {
                entry.1 = at.parse().ok();
            }
        }
        // A scheduling item alone is no connection.
        Ok(connections
            .into_iter()
            .filter(|(_, (exists, _, _))| *exists)
            .map(|(id, (_, last_scheduled_at, instance))| KnownConnection {
                id,
                last_scheduled_at,
                instance: instance.as_deref().map(InstanceUrl::parse).transpose(),
            })
            .collect())
    }

    async fn mark_scheduled(&self, connection: &ConnectionId, at: i64) -> Result<(), StoreError> {
        updated(
            self.update(Self::lock_key(connection))
                .update_expression("SET entity = :entity, last_scheduled_at = :at")
                .expression_attribute_values(":entity", AttributeValue::S("scheduling_lock".into()))
                .expression_attribute_values(":at", AttributeValue::N(at.to_string())),
            "UpdateItem last scheduled",
        )
        .await
    }

    async fn restore_turn(
        &self,
        connection: &ConnectionId,
        previous: Option<i64>,
    ) -> Result<(), StoreError> {
        let update = self.update(Self::lock_key(connection));
        let update = match previous {
            Some(at) => update
                .update_expression("SET last_scheduled_at = :at")
                .expression_attribute_values(":at", AttributeValue::N(at.to_string())),
            None => update.update_expression("REMOVE last_scheduled_at"),
        };
        updated(update, "UpdateItem restore turn").await
    }

    async fn lock_connection(
        &self,
        connection: &ConnectionId,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .update(Self::lock_key(connection))
            .update_expression("SET entity = :entity, lock_holder = :holder, lock_until = :until")
            .condition_expression("attribute_not_exists(lock_until) OR lock_until < :now")
            .expression_attribute_values(":entity", AttributeValue::S("scheduling_lock".into()))
            .expression_attribute_values(":holder", AttributeValue::S(holder.to_owned()))
            .expression_attribute_values(":until", AttributeValue::N(until.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        conditional(result, "UpdateItem scheduling lock")
    }

    async fn unlock_connection(
        &self,
        connection: &ConnectionId,
        holder: &str,
    ) -> Result<(), StoreError> {
        self.give_back(
            Self::lock_key(connection),
            "REMOVE lock_holder, lock_until",
            ("lock_holder", AttributeValue::S(holder.to_owned())),
            "UpdateItem scheduling lock",
        )
        .await
    }
}

impl ScheduleItems for DynamoProjectStore {
    async fn known_projects(
        &self,
        connection: &ConnectionId,
    ) -> Result<Vec<KnownProject>, StoreError> {
        let (schedules, syncs) = futures::try_join!(
            connection_items(
                &self.client,
                &self.table,
                connection.as_str(),
                SCHEDULE_SK_PREFIX,
                None,
            ),
            connection_items(
                &self.client,
                &self.table,
                connection.as_str(),
                PROJECT_SK_PREFIX,
                Some(SYNC_ATTRIBUTES.to_owned()),
            ),
        )
        .map_err(|e| unavailable("Query projects", &e))?;
        let mut known: BTreeMap<u64, KnownProject> = schedules
            .iter()
            .filter_map(known_project)
            .map(|k| (k.project_id, k))
            .collect();
        for item in &syncs {
            let Some(project_id) = project_id(item, PROJECT_SK_PREFIX) else {
                continue;
            };
            // The history is fully imported: a head, and no unfinished job.
            let imported = item.contains_key("last_head") && !item.contains_key("job");
            let project = known
                .entry(project_id)
                .or_insert_with(|| KnownProject::unrecorded(project_id));
            project.imported = imported;
            project.refused = refusal(item);
            project.verified = verified(item);
        }
        Ok(known.into_values().collect())
    }

    async fn write(
        &self,
        connection: &ConnectionId,
        records: &[ProjectRecord<'_>],
    ) -> Result<Vec<u64>, StoreError> {
        if records.len() > Self::MAX_WRITE_BATCH {
            return Err(StoreError::unavailable(
                "BatchWriteItem",
                format!(
                    "{} records, at most {} a call",
                    records.len(),
                    Self::MAX_WRITE_BATCH
                ),
            ));
        }
        let requests: Vec<WriteRequest> = records
            .iter()
            .map(|record| {
                let put = PutRequest::builder()
                    .set_item(Some(schedule_item(connection, record)))
                    .build()
                    .map_err(|e| StoreError::unavailable("schedule item", e))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<_, StoreError>>()?;
        let unprocessed = batch_write(
            &self.client,
            &self.table,
            requests,
            std::time::Duration::from_secs(2),
            |_| {},
        )
        .await
        .map_err(|e| unavailable("BatchWriteItem schedule", &e))?;
        Ok(unprocessed
            .iter()
            .filter_map(|r| r.put_request.as_ref())
            .filter_map(|put| project_id(&put.item, SCHEDULE_SK_PREFIX))
            .collect())
    }

    async fn release(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        until: i64,
    ) -> Result<(), StoreError> {
        self.give_back(
            Self::schedule_key(connection, project_id),
            "REMOVE enqueue_lease_until, enqueued_at, enqueue_visible_ms",
            ("enqueue_lease_until", AttributeValue::N(until.to_string())),
            "UpdateItem project lease",
        )
        .await
    }

    async fn mark_gone(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        at: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .update(Self::schedule_key(connection, project_id))
            .update_expression("SET gone_at = :at")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(gone_at)")
            .expression_attribute_values(":at", AttributeValue::S(at.to_owned()))
            .send()
            .await;
        // No item, or marked gone already: nothing to mark.
        conditional(result, "UpdateItem project gone").map(drop)
    }
}

/// The attributes of a schedule item a push hook reads (`GetItem` with this projection), and, with the key, the
/// only ones the hook role may read (template.yaml; its test compares).
pub const PUSH_READ_ATTRIBUTES: [&str; 6] = [
    "status",
    "gone_at",
    "credential_id",
    "path_with_namespace",
    "gitlab_default_branch",
    "enqueue_visible_ms",
];

/// The enqueue lease's attributes: with the key, the only ones the push hook role may write (template.yaml; its
/// test compares).
pub const LEASE_ATTRIBUTES: [&str; 3] =
    ["enqueue_lease_until", "enqueued_at", "enqueue_visible_ms"];

/// The write that takes an enqueue lease (`:until`, `:at`, `:visible`).
pub(super) const LEASE_TAKE: &str =
    "SET enqueue_lease_until = :until, enqueued_at = :at, enqueue_visible_ms = :visible";

/// A lease to take from one reading of a schedule item: the write's condition is that reading.
#[derive(Debug)]
pub(super) struct LeaseCandidate {
    pub project: ScheduledProject,
    pub planned: PlannedLease,
    /// `enqueue_visible_ms` as read (`None`: the item had none).
    pub read_visible_ms: Option<i64>,
}

impl LeaseCandidate {
    /// The condition of the write that takes the lease ([`LEASE_TAKE`]), and the values of both: the item still is
    /// as read (it exists and its lease is the one read), so that of two writers who read the same lease only one
    /// takes the next.
    pub fn take(&self) -> (&'static str, HashMap<String, AttributeValue>) {
        let lease = &self.planned.lease;
        let n = |value: i64| AttributeValue::N(value.to_string());
        let mut values = HashMap::from([
            (":until".to_owned(), n(lease.until)),
            (
                ":at".to_owned(),
                AttributeValue::S(lease.enqueued_at.clone()),
            ),
            (":visible".to_owned(), n(lease.visible_at_ms)),
        ]);
        let condition = match self.read_visible_ms {
            Some(read) => {
                values.insert(":read".to_owned(), n(read));
                "attribute_exists(pk) AND enqueue_visible_ms = :read"
            }
            None => "attribute_exists(pk) AND attribute_not_exists(enqueue_visible_ms)",
        };
        (condition, values)
    }
}

impl DynamoProjectStore {
    /// A read of the schedule item at `key` says whether a lease may be taken for `request` (a push, or an
    /// operator's sync), which one, and what its message carries: `Err` with the answer when none is to be taken.
    pub(super) async fn lease_candidate(
        &self,
        key: &Item,
        request: &LeaseRequest,
    ) -> Result<Result<LeaseCandidate, LeaseTake>, StoreError> {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.clone()))
            .projection_expression(PUSH_READ_ATTRIBUTES.map(|a| format!("#{a}")).join(", "))
            .set_expression_attribute_names(Some(
                PUSH_READ_ATTRIBUTES
                    .iter()
                    .map(|a| (format!("#{a}"), (*a).to_owned()))
                    .collect(),
            ))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem push lease", &e))?;
        let item = read.item.unwrap_or_default();
        if let Some(refused) = why_not_synced(&item) {
            return Ok(Err(refused));
        }
        let read_visible_ms = number(&item, "enqueue_visible_ms");
        let Some(planned) = request.plan(read_visible_ms) else {
            return Ok(Err(LeaseTake::Covered));
        };
        Ok(match scheduled_project(&item) {
            Some(project) => Ok(LeaseCandidate {
                project,
                planned,
                read_visible_ms,
            }),
            None => Err(LeaseTake::NotSynced("incomplete".into())),
        })
    }
}

impl DynamoProjectStore {
    /// Gives back a lease a push or an operator took and whose message was not sent, if it is still that lease
    /// (`visible_at_ms` names it).
    pub(super) async fn give_back_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        visible_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.give_back(
            Self::schedule_key(connection, project_id),
            "REMOVE enqueue_lease_until, enqueued_at, enqueue_visible_ms",
            (
                "enqueue_visible_ms",
                AttributeValue::N(visible_at_ms.to_string()),
            ),
            "UpdateItem lease",
        )
        .await
    }
}

impl PushLeases for DynamoProjectStore {
    async fn connection_exists(&self, connection: &ConnectionId) -> Result<bool, StoreError> {
        super::keys::connection_exists(&self.client, &self.table, connection.as_str())
            .await
            .map_err(|e| unavailable("GetItem connection", &e))
    }

    /// A read of the schedule item says whether the tick syncs the project, what its message carries and which
    /// lease to take; then one `UpdateItem` of the lease's attributes only, conditional on the item's lease being
    /// the one read. The hook's role may write nothing else (template.yaml), so the project's status is checked by
    /// the read rather than in the write's condition: a tick that excludes the project in between costs one sync
    /// of it, never a lost push.
    async fn take_push_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        request: &LeaseRequest,
    ) -> Result<Option<LeaseTake>, StoreError> {
        let key = Self::schedule_key(connection, project_id);
        let candidate = match self.lease_candidate(&key, request).await? {
            Ok(candidate) => candidate,
            Err(answer) => return Ok(Some(answer)),
        };
        let (condition, values) = candidate.take();
        let result = self
            .update(key)
            .update_expression(LEASE_TAKE)
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        // Not taken: another writer changed the lease since the read (the caller reads it again).
        let taken = conditional(result, "UpdateItem push lease")?;
        Ok(taken.then_some(LeaseTake::Taken(candidate.project, candidate.planned)))
    }

    async fn release_push_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        visible_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.give_back_lease(connection, project_id, visible_at_ms)
            .await
    }
}

/// What a push's message carries, from the schedule item (`None` if the tick wrote it incompletely).
pub(super) fn scheduled_project(item: &Item) -> Option<ScheduledProject> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) if !value.is_empty() => Some(value.clone()),
        _ => None,
    };
    Some(ScheduledProject {
        credential_id: CredentialId::parse(&text("credential_id")?)?,
        path_with_namespace: text("path_with_namespace")?,
        default_branch: text("gitlab_default_branch")?,
    })
}

pub(super) fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
}

/// Why a push of the project sends nothing whatever its lease: no tick recorded it, or the tick does not sync it.
pub(super) fn why_not_synced(item: &Item) -> Option<LeaseTake> {
    if item.is_empty() {
        return Some(LeaseTake::Unknown);
    }
    let status = match item.get("status") {
        Some(AttributeValue::S(status)) => Some(status.as_str()),
        _ => None,
    };
    LeaseTake::not_synced(item.contains_key("gone_at"), status)
}
