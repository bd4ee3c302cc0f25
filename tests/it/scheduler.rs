//! The scheduler end to end: credentials created through the credentials service, the moto server's state table,
//! secrets and sync queue through the real SDK, and the GitLab simulator over real HTTP. The tests by section:
//!
//! - [`enqueued`]: what a tick enqueues and records: eligible projects, patterns, instances, gone marks, refusals;
//! - [`ticks`]: ticks that meet: a second delivery, overlapping ticks, a connection another tick holds;
//! - [`failures`]: failures that stay in their place: refused tokens, GitLabs down, queue and store failures;
//! - [`limits`]: the tick's time and memory: slow and hostile GitLabs, a tick that crashed.

mod enqueued;
mod failures;
mod limits;
mod ticks;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Context, LambdaEvent};
use shared::aws::credential_store::DynamoCredentialStore;
use shared::aws::project_store::DynamoProjectStore;
use shared::aws::secrets::SecretsManagerVault;
use shared::aws::sync_queue::SqsSyncQueue;
use shared::credentials::model::LastSync;
use shared::credentials::{
    CreateInput, CredentialRecord, CredentialStatus, CredentialStore, Credentials, GitLabVerifier,
};
use shared::entrypoints::scheduler::handle;
use shared::gitlab::GitLabConnector;
use shared::gitlab::HttpClients;
use shared::kernel::ids::{ConnectionId, CredentialId};
use shared::kernel::instance::InstanceUrl;
use shared::kernel::sync_message::SyncMessage;
use shared::scheduler::{
    BatchQueue, ConnectionReport, ScheduleItems, Scheduler, SchedulerOptions, SendPolicy,
    TickReport,
};
use shared::testing::credentials::create_input;
use testkit::aws_local::AwsStandIn;
use testkit::clients::{fast_retry, local_http};
use testkit::git_fixture::GitRepo;
use testkit::gitlab_sim::{
    Membership, Namespace, ProjectSpec, Simulator, TokenSpec, World, access,
};

static NEXT_PREFIX: AtomicU32 = AtomicU32::new(0);

type Tick<Q, S = DynamoProjectStore> =
    Scheduler<DynamoProjectStore, DynamoCredentialStore, SecretsManagerVault, Q, S>;

/// The AWS side of a test and the way credentials come in.
struct Env {
    aws: AwsStandIn,
    http: Arc<HttpClients>,
    prefix: String,
}

impl Env {
    async fn new() -> Env {
        Env {
            aws: AwsStandIn::provision().await.expect("stand-in"),
            http: Arc::new(local_http()),
            prefix: format!(
                "it-scheduler-{}-{}/",
                std::process::id(),
                NEXT_PREFIX.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    fn table(&self) -> String {
        self.aws.table("StateTable").to_owned()
    }

    /// A credential created the way users bring it: verified against GitLab, token into Secrets Manager.
    async fn connect(&self, connection: &str, sim: &Simulator, token: &str) -> String {
        self.connect_scoped(connection, sim, token, &[], &[]).await
    }

    /// [`Env::connect`] with include/exclude patterns.
    async fn connect_scoped(
        &self,
        connection: &str,
        sim: &Simulator,
        token: &str,
        include: &[&str],
        exclude: &[&str],
    ) -> String {
        let credentials = Credentials {
            store: DynamoCredentialStore::new(self.aws.dynamodb.clone(), self.table()),
            vault: SecretsManagerVault::new(self.aws.secrets.clone()),
            verifier: GitLabVerifier::new(self.http.clone(), 1_000_000),
            secret_name_prefix: self.prefix.clone(),
            default_base_url: InstanceUrl::parse(&sim.base_url()).unwrap(),
        };
        credentials
            .create(
                &ConnectionId::parse(connection).unwrap(),
                CreateInput {
                    include: include.iter().map(|p| (*p).to_owned()).collect(),
                    exclude: exclude.iter().map(|p| (*p).to_owned()).collect(),
                    ..create_input(token)
                },
            )
            .await
            .expect("credential created")
            .credential_id
            .as_str()
            .to_owned()
    }

    fn sqs(&self) -> SqsSyncQueue {
        SqsSyncQueue::new(self.aws.sqs.clone(), &self.aws.queue("SyncQueue").url)
    }

    fn scheduler<Q: BatchQueue>(&self, queue: Q, options: SchedulerOptions) -> Tick<Q> {
        Scheduler::new(
            DynamoProjectStore::new(self.aws.dynamodb.clone(), self.table()),
            DynamoCredentialStore::new(self.aws.dynamodb.clone(), self.table()),
            SecretsManagerVault::new(self.aws.secrets.clone()),
            queue,
            GitLabConnector::new(self.http.clone(), 1_000_000),
            options,
        )
    }

    /// Every message on the sync queue, deleted as it is read.
    async fn drain(&self) -> Vec<SyncMessage> {
        let mut all = Vec::new();
        // Bounded: far more rounds of ten than any test enqueues.
        for _ in 0..10_000 {
            let received = self.aws.take_messages("SyncQueue").await;
            if received.is_empty() {
                return all;
            }
            all.extend(
                received
                    .iter()
                    .map(|m| SyncMessage::from_json(m.body().unwrap()).unwrap()),
            );
        }
        panic!("the sync queue never ran empty");
    }

    /// The scheduler's item of a project (metadata, lease, gone mark).
    async fn schedule_item(
        &self,
        connection: &str,
        project: u64,
    ) -> HashMap<String, AttributeValue> {
        self.item(&format!("CONN#{connection}"), &format!("SCHED#{project}"))
            .await
    }

    /// The sync's item of a project.
    async fn sync_item(&self, connection: &str, project: u64) -> HashMap<String, AttributeValue> {
        self.item(&format!("CONN#{connection}"), &format!("PROJ#{project}"))
            .await
    }

    async fn item(&self, pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
        self.aws.state_item(pk, sk).await
    }

    /// An update of an item, behind the scheduler's back; the caller adds the expression.
    fn update_item(&self, pk: &str, sk: &str) -> UpdateItemFluentBuilder {
        self.aws
            .dynamodb
            .update_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
    }

    fn projects(&self) -> DynamoProjectStore {
        DynamoProjectStore::new(self.aws.dynamodb.clone(), self.table())
    }

    async fn credential_status(&self, connection: &str, id: &str) -> CredentialStatus {
        self.credential(connection, id).await.status
    }

    /// A credential as stored, with its sync summary.
    async fn credential(&self, connection: &str, id: &str) -> CredentialRecord {
        DynamoCredentialStore::new(self.aws.dynamodb.clone(), self.table())
            .get(
                &ConnectionId::parse(connection).unwrap(),
                &CredentialId::parse(id).unwrap(),
            )
            .await
            .unwrap()
            .unwrap()
    }
}

fn options() -> SchedulerOptions {
    SchedulerOptions {
        retry: fast_retry(),
        send: SendPolicy {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            ..SendPolicy::default()
        },
        ..SchedulerOptions::default()
    }
}

/// `events/eventbridge-schedule.json`, with its scheduled time replaced when `time` is given.
fn schedule_event(time: Option<&str>) -> LambdaEvent<serde_json::Value> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../events/eventbridge-schedule.json"),
    )
    .unwrap();
    let mut event: serde_json::Value = serde_json::from_str(&text).unwrap();
    if let Some(time) = time {
        event["time"] = serde_json::Value::from(time);
        event["id"] = serde_json::Value::from(format!("event-{time}"));
    }
    LambdaEvent::new(event, Context::default())
}

/// The schedule event of the tick at `time`.
fn tick_at(time: &str) -> LambdaEvent<serde_json::Value> {
    schedule_event(Some(time))
}

/// The tick at `time`, through the Lambda handler.
async fn run_tick<Q: BatchQueue, S: ScheduleItems>(
    scheduler: &Tick<Q, S>,
    time: &str,
) -> TickReport {
    handle(scheduler, tick_at(time)).await.unwrap()
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

fn ids(messages: &[SyncMessage]) -> Vec<u64> {
    let mut ids: Vec<u64> = messages.iter().map(|m| m.project_id()).collect();
    ids.sort_unstable();
    ids
}

/// A tick's connection reports by connection id.
fn by_connection(report: &TickReport) -> BTreeMap<&str, &ConnectionReport> {
    report
        .connections
        .iter()
        .map(|c| (c.connection_id.as_str(), c))
        .collect()
}

/// Asserts that the connection's turn failed with `code` (its first error ends with it).
#[track_caller]
fn assert_failed_with(part: &ConnectionReport, code: &str) {
    assert!(
        part.errors.first().is_some_and(|e| e.ends_with(code)),
        "{part:?}"
    );
}

/// What the simulator itself says the user can sync: projects it reaches with at least Reporter access (what
/// reading a repository needs) and a repository with a branch.
fn eligible(sim: &Simulator, user: u64, repo: &std::path::Path) -> Vec<u64> {
    sim.with_world(|w| {
        w.projects
            .iter()
            .filter(|(id, p)| {
                w.project_access(user, **id)
                    .is_some_and(|a| a >= access::REPORTER)
                    && p.repo.as_deref() == Some(repo)
            })
            .map(|(id, _)| *id)
            .collect()
    })
}

const TOKEN: &str = "glpat-scheduler-token";

/// The organisation of the issue: three levels of nested subgroups, a group with 250 projects, a project shared
/// into two groups, an archived project, an empty repository, a project the user is a direct member of, a group
/// where the user is only a Reporter, and a project shared with the user's group at Guest.
struct Organisation {
    user: u64,
    shared_project: u64,
    archived: u64,
    empty: u64,
    deep: u64,
}

fn organisation(world: &mut World, repo: &std::path::Path) -> Organisation {
    let user = world.add_user("importer");
    world.add_token(TokenSpec::new(TOKEN, user, &["read_api"]));
    let with_repo = |ns, path: &str| ProjectSpec::new(ns, path, Some(repo), "main");

    let top = world.add_group("platform", None);
    let level1 = world.add_group("backend", Some(top));
    let level2 = world.add_group("services", Some(level1));
    let level3 = world.add_group("billing", Some(level2));
    world.add_member(user, Membership::Group(top), access::DEVELOPER);
    for (group, name) in [
        (top, "portal"),
        (level1, "api"),
        (level2, "auth"),
        (level3, "ledger"),
    ] {
        world.add_project(with_repo(Namespace::Group(group), name));
    }
    let deep = world.add_project(with_repo(Namespace::Group(level3), "invoices"));
    let archived = world.add_project(with_repo(Namespace::Group(level1), "legacy").archived());
    let empty = world.add_project(ProjectSpec::new(
        Namespace::Group(level2),
        "empty",
        None,
        "main",
    ));

    let big = world.add_group("monorepo-farm", None);
    world.add_member(user, Membership::Group(big), access::MAINTAINER);
    for i in 0..250 {
        world.add_project(with_repo(Namespace::Group(big), &format!("svc-{i:03}")));
    }

    // A project outside the user's groups, shared into two of them.
    let outside = world.add_group("partners", None);
    let shared_project = world.add_project(with_repo(Namespace::Group(outside), "sdk"));
    world.share_project(shared_project, top, access::DEVELOPER);
    world.share_project(shared_project, big, access::DEVELOPER);
    // Not reachable at all.
    world.add_project(with_repo(Namespace::Group(outside), "secret"));

    // A project the user is a direct member of, in a group the user does not belong to.
    let elsewhere = world.add_group("contractors", None);
    let direct = world.add_project(with_repo(Namespace::Group(elsewhere), "tooling"));
    world.add_member(user, Membership::Project(direct), access::DEVELOPER);
    // The user's own namespace.
    world.add_project(with_repo(Namespace::User(user), "dotfiles"));
    // Only a Reporter here: enough to read code.
    let docs = world.add_group("docs", None);
    world.add_member(user, Membership::Group(docs), access::REPORTER);
    world.add_project(with_repo(Namespace::Group(docs), "handbook"));
    // Shared with the user's group at Guest: visible, not readable, never listed at Reporter.
    let guest_only = world.add_project(with_repo(Namespace::Group(outside), "roadmap"));
    world.share_project(guest_only, top, access::GUEST);
    Organisation {
        user,
        shared_project,
        archived,
        empty,
        deep,
    }
}

fn repo() -> GitRepo {
    let repo = GitRepo::init("main");
    repo.fast_import_history("main", 3, None);
    repo
}

/// The organisation on its simulator, connected as `acme` with one credential.
struct Acme {
    env: Env,
    sim: Simulator,
    org: Organisation,
    credential: String,
    /// What the simulator says the credential can sync ([`eligible`]).
    expected: Vec<u64>,
    _repo: GitRepo,
}

impl Acme {
    async fn start() -> Acme {
        Acme::start_with(&[], &[], |_, _| ()).await.0
    }

    /// [`Acme::start`] with the credential's include/exclude patterns, and `extend` adding to the simulator's world
    /// (with the repository's path) before it starts.
    async fn start_with<T>(
        include: &[&str],
        exclude: &[&str],
        extend: impl FnOnce(&mut World, &std::path::Path) -> T,
    ) -> (Acme, T) {
        let env = Env::new().await;
        let repo = repo();
        let mut world = World::new();
        let org = organisation(&mut world, repo.path());
        let extended = extend(&mut world, repo.path());
        let sim = Simulator::start(world).await.unwrap();
        let credential = env
            .connect_scoped("acme", &sim, TOKEN, include, exclude)
            .await;
        let expected = eligible(&sim, org.user, repo.path());
        let acme = Acme {
            env,
            sim,
            org,
            credential,
            expected,
            _repo: repo,
        };
        (acme, extended)
    }

    /// The projects of [`Acme::expected`] that `keep` keeps, in its order.
    fn expected_where(&self, keep: impl Fn(u64) -> bool) -> Vec<u64> {
        self.expected
            .iter()
            .copied()
            .filter(|id| keep(*id))
            .collect()
    }

    /// The sync summary a tick wrote on the credential.
    async fn last_sync(&self) -> LastSync {
        self.env
            .credential("acme", &self.credential)
            .await
            .last_sync
            .expect("a tick wrote the summary")
    }

    /// A scheduler of `acme` sending to the sync queue.
    fn scheduler(&self, options: SchedulerOptions) -> Tick<SqsSyncQueue> {
        self.env.scheduler(self.env.sqs(), options)
    }

    async fn stop(self) {
        self.sim.shutdown().await;
        self.env.aws.teardown().await;
    }
}
