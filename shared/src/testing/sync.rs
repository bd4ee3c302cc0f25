//! In-memory fakes of the sync's storage ports, for tests of the sync against the GitLab simulator.
//! They keep AWS's semantics that matter: keyed, idempotent puts and a conditional head update.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::kernel::commit_record::CommitRecord;
use crate::kernel::ids::ConnectionId;
use crate::kernel::project_key::ProjectKey;
use crate::kernel::store::StoreError;
use crate::kernel::time::{change_stamp_now, utc};
use crate::sync::{CommitStore, SyncEnd, SyncJob, SyncState, SyncStateStore};
use time::OffsetDateTime;

/// The key of a test's project, from a literal connection id (which must have the id's shape).
pub fn project_key(connection_id: &str, project_id: u64) -> ProjectKey {
    let connection_id = ConnectionId::parse(connection_id).expect("a connection id's shape");
    ProjectKey::new(connection_id, project_id)
}

/// Commits keyed by (project partition, sha), like the commits table, each with its change stamp (`changed_at`).
#[derive(Debug, Default)]
pub struct MemoryCommitStore {
    records: Mutex<BTreeMap<(String, String), (CommitRecord, String)>>,
    put_calls: Mutex<u64>,
}

impl MemoryCommitStore {
    /// Every record of a project, by sha.
    pub fn project(&self, key: &ProjectKey) -> BTreeMap<String, CommitRecord> {
        let partition = key.partition();
        self.records
            .lock()
            .unwrap()
            .iter()
            .filter(|((p, _), _)| *p == partition)
            .map(|((_, sha), (record, _))| (sha.clone(), record.clone()))
            .collect()
    }

    /// The change stamp of one stored commit.
    pub fn changed_at(&self, key: &ProjectKey, sha: &str) -> Option<String> {
        let records = self.records.lock().unwrap();
        let (_, changed_at) = records.get(&(key.partition(), sha.to_owned()))?;
        Some(changed_at.clone())
    }

    /// Shas of a project that are on the default branch now (not marked removed), sorted.
    pub fn live_shas(&self, key: &ProjectKey) -> Vec<String> {
        self.project(key)
            .into_values()
            .filter(|r| r.removed_at.is_none())
            .map(|r| r.sha)
            .collect()
    }

    /// Shas marked removed, sorted.
    pub fn removed_shas(&self, key: &ProjectKey) -> Vec<String> {
        self.project(key)
            .into_values()
            .filter(|r| r.removed_at.is_some())
            .map(|r| r.sha)
            .collect()
    }

    pub fn put_calls(&self) -> u64 {
        *self.put_calls.lock().unwrap()
    }
}

impl CommitStore for MemoryCommitStore {
    async fn put_changed_from(
        &self,
        records: Vec<CommitRecord>,
        floor: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        *self.put_calls.lock().unwrap() += 1;
        let changed_at = change_stamp_now(floor);
        let mut stored = self.records.lock().unwrap();
        for record in records {
            let key = (record.project_key.clone(), record.sha.clone());
            stored.insert(key, (record, changed_at.clone()));
        }
        Ok(Vec::new())
    }

    async fn mark_removed(
        &self,
        project: &ProjectKey,
        shas: Vec<String>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let partition = project.partition();
        let mut stored = self.records.lock().unwrap();
        for sha in shas {
            if let Some(entry) = stored.get_mut(&(partition.clone(), sha)) {
                mark(entry, at, None);
            }
        }
        Ok(())
    }

    async fn remove_unchanged_since(
        &self,
        project: &ProjectKey,
        since: &str,
        at: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        let partition = project.partition();
        let mut stored = self.records.lock().unwrap();
        let mut marked = 0;
        for ((p, _), entry) in stored.iter_mut() {
            let (record, changed_at) = &*entry;
            if *p == partition && record.removed_at.is_none() && changed_at.as_str() < since {
                mark(entry, at, Some(since));
                marked += 1;
            }
        }
        Ok(marked)
    }
}

/// What the table's removal mark does: `removed_at`, and a change (stamped at least `floor`).
fn mark(
    (record, changed_at): &mut (CommitRecord, String),
    at: OffsetDateTime,
    floor: Option<&str>,
) {
    record.removed_at = Some(utc(at));
    *changed_at = change_stamp_now(floor);
}

/// Sync state per project, with the conditional update of the state table.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    states: Mutex<BTreeMap<ProjectKey, SyncState>>,
    writes: Mutex<u64>,
    inaccessible: Mutex<BTreeMap<ProjectKey, String>>,
    /// Commit writes reserved per (connection, day).
    commit_writes: Mutex<BTreeMap<(ConnectionId, String), u64>>,
    /// How each project's syncs ended, oldest first.
    outcomes: Mutex<BTreeMap<ProjectKey, Vec<SyncEnd>>>,
}

impl MemoryStateStore {
    pub fn writes(&self) -> u64 {
        *self.writes.lock().unwrap()
    }
}

impl MemoryStateStore {
    /// The conditional write of the state table: applies `change` only while `last_head` is `expected`.
    fn update_if(
        &self,
        project: &ProjectKey,
        expected: Option<&str>,
        change: impl FnOnce(&mut SyncState),
    ) -> Result<bool, StoreError> {
        let mut states = self.states.lock().unwrap();
        let current = states.entry(project.clone()).or_default();
        if current.last_head.as_deref() != expected {
            return Ok(false);
        }
        change(current);
        *self.writes.lock().unwrap() += 1;
        Ok(true)
    }

    /// The commit writes reserved for `connection_id` on every day, summed.
    pub fn commit_writes(&self, connection_id: &ConnectionId) -> u64 {
        self.commit_writes
            .lock()
            .unwrap()
            .iter()
            .filter(|((connection, _), _)| connection == connection_id)
            .map(|(_, writes)| writes)
            .sum()
    }

    /// How the project's syncs ended, oldest first.
    pub fn outcomes(&self, project: &ProjectKey) -> Vec<SyncEnd> {
        self.outcomes
            .lock()
            .unwrap()
            .get(project)
            .cloned()
            .unwrap_or_default()
    }

    /// An operator's re-import request, as `projects.resync` records it.
    pub fn request_resync(&self, project: &ProjectKey, stamp: &str) {
        let mut states = self.states.lock().unwrap();
        states.entry(project.clone()).or_default().resync_requested = Some(stamp.to_owned());
    }

    pub fn state(&self, project: &ProjectKey) -> SyncState {
        self.states
            .lock()
            .unwrap()
            .get(project)
            .cloned()
            .unwrap_or_default()
    }
}

impl SyncStateStore for MemoryStateStore {
    async fn load(&self, project: &ProjectKey) -> Result<SyncState, StoreError> {
        let mut state = self
            .states
            .lock()
            .unwrap()
            .get(project)
            .cloned()
            .unwrap_or_default();
        state.access_error = self.inaccessible.lock().unwrap().get(project).cloned();
        Ok(state)
    }

    async fn mark_inaccessible(&self, project: &ProjectKey, code: &str) -> Result<(), StoreError> {
        self.inaccessible
            .lock()
            .unwrap()
            .insert(project.clone(), code.to_owned());
        Ok(())
    }

    async fn clear_inaccessible(&self, project: &ProjectKey) -> Result<(), StoreError> {
        self.inaccessible.lock().unwrap().remove(project);
        Ok(())
    }

    async fn save_job(
        &self,
        project: &ProjectKey,
        expected: Option<&str>,
        job: &SyncJob,
    ) -> Result<bool, StoreError> {
        self.update_if(project, expected, |state| state.job = Some(job.clone()))
    }

    async fn record_outcome(
        &self,
        project: &ProjectKey,
        outcome: &SyncEnd,
    ) -> Result<(), StoreError> {
        let mut outcomes = self.outcomes.lock().unwrap();
        outcomes
            .entry(project.clone())
            .or_default()
            .push(outcome.clone());
        Ok(())
    }

    async fn clear_resync(
        &self,
        project: &ProjectKey,
        reconciled_since: &str,
    ) -> Result<(), StoreError> {
        let mut states = self.states.lock().unwrap();
        if let Some(state) = states.get_mut(project)
            && state
                .resync_requested
                .as_deref()
                .is_some_and(|requested| requested <= reconciled_since)
        {
            state.resync_requested = None;
        }
        Ok(())
    }

    async fn reserve_writes(
        &self,
        connection_id: &ConnectionId,
        day: &str,
        writes: u64,
        ceiling: u64,
    ) -> Result<bool, StoreError> {
        let mut counts = self.commit_writes.lock().unwrap();
        let count = counts
            .entry((connection_id.clone(), day.to_owned()))
            .or_default();
        match count.checked_add(writes).filter(|total| *total <= ceiling) {
            Some(total) => {
                *count = total;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn advance(
        &self,
        project: &ProjectKey,
        expected: Option<&str>,
        next: &SyncState,
    ) -> Result<bool, StoreError> {
        let advanced = self.update_if(project, expected, |state| {
            state.last_head.clone_from(&next.last_head);
            state.default_branch.clone_from(&next.default_branch);
            state.job = None;
        })?;
        if advanced {
            self.inaccessible.lock().unwrap().remove(project);
        }
        Ok(advanced)
    }
}
