//! One connection's scheduling once its projects are discovered: under its lock, the records and leases, the
//! messages, the gone marks. It needs only the narrow ports, so it is tested against memory fakes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use time::OffsetDateTime;

use super::fanout::send_all;
use super::model::{ConnectionReport, DiscoveredProject, epoch};
use super::plan::{StatusCounts, Step, plan_all, records_to_write, status_counts};
use super::ports::{BatchQueue, ConnectionTurns, KnownProject, ProjectRecord, ScheduleItems};
use super::service::SchedulerOptions;
use crate::kernel::enqueue_lease::EnqueueLease;
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::sync_message::{MessageError, SyncMessage};
use crate::kernel::time::utc;

/// One connection's turn in a tick at `now`, over the ports it writes through.
pub(super) struct Turn<'a, C, S, Q> {
    pub turns: &'a C,
    pub items: &'a S,
    pub queue: &'a Q,
    pub options: &'a SchedulerOptions,
    pub connection: &'a ConnectionId,
    pub now: OffsetDateTime,
}

impl<C: ConnectionTurns, S: ScheduleItems, Q: BatchQueue> Turn<'_, C, S, Q> {
    /// Takes the connection's scheduling lock, schedules what discovery `found` (`complete`: nothing could be
    /// missing), gives the lock back. Returns each credential's projects by status; `None` when another tick holds
    /// the lock (`busy`) or the store failed (reported).
    pub async fn locked(
        &self,
        found: &BTreeMap<u64, DiscoveredProject>,
        complete: bool,
        report: &mut ConnectionReport,
    ) -> Option<StatusCounts> {
        // The connection's scheduling lock: while a tick holds it, no other tick reads or writes the connection's
        // schedule items, so what is read below is still true when it is written. It outlasts this invocation
        // (the tick lease is the function's timeout), so a crashed tick only delays the next one.
        let holder = lock_holder();
        let locked_at = epoch(OffsetDateTime::now_utc());
        let lock_until = locked_at + self.options.tick_lease.as_secs() as i64;
        report.write_calls += 1;
        match self
            .turns
            .lock_connection(self.connection, &holder, locked_at, lock_until)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(
                    "another tick is scheduling this connection; it is left to that tick"
                );
                report.busy = true;
                return None;
            }
            Err(error) => {
                report.errors.push(format!("store: {error}"));
                return None;
            }
        }
        let statuses = self.schedule(found, complete, report).await;
        report.write_calls += 1;
        if let Err(error) = self.turns.unlock_connection(self.connection, &holder).await {
            tracing::warn!(error = %error, "scheduling lock not given back; it lapses by itself");
            report.errors.push(format!("store: {error}"));
        }
        statuses
    }

    /// Records, leases, messages and gone marks of one connection, under its scheduling lock. Returns each
    /// credential's projects by status, unless the connection's items could not be read.
    async fn schedule(
        &self,
        found: &BTreeMap<u64, DiscoveredProject>,
        complete: bool,
        report: &mut ConnectionReport,
    ) -> Option<StatusCounts> {
        let known = self.known(report).await?;
        // Each project's whole record: metadata, and the lease this tick takes (or the one it keeps).
        let seen_at = utc(self.now);
        let taken = EnqueueLease::new(self.now, self.options.enqueue_lease, Duration::ZERO);
        let steps = plan_all(found, &known, &self.options.rules(epoch(self.now)));
        let records = records_to_write(&steps, &known, &taken, &seen_at);
        let unwritten = self.write(&records, report).await;
        let messages = messages(self.connection, &steps, &unwritten, report);
        self.send(&messages, taken.until, report).await;
        // Gone: only when every live credential's discovery was complete, so a failure never looks like loss.
        if complete {
            self.mark_gone(found, known.values(), &seen_at, report)
                .await;
        }
        Some(status_counts(&steps))
    }

    /// What the table holds, read once: unchanged items are not written again, vanished ones are found.
    async fn known(&self, report: &mut ConnectionReport) -> Option<HashMap<u64, KnownProject>> {
        match self.items.known_projects(self.connection).await {
            Ok(known) => Some(known.into_iter().map(|k| (k.project_id, k)).collect()),
            Err(error) => {
                report.errors.push(format!("store: {error}"));
                None
            }
        }
    }

    /// Writes the records in batches, a bounded number at once; returns the projects whose record was not
    /// written: nothing is sent for them (their lease may or may not be taken; it lapses by itself).
    async fn write(
        &self,
        records: &[ProjectRecord<'_>],
        report: &mut ConnectionReport,
    ) -> HashSet<u64> {
        let unwritten_by_batch: Vec<Vec<u64>> =
            futures::stream::iter(records.chunks(S::MAX_WRITE_BATCH.max(1)))
                .map(|chunk| async move {
                    match self.items.write(self.connection, chunk).await {
                        Ok(unwritten) => unwritten,
                        Err(error) => {
                            tracing::warn!(error = %error, count = chunk.len(), "project records not written");
                            chunk.iter().map(|r| r.project.project_id).collect()
                        }
                    }
                })
                .buffer_unordered(self.options.write_concurrency.max(1))
                .collect()
                .await;
        report.writes = records.len();
        report.write_calls += unwritten_by_batch.len() as u64;
        let unwritten: HashSet<u64> = unwritten_by_batch.into_iter().flatten().collect();
        if !unwritten.is_empty() {
            report.errors.push(format!(
                "store: {} project items not written",
                unwritten.len()
            ));
        }
        unwritten
    }

    /// The fan-out; whatever could not be sent gives its lease (until `until`) back so that the next tick tries
    /// again.
    async fn send(&self, messages: &[SyncMessage], until: i64, report: &mut ConnectionReport) {
        let fanout = send_all(self.queue, messages, self.options.send).await;
        report.sqs_calls = fanout.calls;
        report.enqueued = fanout.sent;
        report.not_sent = fanout.failed.len();
        for (index, reason) in &fanout.failed {
            let project_id = messages[*index].project_id();
            tracing::error!(project_id, reason = %reason, "sync message not sent; lease released for the next tick");
            report.write_calls += 1;
            if let Err(error) = self.items.release(self.connection, project_id, until).await {
                tracing::error!(project_id, error = %error, "lease not released; the project waits for it to lapse");
            }
        }
        if !fanout.failed.is_empty() {
            report
                .errors
                .push(format!("queue: {} messages not sent", fanout.failed.len()));
        }
    }

    async fn mark_gone(
        &self,
        found: &BTreeMap<u64, DiscoveredProject>,
        known: impl Iterator<Item = &KnownProject>,
        at: &str,
        report: &mut ConnectionReport,
    ) {
        for project in known {
            // Only the scheduler's own records are marked (a sync item alone has none).
            if project.gone || project.recorded.is_none() || found.contains_key(&project.project_id)
            {
                continue;
            }
            match self
                .items
                .mark_gone(self.connection, project.project_id, at)
                .await
            {
                Ok(()) => {
                    report.gone += 1;
                    report.writes += 1;
                    report.write_calls += 1;
                }
                Err(error) => report.errors.push(format!("store: {error}")),
            }
        }
    }
}

/// The messages of the claimed projects whose record was written, in project id order; every other project is
/// counted in the report by why it is held.
fn messages(
    connection: &ConnectionId,
    steps: &[(&DiscoveredProject, Step)],
    unwritten: &HashSet<u64>,
    report: &mut ConnectionReport,
) -> Vec<SyncMessage> {
    let mut messages = Vec::new();
    for (project, step) in steps {
        if unwritten.contains(&project.project_id) {
            continue;
        }
        match step {
            // Discovery found the project with a live credential, whose id has its shape, and GitLab named its
            // path and default branch: a refusal here is a bug, logged, never a bad message.
            Step::Claim => match message(connection, project) {
                Ok(message) => messages.push(message),
                Err(error) => {
                    let project_id = project.project_id;
                    tracing::error!(project_id, error = %error, "no sync message for this project");
                }
            },
            Step::Refresh(hold) | Step::Keep(hold) => hold.count_in(report),
        }
    }
    messages.sort_by_key(SyncMessage::project_id);
    messages
}

/// The sync message of a claimed project.
fn message(
    connection: &ConnectionId,
    project: &DiscoveredProject,
) -> Result<SyncMessage, MessageError> {
    let credential =
        CredentialId::parse(&project.credential_id).ok_or(MessageError::CredentialId)?;
    SyncMessage::new(
        connection.clone(),
        credential,
        project.project_id,
        project.path_with_namespace.clone(),
        project.default_branch.clone(),
    )
}

/// A name for one tick's hold of a connection's lock, unique across invocations: the time to the nanosecond and
/// 64 random bits.
fn lock_holder() -> String {
    use std::hash::{BuildHasher, Hasher, RandomState};
    let random = RandomState::new().build_hasher().finish();
    format!(
        "{}-{random:016x}",
        OffsetDateTime::now_utc().unix_timestamp_nanos()
    )
}

#[cfg(test)]
mod tests;
