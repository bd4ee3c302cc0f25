//! Ticks that meet: a second delivery of one tick, two ticks that overlap, a connection another tick holds.

use aws_sdk_dynamodb::types::AttributeValue;
use shared::kernel::enqueue_lease::EnqueueLease;
use shared::kernel::ids::ConnectionId;
use shared::kernel::project_status::ProjectStatus;
use shared::scheduler::{ConnectionTurns, DiscoveredProject, ProjectRecord, ScheduleItems};
use shared::testing::{discovered_project, project_record};

use super::*;

#[tokio::test]
async fn a_tick_delivered_twice_sends_nothing_more() {
    let acme = Acme::start().await;

    let scheduler = acme.scheduler(options());
    let first = handle(&scheduler, schedule_event(None)).await.unwrap();
    acme.sim.reset_counts();
    // EventBridge delivers the same tick again (at least once), even concurrently.
    let (second, third) = tokio::join!(
        handle(&scheduler, schedule_event(None)),
        handle(&scheduler, schedule_event(None))
    );
    assert_eq!(first.enqueued(), acme.expected.len());
    assert!(second.unwrap().duplicate && third.unwrap().duplicate);
    assert_eq!(
        acme.sim.total_requests(),
        0,
        "a duplicate does not even ask GitLab"
    );

    // The next tick comes while the messages are still in flight: nothing is enqueued twice.
    let next: TickReport = run_tick(&scheduler, "2026-11-24T22:05:00Z").await;
    assert!(!next.duplicate);
    assert_eq!(next.enqueued(), 0);
    assert_eq!(
        next.connections[0].writes, 0,
        "nothing changed: nothing written"
    );
    assert_eq!(
        next.connections[0].in_flight + next.connections[0].archived_done,
        acme.expected.len()
    );
    assert_eq!(
        ids(&acme.env.drain().await),
        acme.expected,
        "one message each, over three deliveries and two ticks"
    );
    acme.stop().await;
}

/// Two different ticks overlap (the schedule fired again while the first still runs): each project is sent once.
#[tokio::test]
async fn two_overlapping_ticks_send_each_project_once() {
    let acme = Acme::start().await;

    // Two invocations (two Lambda instances), each with its own store client.
    let first = acme.scheduler(options());
    let second = acme.scheduler(options());
    let (a, b) = tokio::join!(
        handle(&first, tick_at("2026-11-24T22:00:00Z")),
        handle(&second, tick_at("2026-11-24T22:05:00Z"))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(!a.duplicate && !b.duplicate, "two different ticks");
    assert_eq!(
        a.enqueued() + b.enqueued(),
        acme.expected.len(),
        "{a:?}\n{b:?}"
    );
    let messages = acme.env.drain().await;
    assert_eq!(
        ids(&messages),
        acme.expected,
        "each eligible project exactly once"
    );
    for part in a.connections.iter().chain(&b.connections) {
        assert!(part.errors.is_empty(), "{:?}", part.errors);
    }
    acme.stop().await;
}

/// While another tick holds a connection's scheduling lock, a tick leaves the connection to it; leases of earlier
/// messages that still hold keep their projects out, and a metadata refresh keeps those leases.
#[tokio::test]
async fn a_locked_connection_is_left_to_its_tick_and_held_leases_are_kept() {
    let acme = Acme::start().await;
    let connection = ConnectionId::parse("acme").unwrap();
    let store = acme.env.projects();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // Another tick holds the lock: nothing is written or sent.
    assert!(
        store
            .lock_connection(&connection, "other", now, now + 600)
            .await
            .unwrap()
    );
    let scheduler = acme.scheduler(options());
    let report = run_tick(&scheduler, "2026-11-24T22:00:00Z").await;
    let part = &report.connections[0];
    assert!(part.busy && part.errors.is_empty(), "{part:?}");
    assert_eq!((part.enqueued, part.writes), (0, 0));
    assert!(acme.env.drain().await.is_empty());
    assert!(
        acme.env
            .schedule_item("acme", acme.org.deep)
            .await
            .is_empty()
    );
    // Only its holder gives a lock back.
    store
        .unlock_connection(&connection, "not-the-holder")
        .await
        .unwrap();
    assert!(
        !store
            .lock_connection(&connection, "third", now, now + 600)
            .await
            .unwrap()
    );

    // That tick took the leases of three projects (with metadata it has since seen change), then finished.
    let held: Vec<u64> = vec![
        acme.expected[0],
        acme.org.deep,
        acme.expected[acme.expected.len() - 1],
    ];
    let lease = EnqueueLease {
        enqueued_at: "2026-11-24T21:59:00Z".into(),
        until: now + 3_600,
        visible_at_ms: (now + 5) * 1000,
    };
    let stale: Vec<DiscoveredProject> = held
        .iter()
        .map(|id| DiscoveredProject {
            credential_id: "cred_old".into(),
            ..discovered_project(*id, &format!("old/path-{id}"))
        })
        .collect();
    let records: Vec<ProjectRecord<'_>> = stale
        .iter()
        .map(|project| project_record(project, Some(&lease), ProjectStatus::Active))
        .collect();
    assert_eq!(
        store.write(&connection, &records).await.unwrap(),
        Vec::<u64>::new()
    );
    store.unlock_connection(&connection, "other").await.unwrap();

    let report = run_tick(&scheduler, "2026-11-24T22:05:00Z").await;
    let part = &report.connections[0];
    assert!(!part.busy && part.errors.is_empty(), "{part:?}");
    assert_eq!(
        (part.enqueued, part.in_flight),
        (acme.expected.len() - 3, 3)
    );
    let others = acme.expected_where(|id| !held.contains(&id));
    assert_eq!(
        ids(&acme.env.drain().await),
        others,
        "exactly the others are sent"
    );
    let deep = acme.env.schedule_item("acme", acme.org.deep).await;
    assert_eq!(
        text(&deep, "path_with_namespace").as_deref(),
        Some("platform/backend/services/billing/invoices"),
        "the metadata is refreshed"
    );
    assert_eq!(
        deep.get("enqueue_lease_until"),
        Some(&AttributeValue::N((now + 3_600).to_string())),
        "and the lease kept"
    );
    assert_eq!(
        text(&deep, "enqueued_at").as_deref(),
        Some("2026-11-24T21:59:00Z")
    );
    // The tick gave its lock back.
    let lock = acme.env.item("CONN#acme", "SCHEDULING").await;
    assert!(!lock.contains_key("lock_until"), "{lock:?}");
    acme.stop().await;
}
