//! Memory fakes of the scheduler's ports. They keep the semantics of the DynamoDB adapter that the scheduler
//! relies on: conditional tick leases and connection locks, schedule items written whole next to the
//! sync's state, leases given back only by their owner, a push's lease taken under the same conditions.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use std::time::Duration;

use crate::hooks::PushLeases;
use crate::kernel::enqueue_lease::{EnqueueLease, LeaseRequest, LeaseTake, ScheduledProject};
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::instance::{InstanceUrl, InstanceUrlError};
use crate::kernel::project_status::ProjectStatus;
use crate::kernel::store::StoreError;
use crate::kernel::sync_message::{SyncMessage, SyncQueue};
use crate::scheduler::model::DiscoveredProject;
use crate::scheduler::ports::{
    AccessRefusal, BatchEntry, BatchQueue, ConnectionTurns, FailedEntry, KnownConnection,
    KnownProject, ProjectRecord, ScheduleItems, TickLeases, Verified,
};

/// A project as discovery finds it: at `path` on `gitlab.example.com`, default branch `main`, found by `cred_1`,
/// neither archived, empty nor excluded. Tests set what they need on top with `..discovered_project(..)`.
pub fn discovered_project(project_id: u64, path: &str) -> DiscoveredProject {
    DiscoveredProject {
        project_id,
        path_with_namespace: path.to_owned(),
        web_url: format!("https://gitlab.example.com/{path}"),
        default_branch: "main".into(),
        archived: false,
        empty_repo: false,
        last_activity_at: None,
        credential_id: "cred_1".into(),
        excluded: false,
    }
}

/// When [`project_record`]'s records were seen.
pub const SEEN_AT: &str = "2026-11-24T22:00:00Z";

/// A tick's record of `project` with `status`, seen at [`SEEN_AT`], holding `lease`.
pub fn project_record<'a>(
    project: &'a DiscoveredProject,
    lease: Option<&'a EnqueueLease>,
    status: ProjectStatus,
) -> ProjectRecord<'a> {
    ProjectRecord {
        project,
        seen_at: SEEN_AT,
        lease,
        status,
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The state table's scheduler items in memory: tick leases, connections with their turns and locks, and each
/// project's schedule item merged with what the sync's item says of it. Clones share one state, as clones of the
/// DynamoDB adapter share one table.
#[derive(Debug, Clone, Default)]
pub struct MemorySchedulerStore {
    state: Arc<Mutex<SchedulerState>>,
}

#[derive(Debug, Default)]
struct SchedulerState {
    /// Tick -> (lease until, completed).
    ticks: HashMap<String, (i64, bool)>,
    /// Connection -> the GitLab instance it is bound to, as the adapter reads it.
    connections: BTreeMap<ConnectionId, Result<Option<InstanceUrl>, InstanceUrlError>>,
    last_scheduled: HashMap<ConnectionId, i64>,
    /// Connection -> (holder, until).
    locks: HashMap<ConnectionId, (String, i64)>,
    projects: BTreeMap<(ConnectionId, u64), KnownProject>,
    /// Push lease takes still to lose to another writer (answered `None`, as a failed conditional write).
    contended_takes: u32,
}

impl MemorySchedulerStore {
    /// A connection as the credentials API stores it (`instance` as stored text: one that is no instance address
    /// reads as the DynamoDB adapter reads it).
    pub fn add_connection(&self, connection: &ConnectionId, instance: Option<&str>) {
        locked(&self.state).connections.insert(
            connection.clone(),
            instance.map(InstanceUrl::parse).transpose(),
        );
    }

    /// What the sync's item says of a project: its history is imported, or GitLab refused it.
    pub fn set_sync_state(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        imported: bool,
        refused: Option<AccessRefusal>,
    ) {
        let mut state = locked(&self.state);
        let item = state
            .projects
            .entry((connection.clone(), project_id))
            .or_insert_with(|| KnownProject::unrecorded(project_id));
        item.imported = imported;
        item.refused = refused;
    }

    /// A sync found the project's imported head on `main` current at `at` (epoch seconds), as its item says.
    pub fn set_verified(&self, connection: &ConnectionId, project_id: u64, at: i64) {
        let mut state = locked(&self.state);
        let item = state
            .projects
            .entry((connection.clone(), project_id))
            .or_insert_with(|| KnownProject::unrecorded(project_id));
        item.verified = Some(Verified {
            at,
            branch: "main".into(),
        });
    }

    /// Makes the next `takes` push lease takes lose to another writer.
    pub fn contend_lease_takes(&self, takes: u32) {
        locked(&self.state).contended_takes = takes;
    }

    /// Lets the project's enqueue lease lapse, as time would.
    pub fn lapse_lease(&self, connection: &ConnectionId, project_id: u64) {
        if let Some(lease) = locked(&self.state)
            .projects
            .get_mut(&(connection.clone(), project_id))
            .and_then(|item| item.lease.as_mut())
        {
            lease.until = 0;
        }
    }

    /// The project's item, as the next tick reads it.
    pub fn project(&self, connection: &ConnectionId, project_id: u64) -> Option<KnownProject> {
        locked(&self.state)
            .projects
            .get(&(connection.clone(), project_id))
            .cloned()
    }

    /// Removes the project's lease if it is `ours` (a lease taken since by another is left alone).
    fn release_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        ours: impl Fn(&EnqueueLease) -> bool,
    ) {
        let mut state = locked(&self.state);
        if let Some(item) = state.projects.get_mut(&(connection.clone(), project_id))
            && item.lease.as_ref().is_some_and(ours)
        {
            item.lease = None;
        }
    }

    /// Who holds the connection's scheduling lock.
    pub fn lock_holder(&self, connection: &ConnectionId) -> Option<String> {
        locked(&self.state)
            .locks
            .get(connection)
            .map(|(holder, _)| holder.clone())
    }
}

impl TickLeases for MemorySchedulerStore {
    async fn claim_tick(&self, tick: &str, now: i64, until: i64) -> Result<bool, StoreError> {
        let mut state = locked(&self.state);
        match state.ticks.get(tick) {
            Some((lease, completed)) if *completed || *lease >= now => Ok(false),
            _ => {
                state.ticks.insert(tick.to_owned(), (until, false));
                Ok(true)
            }
        }
    }

    async fn complete_tick(&self, tick: &str, _now: i64) -> Result<(), StoreError> {
        locked(&self.state)
            .ticks
            .entry(tick.to_owned())
            .or_insert((0, true))
            .1 = true;
        Ok(())
    }
}

impl ConnectionTurns for MemorySchedulerStore {
    async fn connections(&self) -> Result<Vec<KnownConnection>, StoreError> {
        let state = locked(&self.state);
        Ok(state
            .connections
            .iter()
            .map(|(id, instance)| KnownConnection {
                id: id.clone(),
                last_scheduled_at: state.last_scheduled.get(id).copied(),
                instance: instance.clone(),
            })
            .collect())
    }

    async fn mark_scheduled(&self, connection: &ConnectionId, at: i64) -> Result<(), StoreError> {
        locked(&self.state)
            .last_scheduled
            .insert(connection.clone(), at);
        Ok(())
    }

    async fn restore_turn(
        &self,
        connection: &ConnectionId,
        previous: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut state = locked(&self.state);
        match previous {
            Some(at) => state.last_scheduled.insert(connection.clone(), at),
            None => state.last_scheduled.remove(connection),
        };
        Ok(())
    }

    async fn lock_connection(
        &self,
        connection: &ConnectionId,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let mut state = locked(&self.state);
        match state.locks.get(connection) {
            Some((_, held_until)) if *held_until >= now => Ok(false),
            _ => {
                state
                    .locks
                    .insert(connection.clone(), (holder.to_owned(), until));
                Ok(true)
            }
        }
    }

    async fn unlock_connection(
        &self,
        connection: &ConnectionId,
        holder: &str,
    ) -> Result<(), StoreError> {
        let mut state = locked(&self.state);
        if state
            .locks
            .get(connection)
            .is_some_and(|(h, _)| h == holder)
        {
            state.locks.remove(connection);
        }
        Ok(())
    }
}

impl ScheduleItems for MemorySchedulerStore {
    async fn known_projects(
        &self,
        connection: &ConnectionId,
    ) -> Result<Vec<KnownProject>, StoreError> {
        Ok(locked(&self.state)
            .projects
            .iter()
            .filter(|((c, _), _)| c == connection)
            .map(|(_, project)| project.clone())
            .collect())
    }

    async fn write(
        &self,
        connection: &ConnectionId,
        records: &[ProjectRecord<'_>],
    ) -> Result<Vec<u64>, StoreError> {
        assert!(
            records.len() <= Self::MAX_WRITE_BATCH,
            "BatchWriteItem takes at most 25 items"
        );
        let mut state = locked(&self.state);
        for record in records {
            let project = record.project;
            let key = (connection.clone(), project.project_id);
            // The sync's half of the item is never written by the scheduler.
            let (imported, refused, verified) = state
                .projects
                .get(&key)
                .map_or((false, None, None), |known| {
                    (known.imported, known.refused, known.verified.clone())
                });
            state.projects.insert(
                key,
                KnownProject {
                    project_id: project.project_id,
                    gone: false,
                    lease: record.lease.cloned(),
                    imported,
                    refused,
                    verified,
                    recorded: Some(project.clone()),
                    status: Some(record.status),
                },
            );
        }
        Ok(Vec::new())
    }

    async fn release(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        until: i64,
    ) -> Result<(), StoreError> {
        self.release_lease(connection, project_id, |lease| lease.until == until);
        Ok(())
    }

    async fn mark_gone(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        _at: &str,
    ) -> Result<(), StoreError> {
        if let Some(item) = locked(&self.state)
            .projects
            .get_mut(&(connection.clone(), project_id))
        {
            item.gone = true;
        }
        Ok(())
    }
}

impl PushLeases for MemorySchedulerStore {
    async fn connection_exists(&self, connection: &ConnectionId) -> Result<bool, StoreError> {
        Ok(locked(&self.state).connections.contains_key(connection))
    }

    async fn take_push_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        request: &LeaseRequest,
    ) -> Result<Option<LeaseTake>, StoreError> {
        let mut state = locked(&self.state);
        if state.contended_takes > 0 {
            state.contended_takes -= 1;
            return Ok(None);
        }
        let Some(item) = state
            .projects
            .get_mut(&(connection.clone(), project_id))
            .filter(|item| item.recorded.is_some())
        else {
            return Ok(Some(LeaseTake::Unknown));
        };
        if let Some(not_synced) =
            LeaseTake::not_synced(item.gone, item.status.map(ProjectStatus::as_str))
        {
            return Ok(Some(not_synced));
        }
        let Some(planned) = request.plan(item.lease.as_ref().map(|held| held.visible_at_ms)) else {
            return Ok(Some(LeaseTake::Covered));
        };
        item.lease = Some(planned.lease.clone());
        let recorded = item.recorded.as_ref().expect("filtered above");
        let project = ScheduledProject {
            credential_id: CredentialId::parse(&recorded.credential_id)
                .expect("a recorded credential id"),
            path_with_namespace: recorded.path_with_namespace.clone(),
            default_branch: recorded.default_branch.clone(),
        };
        Ok(Some(LeaseTake::Taken(project, planned)))
    }

    async fn release_push_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        visible_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.release_lease(connection, project_id, |lease| {
            lease.visible_at_ms == visible_at_ms
        });
        Ok(())
    }
}

/// The sync queue in memory: keeps what it accepted, checks what SQS checks (ten entries a call, ids unique),
/// and fails entries of chosen projects a number of times, or whole calls.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    sent: Mutex<Vec<SyncMessage>>,
    /// The delay of each message sent alone ([`SyncQueue::enqueue`]), in order.
    delays: Mutex<Vec<(u64, Duration)>>,
    /// Entries per call, in call order.
    calls: Mutex<Vec<usize>>,
    /// Project id -> failures left ([`MemoryQueue::ALWAYS`]: refused every time, as the sender's fault).
    fail: Mutex<HashMap<u64, u32>>,
    whole_call_failures: Mutex<u32>,
}

impl MemoryQueue {
    /// Failures of an entry the queue refuses as invalid, every time.
    pub const ALWAYS: u32 = u32::MAX;

    /// The next `times` entries of the project fail (retryable), or all of them as invalid ([`Self::ALWAYS`]).
    pub fn fail_project(&self, project_id: u64, times: u32) {
        locked(&self.fail).insert(project_id, times);
    }

    /// The next `times` calls fail as a whole.
    pub fn fail_calls(&self, times: u32) {
        *locked(&self.whole_call_failures) = times;
    }

    /// Every message accepted, in order.
    pub fn sent(&self) -> Vec<SyncMessage> {
        locked(&self.sent).clone()
    }

    /// Entries per call, in call order.
    pub fn calls(&self) -> Vec<usize> {
        locked(&self.calls).clone()
    }

    /// Project and delay of each message sent alone, in order.
    pub fn delays(&self) -> Vec<(u64, Duration)> {
        locked(&self.delays).clone()
    }
}

impl SyncQueue for MemoryQueue {
    /// Fails as a whole call ([`MemoryQueue::fail_calls`]) or as the project's entry would
    /// ([`MemoryQueue::fail_project`]).
    async fn enqueue(&self, message: &SyncMessage, delay: Duration) -> Result<(), StoreError> {
        {
            let mut whole = locked(&self.whole_call_failures);
            if *whole > 0 {
                *whole -= 1;
                return Err(StoreError::unavailable("SendMessage", "throttled"));
            }
        }
        if let Some(left) = locked(&self.fail).get_mut(&message.project_id())
            && *left > 0
        {
            if *left != Self::ALWAYS {
                *left -= 1;
            }
            return Err(StoreError::unavailable("SendMessage", "refused"));
        }
        locked(&self.delays).push((message.project_id(), delay));
        locked(&self.sent).push(message.clone());
        Ok(())
    }
}

impl BatchQueue for MemoryQueue {
    async fn send_batch(&self, entries: &[BatchEntry<'_>]) -> Result<Vec<FailedEntry>, StoreError> {
        locked(&self.calls).push(entries.len());
        assert!(
            entries.len() <= Self::MAX_BATCH,
            "SQS accepts at most ten entries a call"
        );
        let mut ids: Vec<&str> = entries.iter().map(|e| e.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), entries.len(), "ids are unique within a call");
        {
            let mut whole = locked(&self.whole_call_failures);
            if *whole > 0 {
                *whole -= 1;
                return Err(StoreError::unavailable("SendMessageBatch", "throttled"));
            }
        }
        let mut failed = Vec::new();
        let mut fail = locked(&self.fail);
        for entry in entries {
            match fail.get_mut(&entry.message.project_id()) {
                Some(&mut Self::ALWAYS) => failed.push(FailedEntry {
                    id: entry.id.to_owned(),
                    code: "InvalidMessageContents".into(),
                    sender_fault: true,
                }),
                Some(left) if *left > 0 => {
                    *left -= 1;
                    failed.push(FailedEntry {
                        id: entry.id.to_owned(),
                        code: "InternalError".into(),
                        sender_fault: false,
                    });
                }
                _ => locked(&self.sent).push(entry.message.clone()),
            }
        }
        Ok(failed)
    }
}
