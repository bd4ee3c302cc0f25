//! The credentials API handler end to end: API Gateway v2 requests (built from `events/*.json`) into
//! `shared::entrypoints::credentials_api::handler`, with the real DynamoDB and Secrets Manager adapters against the
//! moto server and the real GitLab verification against the GitLab simulator. The fixtures are here; the tests are
//! in `credentials_api/`, one file per part of the API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_secretsmanager::types::SecretListEntry;
use lambda_http::{Request, RequestExt};
use serde_json::{Value, json};
use shared::aws::commit_reader::DynamoCommitReader;
use shared::aws::credential_store::DynamoCredentialStore;
use shared::aws::project_store::DynamoProjectStore;
use shared::aws::secrets::SecretsManagerVault;
use shared::aws::sync_queue::{SqsSyncQueue, SqsTurnQueue};
use shared::commits::CommitLog;
use shared::credentials::model::{CredentialRecord, DiscoverySummary, SyncTally};
use shared::credentials::{CredentialStatusStore, CredentialStore, Credentials, GitLabVerifier};
use shared::entrypoints::credentials_api::{CredentialsApi, handler};
use shared::gitlab::{HttpClients, NetworkPolicy, PrivateNetworks, RetryPolicy, Timeouts};
use shared::kernel::ids::{ConnectionId, CredentialId};
use shared::kernel::instance::InstanceUrl;
use shared::kernel::push_hook::HOOK_SECRET_SUFFIX;
use shared::kernel::vault::{SecretVault, VaultError};
use shared::projects::{Projects, ProjectsOptions};
use shared::secret::SecretString;
use shared::testing::faults::{self, FaultPlan, Faulty};
use testkit::aws_local::AwsStandIn;
use testkit::gitlab_sim::{
    Fault, Membership, Namespace, ProjectSpec, Simulator, TokenSpec, World, access, routes,
};
use testkit::log_sink::LogSink;
use testkit::loopback_alias::{LoopbackAlias, PRIVATE_TEST_ADDRESS};
use testkit::tls_front::TlsFront;

const GOOD: &str = "glpat-credapi-good-token-00001";
const ROTATED: &str = "glpat-credapi-rotated-token-002";
const PROJECTS_ONLY: &str = "glpat-credapi-projects-only-03";
const NOTHING: &str = "glpat-credapi-reaches-nothing-4";
const GUEST: &str = "glpat-credapi-guest-only-00005";
const NO_SCOPE: &str = "glpat-credapi-no-api-scope-006";
const EXPIRED: &str = "glpat-credapi-expired-token-07";
const REVOKED: &str = "glpat-credapi-revoked-token-08";
const UNKNOWN: &str = "glpat-credapi-unknown-token-09";
const REPORTER: &str = "glpat-credapi-reporter-only-010";
const ALL_TOKENS: &[&str] = &[
    REPORTER,
    GOOD,
    ROTATED,
    PROJECTS_ONLY,
    NOTHING,
    GUEST,
    NO_SCOPE,
    EXPIRED,
    REVOKED,
    UNKNOWN,
];
const CONN: &str = "acme-prod";

/// The handler on the stand-in, as the function wires it.
type Api = shared::app::CredentialsFunction;

mod audit_line;
mod caller_policy;
mod commits_list;
mod create;
mod delete;
mod hostile_input;
mod info_and_list;
mod kms_key;
mod openapi;
mod push_hook_secret;
mod rotation;
mod routing;
mod sample_events;
mod scopes;
mod token_leaks;
mod update;

static NEXT_PREFIX: AtomicU32 = AtomicU32::new(0);

struct Env {
    aws: AwsStandIn,
    sim: Simulator,
    api: Api,
    prefix: String,
}

/// A GitLab with users in every situation verification distinguishes.
fn world() -> World {
    let mut world = World::new();
    let dev = world.add_user("developer");
    world.add_token(TokenSpec::new(GOOD, dev, &["read_api"]));
    world.add_token(TokenSpec::new(ROTATED, dev, &["api"]));
    world.add_token(TokenSpec::new(NO_SCOPE, dev, &["read_repository"]));
    let yesterday = time::OffsetDateTime::now_utc().date() - time::Duration::days(1);
    world.add_token(TokenSpec::new(EXPIRED, dev, &["read_api"]).with_expiry(yesterday));
    let revoked = world.add_token(TokenSpec::new(REVOKED, dev, &["read_api"]));
    world.token_mut(revoked).revoked = true;
    let group = world.add_group("acme", None);
    world.add_member(dev, Membership::Group(group), access::DEVELOPER);

    let solo = world.add_user("solo");
    world.add_token(TokenSpec::new(PROJECTS_ONLY, solo, &["read_api"]));
    let personal = world.add_project(ProjectSpec::new(
        Namespace::User(solo),
        "tool",
        None,
        "main",
    ));
    world.add_member(solo, Membership::Project(personal), access::MAINTAINER);

    let nobody = world.add_user("nobody");
    world.add_token(TokenSpec::new(NOTHING, nobody, &["read_api"]));
    let guest = world.add_user("guest");
    world.add_token(TokenSpec::new(GUEST, guest, &["read_api"]));
    world.add_member(guest, Membership::Group(group), access::GUEST);
    // A Reporter reads code: verification must accept it (Developer is what DX asks for, not what reading needs).
    let reporter = world.add_user("reporter");
    world.add_token(TokenSpec::new(REPORTER, reporter, &["read_api"]));
    world.add_member(reporter, Membership::Group(group), access::REPORTER);
    world
}

fn fast_verification() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_rate_limit_waits: 2,
        max_rate_limit_wait: Duration::from_secs(5),
        ..RetryPolicy::default()
    }
}

fn verifier(policy: NetworkPolicy) -> GitLabVerifier {
    let http = HttpClients::new(
        policy,
        Timeouts {
            connect: Duration::from_secs(2),
            read: Duration::from_secs(5),
            total: Duration::from_secs(10),
        },
    )
    .expect("HTTP clients");
    GitLabVerifier::new(Arc::new(http), 1_000_000)
        .with_limits(fast_verification(), Duration::from_secs(15))
}

fn api_for(
    aws: &AwsStandIn,
    table: &str,
    prefix: &str,
    base_url: &str,
    policy: NetworkPolicy,
) -> Api {
    CredentialsApi {
        credentials: Credentials {
            store: DynamoCredentialStore::new(aws.dynamodb.clone(), table),
            vault: SecretsManagerVault::new(aws.secrets.clone()),
            verifier: verifier(policy),
            secret_name_prefix: prefix.to_owned(),
            default_base_url: InstanceUrl::parse(base_url).unwrap(),
        },
        commits: commit_log(aws),
        projects: projects(aws),
        allow_unauthenticated: false,
    }
}

/// The use cases on this test's table, secrets and GitLab.
fn domain(env: &Env) -> Credentials<DynamoCredentialStore, SecretsManagerVault, GitLabVerifier> {
    Credentials {
        store: DynamoCredentialStore::new(env.aws.dynamodb.clone(), env.aws.table("StateTable")),
        vault: SecretsManagerVault::new(env.aws.secrets.clone()),
        verifier: verifier(NetworkPolicy::AllowPrivate),
        secret_name_prefix: env.prefix.clone(),
        default_base_url: instance(&env.sim),
    }
}

type FaultyDomain =
    Credentials<Faulty<DynamoCredentialStore>, Faulty<SecretsManagerVault>, GitLabVerifier>;

/// [`domain`], its store and vault run past `plan`.
fn faulty_domain(env: &Env, plan: &Arc<FaultPlan>) -> FaultyDomain {
    let healthy = domain(env);
    Credentials {
        store: Faulty::new(healthy.store, plan),
        vault: Faulty::new(healthy.vault, plan),
        verifier: healthy.verifier,
        secret_name_prefix: healthy.secret_name_prefix,
        default_base_url: healthy.default_base_url,
    }
}

/// The handler over [`faulty_domain`].
fn faulty_api(
    env: &Env,
    plan: &Arc<FaultPlan>,
) -> CredentialsApi<
    Faulty<DynamoCredentialStore>,
    Faulty<SecretsManagerVault>,
    GitLabVerifier,
    DynamoCommitReader,
    DynamoProjectStore,
    SqsSyncQueue,
    SqsTurnQueue,
> {
    CredentialsApi {
        credentials: faulty_domain(env, plan),
        commits: commit_log(&env.aws),
        projects: projects(&env.aws),
        allow_unauthenticated: false,
    }
}

/// The simulator's address as an instance.
fn instance(sim: &Simulator) -> InstanceUrl {
    InstanceUrl::parse(&sim.base_url()).expect("the simulator's address")
}

/// `projects.*` on the stand-in's state table and sync queue.
fn projects(aws: &AwsStandIn) -> Projects<DynamoProjectStore, SqsSyncQueue, SqsTurnQueue> {
    Projects {
        store: DynamoProjectStore::new(aws.dynamodb.clone(), aws.table("StateTable")),
        queue: SqsSyncQueue::new(aws.sqs.clone(), &aws.queue("SyncQueue").url),
        turns: SqsTurnQueue::new(aws.sqs.clone(), &aws.queue("TurnRequestQueue").url),
        options: ProjectsOptions::default(),
    }
}

/// `commits.list` on the stand-in's commits table.
fn commit_log(aws: &AwsStandIn) -> CommitLog<DynamoCommitReader> {
    CommitLog::new(DynamoCommitReader::new(
        aws.dynamodb.clone(),
        aws.table("CommitsTable"),
    ))
}

async fn env() -> Env {
    captured_logs();
    let aws = AwsStandIn::provision().await.expect("stand-in");
    let sim = Simulator::start(world()).await.expect("simulator");
    let prefix = format!(
        "it-credentials-{}-{}/",
        std::process::id(),
        NEXT_PREFIX.fetch_add(1, Ordering::Relaxed)
    );
    let api = api_for(
        &aws,
        aws.table("StateTable"),
        &prefix,
        &sim.base_url(),
        NetworkPolicy::AllowPrivate,
    );
    Env {
        aws,
        sim,
        api,
        prefix,
    }
}

/// A sample event from `events/`.
fn event(name: &str) -> Value {
    let path = format!(
        "{}/../events/apigw-credentials-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("event JSON")
}

fn into_request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("API Gateway v2 event")
}

/// An API Gateway v2 request (the create sample, reshaped): `path` may carry a query string.
fn request(method: &str, path: &str, content_type: Option<&str>, body: Option<String>) -> Request {
    let mut e = event("create");
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    e["rawPath"] = raw_path.into();
    e["rawQueryString"] = query.into();
    e["requestContext"]["http"]["method"] = method.into();
    e["requestContext"]["http"]["path"] = raw_path.into();
    e.as_object_mut().unwrap().remove("pathParameters");
    let headers = e["headers"].as_object_mut().unwrap();
    headers.remove("content-type");
    headers.remove("content-length");
    if let Some(content_type) = content_type {
        headers.insert("content-type".into(), content_type.into());
    }
    match body {
        Some(body) => e["body"] = body.into(),
        None => {
            e.as_object_mut().unwrap().remove("body");
        }
    }
    into_request(&e)
}

fn post(route: &str, body: &Value) -> Request {
    request(
        "POST",
        &format!("/connections/{CONN}/{route}"),
        Some("application/json"),
        Some(body.to_string()),
    )
}

fn get(route: &str) -> Request {
    request("GET", &format!("/connections/{CONN}/{route}"), None, None)
}

/// Status and JSON body of the handler's reply; every reply must be JSON with a boolean `ok`.
async fn send(api: &Api, req: Request) -> (u16, Value) {
    let reply = handler(api, req).await.expect("the handler never fails");
    let status = reply.status().as_u16();
    assert_eq!(
        reply.headers()["content-type"],
        "application/json",
        "status {status}"
    );
    let body: Value = serde_json::from_slice(reply.body().as_ref()).expect("JSON reply");
    assert_eq!(
        body["ok"].as_bool(),
        Some((200..300).contains(&status)),
        "{body}"
    );
    if status >= 400 {
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{body}"
        );
    }
    (status, body)
}

/// Sends `req` and checks that the reply is the error `code` with `status`; returns the reply.
async fn refused(api: &Api, req: Request, status: u16, code: &str) -> Value {
    let (answered, reply) = send(api, req).await;
    assert_eq!(
        (answered, reply["error"].as_str()),
        (status, Some(code)),
        "{reply}"
    );
    reply
}

/// `credentials.update` of credential `id` to `token`, nothing else changed.
fn rotate(id: &str, token: &str) -> Request {
    post(
        "credentials.update",
        &json!({"id": id, "secrets": {"api_token": token}}),
    )
}

fn create_body(env: &Env, token: &str) -> Value {
    json!({
        "label": "Production",
        "settings": {"base_url": env.sim.base_url()},
        "secrets": {"api_token": token},
    })
}

/// `credentials.create` of a credential for `token` on the simulator, labelled "Production".
fn create_request(env: &Env, token: &str) -> Request {
    post("credentials.create", &create_body(env, token))
}

/// Sends [`create_request`] and checks that it is created; returns the whole reply.
async fn created(env: &Env, token: &str) -> Value {
    let (status, reply) = send(&env.api, create_request(env, token)).await;
    assert_eq!(status, 201, "{reply}");
    reply
}

/// The credential [`created`] for `token`.
async fn create(env: &Env, token: &str) -> Value {
    created(env, token).await["credential"].clone()
}

/// `credentials.info` of credential `id`, which must answer 200: the credential.
async fn info(env: &Env, id: &str) -> Value {
    let (status, reply) = send(&env.api, get(&format!("credentials.info/{id}"))).await;
    assert_eq!(status, 200, "{reply}");
    reply["credential"].clone()
}

/// `credentials.list` with `query` (empty, or `?include_deleted=true`), which must answer 200: the credentials.
async fn list_credentials(env: &Env, query: &str) -> Vec<Value> {
    let (status, reply) = send(&env.api, get(&format!("credentials.list{query}"))).await;
    assert_eq!(status, 200, "{reply}");
    reply["credentials"].as_array().expect("a list").clone()
}

/// An update of credential `id`'s item in this test's state table, behind the API's back; the caller adds the
/// expression.
fn update_credential_item(env: &Env, id: &str) -> UpdateItemFluentBuilder {
    env.aws
        .dynamodb
        .update_item()
        .table_name(env.aws.table("StateTable"))
        .key("pk", AttributeValue::S(format!("CONN#{CONN}")))
        .key("sk", AttributeValue::S(format!("CRED#{id}")))
}

/// Asserts that `text`, what `place` holds, shows none of the tokens and none of `hook_secrets`.
#[track_caller]
fn assert_shows_no_secret(text: &str, place: &str, hook_secrets: &[String]) {
    for token in ALL_TOKENS {
        assert!(!text.contains(token), "{place} shows {token}");
    }
    for secret in hook_secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{place} shows a push hook secret"
        );
    }
}

/// The tags of the secret `name`.
async fn secret_tags(env: &Env, name: &str) -> BTreeMap<String, String> {
    let described = env
        .aws
        .secrets
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .expect("describe secret");
    described
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect()
}

/// Every item of this test's state table, in a stable order and form.
async fn table_items(env: &Env) -> Vec<BTreeMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let output = env
            .aws
            .dynamodb
            .scan()
            .table_name(env.aws.table("StateTable"))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(
            output
                .items
                .unwrap_or_default()
                .into_iter()
                .map(|item| item.into_iter().collect::<BTreeMap<_, _>>()),
        );
        match output.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => break,
        }
    }
    items.sort_by_key(|item| format!("{item:?}"));
    items
}

/// This test's secrets: name -> (current value unless scheduled for deletion, scheduled for deletion).
async fn secrets(env: &Env) -> BTreeMap<String, (Option<String>, bool)> {
    let mut found = BTreeMap::new();
    for entry in listed_secrets(env).await {
        let name = entry.name().unwrap_or_default();
        let scheduled = entry.deleted_date().is_some();
        let value = if scheduled {
            None
        } else {
            env.aws
                .secrets
                .get_secret_value()
                .secret_id(name)
                // By the stage: moto's default stays on the version first made current.
                .version_stage("AWSCURRENT")
                .send()
                .await
                .expect("secret value")
                .secret_string
        };
        found.insert(name.to_owned(), (value, scheduled));
    }
    found
}

/// Every secret of this test (named with its prefix), those scheduled for deletion included.
async fn listed_secrets(env: &Env) -> Vec<SecretListEntry> {
    let mut listed = Vec::new();
    let mut next = None;
    loop {
        let output = env
            .aws
            .secrets
            .list_secrets()
            .include_planned_deletion(true)
            .set_next_token(next)
            .send()
            .await
            .expect("list secrets");
        let ours = output.secret_list().iter();
        listed.extend(
            ours.filter(|e| e.name().unwrap_or_default().starts_with(&env.prefix))
                .cloned(),
        );
        next = output.next_token;
        if next.is_none() {
            return listed;
        }
    }
}

/// This test's token secrets: [`secrets`] without the connections' push hook secrets.
async fn token_secrets(env: &Env) -> BTreeMap<String, (Option<String>, bool)> {
    let mut found = secrets(env).await;
    found.retain(|name, _| !name.ends_with(&format!("/{HOOK_SECRET_SUFFIX}")));
    found
}

async fn stored(
    env: &Env,
) -> (
    Vec<BTreeMap<String, AttributeValue>>,
    BTreeMap<String, (Option<String>, bool)>,
) {
    (table_items(env).await, secrets(env).await)
}

// ---------------------------------------------------------------------------------------------------------------
// the logs a test reads

/// Every log line of this test process, once per log level the template allows, each through the filter the
/// functions build for that level (`shared::telemetry`), and once unfiltered (TRACE and up), through a global
/// subscriber installed once. A scoped subscriber (`set_default`) misses lines when other test threads race it on
/// callsite interest.
pub(crate) struct CapturedLogs {
    pub(crate) by_level: Vec<(String, LogSink)>,
    pub(crate) unfiltered: LogSink,
    /// At INFO, as JSON lines with flattened fields, the way the functions log in Lambda.
    json: LogSink,
}

pub(crate) fn captured_logs() -> &'static CapturedLogs {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;

    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let unfiltered = LogSink::default();
        let sink = unfiltered.clone();
        let mut layers = vec![
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || sink.clone())
                .boxed(),
        ];
        let mut by_level = Vec::new();
        for word in crate::template::allowed_log_levels() {
            let level = shared::telemetry::level(|name| {
                (name == "AWS_LAMBDA_LOG_LEVEL").then(|| word.clone())
            })
            .expect("the template allows only levels the functions read");
            let logs = LogSink::default();
            let sink = logs.clone();
            layers.push(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || sink.clone())
                    .with_filter(shared::telemetry::filter(level))
                    .boxed(),
            );
            by_level.push((word, logs));
        }
        let json = LogSink::default();
        let sink = json.clone();
        layers.push(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_target(false)
                .with_writer(move || sink.clone())
                .with_filter(shared::telemetry::filter(
                    tracing_subscriber::filter::LevelFilter::INFO,
                ))
                .boxed(),
        );
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layers))
            .expect("no other global subscriber in the test binary");
        CapturedLogs {
            by_level,
            unfiltered,
            json,
        }
    })
}
