//! One schedule tick: every connection (a bounded number at once), every live credential of it, discovery,
//! metadata and enqueue leases, the fan-out, and the "gone" marks. One connection's failure (a refused token,
//! GitLab down, a timeout) is reported in its part of the tick and never stops the others.
//!
//! Time: a tick ends before the Lambda deadline (less [`SchedulerOptions::tick_margin`], kept for the records
//! and messages of connections already discovered). Each connection's discovery has a window of its own
//! ([`SchedulerOptions::discovery_timeout`], at most half the tick). Connections go in the order of their last
//! turn, oldest first. A turn is stamped when it starts, before any GitLab request, so a connection whose
//! discovery takes the process down goes last next tick, not first again; the stamp is taken back when the tick's
//! time runs out first, so connections the tick had to cut go first next tick (those it did not reach were never
//! stamped). As the first connections of a tick always have their whole window, every tick finishes some turns:
//! none starves.
//!
//! Memory: what one connection's discovery keeps is bounded ([`SchedulerOptions::discovery_max_bytes`]), and all
//! the tick's answers and findings at once by the connector's memory budget, shared by every client it makes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use time::OffsetDateTime;
use tokio::time::Instant;
use tracing::Instrument;

use super::discovery::{DiscoveryBytes, DiscoveryError, discover};
use super::fanout::{SendPolicy, send_all};
use super::model::{ConnectionReport, DiscoveredProject, ProjectStatus, Tick, TickReport, epoch};
use super::ports::{
    BatchQueue, ConnectionTurns, EnqueueLease, KnownConnection, KnownProject, ProjectRecord,
    ScheduleItems, TickLeases,
};
use crate::credentials::model::DiscoverySummary;
use crate::credentials::refusal;
use crate::credentials::{CredentialRecord, CredentialStatusStore, CredentialStore};
use crate::gitlab::{
    ConnectError, GitLabClient, GitLabConnector, GitLabError, Reservation, RetryPolicy,
};
use crate::kernel::time::{before, timestamp, utc};
use crate::kernel::vault::SecretVault;
use crate::kernel::{ConnectionId, CredentialId, StoreError, SyncMessage};

/// Tuning of a tick.
#[derive(Debug, Clone, Copy)]
pub struct SchedulerOptions {
    /// Connections discovered at once.
    pub connection_concurrency: usize,
    /// Group project listings at once, per credential.
    pub group_concurrency: usize,
    /// Project item writes at once, per connection.
    pub write_concurrency: usize,
    /// How long a sent message keeps its project from being enqueued again (it should outlast the time a
    /// message waits and runs; a shorter schedule interval than this skips projects still in flight).
    pub enqueue_lease: Duration,
    /// How long a tick's lease keeps a second delivery of it away while the first still runs (the function's
    /// timeout); a finished tick stays finished.
    pub tick_lease: Duration,
    /// One connection's discovery (all its credentials) gives up after this long, or after half the tick's time
    /// if that is shorter.
    pub discovery_timeout: Duration,
    /// What one connection's discovery (all its credentials) may keep of what it lists: past it, the connection
    /// fails with `discovery_too_large`. 10,000 projects keep about 4 MB (each listed by group and by membership).
    pub discovery_max_bytes: u64,
    /// Kept back from the Lambda deadline: no discovery runs into it, so the connections already discovered get
    /// their records, messages and summaries written.
    pub tick_margin: Duration,
    /// A project whose repository GitLab refused (403/404) is tried again this long after the refusal, not every
    /// tick: access may be granted later, but a daily retry costs one request, not one per tick.
    pub inaccessible_retry: Duration,
    pub retry: RetryPolicy,
    pub send: SendPolicy,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            connection_concurrency: 4,
            group_concurrency: 4,
            write_concurrency: 16,
            enqueue_lease: Duration::from_secs(50 * 60),
            tick_lease: Duration::from_secs(15 * 60),
            discovery_timeout: Duration::from_secs(5 * 60),
            discovery_max_bytes: DEFAULT_DISCOVERY_MAX_BYTES,
            tick_margin: Duration::from_secs(2 * 60),
            inaccessible_retry: Duration::from_secs(24 * 3600),
            retry: RetryPolicy::default(),
            send: SendPolicy::default(),
        }
    }
}

/// [`SchedulerOptions::discovery_max_bytes`] by default: four times what 10,000 projects keep; four connections
/// discovered at once keep 64 MiB of the default memory budget of 96 MiB, the rest is for their answers in flight.
pub const DEFAULT_DISCOVERY_MAX_BYTES: u64 = 16 << 20;

/// Everything a tick needs, built once per process.
#[derive(Debug)]
pub struct Scheduler<P, K, V, Q, S = P> {
    /// The tick leases and the connections' turns.
    pub projects: P,
    /// The projects' schedule items: the same store as `projects` ([`Scheduler::new`]), unless a test puts
    /// another in front of them ([`Scheduler::with_items`]).
    pub items: S,
    pub credentials: K,
    pub vault: V,
    pub queue: Q,
    pub connector: GitLabConnector,
    pub options: SchedulerOptions,
}

/// Why one credential's discovery produced nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum CredentialFailure {
    #[error(transparent)]
    Connect(ConnectError),
    #[error("{}", .0.code())]
    GitLab(GitLabError),
    #[error("discovery_timeout")]
    Timeout,
    /// What its discovery keeps passed [`SchedulerOptions::discovery_max_bytes`].
    #[error("discovery_too_large")]
    TooLarge,
    /// The tick's time ran out first: the connection is left for the next tick.
    #[error("tick_deadline")]
    TickDeadline,
    /// Stored patterns that no longer compile (an item edited by hand): nothing is imported, never everything.
    #[error("invalid_settings")]
    Scope,
    /// The credential names another GitLab instance than the connection's.
    #[error("instance_mismatch")]
    OtherInstance,
}

impl CredentialFailure {
    /// The code the credential's sync summary shows.
    fn code(&self) -> &'static str {
        match self {
            CredentialFailure::Connect(ConnectError::Settings) => "invalid_settings",
            CredentialFailure::Connect(ConnectError::Secret(_)) => "secret_unavailable",
            CredentialFailure::GitLab(error) => error.code(),
            CredentialFailure::Timeout => "discovery_timeout",
            CredentialFailure::TooLarge => "discovery_too_large",
            CredentialFailure::TickDeadline => "tick_deadline",
            CredentialFailure::Scope => "invalid_settings",
            CredentialFailure::OtherInstance => "instance_mismatch",
        }
    }
}

impl<P: Clone, K, V, Q> Scheduler<P, K, V, Q> {
    /// A scheduler whose one store keeps the ticks, the turns and the schedule items (as the DynamoDB one does).
    pub fn new(
        projects: P,
        credentials: K,
        vault: V,
        queue: Q,
        connector: GitLabConnector,
        options: SchedulerOptions,
    ) -> Self {
        Scheduler {
            items: projects.clone(),
            projects,
            credentials,
            vault,
            queue,
            connector,
            options,
        }
    }
}

impl<P, K, V, Q, S> Scheduler<P, K, V, Q, S> {
    /// The same scheduler with the schedule items kept by `items`.
    pub fn with_items<I>(self, items: I) -> Scheduler<P, K, V, Q, I> {
        Scheduler {
            projects: self.projects,
            items,
            credentials: self.credentials,
            vault: self.vault,
            queue: self.queue,
            connector: self.connector,
            options: self.options,
        }
    }
}

impl<P, K, V, Q, S> Scheduler<P, K, V, Q, S>
where
    P: TickLeases + ConnectionTurns,
    S: ScheduleItems,
    K: CredentialStore + CredentialStatusStore,
    V: SecretVault,
    Q: BatchQueue,
{
    /// One tick, within the invocation's end less the tick margin, and its log line.
    pub async fn run(&self, tick: &Tick) -> Result<TickReport, StoreError> {
        let deadline = tick.ends_at.map(|end| {
            end.checked_sub(self.options.tick_margin)
                .unwrap_or_else(Instant::now)
        });
        let report = self.tick(tick.key.as_deref(), deadline).await?;
        tracing::info!(
            tick = report.tick.as_deref().unwrap_or("-"),
            duplicate = report.duplicate,
            connections = report.connections.len(),
            deferred = report.deferred(),
            enqueued = report.enqueued(),
            not_sent = report.not_sent(),
            "tick finished"
        );
        Ok(report)
    }

    /// One tick, whose discoveries end by `deadline` (none: no limit but each connection's window). Fails only
    /// when the connections cannot be listed or the tick lease cannot be read; a failed connection is reported
    /// in the result instead.
    pub async fn tick(
        &self,
        tick: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<TickReport, StoreError> {
        let now = OffsetDateTime::now_utc();
        once(&self.projects, tick, now, self.options.tick_lease, || {
            self.every_turn(now, deadline)
        })
        .await
    }

    /// Every connection's turn, oldest first, a bounded number at once.
    async fn every_turn(
        &self,
        now: OffsetDateTime,
        deadline: Option<Instant>,
    ) -> Result<Vec<ConnectionReport>, StoreError> {
        let mut connections = self.projects.connections().await?;
        connections.sort_by(|a, b| turn_order(a).cmp(&turn_order(b)));
        // At most half the tick each, so the first connections always end by their own time.
        let window = match deadline {
            Some(deadline) => self
                .options
                .discovery_timeout
                .min(deadline.saturating_duration_since(Instant::now()) / 2),
            None => self.options.discovery_timeout,
        };
        let mut reports: Vec<ConnectionReport> = futures::stream::iter(connections)
            .map(|connection| async move {
                // Started only while the tick has time (the stream starts each when a slot frees up).
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return ConnectionReport {
                        connection_id: connection.id.to_string(),
                        deferred: true,
                        ..ConnectionReport::default()
                    };
                }
                self.connection(connection, now, window, deadline).await
            })
            .buffer_unordered(self.options.connection_concurrency.max(1))
            .collect()
            .await;
        reports.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        Ok(reports)
    }

    /// One connection's turn: stamped first, then discovery by each live credential (within `window` from then and
    /// the tick's `deadline`), then records, messages and gone marks. When the tick's time runs out first, the
    /// stamp is taken back.
    async fn connection(
        &self,
        known: KnownConnection,
        now: OffsetDateTime,
        window: Duration,
        deadline: Option<Instant>,
    ) -> ConnectionReport {
        let connection = known.id;
        let span = tracing::info_span!("connection", connection_id = %connection);
        async {
            // Before any GitLab answer is read: a discovery that takes the process down leaves this connection
            // last in the next tick's order, so it cannot crash every tick before the others' turns.
            let at = epoch(OffsetDateTime::now_utc());
            let stamped = self.projects.mark_scheduled(&connection, at).await;
            let limit = DiscoveryLimit::new(Instant::now(), window, deadline);
            let mut report = self
                .connection_in_span(&connection, known.instance, now, limit)
                .await;
            report.write_calls += 1;
            if let Err(error) = stamped {
                tracing::warn!(error = %error, "turn not recorded; the connection goes first next tick");
                report.errors.push(format!("store: {error}"));
            }
            if report.deferred {
                tracing::info!("the tick's time ran out; the connection goes first next tick");
                report.write_calls += 1;
                let previous = known.last_scheduled_at;
                if let Err(error) = self.projects.restore_turn(&connection, previous).await {
                    tracing::warn!(error = %error, "turn not taken back; the connection waits its turn");
                    report.errors.push(format!("store: {error}"));
                }
            }
            report
        }
        .instrument(span)
        .await
    }

    async fn connection_in_span(
        &self,
        connection: &ConnectionId,
        bound: Option<String>,
        now: OffsetDateTime,
        limit: DiscoveryLimit,
    ) -> ConnectionReport {
        let mut report = ConnectionReport {
            connection_id: connection.to_string(),
            ..ConnectionReport::default()
        };
        let mut records = match self.credentials.list(connection).await {
            Ok(records) => records,
            Err(error) => {
                report.errors.push(format!("credentials: {error}"));
                return report;
            }
        };
        let instance = bound.or_else(|| connection_instance(&records));
        records.retain(|r| r.is_live(now.date()));
        records.sort_by(|a, b| a.credential_id.cmp(&b.credential_id));
        report.credentials = records.len();
        if records.is_empty() {
            return report;
        }

        // Discovery, credential by credential (they usually share one GitLab user's rate limit).
        let mut found: BTreeMap<u64, DiscoveredProject> = BTreeMap::new();
        // What `found` holds of the memory budget, given back when the turn ends.
        let mut memory = Reservation::default();
        let bytes = DiscoveryBytes::new(self.options.discovery_max_bytes);
        let mut complete = true;
        let mut failures = Vec::new();
        for record in &records {
            let discovered = if instance.as_deref() == Some(record.settings.base_url.as_str()) {
                self.discover_with(record, limit, &bytes, &mut report).await
            } else {
                // Project ids repeat across instances: another instance's projects would share this connection's
                // keys. The API refuses such a credential; one stored before it did is left out here.
                Err(CredentialFailure::OtherInstance)
            };
            match discovered {
                Ok((discovery, whole, held)) => {
                    complete &= whole;
                    memory.merge(held);
                    for (id, project) in discovery {
                        merge_found(&mut found, id, project);
                    }
                }
                // Not this connection's failure: nothing is recorded, the next tick takes it first.
                Err(CredentialFailure::TickDeadline) => {
                    report.deferred = true;
                    return report;
                }
                Err(failure) => {
                    complete = false;
                    tracing::warn!(credential_id = %record.credential_id, error = %failure, "discovery failed");
                    report
                        .errors
                        .push(format!("{}: {failure}", record.credential_id));
                    failures.push((record, failure.code()));
                }
            }
        }
        report.discovered = found.len();
        let at = timestamp(now);
        let failed: HashSet<&str> = failures
            .iter()
            .map(|(record, _)| record.credential_id.as_str())
            .collect();
        for (record, code) in &failures {
            let failed = DiscoverySummary::Failed {
                code: (*code).to_owned(),
                at: at.clone(),
            };
            self.summarize(record, &failed, &mut report).await;
        }
        if found.is_empty() && !complete {
            return report;
        }

        let turn = Turn {
            turns: &self.projects,
            items: &self.items,
            queue: &self.queue,
            options: &self.options,
        };
        // Each credential's figures of this tick, one write each (a credential that found nothing shows zero).
        let Some(statuses) = turn
            .locked(connection, &found, complete, now, &mut report)
            .await
        else {
            return report;
        };
        for record in &records {
            if failed.contains(record.credential_id.as_str()) {
                continue;
            }
            let found = DiscoverySummary::Found {
                statuses: statuses
                    .get(record.credential_id.as_str())
                    .cloned()
                    .unwrap_or_default(),
                at: at.clone(),
            };
            self.summarize(record, &found, &mut report).await;
        }
        tracing::info!(
            discovered = report.discovered,
            enqueued = report.enqueued,
            gone = report.gone,
            gitlab_requests = report.gitlab_requests,
            sqs_calls = report.sqs_calls,
            "connection scheduled"
        );
        report
    }

    /// Writes one credential's sync summary of this tick; a failure is reported, never fatal.
    async fn summarize(
        &self,
        record: &CredentialRecord,
        summary: &DiscoverySummary,
        report: &mut ConnectionReport,
    ) {
        report.write_calls += 1;
        if let Err(error) = self
            .credentials
            .record_discovery(&record.connection_id, &record.credential_id, summary)
            .await
        {
            tracing::warn!(credential_id = %record.credential_id, error = %error, "sync summary not written");
            report.errors.push(format!("credentials: {error}"));
        }
    }

    /// One credential's discovery, with its token, budget and the connection's time and byte limits. Returns the
    /// projects, whether the discovery was complete, and what they hold of the memory budget.
    async fn discover_with(
        &self,
        record: &CredentialRecord,
        limit: DiscoveryLimit,
        bytes: &DiscoveryBytes,
        report: &mut ConnectionReport,
    ) -> Result<(BTreeMap<u64, DiscoveredProject>, bool, Reservation), CredentialFailure> {
        let scope = record
            .settings
            .scope()
            .map_err(|_| CredentialFailure::Scope)?;
        if limit.reached() {
            return Err(limit.elapsed());
        }
        let gitlab = before(
            limit.until,
            self.connector
                .client_for(&self.vault, &record.gitlab_target(), self.options.retry),
        )
        .await
        .ok_or_else(|| limit.elapsed())?
        .map_err(CredentialFailure::Connect)?
        .with_deadline(limit.until);
        let outcome = before(
            limit.until,
            discover(&gitlab, self.options.group_concurrency, bytes),
        )
        .await;
        let discovered = match outcome {
            None => Err(limit.elapsed()),
            Some(Ok(discovery)) => Ok(discovery),
            // The client stopped at the connection's limit: that limit's failure, not GitLab's.
            Some(Err(DiscoveryError::GitLab(GitLabError::TimedOut { .. }))) if limit.reached() => {
                Err(limit.elapsed())
            }
            Some(Err(DiscoveryError::TooLarge { limit: max_bytes })) => {
                tracing::warn!(
                    max_bytes,
                    "discovery keeps more than its byte budget; stopped"
                );
                Err(CredentialFailure::TooLarge)
            }
            Some(Err(DiscoveryError::GitLab(error))) => {
                self.refused(record, &gitlab, &error, limit, report).await;
                Err(CredentialFailure::GitLab(error))
            }
        };
        report.gitlab_requests += gitlab.stats().requests;
        let discovery = discovered?;
        let credential = record.credential_id.as_str();
        let projects = discovery
            .projects
            .into_iter()
            .map(|(id, p)| {
                let excluded = !scope.admits(&p.path_with_namespace);
                (id, DiscoveredProject::from_gitlab(&p, credential, excluded))
            })
            .collect();
        Ok((projects, discovery.complete, discovery.memory))
    }

    /// A token GitLab refuses for certain stops its syncs: a confirmed 401 `invalid_credentials`, a missing
    /// scope `invalid_permissions` ([`refusal::settle`], asked with the token discovery used, within the
    /// connection's limit). An unconfirmed 401 is only this tick's failure.
    async fn refused(
        &self,
        record: &CredentialRecord,
        gitlab: &GitLabClient,
        error: &GitLabError,
        limit: DiscoveryLimit,
        report: &mut ConnectionReport,
    ) {
        let settled = before(
            limit.until,
            refusal::settle(&self.credentials, record, error, gitlab),
        )
        .await;
        match settled {
            Some(Ok(_)) => {}
            Some(Err(error)) => report.errors.push(format!("credentials: {error}")),
            None => tracing::info!(
                "the connection's time ran out before GitLab's refusal of the token was confirmed; not marked"
            ),
        }
    }
}

/// One connection's scheduling once its projects are discovered: under its lock, the records and leases, the
/// messages, the gone marks. It needs only the narrow ports, so it is tested against memory fakes.
struct Turn<'a, C, S, Q> {
    turns: &'a C,
    items: &'a S,
    queue: &'a Q,
    options: &'a SchedulerOptions,
}

impl<C: ConnectionTurns, S: ScheduleItems, Q: BatchQueue> Turn<'_, C, S, Q> {
    /// Takes the connection's scheduling lock, schedules, gives the lock back. Returns each credential's projects
    /// by status; `None` when another tick holds the lock (`busy`) or the store failed (reported).
    async fn locked(
        &self,
        connection: &ConnectionId,
        found: &BTreeMap<u64, DiscoveredProject>,
        complete: bool,
        now: OffsetDateTime,
        report: &mut ConnectionReport,
    ) -> Option<BTreeMap<String, BTreeMap<&'static str, u64>>> {
        // The connection's scheduling lock: while a tick holds it, no other tick reads or writes the connection's
        // schedule items, so what is read below is still true when it is written. It outlasts this invocation
        // (the tick lease is the function's timeout), so a crashed tick only delays the next one.
        let holder = lock_holder();
        let locked_at = epoch(OffsetDateTime::now_utc());
        let lock_until = locked_at + self.options.tick_lease.as_secs() as i64;
        report.write_calls += 1;
        match self
            .turns
            .lock_connection(connection, &holder, locked_at, lock_until)
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
        let statuses = self
            .schedule(connection, found, complete, now, report)
            .await;
        report.write_calls += 1;
        if let Err(error) = self.turns.unlock_connection(connection, &holder).await {
            tracing::warn!(error = %error, "scheduling lock not given back; it lapses by itself");
            report.errors.push(format!("store: {error}"));
        }
        statuses
    }

    /// Records, leases, messages and gone marks of one connection, under its scheduling lock. Returns each
    /// credential's projects by status, unless the connection's items could not be read.
    async fn schedule(
        &self,
        connection: &ConnectionId,
        found: &BTreeMap<u64, DiscoveredProject>,
        complete: bool,
        now: OffsetDateTime,
        report: &mut ConnectionReport,
    ) -> Option<BTreeMap<String, BTreeMap<&'static str, u64>>> {
        // What the table holds, read once: unchanged items are not written again, vanished ones are found.
        let known: HashMap<u64, KnownProject> = match self.items.known_projects(connection).await {
            Ok(known) => known.into_iter().map(|k| (k.project_id, k)).collect(),
            Err(error) => {
                report.errors.push(format!("store: {error}"));
                return None;
            }
        };

        // Each project's whole record: metadata, and the lease this tick takes (or the one it keeps).
        let seen_at = utc(now);
        let until = epoch(now) + self.options.enqueue_lease.as_secs() as i64;
        let taken = EnqueueLease {
            enqueued_at: seen_at.clone(),
            until,
            visible_at: epoch(now),
        };
        let retry = self.options.inaccessible_retry.as_secs() as i64;
        let steps: Vec<(&DiscoveredProject, Step)> = found
            .values()
            .map(|project| {
                (
                    project,
                    plan(project, known.get(&project.project_id), epoch(now), retry),
                )
            })
            .collect();
        let mut statuses: BTreeMap<String, BTreeMap<&'static str, u64>> = BTreeMap::new();
        for (project, step) in &steps {
            *statuses
                .entry(project.credential_id.clone())
                .or_default()
                .entry(step.status().as_str())
                .or_default() += 1;
        }
        let kept: HashMap<u64, &EnqueueLease> = known
            .values()
            .filter_map(|k| Some((k.project_id, k.lease.as_ref()?)))
            .collect();
        let records: Vec<ProjectRecord<'_>> = steps
            .iter()
            .filter_map(|(project, step)| {
                let lease = match step {
                    Step::Claim => Some(&taken),
                    Step::Refresh(_) => kept.get(&project.project_id).copied(),
                    Step::Keep(_) => return None,
                };
                Some(ProjectRecord {
                    project,
                    seen_at: &seen_at,
                    lease,
                    status: step.status(),
                })
            })
            .collect();
        // Not written: nothing is sent for it (its lease may or may not be taken; it lapses by itself).
        let unwritten_by_batch: Vec<Vec<u64>> =
            futures::stream::iter(records.chunks(S::MAX_WRITE_BATCH.max(1)))
                .map(|chunk| async move {
                    match self.items.write(connection, chunk).await {
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
        let store_errors = unwritten.len();

        let mut messages = Vec::new();
        for (project, step) in &steps {
            let project_id = project.project_id;
            let hold = match step {
                _ if unwritten.contains(&project_id) => continue,
                Step::Claim => {
                    // Discovery found the project with a live credential, whose id has its shape, and GitLab
                    // named its path and default branch: a refusal here is a bug, logged, never a bad message.
                    match CredentialId::parse(&project.credential_id)
                        .ok_or(crate::kernel::MessageError::CredentialId)
                        .and_then(|credential| {
                            SyncMessage::new(
                                connection.clone(),
                                credential,
                                project_id,
                                project.path_with_namespace.clone(),
                                project.default_branch.clone(),
                            )
                        }) {
                        Ok(message) => messages.push(message),
                        Err(error) => {
                            tracing::error!(project_id, error = %error, "no sync message for this project");
                        }
                    }
                    continue;
                }
                Step::Refresh(hold) | Step::Keep(hold) => *hold,
            };
            match hold {
                Hold::Empty => report.empty += 1,
                Hold::InFlight => report.in_flight += 1,
                Hold::ArchivedDone => report.archived_done += 1,
                Hold::Excluded => report.excluded += 1,
                Hold::Refused(_) => report.inaccessible += 1,
            }
        }
        if store_errors > 0 {
            report
                .errors
                .push(format!("store: {store_errors} project items not written"));
        }
        // The fan-out; whatever could not be sent gives its lease back so that the next tick tries again.
        messages.sort_by_key(SyncMessage::project_id);
        let fanout = send_all(self.queue, &messages, self.options.send).await;
        report.sqs_calls = fanout.calls;
        report.enqueued = fanout.sent;
        report.not_sent = fanout.failed.len();
        for (index, reason) in &fanout.failed {
            let project_id = messages[*index].project_id();
            tracing::error!(project_id, reason = %reason, "sync message not sent; lease released for the next tick");
            report.write_calls += 1;
            if let Err(error) = self.items.release(connection, project_id, until).await {
                tracing::error!(project_id, error = %error, "lease not released; the project waits for it to lapse");
            }
        }
        if !fanout.failed.is_empty() {
            report
                .errors
                .push(format!("queue: {} messages not sent", fanout.failed.len()));
        }

        // Gone: only when every live credential's discovery was complete, so a failure never looks like loss.
        if complete {
            self.mark_gone(connection, found, known.values(), &seen_at, report)
                .await;
        }
        Some(statuses)
    }

    async fn mark_gone(
        &self,
        connection: &ConnectionId,
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
                .mark_gone(connection, project.project_id, at)
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

/// Until when one connection's discovery may run, and whose limit that is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DiscoveryLimit {
    until: Option<Instant>,
    /// The tick's deadline comes before the connection's own window ends.
    by_tick: bool,
}

impl DiscoveryLimit {
    /// A connection started at `start` with a window of `window`, in a tick that ends at `tick_deadline`.
    fn new(start: Instant, window: Duration, tick_deadline: Option<Instant>) -> Self {
        let own = start.checked_add(window);
        match (own, tick_deadline) {
            (Some(own), Some(tick)) if tick < own => DiscoveryLimit {
                until: Some(tick),
                by_tick: true,
            },
            (own, tick) => DiscoveryLimit {
                until: own.or(tick),
                by_tick: false,
            },
        }
    }

    fn reached(self) -> bool {
        self.until.is_some_and(|until| Instant::now() >= until)
    }

    /// The failure when the limit is reached: the connection's own timeout, or the tick's.
    fn elapsed(self) -> CredentialFailure {
        if self.by_tick {
            CredentialFailure::TickDeadline
        } else {
            CredentialFailure::Timeout
        }
    }
}

/// Runs a tick's `turns` once per tick: a delivery of a tick another delivery holds or finished does nothing
/// (`duplicate`); `tick` `None` (an event naming no tick) always runs. `now` starts the tick's lease of `lease`.
/// The turns are started only once the lease is taken (so their future is not held beside the lease's).
async fn once<T, F>(
    leases: &T,
    tick: Option<&str>,
    now: OffsetDateTime,
    lease: Duration,
    turns: impl FnOnce() -> F,
) -> Result<TickReport, StoreError>
where
    T: TickLeases,
    F: Future<Output = Result<Vec<ConnectionReport>, StoreError>>,
{
    let mut report = TickReport {
        tick: tick.map(str::to_owned),
        ..TickReport::default()
    };
    if let Some(tick) = tick {
        let until = epoch(now) + lease.as_secs() as i64;
        if !leases.claim_tick(tick, epoch(now), until).await? {
            tracing::info!(tick, "tick already handled; this delivery does nothing");
            report.duplicate = true;
            return Ok(report);
        }
    }
    report.connections = turns().await?;
    if let Some(tick) = tick {
        leases
            .complete_tick(tick, epoch(OffsetDateTime::now_utc()))
            .await?;
    }
    Ok(report)
}

/// A connection's place in a tick: the oldest turn first, never-scheduled connections before all, then by id.
fn turn_order(connection: &KnownConnection) -> (Option<i64>, &ConnectionId) {
    (connection.last_scheduled_at, &connection.id)
}

/// Why a discovered project gets no message this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// The credential's patterns leave it out.
    Excluded,
    /// An empty repository (or no default branch): nothing to import.
    Empty,
    /// GitLab refused its repository (the status says how) less than the retry period ago.
    Refused(ProjectStatus),
    /// An earlier message's lease still holds.
    InFlight,
    /// Archived, and its history is fully imported.
    ArchivedDone,
}

/// What a tick does with one discovered project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Write the metadata and take the enqueue lease: a message once it is written.
    Claim,
    /// Write the metadata only.
    Refresh(Hold),
    /// Write nothing: the item already holds exactly this metadata.
    Keep(Hold),
}

impl Step {
    /// The status the project's record shows.
    pub fn status(self) -> ProjectStatus {
        match self {
            Step::Claim | Step::Refresh(Hold::InFlight) | Step::Keep(Hold::InFlight) => {
                ProjectStatus::Active
            }
            Step::Refresh(hold) | Step::Keep(hold) => match hold {
                Hold::Excluded => ProjectStatus::Excluded,
                Hold::Empty => ProjectStatus::Empty,
                Hold::Refused(status) => status,
                Hold::ArchivedDone => ProjectStatus::Archived,
                Hold::InFlight => ProjectStatus::Active,
            },
        }
    }
}

/// Decides a project's step from what discovery found and what its item holds (`now` in epoch seconds; a refused
/// project is claimed again `retry` seconds after the refusal).
pub fn plan(
    project: &DiscoveredProject,
    known: Option<&KnownProject>,
    now: i64,
    retry: i64,
) -> Step {
    let lease_holds = known
        .and_then(|k| k.lease.as_ref())
        .is_some_and(|lease| lease.until >= now);
    let refused = known
        .and_then(|k| k.refused)
        .filter(|refusal| refusal.at.saturating_add(retry) > now);
    let hold = if project.excluded {
        Hold::Excluded
    } else if !project.has_history() {
        Hold::Empty
    } else if let Some(refusal) = refused {
        Hold::Refused(refusal.status)
    } else if project.archived && known.is_some_and(|k| k.imported) {
        Hold::ArchivedDone
    } else if lease_holds {
        Hold::InFlight
    } else {
        return Step::Claim;
    };
    let step = Step::Keep(hold);
    let unchanged = known.is_some_and(|k| {
        !k.gone && k.recorded.as_ref() == Some(project) && k.status == Some(step.status())
    });
    if unchanged { step } else { Step::Refresh(hold) }
}

/// The GitLab instance of a connection stored before the API bound connections: that of its oldest credential,
/// deleted ones included (their commits are still in the connection's partitions).
fn connection_instance(records: &[CredentialRecord]) -> Option<String> {
    records
        .iter()
        .min_by(|a, b| (&a.created_at, &a.credential_id).cmp(&(&b.created_at, &b.credential_id)))
        .map(|r| r.settings.base_url.to_string())
}

/// Keeps the first credential's finding of a project, unless its patterns exclude the project and a later
/// credential's include it: a project is left out only when every credential that found it leaves it out.
fn merge_found(found: &mut BTreeMap<u64, DiscoveredProject>, id: u64, project: DiscoveredProject) {
    let replaces = found
        .get(&id)
        .is_none_or(|first| first.excluded && !project.excluded);
    if replaces {
        found.insert(id, project);
    }
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
mod tests {
    use super::*;
    use crate::scheduler::ports::AccessRefusal;

    /// A day, the default retry of a refused project.
    const RETRY: i64 = 86_400;

    fn project(archived: bool, empty: bool) -> DiscoveredProject {
        DiscoveredProject {
            project_id: 7,
            path_with_namespace: "g/p".into(),
            web_url: "https://gitlab.example.com/g/p".into(),
            default_branch: "main".into(),
            archived,
            empty_repo: empty,
            last_activity_at: Some("2026-01-01T00:00:00Z".into()),
            credential_id: "cred_1".into(),
            excluded: false,
        }
    }

    /// The item a tick left for `project`, recorded with `status`.
    fn known(
        project: &DiscoveredProject,
        lease_until: Option<i64>,
        imported: bool,
        status: ProjectStatus,
    ) -> KnownProject {
        KnownProject {
            project_id: project.project_id,
            gone: false,
            lease: lease_until.map(|until| EnqueueLease {
                enqueued_at: "2026-01-01T00:00:00Z".into(),
                until,
                visible_at: until - 3_000,
            }),
            imported,
            refused: None,
            recorded: Some(project.clone()),
            status: Some(status),
        }
    }

    #[test]
    fn a_new_or_lapsed_project_is_claimed() {
        let p = project(false, false);
        assert_eq!(plan(&p, None, 100, RETRY), Step::Claim);
        let lapsed = known(&p, Some(99), true, ProjectStatus::Active);
        assert_eq!(plan(&p, Some(&lapsed), 100, RETRY), Step::Claim);
        // An archived project not yet imported is synced once.
        let a = project(true, false);
        let unimported = known(&a, None, false, ProjectStatus::Active);
        assert_eq!(plan(&a, Some(&unimported), 100, RETRY), Step::Claim);
    }

    #[test]
    fn held_projects_are_written_only_when_their_metadata_or_status_changed() {
        let p = project(false, false);
        let held = known(&p, Some(100), false, ProjectStatus::Active);
        assert_eq!(
            plan(&p, Some(&held), 100, RETRY),
            Step::Keep(Hold::InFlight)
        );
        let mut renamed = p.clone();
        renamed.path_with_namespace = "g/renamed".into();
        assert_eq!(
            plan(&renamed, Some(&held), 100, RETRY),
            Step::Refresh(Hold::InFlight)
        );
        let gone = KnownProject {
            gone: true,
            ..held.clone()
        };
        assert_eq!(
            plan(&p, Some(&gone), 100, RETRY),
            Step::Refresh(Hold::InFlight)
        );
        let was_forbidden = KnownProject {
            status: Some(ProjectStatus::Forbidden),
            ..held
        };
        assert_eq!(
            plan(&p, Some(&was_forbidden), 100, RETRY),
            Step::Refresh(Hold::InFlight),
            "a status that changed is written"
        );

        let a = project(true, false);
        let done = known(&a, None, true, ProjectStatus::Archived);
        assert_eq!(
            plan(&a, Some(&done), 100, RETRY),
            Step::Keep(Hold::ArchivedDone)
        );
        let e = project(false, true);
        assert_eq!(plan(&e, None, 100, RETRY), Step::Refresh(Hold::Empty));
        let empty = known(&e, None, false, ProjectStatus::Empty);
        assert_eq!(plan(&e, Some(&empty), 100, RETRY), Step::Keep(Hold::Empty));
    }

    #[test]
    fn a_refused_project_waits_for_its_retry_then_is_claimed_once() {
        let p = project(false, false);
        let refused_at = 1_000;
        let item = KnownProject {
            refused: Some(AccessRefusal {
                status: ProjectStatus::Forbidden,
                at: refused_at,
            }),
            ..known(&p, None, true, ProjectStatus::Active)
        };
        let next_tick = refused_at + 3_600;
        let step = plan(&p, Some(&item), next_tick, RETRY);
        assert_eq!(step, Step::Refresh(Hold::Refused(ProjectStatus::Forbidden)));
        assert_eq!(step.status(), ProjectStatus::Forbidden);
        let recorded = KnownProject {
            status: Some(ProjectStatus::Forbidden),
            ..item.clone()
        };
        assert_eq!(
            plan(&p, Some(&recorded), next_tick + 3_600, RETRY),
            Step::Keep(Hold::Refused(ProjectStatus::Forbidden)),
            "held ticks write nothing"
        );
        assert_eq!(
            plan(&p, Some(&recorded), refused_at + RETRY, RETRY),
            Step::Claim,
            "a day later it is tried again"
        );
        let never_overflows = KnownProject {
            refused: Some(AccessRefusal {
                status: ProjectStatus::NotFound,
                at: i64::MAX,
            }),
            ..item
        };
        assert_eq!(
            plan(&p, Some(&never_overflows), 0, i64::MAX),
            Step::Refresh(Hold::Refused(ProjectStatus::NotFound))
        );
    }

    #[test]
    fn an_excluded_project_is_recorded_and_never_claimed() {
        let mut p = project(false, false);
        p.excluded = true;
        let step = plan(&p, None, 100, RETRY);
        assert_eq!(step, Step::Refresh(Hold::Excluded));
        assert_eq!(step.status(), ProjectStatus::Excluded);
        let imported = known(&p, None, true, ProjectStatus::Excluded);
        assert_eq!(
            plan(&p, Some(&imported), 100, RETRY),
            Step::Keep(Hold::Excluded)
        );
    }

    #[test]
    fn a_project_is_left_out_only_if_every_credential_that_found_it_leaves_it_out() {
        let mut found = BTreeMap::new();
        let mut by_first = project(false, false);
        by_first.excluded = true;
        let mut by_second = project(false, false);
        by_second.credential_id = "cred_2".into();
        merge_found(&mut found, 7, by_first.clone());
        merge_found(&mut found, 7, by_second.clone());
        assert_eq!(found[&7], by_second);
        let mut by_third = project(false, false);
        by_third.credential_id = "cred_3".into();
        merge_found(&mut found, 7, by_third);
        assert_eq!(found[&7], by_second, "the first that includes it keeps it");
        let mut only_excluded = BTreeMap::new();
        merge_found(&mut only_excluded, 7, by_first.clone());
        let mut also_excluded = by_second;
        also_excluded.excluded = true;
        merge_found(&mut only_excluded, 7, also_excluded);
        assert_eq!(only_excluded[&7], by_first);
    }

    /// Given/when/then tests of a tick's turns against the memory fakes of the ports: what is written, sent and
    /// held, with discovery's finding given.
    mod turns {
        use std::sync::atomic::{AtomicUsize, Ordering};

        use super::*;
        use crate::testing::{MemoryQueue, MemorySchedulerStore};

        fn acme() -> ConnectionId {
            ConnectionId::parse("acme").unwrap()
        }

        /// The ports of one connection's turn, empty.
        struct Given {
            store: MemorySchedulerStore,
            queue: MemoryQueue,
            options: SchedulerOptions,
        }

        impl Given {
            fn new() -> Self {
                Given {
                    store: MemorySchedulerStore::default(),
                    queue: MemoryQueue::default(),
                    options: SchedulerOptions {
                        send: SendPolicy {
                            base_delay: Duration::from_millis(1),
                            max_delay: Duration::from_millis(2),
                            ..SendPolicy::default()
                        },
                        ..SchedulerOptions::default()
                    },
                }
            }

            /// The turn of a tick at `now` whose discovery found `found` (`complete`: nothing could be missing).
            async fn scheduled(
                &self,
                found: &[&DiscoveredProject],
                complete: bool,
                now: OffsetDateTime,
            ) -> ConnectionReport {
                let turn = Turn {
                    turns: &self.store,
                    items: &self.store,
                    queue: &self.queue,
                    options: &self.options,
                };
                let found: BTreeMap<u64, DiscoveredProject> =
                    found.iter().map(|p| (p.project_id, (*p).clone())).collect();
                let mut report = ConnectionReport::default();
                turn.locked(&acme(), &found, complete, now, &mut report)
                    .await;
                report
            }

            /// Project ids of every message sent so far, in order.
            fn sent(&self) -> Vec<u64> {
                self.queue
                    .sent()
                    .iter()
                    .map(SyncMessage::project_id)
                    .collect()
            }

            fn item(&self, project_id: u64) -> KnownProject {
                self.store.project(&acme(), project_id).unwrap()
            }
        }

        fn at(seconds: i64) -> OffsetDateTime {
            OffsetDateTime::from_unix_timestamp(seconds).unwrap()
        }

        /// A tick of 2026-11-24 22:00 UTC.
        const TICK: i64 = 1_795_989_600;

        #[tokio::test]
        async fn a_new_project_is_enqueued_once_with_a_lease() {
            let given = Given::new();
            let p = project(false, false);

            let report = given.scheduled(&[&p, &p], true, at(TICK)).await;

            assert_eq!((report.enqueued, report.writes), (1, 1));
            assert_eq!(
                given.queue.sent(),
                vec![
                    SyncMessage::new(
                        acme(),
                        CredentialId::parse("cred_1").unwrap(),
                        7,
                        "g/p",
                        "main",
                    )
                    .unwrap()
                ]
            );
            let item = given.item(7);
            assert_eq!(item.lease.as_ref().map(|l| l.until), Some(TICK + 50 * 60));
            assert_eq!(item.status, Some(ProjectStatus::Active));
            assert_eq!(item.recorded.as_ref(), Some(&p));
            assert_eq!(
                given.store.lock_holder(&acme()),
                None,
                "the lock is given back"
            );
        }

        #[tokio::test]
        async fn an_unchanged_project_within_its_lease_is_neither_sent_nor_written() {
            let given = Given::new();
            let p = project(false, false);
            given.scheduled(&[&p], true, at(TICK)).await;

            let next = given.scheduled(&[&p], true, at(TICK + 15 * 60)).await;

            assert_eq!((next.enqueued, next.in_flight, next.writes), (0, 1, 0));
            assert_eq!(given.sent(), vec![7]);
            // Once the lease lapses, the next tick sends it again.
            let lapsed = given.scheduled(&[&p], true, at(TICK + 50 * 60 + 1)).await;
            assert_eq!(lapsed.enqueued, 1);
            assert_eq!(given.sent(), vec![7, 7]);
        }

        #[tokio::test]
        async fn an_excluded_project_is_recorded_and_never_enqueued() {
            let given = Given::new();
            let mut p = project(false, false);
            p.excluded = true;

            let report = given.scheduled(&[&p], true, at(TICK)).await;
            let again = given.scheduled(&[&p], true, at(TICK + 3_600)).await;

            assert_eq!((report.excluded, report.writes, report.enqueued), (1, 1, 0));
            assert_eq!((again.excluded, again.writes, again.enqueued), (1, 0, 0));
            assert!(given.sent().is_empty());
            assert_eq!(given.item(7).status, Some(ProjectStatus::Excluded));
            assert_eq!(given.item(7).lease, None);
        }

        #[tokio::test]
        async fn a_project_gitlab_refused_is_held_until_its_retry() {
            let given = Given::new();
            let p = project(false, false);
            let refusal = AccessRefusal {
                status: ProjectStatus::Forbidden,
                at: TICK - 3_600,
            };
            given.store.set_sync_state(&acme(), 7, true, Some(refusal));

            let held = given.scheduled(&[&p], true, at(TICK)).await;

            assert_eq!((held.inaccessible, held.enqueued), (1, 0));
            assert!(given.sent().is_empty());
            let item = given.item(7);
            assert_eq!(item.status, Some(ProjectStatus::Forbidden));
            assert_eq!(
                item.refused,
                Some(refusal),
                "the sync's state is not the scheduler's to write"
            );
            // A day after the refusal it is tried again.
            let retried = given.scheduled(&[&p], true, at(refusal.at + RETRY)).await;
            assert_eq!(retried.enqueued, 1);
            assert_eq!(given.sent(), vec![7]);
        }

        #[tokio::test]
        async fn a_connection_locked_by_another_tick_is_left_to_it() {
            let given = Given::new();
            let now = epoch(OffsetDateTime::now_utc());
            assert!(
                given
                    .store
                    .lock_connection(&acme(), "other-tick", now, now + 900)
                    .await
                    .unwrap()
            );

            let report = given
                .scheduled(&[&project(false, false)], true, at(TICK))
                .await;

            assert!(report.busy);
            assert_eq!((report.enqueued, report.writes), (0, 0));
            assert!(given.sent().is_empty());
            assert_eq!(given.store.project(&acme(), 7), None, "nothing written");
            assert_eq!(
                given.store.lock_holder(&acme()).as_deref(),
                Some("other-tick"),
                "another tick's lock is not given back"
            );
        }

        #[tokio::test]
        async fn a_message_not_sent_gives_its_lease_back_for_the_next_tick() {
            let given = Given::new();
            let p = project(false, false);
            given.queue.fail_project(7, MemoryQueue::ALWAYS);

            let report = given.scheduled(&[&p], true, at(TICK)).await;

            assert_eq!((report.enqueued, report.not_sent), (0, 1));
            assert_eq!(report.errors, vec!["queue: 1 messages not sent".to_owned()]);
            assert_eq!(given.item(7).lease, None);
            given.queue.fail_project(7, 0);
            let next = given.scheduled(&[&p], true, at(TICK + 60)).await;
            assert_eq!(next.enqueued, 1);
        }

        #[tokio::test]
        async fn a_project_no_longer_found_is_marked_gone_only_by_a_complete_discovery() {
            let given = Given::new();
            given
                .scheduled(&[&project(false, false)], true, at(TICK))
                .await;

            let incomplete = given.scheduled(&[], false, at(TICK + 60)).await;
            assert_eq!(incomplete.gone, 0);
            assert!(!given.item(7).gone);

            let complete = given.scheduled(&[], true, at(TICK + 120)).await;
            assert_eq!(complete.gone, 1);
            assert!(given.item(7).gone);
        }

        /// A tick's turns that count their runs.
        async fn counted(runs: &AtomicUsize) -> Result<Vec<ConnectionReport>, StoreError> {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(vec![ConnectionReport::default()])
        }

        #[tokio::test]
        async fn a_tick_delivered_twice_runs_once() {
            let store = MemorySchedulerStore::default();
            let runs = AtomicUsize::new(0);
            let lease = Duration::from_secs(900);
            let tick = Some("time:2026-11-24T22:00:00Z");

            let first = once(&store, tick, at(TICK), lease, || counted(&runs))
                .await
                .unwrap();
            // Redelivered after its lease: a finished tick stays finished.
            let second = once(&store, tick, at(TICK + 3_600), lease, || counted(&runs))
                .await
                .unwrap();

            assert_eq!(runs.load(Ordering::SeqCst), 1);
            assert!(!first.duplicate && first.connections.len() == 1);
            assert!(second.duplicate && second.connections.is_empty());
            // An event naming no tick always runs.
            once(&store, None, at(TICK), lease, || counted(&runs))
                .await
                .unwrap();
            assert_eq!(runs.load(Ordering::SeqCst), 2);
        }

        #[tokio::test]
        async fn a_tick_whose_delivery_failed_runs_again_once_its_lease_lapsed() {
            let store = MemorySchedulerStore::default();
            let runs = AtomicUsize::new(0);
            let lease = Duration::from_secs(900);
            let tick = Some("id:e1");
            let failed = async {
                runs.fetch_add(1, Ordering::SeqCst);
                Err(crate::kernel::StoreError::unavailable(
                    "Scan",
                    "unavailable",
                ))
            };
            assert!(
                once(&store, tick, at(TICK), lease, || failed)
                    .await
                    .is_err()
            );

            let meanwhile = once(&store, tick, at(TICK + 60), lease, || counted(&runs))
                .await
                .unwrap();
            let later = once(&store, tick, at(TICK + 901), lease, || counted(&runs))
                .await
                .unwrap();

            assert!(
                meanwhile.duplicate,
                "the first delivery's lease still holds"
            );
            assert!(!later.duplicate);
            assert_eq!(runs.load(Ordering::SeqCst), 2);
        }
    }
}
