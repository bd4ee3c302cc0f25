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

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use time::OffsetDateTime;
use tokio::time::Instant;
use tracing::Instrument;

use super::discovery::{DiscoveryBytes, DiscoveryError, discover};
use super::fanout::SendPolicy;
use super::model::{ConnectionReport, DiscoveredProject, Tick, TickReport, epoch};
use super::plan::{Rules, StatusCounts, merge_found};
use super::ports::{BatchQueue, ConnectionTurns, KnownConnection, ScheduleItems, TickLeases};
use super::turn::Turn;
use crate::credentials::model::DiscoverySummary;
use crate::credentials::refusal;
use crate::credentials::{CredentialRecord, CredentialStatusStore, CredentialStore};
use crate::gitlab::{
    ConnectError, GitLabClient, GitLabConnector, GitLabError, Reservation, RetryPolicy,
};
use crate::kernel::enqueue_lease::DEFAULT_ENQUEUE_LEASE;
use crate::kernel::ids::ConnectionId;
use crate::kernel::instance::{InstanceUrl, InstanceUrlError};
use crate::kernel::store::StoreError;
use crate::kernel::time::{before, timestamp};
use crate::kernel::vault::SecretVault;
use crate::metrics::Emitter;

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
    /// message waits and runs; a shorter schedule interval than this skips projects still in flight). The push
    /// hooks take leases of the same default length.
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
    /// An imported project GitLab shows no activity on is synced anyway once a sync last found it current this
    /// long ago: the safety net for pushes GitLab records no activity for ([`Rules::full_check`]).
    pub full_check: Duration,
    /// How long after a project's `last_activity_at` a push may leave it unmoved ([`Rules::activity_lag`]): GitLab
    /// moves it at most once an hour; ten minutes more for clocks and replication.
    pub activity_lag: Duration,
    pub retry: RetryPolicy,
    pub send: SendPolicy,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            connection_concurrency: 4,
            group_concurrency: 4,
            write_concurrency: 16,
            enqueue_lease: DEFAULT_ENQUEUE_LEASE,
            tick_lease: Duration::from_secs(15 * 60),
            discovery_timeout: Duration::from_secs(5 * 60),
            discovery_max_bytes: DEFAULT_DISCOVERY_MAX_BYTES,
            tick_margin: Duration::from_secs(2 * 60),
            inaccessible_retry: Duration::from_secs(24 * 3600),
            full_check: Duration::from_secs(24 * 3600),
            activity_lag: Duration::from_secs(70 * 60),
            retry: RetryPolicy::default(),
            send: SendPolicy::default(),
        }
    }
}

impl SchedulerOptions {
    /// The plan's rules at `now` (epoch seconds).
    pub fn rules(&self, now: i64) -> Rules {
        let seconds = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Rules {
            now,
            retry: seconds(self.inaccessible_retry),
            full_check: seconds(self.full_check),
            activity_lag: seconds(self.activity_lag),
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
    /// One embedded-metric-format line per tick on stdout; the local run turns it off.
    pub metrics: Emitter,
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
            metrics: Emitter::default(),
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
            metrics: self.metrics,
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
    /// One tick, within the invocation's end less the tick margin, and its log and metric lines.
    pub async fn run(&self, tick: &Tick) -> Result<TickReport, StoreError> {
        let started = std::time::Instant::now();
        let deadline = tick.ends_at.map(|end| {
            end.checked_sub(self.options.tick_margin)
                .unwrap_or_else(Instant::now)
        });
        let report = self
            .tick_of(tick.key.as_deref(), tick.only.as_ref(), deadline)
            .await?;
        tracing::info!(
            tick = report.tick.as_deref().unwrap_or("-"),
            duplicate = report.duplicate,
            connections = report.connections.len(),
            deferred = report.deferred(),
            enqueued = report.enqueued(),
            not_sent = report.not_sent(),
            "tick finished"
        );
        self.metrics
            .print([report.metric_line(&self.metrics, started.elapsed())]);
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
        self.tick_of(tick, None, deadline).await
    }

    /// [`Scheduler::tick`] of `only` one connection's turn, or of every connection's.
    async fn tick_of(
        &self,
        tick: Option<&str>,
        only: Option<&ConnectionId>,
        deadline: Option<Instant>,
    ) -> Result<TickReport, StoreError> {
        let now = OffsetDateTime::now_utc();
        once(&self.projects, tick, now, self.options.tick_lease, || {
            self.every_turn(now, only, deadline)
        })
        .await
    }

    /// Every connection's turn, oldest first, a bounded number at once.
    async fn every_turn(
        &self,
        now: OffsetDateTime,
        only: Option<&ConnectionId>,
        deadline: Option<Instant>,
    ) -> Result<Vec<ConnectionReport>, StoreError> {
        let mut connections = self.projects.connections().await?;
        connections.retain(|connection| only.is_none_or(|id| connection.id == *id));
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
        bound: Result<Option<InstanceUrl>, InstanceUrlError>,
        now: OffsetDateTime,
        limit: DiscoveryLimit,
    ) -> ConnectionReport {
        let mut report = ConnectionReport {
            connection_id: connection.to_string(),
            ..ConnectionReport::default()
        };
        let Some((records, instance)) = self
            .live_credentials(connection, bound, now, &mut report)
            .await
        else {
            return report;
        };
        report.credentials = records.len();
        if records.is_empty() {
            return report;
        }
        let Some(findings) = self
            .discover_all(&records, instance.as_ref(), limit, &mut report)
            .await
        else {
            // Not this connection's failure: nothing is recorded, the next tick takes it first.
            report.deferred = true;
            return report;
        };
        report.discovered = findings.found.len();
        let at = timestamp(now);
        for (record, code) in &findings.failures {
            let failed = DiscoverySummary::Failed {
                code: (*code).to_owned(),
                at: at.clone(),
            };
            self.summarize(record, &failed, &mut report).await;
        }
        if findings.found.is_empty() && !findings.complete {
            return report;
        }
        let turn = Turn {
            turns: &self.projects,
            items: &self.items,
            queue: &self.queue,
            options: &self.options,
            connection,
            now,
        };
        let Some(statuses) = turn
            .locked(&findings.found, findings.complete, &mut report)
            .await
        else {
            return report;
        };
        self.summarize_found(&records, &findings.failures, &statuses, &at, &mut report)
            .await;
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

    /// The connection's live credentials in id order, and the GitLab instance it is bound to; `None` when either
    /// cannot be read (reported).
    async fn live_credentials(
        &self,
        connection: &ConnectionId,
        bound: Result<Option<InstanceUrl>, InstanceUrlError>,
        now: OffsetDateTime,
        report: &mut ConnectionReport,
    ) -> Option<(Vec<CredentialRecord>, Option<InstanceUrl>)> {
        let bound = match bound {
            Ok(bound) => bound,
            Err(error) => {
                tracing::warn!(error = %error, "the connection's stored instance is no GitLab address");
                report
                    .errors
                    .push(format!("store: connection instance: {error}"));
                return None;
            }
        };
        let mut records = match self.credentials.list(connection).await {
            Ok(records) => records,
            Err(error) => {
                report.errors.push(format!("credentials: {error}"));
                return None;
            }
        };
        let instance = bound.or_else(|| connection_instance(&records));
        records.retain(|r| r.is_live(now.date()));
        records.sort_by(|a, b| a.credential_id.cmp(&b.credential_id));
        Some((records, instance))
    }

    /// Discovery, credential by credential (they usually share one GitLab user's rate limit), of the credentials
    /// of the connection's `instance`. `None` when the tick's time ran out first.
    async fn discover_all<'r>(
        &self,
        records: &'r [CredentialRecord],
        instance: Option<&InstanceUrl>,
        limit: DiscoveryLimit,
        report: &mut ConnectionReport,
    ) -> Option<Findings<'r>> {
        let bytes = DiscoveryBytes::new(self.options.discovery_max_bytes);
        let mut findings = Findings::default();
        for record in records {
            let discovered = if instance == Some(&record.settings.base_url) {
                self.discover_with(record, limit, &bytes, report).await
            } else {
                // Project ids repeat across instances: another instance's projects would share this
                // connection's keys. The API refuses such a credential; one stored before it did is left out here.
                Err(CredentialFailure::OtherInstance)
            };
            match discovered {
                Ok((discovery, whole, held)) => {
                    findings.complete &= whole;
                    findings.memory.merge(held);
                    for (id, project) in discovery {
                        merge_found(&mut findings.found, id, project);
                    }
                }
                Err(CredentialFailure::TickDeadline) => return None,
                Err(failure) => {
                    findings.complete = false;
                    tracing::warn!(credential_id = %record.credential_id, error = %failure, "discovery failed");
                    report
                        .errors
                        .push(format!("{}: {failure}", record.credential_id));
                    findings.failures.push((record, failure.code()));
                }
            }
        }
        Some(findings)
    }

    /// Each credential's figures of this tick, one write each (a credential that found nothing shows zero); those
    /// whose discovery failed have their failure written already.
    async fn summarize_found(
        &self,
        records: &[CredentialRecord],
        failures: &[(&CredentialRecord, &'static str)],
        statuses: &StatusCounts,
        at: &str,
        report: &mut ConnectionReport,
    ) {
        let failed: HashSet<&str> = failures
            .iter()
            .map(|(record, _)| record.credential_id.as_str())
            .collect();
        for record in records {
            if failed.contains(record.credential_id.as_str()) {
                continue;
            }
            let found = DiscoverySummary::Found {
                statuses: statuses
                    .get(record.credential_id.as_str())
                    .cloned()
                    .unwrap_or_default(),
                at: at.to_owned(),
            };
            self.summarize(record, &found, report).await;
        }
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

/// What one connection's discovery found, over all its credentials.
#[derive(Debug)]
struct Findings<'r> {
    found: BTreeMap<u64, DiscoveredProject>,
    /// What `found` holds of the memory budget, given back when the turn ends.
    memory: Reservation,
    /// Every credential's discovery was complete: nothing found can be missing.
    complete: bool,
    /// The credentials whose discovery failed, with the code of their failure.
    failures: Vec<(&'r CredentialRecord, &'static str)>,
}

impl Default for Findings<'_> {
    fn default() -> Self {
        Findings {
            found: BTreeMap::new(),
            memory: Reservation::default(),
            complete: true,
            failures: Vec::new(),
        }
    }
}

/// The GitLab instance of a connection stored before the API bound connections: that of its oldest credential,
/// deleted ones included (their commits are still in the connection's partitions).
fn connection_instance(records: &[CredentialRecord]) -> Option<InstanceUrl> {
    records
        .iter()
        .min_by(|a, b| (&a.created_at, &a.credential_id).cmp(&(&b.created_at, &b.credential_id)))
        .map(|r| r.settings.base_url.clone())
}

#[cfg(test)]
mod tests;
