//! The scheduler end to end: credentials created through the credentials service, the moto server's state table,
//! secrets and sync queue through the real SDK, and the GitLab simulator over real HTTP.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Context, LambdaEvent};
use shared::aws::credential_store::DynamoCredentialStore;
use shared::aws::project_store::DynamoProjectStore;
use shared::aws::secrets::SecretsManagerVault;
use shared::aws::sync_queue::SqsSyncQueue;
use shared::aws::sync_state_store::DynamoSyncStateStore;
use shared::credentials::{
    ConnectionId, CreateInput, CredentialId, CredentialRecord, CredentialStatus, CredentialStore,
    Credentials, GitLabVerifier,
};
use shared::entrypoints::scheduler::handle;
use shared::gitlab::GitLabConnector;
use shared::gitlab::HttpClients;
use shared::kernel::{StoreError, SyncMessage};
use shared::scheduler::{
    BatchEntry, BatchQueue, ConnectionReport, ConnectionTurns, DiscoveredProject, EnqueueLease,
    FailedEntry, ProjectRecord, ProjectStatus, ScheduleItems, Scheduler, SchedulerOptions,
    SendPolicy, TickReport,
};
use shared::sync::{ProjectKey, SyncStateStore};
use shared::testing::credentials::create_input;
use testkit::aws_local::AwsStandIn;
use testkit::clients::{fast_retry, local_http};
use testkit::git_fixture::GitRepo;
use testkit::gitlab_sim::{
    Fault, Gate, Hostile, Membership, Namespace, ProjectSpec, Simulator, TokenSpec, World, access,
    routes,
};

static NEXT_PREFIX: AtomicU32 = AtomicU32::new(0);

type Tick<Q> = Scheduler<DynamoProjectStore, DynamoCredentialStore, SecretsManagerVault, Q>;

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
            default_base_url: shared::kernel::instance::InstanceUrl::parse(&sim.base_url())
                .unwrap(),
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

/// What the simulator itself says the user can sync: projects it reaches with at least Reporter access (what
/// reading a repository needs) and a repository with a branch.
/// A tick's connection reports by connection id.
fn by_connection(report: &TickReport) -> BTreeMap<&str, &ConnectionReport> {
    report
        .connections
        .iter()
        .map(|c| (c.connection_id.as_str(), c))
        .collect()
}

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

#[tokio::test]
async fn one_message_per_eligible_project_checked_against_the_simulator() {
    let env = Env::new().await;
    let repo = repo();
    let mut world = World::new();
    let org = organisation(&mut world, repo.path());
    let sim = Simulator::start(world).await.unwrap();
    let credential = env.connect("acme", &sim, TOKEN).await;
    sim.reset_counts();

    let scheduler = env.scheduler(env.sqs(), options());
    let report = handle(&scheduler, schedule_event(None)).await.unwrap();
    let messages = env.drain().await;

    let expected = eligible(&sim, org.user, repo.path());
    assert_eq!(
        expected.len(),
        4 + 1 + 1 + 250 + 1 + 1 + 1 + 1,
        "the fixture itself"
    );
    assert_eq!(
        ids(&messages),
        expected,
        "exactly one message per eligible project"
    );
    assert!(ids(&messages).contains(&org.shared_project));
    assert!(ids(&messages).contains(&org.deep));
    assert!(
        ids(&messages).contains(&org.archived),
        "archived, not yet imported"
    );
    assert!(!ids(&messages).contains(&org.empty));
    let by_id: BTreeMap<u64, &SyncMessage> = messages.iter().map(|m| (m.project_id(), m)).collect();
    let deep = by_id[&org.deep];
    assert_eq!(deep.connection_id().as_str(), "acme");
    assert_eq!(deep.credential_id().as_str(), credential);
    assert_eq!(
        deep.path_with_namespace(),
        "platform/backend/services/billing/invoices"
    );
    assert_eq!(deep.default_branch(), "main");

    let part = &report.connections[0];
    assert_eq!(
        part.discovered,
        expected.len() + 1,
        "the empty repository is discovered too"
    );
    assert_eq!(
        (part.enqueued, part.empty, part.not_sent),
        (expected.len(), 1, 0)
    );
    assert!(part.errors.is_empty(), "{:?}", part.errors);
    assert_eq!(part.sqs_calls, expected.len().div_ceil(10) as u64);

    // Requests close to the number of pages: one page of groups, the three top-most groups' projects (1, 3 and 1
    // pages; subgroups are never asked again; 7, 251 and 1 projects), and 3 pages of member projects (260).
    assert_eq!(sim.request_count(routes::GROUPS), 1);
    assert_eq!(sim.request_count(routes::GROUP_PROJECTS), 1 + 3 + 1);
    assert_eq!(sim.request_count(routes::PROJECTS), 3);
    assert_eq!(sim.total_requests(), 9);
    assert_eq!(part.gitlab_requests, 9);

    // The metadata is on the scheduler's own item of each project; the sync's item is not written.
    let item = env.schedule_item("acme", org.deep).await;
    assert_eq!(
        text(&item, "path_with_namespace").as_deref(),
        Some("platform/backend/services/billing/invoices")
    );
    assert_eq!(
        text(&item, "gitlab_default_branch").as_deref(),
        Some("main")
    );
    assert_eq!(
        text(&item, "credential_id").as_deref(),
        Some(credential.as_str())
    );
    assert!(
        text(&item, "web_url")
            .unwrap()
            .ends_with("/platform/backend/services/billing/invoices")
    );
    assert!(text(&item, "last_activity_at").is_some() && text(&item, "seen_at").is_some());
    assert!(!item.contains_key("last_head") && !item.contains_key("default_branch"));
    assert!(env.sync_item("acme", org.deep).await.is_empty());
    let archived = env.schedule_item("acme", org.archived).await;
    assert_eq!(archived.get("archived"), Some(&AttributeValue::Bool(true)));
    let empty = env.schedule_item("acme", org.empty).await;
    assert_eq!(empty.get("empty_repo"), Some(&AttributeValue::Bool(true)));
    assert!(!empty.contains_key("enqueued_at"));
    env.aws.teardown().await;
}

#[tokio::test]
async fn a_tick_delivered_twice_sends_nothing_more() {
    let env = Env::new().await;
    let repo = repo();
    let mut world = World::new();
    let org = organisation(&mut world, repo.path());
    let sim = Simulator::start(world).await.unwrap();
    env.connect("acme", &sim, TOKEN).await;
    let expected = eligible(&sim, org.user, repo.path());

    let scheduler = env.scheduler(env.sqs(), options());
    let first = handle(&scheduler, schedule_event(None)).await.unwrap();
    sim.reset_counts();
    // EventBridge delivers the same tick again (at least once), even concurrently.
    let (second, third) = tokio::join!(
        handle(&scheduler, schedule_event(None)),
        handle(&scheduler, schedule_event(None))
    );
    assert_eq!(first.enqueued(), expected.len());
    assert!(second.unwrap().duplicate && third.unwrap().duplicate);
    assert_eq!(
        sim.total_requests(),
        0,
        "a duplicate does not even ask GitLab"
    );

    // The next tick comes while the messages are still in flight: nothing is enqueued twice.
    let next: TickReport = handle(&scheduler, schedule_event(Some("2026-11-24T22:05:00Z")))
        .await
        .unwrap();
    assert!(!next.duplicate);
    assert_eq!(next.enqueued(), 0);
    assert_eq!(
        next.connections[0].writes, 0,
        "nothing changed: nothing written"
    );
    assert_eq!(
        next.connections[0].in_flight + next.connections[0].archived_done,
        expected.len()
    );
    assert_eq!(
        ids(&env.drain().await),
        expected,
        "one message each, over three deliveries and two ticks"
    );
    env.aws.teardown().await;
}

/// One connection's token is revoked, another's GitLab answers 503 to everything, a third's is too slow, a
/// fourth is fine.
#[tokio::test]
async fn a_revoked_token_and_a_failing_gitlab_do_not_stop_the_others() {
    let env = Env::new().await;
    let repo = repo();
    let mut world = World::new();
    let org = organisation(&mut world, repo.path());
    let revoked_user = world.add_user("former-employee");
    let revoked_token =
        world.add_token(TokenSpec::new("glpat-revoked", revoked_user, &["read_api"]));
    let own = world.add_group("former", None);
    world.add_member(revoked_user, Membership::Group(own), access::OWNER);
    world.add_project(ProjectSpec::new(
        Namespace::Group(own),
        "x",
        Some(repo.path()),
        "main",
    ));
    let sim = Simulator::start(world).await.unwrap();

    let mut down_world = World::new();
    let down_user = down_world.add_user("down");
    down_world.add_token(TokenSpec::new("glpat-down", down_user, &["read_api"]));
    let down_group = down_world.add_group("down", None);
    down_world.add_member(down_user, Membership::Group(down_group), access::DEVELOPER);
    down_world.add_project(ProjectSpec::new(
        Namespace::Group(down_group),
        "p",
        Some(repo.path()),
        "main",
    ));
    let down = Simulator::start(down_world.clone()).await.unwrap();
    let slow = Simulator::start(down_world).await.unwrap();

    env.connect("acme", &sim, TOKEN).await;
    let revoked = env.connect("gone-corp", &sim, "glpat-revoked").await;
    env.connect("down-corp", &down, "glpat-down").await;
    env.connect("slow-corp", &slow, "glpat-down").await;
    sim.with_world(|w| w.token_mut(revoked_token).revoked = true);
    down.fail_next(routes::ANY, 10_000, Fault::ServerError(503));
    slow.set_latency(Duration::from_secs(5));

    let scheduler = env.scheduler(
        env.sqs(),
        SchedulerOptions {
            discovery_timeout: Duration::from_secs(2),
            ..options()
        },
    );
    let report = handle(&scheduler, schedule_event(Some("2026-11-24T23:00:00Z")))
        .await
        .unwrap();
    let by_name = by_connection(&report);
    let expected = eligible(&sim, org.user, repo.path());
    assert_eq!(by_name["acme"].enqueued, expected.len());
    assert_eq!(by_name["gone-corp"].enqueued, 0);
    assert_eq!(
        by_name["gone-corp"].errors.len(),
        1,
        "{:?}",
        by_name["gone-corp"].errors
    );
    assert!(by_name["gone-corp"].errors[0].ends_with("unauthorized"));
    assert_eq!(by_name["down-corp"].enqueued, 0);
    assert!(
        by_name["down-corp"].errors[0].ends_with("gitlab_unavailable"),
        "{:?}",
        by_name["down-corp"].errors
    );
    assert_eq!(by_name["slow-corp"].enqueued, 0);
    assert!(
        by_name["slow-corp"].errors[0].ends_with("discovery_timeout"),
        "{:?}",
        by_name["slow-corp"].errors
    );
    let messages = env.drain().await;
    assert_eq!(ids(&messages), expected);
    assert!(
        messages
            .iter()
            .all(|m| m.connection_id().as_str() == "acme")
    );
    assert_eq!(
        env.credential_status("gone-corp", &revoked).await,
        CredentialStatus::InvalidCredentials
    );

    // Its syncs stop: the next tick does not use the refused token at all.
    sim.reset_counts();
    let next = handle(&scheduler, schedule_event(Some("2026-11-24T23:05:00Z")))
        .await
        .unwrap();
    let gone_corp = next
        .connections
        .iter()
        .find(|c| c.connection_id == "gone-corp")
        .unwrap();
    assert_eq!((gone_corp.credentials, gone_corp.gitlab_requests), (0, 0));
    env.aws.teardown().await;
}

/// Fails chosen entries (by project id) a number of times before letting them through.
struct FlakyQueue<Q> {
    inner: Q,
    failures_left: Mutex<HashMap<u64, u32>>,
    calls: AtomicU32,
}

impl<Q: BatchQueue> BatchQueue for FlakyQueue<Q> {
    async fn send_batch(&self, entries: &[BatchEntry<'_>]) -> Result<Vec<FailedEntry>, StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut pass = Vec::new();
        let mut failed = Vec::new();
        {
            let mut left = self.failures_left.lock().unwrap();
            for entry in entries {
                match left.get_mut(&entry.message.project_id()) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        failed.push(FailedEntry {
                            id: entry.id.to_owned(),
                            code: "InternalError".into(),
                            sender_fault: false,
                        });
                    }
                    _ => pass.push(*entry),
                }
            }
        }
        failed.extend(self.inner.send_batch(&pass).await?);
        Ok(failed)
    }
}

#[tokio::test]
async fn send_message_batch_partial_failures_are_retried_and_what_never_went_is_retried_next_tick()
{
    let env = Env::new().await;
    let repo = repo();
    let mut world = World::new();
    let org = organisation(&mut world, repo.path());
    let sim = Simulator::start(world).await.unwrap();
    env.connect("acme", &sim, TOKEN).await;
    let expected = eligible(&sim, org.user, repo.path());

    // Every third project fails once; one project fails more often than the retries allow.
    let mut failures: HashMap<u64, u32> = expected.iter().step_by(3).map(|id| (*id, 1)).collect();
    let stubborn = expected[1];
    failures.insert(stubborn, 100);
    let queue = FlakyQueue {
        inner: env.sqs(),
        failures_left: Mutex::new(failures),
        calls: AtomicU32::new(0),
    };
    let scheduler = env.scheduler(queue, options());
    let report = handle(&scheduler, schedule_event(Some("2026-11-24T22:00:00Z")))
        .await
        .unwrap();
    let part = &report.connections[0];
    assert_eq!((part.enqueued, part.not_sent), (expected.len() - 1, 1));
    assert!(
        part.errors
            .iter()
            .any(|e| e.contains("1 messages not sent"))
    );
    let first: Vec<u64> = ids(&env.drain().await);
    let unique: HashSet<u64> = first.iter().copied().collect();
    assert_eq!(unique.len(), first.len(), "no duplicates from retries");
    let missing: Vec<u64> = expected
        .iter()
        .copied()
        .filter(|id| !unique.contains(id))
        .collect();
    assert_eq!(
        missing,
        vec![stubborn],
        "only the stubborn one is missing, and it is reported"
    );

    // Its lease was given back: the next tick sends it, and only it.
    scheduler.queue.failures_left.lock().unwrap().clear();
    let next = handle(&scheduler, schedule_event(Some("2026-11-24T22:05:00Z")))
        .await
        .unwrap();
    assert_eq!(next.enqueued(), 1);
    assert_eq!(ids(&env.drain().await), vec![stubborn]);
    env.aws.teardown().await;
}

#[tokio::test]
async fn vanished_projects_are_marked_gone_and_imported_archives_are_not_enqueued_again() {
    let env = Env::new().await;
    let repo = repo();
    let mut world = World::new();
    let org = organisation(&mut world, repo.path());
    let sim = Simulator::start(world).await.unwrap();
    env.connect("acme", &sim, TOKEN).await;
    let expected = eligible(&sim, org.user, repo.path());
    // Leases that lapse at once, so that every tick may enqueue again.
    let scheduler = env.scheduler(
        env.sqs(),
        SchedulerOptions {
            enqueue_lease: Duration::ZERO,
            ..options()
        },
    );
    handle(&scheduler, schedule_event(Some("2026-11-24T22:00:00Z")))
        .await
        .unwrap();
    assert_eq!(ids(&env.drain().await), expected);

    // The sync imported the archived project's history (the worker's attributes), and one project was deleted.
    env.aws
        .dynamodb
        .update_item()
        .table_name(env.table())
        .key("pk", AttributeValue::S("CONN#acme".into()))
        .key("sk", AttributeValue::S(format!("PROJ#{}", org.archived)))
        .update_expression("SET last_head = :head, default_branch = :branch")
        .expression_attribute_values(":head", AttributeValue::S("a".repeat(40)))
        .expression_attribute_values(":branch", AttributeValue::S("main".into()))
        .send()
        .await
        .unwrap();
    sim.with_world(|w| w.remove_project(org.deep));
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let report = handle(&scheduler, schedule_event(Some("2026-11-24T22:05:00Z")))
        .await
        .unwrap();
    let part = &report.connections[0];
    assert_eq!((part.gone, part.archived_done), (1, 1));
    let again: Vec<u64> = expected
        .iter()
        .copied()
        .filter(|id| *id != org.archived && *id != org.deep)
        .collect();
    assert_eq!(ids(&env.drain().await), again);
    let gone = env.schedule_item("acme", org.deep).await;
    assert!(text(&gone, "gone_at").is_some(), "marked, not deleted");
    assert_eq!(
        text(&gone, "path_with_namespace").as_deref(),
        Some("platform/backend/services/billing/invoices")
    );
    let archived = env.sync_item("acme", org.archived).await;
    assert_eq!(
        text(&archived, "last_head"),
        Some("a".repeat(40)),
        "the sync's attributes are untouched"
    );
    assert_eq!(
        archived
            .keys()
            .filter(|k| !["pk", "sk"].contains(&k.as_str()))
            .count(),
        2,
        "the scheduler wrote nothing on the sync's item: {archived:?}"
    );

    // Gone marks are not repeated.
    let report = handle(&scheduler, schedule_event(Some("2026-11-24T22:10:00Z")))
        .await
        .unwrap();
    assert_eq!(report.connections[0].gone, 0);
    env.aws.teardown().await;
}

/// Two different ticks overlap (the schedule fired again while the first still runs): each project is sent once.
#[tokio::test]
async fn two_overlapping_ticks_send_each_project_once() {
    let env = Env::new().await;
    let repo = repo();
    let mut world = World::new();
    let org = organisation(&mut world, repo.path());
    let sim = Simulator::start(world).await.unwrap();
    env.connect("acme", &sim, TOKEN).await;
    let expected = eligible(&sim, org.user, repo.path());

    // Two invocations (two Lambda instances), each with its own store client.
    let first = env.scheduler(env.sqs(), options());
    let second = env.scheduler(env.sqs(), options());
    let (a, b) = tokio::join!(
        handle(&first, schedule_event(Some("2026-11-24T22:00:00Z"))),
        handle(&second, schedule_event(Some("2026-11-24T22:05:00Z")))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(!a.duplicate && !b.duplicate, "two different ticks");
    assert_eq!(a.enqueued() + b.enqueued(), expected.len(), "{a:?}\n{b:?}");
    let messages = env.drain().await;
    assert_eq!(
        ids(&messages),
        expected,
        "each eligible project exactly once"
    );
    for part in a.connections.iter().chain(&b.connections) {
        assert!(part.errors.is_empty(), "{:?}", part.errors);
    }
    env.aws.teardown().await;
}

/// While another tick holds a connection's scheduling lock, a tick leaves the connection to it; leases of earlier
/// messages that still hold keep their projects out, and a metadata refresh keeps those leases.
#[tokio::test]
async fn a_locked_connection_is_left_to_its_tick_and_held_leases_are_kept() {
    let env = Env::new().await;
    let repo = repo();
    let mut world = World::new();
    let org = organisation(&mut world, repo.path());
    let sim = Simulator::start(world).await.unwrap();
    env.connect("acme", &sim, TOKEN).await;
    let expected = eligible(&sim, org.user, repo.path());
    let acme = ConnectionId::parse("acme").unwrap();
    let store = env.projects();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // Another tick holds the lock: nothing is written or sent.
    assert!(
        store
            .lock_connection(&acme, "other", now, now + 600)
            .await
            .unwrap()
    );
    let scheduler = env.scheduler(env.sqs(), options());
    let report = handle(&scheduler, schedule_event(Some("2026-11-24T22:00:00Z")))
        .await
        .unwrap();
    let part = &report.connections[0];
    assert!(part.busy && part.errors.is_empty(), "{part:?}");
    assert_eq!((part.enqueued, part.writes), (0, 0));
    assert!(env.drain().await.is_empty());
    assert!(env.schedule_item("acme", org.deep).await.is_empty());
    // Only its holder gives a lock back.
    store
        .unlock_connection(&acme, "not-the-holder")
        .await
        .unwrap();
    assert!(
        !store
            .lock_connection(&acme, "third", now, now + 600)
            .await
            .unwrap()
    );

    // That tick took the leases of three projects (with metadata it has since seen change), then finished.
    let held: Vec<u64> = vec![expected[0], org.deep, expected[expected.len() - 1]];
    let lease = EnqueueLease {
        enqueued_at: "2026-11-24T21:59:00Z".into(),
        until: now + 3_600,
        visible_at: now + 5,
    };
    let stale: Vec<DiscoveredProject> = held
        .iter()
        .map(|id| DiscoveredProject {
            project_id: *id,
            path_with_namespace: format!("old/path-{id}"),
            web_url: format!("https://gitlab.example.com/old/path-{id}"),
            default_branch: "main".into(),
            archived: false,
            empty_repo: false,
            last_activity_at: None,
            credential_id: "cred_old".into(),
            excluded: false,
        })
        .collect();
    let records: Vec<ProjectRecord<'_>> = stale
        .iter()
        .map(|project| ProjectRecord {
            project,
            seen_at: "2026-11-24T21:59:00Z",
            lease: Some(&lease),
            status: ProjectStatus::Active,
        })
        .collect();
    assert_eq!(
        store.write(&acme, &records).await.unwrap(),
        Vec::<u64>::new()
    );
    store.unlock_connection(&acme, "other").await.unwrap();

    let report = handle(&scheduler, schedule_event(Some("2026-11-24T22:05:00Z")))
        .await
        .unwrap();
    let part = &report.connections[0];
    assert!(!part.busy && part.errors.is_empty(), "{part:?}");
    assert_eq!((part.enqueued, part.in_flight), (expected.len() - 3, 3));
    let others: Vec<u64> = expected
        .iter()
        .copied()
        .filter(|id| !held.contains(id))
        .collect();
    assert_eq!(
        ids(&env.drain().await),
        others,
        "exactly the others are sent"
    );
    let deep = env.schedule_item("acme", org.deep).await;
    assert_eq!(
        text(&deep, "path_with_namespace").as_deref(),
        Some("platform/backend/services/billing/invoices"),
        "the metadata is refreshed"
    );
    assert_eq!(
        deep.get("enqueue_lease_until"),
        Some(&AttributeValue::N((now + 3_600).to_string())),
        "and the lease kept"
    );
    assert_eq!(
        text(&deep, "enqueued_at").as_deref(),
        Some("2026-11-24T21:59:00Z")
    );
    // The tick gave its lock back.
    let lock = env.item("CONN#acme", "SCHEDULING").await;
    assert!(!lock.contains_key("lock_until"), "{lock:?}");
    env.aws.teardown().await;
}

/// `BatchWriteItem` takes 25 requests at most (moto accepts more; AWS does not).
#[tokio::test]
async fn the_store_writes_at_most_25_records_a_call() {
    let env = Env::new().await;
    let acme = ConnectionId::parse("acme").unwrap();
    let projects: Vec<DiscoveredProject> = (1..=26)
        .map(|id| DiscoveredProject {
            project_id: id,
            path_with_namespace: format!("g/p{id}"),
            web_url: format!("https://gitlab.example.com/g/p{id}"),
            default_branch: "main".into(),
            archived: false,
            empty_repo: false,
            last_activity_at: None,
            credential_id: "cred_1".into(),
            excluded: false,
        })
        .collect();
    let records: Vec<ProjectRecord<'_>> = projects
        .iter()
        .map(|project| ProjectRecord {
            project,
            seen_at: "2026-11-24T22:00:00Z",
            lease: None,
            status: ProjectStatus::Active,
        })
        .collect();
    let store = env.projects();
    assert!(store.write(&acme, &records).await.is_err());
    assert_eq!(
        store.write(&acme, &records[..25]).await.unwrap(),
        Vec::<u64>::new()
    );
    let known = store.known_projects(&acme).await.unwrap();
    assert_eq!(known.len(), 25);
    assert_eq!(known[0].recorded.as_ref(), Some(&projects[0]));
    env.aws.teardown().await;
}

/// The schedule items on moto, with one batch of records failing as a whole and one record left unprocessed.
struct FlakyItems {
    inner: DynamoProjectStore,
    /// The batch holding this project fails (once).
    fail_batch_of: Mutex<Option<u64>>,
    /// This project's record stays unprocessed (once).
    leave_out: Mutex<Option<u64>>,
}

impl ScheduleItems for FlakyItems {
    async fn write(
        &self,
        connection: &ConnectionId,
        records: &[ProjectRecord<'_>],
    ) -> Result<Vec<u64>, StoreError> {
        let holds =
            |id: Option<u64>| id.filter(|id| records.iter().any(|r| r.project.project_id == *id));
        if holds(*self.fail_batch_of.lock().unwrap()).is_some() {
            *self.fail_batch_of.lock().unwrap() = None;
            return Err(StoreError::unavailable(
                "BatchWriteItem",
                "service unavailable",
            ));
        }
        let Some(left_out) = holds(*self.leave_out.lock().unwrap()) else {
            return self.inner.write(connection, records).await;
        };
        *self.leave_out.lock().unwrap() = None;
        let rest: Vec<ProjectRecord<'_>> = records
            .iter()
            .copied()
            .filter(|r| r.project.project_id != left_out)
            .collect();
        let mut unwritten = self.inner.write(connection, &rest).await?;
        unwritten.push(left_out);
        Ok(unwritten)
    }

    async fn release(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        until: i64,
    ) -> Result<(), StoreError> {
        self.inner.release(connection, project_id, until).await
    }

    async fn known_projects(
        &self,
        connection: &ConnectionId,
    ) -> Result<Vec<shared::scheduler::KnownProject>, StoreError> {
        self.inner.known_projects(connection).await
    }

    async fn mark_gone(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        at: &str,
    ) -> Result<(), StoreError> {
        self.inner.mark_gone(connection, project_id, at).await
    }
}

/// Records that could not be written get no message (their lease may not be there), are reported, and the next
/// tick sends them.
#[tokio::test]
async fn records_not_written_are_reported_and_sent_by_the_next_tick() {
    let env = Env::new().await;
    let repo = repo();
    let mut world = World::new();
    let org = organisation(&mut world, repo.path());
    let sim = Simulator::start(world).await.unwrap();
    env.connect("acme", &sim, TOKEN).await;
    let expected = eligible(&sim, org.user, repo.path());
    // The first batch (records go in project id order) fails; the last project's record is left out.
    let failing = expected[0];
    let left_out = expected[expected.len() - 1];
    let scheduler = env.scheduler(env.sqs(), options()).with_items(FlakyItems {
        inner: env.projects(),
        fail_batch_of: Mutex::new(Some(failing)),
        leave_out: Mutex::new(Some(left_out)),
    });
    let report = handle(&scheduler, schedule_event(Some("2026-11-24T22:00:00Z")))
        .await
        .unwrap();
    let part = &report.connections[0];
    let sent = ids(&env.drain().await);
    assert!(!sent.contains(&failing) && !sent.contains(&left_out));
    // 26 records not written; the empty repository's may be one of them (it gets no message anyway).
    let missing = expected.len() - sent.len();
    assert!((25..=26).contains(&missing), "{missing}");
    assert_eq!(part.enqueued, sent.len());
    assert_eq!(
        part.errors,
        vec!["store: 26 project items not written".to_owned()]
    );

    let next = handle(&scheduler, schedule_event(Some("2026-11-24T22:05:00Z")))
        .await
        .unwrap();
    assert!(next.connections[0].errors.is_empty());
    let again = ids(&env.drain().await);
    assert_eq!(again.len(), missing, "exactly the ones not written before");
    let mut all: Vec<u64> = sent.into_iter().chain(again).collect();
    all.sort_unstable();
    assert_eq!(all, expected);
    env.aws.teardown().await;
}

/// Include/exclude patterns: exactly the projects they admit are enqueued; the others are recorded `excluded`,
/// and the credential's summary counts them.
#[tokio::test]
async fn include_and_exclude_patterns_decide_exactly_what_is_enqueued() {
    let env = Env::new().await;
    let repo = repo();
    let mut world = World::new();
    let org = organisation(&mut world, repo.path());
    let sim = Simulator::start(world).await.unwrap();
    let credential = env
        .connect_scoped(
            "acme",
            &sim,
            TOKEN,
            &["platform/**", "monorepo-farm/svc-00?", "Docs/*"],
            &["platform/backend/services/**", "**/svc-003"],
        )
        .await;
    let report = handle(&env.scheduler(env.sqs(), options()), schedule_event(None))
        .await
        .unwrap();
    let messages = env.drain().await;

    // The same rule written out by hand, over the simulator's own paths.
    let admitted = |path: &str| {
        let included = path.starts_with("platform/")
            || (path.starts_with("monorepo-farm/svc-00")
                && path.len() == "monorepo-farm/svc-000".len())
            || path.starts_with("docs/");
        let excluded = path.starts_with("platform/backend/services/") || path.ends_with("/svc-003");
        included && !excluded
    };
    let paths: BTreeMap<u64, String> = sim.with_world(|w| {
        w.projects
            .keys()
            .map(|id| (*id, w.project_full_path(*id)))
            .collect()
    });
    let eligible = eligible(&sim, org.user, repo.path());
    let expected: Vec<u64> = eligible
        .iter()
        .copied()
        .filter(|id| admitted(&paths[id]))
        .collect();
    assert_eq!(
        expected.len(),
        3 + 9 + 1,
        "portal, backend/api, legacy; svc-000..009 but 003; handbook"
    );
    assert_eq!(ids(&messages), expected);

    let part = &report.connections[0];
    // The empty repository sits under platform/backend/services too: excluded comes before empty.
    assert_eq!(part.excluded, eligible.len() - expected.len() + 1);
    assert_eq!(part.empty, 0);
    let deep = env.schedule_item("acme", org.deep).await;
    assert_eq!(text(&deep, "status").as_deref(), Some("excluded"));
    assert_eq!(deep.get("excluded"), Some(&AttributeValue::Bool(true)));
    assert!(!deep.contains_key("enqueued_at"));
    let portal = paths
        .iter()
        .find(|(_, p)| *p == "platform/portal")
        .unwrap()
        .0;
    assert_eq!(
        text(&env.schedule_item("acme", *portal).await, "status").as_deref(),
        Some("active")
    );
    let last = env
        .credential("acme", &credential)
        .await
        .last_sync
        .expect("the tick wrote the summary");
    assert_eq!(last.projects, Some(part.discovered as u64));
    assert_eq!(last.project_statuses["excluded"], part.excluded as u64);
    assert_eq!(last.project_statuses["active"], expected.len() as u64);
    env.aws.teardown().await;
}

/// A project whose repository GitLab refused is held (no message, so no request) until its retry period has
/// passed since the refusal, then tried once more; its record says why it is held.
#[tokio::test]
async fn a_refused_project_is_held_then_retried_after_its_period() {
    let env = Env::new().await;
    let repo = repo();
    let mut world = World::new();
    let org = organisation(&mut world, repo.path());
    let sim = Simulator::start(world).await.unwrap();
    let credential = env.connect("acme", &sim, TOKEN).await;
    let expected = eligible(&sim, org.user, repo.path());
    let scheduler = env.scheduler(
        env.sqs(),
        SchedulerOptions {
            enqueue_lease: Duration::ZERO,
            inaccessible_retry: Duration::from_secs(3),
            ..options()
        },
    );
    handle(&scheduler, schedule_event(Some("2026-11-24T22:00:00Z")))
        .await
        .unwrap();
    assert_eq!(ids(&env.drain().await), expected);

    // The worker met 403 on one project and 404 on another (its own store call, as in the sync worker).
    let state = DynamoSyncStateStore::new(env.aws.dynamodb.clone(), env.table());
    state
        .mark_inaccessible(&ProjectKey::new("acme", org.deep), "forbidden")
        .await
        .unwrap();
    state
        .mark_inaccessible(&ProjectKey::new("acme", org.shared_project), "not_found")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let report = handle(&scheduler, schedule_event(Some("2026-11-24T22:05:00Z")))
        .await
        .unwrap();
    let held: Vec<u64> = expected
        .iter()
        .copied()
        .filter(|id| *id != org.deep && *id != org.shared_project)
        .collect();
    assert_eq!(
        ids(&env.drain().await),
        held,
        "no message for the refused two"
    );
    assert_eq!(report.connections[0].inaccessible, 2);
    assert_eq!(
        text(&env.schedule_item("acme", org.deep).await, "status").as_deref(),
        Some("forbidden")
    );
    assert_eq!(
        text(
            &env.schedule_item("acme", org.shared_project).await,
            "status"
        )
        .as_deref(),
        Some("not_found")
    );
    let summary = env.credential("acme", &credential).await.last_sync.unwrap();
    assert_eq!(summary.project_statuses["forbidden"], 1);
    assert_eq!(summary.project_statuses["not_found"], 1);

    // Once the period since the refusal has passed, each is tried again, once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    handle(&scheduler, schedule_event(Some("2026-11-24T22:10:00Z")))
        .await
        .unwrap();
    assert_eq!(ids(&env.drain().await), expected);
    env.aws.teardown().await;
}

/// Two GitLabs with the same project ids: a credential stored for the second one before the API bound
/// connections to one instance is left out by the scheduler, so nothing of the two mixes.
#[tokio::test]
async fn a_credential_of_another_instance_never_shares_the_connections_keys() {
    let env = Env::new().await;
    let repo = repo();
    let (mut first_world, mut second_world) = (World::new(), World::new());
    organisation(&mut first_world, repo.path());
    let org = organisation(&mut second_world, repo.path());
    let first = Simulator::start(first_world).await.unwrap();
    let second = Simulator::start(second_world).await.unwrap();
    let credential = env.connect("acme", &first, TOKEN).await;

    // As stored by an older version: the same connection, the other instance.
    let store = DynamoCredentialStore::new(env.aws.dynamodb.clone(), env.table());
    let connection = ConnectionId::parse("acme").unwrap();
    let mut stray = store
        .get(&connection, &CredentialId::parse(&credential).unwrap())
        .await
        .unwrap()
        .unwrap();
    stray.credential_id = CredentialId::parse("cred_0000000000000000000000000a").unwrap();
    stray.created_at = "2099-01-01T00:00:00Z".into();
    stray.settings.base_url =
        shared::kernel::instance::InstanceUrl::parse(&second.base_url()).unwrap();
    store.insert(&stray).await.unwrap();

    let report = handle(&env.scheduler(env.sqs(), options()), schedule_event(None))
        .await
        .unwrap();
    let messages = env.drain().await;
    assert_eq!(ids(&messages), eligible(&first, org.user, repo.path()));
    assert!(
        messages
            .iter()
            .all(|m| m.credential_id().as_str() == credential)
    );
    assert_eq!(
        second.total_requests(),
        0,
        "the other instance is never asked"
    );
    assert!(
        report.connections[0]
            .errors
            .iter()
            .any(|e| e.contains("instance_mismatch")),
        "{:?}",
        report.connections[0].errors
    );
    let stray = store
        .get(&connection, &stray.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stray.last_sync.unwrap().last_error.as_deref(),
        Some("instance_mismatch")
    );
    first.shutdown().await;
    second.shutdown().await;
    env.aws.teardown().await;
}

/// [`schedule_event`] as Lambda delivers it, with `time_left` before the invocation's deadline.
fn with_time_left(
    mut event: LambdaEvent<serde_json::Value>,
    time_left: Duration,
) -> LambdaEvent<serde_json::Value> {
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    event.context.deadline = u64::try_from(now_ms).unwrap() + time_left.as_millis() as u64;
    event
}

#[tokio::test]
async fn a_gitlab_slower_than_the_tick_never_starves_the_others_and_each_tick_ends_in_time() {
    let env = Env::new().await;
    let repo = repo();
    let slow = Simulator::start(World::one_project("glpat-slow", Some(repo.path())).world)
        .await
        .unwrap();
    let paced = Simulator::start(World::one_project(TOKEN, Some(repo.path())).world)
        .await
        .unwrap();
    env.connect("a-slow", &slow, "glpat-slow").await;
    env.connect("b-paced", &paced, TOKEN).await;
    env.connect("c-paced", &paced, TOKEN).await;
    // Never answers within a tick; the others' discovery takes two rounds of 3 s (groups, then their projects),
    // then a few store calls.
    slow.set_latency(Duration::from_secs(30));
    paced.set_latency(Duration::from_secs(3));
    let margin = Duration::from_millis(1_500);
    let scheduler = env.scheduler(
        env.sqs(),
        SchedulerOptions {
            connection_concurrency: 1,
            discovery_timeout: Duration::from_secs(10),
            tick_margin: margin,
            ..options()
        },
    );
    let last_scheduled = async |connection: &str| {
        env.item(&format!("CONN#{connection}"), "SCHEDULING")
            .await
            .contains_key("last_scheduled_at")
    };

    // 11 s for discovery: a-slow (first by id, no turn yet) uses its whole window, half the tick, and fails by
    // itself; b-paced, 5.5 s left, is cut by the tick's end; c-paced never starts.
    let time_left = Duration::from_secs(11) + margin;
    let started = std::time::Instant::now();
    let first = handle(
        &scheduler,
        with_time_left(schedule_event(Some("2026-11-25T10:00:00Z")), time_left),
    )
    .await
    .unwrap();
    assert!(started.elapsed() < time_left, "{:?}", started.elapsed());
    let by_name: BTreeMap<&str, _> = first
        .connections
        .iter()
        .map(|c| (c.connection_id.as_str(), c))
        .collect();
    assert!(
        by_name["a-slow"].errors[0].ends_with("discovery_timeout"),
        "{:?}",
        by_name["a-slow"]
    );
    assert!(!by_name["a-slow"].deferred);
    assert!(by_name["b-paced"].deferred && by_name["c-paced"].deferred);
    assert_eq!(first.deferred(), 2);
    assert!(env.drain().await.is_empty());
    assert!(last_scheduled("a-slow").await);
    assert!(!last_scheduled("b-paced").await && !last_scheduled("c-paced").await);

    // Next tick (20 s), the two left over go first and are scheduled (6 to 9 s each, with their records);
    // a-slow, last, is cut. Had a-slow gone first again, its 10 s window would have left c-paced too little.
    let time_left = Duration::from_secs(20) + margin;
    let started = std::time::Instant::now();
    let second = handle(
        &scheduler,
        with_time_left(schedule_event(Some("2026-11-25T11:00:00Z")), time_left),
    )
    .await
    .unwrap();
    assert!(started.elapsed() < time_left, "{:?}", started.elapsed());
    let by_name: BTreeMap<&str, _> = second
        .connections
        .iter()
        .map(|c| (c.connection_id.as_str(), c))
        .collect();
    assert_eq!(
        (by_name["b-paced"].enqueued, by_name["c-paced"].enqueued),
        (1, 1),
        "{second:#?}"
    );
    assert!(by_name["a-slow"].deferred, "{:?}", by_name["a-slow"]);
    let messages = env.drain().await;
    let mut connections: Vec<&str> = messages
        .iter()
        .map(|m| m.connection_id().as_str())
        .collect();
    connections.sort_unstable();
    assert_eq!(connections, ["b-paced", "c-paced"]);
    slow.shutdown().await;
    paced.shutdown().await;
    env.aws.teardown().await;
}

/// A 401 during discovery marks the credential only when `personal_access_tokens/self` confirms it with the same
/// token: a token GitLab calls active, or a GitLab failing to answer about it, fails the tick for that credential
/// and nothing more.
#[tokio::test]
async fn a_401_that_personal_access_tokens_self_does_not_confirm_fails_only_the_tick() {
    let env = Env::new().await;
    let repo = repo();
    let one = World::one_project(TOKEN, Some(repo.path()));
    let sim = Simulator::start(one.world).await.unwrap();
    let id = env.connect("acme", &sim, TOKEN).await;
    let scheduler = env.scheduler(env.sqs(), options());
    let unauthorized = || {
        Fault::Hostile(testkit::gitlab_sim::Hostile::Body {
            status: 401,
            content_type: "application/json".into(),
            body: r#"{"message":"401 Unauthorized"}"#.into(),
        })
    };

    // First GitLab says the token is active, then it answers 503 about it.
    for (minute, self_fails) in [("00", false), ("05", true)] {
        sim.clear_faults();
        sim.fail_next(routes::GROUPS, 1, unauthorized());
        if self_fails {
            sim.fail_next(
                routes::PERSONAL_ACCESS_TOKEN_SELF,
                1_000,
                Fault::ServerError(503),
            );
        }
        sim.reset_counts();
        let report = handle(
            &scheduler,
            schedule_event(Some(&format!("2026-11-24T23:{minute}:00Z"))),
        )
        .await
        .unwrap();
        let acme = &report.connections[0];
        assert_eq!(acme.enqueued, 0);
        assert!(
            acme.errors[0].ends_with("unauthorized"),
            "{:?}",
            acme.errors
        );
        let asked = sim.request_count(routes::PERSONAL_ACCESS_TOKEN_SELF);
        assert!(if self_fails { asked > 1 } else { asked == 1 }, "{asked}");
        assert_eq!(acme.gitlab_requests, sim.total_requests(), "counted");
        let stored = env.credential("acme", &id).await;
        assert_eq!(stored.status, CredentialStatus::Active);
        assert_eq!(
            stored.last_sync.unwrap().last_error.as_deref(),
            Some("unauthorized")
        );
    }

    // GitLab is well again: the credential was never stopped.
    sim.clear_faults();
    let report = handle(&scheduler, schedule_event(Some("2026-11-24T23:10:00Z")))
        .await
        .unwrap();
    assert_eq!(report.connections[0].enqueued, 1);
    assert_eq!(ids(&env.drain().await), [one.project]);
    env.aws.teardown().await;
}

/// Two connections, each with its own GitLab of one project: `a-hostile` (first by id, so first in a tick where
/// neither has had a turn) and `b-steady`.
struct TwoTenants {
    env: Env,
    _repo: GitRepo,
    hostile: Simulator,
    steady: Simulator,
    hostile_credential: String,
    steady_project: u64,
}

impl TwoTenants {
    async fn start() -> TwoTenants {
        let env = Env::new().await;
        let repo = repo();
        let hostile =
            Simulator::start(World::one_project("glpat-hostile", Some(repo.path())).world)
                .await
                .unwrap();
        let steady = World::one_project(TOKEN, Some(repo.path()));
        let steady_project = steady.project;
        let steady = Simulator::start(steady.world).await.unwrap();
        let hostile_credential = env.connect("a-hostile", &hostile, "glpat-hostile").await;
        env.connect("b-steady", &steady, TOKEN).await;
        TwoTenants {
            env,
            _repo: repo,
            hostile,
            steady,
            hostile_credential,
            steady_project,
        }
    }

    async fn stop(self) {
        self.hostile.shutdown().await;
        self.steady.shutdown().await;
        self.env.aws.teardown().await;
    }
}

/// A GitLab that lists projects without end, 8 MiB a page, costs its connection at most its discovery's byte
/// budget (16 MiB by default): two pages are read, the credential records `discovery_too_large`, the tick ends
/// and the other connection is scheduled, in this tick and the next. Without the budget each page would stay in
/// memory until the function ran out of it.
#[tokio::test]
async fn endless_8_mib_project_pages_stop_at_the_discovery_byte_budget() {
    let tenants = TwoTenants::start().await;
    let endless = Fault::Hostile(Hostile::EndlessProjects {
        page_bytes: 8 << 20,
    });
    tenants
        .hostile
        .fail_next(routes::PROJECTS, u32::MAX, endless);
    tenants.hostile.reset_counts();
    let scheduler = tenants.env.scheduler(tenants.env.sqs(), options());
    assert_eq!(scheduler.options.discovery_max_bytes, 16 << 20);

    for (tick, time) in ["2026-11-26T10:00:00Z", "2026-11-26T11:00:00Z"]
        .into_iter()
        .enumerate()
    {
        let report = handle(&scheduler, schedule_event(Some(time)))
            .await
            .unwrap();
        let by_name = by_connection(&report);
        let hostile = by_name["a-hostile"];
        assert!(
            hostile.errors.len() == 1 && hostile.errors[0].ends_with("discovery_too_large"),
            "{hostile:?}"
        );
        assert_eq!((hostile.discovered, hostile.enqueued), (0, 0));
        assert!(!hostile.deferred, "its own failure: its turn is over");
        let pages = tenants.hostile.request_count(routes::PROJECTS);
        assert!(
            pages <= 3 * (tick as u64 + 1),
            "{pages} pages of 8 MiB read in {} ticks",
            tick + 1
        );
        let steady = by_name["b-steady"];
        assert!(steady.errors.is_empty(), "{steady:?}");
        if tick == 0 {
            assert_eq!(steady.enqueued, 1);
            assert_eq!(ids(&tenants.env.drain().await), [tenants.steady_project]);
        } else {
            assert_eq!(
                steady.in_flight, 1,
                "sent by the first tick, its lease holds"
            );
        }
        let stored = tenants
            .env
            .credential("a-hostile", &tenants.hostile_credential)
            .await;
        assert_eq!(
            stored.last_sync.unwrap().last_error.as_deref(),
            Some("discovery_too_large")
        );
    }
    tenants.stop().await;
}

/// A connection whose discovery takes the whole process down (here the tick is dropped while its GitLab holds
/// the first answer, as when the function runs out of memory) has its turn stamped before discovery started: the
/// next tick takes the other connection first, and schedules it, whatever the first connection does again.
#[tokio::test]
async fn a_connection_whose_discovery_crashed_the_tick_goes_last_next_tick() {
    let tenants = TwoTenants::start().await;
    let gate = Gate::default();
    tenants
        .hostile
        .fail_next(routes::GROUPS, u32::MAX, Fault::Held(gate.clone()));
    tenants.hostile.reset_counts();
    let scheduler = tenants.env.scheduler(
        tenants.env.sqs(),
        SchedulerOptions {
            connection_concurrency: 1,
            ..options()
        },
    );
    // Runs a tick until the hostile GitLab has been asked `asked` times in all, then drops it: the crash.
    let crashed = async |time: &str, asked: u64| {
        let tick = handle(&scheduler, schedule_event(Some(time)));
        let reached = async {
            while tenants.hostile.request_count(routes::GROUPS) < asked {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::select! {
            report = tick => panic!("the tick ended though GitLab never answered: {report:?}"),
            () = reached => {}
        }
    };

    crashed("2026-11-26T12:00:00Z", 1).await;
    assert!(
        tenants.env.drain().await.is_empty(),
        "the first tick crashed before b-steady's turn"
    );
    let turn = |connection: &'static str| {
        let env = &tenants.env;
        async move {
            env.item(&format!("CONN#{connection}"), "SCHEDULING")
                .await
                .contains_key("last_scheduled_at")
        }
    };
    assert!(turn("a-hostile").await, "stamped when its turn started");
    assert!(!turn("b-steady").await);

    crashed("2026-11-26T13:00:00Z", 2).await;
    assert_eq!(
        ids(&tenants.env.drain().await),
        [tenants.steady_project],
        "b-steady went first this time"
    );
    assert!(turn("b-steady").await);
    gate.open();
    gate.open();
    tenants.stop().await;
}
