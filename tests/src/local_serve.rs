//! `local-run --serve`: the pipeline, the demo GitLab and the API kept up on loopback until interrupted, for the
//! `gitlab-importer` CLI (or curl with SigV4) to drive as it drives a deployed stack.
//!
//! What runs, as deployed:
//! - one [`ApiFront`] with both functions behind one base URL, as API Gateway has them: the credentials API
//!   (`ANY /connections/{connection_id}/{proxy+}`) checks SigV4 signatures of the stand-in's credentials, the push
//!   hook route (`POST /connections/{connection_id}/hooks/gitlab`) is public;
//! - the event sources, as loops: the sync queue drained through the worker, the turn request queue handed to the
//!   scheduler, and every tick interval a scheduler tick then an analytics export into an S3 bucket of the
//!   stand-in; the demo GitLab's push hook pointed at the front once the watched connection has a hook secret;
//! - a CloudFormation stack on the stand-in whose outputs carry `template.yaml`'s output keys, so the CLI finds
//!   the API, tables and queues as it finds a deployed stack's ([`SERVE_OUTPUT_KEYS`]).
//!
//! [`start`] gives a [`Served`] for tests in process; [`serve_until_interrupted`] is the binary's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::RequestExt as _;
use lambda_http::request::RequestContext;
use serde_json::{Map, Value, json};
use shared::kernel::ids::ConnectionId;
use shared::kernel::push_hook::hook_path;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api_front::{ApiFront, IamAuth, RouteAuth};
use crate::aws_local;
use crate::demo::{DEMO_TOKEN, Demo};
use crate::gitlab_sim::Simulator;
use crate::lambda_events::{SqsSource, sqs_event};
use crate::local_run::{
    GitLabTarget, LocalRun, LocalRunError, PUSH_HOOK_ROUTE, REDELIVERY_DELAY, Tuning, aws_failure,
    push_hook_secret,
};

/// The credentials API's route (`template.yaml`, IAM auth).
pub const CREDENTIALS_ROUTE: &str = "ANY /connections/{connection_id}/{proxy+}";

/// The output keys the serve stack declares: each is one of `template.yaml`'s (a test checks).
pub const SERVE_OUTPUT_KEYS: [&str; 9] = [
    "CredentialsApiUrl",
    "PushHookUrl",
    "StateTableName",
    "CommitsTableName",
    "SyncQueueUrl",
    "SyncDeadLetterQueueUrl",
    "ScheduleDeadLetterQueueUrl",
    "TurnRequestDeadLetterQueueUrl",
    "ExportBucketName",
];

/// How long a stopping serve waits for a background loop to finish its step before cutting it short.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Pauses of the background loops between two polls.
const DRAIN_PAUSE: Duration = Duration::from_millis(300);
const HOOK_WATCH_EVERY: Duration = Duration::from_secs(1);

/// What to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Between two scheduler ticks (each followed by an export).
    pub tick_every: Duration,
    /// The CloudFormation stack on the stand-in that names the API, tables and queues.
    pub stack_name: String,
    /// The connection whose push hook secret points the demo GitLab's push hook at the front.
    pub connection: String,
    /// Commits of the demo's biggest project.
    pub monolith_commits: usize,
    /// Progress lines on stderr.
    pub verbose: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            tick_every: Duration::from_secs(60),
            stack_name: "local-run".into(),
            connection: crate::local_run::CONNECTION.into(),
            monolith_commits: 5_000,
            verbose: true,
        }
    }
}

/// A running serve: stop it with [`Served::stop`] (dropping it leaves the stack on the stand-in).
#[derive(Debug)]
pub struct Served {
    options: ServeOptions,
    demo: Demo,
    sim: Arc<Simulator>,
    run: Arc<LocalRun>,
    front: ApiFront,
    cloudformation: aws_sdk_cloudformation::Client,
    outputs: Vec<(&'static str, String)>,
    endpoint_line: String,
    stop: watch::Sender<bool>,
    /// The thread of the event source loops ([`spawn_event_sources`]).
    background: std::thread::JoinHandle<()>,
    hooks: JoinHandle<()>,
}

impl Served {
    /// The API's base URL (`http://127.0.0.1:PORT`), the stack's `CredentialsApiUrl`.
    pub fn api_url(&self) -> String {
        self.front.base_url()
    }

    pub fn stack_name(&self) -> &str {
        &self.options.stack_name
    }

    /// The shell line that points the CLI at this serve (`export AWS_ENDPOINT_URL=... GITLAB_IMPORTER_STACK=...`).
    pub fn endpoint_line(&self) -> &str {
        &self.endpoint_line
    }

    /// The demo GitLab's instance URL (`http://127.0.0.1:PORT/`), a credential's `base_url`.
    pub fn gitlab_url(&self) -> String {
        self.sim.base_url()
    }

    /// The demo GitLab's token (a fixed demo value, not a secret).
    pub fn demo_token(&self) -> &'static str {
        DEMO_TOKEN
    }

    pub fn demo(&self) -> &Demo {
        &self.demo
    }

    /// GitLab moves on: new commits on the demo's projects ([`Demo::advance`]); the shas that are new.
    pub fn advance(&mut self, monolith_commits: usize) -> Vec<String> {
        self.demo.advance(&self.sim, monolith_commits)
    }

    pub fn run(&self) -> Arc<LocalRun> {
        self.run.clone()
    }

    /// One analytics export now, as the tick loop runs it after each tick (into the stack's export bucket).
    pub async fn export(&self) -> Result<shared::export::ExportReport, LocalRunError> {
        let bucket = self
            .outputs
            .iter()
            .find(|(key, _)| *key == "ExportBucketName")
            .map(|(_, bucket)| bucket.as_str())
            .unwrap_or_default();
        Box::pin(exporter(&self.run, bucket)?.run(time::OffsetDateTime::now_utc(), None))
            .await
            .map_err(|e| LocalRunError::Aws {
                step: "export",
                message: e.to_string(),
            })
    }

    /// Stops the background loops, deletes the stack, stops the front (its port is free when this returns) and
    /// the demo GitLab, and removes the tables and queues.
    pub async fn stop(self) {
        let Served {
            options,
            sim,
            run,
            front,
            cloudformation,
            stop,
            background,
            mut hooks,
            ..
        } = self;
        let _ = stop.send(true);
        if tokio::time::timeout(STOP_GRACE, &mut hooks).await.is_err() {
            hooks.abort();
            let _ = hooks.await;
        }
        let joined = tokio::task::spawn_blocking(move || background.join());
        if tokio::time::timeout(STOP_GRACE, joined).await.is_err() {
            eprintln!("serve: the event sources did not stop within {STOP_GRACE:?}");
        }
        if let Err(e) = delete_stack(&cloudformation, &options.stack_name).await {
            eprintln!("serve: {e}");
        }
        front.stop().await;
        if let Ok(sim) = Arc::try_unwrap(sim) {
            sim.shutdown().await;
        }
        if let Ok(run) = Arc::try_unwrap(run) {
            run.aws.teardown().await;
        }
    }
}

/// Builds the demo GitLab, provisions the stand-in, serves the API and starts the background loops and the
/// stack. Progress on stderr when `options.verbose`.
pub async fn start(options: ServeOptions) -> Result<Served, LocalRunError> {
    let say = |line: String| {
        if options.verbose {
            eprintln!("{line}");
        }
    };
    let connection = ConnectionId::parse(&options.connection).ok_or_else(|| {
        LocalRunError::Config(format!("{:?} is no connection id", options.connection))
    })?;
    let endpoint = aws_local::endpoint()?;
    let started = Instant::now();
    say(format!(
        "building the demo GitLab ({} + ~500 commits of history)...",
        options.monolith_commits
    ));
    let (demo, world) = Demo::build(options.monolith_commits);
    let sim = Simulator::start(world)
        .await
        .map_err(|e| LocalRunError::Config(format!("starting the simulator: {e}")))?;
    let prefix = format!(
        "{}-{}",
        options.stack_name,
        time::OffsetDateTime::now_utc().unix_timestamp()
    );
    let run = LocalRun::prepare(
        &prefix,
        &GitLabTarget::simulator(&sim),
        options.verbose,
        Tuning::default(),
    )
    .await?;
    let run = Arc::new(run);
    let region = run
        .aws
        .config
        .region()
        .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
    let bucket = create_export_bucket(&run, &prefix).await?;
    let front = serve_api(&run, &region).await?;
    say(format!(
        "demo GitLab {} and the API {} up ({:.1} s); resources {prefix}-* on {endpoint}",
        sim.base_url(),
        front.base_url(),
        started.elapsed().as_secs_f64()
    ));

    let sim = Arc::new(sim);
    let (stop, stopped) = watch::channel(false);
    let hook_url = format!("{}{}", front.base_url(), hook_path(&connection));
    let background = spawn_event_sources(
        EventSources {
            prefix: prefix.clone(),
            gitlab: GitLabTarget::simulator(&sim),
            region: region.clone(),
            bucket: bucket.clone(),
            tick_every: options.tick_every,
            verbose: options.verbose,
        },
        stopped.clone(),
    )?;
    let hooks = tokio::spawn(hook_loop(
        run.clone(),
        sim.clone(),
        connection,
        hook_url,
        stopped,
    ));
    let outputs = stack_outputs(&run, &front.base_url(), &bucket);
    let cloudformation = aws_sdk_cloudformation::Client::new(&run.aws.config);
    let served = Served {
        endpoint_line: format!(
            "export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={key} \
             AWS_SESSION_TOKEN={token} AWS_REGION={region} GITLAB_IMPORTER_STACK={} GITLAB_IMPORTER_CONNECTION={}",
            options.stack_name,
            options.connection,
            key = crate::api_front::iam::STAND_IN_ACCESS_KEY,
            token = crate::api_front::iam::STAND_IN_SESSION_TOKEN,
        ),
        options,
        demo,
        sim,
        run,
        front,
        cloudformation,
        outputs,
        stop,
        background,
        hooks,
    };
    if let Err(e) = create_stack(&served.cloudformation, served.stack_name(), &served.outputs).await
    {
        served.stop_quietly().await;
        return Err(e);
    }
    Ok(served)
}

impl Served {
    /// [`Served::stop`] of a serve whose stack was never created.
    async fn stop_quietly(mut self) {
        // The stack of that name is someone else's: not ours to delete.
        self.options.stack_name.clear();
        self.stop().await;
    }
}

/// Serves until Ctrl-C (SIGINT) or SIGTERM, then stops everything: `local-run --serve`. Prints the line that
/// points the CLI at it, and the demo GitLab's URL, on stdout.
pub async fn serve_until_interrupted(options: ServeOptions) -> Result<(), LocalRunError> {
    let tick_every = options.tick_every;
    let served = start(options).await?;
    // With the CLI built beside this binary (`scripts/local-run --serve` builds both), the line puts it on PATH.
    let cli_dir = crate::built_binary("gitlab-importer")
        .and_then(|cli| cli.parent().map(std::path::Path::to_path_buf));
    match cli_dir {
        Some(dir) => println!(
            "{} PATH=\"{}:$PATH\"",
            served.endpoint_line(),
            dir.display()
        ),
        None => println!("{}", served.endpoint_line()),
    }
    println!(
        "demo GitLab: {} (its token is the demo token: echo {} | gitlab-importer credentials create --base-url {})",
        served.gitlab_url(),
        served.demo_token(),
        served.gitlab_url()
    );
    eprintln!(
        "serving: stack {}, API {}; a scheduler tick and an export every {} s; Ctrl-C stops",
        served.stack_name(),
        served.api_url(),
        tick_every.as_secs()
    );
    let interrupted = interrupted().await;
    eprintln!("serve: {interrupted}, stopping...");
    served.stop().await;
    eprintln!("serve: stopped");
    Ok(())
}

/// Waits for SIGINT or SIGTERM: which one came.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        Some(()) = async { match terminate.as_mut() { Some(s) => s.recv().await, None => None } } => "terminated",
    }
}

/// One front for both functions, as API Gateway routes them: the push hook route first (API Gateway prefers the
/// more specific route), public; the rest of a connection's paths to the credentials API, signed.
async fn serve_api(run: &Arc<LocalRun>, region: &str) -> Result<ApiFront, LocalRunError> {
    let mut hooks = shared::app::push_hook_function(&run.config, &run.aws.config);
    hooks.metrics.enabled = false;
    let hooks = Arc::new(hooks);
    let run = run.clone();
    ApiFront::start_checked(
        &[
            (PUSH_HOOK_ROUTE, RouteAuth::Public),
            (CREDENTIALS_ROUTE, RouteAuth::Iam),
        ],
        IamAuth::stand_in(region),
        move |request: lambda_http::Request| {
            let (run, hooks) = (run.clone(), hooks.clone());
            async move {
                let route = match request.request_context_ref() {
                    Some(RequestContext::ApiGatewayV2(context)) => context.route_key.clone(),
                    _ => None,
                };
                if route.as_deref() == Some(PUSH_HOOK_ROUTE) {
                    shared::entrypoints::push_hook::handler(&hooks, request)
                        .await
                        .expect("the push hook handler never fails")
                } else {
                    run.handle_api(request).await
                }
            }
        },
    )
    .await
    .map_err(|e| LocalRunError::Config(format!("serving the API: {e}")))
}

/// The export bucket of this serve on the stand-in, `<prefix>-export` (the stand-in makes tables and queues only).
async fn create_export_bucket(run: &LocalRun, prefix: &str) -> Result<String, LocalRunError> {
    let bucket = format!("{prefix}-export").to_lowercase();
    run.aws
        .s3()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .map_err(aws_failure("CreateBucket"))?;
    Ok(bucket)
}

/// The stack's outputs, under `template.yaml`'s keys: the queues the stand-in made, by their logical ids.
fn stack_outputs(run: &LocalRun, api_url: &str, bucket: &str) -> Vec<(&'static str, String)> {
    let (_, queues) = run.aws.declared();
    let queue = |logical_id: &str| {
        queues
            .contains(&logical_id)
            .then(|| run.aws.queue(logical_id).url.clone())
    };
    let mut outputs = vec![
        ("CredentialsApiUrl", api_url.to_owned()),
        (
            "PushHookUrl",
            format!("{api_url}/connections/{{connection_id}}/hooks/gitlab"),
        ),
        ("StateTableName", run.config.state_table.clone()),
        ("CommitsTableName", run.config.commits_table.clone()),
        ("SyncQueueUrl", run.config.sync_queue_url.clone()),
    ];
    for (key, logical_id) in [
        ("SyncDeadLetterQueueUrl", "SyncDeadLetterQueue"),
        ("ScheduleDeadLetterQueueUrl", "ScheduleDeadLetterQueue"),
        (
            "TurnRequestDeadLetterQueueUrl",
            "TurnRequestDeadLetterQueue",
        ),
    ] {
        if let Some(url) = queue(logical_id) {
            outputs.push((key, url));
        }
    }
    outputs.push(("ExportBucketName", bucket.to_owned()));
    outputs
}

/// Creates the stack (one resource that does nothing; the outputs are what counts) and waits until it is complete.
async fn create_stack(
    cloudformation: &aws_sdk_cloudformation::Client,
    name: &str,
    outputs: &[(&'static str, String)],
) -> Result<(), LocalRunError> {
    let outputs: Map<String, Value> = outputs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), json!({ "Value": value })))
        .collect();
    let template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "local-run --serve: where the local API, tables and queues are",
        "Resources": {"Serve": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs,
    });
    cloudformation
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .send()
        .await
        .map_err(|e| LocalRunError::Aws {
            step: "CreateStack",
            message: format!(
                "{} (a stack named {name} on the stand-in already? choose another --stack-name)",
                aws_sdk_cloudformation::error::DisplayErrorContext(&e)
            ),
        })?;
    // Bounded: the stand-in creates it at once; CloudFormation takes seconds.
    for _ in 0..300 {
        let status = stack_status(cloudformation, name).await?;
        match status.as_deref() {
            Some("CREATE_COMPLETE") => return Ok(()),
            Some("CREATE_IN_PROGRESS") => tokio::time::sleep(Duration::from_millis(100)).await,
            other => {
                return Err(LocalRunError::Aws {
                    step: "CreateStack",
                    message: format!("the stack {name} is {other:?}"),
                });
            }
        }
    }
    Err(LocalRunError::Aws {
        step: "CreateStack",
        message: format!("the stack {name} was not complete after 30 s"),
    })
}

/// The stack's status; `None` when there is no such stack.
pub async fn stack_status(
    cloudformation: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Result<Option<String>, LocalRunError> {
    match cloudformation
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
    {
        Ok(described) => Ok(described
            .stacks()
            .first()
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str().to_owned())
            .filter(|s| s != "DELETE_COMPLETE")),
        Err(e)
            if format!("{}", aws_sdk_cloudformation::error::DisplayErrorContext(&e))
                .contains("does not exist") =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_failure("DescribeStacks")(e)),
    }
}

async fn delete_stack(
    cloudformation: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Result<(), LocalRunError> {
    if name.is_empty() {
        return Ok(());
    }
    cloudformation
        .delete_stack()
        .stack_name(name)
        .send()
        .await
        .map_err(aws_failure("DeleteStack"))?;
    // Bounded, as the creation.
    for _ in 0..300 {
        if stack_status(cloudformation, name).await?.is_none() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(LocalRunError::Aws {
        step: "DeleteStack",
        message: format!("the stack {name} was still there after 30 s"),
    })
}

/// What the event source loops need: they build their own pipeline on the template's resources of `prefix`.
#[derive(Debug)]
struct EventSources {
    prefix: String,
    gitlab: GitLabTarget,
    region: String,
    bucket: String,
    tick_every: Duration,
    verbose: bool,
}

/// The event sources (sync queue, turn requests, the schedules) on a thread of their own, with a runtime and SDK
/// clients of their own: the scheduler's and the exporter's futures are Send, but not provably so to
/// `tokio::spawn` (rustc's higher-ranked lifetimes in async blocks), and a runtime that only `block_on`s needs no
/// Send. Until `stopped`.
fn spawn_event_sources(
    sources: EventSources,
    stopped: watch::Receiver<bool>,
) -> Result<std::thread::JoinHandle<()>, LocalRunError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LocalRunError::Config(format!("a runtime for the event sources: {e}")))?;
    std::thread::Builder::new()
        .name("local-serve-events".into())
        .spawn(move || {
            runtime.block_on(async move {
                let run = match LocalRun::resume(
                    &sources.prefix,
                    &sources.gitlab,
                    sources.verbose,
                    Tuning::default(),
                )
                .await
                {
                    Ok(run) => run,
                    Err(e) => {
                        eprintln!("serve: the event sources cannot start: {e}");
                        return;
                    }
                };
                tokio::join!(
                    drain_loop(&run, stopped.clone()),
                    turn_loop(&run, &sources.region, stopped.clone()),
                    tick_loop(&run, &sources.bucket, sources.tick_every, stopped),
                );
            });
        })
        .map_err(|e| LocalRunError::Config(format!("a thread for the event sources: {e}")))
}

/// `work`'s output, or `None` once the serve is stopping (`work` is then cut short at its next await).
async fn or_stop<T>(
    stopped: &mut watch::Receiver<bool>,
    work: impl Future<Output = T>,
) -> Option<T> {
    if *stopped.borrow() {
        return None;
    }
    tokio::select! {
        _ = stopped.changed() => None,
        done = work => Some(done),
    }
}

/// The sync queue's event source mapping: drained through the worker, continuously.
async fn drain_loop(run: &LocalRun, mut stopped: watch::Receiver<bool>) {
    while or_stop(&mut stopped, drain_step(run)).await.is_some() {}
}

async fn drain_step(run: &LocalRun) {
    if let Err(e) = run.drain().await {
        eprintln!("serve: draining the sync queue: {e}");
    }
    tokio::time::sleep(DRAIN_PAUSE).await;
}

/// The turn request queue's event source mapping (`BatchSize: 1`): each request to the scheduler as its SQS event;
/// handled ones deleted, a failed one delivered again later (then dead-lettered, as the queue's redrive says).
async fn turn_loop(run: &LocalRun, region: &str, mut stopped: watch::Receiver<bool>) {
    while or_stop(&mut stopped, turn_step(run, region))
        .await
        .is_some()
    {}
}

async fn turn_step(run: &LocalRun, region: &str) {
    let queue = run.aws.queue("TurnRequestQueue");
    let source = SqsSource {
        sqs: &run.aws.sqs,
        url: &queue.url,
    };
    let messages = match source.receive(1).await {
        Ok(messages) if !messages.is_empty() => messages,
        Ok(_) => return,
        Err(e) => {
            eprintln!("serve: receiving turn requests: {e}");
            tokio::time::sleep(DRAIN_PAUSE).await;
            return;
        }
    };
    let mut failed: Vec<String> = Vec::new();
    match run.schedule(sqs_event(&messages, &queue.arn, region)).await {
        Ok(report) => {
            for connection in &report.connections {
                eprintln!(
                    "serve: turn of {}: {} projects found, {} sync messages sent",
                    connection.connection_id, connection.discovered, connection.enqueued
                );
            }
        }
        Err(e) => {
            eprintln!("serve: a turn request failed: {e}");
            for message in &messages {
                failed.push(message.message_id().unwrap_or_default().to_owned());
            }
        }
    }
    let failed: Vec<&str> = failed.iter().map(String::as_str).collect();
    if let Err(e) = source
        .settle_batch(&messages, &failed, REDELIVERY_DELAY)
        .await
    {
        eprintln!("serve: settling turn requests: {e}");
    }
}

/// The schedules: every `every`, one scheduler tick (the drain loop syncs what it enqueues), then one analytics
/// export into the bucket through the exporter function as `shared::app` wires it (S3 on the stand-in).
async fn tick_loop(
    run: &LocalRun,
    bucket: &str,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let exporter = match exporter(run, bucket) {
        Ok(exporter) => exporter,
        Err(e) => {
            eprintln!("serve: no export: {e}");
            return;
        }
    };
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while or_stop(&mut stopped, ticks.tick()).await.is_some()
        && or_stop(&mut stopped, Box::pin(tick_step(run, &exporter, bucket)))
            .await
            .is_some()
    {}
}

/// The exporter function as `shared::app` wires it, into `bucket` on the stand-in, with no settle time (nothing
/// here is written by a clock that runs behind) and no metric lines.
fn exporter(run: &LocalRun, bucket: &str) -> Result<shared::app::ExporterFunction, LocalRunError> {
    let config = shared::config::exporter::ExportConfig::from_lookup(|name| match name {
        "STATE_TABLE" => Some(run.config.state_table.clone()),
        "COMMITS_TABLE" => Some(run.config.commits_table.clone()),
        "EXPORT_BUCKET" => Some(bucket.to_owned()),
        "EXPORT_SETTLE_SECONDS" => Some("0".into()),
        _ => None,
    })
    .map_err(|e| LocalRunError::Config(e.to_string()))?;
    let mut exporter = shared::app::exporter_function(&config, &run.aws.config);
    exporter.metrics.enabled = false;
    Ok(exporter)
}

/// Boxed by the caller: a tick's and an export's futures are large.
async fn tick_step(run: &LocalRun, exporter: &shared::app::ExporterFunction, bucket: &str) {
    eprintln!("serve: scheduler tick");
    if let Err(e) = run.tick().await {
        eprintln!("serve: the tick failed: {e}");
    }
    match exporter.run(time::OffsetDateTime::now_utc(), None).await {
        Ok(report) => eprintln!(
            "serve: export: {} rows in {} files to s3://{bucket}",
            report.rows, report.files
        ),
        Err(e) => eprintln!("serve: the export failed: {e}"),
    }
}

/// Points the demo GitLab's push hook at the front once the connection has a hook secret (`credentials.create`
/// makes it), and again whenever the secret changes.
async fn hook_loop(
    run: Arc<LocalRun>,
    sim: Arc<Simulator>,
    connection: ConnectionId,
    url: String,
    mut stopped: watch::Receiver<bool>,
) {
    let mut current: Option<String> = None;
    loop {
        let read = push_hook_secret(&run.aws, &run.config.secret_name_prefix, &connection);
        let Some(secret) = or_stop(&mut stopped, read).await else {
            return;
        };
        if let Ok(secret) = secret
            && current.as_deref() != Some(secret.as_str())
        {
            sim.set_push_hook(&url, &secret);
            eprintln!("serve: the demo GitLab's pushes to {connection} now reach POST {url}");
            current = Some(secret);
        }
        if or_stop(&mut stopped, tokio::time::sleep(HOOK_WATCH_EVERY))
            .await
            .is_none()
        {
            return;
        }
    }
}
