//! The artifact run: the five Lambda `bootstrap` files of a build (`<dir>/<LogicalId>/bootstrap`, the layout of
//! `sam build`) run as AWS runs them, each a process behind a Lambda Runtime API of its own
//! ([`crate::lambda_process`]), under `qemu-aarch64` when built for arm64, with exactly the environment
//! `template.yaml` gives it ([`crate::lambda_environment`]), against the stand-in's copies of the stack's
//! resources and the demo GitLab served as a private GitLab (TLS with a private CA, on a private address allowed
//! by the template's `GitLabPrivateNetworks` parameter, as a user with a private GitLab deploys it).
//!
//! Through the processes: a `credentials.create` API Gateway event, a scheduler tick, the SQS batches the worker
//! would receive (as the event source mapping delivers them), a push hook and its sync, and an export; then the
//! table and the export are compared with `git rev-list` of every demo project. [`run_pipeline`] is the test's
//! and the benchmark's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::{Value, json};
use shared::kernel::ids::ConnectionId;
use shared::kernel::push_hook::hook_path;

use crate::api_front::ApiFront;
use crate::aws_local::{AwsStandIn, template_path};
use crate::demo::{DEMO_TOKEN, Demo, differences_in_tables};
use crate::git_fixture::CommitSpec;
use crate::gitlab_sim::{DeliveryOutcome, Simulator};
use crate::lambda_environment::{
    Deployment, FunctionSpec, ResolveError, StandInResource, expand_template,
};
use crate::lambda_events::{SqsSource, credentials_api_event, scheduled_event, sqs_event};
use crate::lambda_process::{FunctionError, LambdaProcess, Launch};
use crate::local_run::{LocalRunError, PUSH_HOOK_ROUTE, REDELIVERY_DELAY, push_hook_secret};
use crate::loopback_alias::{LoopbackAlias, PRIVATE_TEST_ADDRESS};
use crate::tls_front::TlsFront;

/// The build folder the artifact run takes its binaries from.
pub const ARTIFACTS_VARIABLE: &str = "LAMBDA_ARTIFACTS";

/// The functions of the template, by logical id, each `<dir>/<LogicalId>/bootstrap`.
pub const FUNCTIONS: [&str; 5] = [
    "CredentialsApiFunction",
    "PushHookFunction",
    "SchedulerFunction",
    "SyncWorkerFunction",
    "ExporterFunction",
];

/// moto's account.
const ACCOUNT_ID: &str = "123456789012";

/// The template parameter of a deployment whose GitLab is on a private network.
const PRIVATE_NETWORKS_PARAMETER: &str = "GitLabPrivateNetworks";
/// The template's parameter of the exporter's settle time.
const EXPORT_SETTLE_PARAMETER: &str = "ExportSettleSeconds";

/// The demo project the push hook step pushes to.
const HOOK_PROJECT: &str = "partners/docs";

/// The queue drain stops after this many worker invocations or this long, so a run can never hang.
const DRAIN_INVOCATIONS: usize = 200;
const DRAIN_LIMIT: Duration = Duration::from_secs(10 * 60);

/// The folder of `LAMBDA_ARTIFACTS`, if set.
pub fn artifacts_dir() -> Option<PathBuf> {
    std::env::var_os(ARTIFACTS_VARIABLE).map(PathBuf::from)
}

/// What stopped the run.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactRunError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Function(#[from] FunctionError),
    #[error(transparent)]
    Stand(#[from] LocalRunError),
    #[error("{0}")]
    Setup(String),
    #[error("{0}")]
    Step(String),
}

/// The demo GitLab as a private GitLab: the simulator behind a TLS front with a private CA, on a private
/// address of the loopback interface.
#[derive(Debug)]
pub struct PrivateGitLab {
    pub demo: Demo,
    pub sim: Simulator,
    pub tls: TlsFront,
    _alias: LoopbackAlias,
}

impl PrivateGitLab {
    pub async fn start(monolith_commits: usize) -> Result<PrivateGitLab, ArtifactRunError> {
        let (demo, world) = Demo::build(monolith_commits);
        let sim = Simulator::start(world)
            .await
            .map_err(|e| ArtifactRunError::Setup(format!("starting the simulator: {e}")))?;
        let alias = LoopbackAlias::hold(PRIVATE_TEST_ADDRESS).map_err(ArtifactRunError::Setup)?;
        let tls = TlsFront::start_on(PRIVATE_TEST_ADDRESS.into(), sim.addr(), None)
            .await
            .map_err(|e| ArtifactRunError::Setup(format!("starting the TLS front: {e}")))?;
        Ok(PrivateGitLab {
            demo,
            sim,
            tls,
            _alias: alias,
        })
    }

    /// The `--parameter-overrides` of a user whose GitLab is this one.
    pub fn parameter_overrides(&self) -> Vec<(&'static str, String)> {
        vec![(
            PRIVATE_NETWORKS_PARAMETER,
            format!("{PRIVATE_TEST_ADDRESS}/32"),
        )]
    }
}

/// The stack as deployed on the stand-in: its resources and its functions' resolved configuration.
#[derive(Debug)]
pub struct ArtifactStack {
    pub aws: AwsStandIn,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub region: String,
    template: Value,
    pub functions: BTreeMap<String, FunctionSpec>,
}

impl ArtifactStack {
    /// Creates the stand-in's copies of the stack's tables, queues and bucket (named after `stack_name`) and
    /// resolves every function's configuration with `overrides`.
    pub async fn deploy(
        stack_name: &str,
        overrides: &[(&str, &str)],
    ) -> Result<ArtifactStack, ArtifactRunError> {
        let aws = AwsStandIn::provision_named(stack_name)
            .await
            .map_err(LocalRunError::from)?;
        let region = aws
            .config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let s3 = aws.s3();
        let bucket = format!("{stack_name}-exportbucket").to_lowercase();
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .map_err(|e| ArtifactRunError::Setup(format!("CreateBucket: {e:?}")))?;
        let template = expand_template(&template_path())?;
        let resources = stand_in_resources(&aws, &template, stack_name, &region, &bucket);
        let deployment = Deployment::new(
            template.clone(),
            stack_name,
            &region,
            ACCOUNT_ID,
            overrides,
            resources,
        )?;
        let functions = deployment.functions()?;
        Ok(ArtifactStack {
            aws,
            s3,
            bucket,
            region,
            template,
            functions,
        })
    }

    fn spec(&self, logical_id: &str) -> Result<&FunctionSpec, ArtifactRunError> {
        self.functions.get(logical_id).ok_or_else(|| {
            ArtifactRunError::Setup(format!("template.yaml declares no function {logical_id}"))
        })
    }

    /// How to start a function from `artifacts`: its binary and the environment Lambda would give it.
    pub fn launch(&self, logical_id: &str, artifacts: &Path) -> Result<Launch, ArtifactRunError> {
        let spec = self.spec(logical_id)?;
        let bootstrap = artifacts.join(logical_id).join("bootstrap");
        let task_root = bootstrap.parent().unwrap_or(artifacts).to_owned();
        let endpoint = crate::aws_local::endpoint().map_err(LocalRunError::from)?;
        Ok(Launch {
            function: logical_id.to_owned(),
            environment: spec.lambda_environment(&self.region, &endpoint, &task_root),
            bootstrap,
            function_arn: spec.function_arn.clone(),
        })
    }

    /// The `BatchSize` of the event source mapping that feeds `logical_id` (SQS's default, 10, without one).
    fn batch_size(&self, logical_id: &str) -> i32 {
        self.resources_of("AWS::Lambda::EventSourceMapping")
            .find(|(_, p)| p["FunctionName"]["Ref"] == logical_id)
            .and_then(|(_, p)| p["BatchSize"].as_i64())
            .map_or(10, |n| n as i32)
    }

    /// The event the template's EventBridge Scheduler schedule of `logical_id` delivers.
    fn schedule_event(&self, logical_id: &str) -> Result<Value, ArtifactRunError> {
        let (schedule, properties) = self
            .resources_of("AWS::Scheduler::Schedule")
            .find(|(_, p)| p["Target"]["Arn"]["Fn::GetAtt"][0] == logical_id)
            .ok_or_else(|| {
                ArtifactRunError::Setup(format!("template.yaml schedules no {logical_id}"))
            })?;
        let arn = format!(
            "arn:aws:scheduler:{}:{ACCOUNT_ID}:schedule/default/{schedule}",
            self.region
        );
        let input = properties["Target"]["Input"].as_str();
        Ok(scheduled_event(input, &arn, &self.region, ACCOUNT_ID))
    }

    fn resources_of<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        self.template["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(move |(_, r)| r["Type"] == kind)
            .map(|(id, r)| (id, &r["Properties"]))
    }

    /// Deletes the stand-in's tables and queues.
    pub async fn teardown(self) {
        self.aws.teardown().await;
    }
}

/// The stand-in's counterparts of the stack's tables, queues, bucket and functions, as `Ref` and `Fn::GetAtt`
/// give them in AWS.
fn stand_in_resources(
    aws: &AwsStandIn,
    template: &Value,
    stack_name: &str,
    region: &str,
    bucket: &str,
) -> BTreeMap<String, StandInResource> {
    let (tables, queues) = aws.declared();
    let mut resources = BTreeMap::new();
    for logical_id in tables {
        let name = aws.table(logical_id);
        let arn = format!("arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}");
        resources.insert(
            logical_id.to_owned(),
            StandInResource::new(name, &[("Arn", &arn)]),
        );
    }
    for logical_id in queues {
        let queue = aws.queue(logical_id);
        let name = queue.arn.rsplit(':').next().unwrap_or_default();
        let attributes = [
            ("Arn", queue.arn.as_str()),
            ("QueueName", name),
            ("QueueUrl", &queue.url),
        ];
        resources.insert(
            logical_id.to_owned(),
            StandInResource::new(&queue.url, &attributes),
        );
    }
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    resources.insert(
        "ExportBucket".into(),
        StandInResource::new(bucket, &[("Arn", &bucket_arn)]),
    );
    // CloudFormation names a function without FunctionName `<stack>-<logical id>-<suffix>`.
    let functions = template["Resources"].as_object().into_iter().flatten();
    for (logical_id, _) in functions.filter(|(_, r)| r["Type"] == "AWS::Lambda::Function") {
        let suffix = format!("{:012X}", rand::random::<u64>() >> 16);
        let name: String = format!("{stack_name}-{logical_id}")
            .chars()
            .take(64 - 13)
            .collect();
        let name = format!("{name}-{suffix}");
        let arn = format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}");
        resources.insert(
            logical_id.clone(),
            StandInResource::new(&name, &[("Arn", &arn)]),
        );
    }
    resources
}

/// A started function and its figures.
#[derive(Debug)]
struct Running {
    process: LambdaProcess,
    timeout: Duration,
    first_invocation: Mutex<Option<Duration>>,
}

impl Running {
    async fn invoke(&self, event: &Value) -> Result<Value, FunctionError> {
        let started = Instant::now();
        let answer = self.process.invoke(event, self.timeout).await;
        let mut first = self
            .first_invocation
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(started.elapsed());
        answer
    }
}

/// One function's figures of a run.
#[derive(Debug, Clone)]
pub struct FunctionFigures {
    pub logical_id: String,
    pub emulated: bool,
    /// Process start to its first `GET next`.
    pub init: Duration,
    pub first_invocation: Option<Duration>,
    pub peak_rss_kib: Option<u64>,
}

/// The five functions running against a deployed stack.
#[derive(Debug)]
pub struct ArtifactRun {
    pub stack: ArtifactStack,
    pub connection: String,
    functions: BTreeMap<String, Arc<Running>>,
}

impl ArtifactRun {
    /// Starts every function of [`FUNCTIONS`] from `artifacts`.
    pub async fn start(
        stack: ArtifactStack,
        artifacts: &Path,
        connection: &str,
    ) -> Result<ArtifactRun, ArtifactRunError> {
        let mut functions = BTreeMap::new();
        for logical_id in FUNCTIONS {
            let launch = stack.launch(logical_id, artifacts)?;
            let process = LambdaProcess::start(&launch).await?;
            let running = Running {
                process,
                timeout: Duration::from_secs(stack.spec(logical_id)?.timeout_seconds),
                first_invocation: Mutex::new(None),
            };
            functions.insert(logical_id.to_owned(), Arc::new(running));
        }
        Ok(ArtifactRun {
            stack,
            connection: connection.to_owned(),
            functions,
        })
    }

    fn function(&self, logical_id: &str) -> &Arc<Running> {
        &self.functions[logical_id]
    }

    /// `credentials.create` through the credentials API function, as API Gateway invokes it: the reply's
    /// status and JSON body.
    pub async fn create_credential(
        &self,
        gitlab: &PrivateGitLab,
    ) -> Result<(u16, Value), ArtifactRunError> {
        let body = json!({
            "label": "artifact run",
            "settings": {"base_url": gitlab.tls.base_url, "ca_bundle": gitlab.tls.ca_pem},
            "secrets": {"api_token": DEMO_TOKEN},
        });
        let event =
            credentials_api_event(&self.connection, "POST", "credentials.create", Some(&body));
        let reply = self
            .function("CredentialsApiFunction")
            .invoke(&event)
            .await?;
        let status = reply["statusCode"].as_u64().unwrap_or(0) as u16;
        let body = reply["body"]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// One scheduler tick, as the template's schedule delivers it: the tick's report.
    pub async fn tick(&self) -> Result<Value, ArtifactRunError> {
        let event = self.stack.schedule_event("SchedulerFunction")?;
        Ok(self.function("SchedulerFunction").invoke(&event).await?)
    }

    /// Delivers the sync queue's messages to the worker as its event source mapping does (batches of the
    /// template's `BatchSize`; what the worker does not report as a batch item failure is deleted, the failures
    /// come back after [`REDELIVERY_DELAY`]) until nothing is visible, in flight or delayed: the invocations.
    pub async fn drain(&self) -> Result<usize, ArtifactRunError> {
        let queue = self.stack.aws.queue("SyncQueue");
        let source = SqsSource {
            sqs: &self.stack.aws.sqs,
            url: &queue.url,
        };
        let batch_size = self.stack.batch_size("SyncWorkerFunction");
        let worker = self.function("SyncWorkerFunction");
        let started = Instant::now();
        let mut invocations = 0;
        while invocations < DRAIN_INVOCATIONS && started.elapsed() < DRAIN_LIMIT {
            let messages = source.receive(batch_size).await?;
            if messages.is_empty() {
                if source.is_settled().await? {
                    return Ok(invocations);
                }
                continue;
            }
            let answer = worker
                .invoke(&sqs_event(&messages, &queue.arn, &self.stack.region))
                .await?;
            invocations += 1;
            let failed: Vec<&str> = answer["batchItemFailures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["itemIdentifier"].as_str())
                .collect();
            source
                .settle_batch(&messages, &failed, REDELIVERY_DELAY)
                .await?;
        }
        Err(ArtifactRunError::Step(format!(
            "the sync queue still held messages after {invocations} worker invocations and {:?}",
            started.elapsed()
        )))
    }

    /// A push to [`HOOK_PROJECT`] whose GitLab push hook goes through API Gateway's route to the push hook
    /// function, then the drain: the new head.
    pub async fn push_and_sync(&self, gitlab: &PrivateGitLab) -> Result<String, ArtifactRunError> {
        let hooks = self.function("PushHookFunction").clone();
        let front = ApiFront::start_relay(&[PUSH_HOOK_ROUTE], move |event| {
            let hooks = hooks.clone();
            async move { hooks.invoke(&event).await.ok() }
        })
        .await
        .map_err(|e| ArtifactRunError::Setup(format!("serving the push hook route: {e}")))?;
        let connection = ConnectionId::parse(&self.connection).ok_or_else(|| {
            ArtifactRunError::Setup(format!("{:?} is no connection id", self.connection))
        })?;
        let prefix = self
            .stack
            .spec("PushHookFunction")?
            .variables
            .get("SECRET_NAME_PREFIX")
            .cloned();
        let prefix = prefix.ok_or_else(|| {
            ArtifactRunError::Setup("the push hook has no SECRET_NAME_PREFIX".into())
        })?;
        let secret = push_hook_secret(&self.stack.aws, &prefix, &connection).await?;
        gitlab.sim.set_push_hook(
            &format!("{}{}", front.base_url(), hook_path(&connection)),
            &secret,
        );
        let project = gitlab
            .sim
            .with_world(|w| w.find_project(HOOK_PROJECT))
            .ok_or_else(|| ArtifactRunError::Setup(format!("the demo has no {HOOK_PROJECT}")))?;
        let repo = &gitlab.demo.project(HOOK_PROJECT).repo;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let pushed = gitlab
            .sim
            .push(project, "main", |_| {
                repo.commit(CommitSpec::new("Docs: a push through the push hook", now));
            })
            .await;
        // GitLab gives a hook 10 s to answer.
        let deliveries = gitlab
            .sim
            .settled_hook_deliveries(Duration::from_secs(15))
            .await;
        gitlab.sim.clear_hook();
        front.stop().await;
        let outcome = pushed
            .delivery
            .and_then(|id| deliveries.into_iter().find(|d| d.id == id))
            .map(|d| d.outcome);
        if !matches!(
            outcome,
            Some(DeliveryOutcome::Answered {
                status: 200..=299,
                ..
            })
        ) {
            return Err(ArtifactRunError::Step(format!(
                "the push hook was not accepted: {outcome:?}"
            )));
        }
        self.drain().await?;
        Ok(pushed.after)
    }

    /// One export, as the template's schedule delivers it: the export's report.
    pub async fn export(&self) -> Result<Value, ArtifactRunError> {
        let event = self.stack.schedule_event("ExporterFunction")?;
        Ok(self.function("ExporterFunction").invoke(&event).await?)
    }

    /// The commits the export bucket's Parquet files hold on a default branch (`removed_at` null), by project.
    pub async fn exported_commits(
        &self,
    ) -> Result<BTreeMap<i64, BTreeSet<String>>, ArtifactRunError> {
        let failed =
            |step: &str, e: &dyn std::fmt::Debug| ArtifactRunError::Step(format!("{step}: {e:?}"));
        let mut commits: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
        let listed = self
            .stack
            .s3
            .list_objects_v2()
            .bucket(&self.stack.bucket)
            // The dataset; the exporter's run record lies beside it.
            .prefix("commits/")
            .send()
            .await;
        let listed = listed.map_err(|e| failed("ListObjectsV2", &e))?;
        for object in listed.contents() {
            let key = object.key().unwrap_or_default();
            let body = self
                .stack
                .s3
                .get_object()
                .bucket(&self.stack.bucket)
                .key(key)
                .send()
                .await;
            let body = body.map_err(|e| failed("GetObject", &e))?;
            let bytes = body
                .body
                .collect()
                .await
                .map_err(|e| failed("GetObject body", &e))?
                .into_bytes();
            let reader = SerializedFileReader::new(bytes).map_err(|e| failed(key, &e))?;
            for row in reader.get_row_iter(None).map_err(|e| failed(key, &e))? {
                let row = row.map_err(|e| failed(key, &e))?;
                let column = |name: &str| {
                    row.get_column_iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, f)| f.clone())
                };
                if let (Some(Field::Long(project)), Some(Field::Str(sha)), Some(Field::Null)) =
                    (column("project_id"), column("sha"), column("removed_at"))
                {
                    commits.entry(project).or_default().insert(sha);
                }
            }
        }
        Ok(commits)
    }

    /// Stops every function: each one's figures.
    pub async fn stop(self) -> (ArtifactStack, Vec<FunctionFigures>) {
        let mut figures = Vec::new();
        for (logical_id, running) in self.functions {
            let first_invocation = *running
                .first_invocation
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let Ok(running) = Arc::try_unwrap(running) else {
                continue;
            };
            let (init, emulated) = (running.process.init_duration, running.process.emulated);
            let stopped = running.process.stop().await;
            figures.push(FunctionFigures {
                logical_id,
                emulated,
                init,
                first_invocation,
                peak_rss_kib: stopped.peak_rss_kib,
            });
        }
        (self.stack, figures)
    }
}

/// What the whole run found.
#[derive(Debug)]
pub struct PipelineReport {
    /// Progress lines, for the test's output.
    pub steps: Vec<String>,
    /// Every check that failed; empty when the artifacts ran the pipeline right.
    pub mismatches: Vec<String>,
    pub figures: Vec<FunctionFigures>,
}

/// The whole run on the artifacts in `artifacts`, with a demo GitLab whose biggest project has
/// `monolith_commits` commits, on a stack named `stack_name`.
pub async fn run_pipeline(
    artifacts: &Path,
    stack_name: &str,
    monolith_commits: usize,
) -> Result<PipelineReport, ArtifactRunError> {
    let gitlab = PrivateGitLab::start(monolith_commits).await?;
    let mut overrides = gitlab.parameter_overrides();
    // Every write has been drained before the export runs, so nothing is in flight for the settle time to wait for
    // (the local run exports with none too).
    overrides.push((EXPORT_SETTLE_PARAMETER, "0".to_owned()));
    let overrides: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let stack = ArtifactStack::deploy(stack_name, &overrides).await?;
    let run = ArtifactRun::start(stack, artifacts, &format!("{stack_name}-connection")).await?;
    let mut steps = Vec::new();
    let mut mismatches = Vec::new();

    let (status, reply) = run.create_credential(&gitlab).await?;
    steps.push(format!(
        "credentials.create: {status} {}",
        reply["credential"]["status"]
    ));
    if status != 201 {
        return Err(ArtifactRunError::Step(format!(
            "credentials.create answered {status}: {reply}"
        )));
    }
    let tick = run.tick().await?;
    let enqueued: u64 = tick["connections"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["enqueued"].as_u64())
        .sum();
    steps.push(format!("scheduler tick: {enqueued} sync messages"));
    if enqueued == 0 {
        mismatches.push(format!("the tick enqueued nothing: {tick}"));
    }
    let invocations = run.drain().await?;
    steps.push(format!(
        "sync worker: {invocations} invocations until the queue was empty"
    ));
    let head = run.push_and_sync(&gitlab).await?;
    steps.push(format!("push hook: {} pushed, then synced", &head[..8]));
    let export = run.export().await?;
    steps.push(format!("export: {export}"));

    mismatches.extend(
        differences_in_tables(&gitlab.demo, &gitlab.sim, &run.stack.aws, &run.connection).await,
    );
    let exported = run.exported_commits().await?;
    for project in gitlab.demo.expected() {
        let id = gitlab
            .sim
            .with_world(|w| w.find_project(&project.path_with_namespace));
        let held = id
            .and_then(|id| exported.get(&(id as i64)))
            .cloned()
            .unwrap_or_default();
        let truth: BTreeSet<String> = project.truth().into_iter().collect();
        if held != truth {
            mismatches.push(format!(
                "the export holds {} commits of {}, git {}",
                held.len(),
                project.path_with_namespace,
                truth.len()
            ));
        }
    }
    let dead = SqsSource {
        sqs: &run.stack.aws.sqs,
        url: &run.stack.aws.queue("SyncDeadLetterQueue").url,
    }
    .counts()
    .await?;
    if dead != (0, 0, 0) {
        mismatches.push(format!("the dead-letter queue holds messages: {dead:?}"));
    }

    let (stack, figures) = run.stop().await;
    stack.teardown().await;
    gitlab.sim.shutdown().await;
    Ok(PipelineReport {
        steps,
        mismatches,
        figures,
    })
}
