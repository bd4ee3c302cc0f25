//! Failures that stay in their place: a refused token, GitLabs down or slow, a queue that refuses entries, a store
//! that fails batches, a 401 GitLab does not confirm.

use std::collections::HashSet;
use std::sync::Mutex;

use shared::kernel::project_status::ProjectStatus;
use shared::kernel::store::StoreError;
use shared::scheduler::{
    BatchEntry, DiscoveredProject, FailedEntry, KnownProject, ProjectRecord, ScheduleItems,
};
use shared::testing::{discovered_project, project_record};
use testkit::gitlab_sim::{Fault, routes};

use super::*;

/// One connection's token is revoked, another's GitLab answers 503 to everything, a third's is too slow, a
/// fourth is fine.
#[tokio::test]
async fn a_revoked_token_and_a_failing_gitlab_do_not_stop_the_others() {
    let (acme, revoked_token) = Acme::start_with(&[], &[], |world, repo| {
        let revoked_user = world.add_user("former-employee");
        let revoked_token =
            world.add_token(TokenSpec::new("glpat-revoked", revoked_user, &["read_api"]));
        let own = world.add_group("former", None);
        world.add_member(revoked_user, Membership::Group(own), access::OWNER);
        world.add_project(ProjectSpec::in_group(own, "x", Some(repo)));
        revoked_token
    })
    .await;

    let down_world = World::one_project("glpat-down", Some(acme._repo.path())).world;
    let down = Simulator::start(down_world.clone()).await.unwrap();
    let slow = Simulator::start(down_world).await.unwrap();

    let revoked = acme
        .env
        .connect("gone-corp", &acme.sim, "glpat-revoked")
        .await;
    acme.env.connect("down-corp", &down, "glpat-down").await;
    acme.env.connect("slow-corp", &slow, "glpat-down").await;
    acme.sim
        .with_world(|w| w.token_mut(revoked_token).revoked = true);
    down.fail_next(routes::ANY, 10_000, Fault::ServerError(503));
    slow.set_latency(Duration::from_secs(5));

    // Below the slow GitLab's 5 s latency, and long enough for acme's 260 projects on a busy 2-core machine (at
    // 2 s, CI once saw acme's discovery time out with four tests running).
    let scheduler = acme.scheduler(SchedulerOptions {
        discovery_timeout: Duration::from_secs(4),
        ..options()
    });
    let report = run_tick(&scheduler, "2026-11-24T23:00:00Z").await;
    let by_name = by_connection(&report);
    assert_eq!(by_name["acme"].enqueued, acme.expected.len());
    assert_eq!(
        by_name["gone-corp"].errors.len(),
        1,
        "{:?}",
        by_name["gone-corp"].errors
    );
    for (connection, code) in [
        ("gone-corp", "unauthorized"),
        ("down-corp", "gitlab_unavailable"),
        ("slow-corp", "discovery_timeout"),
    ] {
        assert_eq!(by_name[connection].enqueued, 0);
        assert_failed_with(by_name[connection], code);
    }
    let messages = acme.env.drain().await;
    assert_eq!(ids(&messages), acme.expected);
    assert!(
        messages
            .iter()
            .all(|m| m.connection_id().as_str() == "acme")
    );
    assert_eq!(
        acme.env.credential_status("gone-corp", &revoked).await,
        CredentialStatus::InvalidCredentials
    );

    // Its syncs stop: the next tick does not use the refused token at all.
    acme.sim.reset_counts();
    let next = run_tick(&scheduler, "2026-11-24T23:05:00Z").await;
    let gone_corp = next
        .connections
        .iter()
        .find(|c| c.connection_id == "gone-corp")
        .unwrap();
    assert_eq!((gone_corp.credentials, gone_corp.gitlab_requests), (0, 0));
    acme.stop().await;
}

/// Fails chosen entries (by project id) a number of times before letting them through.
struct FlakyQueue<Q> {
    inner: Q,
    failures_left: Mutex<HashMap<u64, u32>>,
    calls: AtomicU32,
}

impl<Q: BatchQueue> BatchQueue for FlakyQueue<Q> {
    async fn send_batch(&self, entries: &[BatchEntry<'_>]) -> Result<Vec<FailedEntry>, StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut pass = Vec::new();
        let mut failed = Vec::new();
        {
            let mut left = self.failures_left.lock().unwrap();
            for entry in entries {
                match left.get_mut(&entry.message.project_id()) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        failed.push(FailedEntry {
                            id: entry.id.to_owned(),
                            code: "InternalError".into(),
                            sender_fault: false,
                        });
                    }
                    _ => pass.push(*entry),
                }
            }
        }
        failed.extend(self.inner.send_batch(&pass).await?);
        Ok(failed)
    }
}

#[tokio::test]
async fn send_message_batch_partial_failures_are_retried_and_what_never_went_is_retried_next_tick()
{
    let acme = Acme::start().await;

    // Every third project fails once; one project fails more often than the retries allow.
    let mut failures: HashMap<u64, u32> =
        acme.expected.iter().step_by(3).map(|id| (*id, 1)).collect();
    let stubborn = acme.expected[1];
    failures.insert(stubborn, 100);
    let queue = FlakyQueue {
        inner: acme.env.sqs(),
        failures_left: Mutex::new(failures),
        calls: AtomicU32::new(0),
    };
    let scheduler = acme.env.scheduler(queue, options());
    let report = run_tick(&scheduler, "2026-11-24T22:00:00Z").await;
    let part = &report.connections[0];
    assert_eq!((part.enqueued, part.not_sent), (acme.expected.len() - 1, 1));
    assert!(
        part.errors
            .iter()
            .any(|e| e.contains("1 messages not sent"))
    );
    let first: Vec<u64> = ids(&acme.env.drain().await);
    let unique: HashSet<u64> = first.iter().copied().collect();
    assert_eq!(unique.len(), first.len(), "no duplicates from retries");
    let missing = acme.expected_where(|id| !unique.contains(&id));
    assert_eq!(
        missing,
        vec![stubborn],
        "only the stubborn one is missing, and it is reported"
    );

    // Its lease was given back: the next tick sends it, and only it.
    scheduler.queue.failures_left.lock().unwrap().clear();
    let next = run_tick(&scheduler, "2026-11-24T22:05:00Z").await;
    assert_eq!(next.enqueued(), 1);
    assert_eq!(ids(&acme.env.drain().await), vec![stubborn]);
    acme.stop().await;
}

/// `BatchWriteItem` takes 25 requests at most (moto accepts more; AWS does not).
#[tokio::test]
async fn the_store_writes_at_most_25_records_a_call() {
    let env = Env::new().await;
    let acme = ConnectionId::parse("acme").unwrap();
    let projects: Vec<DiscoveredProject> = (1..=26)
        .map(|id| discovered_project(id, &format!("g/p{id}")))
        .collect();
    let records: Vec<ProjectRecord<'_>> = projects
        .iter()
        .map(|project| project_record(project, None, ProjectStatus::Active))
        .collect();
    let store = env.projects();
    assert!(store.write(&acme, &records).await.is_err());
    assert_eq!(
        store.write(&acme, &records[..25]).await.unwrap(),
        Vec::<u64>::new()
    );
    let known = store.known_projects(&acme).await.unwrap();
    assert_eq!(known.len(), 25);
    assert_eq!(known[0].recorded.as_ref(), Some(&projects[0]));
    env.aws.teardown().await;
}

/// The schedule items on moto, with one batch of records failing as a whole and one record left unprocessed.
struct FlakyItems {
    inner: DynamoProjectStore,
    /// The batch holding this project fails (once).
    fail_batch_of: Mutex<Option<u64>>,
    /// This project's record stays unprocessed (once).
    leave_out: Mutex<Option<u64>>,
}

impl ScheduleItems for FlakyItems {
    async fn write(
        &self,
        connection: &ConnectionId,
        records: &[ProjectRecord<'_>],
    ) -> Result<Vec<u64>, StoreError> {
        let holds =
            |id: Option<u64>| id.filter(|id| records.iter().any(|r| r.project.project_id == *id));
        if holds(*self.fail_batch_of.lock().unwrap()).is_some() {
            *self.fail_batch_of.lock().unwrap() = None;
            return Err(StoreError::unavailable(
                "BatchWriteItem",
                "service unavailable",
            ));
        }
        let Some(left_out) = holds(*self.leave_out.lock().unwrap()) else {
            return self.inner.write(connection, records).await;
        };
        *self.leave_out.lock().unwrap() = None;
        let rest: Vec<ProjectRecord<'_>> = records
            .iter()
            .copied()
            .filter(|r| r.project.project_id != left_out)
            .collect();
        let mut unwritten = self.inner.write(connection, &rest).await?;
        unwritten.push(left_out);
        Ok(unwritten)
    }

    async fn release(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        until: i64,
    ) -> Result<(), StoreError> {
        self.inner.release(connection, project_id, until).await
    }

    async fn known_projects(
        &self,
        connection: &ConnectionId,
    ) -> Result<Vec<KnownProject>, StoreError> {
        self.inner.known_projects(connection).await
    }

    async fn mark_gone(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        at: &str,
    ) -> Result<(), StoreError> {
        self.inner.mark_gone(connection, project_id, at).await
    }
}

/// Records that could not be written get no message (their lease may not be there), are reported, and the next
/// tick sends them.
#[tokio::test]
async fn records_not_written_are_reported_and_sent_by_the_next_tick() {
    let acme = Acme::start().await;
    // The first batch (records go in project id order) fails; the last project's record is left out.
    let failing = acme.expected[0];
    let left_out = acme.expected[acme.expected.len() - 1];
    let scheduler = acme
        .env
        .scheduler(acme.env.sqs(), options())
        .with_items(FlakyItems {
            inner: acme.env.projects(),
            fail_batch_of: Mutex::new(Some(failing)),
            leave_out: Mutex::new(Some(left_out)),
        });
    let report = run_tick(&scheduler, "2026-11-24T22:00:00Z").await;
    let part = &report.connections[0];
    let sent = ids(&acme.env.drain().await);
    assert!(!sent.contains(&failing) && !sent.contains(&left_out));
    // 26 records not written; the empty repository's may be one of them (it gets no message anyway).
    let missing = acme.expected.len() - sent.len();
    assert!((25..=26).contains(&missing), "{missing}");
    assert_eq!(part.enqueued, sent.len());
    assert_eq!(
        part.errors,
        vec!["store: 26 project items not written".to_owned()]
    );

    let next = run_tick(&scheduler, "2026-11-24T22:05:00Z").await;
    assert!(next.connections[0].errors.is_empty());
    let again = ids(&acme.env.drain().await);
    assert_eq!(again.len(), missing, "exactly the ones not written before");
    let mut all: Vec<u64> = sent.into_iter().chain(again).collect();
    all.sort_unstable();
    assert_eq!(all, acme.expected);
    acme.stop().await;
}

/// A 401 during discovery marks the credential only when `personal_access_tokens/self` confirms it with the same
/// token: a token GitLab calls active, or a GitLab failing to answer about it, fails the tick for that credential
/// and nothing more.
#[tokio::test]
async fn a_401_that_personal_access_tokens_self_does_not_confirm_fails_only_the_tick() {
    let env = Env::new().await;
    let repo = repo();
    let one = World::one_project(TOKEN, Some(repo.path()));
    let sim = Simulator::start(one.world).await.unwrap();
    let id = env.connect("acme", &sim, TOKEN).await;
    let scheduler = env.scheduler(env.sqs(), options());
    let unauthorized = || {
        Fault::Hostile(testkit::gitlab_sim::Hostile::Body {
            status: 401,
            content_type: "application/json".into(),
            body: r#"{"message":"401 Unauthorized"}"#.into(),
        })
    };

    // First GitLab says the token is active, then it answers 503 about it.
    for (minute, self_fails) in [("00", false), ("05", true)] {
        sim.clear_faults();
        sim.fail_next(routes::GROUPS, 1, unauthorized());
        if self_fails {
            sim.fail_next(
                routes::PERSONAL_ACCESS_TOKEN_SELF,
                1_000,
                Fault::ServerError(503),
            );
        }
        sim.reset_counts();
        let report = run_tick(&scheduler, &format!("2026-11-24T23:{minute}:00Z")).await;
        let acme = &report.connections[0];
        assert_eq!(acme.enqueued, 0);
        assert_failed_with(acme, "unauthorized");
        let asked = sim.request_count(routes::PERSONAL_ACCESS_TOKEN_SELF);
        assert!(if self_fails { asked > 1 } else { asked == 1 }, "{asked}");
        assert_eq!(acme.gitlab_requests, sim.total_requests(), "counted");
        let stored = env.credential("acme", &id).await;
        assert_eq!(stored.status, CredentialStatus::Active);
        assert_eq!(
            stored.last_sync.unwrap().last_error.as_deref(),
            Some("unauthorized")
        );
    }

    // GitLab is well again: the credential was never stopped.
    sim.clear_faults();
    let report = run_tick(&scheduler, "2026-11-24T23:10:00Z").await;
    assert_eq!(report.connections[0].enqueued, 1);
    assert_eq!(ids(&env.drain().await), [one.project]);
    env.aws.teardown().await;
}
