//! Given/when/then tests of a connection's turn against the memory fakes of the ports: what is written, sent and
//! held, with discovery's finding given.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;

use super::*;
use crate::kernel::ids::CredentialId;
use crate::kernel::project_status::ProjectStatus;
use crate::scheduler::fanout::SendPolicy;
use crate::scheduler::ports::AccessRefusal;
use crate::testing::{MemoryQueue, MemorySchedulerStore, discovered_project};

fn acme() -> ConnectionId {
    ConnectionId::parse("acme").unwrap()
}

/// The ports of one connection's turn, empty.
struct Given {
    store: MemorySchedulerStore,
    queue: MemoryQueue,
    options: SchedulerOptions,
}

impl Given {
    fn new() -> Self {
        Given {
            store: MemorySchedulerStore::default(),
            queue: MemoryQueue::default(),
            options: SchedulerOptions {
                send: SendPolicy {
                    base_delay: Duration::from_millis(1),
                    max_delay: Duration::from_millis(2),
                    ..SendPolicy::default()
                },
                ..SchedulerOptions::default()
            },
        }
    }

    /// The turn of a tick at `now` whose discovery found `found` (`complete`: nothing could be missing).
    async fn scheduled(
        &self,
        found: &[&DiscoveredProject],
        complete: bool,
        now: OffsetDateTime,
    ) -> ConnectionReport {
        let connection = acme();
        let turn = Turn {
            turns: &self.store,
            items: &self.store,
            queue: &self.queue,
            options: &self.options,
            connection: &connection,
            now,
        };
        let found: BTreeMap<u64, DiscoveredProject> =
            found.iter().map(|p| (p.project_id, (*p).clone())).collect();
        let mut report = ConnectionReport::default();
        turn.locked(&found, complete, &mut report).await;
        report
    }

    /// Project ids of every message sent so far, in order.
    fn sent(&self) -> Vec<u64> {
        self.queue
            .sent()
            .iter()
            .map(SyncMessage::project_id)
            .collect()
    }

    fn item(&self, project_id: u64) -> KnownProject {
        self.store.project(&acme(), project_id).unwrap()
    }
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap()
}

/// A day, the default retry of a refused project.
const RETRY: i64 = 86_400;

/// A tick of 2026-11-24 22:00 UTC.
const TICK: i64 = 1_795_989_600;

#[tokio::test]
async fn a_new_project_is_enqueued_once_with_a_lease() {
    let given = Given::new();
    let p = discovered_project(7, "g/p");

    let report = given.scheduled(&[&p, &p], true, at(TICK)).await;

    assert_eq!((report.enqueued, report.writes), (1, 1));
    assert_eq!(
        given.queue.sent(),
        vec![
            SyncMessage::new(
                acme(),
                CredentialId::parse("cred_1").unwrap(),
                7,
                "g/p",
                "main",
            )
            .unwrap()
        ]
    );
    let item = given.item(7);
    assert_eq!(item.lease.as_ref().map(|l| l.until), Some(TICK + 50 * 60));
    assert_eq!(item.status, Some(ProjectStatus::Active));
    assert_eq!(item.recorded.as_ref(), Some(&p));
    assert_eq!(
        given.store.lock_holder(&acme()),
        None,
        "the lock is given back"
    );
}

#[tokio::test]
async fn a_quiet_project_costs_no_message_and_no_write_until_gitlab_shows_activity() {
    // given a project imported and found current by a sync 70 minutes after GitLab's last activity on it
    let given = Given::new();
    let activity = TICK - 3 * 3_600;
    let p = DiscoveredProject {
        last_activity_at: Some(crate::kernel::time::utc(at(activity))),
        ..discovered_project(7, "g/p")
    };
    given.scheduled(&[&p], true, at(TICK)).await;
    given.store.set_sync_state(&acme(), 7, true, None);
    given.store.set_verified(&acme(), 7, activity + 70 * 60);

    // when the next ticks run after the lease lapsed
    let quiet = given.scheduled(&[&p], true, at(TICK + 3_600)).await;

    // then nothing is sent or written for it
    assert_eq!((quiet.enqueued, quiet.quiet, quiet.writes), (0, 1, 0));
    assert_eq!(given.sent(), vec![7]);
    assert_eq!(given.item(7).status, Some(ProjectStatus::Active));
    // and once GitLab shows activity after that sync, it is sent again
    let active = DiscoveredProject {
        last_activity_at: Some(crate::kernel::time::utc(at(TICK + 3_000))),
        ..p.clone()
    };
    let moved = given
        .scheduled(&[&active], true, at(TICK + 2 * 3_600))
        .await;
    assert_eq!((moved.enqueued, moved.quiet), (1, 0));
    assert_eq!(given.sent(), vec![7, 7]);
}

#[tokio::test]
async fn an_unchanged_project_within_its_lease_is_neither_sent_nor_written() {
    let given = Given::new();
    let p = discovered_project(7, "g/p");
    given.scheduled(&[&p], true, at(TICK)).await;

    let next = given.scheduled(&[&p], true, at(TICK + 15 * 60)).await;

    assert_eq!((next.enqueued, next.in_flight, next.writes), (0, 1, 0));
    assert_eq!(given.sent(), vec![7]);
    // Once the lease lapses, the next tick sends it again.
    let lapsed = given.scheduled(&[&p], true, at(TICK + 50 * 60 + 1)).await;
    assert_eq!(lapsed.enqueued, 1);
    assert_eq!(given.sent(), vec![7, 7]);
}

#[tokio::test]
async fn an_excluded_project_is_recorded_and_never_enqueued() {
    let given = Given::new();
    let mut p = discovered_project(7, "g/p");
    p.excluded = true;

    let report = given.scheduled(&[&p], true, at(TICK)).await;
    let again = given.scheduled(&[&p], true, at(TICK + 3_600)).await;

    assert_eq!((report.excluded, report.writes, report.enqueued), (1, 1, 0));
    assert_eq!((again.excluded, again.writes, again.enqueued), (1, 0, 0));
    assert!(given.sent().is_empty());
    assert_eq!(given.item(7).status, Some(ProjectStatus::Excluded));
    assert_eq!(given.item(7).lease, None);
}

#[tokio::test]
async fn a_project_gitlab_refused_is_held_until_its_retry() {
    let given = Given::new();
    let p = discovered_project(7, "g/p");
    let refusal = AccessRefusal {
        status: ProjectStatus::Forbidden,
        at: TICK - 3_600,
    };
    given.store.set_sync_state(&acme(), 7, true, Some(refusal));

    let held = given.scheduled(&[&p], true, at(TICK)).await;

    assert_eq!((held.inaccessible, held.enqueued), (1, 0));
    assert!(given.sent().is_empty());
    let item = given.item(7);
    assert_eq!(item.status, Some(ProjectStatus::Forbidden));
    assert_eq!(
        item.refused,
        Some(refusal),
        "the sync's state is not the scheduler's to write"
    );
    // A day after the refusal it is tried again.
    let retried = given.scheduled(&[&p], true, at(refusal.at + RETRY)).await;
    assert_eq!(retried.enqueued, 1);
    assert_eq!(given.sent(), vec![7]);
}

#[tokio::test]
async fn a_connection_locked_by_another_tick_is_left_to_it() {
    let given = Given::new();
    let now = epoch(OffsetDateTime::now_utc());
    assert!(
        given
            .store
            .lock_connection(&acme(), "other-tick", now, now + 900)
            .await
            .unwrap()
    );

    let report = given
        .scheduled(&[&discovered_project(7, "g/p")], true, at(TICK))
        .await;

    assert!(report.busy);
    assert_eq!((report.enqueued, report.writes), (0, 0));
    assert!(given.sent().is_empty());
    assert_eq!(given.store.project(&acme(), 7), None, "nothing written");
    assert_eq!(
        given.store.lock_holder(&acme()).as_deref(),
        Some("other-tick"),
        "another tick's lock is not given back"
    );
}

#[tokio::test]
async fn a_message_not_sent_gives_its_lease_back_for_the_next_tick() {
    let given = Given::new();
    let p = discovered_project(7, "g/p");
    given.queue.fail_project(7, MemoryQueue::ALWAYS);

    let report = given.scheduled(&[&p], true, at(TICK)).await;

    assert_eq!((report.enqueued, report.not_sent), (0, 1));
    assert_eq!(report.errors, vec!["queue: 1 messages not sent".to_owned()]);
    assert_eq!(given.item(7).lease, None);
    given.queue.fail_project(7, 0);
    let next = given.scheduled(&[&p], true, at(TICK + 60)).await;
    assert_eq!(next.enqueued, 1);
}

#[tokio::test]
async fn a_project_no_longer_found_is_marked_gone_only_by_a_complete_discovery() {
    let given = Given::new();
    given
        .scheduled(&[&discovered_project(7, "g/p")], true, at(TICK))
        .await;

    let incomplete = given.scheduled(&[], false, at(TICK + 60)).await;
    assert_eq!(incomplete.gone, 0);
    assert!(!given.item(7).gone);

    let complete = given.scheduled(&[], true, at(TICK + 120)).await;
    assert_eq!(complete.gone, 1);
    assert!(given.item(7).gone);
}
