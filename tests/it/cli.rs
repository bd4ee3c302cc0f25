//! The operator's CLI, the real binary, against `local-run --serve` in this process: the API behind a front that
//! checks SigV4 signatures made with the stand-in's test credentials, the stack's outputs on the stand-in's
//! CloudFormation, the demo GitLab, and the pipeline draining behind them. One operator's day, step by step.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::local_serve::{ServeOptions, Served, start};
use testkit::log_sink::LogSink;

use crate::cli_docs::cli_binary;

const CONNECTION: &str = "cli-demo";
/// One CLI call at most (a sync request waits up to 10 s for a tick's lock).
const CALL_LIMIT: Duration = Duration::from_secs(60);
/// How long the pipeline may take to make a requested change visible.
const LAND_LIMIT: Duration = Duration::from_secs(180);
/// A token GitLab refuses.
const WRONG_TOKEN: &str = "glpat-not-the-demo-token";

/// A CLI run: exit code, standard output and standard error.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// Standard output as JSON, of a run that succeeded.
    fn json(&self) -> Value {
        self.ok();
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    /// Standard output, of a run that succeeded.
    fn ok(&self) -> &str {
        let (out, err) = (&self.stdout, &self.stderr);
        assert_eq!(self.code, 0, "stdout: {out}\nstderr: {err}");
        out
    }

    /// Standard error, of a run that ended with `code`.
    fn failed(&self, code: i32) -> &str {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stderr
    }
}

/// The serve and every output the CLI gave (for the token check).
struct Operator {
    served: Served,
    seen: Vec<String>,
}

impl Operator {
    /// Runs the CLI with `args`, pointed at the serve as its printed line points it (the stand-in's endpoint and
    /// credentials come from the test's environment), with `stdin` piped in and `env` on top.
    async fn run(&mut self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Ran {
        use tokio::io::AsyncWriteExt;
        let mut command = tokio::process::Command::new(cli_binary());
        command
            .args(args)
            .env("GITLAB_IMPORTER_STACK", self.served.stack_name())
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
        let stdin = stdin.unwrap_or_default().as_bytes();
        input.write_all(stdin).await.expect("writes stdin");
        drop(input);
        let output = tokio::time::timeout(CALL_LIMIT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("gitlab-importer {args:?} took over {CALL_LIMIT:?}"))
            .expect("the CLI ran");
        let ran = Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        self.seen
            .push(format!("{args:?}\n{}\n{}", ran.stdout, ran.stderr));
        ran
    }

    async fn cli(&mut self, args: &[&str]) -> Ran {
        self.run(args, None, &[]).await
    }

    /// Every project, as `projects list --all -o json` streams them (in pages of 5).
    async fn all_projects(&mut self) -> Vec<Value> {
        let listed = self
            .cli(&["projects", "list", "--all", "--limit", "5", "-o", "json"])
            .await;
        listed.json().as_array().expect("one JSON array").clone()
    }

    /// Polls `projects info <id>` until its `last_head` is `head` (bounded).
    async fn wait_for_head(&mut self, id: u64, head: &str) {
        let started = Instant::now();
        let id = id.to_string();
        while started.elapsed() < LAND_LIMIT {
            let info = self.cli(&["projects", "info", &id, "-o", "json"]).await;
            if info.code == 0 && info.json()["project"]["last_head"] == head {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("project {id} did not reach {head} within {LAND_LIMIT:?}");
    }
}

/// A credential from standard input (a refused token first: exit 3, nothing stored); its id and the reply.
async fn connect(op: &mut Operator) -> (String, Value) {
    let none = op.cli(&["credentials", "list"]).await;
    assert!(none.failed(2).contains("connection_not_found (404)"));
    let gitlab = op.served.gitlab_url();
    let create = ["credentials", "create", "--base-url", &gitlab];
    let refused = op
        .run(&create, Some(&format!("{WRONG_TOKEN}\n")), &[])
        .await;
    assert!(refused.failed(3).contains("invalid_credentials (401)"));

    let token = format!("{}\n", op.served.demo_token());
    let args = [&create[..], &["--label", "demo", "-o", "json"]].concat();
    let created = op.run(&args, Some(&token), &[]).await.json();
    let id = created["credential"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_eq!(created["credential"]["status"], "active");
    assert!(created["push_hook"]["secret"].is_string(), "{created}");

    // The token rotates the same way, from standard input; info shows the credential.
    let rotated = op
        .run(
            &["credentials", "update", &id, "--token"],
            Some(&token),
            &[],
        )
        .await;
    assert!(rotated.ok().contains(&id));
    let info = op
        .cli(&["credentials", "info", &id, "-o", "json"])
        .await
        .json();
    assert_eq!(info["credential"]["label"], "demo");
    // An id that needs encoding in the path is signed as sent: the API answers (404), not the front (403).
    let odd = op.cli(&["credentials", "info", "cred_a/b c"]).await;
    assert!(odd.failed(2).contains("credential_not_found (404)"));
    (id, created)
}

/// `connections sync` lands every expected demo project; the listing as it then stands.
async fn sync_everything(op: &mut Operator) -> Vec<Value> {
    let turn = op.cli(&["connections", "sync", "-o", "json"]).await;
    assert_eq!(turn.json()["sync"], "queued");
    let expected: BTreeSet<String> = op
        .served
        .demo()
        .expected()
        .map(|p| p.path_with_namespace.clone())
        .collect();
    let started = Instant::now();
    loop {
        let projects = op.all_projects().await;
        let synced: BTreeSet<String> = projects
            .iter()
            .filter(|p| p["last_head"].is_string() && p["sync_queued"] == false)
            .filter_map(|p| p["path_with_namespace"].as_str().map(str::to_owned))
            .collect();
        if synced.is_superset(&expected) {
            return projects;
        }
        assert!(
            started.elapsed() < LAND_LIMIT,
            "synced only {synced:?} of {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// GitLab moves on; `projects sync` brings the new head in, and every commit, paged to CSV, equals git's.
async fn sync_and_read(op: &mut Operator, id: u64) {
    op.served.advance(40);
    let head = op.served.demo().project("acme/monolith").truth()[0].clone();
    let id_text = id.to_string();
    let sync = op.cli(&["projects", "sync", &id_text]).await;
    assert!(sync.ok().contains(&format!("project {id}: sync queued")));
    op.wait_for_head(id, &head).await;

    let all = [
        "commits",
        "list",
        "--project-id",
        &id_text,
        "--all",
        "--limit",
        "100",
        "-o",
        "csv",
    ];
    let commits = op.cli(&all).await;
    let mut reader = csv::Reader::from_reader(commits.ok().as_bytes());
    let shas: Vec<String> = reader
        .records()
        .map(|r| r.expect("a CSV row")[0].to_owned())
        .collect();
    let truth = op.served.demo().project("acme/monolith").truth();
    assert_eq!(shas.len(), truth.len(), "no commit lost or doubled");
    let unique: BTreeSet<&String> = shas.iter().collect();
    assert_eq!(unique, truth.iter().collect::<BTreeSet<_>>());
    // A time with an offset (`+` in the query) is signed as sent, and filters.
    let since = "2000-01-01T00:00:00+02:00";
    let filtered = op
        .cli(&[
            "commits",
            "list",
            "--project-id",
            &id_text,
            "--since",
            since,
            "-o",
            "json",
        ])
        .await
        .json();
    assert_eq!(filtered["commits"].as_array().map(Vec::len), Some(50));

    // The details as a table; an unknown project is the caller's fault; a re-import is queued or covered.
    let info = op.cli(&["projects", "info", &id_text]).await;
    assert!(info.ok().contains("| last_head") && info.stdout.contains(&head));
    let unknown = op.cli(&["projects", "info", "999999999"]).await;
    assert!(unknown.failed(2).contains("project_not_found (404)"));
    let resync = op.cli(&["projects", "resync", &id_text]).await;
    assert!(resync.ok().contains(&format!("project {id}: re-import ")));
}

/// `hooks rotate` shows a new secret once, which the hook route takes; `hook-setup` says where it goes.
async fn rotate_hook_secret(op: &mut Operator, created: &Value) {
    let rotated = op.cli(&["hooks", "rotate", "-o", "json"]).await.json();
    let secret = rotated["push_hook"]["secret"]
        .as_str()
        .expect("a secret")
        .to_owned();
    assert_ne!(
        Some(secret.as_str()),
        created["push_hook"]["secret"].as_str()
    );
    let setup = op.cli(&["hook-setup"]).await;
    let hook_url = format!(
        "{}/connections/{CONNECTION}/hooks/gitlab",
        op.served.api_url()
    );
    assert!(setup.ok().contains(&hook_url) && setup.stdout.contains("Push events"));
    assert!(
        !setup.stdout.contains(&secret),
        "hook-setup shows a secret only with --rotate"
    );
    // GitLab's push, as the sample event carries it.
    let sample: Value =
        serde_json::from_str(include_str!("../../events/apigw-push-hook.json")).expect("JSON");
    let push = sample["body"].as_str().expect("a body").to_owned();
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
}

/// `status`: no export yet, then the one that ran; nothing failing, nothing dead-lettered.
async fn status(op: &mut Operator, commits: usize) {
    let status = op.cli(&["status", "-o", "json"]).await.json();
    assert_eq!(status["credentials"].as_array().map(Vec::len), Some(1));
    assert_eq!(status["failing_projects"], json!([]));
    assert_eq!(status["queues"]["dead_letters"]["sync"], 0);
    assert_eq!(status["queues"]["dead_letters"]["turn requests"], 0);
    assert_eq!(status["last_export"], json!({"exported": false}));
    let exported = op.served.export().await.expect("exports");
    assert!(exported.rows >= commits, "{exported:?}");
    let screen = op.cli(&["status"]).await;
    assert!(screen.ok().contains("failing projects: none"));
    let rows = format!("{} rows in {} files", exported.rows, exported.files);
    assert!(screen.stdout.contains(&rows), "{}", screen.stdout);
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
    let served = start(ServeOptions {
        tick_every: Duration::from_secs(3_600),
        stack_name: format!("cli-it-{}", std::process::id()),
        connection: CONNECTION.into(),
        monolith_commits: 300,
        verbose: false,
    })
    .await
    .expect("serves");
    let token = served.demo_token();
    let mut op = Operator {
        served,
        seen: Vec::new(),
    };

    let (credential, created) = connect(&mut op).await;
    let projects = sync_everything(&mut op).await;
    let refused = op
        .served
        .demo()
        .refused()
        .next()
        .expect("a refused demo project")
        .path_with_namespace
        .clone();
    let forbidden = op
        .cli(&["projects", "list", "--status", "forbidden", "-o", "csv"])
        .await;
    assert!(
        forbidden
            .ok()
            .starts_with("project_id,path_with_namespace,")
    );
    assert!(forbidden.stdout.contains(&refused));
    let monolith = projects
        .iter()
        .find(|p| p["path_with_namespace"] == "acme/monolith")
        .and_then(|p| p["project_id"].as_u64())
        .expect("the monolith is listed");
    sync_and_read(&mut op, monolith).await;
    rotate_hook_secret(&mut op, &created).await;
    let commits = op.served.demo().project("acme/monolith").truth().len();
    status(&mut op, commits).await;

    // A wrong signature never reaches the function: API Gateway's 403, exit 3.
    let forged = op
        .run(
            &["credentials", "list"],
            None,
            &[("AWS_SECRET_ACCESS_KEY", "not-the-secret")],
        )
        .await;
    assert!(
        forged
            .failed(3)
            .contains("API Gateway refused the request (403)")
    );

    let deleted = op
        .cli(&["credentials", "delete", &credential, "-o", "json"])
        .await
        .json();
    assert!(deleted["credential"]["deleted_at"].is_string(), "{deleted}");
    let listed = op.cli(&["credentials", "list", "-o", "json"]).await.json();
    assert_eq!(listed["credentials"], json!([]));

    let Operator { served, seen } = op;
    served.stop().await;
    // The tokens are in no output of the CLI and in no log line of the API.
    for output in &seen {
        for secret in [token, WRONG_TOKEN] {
            assert!(!output.contains(secret), "a token leaked: {output}");
        }
    }
    assert!(!logs.text().is_empty(), "the API logged");
    assert!(!logs.text().contains(token), "the token is in a log line");
}
