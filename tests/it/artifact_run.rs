//! The artifact run: the built Lambda `bootstrap` files (`LAMBDA_ARTIFACTS=<dir>`, `<dir>/<LogicalId>/bootstrap`)
//! run as AWS runs them, behind the test kit's Lambda Runtime API, each with the environment `template.yaml`
//! gives it, under `qemu-aarch64` when built for arm64 (`QEMU_AARCH64` and `QEMU_LD_PREFIX` as
//! `scripts/fetch-emulator` prints them, else the system's), drive the whole pipeline against the stand-in and the
//! demo GitLab (`testkit::artifact_run`). Without `LAMBDA_ARTIFACTS` the run is skipped with one line saying so:
//! `scripts/test` builds the functions and sets it.

use std::time::Duration;

use serde_json::json;
use testkit::artifact_run::{ARTIFACTS_VARIABLE, ArtifactStack, artifacts_dir, run_pipeline};
use testkit::lambda_process::{FunctionError, LambdaProcess};
use testkit::runtime_api::{InvokeError, RuntimeApi};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_functions_run_the_whole_pipeline_behind_a_lambda_runtime_api() {
    let Some(artifacts) = artifacts_or_skip() else {
        return;
    };
    let stack = format!("artifacts{}", std::process::id());
    let report = run_pipeline(&artifacts, &stack, 300)
        .await
        .unwrap_or_else(|e| panic!("the artifact run stopped: {e}"));
    for step in &report.steps {
        eprintln!("  {step}");
    }
    for figures in &report.figures {
        eprintln!("  {figures:?}");
    }
    assert_eq!(report.mismatches, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_whose_environment_lacks_a_variable_fails_to_start_with_its_own_message() {
    let Some(artifacts) = artifacts_or_skip() else {
        return;
    };
    let stack = ArtifactStack::deploy(&format!("artifactsmissing{}", std::process::id()), &[])
        .await
        .unwrap();
    let mut launch = stack.launch("SchedulerFunction", &artifacts).unwrap();
    assert!(launch.environment.remove("STATE_TABLE").is_some());
    let error = LambdaProcess::start(&launch).await.unwrap_err();
    stack.teardown().await;
    assert!(matches!(error, FunctionError::Exited { .. }), "{error}");
    assert!(error.to_string().contains("STATE_TABLE"), "{error}");
}

/// The build folder of `LAMBDA_ARTIFACTS`, or none after one line saying the run is skipped.
fn artifacts_or_skip() -> Option<std::path::PathBuf> {
    let artifacts = artifacts_dir();
    if artifacts.is_none() {
        eprintln!(
            "artifact run skipped: {ARTIFACTS_VARIABLE} is not set (scripts/test sets it after building the functions)"
        );
    }
    artifacts
}

/// The routes as a runtime client calls them (the paths and headers of `lambda_runtime`'s `requests.rs`).
#[tokio::test]
async fn the_runtime_api_serves_the_routes_a_runtime_client_uses() {
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:f";
    let api = std::sync::Arc::new(RuntimeApi::start(arn).await.unwrap());
    let base = format!("http://{}/2018-06-01/runtime", api.address());
    let http = reqwest::Client::new();
    let invoking = {
        let api = api.clone();
        tokio::spawn(async move { api.invoke(&json!({"n": 1}), Duration::from_secs(30)).await })
    };
    let next = http
        .get(format!("{base}/invocation/next"))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 200);
    let header = |name: &str| next.headers()[name].to_str().unwrap().to_owned();
    let request_id = header("lambda-runtime-aws-request-id");
    let deadline: u64 = header("lambda-runtime-deadline-ms").parse().unwrap();
    assert_eq!(header("lambda-runtime-invoked-function-arn"), arn);
    assert!(header("lambda-runtime-trace-id").starts_with("Root=1-"));
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() as u64 * 1000;
    assert!(
        (now_ms + 25_000..now_ms + 31_000).contains(&deadline),
        "{deadline}"
    );
    assert_eq!(
        next.json::<serde_json::Value>().await.unwrap(),
        json!({"n": 1})
    );

    let unknown = http
        .post(format!("{base}/invocation/not-{request_id}/response"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    let answered = http
        .post(format!("{base}/invocation/{request_id}/response"))
        .body(r#"{"ok":true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 202);
    assert_eq!(invoking.await.unwrap().unwrap(), json!({"ok": true}));

    let failing = {
        let api = api.clone();
        tokio::spawn(async move { api.invoke(&json!({}), Duration::from_secs(30)).await })
    };
    let next = http
        .get(format!("{base}/invocation/next"))
        .send()
        .await
        .unwrap();
    let request_id = next.headers()["lambda-runtime-aws-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let reported = http
        .post(format!("{base}/invocation/{request_id}/error"))
        .header("lambda-runtime-function-error-type", "unhandled")
        .body(r#"{"errorType":"Boom","errorMessage":"it broke"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(reported.status(), 202);
    match failing.await.unwrap() {
        Err(InvokeError::Function(error)) => {
            assert_eq!(
                (error.error_type.as_str(), error.error_message.as_str()),
                ("Boom", "it broke")
            );
        }
        other => panic!("{other:?}"),
    }

    let init = http
        .post(format!("{base}/init/error"))
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .body(r#"{"errorType":"Missing","errorMessage":"STATE_TABLE"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 202);
}
