//! `local-run --serve` as the CLI meets it: the API behind one front that checks SigV4 as API Gateway's IAM
//! authorizer does (unsigned or wrongly signed requests never reach the function; the push hook route is public),
//! a CloudFormation stack on the stand-in naming the front, tables and queues under `template.yaml`'s output keys,
//! a turn request that syncs the demo's projects, and a stop (in process, or SIGINT to the binary) that deletes
//! the stack and frees the port.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use serde_json::{Value, json};
use testkit::api_front::iam::sign_request;
use testkit::local_serve::{SERVE_OUTPUT_KEYS, ServeOptions, Served, stack_status, start};
use tokio::io::AsyncBufReadExt as _;

fn options(stack_name: &str) -> ServeOptions {
    ServeOptions {
        tick_every: Duration::from_secs(3600),
        stack_name: format!("{stack_name}-{}", std::process::id()),
        connection: "local-demo".into(),
        monolith_commits: 200,
        verbose: false,
    }
}

fn region() -> String {
    std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())
}

/// The stand-in's credentials, as `scripts/with-moto` exports them.
fn stand_in_credentials(secret: &str) -> Credentials {
    Credentials::new("testing", secret, Some("testing".into()), None, "test")
}

/// `method` on `<api>/connections/local-demo/<route>`, signed with `credentials` (none: unsigned): status and
/// JSON body.
async fn call(
    served: &Served,
    method: &str,
    route: &str,
    body: Option<Value>,
    credentials: Option<&Credentials>,
) -> (u16, Value) {
    let url = format!("{}/connections/local-demo/{route}", served.api_url());
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let mut request = hyper::http::Request::builder()
        .method(method)
        .uri(&url)
        .header("content-type", "application/json")
        .body(body)
        .expect("a request");
    if let Some(credentials) = credentials {
        sign_request(&mut request, credentials, &region(), SystemTime::now());
    }
    let request = reqwest::Request::try_from(request).expect("a reqwest request");
    let response = reqwest::Client::new()
        .execute(request)
        .await
        .expect("the front answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn cloudformation() -> aws_sdk_cloudformation::Client {
    aws_sdk_cloudformation::Client::new(&testkit::aws_local::sdk_config().await.expect("stand-in"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_api_checks_signatures_and_a_turn_request_syncs_the_demo() {
    let served = start(options("serve-it")).await.expect("serves");
    let signed = stand_in_credentials("testing");

    // Unsigned: API Gateway's 403, never the function's answer (which always has an `error` code).
    let (status, body) = call(&served, "GET", "credentials.list", None, None).await;
    assert_eq!((status, &body), (403, &json!({"message": "Forbidden"})));
    let (status, body) = call(&served, "GET", "credentials.list", None, Some(&signed)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("connection_not_found")),
        "{body}"
    );
    let wrong = stand_in_credentials("not-the-secret");
    let (status, body) = call(&served, "GET", "credentials.list", None, Some(&wrong)).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("The request signature we calculated does not match")),
        "{body}"
    );
    let stranger = Credentials::new("AKIAOTHER", "testing", None, None, "test");
    let (status, body) = call(&served, "GET", "credentials.list", None, Some(&stranger)).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            403,
            Some("The security token included in the request is invalid.")
        )
    );

    // The push hook route is public: the function itself refuses a wrong token.
    let hook = reqwest::Client::new()
        .post(format!(
            "{}/connections/local-demo/hooks/gitlab",
            served.api_url()
        ))
        .header("X-Gitlab-Event", "Push Hook")
        .header("X-Gitlab-Token", "not-the-secret")
        .header("content-type", "application/json")
        .body(r#"{"object_kind":"push"}"#)
        .send()
        .await
        .expect("the front answers");
    assert_eq!(hook.status().as_u16(), 401);
    let hook: Value = hook.json().await.expect("JSON");
    assert_eq!(hook["error"], "unauthorized", "{hook}");

    // The stack names the front, under template.yaml's keys.
    let described = cloudformation()
        .await
        .describe_stacks()
        .stack_name(served.stack_name())
        .send()
        .await
        .expect("the stack exists");
    let outputs: Vec<(String, String)> = described.stacks()[0]
        .outputs()
        .iter()
        .map(|o| {
            (
                o.output_key().unwrap_or_default().to_owned(),
                o.output_value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let output = |key: &str| {
        outputs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no output {key}: {outputs:?}"))
    };
    assert_eq!(output("CredentialsApiUrl"), served.api_url());
    assert_eq!(
        output("PushHookUrl"),
        format!(
            "{}/connections/{{connection_id}}/hooks/gitlab",
            served.api_url()
        )
    );
    assert_eq!(
        output("StateTableName"),
        served.run().config.state_table.as_str()
    );
    for key in ["SyncQueueUrl", "SyncDeadLetterQueueUrl", "ExportBucketName"] {
        assert!(!output(key).is_empty(), "{key}");
    }
    assert!(
        served
            .endpoint_line()
            .contains(&format!("GITLAB_IMPORTER_STACK={}", served.stack_name())),
        "{}",
        served.endpoint_line()
    );

    // The CLI's path: a credential, then a turn request, then projects.list until the demo is synced.
    let create = json!({
        "label": "demo",
        "settings": {"base_url": served.gitlab_url()},
        "secrets": {"api_token": served.demo_token()},
    });
    let (status, body) = call(
        &served,
        "POST",
        "credentials.create",
        Some(create),
        Some(&signed),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(&served, "POST", "connections.sync", None, Some(&signed)).await;
    assert_eq!(
        (status, body["sync"].as_str()),
        (202, Some("queued")),
        "{body}"
    );
    let expected = served.demo().expected().count();
    let started = Instant::now();
    let mut synced = 0;
    while started.elapsed() < Duration::from_secs(120) {
        let (status, body) = call(
            &served,
            "GET",
            "projects.list?limit=100",
            None,
            Some(&signed),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        synced = body["projects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["last_head"].is_string())
            .count();
        if synced >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        synced >= expected,
        "{synced} of {expected} projects synced in 120 s"
    );

    let (api_url, stack) = (served.api_url(), served.stack_name().to_owned());
    served.stop().await;
    assert_eq!(
        stack_status(&cloudformation().await, &stack).await.unwrap(),
        None,
        "the stack is deleted"
    );
    let port = url::Url::parse(&api_url).unwrap().port().unwrap();
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the front's port is free");
}

#[test]
fn every_output_of_the_serve_stack_is_one_of_the_template() {
    let text = std::fs::read_to_string(testkit::aws_local::template_path()).expect("template.yaml");
    let template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("YAML");
    let declared: BTreeSet<&str> = template["Outputs"]
        .as_mapping()
        .expect("Outputs")
        .keys()
        .filter_map(|k| k.as_str())
        .collect();
    for key in SERVE_OUTPUT_KEYS {
        assert!(declared.contains(key), "template.yaml has no output {key}");
    }
}

/// `target/debug/local-run` (the suite runs after `cargo build --workspace --all-targets`).
fn local_run_binary() -> PathBuf {
    testkit::built_binary("local-run").expect("local-run is not built")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binarys_line_points_the_cli_at_it_and_sigint_stops_it_and_deletes_its_stack() {
    let binary = local_run_binary();
    assert!(
        binary.exists(),
        "{} is missing: build it first (cargo build -p testkit --bin local-run)",
        binary.display()
    );
    let stack = format!("serve-bin-{}", std::process::id());
    let mut child = tokio::process::Command::new(&binary)
        .args([
            "--serve",
            "--tick-seconds",
            "3600",
            "--monolith-commits",
            "200",
            "--stack-name",
            &stack,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("local-run starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let export = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("stdout") {
            if line.starts_with("export ") {
                return Some(line);
            }
        }
        None
    })
    .await
    .expect("the export line within 120 s")
    .expect("an export line");
    assert!(
        export.contains(&format!("GITLAB_IMPORTER_STACK={stack}"))
            && export.contains("AWS_ENDPOINT_URL=http://127.0.0.1:")
            && export.contains("AWS_ACCESS_KEY_ID=testing"),
        "{export}"
    );
    let cloudformation = cloudformation().await;
    assert_eq!(
        stack_status(&cloudformation, &stack)
            .await
            .unwrap()
            .as_deref(),
        Some("CREATE_COMPLETE")
    );
    // Keep reading stdout, so the child never blocks on a full pipe.
    let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    // The line is all the CLI needs: with nothing else of the test's environment, it finds the stack, signs (the
    // session token included) and reaches the API, which knows no credential of the connection yet.
    let variables = export
        .trim_start_matches("export ")
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, _)| *name != "PATH");
    let listed = tokio::process::Command::new(crate::cli_docs::cli_binary())
        .args(["credentials", "list"])
        .env_clear()
        .env("HOME", std::env::temp_dir())
        .envs(variables)
        .output()
        .await
        .expect("the CLI runs");
    let said = String::from_utf8_lossy(&listed.stderr);
    assert_eq!(listed.status.code(), Some(2), "{said}");
    assert!(said.contains("connection_not_found (404)"), "{said}");

    let pid = child.id().expect("running");
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("local-run exits within 60 s of SIGINT")
        .expect("wait");
    assert!(status.success(), "{status}");
    drain.abort();
    assert_eq!(
        stack_status(&cloudformation, &stack).await.unwrap(),
        None,
        "the stack is deleted"
    );
}
