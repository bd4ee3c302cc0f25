//! The whole pipeline, as the local run drives it: credentials API -> scheduler -> SQS -> sync worker ->
//! DynamoDB, on moto and the demo GitLab, whose token is Developer in one group, only Reporter in another, a
//! member of a nested subgroup only, Guest on a shared project, and sees a project whose repository answers 403.
//! The table must equal git's truth for exactly the projects the token can read; after GitLab moves on (new
//! commits and a merge of a branch with committer dates older than the first sync), the second pass must import
//! exactly the new commits, an unchanged project must cost one GitLab request, the refused project none, and
//! `credentials.info` must show the passes' figures.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::kernel::project_key::ProjectKey;
use shared::testing::project_key;
use testkit::demo::{DEMO_TOKEN, Demo, differences_from_git};
use testkit::gitlab_sim::Simulator;
use testkit::gitlab_sim::routes;
use testkit::local_run::{CONNECTION, LocalRun, PassSummary, last_sync_differences};

/// Every string attribute of every item of a table, for the token scan.
async fn all_text(run: &LocalRun, logical_id: &str) -> String {
    let mut text = String::new();
    let mut start = None;
    for _ in 0..10_000 {
        let page = run
            .aws
            .dynamodb
            .scan()
            .table_name(run.aws.table(logical_id))
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            for value in item.values() {
                if let AttributeValue::S(s) = value {
                    text.push_str(s);
                    text.push('\n');
                }
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    text
}

fn json_count(n: usize) -> serde_json::Value {
    serde_json::Value::from(n)
}

fn key(project_id: u64) -> ProjectKey {
    project_key(CONNECTION, project_id)
}

/// Every commit stored for the readable projects of the demo.
async fn stored_shas(demo: &Demo, sim: &Simulator, run: &LocalRun) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for p in demo.expected() {
        let id = sim
            .with_world(|w| w.find_project(&p.path_with_namespace))
            .unwrap();
        all.extend(run.aws.stored_commits(&key(id)).await.into_keys());
    }
    all
}

fn synced(pass: &PassSummary, path: &str) -> Vec<(&'static str, usize, u64)> {
    pass.records
        .iter()
        .filter(|r| {
            r.message
                .as_ref()
                .is_some_and(|m| m.path_with_namespace() == path)
        })
        .map(|r| (r.result(), r.commits(), r.stats.requests))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_imports_git_truth_then_exactly_the_new_commits() {
    let (mut demo, world) = Demo::build(3_000);
    let sim = Simulator::start(world).await.unwrap();
    let prefix = format!("e2e{}", std::process::id());
    let run = LocalRun::on_simulator(&prefix, &sim).await.unwrap();
    let credential = run
        .create_credential(CONNECTION, &sim.base_url(), DEMO_TOKEN, "e2e")
        .await
        .unwrap();
    assert_eq!(credential["status"], "active", "{credential}");

    // Pass 1: every readable project with history, once (the Reporter group's and the nested subgroup's
    // included); the table equals git for all of them. The refused one is tried and recorded `forbidden`.
    let first = run.pass().await.unwrap();
    let expected: Vec<&str> = demo
        .expected()
        .map(|p| p.path_with_namespace.as_str())
        .collect();
    for path in ["partners/docs", "research/ml/vision/models"] {
        assert!(expected.contains(&path), "{path} is readable");
    }
    let refused: Vec<&str> = demo
        .refused()
        .map(|p| p.path_with_namespace.as_str())
        .collect();
    assert_eq!(refused, ["acme/platform/compliance"]);
    assert_eq!(first.enqueued, expected.len() + refused.len(), "{first:?}");
    let truth_total: usize = demo.expected().map(|p| p.truth().len()).sum();
    assert_eq!(first.commits_written, truth_total);
    assert_eq!(first.results.get("imported"), Some(&expected.len()));
    assert_eq!(first.results.get("forbidden"), Some(&refused.len()));
    let compliance = sim
        .with_world(|w| w.find_project("acme/platform/compliance"))
        .unwrap();
    let recorded = run
        .aws
        .state_item(&format!("CONN#{CONNECTION}"), &format!("PROJ#{compliance}"))
        .await;
    assert_eq!(
        recorded["access_error"],
        AttributeValue::S("forbidden".into())
    );
    // The Guest-only project is never listed at Reporter, so nothing is ever asked of it.
    let budget = sim
        .with_world(|w| w.find_project("finance/budget"))
        .unwrap();
    assert!(synced(&first, "finance/budget").is_empty());
    assert!(run.aws.stored_commits(&key(budget)).await.is_empty());
    assert_eq!(
        differences_from_git(&demo, &sim, &run).await,
        Vec::<String>::new()
    );
    assert_eq!(run.dead_letters().await.unwrap(), 0);
    let imported_first = stored_shas(&demo, &sim, &run).await;

    // GitLab moves on; the second pass imports exactly the new commits, old-dated merge included.
    let new = demo.advance(&sim, 200);
    let api = demo.project("acme/platform/api");
    let old_dated = api
        .repo
        .git(&["log", "--format=%H %ct", "main", "-12"])
        .lines()
        .filter(|line| {
            line.split(' ')
                .nth(1)
                .and_then(|t| t.parse::<i64>().ok())
                .unwrap()
                < time::OffsetDateTime::now_utc().unix_timestamp() - 30 * 86_400
        })
        .count();
    assert!(
        old_dated >= 3,
        "the merged branch carries old committer dates"
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let second = run.pass().await.unwrap();
    assert_eq!(second.commits_written, new.len(), "{second:?}");
    assert_eq!(
        differences_from_git(&demo, &sim, &run).await,
        Vec::<String>::new()
    );
    let imported_second = stored_shas(&demo, &sim, &run).await;
    let added: BTreeSet<String> = imported_second
        .difference(&imported_first)
        .cloned()
        .collect();
    assert_eq!(added, new.iter().cloned().collect::<BTreeSet<_>>());

    // Unchanged projects: one GitLab request each, nothing written; the archived one is not enqueued again, and
    // the refused one waits for its daily retry: no message, no request.
    for path in [
        "acme/platform/infra/terraform",
        "partners/sdk",
        "partners/docs",
        "research/ml/vision/models",
    ] {
        assert_eq!(synced(&second, path), vec![("unchanged", 0, 1)], "{path}");
    }
    assert!(synced(&second, "acme/platform/legacy").is_empty());
    assert!(synced(&second, "acme/platform/compliance").is_empty());
    assert_eq!(second.inaccessible, 1);
    assert_eq!(run.dead_letters().await.unwrap(), 0);
    let schedule = run
        .aws
        .state_item(
            &format!("CONN#{CONNECTION}"),
            &format!("SCHED#{compliance}"),
        )
        .await;
    assert_eq!(schedule["status"], AttributeValue::S("forbidden".into()));

    // credentials.info shows what the passes did.
    let info = run
        .credential_info(CONNECTION, credential["id"].as_str().unwrap())
        .await;
    assert_eq!(
        last_sync_differences(&info["last_sync"], &[&first, &second]),
        Vec::<String>::new(),
        "{}",
        info["last_sync"]
    );
    assert_eq!(info["last_sync"]["last_error"], "forbidden");
    assert_eq!(info["last_sync"]["project_statuses"]["forbidden"], 1);
    assert_eq!(
        info["last_sync"]["commits"],
        json_count(truth_total + new.len())
    );
    assert!(sim.request_count(routes::GROUPS) >= 2);

    // Pass 3: the credential now excludes the partners group. Its projects are not enqueued, their commits stay,
    // and their records and the summary say `excluded`.
    let (status, updated) = run
        .call_api(
            CONNECTION,
            "POST",
            "credentials.update",
            Some(serde_json::json!({
                "id": credential["id"],
                "settings": {"exclude": ["partners/**"]},
            })),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let third = run.pass().await.unwrap();
    assert_eq!(third.excluded, 2, "{third:?}");
    // The projects a sync found current in pass 2, on which GitLab shows no activity since: quiet, no message and
    // no request. The two GitLab moved on this hour are asked again (it moves `last_activity_at` at most hourly,
    // so a push within the hour after it would not show): one request each.
    assert_eq!(third.quiet, 2, "{third:?}");
    for path in ["acme/platform/infra/terraform", "research/ml/vision/models"] {
        assert!(synced(&third, path).is_empty(), "{path} is quiet");
    }
    for path in ["acme/platform/api", "acme/monolith"] {
        assert_eq!(synced(&third, path), vec![("unchanged", 0, 1)], "{path}");
    }
    for path in ["partners/sdk", "partners/docs"] {
        assert!(synced(&third, path).is_empty(), "{path} is not enqueued");
        let id = sim.with_world(|w| w.find_project(path)).unwrap();
        let record = run
            .aws
            .state_item(&format!("CONN#{CONNECTION}"), &format!("SCHED#{id}"))
            .await;
        assert_eq!(record["status"], AttributeValue::S("excluded".into()));
    }
    assert_eq!(
        differences_from_git(&demo, &sim, &run).await,
        Vec::<String>::new(),
        "the excluded projects keep their commits"
    );
    let info = run
        .credential_info(CONNECTION, credential["id"].as_str().unwrap())
        .await;
    assert_eq!(info["last_sync"]["project_statuses"]["excluded"], 2);
    assert_eq!(
        last_sync_differences(&info["last_sync"], &[&first, &second, &third]),
        Vec::<String>::new()
    );

    // The token is in Secrets Manager only.
    for table in ["StateTable", "CommitsTable"] {
        assert!(!all_text(&run, table).await.contains(DEMO_TOKEN), "{table}");
    }
    run.aws.teardown().await;
    sim.shutdown().await;
}

/// The cost of a tick when nothing changed: once a sync found every project current (and GitLab shows no activity
/// since), a tick costs its listing requests and nothing else: no message, no sync, no write. A push moves the
/// project's activity, and the next tick syncs that project alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_with_nothing_changed_costs_only_its_listing() {
    let (demo, world) = Demo::build(200);
    let sim = Simulator::start(world).await.unwrap();
    let run = LocalRun::on_simulator(&format!("quiet{}", std::process::id()), &sim)
        .await
        .unwrap();
    run.create_credential(CONNECTION, &sim.base_url(), DEMO_TOKEN, "quiet")
        .await
        .unwrap();
    let first = run.pass().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let second = run.pass().await.unwrap();
    // Every project synced (all but the archived one, imported already, and the refused one): unchanged.
    let active = second.enqueued;
    assert_eq!(active, demo.expected().count() - 1, "{second:?}");
    assert_eq!(second.results.get("unchanged"), Some(&active), "{second:?}");
    // projects.info says when a sync last found a project current.
    let docs_id = sim.with_world(|w| w.find_project("partners/docs")).unwrap();
    let (status, info) = run
        .call_api(CONNECTION, "GET", &format!("projects.info/{docs_id}"), None)
        .await;
    assert_eq!(status, 200, "{info}");
    let verified = info["project"]["verified_at"].as_str().unwrap_or_default();
    assert!(
        verified.starts_with("20") && verified.ends_with('Z'),
        "{info}"
    );

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let third = run.pass().await.unwrap();
    assert_eq!(
        (
            third.enqueued,
            third.quiet,
            third.deliveries,
            third.scheduler_writes
        ),
        (0, active, 0, 0),
        "{third:?}"
    );
    assert_eq!(third.sync_requests, 0);
    assert_eq!(third.scheduler_requests, second.scheduler_requests);
    assert!(third.scheduler_requests <= first.scheduler_requests);

    // A push moves the project's activity: the next tick syncs it, and only it.
    let docs = demo.project("partners/docs");
    let id = docs_id;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let pushed = sim
        .push(id, "main", |_| {
            docs.repo.commit(testkit::git_fixture::CommitSpec::new(
                "after the quiet",
                now,
            ));
        })
        .await;
    let fourth = run.pass().await.unwrap();
    assert_eq!(
        (fourth.enqueued, fourth.quiet),
        (1, active - 1),
        "{fourth:?}"
    );
    assert_eq!(synced(&fourth, "partners/docs"), vec![("imported", 1, 3)]);
    assert!(
        run.wait_for_head(CONNECTION, id, &pushed.after, Duration::from_secs(1))
            .await
            .is_some()
    );
    assert_eq!(
        differences_from_git(&demo, &sim, &run).await,
        Vec::<String>::new()
    );
    sim.shutdown().await;
    run.aws.teardown().await;
}
