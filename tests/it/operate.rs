//! Operating the importer through the API, on moto and the demo GitLab: `projects.list` shows what the passes did
//! (over several pages), the refused project is `forbidden` with its time, `projects.sync` makes one sync however
//! often it is asked (at once, or while a tick holds the connection), `projects.resync` repairs a table that holds
//! a commit git does not and follows a force-push whose old head was pruned, and no malformed request gets a 5xx.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use shared::aws::project_store::DynamoProjectStore;
use shared::aws::sync_queue::{SqsSyncQueue, SqsTurnQueue};
use shared::kernel::ids::ConnectionId;
use shared::kernel::sync_message::SyncMessage;
use shared::projects::{Projects, ProjectsError, ProjectsOptions};
use shared::scheduler::ports::ConnectionTurns;
use testkit::demo::{DEMO_TOKEN, Demo, differences_from_git};
use testkit::gitlab_sim::Simulator;
use testkit::local_run::{CONNECTION, LocalRun, PassSummary};

/// The demo after two passes (the second after GitLab moved on), with the commits each project's syncs wrote.
struct Operated {
    demo: Demo,
    sim: Simulator,
    run: LocalRun,
    written: BTreeMap<u64, u64>,
}

async fn operated(prefix: &str) -> Operated {
    let (mut demo, world) = Demo::build(300);
    let sim = Simulator::start(world).await.unwrap();
    let run = LocalRun::on_simulator(&format!("{prefix}{}", std::process::id()), &sim)
        .await
        .unwrap();
    let credential = run
        .create_credential(CONNECTION, &sim.base_url(), DEMO_TOKEN, "operate")
        .await
        .unwrap();
    assert_eq!(credential["status"], "active", "{credential}");
    let first = run.pass().await.unwrap();
    demo.advance(&sim, 20);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let second = run.pass().await.unwrap();
    let mut written = BTreeMap::new();
    for pass in [&first, &second] {
        add_written(&mut written, pass);
    }
    Operated {
        demo,
        sim,
        run,
        written,
    }
}

fn add_written(written: &mut BTreeMap<u64, u64>, pass: &PassSummary) {
    for report in &pass.records {
        if let Some(message) = &report.message {
            *written.entry(message.project_id()).or_default() += report.commits() as u64;
        }
    }
}

impl Operated {
    fn id(&self, path: &str) -> u64 {
        self.sim.with_world(|w| w.find_project(path)).unwrap()
    }

    async fn get(&self, route: &str) -> (u16, Value) {
        self.run.call_api(CONNECTION, "GET", route, None).await
    }

    async fn post(&self, route: &str, body: Value) -> (u16, Value) {
        self.run
            .call_api(CONNECTION, "POST", route, Some(body))
            .await
    }

    /// Every project, page by page (`limit` a page): the projects and the number of pages.
    async fn all_projects(&self, query: &str, limit: usize) -> (Vec<Value>, usize) {
        let (mut projects, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
        for _ in 0..100 {
            let mut route = format!("projects.list?limit={limit}{query}");
            if let Some(cursor) = &cursor {
                route.push_str(&format!("&cursor={cursor}"));
            }
            let (status, body) = self.get(&route).await;
            assert_eq!(status, 200, "{body}");
            let page = body["projects"].as_array().unwrap();
            assert!(page.len() <= limit, "{body}");
            projects.extend(page.iter().cloned());
            pages += 1;
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return (projects, pages),
            }
        }
        panic!("projects.list never ended");
    }

    /// The messages on the sync queue, taken off it, once everything sent is visible: their project ids.
    async fn queued_projects(&self) -> Vec<u64> {
        tokio::time::sleep(Duration::from_secs(6)).await;
        let mut projects = Vec::new();
        for _ in 0..50 {
            let messages = self.run.aws.take_messages("SyncQueue").await;
            if messages.is_empty() {
                break;
            }
            for message in messages {
                let body = message.body().unwrap_or_default();
                projects.push(SyncMessage::from_json(body).unwrap().project_id());
            }
        }
        projects
    }

    /// `count` `projects.sync` of `project` at once: how many queued a message.
    async fn syncs_at_once(&self, project: u64, count: usize) -> usize {
        let calls = (0..count).map(|_| self.post("projects.sync", json!({"project_id": project})));
        let replies = futures::future::join_all(calls).await;
        for (status, body) in &replies {
            assert_eq!(*status, 202, "{body}");
            assert_eq!(body["project_id"], project, "{body}");
        }
        replies
            .iter()
            .filter(|(_, body)| body["sync"] == "queued")
            .count()
    }

    fn store(&self) -> DynamoProjectStore {
        DynamoProjectStore::new(
            self.run.aws.dynamodb.clone(),
            self.run.aws.table("StateTable"),
        )
    }
}

fn git_head(demo: &Demo, path: &str) -> String {
    let project = demo.project(path);
    project
        .repo
        .git(&["rev-parse", &project.default_branch])
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_list_shows_what_the_passes_did_page_by_page() {
    let env = operated("opl").await;
    let (projects, pages) = env.all_projects("", 2).await;
    assert!(pages >= 3, "{pages} pages");
    let by_id: BTreeMap<u64, &Value> = projects
        .iter()
        .map(|p| (p["project_id"].as_u64().unwrap(), p))
        .collect();
    assert_eq!(by_id.len(), projects.len(), "a project on two pages");
    let ids: Vec<u64> = by_id.keys().copied().collect();
    let listed: Vec<u64> = projects
        .iter()
        .map(|p| p["project_id"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, ids, "in project id order");

    for project in env.demo.expected() {
        let path = &project.path_with_namespace;
        let id = env.id(path);
        let view = by_id
            .get(&id)
            .unwrap_or_else(|| panic!("{path} is not listed"));
        let status = if path == "acme/platform/legacy" {
            "archived"
        } else {
            "active"
        };
        assert_eq!(view["status"], status, "{view}");
        assert_eq!(view["path_with_namespace"], path.as_str(), "{view}");
        assert_eq!(
            view["default_branch"],
            project.default_branch.as_str(),
            "{view}"
        );
        assert_eq!(
            view["last_head"],
            git_head(&env.demo, path).as_str(),
            "{view}"
        );
        assert_eq!(view["commits_written"], env.written[&id], "{view}");
        assert_eq!(view["commits_written"], project.truth().len(), "{view}");
        assert_eq!(view["last_error"], Value::Null, "{view}");
        assert_eq!(view["sync_queued"], false, "{view}");
        let synced = view["last_synced_at"].as_str().unwrap();
        assert_eq!(view["last_success_at"].as_str(), Some(synced), "{view}");
        time::OffsetDateTime::parse(synced, &time::format_description::well_known::Rfc3339)
            .unwrap();
    }
    let refused = env.demo.refused().next().unwrap();
    let id = env.id(&refused.path_with_namespace);
    let view = by_id[&id];
    assert_eq!(view["status"], "forbidden", "{view}");
    assert_eq!(view["access_error"]["code"], "forbidden", "{view}");
    assert_eq!(view["last_error"]["code"], "forbidden", "{view}");
    assert_eq!(view["last_success_at"], Value::Null, "{view}");
    assert_eq!(view["commits_written"], 0, "{view}");
    let at = view["access_error"]["at"].as_str().unwrap();
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap();

    // Each status filter lists exactly the projects of that status, whatever the page size.
    for status in [
        "active",
        "forbidden",
        "archived",
        "failing",
        "gone",
        "excluded",
        "empty",
    ] {
        let (filtered, _) = env.all_projects(&format!("&status={status}"), 1).await;
        let filtered: Vec<u64> = filtered
            .iter()
            .map(|p| p["project_id"].as_u64().unwrap())
            .collect();
        let expected: Vec<u64> = by_id
            .iter()
            .filter(|(_, p)| p["status"] == status)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(filtered, expected, "status={status}");
    }
    let (forbidden, _) = env.all_projects("&status=forbidden", 10).await;
    assert_eq!(forbidden.len(), 1);

    // projects.info: the same view, with no job, no request and the refusal among the recent failures.
    let (status, body) = env.get(&format!("projects.info/{id}")).await;
    assert_eq!(status, 200, "{body}");
    let detail = &body["project"];
    assert_eq!(detail["status"], "forbidden");
    assert_eq!(detail["job"], Value::Null);
    assert_eq!(detail["resync_requested_at"], Value::Null);
    let failures = detail["recent_failures"].as_array().unwrap();
    assert!(!failures.is_empty() && failures.len() <= 5, "{detail}");
    assert_eq!(failures[0]["code"], "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_sync_makes_one_sync_however_often_and_whenever_it_is_asked() {
    let env = operated("ops").await;
    let sdk = env.id("partners/sdk");
    assert_eq!(env.syncs_at_once(sdk, 20).await, 1);
    // While the message waits, asking again is covered by it.
    let (status, body) = env.post("projects.sync", json!({"project_id": sdk})).await;
    assert_eq!(
        (status, body["sync"].as_str()),
        (202, Some("covered")),
        "{body}"
    );
    let (_, listed) = env.get(&format!("projects.info/{sdk}")).await;
    assert_eq!(listed["project"]["sync_queued"], true, "{listed}");
    assert_eq!(env.queued_projects().await, vec![sdk]);

    // While a tick holds the connection's lock, requests wait for it, and still make one message.
    let docs = env.id("partners/docs");
    let store = env.store();
    let connection = ConnectionId::parse(CONNECTION).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        store
            .lock_connection(&connection, "a-tick", now, now + 60)
            .await
            .unwrap()
    );
    let started = Instant::now();
    let unlock = async {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        store
            .unlock_connection(&connection, "a-tick")
            .await
            .unwrap();
    };
    let (queued, ()) = tokio::join!(env.syncs_at_once(docs, 20), unlock);
    assert_eq!(queued, 1);
    assert!(
        started.elapsed() >= Duration::from_millis(1_500),
        "they waited for the lock"
    );
    assert_eq!(env.queued_projects().await, vec![docs]);

    // A lock held past the wait: the request says so, and sends nothing.
    assert!(
        store
            .lock_connection(&connection, "a-tick", now, now + 60)
            .await
            .unwrap()
    );
    let impatient = Projects {
        store: env.store(),
        queue: SqsSyncQueue::new(env.run.aws.sqs.clone(), &env.run.aws.queue("SyncQueue").url),
        turns: SqsTurnQueue::new(
            env.run.aws.sqs.clone(),
            &env.run.aws.queue("TurnRequestQueue").url,
        ),
        options: ProjectsOptions {
            lock_wait: Duration::ZERO,
            ..ProjectsOptions::default()
        },
    };
    let api = env.id("acme/platform/api");
    assert_eq!(
        impatient.sync(&connection, api).await,
        Err(ProjectsError::Busy)
    );
    let (status, body) = env.post("projects.sync", json!({"project_id": api})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("scheduling_in_progress")),
        "{body}"
    );
    store
        .unlock_connection(&connection, "a-tick")
        .await
        .unwrap();
    assert_eq!(env.queued_projects().await, Vec::<u64>::new());

    // An archived project is left to the tick; an unknown one is none.
    let legacy = env.id("acme/platform/legacy");
    let (status, body) = env
        .post("projects.sync", json!({"project_id": legacy}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("project_not_synced")),
        "{body}"
    );
    let (status, body) = env
        .post("projects.sync", json!({"project_id": 987_654}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("project_not_found")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_resync_repairs_the_table_and_follows_a_pruned_force_push() {
    let env = operated("opr").await;
    let path = "acme/platform/api";
    let api = env.id(path);
    // The table holds a commit git never had (a hand edit, a bug): a sync leaves it, since the head is the same.
    let stray = stray_commit(&env, api).await;
    let (status, body) = env.post("projects.sync", json!({"project_id": api})).await;
    assert_eq!(
        (status, body["sync"].as_str()),
        (202, Some("queued")),
        "{body}"
    );
    let drained = env.run.drain().await.unwrap();
    assert_eq!(drained.results.get("unchanged"), Some(&1), "{drained:?}");
    let truth = env.demo.project(path).truth().len();
    assert_eq!(
        differences_from_git(&env.demo, &env.sim, &env.run).await,
        vec![format!(
            "{path}: {} stored, {truth} in git, 0 missing, 1 extra",
            truth + 1
        )]
    );

    // GitLab's history is rewritten and the old head pruned; the operator asks for a re-import.
    let project = env.demo.project(path);
    project.repo.force_push(&project.default_branch, 3, 2);
    project.repo.prune_unreachable();
    let (status, body) = env
        .post("projects.resync", json!({"project_id": api}))
        .await;
    assert_eq!(
        (status, body["sync"].as_str()),
        (202, Some("queued")),
        "{body}"
    );
    let (_, info) = env.get(&format!("projects.info/{api}")).await;
    assert!(info["project"]["resync_requested_at"].is_string(), "{info}");
    let drained = env.run.drain().await.unwrap();
    assert_eq!(drained.results.get("imported"), Some(&1), "{drained:?}");
    assert_eq!(
        differences_from_git(&env.demo, &env.sim, &env.run).await,
        Vec::<String>::new()
    );
    let stored = env
        .run
        .aws
        .stored_commits(&shared::testing::project_key(CONNECTION, api))
        .await;
    assert!(
        stored[&stray].removed_at.is_some(),
        "the stray commit is marked removed"
    );
    let (_, info) = env.get(&format!("projects.info/{api}")).await;
    let detail = &info["project"];
    assert_eq!(detail["resync_requested_at"], Value::Null, "{detail}");
    assert_eq!(detail["job"], Value::Null, "{detail}");
    assert_eq!(
        detail["last_head"],
        git_head(&env.demo, path).as_str(),
        "{detail}"
    );
    assert_eq!(detail["status"], "active", "{detail}");
    assert_eq!(env.run.dead_letters().await.unwrap(), 0);
}

/// Copies one of the project's stored commits under a sha git does not have: the stray's sha.
async fn stray_commit(env: &Operated, project_id: u64) -> String {
    let key = shared::testing::project_key(CONNECTION, project_id).partition();
    let table = env.run.aws.table("CommitsTable");
    let page = env
        .run
        .aws
        .dynamodb
        .query()
        .table_name(table)
        .key_condition_expression("project_key = :key")
        .expression_attribute_values(":key", AttributeValue::S(key))
        .limit(1)
        .send()
        .await
        .unwrap();
    let mut item = page.items()[0].clone();
    let sha = "5".repeat(40);
    item.insert("sha".into(), AttributeValue::S(sha.clone()));
    item.insert("short_id".into(), AttributeValue::S(sha[..8].to_owned()));
    env.run
        .aws
        .dynamodb
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    sha
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_project_requests_get_a_clear_4xx_and_change_nothing() {
    let (_demo, world) = Demo::build(30);
    let sim = Simulator::start(world).await.unwrap();
    let run = LocalRun::on_simulator(&format!("opm{}", std::process::id()), &sim)
        .await
        .unwrap();
    // No such connection yet: every project route says so.
    for (method, route, body) in [
        ("GET", "projects.list", None),
        ("GET", "projects.info/1", None),
        ("POST", "projects.sync", Some(json!({"project_id": 1}))),
        ("POST", "projects.resync", Some(json!({"project_id": 1}))),
    ] {
        let (status, reply) = run.call_api(CONNECTION, method, route, body).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (404, Some("connection_not_found")),
            "{route}: {reply}"
        );
    }
    run.create_credential(CONNECTION, &sim.base_url(), DEMO_TOKEN, "m")
        .await
        .unwrap();
    let cases: [(&str, &str, Option<Value>, u16, &str); 16] = [
        (
            "GET",
            "projects.list?status=broken",
            None,
            400,
            "invalid_parameter",
        ),
        (
            "GET",
            "projects.list?status=not_found",
            None,
            400,
            "invalid_parameter",
        ),
        (
            "GET",
            "projects.list?limit=0",
            None,
            400,
            "invalid_parameter",
        ),
        (
            "GET",
            "projects.list?limit=101",
            None,
            400,
            "invalid_parameter",
        ),
        (
            "GET",
            "projects.list?cursor=abc",
            None,
            400,
            "invalid_parameter",
        ),
        ("GET", "projects.info/abc", None, 404, "project_not_found"),
        ("GET", "projects.info/0", None, 404, "project_not_found"),
        ("GET", "projects.info/42", None, 404, "project_not_found"),
        (
            "POST",
            "projects.list",
            Some(json!({})),
            405,
            "method_not_allowed",
        ),
        ("GET", "projects.sync", None, 405, "method_not_allowed"),
        (
            "POST",
            "projects.sync",
            Some(json!({})),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "projects.sync",
            Some(json!({"project_id": "x"})),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "projects.sync",
            Some(json!({"project_id": 0})),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "projects.sync",
            Some(json!({"project_id": -3})),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "projects.resync",
            Some(json!({"project_id": 1, "x": 2})),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "projects.resync",
            Some(json!([1])),
            400,
            "invalid_json",
        ),
    ];
    for (method, route, body, status, code) in cases {
        let (got, reply) = run.call_api(CONNECTION, method, route, body).await;
        assert_eq!(
            (got, reply["error"].as_str()),
            (status, Some(code)),
            "{method} {route}: {reply}"
        );
        assert!(
            !reply["message"].as_str().unwrap_or_default().is_empty(),
            "{reply}"
        );
    }
    // Nothing was recorded or sent by any of them.
    let (status, body) = run.call_api(CONNECTION, "GET", "projects.list", None).await;
    assert_eq!(
        (status, body["projects"].clone()),
        (200, json!([])),
        "{body}"
    );
    assert!(run.aws.take_messages("SyncQueue").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_sync_runs_one_turn_of_that_connection_now() {
    let (demo, world) = Demo::build(60);
    let sim = Simulator::start(world).await.unwrap();
    let run = LocalRun::on_simulator(&format!("opc{}", std::process::id()), &sim)
        .await
        .unwrap();
    for connection in [CONNECTION, "another-team"] {
        run.create_credential(connection, &sim.base_url(), DEMO_TOKEN, "c")
            .await
            .unwrap();
    }
    let (status, body) = run
        .call_api(CONNECTION, "POST", "connections.sync", None)
        .await;
    assert_eq!(
        (status, body["sync"].as_str()),
        (202, Some("queued")),
        "{body}"
    );
    // A second request within the minute rides on the first.
    let (status, body) = run
        .call_api(CONNECTION, "POST", "connections.sync", None)
        .await;
    assert_eq!(
        (status, body["sync"].as_str()),
        (202, Some("covered")),
        "{body}"
    );
    let (status, body) = run
        .call_api("nobody", "POST", "connections.sync", None)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("connection_not_found")),
        "{body}"
    );
    let (status, body) = run
        .call_api(CONNECTION, "GET", "connections.sync", None)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (405, Some("method_not_allowed")),
        "{body}"
    );

    // The scheduler takes the request from its queue (the sample event, carrying it): that connection's turn only.
    let messages = run.aws.take_messages("TurnRequestQueue").await;
    assert_eq!(messages.len(), 1);
    let mut event: Value =
        serde_json::from_str(include_str!("../../events/sqs-turn-request.json")).unwrap();
    event["Records"][0]["body"] = messages[0].body().unwrap().into();
    let report = run.schedule(event.clone()).await.unwrap();
    let turns: Vec<&str> = report
        .connections
        .iter()
        .map(|c| c.connection_id.as_str())
        .collect();
    assert_eq!(turns, [CONNECTION]);
    let expected = demo.expected().count() + demo.refused().count();
    assert_eq!(report.enqueued(), expected, "{report:?}");
    // The same request delivered again does nothing.
    let again = run.schedule(event.clone()).await.unwrap();
    assert!(again.duplicate && again.connections.is_empty(), "{again:?}");
    run.drain().await.unwrap();
    assert_eq!(
        differences_from_git(&demo, &sim, &run).await,
        Vec::<String>::new()
    );
    let (_, listed) = run
        .call_api("another-team", "GET", "projects.list", None)
        .await;
    assert_eq!(
        listed["projects"],
        json!([]),
        "the other connection had no turn"
    );

    // A record that is no turn request fails the invocation (SQS delivers it again, then dead-letters it).
    event["Records"][0]["body"] = r#"{"connection_id":"a/b","requested_at":1}"#.into();
    assert!(run.schedule(event).await.is_err());
}
