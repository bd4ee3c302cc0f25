//! The sync worker's SQS handler end to end: a credential created through the credentials service, the moto
//! server's tables, secrets and queue through the real SDK, and the GitLab simulator over real HTTP.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use shared::aws::commit_store::DynamoCommitStore;
use shared::aws::credential_store::DynamoCredentialStore;
use shared::aws::secrets::SecretsManagerVault;
use shared::aws::sync_queue::SqsSyncQueue;
use shared::aws::sync_state_store::DynamoSyncStateStore;
use shared::credentials::{
    CreateInput, CredentialStatus, CredentialStore, Credentials, GitLabVerifier,
};
use shared::gitlab::GitLabConnector;
use shared::kernel::ids::{ConnectionId, CredentialId};
use shared::kernel::instance::InstanceUrl;
use shared::kernel::sync_message::{SyncMessage, SyncQueue};
use shared::sync::worker::TimeBudget;
use shared::sync::{SyncOptions, SyncWorker};
use shared::testing::credentials::{create_input, rotation};
use shared::testing::project_key;
use testkit::aws_local::AwsStandIn;
use testkit::clients::{fast_retry, local_http};
use testkit::git_fixture::GitRepo;
use testkit::gitlab_sim::{Fault, Namespace, OneProject, ProjectSpec, Simulator, World, routes};

const TOKEN: &str = "glpat-sync-worker-token";
const CONNECTION: &str = "acme-gitlab";

type Worker = SyncWorker<
    DynamoCredentialStore,
    SecretsManagerVault,
    DynamoCommitStore,
    DynamoSyncStateStore,
    SqsSyncQueue,
>;

static NEXT_PREFIX: AtomicU32 = AtomicU32::new(0);

pub(crate) struct Env {
    aws: AwsStandIn,
    pub(crate) sim: Simulator,
    repo: GitRepo,
    group: u64,
    pub(crate) project: u64,
    hidden: u64,
    token_id: u64,
    credential_id: String,
    pub(crate) worker: Worker,
    /// The credentials API's use cases, as a user would update the credential.
    credentials: Credentials<DynamoCredentialStore, SecretsManagerVault, GitLabVerifier>,
}

pub(crate) async fn env(commits: usize) -> Env {
    let aws = AwsStandIn::provision().await.expect("stand-in");
    let repo = GitRepo::init("main");
    repo.fast_import_history("main", commits, Some(10));
    let OneProject {
        mut world,
        user,
        group,
        project,
    } = World::one_project(TOKEN, Some(repo.path()));
    let token_id = *world
        .tokens
        .iter()
        .find(|(_, t)| t.value == TOKEN && t.user_id == user)
        .unwrap()
        .0;
    let hidden = world.add_project(ProjectSpec::new(
        Namespace::Group(group),
        "no-repository",
        None,
        "main",
    ));
    let sim = Simulator::start(world).await.expect("simulator");

    // The credential comes in the way users bring it: verified against GitLab, token into Secrets Manager.
    let http = Arc::new(local_http());
    let table = aws.table("StateTable").to_owned();
    let prefix = format!(
        "it-sync-worker-{}-{}/",
        std::process::id(),
        NEXT_PREFIX.fetch_add(1, Ordering::Relaxed)
    );
    let credentials = Credentials {
        store: DynamoCredentialStore::new(aws.dynamodb.clone(), &table),
        vault: SecretsManagerVault::new(aws.secrets.clone()),
        verifier: GitLabVerifier::new(http.clone(), 1_000_000),
        secret_name_prefix: prefix,
        default_base_url: InstanceUrl::parse(&sim.base_url()).unwrap(),
    };
    let record = credentials
        .create(
            &ConnectionId::parse(CONNECTION).unwrap(),
            CreateInput {
                label: Some("test".into()),
                ..create_input(TOKEN)
            },
        )
        .await
        .expect("credential created");

    let worker = SyncWorker::new(
        DynamoCredentialStore::new(aws.dynamodb.clone(), &table),
        SecretsManagerVault::new(aws.secrets.clone()),
        DynamoCommitStore::new(aws.dynamodb.clone(), aws.table("CommitsTable")),
        DynamoSyncStateStore::new(aws.dynamodb.clone(), &table),
        SqsSyncQueue::new(aws.sqs.clone(), &aws.queue("SyncQueue").url),
        GitLabConnector::new(http, 1_000_000),
        SyncOptions {
            retry: fast_retry(),
            ..SyncOptions::default()
        },
    );
    Env {
        aws,
        sim,
        repo,
        group,
        project,
        hidden,
        token_id,
        credential_id: record.credential_id.as_str().to_owned(),
        worker,
        credentials,
    }
}

impl Env {
    /// `events/sqs-sync.json`, with its first record pointed at `projects` (one record each) and its malformed
    /// second record kept when `keep_malformed`.
    pub(crate) fn event(&self, projects: &[u64], keep_malformed: bool) -> SqsEvent {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/sqs-sync.json"),
        )
        .unwrap();
        let mut event: Value = serde_json::from_str(&text).unwrap();
        let records = event["Records"].as_array_mut().unwrap();
        let template = records[0].clone();
        let malformed = records[1].clone();
        records.clear();
        for (i, project) in projects.iter().enumerate() {
            let mut record = template.clone();
            record["messageId"] = Value::from(format!("message-{project}"));
            let mut body: Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
            body["credential_id"] = Value::from(self.credential_id.clone());
            body["project_id"] = Value::from(*project);
            body["path_with_namespace"] = Value::from(format!("acme/p{i}"));
            record["body"] = Value::from(body.to_string());
            records.push(record);
        }
        if keep_malformed {
            records.push(malformed);
        }
        serde_json::from_value(event).unwrap()
    }

    /// `n` more projects of the same history in the project's group.
    pub(crate) fn add_projects(&self, n: usize) -> Vec<u64> {
        self.sim.with_world(|w| {
            (0..n)
                .map(|i| {
                    w.add_project(ProjectSpec::new(
                        Namespace::Group(self.group),
                        &format!("copy-{i}"),
                        Some(self.repo.path()),
                        "main",
                    ))
                })
                .collect()
        })
    }

    /// The scheduler's message for `project`.
    fn message(&self, project: u64) -> SyncMessage {
        SyncMessage::new(
            ConnectionId::parse(CONNECTION).unwrap(),
            CredentialId::parse(&self.credential_id).unwrap(),
            project,
            format!("acme/p{project}"),
            "main",
        )
        .unwrap()
    }

    /// Runs the handler as Lambda would, with `time_left` before the invocation's deadline.
    pub(crate) async fn handle(&self, event: SqsEvent, time_left: Duration) -> Vec<String> {
        let mut context = Context::default();
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        context.deadline = u64::try_from(now_ms).unwrap() + time_left.as_millis() as u64;
        let response = shared::entrypoints::sync_worker::handle(
            &self.worker,
            LambdaEvent::new(event, context),
        )
        .await
        .unwrap();
        response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect()
    }

    pub(crate) async fn stored_shas(&self, project: u64) -> BTreeSet<String> {
        let key = project_key(CONNECTION, project);
        self.aws.stored_commits(&key).await.into_keys().collect()
    }

    pub(crate) fn oracle(&self) -> BTreeSet<String> {
        self.repo.rev_list(&["main"]).into_iter().collect()
    }

    /// The credential's sync summary as the API would show it.
    pub(crate) async fn last_sync(&self) -> shared::credentials::model::LastSync {
        DynamoCredentialStore::new(self.aws.dynamodb.clone(), self.aws.table("StateTable"))
            .get(
                &ConnectionId::parse(CONNECTION).unwrap(),
                &shared::kernel::ids::CredentialId::parse(&self.credential_id).unwrap(),
            )
            .await
            .unwrap()
            .unwrap()
            .last_sync
            .expect("the batch wrote a summary")
    }

    pub(crate) async fn project_item(
        &self,
        project: u64,
    ) -> std::collections::HashMap<String, AttributeValue> {
        self.aws
            .state_item(&format!("CONN#{CONNECTION}"), &format!("PROJ#{project}"))
            .await
    }

    async fn received_messages(&self) -> Vec<aws_sdk_sqs::types::Message> {
        self.aws.take_messages("SyncQueue").await
    }

    /// One poll of the SQS event source: up to ten visible messages of the sync queue, received (each receipt
    /// counts towards the redrive policy's `maxReceiveCount`) but not deleted.
    async fn receive(&self) -> Vec<aws_sdk_sqs::types::Message> {
        self.aws
            .sqs
            .receive_message()
            .queue_url(&self.aws.queue("SyncQueue").url)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
    }

    /// What the event source does with the handler's answer: the messages that succeeded are deleted, the
    /// failures become visible again (at once here: the deployed queue waits out their visibility timeout).
    async fn settle(&self, messages: &[aws_sdk_sqs::types::Message], failed: &[String]) {
        let url = &self.aws.queue("SyncQueue").url;
        for message in messages {
            let handle = message.receipt_handle().unwrap();
            if failed
                .iter()
                .any(|f| Some(f.as_str()) == message.message_id())
            {
                self.aws
                    .sqs
                    .change_message_visibility()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .unwrap();
            } else {
                self.aws
                    .sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    pub(crate) async fn stop(self) {
        self.sim.shutdown().await;
        self.aws.teardown().await;
    }
}

/// The deployed time budget scaled down from a 900 s timeout to seconds: 2 s of margin, a record abandoned 1 s
/// before the deadline.
fn scaled_budget() -> TimeBudget {
    TimeBudget {
        margin: Duration::from_secs(2),
        abort_margin: Duration::from_secs(1),
        min_record_time: Duration::from_secs(1),
    }
}

/// The SQS event the event source builds from received messages.
fn sqs_event(messages: &[aws_sdk_sqs::types::Message]) -> SqsEvent {
    serde_json::from_value(serde_json::json!({
        "Records": messages.iter().map(|m| serde_json::json!({
            "messageId": m.message_id(),
            "receiptHandle": m.receipt_handle(),
            "body": m.body(),
            "eventSource": "aws:sqs"
        })).collect::<Vec<_>>()
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_imports_its_project_and_fails_only_the_malformed_record() {
    let env = env(1_200).await;
    let failures = env
        .handle(env.event(&[env.project], true), Duration::from_secs(900))
        .await;
    assert_eq!(failures, ["5b0cbf56-7e1f-4b8c-9d3e-5f3c0f6a1a02"]);
    assert_eq!(env.stored_shas(env.project).await, env.oracle());
    let item = env.project_item(env.project).await;
    assert_eq!(
        item["last_head"].as_s().unwrap(),
        &env.repo.rev_list(&["main"])[0]
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_cut_by_the_deadline_continues_through_the_queue() {
    let mut env = env(30_000).await;
    // 60 s of margin are kept back from the deadline: this leaves the worker 8 s a run, far from the import's
    // whole time.
    env.worker.budget.min_record_time = Duration::ZERO;
    // Every phase of a record runs within its share, windows included: two at a time, each finishes within a
    // few seconds of writes to moto, so each run checkpoints some.
    env.worker.options.concurrency = 2;
    let short = Duration::from_secs(60) + Duration::from_secs(8);
    assert!(
        env.handle(env.event(&[env.project], false), short)
            .await
            .is_empty()
    );
    let mut continuations = 0;
    // Bounded: every round imports at least one window.
    for _ in 0..100 {
        let messages = env.received_messages().await;
        if messages.is_empty() {
            break;
        }
        continuations += messages.len();
        assert!(env.handle(sqs_event(&messages), short).await.is_empty());
    }
    assert!(continuations >= 1, "the deadline cut the first run");
    assert_eq!(env.stored_shas(env.project).await, env.oracle());
    assert!(!env.project_item(env.project).await.contains_key("job"));
    env.stop().await;
}

#[tokio::test]
async fn a_refused_token_marks_the_credential_and_stops_its_syncs() {
    let env = env(50).await;
    let token_id = env.token_id;
    env.sim.with_world(|w| w.token_mut(token_id).revoked = true);
    let failures = env
        .handle(env.event(&[env.project], false), Duration::from_secs(900))
        .await;
    assert!(
        failures.is_empty(),
        "a refused token is not retried: {failures:?}"
    );
    let store = DynamoCredentialStore::new(env.aws.dynamodb.clone(), env.aws.table("StateTable"));
    let record = store
        .get(
            &ConnectionId::parse(CONNECTION).unwrap(),
            &shared::kernel::ids::CredentialId::parse(&env.credential_id).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, CredentialStatus::InvalidCredentials);

    // The next message for that credential costs GitLab nothing.
    env.sim.reset_counts();
    assert!(
        env.handle(env.event(&[env.project], false), Duration::from_secs(900))
            .await
            .is_empty()
    );
    assert_eq!(env.sim.total_requests(), 0);
    env.stop().await;
}

/// A connection's imports stop at its daily write ceiling, whatever its GitLab serves: the syncs past it end
/// with `write_ceiling` in the credential's summary (not retried, not dead-lettered), nothing past the ceiling is
/// written, and with room again (the next day) they go on and end equal to git.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_write_ceiling_stops_a_connections_imports_and_the_next_day_goes_on() {
    let mut env = env(300).await;
    let copies = env.add_projects(2);
    let projects = [env.project, copies[0], copies[1]];
    env.worker.options.writes_per_day = 450;
    let failures = env
        .handle(env.event(&projects, false), Duration::from_secs(900))
        .await;
    assert!(failures.is_empty(), "{failures:?}");
    let mut stored = 0;
    for project in projects {
        stored += env.stored_shas(project).await.len();
    }
    assert!((300..=450).contains(&stored), "{stored} commits written");
    let day = time::OffsetDateTime::now_utc().date().to_string();
    let count = env
        .aws
        .state_item(&format!("CONN#{CONNECTION}"), &format!("WRITES#{day}"))
        .await["commit_writes"]
        .as_n()
        .unwrap()
        .parse::<usize>()
        .unwrap();
    assert!(count <= 450 && count >= stored, "{count} reserved");
    assert_eq!(
        env.last_sync().await.last_error.as_deref(),
        Some("write_ceiling")
    );

    // Room again, as on the next day.
    env.worker.options.writes_per_day = 10_000;
    let failures = env
        .handle(env.event(&projects, false), Duration::from_secs(900))
        .await;
    assert!(failures.is_empty(), "{failures:?}");
    for project in projects {
        assert_eq!(env.stored_shas(project).await, env.oracle());
    }
    env.stop().await;
}

#[tokio::test]
async fn a_hidden_project_is_marked_and_the_others_go_on() {
    let env = env(80).await;
    let failures = env
        .handle(
            env.event(&[env.hidden, env.project], false),
            Duration::from_secs(900),
        )
        .await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        env.project_item(env.hidden).await["access_error"]
            .as_s()
            .unwrap(),
        "not_found"
    );
    assert_eq!(env.stored_shas(env.project).await, env.oracle());
    // One write for the batch: the commits of the good project, and the error of the hidden one.
    let last = env.last_sync().await;
    assert_eq!(last.last_error.as_deref(), Some("not_found"));
    assert_eq!(last.commits, Some(env.oracle().len() as u64));
    assert!(last.last_success_at.is_some() && last.last_error_at.is_some());
    env.stop().await;
}

#[tokio::test]
async fn a_gitlab_that_keeps_failing_leaves_the_record_to_sqs() {
    let env = env(20).await;
    env.sim.fail_next("*", 1_000, Fault::ServerError(503));
    let failures = env
        .handle(env.event(&[env.project], false), Duration::from_secs(900))
        .await;
    assert_eq!(failures, [format!("message-{}", env.project)]);
    assert!(env.stored_shas(env.project).await.is_empty());
    let last = env.last_sync().await;
    assert_eq!(
        (
            last.last_error.as_deref(),
            last.commits,
            last.last_success_at
        ),
        (Some("gitlab_unavailable"), Some(0), None)
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_whose_gitlab_stalls_is_handed_back_at_its_share_and_the_others_sync() {
    let mut env = env(40).await;
    // 12 s left: 2 s of margin, abandoned 1 s before the end.
    env.worker.budget = scaled_budget();
    let time_left = Duration::from_secs(12);
    let mut projects = vec![env.project];
    projects.extend(env.add_projects(9));
    for project in &projects {
        env.worker
            .queue
            .enqueue(&env.message(*project), Duration::ZERO)
            .await
            .unwrap();
    }
    let mut batch = Vec::new();
    // Bounded: moto hands out the ten messages in a call or a few.
    for _ in 0..10 {
        if batch.len() == projects.len() {
            break;
        }
        batch.extend(env.receive().await);
    }
    assert_eq!(batch.len(), 10);

    // The first record's GitLab answers only after the invocation would have ended.
    env.sim
        .fail_next(routes::BRANCH, 1, Fault::Latency(Duration::from_secs(20)));
    let started = std::time::Instant::now();
    let failed = env.handle(sqs_event(&batch), time_left).await;
    let took = started.elapsed();
    assert!(took < time_left, "the batch answered after {took:?}");
    // The first record is handed back when its share (1 s) ends, not when the invocation does: the records
    // after it have their time (on a loaded machine, one may still outrun its share and come back too).
    let first = batch[0].message_id().unwrap().to_owned();
    assert!(failed.contains(&first), "{failed:?}");
    assert!(failed.len() < batch.len(), "the others ran: {failed:?}");
    // Handed back is no error of the credential.
    assert_eq!(env.last_sync().await.last_error, None);
    env.settle(&batch, &failed).await;

    // Redelivered (their second receipt), they succeed and are deleted.
    let mut redelivered = Vec::new();
    for _ in 0..10 {
        if redelivered.len() == failed.len() {
            break;
        }
        redelivered.extend(env.receive().await);
    }
    assert_eq!(redelivered.len(), failed.len());
    assert!(redelivered.iter().all(|m| {
        m.attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
            })
            .map(String::as_str)
            == Some("2")
    }));
    let failed = env
        .handle(sqs_event(&redelivered), Duration::from_secs(900))
        .await;
    assert_eq!(failed, Vec::<String>::new());
    env.settle(&redelivered, &failed).await;
    assert!(env.receive().await.is_empty(), "the queue is drained");
    assert!(
        env.aws
            .take_messages("SyncDeadLetterQueue")
            .await
            .is_empty(),
        "nothing was dead-lettered"
    );
    for project in &projects {
        assert_eq!(
            env.stored_shas(*project).await,
            env.oracle(),
            "project {project}"
        );
    }
    env.stop().await;
}

/// A credential's status marks against moto and the simulator: a 401 marks `invalid_credentials` only when
/// `personal_access_tokens/self` confirms it with the same token, and only on the credential version the sync read.
mod status_marks {
    use shared::credentials::CredentialRecord;
    use testkit::gitlab_sim::{Gate, Hostile, TokenSpec};

    use super::*;
    use shared::kernel::ids::CredentialId;

    const ROTATED: &str = "glpat-sync-worker-rotated-token";

    impl Env {
        async fn credential(&self) -> CredentialRecord {
            DynamoCredentialStore::new(self.aws.dynamodb.clone(), self.aws.table("StateTable"))
                .get(
                    &ConnectionId::parse(CONNECTION).unwrap(),
                    &CredentialId::parse(&self.credential_id).unwrap(),
                )
                .await
                .unwrap()
                .unwrap()
        }

        /// `credentials.update` with a new token and nothing else changed.
        async fn rotate(&self, token: &str) -> CredentialRecord {
            self.credentials
                .update(
                    &ConnectionId::parse(CONNECTION).unwrap(),
                    rotation(&CredentialId::parse(&self.credential_id).unwrap(), token),
                )
                .await
                .expect("rotated")
        }

        /// The sync of the project, as one SQS record: the message ids SQS must deliver again.
        async fn sync_once(&self) -> Vec<String> {
            self.handle(self.event(&[self.project], false), Duration::from_secs(900))
                .await
        }
    }

    /// GitLab's 401, on the first request of the sync only.
    fn one_401_on_the_branch(env: &Env) {
        env.sim.fail_next(
            routes::BRANCH,
            1,
            Fault::Hostile(Hostile::Body {
                status: 401,
                content_type: "application/json".into(),
                body: r#"{"message":"401 Unauthorized"}"#.into(),
            }),
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rotation_during_a_sync_does_not_mark_the_new_credential_invalid() {
        let env = env(50).await;
        let token_a = env.token_id;
        let user = env.sim.with_world(|w| w.tokens[&token_a].user_id);
        let token_b = env
            .sim
            .with_world(|w| w.add_token(TokenSpec::new(ROTATED, user, &["read_api"])));
        let before = env.credential().await;
        // The sync has read the credential (version N) and token A; its first GitLab request waits, and meanwhile the
        // user rotates to token B (version N+1) and revokes A, as GitLab's rotation does.
        // Held until the rotation is done: a fixed delay was sometimes shorter than the rotation on a loaded machine.
        let gate = Gate::default();
        env.sim
            .fail_next(routes::BRANCH, 1, Fault::Held(gate.clone()));
        env.sim.reset_counts();
        let rotation = async {
            // Bounded: the worker reaches GitLab within a few hundred milliseconds.
            for _ in 0..300 {
                if env.sim.request_count(routes::BRANCH) > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(env.sim.request_count(routes::BRANCH), 1, "the sync began");
            let rotated = env.rotate(ROTATED).await;
            env.sim.with_world(|w| w.token_mut(token_a).revoked = true);
            gate.open();
            // The update's own verification asked about B.
            (
                rotated,
                env.sim.request_count(routes::PERSONAL_ACCESS_TOKEN_SELF),
            )
        };
        let (failures, (rotated, asked_by_update)) = tokio::join!(env.sync_once(), rotation);
        assert_eq!(rotated.version, before.version + 1);
        // GitLab refused A, personal_access_tokens/self confirmed it, and still nothing is marked: the credential
        // no longer holds A. SQS delivers the record again.
        assert_eq!(failures, [format!("message-{}", env.project)]);
        assert_eq!(
            env.sim.request_count(routes::PERSONAL_ACCESS_TOKEN_SELF) - asked_by_update,
            1
        );
        let after = env.credential().await;
        assert_eq!(after.status, CredentialStatus::Active);
        assert_eq!(
            after.version, rotated.version,
            "a mark never bumps the version"
        );
        assert_eq!(
            env.last_sync().await.last_error.as_deref(),
            Some("credential_changed")
        );
        assert!(env.stored_shas(env.project).await.is_empty());

        // The next delivery syncs with B.
        assert!(env.sync_once().await.is_empty());
        assert_eq!(env.stored_shas(env.project).await, env.oracle());

        // And the mark still works on the updated credential: once B is revoked too, it is marked.
        env.sim.with_world(|w| w.token_mut(token_b).revoked = true);
        assert!(env.sync_once().await.is_empty());
        assert_eq!(
            env.credential().await.status,
            CredentialStatus::InvalidCredentials
        );
        env.stop().await;
    }

    #[tokio::test]
    async fn a_401_while_personal_access_tokens_self_says_active_marks_nothing() {
        let env = env(30).await;
        one_401_on_the_branch(&env);
        env.sim.reset_counts();
        assert_eq!(env.sync_once().await, [format!("message-{}", env.project)]);
        assert_eq!(env.sim.request_count(routes::PERSONAL_ACCESS_TOKEN_SELF), 1);
        assert_eq!(env.credential().await.status, CredentialStatus::Active);
        assert_eq!(
            env.last_sync().await.last_error.as_deref(),
            Some("unauthorized")
        );
        // GitLab's passing 401 is over: the redelivery imports.
        assert!(env.sync_once().await.is_empty());
        assert_eq!(env.stored_shas(env.project).await, env.oracle());
        env.stop().await;
    }

    #[tokio::test]
    async fn a_401_while_personal_access_tokens_self_fails_marks_nothing() {
        let env = env(30).await;
        one_401_on_the_branch(&env);
        env.sim.fail_next(
            routes::PERSONAL_ACCESS_TOKEN_SELF,
            1_000,
            Fault::ServerError(503),
        );
        env.sim.reset_counts();
        assert_eq!(env.sync_once().await, [format!("message-{}", env.project)]);
        assert!(
            env.sim.request_count(routes::PERSONAL_ACCESS_TOKEN_SELF) > 1,
            "retried"
        );
        assert_eq!(env.credential().await.status, CredentialStatus::Active);
        assert_eq!(
            env.last_sync().await.last_error.as_deref(),
            Some("unauthorized")
        );
        env.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_401_while_personal_access_tokens_self_does_not_answer_in_time_marks_nothing() {
        let mut env = env(30).await;
        // The record is abandoned 1 s before a deadline 5 s away.
        env.worker.budget = scaled_budget();
        one_401_on_the_branch(&env);
        env.sim.fail_next(
            routes::PERSONAL_ACCESS_TOKEN_SELF,
            1,
            Fault::Latency(Duration::from_secs(30)),
        );
        let started = std::time::Instant::now();
        let failures = env
            .handle(env.event(&[env.project], false), Duration::from_secs(5))
            .await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(failures, [format!("message-{}", env.project)]);
        assert_eq!(env.credential().await.status, CredentialStatus::Active);
        env.stop().await;
    }
}
