//! What a tick enqueues and records: exactly the eligible projects, as the credential's patterns and the
//! connection's instance admit them; projects that vanished, imported archives, projects GitLab refused.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::aws::credential_store::DynamoCredentialStore;
use shared::aws::sync_state_store::DynamoSyncStateStore;
use shared::credentials::CredentialStore;
use shared::kernel::ids::{ConnectionId, CredentialId};
use shared::kernel::sync_message::SyncMessage;
use shared::sync::SyncStateStore;
use shared::testing::project_key;
use testkit::gitlab_sim::{Simulator, World, routes};

use super::*;

/// [`options`] with leases that lapse at once, so that every tick may enqueue again.
fn lapsing() -> SchedulerOptions {
    SchedulerOptions {
        enqueue_lease: Duration::ZERO,
        ..options()
    }
}

#[tokio::test]
async fn one_message_per_eligible_project_checked_against_the_simulator() {
    let acme = Acme::start().await;
    acme.sim.reset_counts();

    let scheduler = acme.scheduler(options());
    let report = handle(&scheduler, schedule_event(None)).await.unwrap();
    let messages = acme.env.drain().await;

    assert_eq!(
        acme.expected.len(),
        4 + 1 + 1 + 250 + 1 + 1 + 1 + 1,
        "the fixture itself"
    );
    assert_eq!(
        ids(&messages),
        acme.expected,
        "exactly one message per eligible project"
    );
    assert!(ids(&messages).contains(&acme.org.shared_project));
    assert!(ids(&messages).contains(&acme.org.deep));
    assert!(
        ids(&messages).contains(&acme.org.archived),
        "archived, not yet imported"
    );
    assert!(!ids(&messages).contains(&acme.org.empty));
    let by_id: BTreeMap<u64, &SyncMessage> = messages.iter().map(|m| (m.project_id(), m)).collect();
    let deep = by_id[&acme.org.deep];
    assert_eq!(deep.connection_id().as_str(), "acme");
    assert_eq!(deep.credential_id().as_str(), acme.credential);
    assert_eq!(
        deep.path_with_namespace(),
        "platform/backend/services/billing/invoices"
    );
    assert_eq!(deep.default_branch(), "main");

    let part = &report.connections[0];
    assert_eq!(
        part.discovered,
        acme.expected.len() + 1,
        "the empty repository is discovered too"
    );
    assert_eq!(
        (part.enqueued, part.empty, part.not_sent),
        (acme.expected.len(), 1, 0)
    );
    assert!(part.errors.is_empty(), "{:?}", part.errors);
    assert_eq!(part.sqs_calls, acme.expected.len().div_ceil(10) as u64);

    // Requests close to the number of pages: one page of groups, the three top-most groups' projects (1, 3 and 1
    // pages; subgroups are never asked again; 7, 251 and 1 projects), and 3 pages of member projects (260).
    assert_eq!(acme.sim.request_count(routes::GROUPS), 1);
    assert_eq!(acme.sim.request_count(routes::GROUP_PROJECTS), 1 + 3 + 1);
    assert_eq!(acme.sim.request_count(routes::PROJECTS), 3);
    assert_eq!(acme.sim.total_requests(), 9);
    assert_eq!(part.gitlab_requests, 9);

    // The metadata is on the scheduler's own item of each project; the sync's item is not written.
    let item = acme.env.schedule_item("acme", acme.org.deep).await;
    assert_eq!(
        text(&item, "path_with_namespace").as_deref(),
        Some("platform/backend/services/billing/invoices")
    );
    assert_eq!(
        text(&item, "gitlab_default_branch").as_deref(),
        Some("main")
    );
    assert_eq!(
        text(&item, "credential_id").as_deref(),
        Some(acme.credential.as_str())
    );
    assert!(
        text(&item, "web_url")
            .unwrap()
            .ends_with("/platform/backend/services/billing/invoices")
    );
    assert!(text(&item, "last_activity_at").is_some() && text(&item, "seen_at").is_some());
    assert!(!item.contains_key("last_head") && !item.contains_key("default_branch"));
    assert!(acme.env.sync_item("acme", acme.org.deep).await.is_empty());
    let archived = acme.env.schedule_item("acme", acme.org.archived).await;
    assert_eq!(archived.get("archived"), Some(&AttributeValue::Bool(true)));
    let empty = acme.env.schedule_item("acme", acme.org.empty).await;
    assert_eq!(empty.get("empty_repo"), Some(&AttributeValue::Bool(true)));
    assert!(!empty.contains_key("enqueued_at"));
    acme.stop().await;
}

/// Include/exclude patterns: exactly the projects they admit are enqueued; the others are recorded `excluded`,
/// and the credential's summary counts them.
#[tokio::test]
async fn include_and_exclude_patterns_decide_exactly_what_is_enqueued() {
    let include = ["platform/**", "monorepo-farm/svc-00?", "Docs/*"];
    let exclude = ["platform/backend/services/**", "**/svc-003"];
    let (acme, ()) = Acme::start_with(&include, &exclude, |_, _| ()).await;
    let report = handle(&acme.scheduler(options()), schedule_event(None))
        .await
        .unwrap();
    let messages = acme.env.drain().await;

    // The same rule written out by hand, over the simulator's own paths.
    let admitted = |path: &str| {
        let included = path.starts_with("platform/")
            || (path.starts_with("monorepo-farm/svc-00")
                && path.len() == "monorepo-farm/svc-000".len())
            || path.starts_with("docs/");
        let excluded = path.starts_with("platform/backend/services/") || path.ends_with("/svc-003");
        included && !excluded
    };
    let paths: BTreeMap<u64, String> = acme.sim.with_world(|w| {
        w.projects
            .keys()
            .map(|id| (*id, w.project_full_path(*id)))
            .collect()
    });
    let expected = acme.expected_where(|id| admitted(&paths[&id]));
    assert_eq!(
        expected.len(),
        3 + 9 + 1,
        "portal, backend/api, legacy; svc-000..009 but 003; handbook"
    );
    assert_eq!(ids(&messages), expected);

    let part = &report.connections[0];
    // The empty repository sits under platform/backend/services too: excluded comes before empty.
    assert_eq!(part.excluded, acme.expected.len() - expected.len() + 1);
    assert_eq!(part.empty, 0);
    let deep = acme.env.schedule_item("acme", acme.org.deep).await;
    assert_eq!(text(&deep, "status").as_deref(), Some("excluded"));
    assert_eq!(deep.get("excluded"), Some(&AttributeValue::Bool(true)));
    assert!(!deep.contains_key("enqueued_at"));
    let portal = paths
        .iter()
        .find(|(_, p)| *p == "platform/portal")
        .unwrap()
        .0;
    assert_eq!(
        text(&acme.env.schedule_item("acme", *portal).await, "status").as_deref(),
        Some("active")
    );
    let last = acme.last_sync().await;
    assert_eq!(last.projects, Some(part.discovered as u64));
    assert_eq!(last.project_statuses["excluded"], part.excluded as u64);
    assert_eq!(last.project_statuses["active"], expected.len() as u64);
    acme.stop().await;
}

/// Two GitLabs with the same project ids: a credential stored for the second one before the API bound
/// connections to one instance is left out by the scheduler, so nothing of the two mixes.
#[tokio::test]
async fn a_credential_of_another_instance_never_shares_the_connections_keys() {
    let (acme, second_world) = Acme::start_with(&[], &[], |_, repo| {
        let mut world = World::new();
        organisation(&mut world, repo);
        world
    })
    .await;
    let second = Simulator::start(second_world).await.unwrap();

    // As stored by an older version: the same connection, the other instance.
    let store = DynamoCredentialStore::new(acme.env.aws.dynamodb.clone(), acme.env.table());
    let connection = ConnectionId::parse("acme").unwrap();
    let mut stray = store
        .get(&connection, &CredentialId::parse(&acme.credential).unwrap())
        .await
        .unwrap()
        .unwrap();
    stray.credential_id = CredentialId::parse("cred_0000000000000000000000000a").unwrap();
    stray.created_at = "2099-01-01T00:00:00Z".into();
    stray.settings.base_url = InstanceUrl::parse(&second.base_url()).unwrap();
    store.insert(&stray).await.unwrap();

    let report = handle(&acme.scheduler(options()), schedule_event(None))
        .await
        .unwrap();
    let messages = acme.env.drain().await;
    assert_eq!(ids(&messages), acme.expected);
    assert!(
        messages
            .iter()
            .all(|m| m.credential_id().as_str() == acme.credential)
    );
    assert_eq!(
        second.total_requests(),
        0,
        "the other instance is never asked"
    );
    assert!(
        report.connections[0]
            .errors
            .iter()
            .any(|e| e.contains("instance_mismatch")),
        "{:?}",
        report.connections[0].errors
    );
    let stray = store
        .get(&connection, &stray.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stray.last_sync.unwrap().last_error.as_deref(),
        Some("instance_mismatch")
    );
    second.shutdown().await;
    acme.stop().await;
}

#[tokio::test]
async fn vanished_projects_are_marked_gone_and_imported_archives_are_not_enqueued_again() {
    let acme = Acme::start().await;
    let scheduler = acme.scheduler(lapsing());
    run_tick(&scheduler, "2026-11-24T22:00:00Z").await;
    assert_eq!(ids(&acme.env.drain().await), acme.expected);

    // The sync imported the archived project's history (the worker's attributes), and one project was deleted.
    acme.env
        .update_item("CONN#acme", &format!("PROJ#{}", acme.org.archived))
        .update_expression("SET last_head = :head, default_branch = :branch")
        .expression_attribute_values(":head", AttributeValue::S("a".repeat(40)))
        .expression_attribute_values(":branch", AttributeValue::S("main".into()))
        .send()
        .await
        .unwrap();
    acme.sim.with_world(|w| w.remove_project(acme.org.deep));
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let report = run_tick(&scheduler, "2026-11-24T22:05:00Z").await;
    let part = &report.connections[0];
    assert_eq!((part.gone, part.archived_done), (1, 1));
    let again = acme.expected_where(|id| id != acme.org.archived && id != acme.org.deep);
    assert_eq!(ids(&acme.env.drain().await), again);
    let gone = acme.env.schedule_item("acme", acme.org.deep).await;
    assert!(text(&gone, "gone_at").is_some(), "marked, not deleted");
    assert_eq!(
        text(&gone, "path_with_namespace").as_deref(),
        Some("platform/backend/services/billing/invoices")
    );
    let archived = acme.env.sync_item("acme", acme.org.archived).await;
    assert_eq!(
        text(&archived, "last_head"),
        Some("a".repeat(40)),
        "the sync's attributes are untouched"
    );
    assert_eq!(
        archived
            .keys()
            .filter(|k| !["pk", "sk"].contains(&k.as_str()))
            .count(),
        2,
        "the scheduler wrote nothing on the sync's item: {archived:?}"
    );

    // Gone marks are not repeated.
    let report = run_tick(&scheduler, "2026-11-24T22:10:00Z").await;
    assert_eq!(report.connections[0].gone, 0);
    acme.stop().await;
}

/// A project whose repository GitLab refused is held (no message, so no request) until its retry period has
/// passed since the refusal, then tried once more; its record says why it is held.
#[tokio::test]
async fn a_refused_project_is_held_then_retried_after_its_period() {
    let acme = Acme::start().await;
    let scheduler = acme.scheduler(SchedulerOptions {
        inaccessible_retry: Duration::from_secs(3),
        ..lapsing()
    });
    run_tick(&scheduler, "2026-11-24T22:00:00Z").await;
    assert_eq!(ids(&acme.env.drain().await), acme.expected);

    // The worker met 403 on one project and 404 on another (its own store call, as in the sync worker).
    let state = DynamoSyncStateStore::new(acme.env.aws.dynamodb.clone(), acme.env.table());
    state
        .mark_inaccessible(&project_key("acme", acme.org.deep), "forbidden")
        .await
        .unwrap();
    state
        .mark_inaccessible(&project_key("acme", acme.org.shared_project), "not_found")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let report = run_tick(&scheduler, "2026-11-24T22:05:00Z").await;
    let held = acme.expected_where(|id| id != acme.org.deep && id != acme.org.shared_project);
    assert_eq!(
        ids(&acme.env.drain().await),
        held,
        "no message for the refused two"
    );
    assert_eq!(report.connections[0].inaccessible, 2);
    assert_eq!(
        text(
            &acme.env.schedule_item("acme", acme.org.deep).await,
            "status"
        )
        .as_deref(),
        Some("forbidden")
    );
    assert_eq!(
        text(
            &acme
                .env
                .schedule_item("acme", acme.org.shared_project)
                .await,
            "status"
        )
        .as_deref(),
        Some("not_found")
    );
    let summary = acme.last_sync().await;
    assert_eq!(summary.project_statuses["forbidden"], 1);
    assert_eq!(summary.project_statuses["not_found"], 1);

    // Once the period since the refusal has passed, each is tried again, once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    run_tick(&scheduler, "2026-11-24T22:10:00Z").await;
    assert_eq!(ids(&acme.env.drain().await), acme.expected);
    acme.stop().await;
}

/// The connection's instance is compared with its credentials' by value: another spelling of the same address is
/// the same instance. A stored one that is no address at all (an item edited by hand) fails that connection alone.
#[tokio::test]
async fn the_connections_instance_is_compared_by_value_and_one_that_is_no_address_fails_its_turn() {
    let acme = Acme::start().await;
    let bind = async |base_url: String| {
        acme.env
            .update_item("CONN#acme", "CONNECTION")
            .update_expression("SET base_url = :url")
            .expression_attribute_values(":url", AttributeValue::S(base_url))
            .send()
            .await
            .unwrap();
    };
    let scheduler = acme.scheduler(options());

    bind(acme.sim.api_url()).await;
    let report = run_tick(&scheduler, "2026-11-24T22:00:00Z").await;
    assert!(report.connections[0].errors.is_empty(), "{report:?}");
    assert_eq!(ids(&acme.env.drain().await), acme.expected);

    bind("gitlab.example.com".into()).await;
    let report = run_tick(&scheduler, "2026-11-24T22:05:00Z").await;
    let part = &report.connections[0];
    assert_eq!(
        part.errors,
        ["store: connection instance: base_url is not a valid URL"]
    );
    assert_eq!((part.discovered, part.enqueued), (0, 0));
    acme.stop().await;
}
