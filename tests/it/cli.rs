//! The operator's CLI, the real binary, against `local-run --serve` in this process: the API behind a front that
//! checks SigV4 signatures made with the stand-in's test credentials, the stack's outputs on the stand-in's
//! CloudFormation, the demo GitLab, and the pipeline draining behind them.

use std::collections::BTreeSet;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::local_serve::{ServeOptions, Served, start};
use testkit::log_sink::LogSink;

use crate::cli_docs::cli_binary;

const CONNECTION: &str = "cli-demo";
/// One CLI call at most (a sync request waits up to 10 s for a tick's lock).
const CALL_LIMIT: Duration = Duration::from_secs(60);
/// How long the pipeline may take to make a requested change visible.
const LAND_LIMIT: Duration = Duration::from_secs(180);

/// A CLI run: exit code, standard output and standard error.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn json(&self) -> Value {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// Runs the CLI with `args`, pointed at `served` by the environment its line prints, with `stdin` piped in, and
/// `env` on top; every output is kept for the token check.
async fn cli(
    served: &Served,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
    seen: &mut Vec<String>,
) -> Ran {
    use tokio::io::AsyncWriteExt;
    let mut command = tokio::process::Command::new(cli_binary());
    command
        .args(args)
        .env("GITLAB_IMPORTER_STACK", served.stack_name())
        .env("GITLAB_IMPORTER_CONNECTION", CONNECTION)
        .env_remove("GITLAB_IMPORTER_API_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("the CLI starts");
    let mut input = child.stdin.take().expect("piped");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .await
        .expect("writes stdin");
    drop(input);
    let output: Output = tokio::time::timeout(CALL_LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("gitlab-importer {args:?} took over {CALL_LIMIT:?}"))
        .expect("the CLI ran");
    let ran = Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    seen.push(format!("{args:?}\n{}\n{}", ran.stdout, ran.stderr));
    ran
}

/// Polls `projects info <id>` until its `last_head` is `head` (bounded).
async fn wait_for_head(served: &Served, id: u64, head: &str, seen: &mut Vec<String>) {
    let started = Instant::now();
    let id = id.to_string();
    while started.elapsed() < LAND_LIMIT {
        let info = cli(
            served,
            &["projects", "info", &id, "-o", "json"],
            None,
            &[],
            seen,
        )
        .await;
        if info.code == 0 && info.json()["project"]["last_head"] == head {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("project {id} did not reach {head} within {LAND_LIMIT:?}");
}

/// Every project, as `projects list --all -o json` streams them.
async fn all_projects(served: &Served, seen: &mut Vec<String>) -> Vec<Value> {
    let listed = cli(
        served,
        &["projects", "list", "--all", "--limit", "5", "-o", "json"],
        None,
        &[],
        seen,
    )
    .await;
    listed.json().as_array().expect("one JSON array").clone()
}

#[tokio::test]
async fn an_operator_connects_syncs_reads_rotates_and_deletes_with_the_cli() {
    let logs = LogSink::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let mut served = start(ServeOptions {
        tick_every: Duration::from_secs(3_600),
        stack_name: format!("cli-it-{}", std::process::id()),
        connection: CONNECTION.into(),
        monolith_commits: 300,
        verbose: false,
    })
    .await
    .expect("serves");
    let token = served.demo_token();
    let gitlab = served.gitlab_url();
    let mut seen = Vec::new();

    // Nothing yet: the connection has no credential (404, the caller's to fix: exit 2).
    let none = cli(&served, &["credentials", "list"], None, &[], &mut seen).await;
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(
        none.stderr.contains("connection_not_found (404)"),
        "{}",
        none.stderr
    );

    // A token GitLab refuses: exit 3, the API's code shown, nothing stored.
    let refused = cli(
        &served,
        &["credentials", "create", "--base-url", &gitlab],
        Some("glpat-not-the-demo-token\n"),
        &[],
        &mut seen,
    )
    .await;
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("invalid_credentials (401)"),
        "{}",
        refused.stderr
    );

    // create, the token from standard input.
    let created = cli(
        &served,
        &[
            "credentials",
            "create",
            "--base-url",
            &gitlab,
            "--label",
            "demo",
            "-o",
            "json",
        ],
        Some(&format!("{token}\n")),
        &[],
        &mut seen,
    )
    .await
    .json();
    let credential = created["credential"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_eq!(created["credential"]["status"], "active");
    assert!(created["push_hook"]["secret"].is_string(), "{created}");

    // connections sync: the scheduler's turn, then every project's sync through the queue.
    let turn = cli(
        &served,
        &["connections", "sync", "-o", "json"],
        None,
        &[],
        &mut seen,
    )
    .await;
    assert_eq!(turn.json()["sync"], "queued");
    let expected: BTreeSet<String> = served
        .demo()
        .expected()
        .map(|p| p.path_with_namespace.clone())
        .collect();
    let started = Instant::now();
    let projects = loop {
        let projects = all_projects(&served, &mut seen).await;
        let synced: BTreeSet<String> = projects
            .iter()
            .filter(|p| p["last_head"].is_string() && p["sync_queued"] == false)
            .filter_map(|p| p["path_with_namespace"].as_str().map(str::to_owned))
            .collect();
        if synced.is_superset(&expected) {
            break projects;
        }
        assert!(
            started.elapsed() < LAND_LIMIT,
            "synced only {synced:?} of {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let monolith = projects
        .iter()
        .find(|p| p["path_with_namespace"] == "acme/monolith")
        .expect("the monolith is listed");
    let id = monolith["project_id"].as_u64().expect("an id");
    let refused_project = served
        .demo()
        .refused()
        .next()
        .expect("a refused demo project");
    let forbidden = cli(
        &served,
        &["projects", "list", "--status", "forbidden", "-o", "csv"],
        None,
        &[],
        &mut seen,
    )
    .await;
    assert_eq!(forbidden.code, 0, "{}", forbidden.stderr);
    assert!(
        forbidden
            .stdout
            .starts_with("project_id,path_with_namespace,"),
        "{}",
        forbidden.stdout
    );
    assert!(
        forbidden
            .stdout
            .contains(&refused_project.path_with_namespace),
        "{}",
        forbidden.stdout
    );

    // GitLab moves on; projects sync brings the new head in.
    served.advance(40);
    let head = served.demo().project("acme/monolith").truth()[0].clone();
    let sync = cli(
        &served,
        &["projects", "sync", &id.to_string()],
        None,
        &[],
        &mut seen,
    )
    .await;
    assert_eq!(sync.code, 0, "{}", sync.stderr);
    assert!(
        sync.stdout.contains(&format!("project {id}: sync queued")),
        "{}",
        sync.stdout
    );
    wait_for_head(&served, id, &head, &mut seen).await;

    // Every commit to CSV, page by page, equals git's.
    let commits = cli(
        &served,
        &[
            "commits",
            "list",
            "--project-id",
            &id.to_string(),
            "--all",
            "--limit",
            "100",
            "-o",
            "csv",
        ],
        None,
        &[],
        &mut seen,
    )
    .await;
    assert_eq!(commits.code, 0, "{}", commits.stderr);
    let mut reader = csv::Reader::from_reader(commits.stdout.as_bytes());
    let shas: Vec<String> = reader
        .records()
        .map(|r| r.expect("a CSV row")[0].to_owned())
        .collect();
    let truth = served.demo().project("acme/monolith").truth();
    assert_eq!(shas.len(), truth.len(), "no commit lost or doubled");
    assert_eq!(
        shas.iter().collect::<BTreeSet<_>>(),
        truth.iter().collect::<BTreeSet<_>>()
    );

    // The project's details as a table; an unknown project is the caller's fault.
    let info = cli(
        &served,
        &["projects", "info", &id.to_string()],
        None,
        &[],
        &mut seen,
    )
    .await;
    assert_eq!(info.code, 0, "{}", info.stderr);
    assert!(
        info.stdout.contains("| last_head") && info.stdout.contains(&head),
        "{}",
        info.stdout
    );
    let unknown = cli(
        &served,
        &["projects", "info", "999999999"],
        None,
        &[],
        &mut seen,
    )
    .await;
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("project_not_found (404)"),
        "{}",
        unknown.stderr
    );

    // The hook secret rotates: shown once, and hook-setup says where it goes.
    let rotated = cli(
        &served,
        &["hooks", "rotate", "-o", "json"],
        None,
        &[],
        &mut seen,
    )
    .await
    .json();
    let secret = rotated["push_hook"]["secret"]
        .as_str()
        .expect("a secret")
        .to_owned();
    assert_ne!(
        Some(secret.as_str()),
        created["push_hook"]["secret"].as_str()
    );
    let setup = cli(&served, &["hook-setup"], None, &[], &mut seen).await;
    assert_eq!(setup.code, 0, "{}", setup.stderr);
    assert!(
        setup.stdout.contains(&format!(
            "{}/connections/{CONNECTION}/hooks/gitlab",
            served.api_url()
        )),
        "{}",
        setup.stdout
    );
    assert!(setup.stdout.contains("Push events"), "{}", setup.stdout);
    // The new secret is the one the hook route takes (GitLab's push, as the sample event carries it).
    let sample: Value =
        serde_json::from_str(include_str!("../../events/apigw-push-hook.json")).expect("JSON");
    let push = sample["body"].as_str().expect("a body").to_owned();
    let hook_url = format!("{}/connections/{CONNECTION}/hooks/gitlab", served.api_url());
    let deliver = |token: &str| {
        reqwest::Client::new()
            .post(&hook_url)
            .header("content-type", "application/json")
            .header("x-gitlab-event", "Push Hook")
            .header("x-gitlab-token", token)
            .body(push.clone())
            .send()
    };
    assert_eq!(deliver(&secret).await.expect("answers").status(), 202);
    assert_eq!(
        deliver("not-the-secret").await.expect("answers").status(),
        401
    );
    assert!(
        !setup.stdout.contains(&secret),
        "hook-setup shows a secret only with --rotate"
    );

    // status: one screen, and its JSON; no export yet, then the one that ran.
    let status = cli(&served, &["status", "-o", "json"], None, &[], &mut seen)
        .await
        .json();
    assert_eq!(status["credentials"].as_array().map(Vec::len), Some(1));
    assert_eq!(status["failing_projects"], serde_json::json!([]));
    assert_eq!(status["queues"]["dead_letters"]["sync"], 0);
    assert_eq!(status["queues"]["dead_letters"]["turn requests"], 0);
    assert_eq!(
        status["last_export"],
        serde_json::json!({"exported": false})
    );
    let exported = served.export().await.expect("exports");
    assert!(exported.rows >= truth.len(), "{exported:?}");
    let screen = cli(&served, &["status"], None, &[], &mut seen).await;
    assert_eq!(screen.code, 0, "{}", screen.stderr);
    let rows = format!("{} rows in {} files", exported.rows, exported.files);
    assert!(screen.stdout.contains(&rows), "{}", screen.stdout);
    assert!(
        screen.stdout.contains("failing projects: none"),
        "{}",
        screen.stdout
    );

    // A wrong signature never reaches the function: API Gateway's 403, exit 3.
    let forged = cli(
        &served,
        &["credentials", "list"],
        None,
        &[("AWS_SECRET_ACCESS_KEY", "not-the-secret")],
        &mut seen,
    )
    .await;
    assert_eq!(forged.code, 3, "{}", forged.stderr);
    assert!(
        forged
            .stderr
            .contains("API Gateway refused the request (403)"),
        "{}",
        forged.stderr
    );

    // delete, then the connection lists nothing.
    let deleted = cli(
        &served,
        &["credentials", "delete", &credential, "-o", "json"],
        None,
        &[],
        &mut seen,
    )
    .await
    .json();
    assert!(deleted["credential"]["deleted_at"].is_string(), "{deleted}");
    let listed = cli(
        &served,
        &["credentials", "list", "-o", "json"],
        None,
        &[],
        &mut seen,
    )
    .await
    .json();
    assert_eq!(listed["credentials"], serde_json::json!([]));

    served.stop().await;
    // The token is in no output of the CLI and in no log line of the API.
    for output in &seen {
        for secret in [token, "glpat-not-the-demo-token"] {
            assert!(!output.contains(secret), "a token leaked: {output}");
        }
    }
    assert!(!logs.text().is_empty(), "the API logged");
    assert!(!logs.text().contains(token), "the token is in a log line");
}
