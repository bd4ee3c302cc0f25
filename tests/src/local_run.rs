//! The local run: the whole pipeline in one process, built by `shared::app` exactly as the Lambda mains build
//! it, against the local AWS stand-in: the template's tables and queues are created, a credential goes in
//! through the credentials API handler, the scheduler handler fires one tick, and the sync queue is drained
//! through the worker handler the way the SQS event source does it (batches of `BatchSize`, a few concurrent
//! invocations, partial batch failures redelivered, the dead-letter queue after `maxReceiveCount` deliveries).
//!
//! Two liberties, both because a local run compresses an hour into seconds: a failed message becomes visible
//! again after [`REDELIVERY_DELAY`] instead of the queue's visibility timeout, and the scheduler's enqueue lease
//! lasts one second instead of most of a schedule period, so a second pass right after the first enqueues again.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use shared::app::{CredentialsFunction, SchedulerFunction, SyncWorkerFunction};
use shared::config::Config;
use shared::kernel::ids::ConnectionId;
use shared::kernel::push_hook::{hook_path, hook_secret_name};
use shared::scheduler::{SchedulerOptions, TickReport};
use shared::sync::{RecordOutcome, RecordReport, SyncOptions};

use crate::api_front::ApiFront;
use crate::aws_local::{AwsStandIn, StandInError};
use crate::gitlab_sim::Simulator;
use crate::lambda_events::{SqsSource, credentials_api_event, sqs_event};

/// How soon a message whose record failed is delivered again (the deployed queue waits its visibility timeout).
pub const REDELIVERY_DELAY: Duration = Duration::from_secs(2);

/// The worker's and the scheduler's Lambda timeouts in `template.yaml`: each invocation gets this deadline.
const WORKER_TIMEOUT: Duration = Duration::from_secs(900);
const SCHEDULER_TIMEOUT: Duration = Duration::from_secs(900);

/// Records per worker invocation: the template's `BatchSize` of the worker's SQS trigger (a test checks).
pub const BATCH_SIZE: i32 = 5;

/// Concurrent worker invocations while draining (the template's `SyncMaxConcurrency` default).
const CONCURRENT_INVOCATIONS: usize = 5;

/// The drain stops after this long even if messages are left, so a run can never hang.
const DRAIN_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The push hook handler served for a simulator ([`LocalRun::serve_push_hooks`]): stops with its front.
#[derive(Debug)]
pub struct ServedPushHooks {
    pub front: ApiFront,
    /// The URL GitLab is given.
    pub url: String,
    pub secret: String,
}

/// The route API Gateway gives the push hook function (`template.yaml`).
pub const PUSH_HOOK_ROUTE: &str = "POST /connections/{connection_id}/hooks/gitlab";

/// The connection the local run creates its credential in.
pub const CONNECTION: &str = "local-demo";

/// Something the local run needs failed: the message says what, never with a token in it.
#[derive(Debug, thiserror::Error)]
pub enum LocalRunError {
    #[error(transparent)]
    StandIn(#[from] StandInError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("credentials.create answered {status}: {body}")]
    CredentialRefused { status: u16, body: String },
    #[error("{step}: {message}")]
    Aws { step: &'static str, message: String },
    #[error("the scheduler failed: {0}")]
    Scheduler(String),
    #[error("the sync queue still held messages after {0:?}")]
    DrainTimeout(Duration),
}

pub(crate) fn aws_failure<E: std::error::Error>(step: &'static str) -> impl Fn(E) -> LocalRunError {
    move |error| LocalRunError::Aws {
        step,
        message: aws_sdk_sqs::error::DisplayErrorContext(&error).to_string(),
    }
}

/// A Lambda context whose deadline is `timeout` from now, as Lambda sets it for an invocation.
fn deadline_in(timeout: Duration) -> Context {
    let mut context = Context::default();
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    context.deadline = u64::try_from(now_ms).unwrap_or(0) + timeout.as_millis() as u64;
    context
}

/// How a credential's `last_sync` (as `credentials.info` shows it) differs from what the run's passes did, the
/// credential being the connection's only one: projects and their statuses as the last tick found them,
/// commits as every pass wrote them, a success time once anything synced, and a last error that a sync of the
/// run produced. Empty when they agree.
pub fn last_sync_differences(last_sync: &Value, passes: &[&PassSummary]) -> Vec<String> {
    last_sync_differences_since(last_sync, &Value::Null, passes)
}

/// Like [`last_sync_differences`] for a credential that earlier runs synced too: `before` is its `last_sync`
/// when this run began (null for a new one), whose commits count on top of the run's and whose last error
/// may still stand.
pub fn last_sync_differences_since(
    last_sync: &Value,
    before: &Value,
    passes: &[&PassSummary],
) -> Vec<String> {
    let mut differences = Vec::new();
    let Some(last) = passes.last() else {
        return differences;
    };
    let mut expect = |field: &str, want: Value| {
        if last_sync[field] != want {
            differences.push(format!(
                "last_sync.{field} is {}, the run says {want}",
                last_sync[field]
            ));
        }
    };
    expect("projects", json!(last.discovered));
    let earlier = before["commits"].as_u64().unwrap_or(0) as usize;
    let commits: usize = passes.iter().map(|p| p.commits_written).sum();
    expect("commits", json!(earlier + commits));
    let statuses = &last_sync["project_statuses"];
    let counted = |status: &str| statuses[status].as_u64().unwrap_or(0) as usize;
    let held = counted("forbidden") + counted("not_found");
    if held != last.inaccessible {
        differences.push(format!(
            "last_sync.project_statuses holds {held} refused projects, the last tick held {}",
            last.inaccessible
        ));
    }
    if counted("excluded") != last.excluded || counted("empty") != last.empty {
        differences.push(format!(
            "last_sync.project_statuses is {statuses}, the last tick had {} excluded and {} empty",
            last.excluded, last.empty
        ));
    }
    let errors: Vec<&str> = passes
        .iter()
        .flat_map(|p| &p.records)
        .filter_map(RecordReport::error_code)
        .collect();
    match last_sync["last_error"].as_str() {
        None if errors.is_empty() => {}
        Some(code) if errors.contains(&code) || before["last_error"].as_str() == Some(code) => {}
        other => differences.push(format!(
            "last_sync.last_error is {other:?}, the syncs failed with {errors:?}"
        )),
    }
    if commits > 0 && last_sync["last_success_at"].as_str().is_none() {
        differences.push("last_sync.last_success_at is missing".into());
    }
    differences
}

/// Where the commits come from.
#[derive(Debug, Clone)]
pub struct GitLabTarget {
    pub base_url: String,
    /// Requests per minute the token may spend (GitLab.com allows 2,000 for authenticated API calls).
    pub requests_per_minute: u32,
}

impl GitLabTarget {
    /// The GitLab simulator `sim`, at a rate no test reaches.
    pub fn simulator(sim: &Simulator) -> GitLabTarget {
        GitLabTarget {
            base_url: sim.base_url(),
            requests_per_minute: 60_000,
        }
    }
}

/// One pass: a scheduler tick and the drain of everything it enqueued.
#[derive(Debug, Clone, Default)]
pub struct PassSummary {
    pub discovered: usize,
    pub enqueued: usize,
    pub empty: usize,
    /// Held this tick because GitLab refused their repository at an earlier sync (403/404).
    pub inaccessible: usize,
    /// Left out by the credential's include/exclude patterns.
    pub excluded: usize,
    /// Imported projects GitLab shows no activity on since a sync found them current: not enqueued.
    pub quiet: usize,
    /// Project item writes the tick made.
    pub scheduler_writes: usize,
    /// Sync records by result word (`imported`, `unchanged`, `continued`, `retry`, ...).
    pub results: BTreeMap<&'static str, usize>,
    pub commits_written: usize,
    pub scheduler_requests: u64,
    /// How long the scheduler's tick took, and the errors it reported (`<connection>: <error>`).
    pub tick_elapsed: Duration,
    pub scheduler_errors: Vec<String>,
    pub sync_requests: u64,
    pub invocations: usize,
    pub deliveries: usize,
    /// Every record the worker ran, in the order they finished.
    pub records: Vec<RecordReport>,
    pub elapsed: Duration,
}

impl PassSummary {
    /// Adds another drain's syncs to this one's (its tick figures are not added: a drain has none).
    pub fn absorb(&mut self, other: PassSummary) {
        self.invocations += other.invocations;
        for report in other.records {
            self.add(report);
        }
    }

    fn add(&mut self, report: RecordReport) {
        *self.results.entry(report.result()).or_default() += 1;
        self.commits_written += report.commits();
        self.sync_requests += report.stats.requests;
        self.deliveries += 1;
        self.records.push(report);
    }
}

/// The functions' tuning for a run: what the local run uses by default (a one-second enqueue lease, see the
/// module's note), or a test's own (shorter retries, say).
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    pub scheduler: SchedulerOptions,
    pub sync: SyncOptions,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            scheduler: SchedulerOptions {
                enqueue_lease: Duration::from_secs(1),
                ..SchedulerOptions::default()
            },
            sync: SyncOptions::default(),
        }
    }
}

/// The pipeline, wired as deployed, against the stand-in's copies of the template's resources.
#[derive(Debug)]
pub struct LocalRun {
    pub aws: AwsStandIn,
    pub config: Config,
    api: CredentialsFunction,
    scheduler: SchedulerFunction,
    worker: SyncWorkerFunction,
    /// Progress lines on stderr.
    pub verbose: bool,
}

impl LocalRun {
    /// Creates the template's tables and queues named `<prefix>-<logical id>` and builds the three functions.
    pub async fn prepare(
        prefix: &str,
        gitlab: &GitLabTarget,
        verbose: bool,
        tuning: Tuning,
    ) -> Result<LocalRun, LocalRunError> {
        let aws = AwsStandIn::provision_named(prefix).await?;
        Self::wire(aws, prefix, gitlab, verbose, tuning)
    }

    /// [`LocalRun::prepare`] against the simulator `sim` ([`GitLabTarget::simulator`]), quiet, tuned by default.
    pub async fn on_simulator(prefix: &str, sim: &Simulator) -> Result<LocalRun, LocalRunError> {
        Self::prepare(
            prefix,
            &GitLabTarget::simulator(sim),
            false,
            Tuning::default(),
        )
        .await
    }

    /// Like [`LocalRun::prepare`], reusing the tables, queues and secrets an earlier run of the same `prefix` left
    /// on the stand-in (`self.aws.reused_tables()` tells whether there were any).
    pub async fn resume(
        prefix: &str,
        gitlab: &GitLabTarget,
        verbose: bool,
        tuning: Tuning,
    ) -> Result<LocalRun, LocalRunError> {
        let aws = AwsStandIn::provision_reusing(prefix).await?;
        Self::wire(aws, prefix, gitlab, verbose, tuning)
    }

    fn wire(
        aws: AwsStandIn,
        prefix: &str,
        gitlab: &GitLabTarget,
        verbose: bool,
        tuning: Tuning,
    ) -> Result<LocalRun, LocalRunError> {
        let loopback = url::Url::parse(&gitlab.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .is_some_and(|host| matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]"));
        let variables = BTreeMap::from([
            ("STATE_TABLE", aws.table("StateTable").to_owned()),
            ("COMMITS_TABLE", aws.table("CommitsTable").to_owned()),
            ("SYNC_QUEUE_URL", aws.queue("SyncQueue").url.clone()),
            (
                "TURN_REQUEST_QUEUE_URL",
                aws.queue("TurnRequestQueue").url.clone(),
            ),
            ("SECRET_NAME_PREFIX", format!("gitlab-importer/{prefix}/")),
            ("DEFAULT_GITLAB_BASE_URL", gitlab.base_url.clone()),
            // Only a GitLab on loopback (the simulator) may be private or plain http.
            ("GITLAB_ALLOW_PRIVATE_NETWORK", loopback.to_string()),
            (
                "GITLAB_REQUESTS_PER_MINUTE",
                gitlab.requests_per_minute.to_string(),
            ),
        ]);
        let config = Config::from_lookup(|name| variables.get(name).cloned())
            .map_err(|e| LocalRunError::Config(e.to_string()))?;
        let built = |e: shared::gitlab::GitLabError| LocalRunError::Config(e.to_string());
        let api = shared::app::credentials_function(&config, &aws.config).map_err(built)?;
        let mut scheduler = shared::app::scheduler_function(&config, &aws.config, tuning.scheduler)
            .map_err(built)?;
        let mut worker =
            shared::app::sync_worker_function(&config, &aws.config, tuning.sync).map_err(built)?;
        // The local run prints its own progress: no metric lines in its output.
        scheduler.metrics.enabled = false;
        worker.metrics.enabled = false;
        Ok(LocalRun {
            aws,
            config,
            api,
            scheduler,
            worker,
            verbose,
        })
    }

    fn say(&self, line: impl AsRef<str>) {
        if self.verbose {
            eprintln!("{}", line.as_ref());
        }
    }

    /// `credentials.create` in `connection` for the GitLab at `base_url`, through the API handler, with an API
    /// Gateway v2 event signed off by IAM (the sample in `events/`). Returns the credential as the API shows it
    /// (never with its token).
    pub async fn create_credential(
        &self,
        connection: &str,
        base_url: &str,
        token: &str,
        label: &str,
    ) -> Result<Value, LocalRunError> {
        let body = json!({
            "label": label,
            "settings": {"base_url": base_url},
            "secrets": {"api_token": token},
        });
        let (status, reply) = self
            .call_api(connection, "POST", "credentials.create", Some(body))
            .await;
        if status != 201 {
            return Err(LocalRunError::CredentialRefused {
                status,
                body: reply.to_string(),
            });
        }
        Ok(reply["credential"].clone())
    }

    /// `credentials.list` through the API handler: the connection's credentials as the API shows them (none
    /// before its first credential, when the API answers `connection_not_found`).
    pub async fn credentials(&self, connection: &str) -> Result<Vec<Value>, LocalRunError> {
        let (status, reply) = self
            .call_api(connection, "GET", "credentials.list", None)
            .await;
        match reply["credentials"].as_array() {
            Some(credentials) if status == 200 => Ok(credentials.clone()),
            None if status == 404 && reply["error"] == "connection_not_found" => Ok(Vec::new()),
            _ => Err(LocalRunError::Config(format!(
                "credentials.list answered {status}: {reply}"
            ))),
        }
    }

    /// `credentials.info/<id>` through the API handler: the credential with its sync summary.
    pub async fn credential_info(&self, connection: &str, id: &str) -> Value {
        let (_, reply) = self
            .call_api(connection, "GET", &format!("credentials.info/{id}"), None)
            .await;
        reply["credential"].clone()
    }

    /// The credentials API function on a request as API Gateway hands it over (a front's).
    pub async fn handle_api(
        &self,
        request: lambda_http::Request,
    ) -> lambda_http::Response<lambda_http::Body> {
        // Boxed: the handler's future is large, and every future that calls the API would carry it.
        Box::pin(shared::entrypoints::credentials_api::handler(
            &self.api, request,
        ))
        .await
        .expect("the credentials handler never fails")
    }

    /// One API call through the handler, as API Gateway delivers it with an IAM identity (the sample event in
    /// `events/`, re-aimed): the reply's status and JSON body.
    pub async fn call_api(
        &self,
        connection: &str,
        method: &str,
        route: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let event = credentials_api_event(connection, method, route, body.as_ref());
        let request =
            lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event");
        let reply = self.handle_api(request).await;
        let status = reply.status().as_u16();
        let body: Value = serde_json::from_slice(reply.body().as_ref()).unwrap_or(Value::Null);
        (status, body)
    }

    /// The push hook function, built by `shared::app` as its Lambda main builds it, served on loopback behind the
    /// route API Gateway gives it (`POST /connections/{connection_id}/hooks/gitlab`), with `sim`'s push hook pointed
    /// at it with the secret `credentials.create` made for `connection`.
    pub async fn serve_push_hooks(
        &self,
        sim: &Simulator,
        connection: &str,
    ) -> Result<ServedPushHooks, LocalRunError> {
        let id = ConnectionId::parse(connection)
            .ok_or_else(|| LocalRunError::Config(format!("{connection:?} is no connection id")))?;
        let mut hooks = shared::app::push_hook_function(&self.config, &self.aws.config);
        hooks.metrics.enabled = false;
        let hooks = Arc::new(hooks);
        let front = ApiFront::start(&[PUSH_HOOK_ROUTE], move |request| {
            let hooks = hooks.clone();
            async move {
                shared::entrypoints::push_hook::handler(&hooks, request)
                    .await
                    .expect("the push hook handler never fails")
            }
        })
        .await
        .map_err(|e| LocalRunError::Config(format!("serving the push hook: {e}")))?;
        let url = format!("{}{}", front.base_url(), hook_path(&id));
        let secret = push_hook_secret(&self.aws, &self.config.secret_name_prefix, &id).await?;
        sim.set_push_hook(&url, &secret);
        Ok(ServedPushHooks { front, url, secret })
    }

    /// Drains the sync queue while watching for the project's imported head to become `sha`: the drain, and how
    /// long the head took (`None` past `limit`).
    pub async fn drain_until_head(
        &self,
        connection: &str,
        project_id: u64,
        sha: &str,
        limit: Duration,
    ) -> Result<(PassSummary, Option<Duration>), LocalRunError> {
        let (drained, waited) = futures::join!(
            self.drain(),
            self.wait_for_head(connection, project_id, sha, limit)
        );
        Ok((drained?, waited))
    }

    /// Waits until the project's imported head (its sync item's `last_head`) is `sha`, which the worker sets only
    /// after the commits are in the table; `None` if that took longer than `limit`.
    pub async fn wait_for_head(
        &self,
        connection: &str,
        project_id: u64,
        sha: &str,
        limit: Duration,
    ) -> Option<Duration> {
        let started = Instant::now();
        let (pk, sk) = (format!("CONN#{connection}"), format!("PROJ#{project_id}"));
        while started.elapsed() < limit {
            let item = self.aws.state_item(&pk, &sk).await;
            if item
                .get("last_head")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                == Some(sha)
            {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// The analytics export of everything changed since the last call, into `dir` as it would go to the export
    /// bucket (`--export DIR`): the exporter's run with its DynamoDB feed, files in a folder instead of S3, and no
    /// settle time (nothing here is written by a clock that runs behind).
    pub async fn export_to(
        &self,
        dir: &std::path::Path,
    ) -> Result<shared::export::ExportReport, LocalRunError> {
        let mut exporter = shared::export::Exporter::new(
            shared::aws::export_feed::DynamoChangeFeed::new(
                aws_sdk_dynamodb::Client::new(&self.aws.config),
                self.config.state_table.clone(),
                self.config.commits_table.clone(),
            ),
            shared::export::folder::FolderSink::new(dir),
            shared::export::ExportOptions {
                settle: Duration::ZERO,
                ..shared::export::ExportOptions::default()
            },
        );
        exporter.metrics.enabled = false;
        exporter
            .run(time::OffsetDateTime::now_utc(), None)
            .await
            .map_err(|e| LocalRunError::Aws {
                step: "export",
                message: e.to_string(),
            })
    }

    /// The scheduler function's handler on `event` (a schedule tick, or an SQS event of turn requests).
    pub async fn schedule(&self, event: Value) -> Result<TickReport, LocalRunError> {
        // Boxed: a tick's future is large, and every future of a run would carry it.
        Box::pin(shared::entrypoints::scheduler::handle(
            &self.scheduler,
            LambdaEvent::new(event, deadline_in(SCHEDULER_TIMEOUT)),
        ))
        .await
        .map_err(|e| LocalRunError::Scheduler(e.to_string()))
    }

    /// One scheduler tick (the event EventBridge Scheduler sends, see `template.yaml`), then the drain.
    pub async fn pass(&self) -> Result<PassSummary, LocalRunError> {
        let started = Instant::now();
        let mut summary = self.tick().await?;
        self.drain_into(&mut summary).await?;
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    /// One scheduler tick alone: what it found and enqueued (the drain is left to the caller).
    pub async fn tick(&self) -> Result<PassSummary, LocalRunError> {
        let started = Instant::now();
        let now = time::OffsetDateTime::now_utc();
        let tick = json!({
            "time": now.format(&time::format_description::well_known::Rfc3339).expect("formats"),
            "id": format!("local-{}", now.unix_timestamp_nanos()),
        });
        let report = self.schedule(tick).await?;
        let mut summary = PassSummary {
            tick_elapsed: started.elapsed(),
            ..PassSummary::default()
        };
        for connection in &report.connections {
            summary.discovered += connection.discovered;
            summary.enqueued += connection.enqueued;
            summary.empty += connection.empty;
            summary.inaccessible += connection.inaccessible;
            summary.excluded += connection.excluded;
            summary.quiet += connection.quiet;
            summary.scheduler_writes += connection.writes;
            summary.scheduler_requests += connection.gitlab_requests;
            for error in &connection.errors {
                let error = format!("{}: {error}", connection.connection_id);
                self.say(format!("  scheduler: {error}"));
                summary.scheduler_errors.push(error);
            }
        }
        self.say(format!(
            "  scheduler: {} projects found, {} sync messages sent, {} empty, {} quiet, {} GitLab requests",
            summary.discovered,
            summary.enqueued,
            summary.empty,
            summary.quiet,
            summary.scheduler_requests
        ));
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    /// Drains the sync queue through the worker (whatever put the messages there: a tick, push hooks), until
    /// nothing is visible, in flight or held back.
    pub async fn drain(&self) -> Result<PassSummary, LocalRunError> {
        let started = Instant::now();
        let mut summary = PassSummary::default();
        self.drain_into(&mut summary).await?;
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    async fn drain_into(&self, summary: &mut PassSummary) -> Result<(), LocalRunError> {
        let handling = Mutex::new(HashSet::new());
        let polls = (0..CONCURRENT_INVOCATIONS).map(|_| self.poll(&handling));
        let invocations = futures::future::join_all(polls).await;
        for result in invocations {
            let (invoked, reports) = result?;
            summary.invocations += invoked;
            for report in reports {
                summary.add(report);
            }
        }
        Ok(())
    }

    /// One concurrent "event source poller": receive a batch, invoke the worker, delete what succeeded and let
    /// the failures come back; until the queue has nothing visible and nothing in flight. `handling`: the ids of
    /// the messages the pollers are handling.
    async fn poll(
        &self,
        handling: &Mutex<HashSet<String>>,
    ) -> Result<(usize, Vec<RecordReport>), LocalRunError> {
        let queue = self.aws.queue("SyncQueue");
        let started = Instant::now();
        let mut reports = Vec::new();
        let mut invocations = 0;
        let source = SqsSource {
            sqs: &self.aws.sqs,
            url: &queue.url,
        };
        let region = self
            .aws
            .config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        while started.elapsed() < DRAIN_LIMIT {
            // moto's ReceiveMessage marks a message received outside its lock, so two concurrent receives can both
            // get it (CI once saw a project synced twice in one pass); SQS hides a received message for its
            // visibility timeout. A copy another poller is handling is left to that poller, which settles it.
            let received = source.receive(BATCH_SIZE).await?;
            let messages: Vec<_> = {
                let mut ids = handling.lock().expect("not poisoned");
                received
                    .into_iter()
                    .filter(|m| ids.insert(m.message_id().unwrap_or_default().to_owned()))
                    .collect()
            };
            if messages.is_empty() {
                if source.is_settled().await? {
                    return Ok((invocations, reports));
                }
                continue;
            }
            let event = serde_json::from_value(sqs_event(&messages, &queue.arn, &region))
                .expect("an SQS event of the worker's kind");
            let (response, batch) = shared::entrypoints::sync_worker::handle_batch(
                &self.worker,
                LambdaEvent::new(event, deadline_in(WORKER_TIMEOUT)),
            )
            .await;
            invocations += 1;
            let failed: Vec<&str> = response
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.as_str())
                .collect();
            for report in &batch {
                self.progress(report);
            }
            reports.extend(batch);
            source
                .settle_batch(&messages, &failed, REDELIVERY_DELAY)
                .await?;
            let mut ids = handling.lock().expect("not poisoned");
            for message in &messages {
                ids.remove(message.message_id().unwrap_or_default());
            }
        }
        Err(LocalRunError::DrainTimeout(DRAIN_LIMIT))
    }

    fn progress(&self, report: &RecordReport) {
        let project = report
            .message
            .as_ref()
            .map_or("(unreadable message)", |m| m.path_with_namespace());
        let detail = match &report.outcome {
            RecordOutcome::Retry { reason, .. } => format!(": {reason}"),
            _ => String::new(),
        };
        self.say(format!(
            "  sync {project}: {} ({} commits, {} GitLab request{}, {:.1} s){detail}",
            report.result(),
            report.commits(),
            report.stats.requests,
            if report.stats.requests == 1 { "" } else { "s" },
            report.duration.as_secs_f64()
        ));
    }

    /// Messages in the dead-letter queue.
    pub async fn dead_letters(&self) -> Result<u64, LocalRunError> {
        let source = SqsSource {
            sqs: &self.aws.sqs,
            url: &self.aws.queue("SyncDeadLetterQueue").url,
        };
        let (visible, in_flight, delayed) = source.counts().await?;
        Ok(visible + in_flight + delayed)
    }

    /// Items in a table, as the stand-in counts them (live on moto; AWS updates the figure every few hours).
    pub async fn count_items(&self, logical_id: &str) -> Result<i64, LocalRunError> {
        let table = self
            .aws
            .dynamodb
            .describe_table()
            .table_name(self.aws.table(logical_id))
            .send()
            .await
            .map_err(aws_failure("DescribeTable"))?;
        Ok(table.table.and_then(|t| t.item_count).unwrap_or(0))
    }
}

/// The connection's push hook secret, as `credentials.create` made it under `secret_name_prefix` (read from the
/// secret vault).
pub async fn push_hook_secret(
    aws: &AwsStandIn,
    secret_name_prefix: &str,
    connection: &ConnectionId,
) -> Result<String, LocalRunError> {
    let name = hook_secret_name(secret_name_prefix, connection);
    let secret = aws
        .secrets
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(aws_failure("GetSecretValue"))?;
    secret
        .secret_string
        .ok_or_else(|| LocalRunError::Config("the push hook secret has no text".into()))
}
