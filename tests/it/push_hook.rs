//! The push hook handler against moto through the real SDK: the sample event in `events/`, the hook secret in
//! Secrets Manager, the lease on the state table's schedule item, and the delayed message on the sync queue.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use shared::aws::credential_store::DynamoCredentialStore;
use shared::aws::project_store::DynamoProjectStore;
use shared::aws::secrets::SecretsManagerVault;
use shared::aws::sync_queue::SqsSyncQueue;
use shared::config::Config;
use shared::credentials::CredentialStore;
use shared::entrypoints::push_hook::handler;
use shared::hooks::PushHooks;
use shared::kernel::ids::ConnectionId;
use shared::kernel::project_status::ProjectStatus;
use shared::kernel::push_hook::{generate_hook_secret, hook_secret_name};
use shared::kernel::sync_message::SyncMessage;
use shared::scheduler::{DiscoveredProject, ScheduleItems};
use shared::testing::faults::{FaultPlan, Faulty};
use shared::testing::{discovered_project, project_record};
use testkit::aws_local::AwsStandIn;

const CONNECTION: &str = "acme-prod";
const PREFIX: &str = "gitlab-importer/hooks-it/";

/// The sample event of `events/`, as API Gateway delivers a GitLab push hook.
const SAMPLE: &str = include_str!("../../events/apigw-push-hook.json");

/// The push hook function as deployed, its Secrets Manager reads counted.
type CountedHooks = PushHooks<DynamoProjectStore, Faulty<SecretsManagerVault>, SqsSyncQueue>;

struct Env {
    aws: AwsStandIn,
    hooks: CountedHooks,
    secret: String,
}

impl Env {
    /// `GetSecretValue` calls so far.
    fn secret_reads(&self) -> u64 {
        self.hooks.vault.plan().calls("vault.read")
    }
}

/// A stand-in whose connection `acme-prod` (recorded by the credentials API) has a hook secret and a tick's
/// record of project 15 (the sample's) and of project 16 (archived).
async fn env() -> Env {
    let aws = AwsStandIn::provision().await.expect("the AWS stand-in");
    let prefix = format!("{PREFIX}{}/", aws.table("StateTable"));
    let variables = BTreeMap::from([
        ("STATE_TABLE", aws.table("StateTable").to_owned()),
        ("COMMITS_TABLE", aws.table("CommitsTable").to_owned()),
        ("SYNC_QUEUE_URL", aws.queue("SyncQueue").url.clone()),
        (
            "TURN_REQUEST_QUEUE_URL",
            aws.queue("TurnRequestQueue").url.clone(),
        ),
        ("SECRET_NAME_PREFIX", prefix.clone()),
    ]);
    let config = Config::from_lookup(|name| variables.get(name).cloned()).unwrap();
    let vault = Faulty::new(
        SecretsManagerVault::new(aws.secrets.clone()),
        &FaultPlan::new(),
    );
    let hooks = shared::app::push_hooks_reading(&config, &aws.config, vault);
    let connection = ConnectionId::parse(CONNECTION).unwrap();
    DynamoCredentialStore::new(aws.dynamodb.clone(), aws.table("StateTable"))
        .bind_connection(
            &connection,
            &shared::kernel::instance::InstanceUrl::parse("https://gitlab.example.com/").unwrap(),
            "2026-11-30T11:00:00Z",
        )
        .await
        .unwrap();
    let secret = generate_hook_secret().unwrap().expose().to_owned();
    aws.secrets
        .create_secret()
        .name(hook_secret_name(&prefix, &connection))
        .secret_string(&secret)
        .send()
        .await
        .unwrap();
    let project = |id: u64, archived: bool| DiscoveredProject {
        archived,
        credential_id: "cred_0123456789abcdefghjkmnpqrs".into(),
        ..discovered_project(id, &format!("acme/platform/p{id}"))
    };
    let (active, archived) = (project(15, false), project(16, true));
    let records = [
        project_record(&active, None, ProjectStatus::Active),
        project_record(&archived, None, ProjectStatus::Archived),
    ];
    let store = DynamoProjectStore::new(aws.dynamodb.clone(), aws.table("StateTable"));
    let unwritten = store.write(&connection, &records).await.unwrap();
    assert!(unwritten.is_empty());
    Env { aws, hooks, secret }
}

/// The sample event with `change` applied to it (an object of fields to set, `null` removes one; `body` is
/// given as JSON and sent as text).
fn event(change: &Value) -> lambda_http::Request {
    let mut event: Value = serde_json::from_str(SAMPLE).unwrap();
    merge(&mut event, change);
    match change.get("body") {
        Some(Value::String(text)) => event["body"] = text.clone().into(),
        Some(body) if !body.is_null() => event["body"] = body.to_string().into(),
        _ => {}
    }
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event")
}

fn merge(target: &mut Value, change: &Value) {
    match (target, change) {
        (Value::Object(target), Value::Object(change)) => {
            for (key, value) in change {
                if value.is_null() {
                    target.remove(key);
                } else if key == "body" {
                    continue;
                } else {
                    merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, change) => *target = change.clone(),
    }
}

/// The sample's payload with `change` merged in.
fn payload(change: &Value) -> Value {
    let event: Value = serde_json::from_str(SAMPLE).unwrap();
    let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    merge(&mut body, change);
    body
}

async fn call(env: &Env, request: lambda_http::Request) -> (u16, Value) {
    let reply = handler(&env.hooks, request)
        .await
        .expect("the handler never fails");
    let status = reply.status().as_u16();
    let body = serde_json::from_slice(reply.body().as_ref()).unwrap_or(Value::Null);
    (status, body)
}

/// Visible, in flight and delayed messages of the sync queue.
async fn queue_counts(env: &Env) -> (u64, u64, u64) {
    let attributes = env
        .aws
        .sqs
        .get_queue_attributes()
        .queue_url(&env.aws.queue("SyncQueue").url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    let count = |name: QueueAttributeName| {
        attributes
            .get(&name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (
        count(QueueAttributeName::ApproximateNumberOfMessages),
        count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
    )
}

/// Waits up to `limit` for the sync queue's visible messages (taking them off the queue); how long that took.
async fn visible_messages(env: &Env, limit: Duration) -> (Vec<SyncMessage>, Duration) {
    let started = Instant::now();
    loop {
        let messages = env.aws.take_messages("SyncQueue").await;
        if !messages.is_empty() || started.elapsed() >= limit {
            let messages = messages
                .iter()
                .map(|m| SyncMessage::from_json(m.body().unwrap()).unwrap())
                .collect();
            return (messages, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_lone_push_is_queued_at_once_and_one_while_its_sync_may_run_a_window_after_it() {
    let env = env().await;
    let push = || {
        call(
            &env,
            event(&json!({"headers": {"x-gitlab-token": env.secret}})),
        )
    };
    let (status, reply) = push().await;
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply, json!({"ok": true, "queued": true, "project_id": 15}));

    // Visible at once: nothing is held back after a quiet spell.
    let (messages, waited) = visible_messages(&env, Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 1, "after {waited:?}");
    assert!(waited < Duration::from_secs(1), "visible after {waited:?}");
    let message = &messages[0];
    assert_eq!(message.connection_id().as_str(), CONNECTION);
    assert_eq!(message.project_id(), 15);
    assert_eq!(message.path_with_namespace(), "acme/platform/p15");
    assert_eq!(message.default_branch(), "main");
    assert_eq!(
        message.credential_id().as_str(),
        "cred_0123456789abcdefghjkmnpqrs"
    );

    // The lease is the scheduler's: a tick sees the message in flight.
    let lease = || async {
        let item = env
            .aws
            .state_item(&format!("CONN#{CONNECTION}"), "SCHED#15")
            .await;
        let number = |name: &str| item[name].as_n().unwrap().parse::<i64>().unwrap();
        (number("enqueue_lease_until"), number("enqueue_visible_ms"))
    };
    let (until, visible_ms) = lease().await;
    assert!(
        (until * 1000 - visible_ms - 50 * 60 * 1000).abs() < 1000,
        "{until} {visible_ms}"
    );

    // A second push while that sync may still run is held back until a window after the first; a third rides on it.
    let second_at = Instant::now();
    let (status, reply) = push().await;
    assert_eq!((status, &reply["queued"]), (202, &json!(true)), "{reply}");
    let (status, reply) = push().await;
    assert_eq!(
        (status, &reply["reason"]),
        (202, &json!("coalesced")),
        "{reply}"
    );
    assert_eq!(queue_counts(&env).await, (0, 0, 1));
    let trailing_ms = lease().await.1;
    assert!(
        (visible_ms + 5_000..visible_ms + 6_000).contains(&trailing_ms),
        "{visible_ms} {trailing_ms}"
    );
    let (messages, _) = visible_messages(&env, Duration::from_secs(15)).await;
    let waited = second_at.elapsed();
    assert_eq!(messages.len(), 1);
    assert!(waited >= Duration::from_secs(3), "visible after {waited:?}");
    env.aws.teardown().await;
}

/// A system hook (an administrator's, for every project) sends the same push event under another header.
#[tokio::test]
async fn a_system_hooks_push_is_a_push() {
    let env = env().await;
    let (status, reply) = call(
        &env,
        event(&json!({"headers": {"x-gitlab-token": env.secret, "x-gitlab-event": "System Hook"}})),
    )
    .await;
    assert_eq!((status, &reply["queued"]), (202, &json!(true)), "{reply}");
    assert_eq!(queue_counts(&env).await, (1, 0, 0));
    env.aws.teardown().await;
}

/// Fifty deliveries at once: the first is sent at once; the others cannot know whether its sync read the head
/// before them, so one more waits a window, and it covers the rest.
#[tokio::test]
async fn fifty_concurrent_deliveries_of_one_push_queue_two_messages() {
    let env = env().await;
    let replies = futures::future::join_all((0..50).map(|_| {
        call(
            &env,
            event(&json!({"headers": {"x-gitlab-token": env.secret}})),
        )
    }))
    .await;
    let queued = replies.iter().filter(|(_, r)| r["queued"] == true).count();
    let coalesced = replies
        .iter()
        .filter(|(_, r)| r["reason"] == "coalesced")
        .count();
    assert_eq!((queued, coalesced), (2, 48), "{replies:?}");
    assert_eq!(queue_counts(&env).await, (1, 0, 1));
    env.aws.teardown().await;
}

#[tokio::test]
async fn hostile_deliveries_get_a_clear_4xx_or_are_ignored_and_queue_nothing() {
    let logs = crate::credentials_api::captured_logs();
    let env = env().await;
    let token = env.secret.clone();
    let with_token = |change: Value| {
        let mut change = change;
        merge(&mut change, &json!({"headers": {"x-gitlab-token": token}}));
        change
    };
    let other_connection = generate_hook_secret().unwrap().expose().to_owned();
    let five_mb = format!(
        "{{\"object_kind\":\"push\",\"pad\":\"{}\"}}",
        "x".repeat(5 * 1024 * 1024)
    );
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "wrong token",
            json!({"headers": {"x-gitlab-token": other_connection}}),
            401,
            "unauthorized",
        ),
        (
            "missing token",
            json!({"headers": {"x-gitlab-token": null}}),
            401,
            "unauthorized",
        ),
        (
            "token of another connection",
            json!({
                "rawPath": "/connections/globex/hooks/gitlab",
                "requestContext": {"http": {"path": "/connections/globex/hooks/gitlab"}},
                "pathParameters": {"connection_id": "globex"},
                "headers": {"x-gitlab-token": token},
            }),
            401,
            "unauthorized",
        ),
        (
            "a connection id that is no id",
            json!({
                "rawPath": "/connections/a%2Fb/hooks/gitlab",
                "headers": {"x-gitlab-token": token},
            }),
            401,
            "unauthorized",
        ),
        (
            "5 MB body",
            with_token(json!({"body": five_mb})),
            413,
            "payload_too_large",
        ),
        (
            "malformed JSON",
            with_token(json!({"body": "{\"object_kind\": \"push\", \"ref\": "})),
            400,
            "invalid_payload",
        ),
        (
            "a JSON array",
            with_token(json!({"body": "[]"})),
            400,
            "invalid_payload",
        ),
        (
            "a push without its project",
            with_token(json!({"body": payload(&json!({"project": null}))})),
            400,
            "invalid_payload",
        ),
        (
            "a push with a bad sha",
            with_token(json!({"body": payload(&json!({"after": "HEAD"}))})),
            400,
            "invalid_payload",
        ),
        (
            "a push with a huge ref",
            with_token(
                json!({"body": payload(&json!({"ref": format!("refs/heads/{}", "a".repeat(5000))}))}),
            ),
            400,
            "invalid_payload",
        ),
        (
            "a tag push",
            with_token(json!({
                "headers": {"x-gitlab-event": "Tag Push Hook"},
                "body": payload(&json!({"object_kind": "tag_push", "ref": "refs/tags/v1"})),
            })),
            202,
            "not_a_push",
        ),
        (
            "a merge request event",
            with_token(json!({"body": {"object_kind": "merge_request"}})),
            202,
            "not_a_push",
        ),
        (
            "a push to another branch",
            with_token(json!({"body": payload(&json!({"ref": "refs/heads/feature/x"}))})),
            202,
            "not_default_branch",
        ),
        (
            "a push of an unknown project",
            with_token(json!({"body": payload(&json!({"project_id": 99, "project": {"id": 99}}))})),
            202,
            "unknown_project",
        ),
        (
            "a push of an archived project",
            with_token(json!({"body": payload(&json!({"project_id": 16, "project": {"id": 16}}))})),
            202,
            "not_synced",
        ),
        (
            "GET",
            with_token(json!({"requestContext": {"http": {"method": "GET"}}})),
            405,
            "method_not_allowed",
        ),
        (
            "another path",
            with_token(json!({
                "rawPath": "/connections/acme-prod/hooks/github",
                "requestContext": {"http": {"path": "/connections/acme-prod/hooks/github"}},
            })),
            404,
            "unknown_route",
        ),
    ];
    for (case, change, status, code) in &cases {
        let (got, reply) = call(&env, event(change)).await;
        assert_eq!(got, *status, "{case}: {reply}");
        assert!(got < 500, "{case}");
        let answered = reply["error"].as_str().or(reply["reason"].as_str());
        assert_eq!(answered, Some(*code), "{case}: {reply}");
        assert!(!reply.to_string().contains(&env.secret), "{case}");
    }
    // The three refusals of a token say the same.
    let refusals: Vec<Value> =
        futures::future::join_all(cases[..3].iter().map(|(_, c, ..)| call(&env, event(c))))
            .await
            .into_iter()
            .map(|(_, reply)| reply)
            .collect();
    assert!(refusals.windows(2).all(|w| w[0] == w[1]), "{refusals:?}");
    assert_eq!(queue_counts(&env).await, (0, 0, 0));
    let item = env
        .aws
        .state_item(&format!("CONN#{CONNECTION}"), "SCHED#15")
        .await;
    assert!(!item.contains_key("enqueue_visible_ms"), "{item:?}");

    for (level, captured) in &logs.by_level {
        assert!(
            !captured.text().contains(&env.secret),
            "the hook secret in the {level} log"
        );
    }
    assert!(!logs.unfiltered.text().contains(&env.secret));
    env.aws.teardown().await;
}

/// A flood of deliveries for made-up connections, each with a token of its own: every one is refused, not one
/// reads a secret from Secrets Manager, and the tenant's own delivery still goes through.
#[tokio::test]
async fn a_thousand_deliveries_for_random_connections_read_no_secret() {
    let env = env().await;
    let bogus: Vec<(String, String)> = (0..1000)
        .map(|n| {
            let random = generate_hook_secret().unwrap().expose().to_owned();
            (format!("c{n}-{}", &random[..24]), random)
        })
        .collect();
    let mut refused = 0;
    for batch in bogus.chunks(50) {
        let replies = futures::future::join_all(batch.iter().map(|(connection, token)| {
            let path = format!("/connections/{connection}/hooks/gitlab");
            call(
                &env,
                event(&json!({
                    "rawPath": path,
                    "requestContext": {"http": {"path": path}},
                    "pathParameters": {"connection_id": connection},
                    "headers": {"x-gitlab-token": token},
                })),
            )
        }))
        .await;
        for (status, reply) in replies {
            assert_eq!((status, &reply["error"]), (401, &json!("unauthorized")));
            refused += 1;
        }
    }
    assert_eq!(refused, 1000);
    assert_eq!(env.secret_reads(), 0, "Secrets Manager reads for the flood");
    assert_eq!(queue_counts(&env).await, (0, 0, 0));

    let (status, reply) = call(
        &env,
        event(&json!({"headers": {"x-gitlab-token": env.secret}})),
    )
    .await;
    assert_eq!(status, 202, "{reply}");
    assert_eq!(env.secret_reads(), 1);
    env.aws.teardown().await;
}
