//! [`PushHooks`]: one hook delivery in, at most one sync message out.
//!
//! Order of checks: the connection's hook secret against `X-Gitlab-Token` (in constant time; an unknown
//! connection, a missing or wrong token, and another connection's token are one and the same refusal), then the
//! body's size and shape, then the branch, then the enqueue lease. Nothing is written or sent before the token
//! matched.
//!
//! The secret of a connection the state table does not know is never read: a flood of deliveries for made-up
//! connection ids costs one key lookup each in DynamoDB, no Secrets Manager read, and no room in the secret cache.

use std::num::NonZeroUsize;
use std::time::Duration;

use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::ports::PushLeases;
use super::push::{Event, PushError};
use super::secret_cache::SecretCache;
use crate::kernel::enqueue_lease::{
    DEFAULT_ENQUEUE_LEASE, LeaseRequest, LeaseTake, NotSent, PlannedLease, ScheduledProject,
};
use crate::kernel::ids::ConnectionId;
use crate::kernel::push_hook::hook_secret_name;
use crate::kernel::store::StoreError;
use crate::kernel::sync_message::{MessageError, SyncQueue};
use crate::kernel::vault::{SecretVault, VaultError};
use crate::metrics::Emitter;
use crate::secret::SecretString;

/// How many times a push reads and takes its project's lease while other writers change it.
const LEASE_ATTEMPTS: usize = 3;

/// How hooks are coalesced, and how long a hook secret is remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookOptions {
    /// The least time between two messages of a project becoming visible. The first push after a quiet spell is
    /// sent at once; one that comes while the last message may still be queued or running is held back until
    /// this long after it, and covers every push until then: a burst makes one sync at its start and one per
    /// window after.
    pub coalesce_window: Duration,
    /// How long a sent message keeps the tick from sending another (the scheduler's enqueue lease).
    pub enqueue_lease: Duration,
    /// How long a connection's hook secret (or its absence) is remembered; a rotated secret is refused after
    /// at most this long.
    pub secret_cache_ttl: Duration,
    /// The most connections whose hook secret is remembered at once; beyond, the least recently used is read again
    /// when its next hook comes.
    pub secret_cache_entries: NonZeroUsize,
}

impl Default for HookOptions {
    fn default() -> Self {
        HookOptions {
            coalesce_window: Duration::from_secs(5),
            enqueue_lease: DEFAULT_ENQUEUE_LEASE,
            secret_cache_ttl: Duration::from_secs(60),
            secret_cache_entries: NonZeroUsize::new(1024).expect("not zero"),
        }
    }
}

/// One delivery as the entry point read it from the request.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The connection id segment of the path, unchecked.
    pub connection: &'a str,
    /// `X-Gitlab-Token`, if sent.
    pub token: Option<&'a [u8]>,
    pub body: &'a [u8],
}

/// What a delivery that passed every check led to (a success for GitLab either way: it disables a hook after four
/// consecutive non-2xx answers, so an event we leave alone is still a success for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A sync message for the project is queued: at once after a quiet spell, else held back until a coalescing
    /// window after the project's last one.
    Queued { project_id: u64 },
    /// Nothing sent, and why.
    Ignored {
        reason: IgnoreReason,
        project_id: Option<u64>,
    },
}

/// Why a delivery that passed every check sends nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreReason {
    /// Another event than a push (a tag push, a merge request...).
    NotAPush,
    /// A push to another branch than the project's default branch.
    NotDefaultBranch,
    /// A queued message becomes visible after this push and reads the head after it.
    Coalesced,
    /// No tick has recorded the project.
    UnknownProject,
    /// The tick does not sync the project (excluded, archived, refused by GitLab, or gone).
    NotSynced,
}

/// Why a delivery was refused: the caller's fault, or ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// The caller's fault: delivering the same request again is refused again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// An unknown connection, a missing or wrong token, and another connection's token alike.
    #[error("the X-Gitlab-Token header does not match this connection's push hook secret")]
    Unauthorized,
    #[error(
        "the body is larger than the {} bytes a push hook may send",
        super::push::MAX_BODY_BYTES
    )]
    TooLarge,
    #[error("the body is not a GitLab push event: {0}")]
    Malformed(PushError),
}

/// Ours: the delivery could not be served now, and GitLab delivers it again. The detail is for logs only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("store: {0}")]
    Store(StoreError),
    #[error("secret vault: {0}")]
    Vault(VaultError),
    #[error("queue: {0}")]
    Queue(StoreError),
    /// The tick wrote the record from GitLab's answer; one that makes no message is a bug, not the caller's.
    #[error("the project's schedule item makes no sync message: {0}")]
    ScheduleItem(MessageError),
    /// Other writers changed the project's lease between each of this delivery's readings and its write.
    #[error("the project's enqueue lease changed under every attempt to take it")]
    Contended,
}

impl From<PushError> for Refusal {
    fn from(error: PushError) -> Self {
        match error {
            PushError::TooLarge => Refusal::TooLarge,
            other => Refusal::Malformed(other),
        }
    }
}

/// The push hook service, built once per process.
#[derive(Debug)]
pub struct PushHooks<L, V, Q> {
    pub leases: L,
    pub vault: V,
    pub queue: Q,
    pub secret_name_prefix: String,
    pub options: HookOptions,
    /// One embedded-metric-format line per delivery on stdout (the entry point writes it); the local run turns
    /// it off.
    pub metrics: Emitter,
    secrets: SecretCache,
}

impl<L: PushLeases, V: SecretVault, Q: SyncQueue> PushHooks<L, V, Q> {
    pub fn new(
        leases: L,
        vault: V,
        queue: Q,
        secret_name_prefix: String,
        options: HookOptions,
    ) -> Self {
        PushHooks {
            leases,
            vault,
            queue,
            secret_name_prefix,
            options,
            metrics: Emitter::default(),
            secrets: SecretCache::new(options.secret_cache_entries, options.secret_cache_ttl),
        }
    }

    /// Handles one delivery now.
    pub async fn receive(&self, delivery: Delivery<'_>) -> Result<Received, HookError> {
        self.receive_at(delivery, OffsetDateTime::now_utc()).await
    }

    /// Handles one delivery at `now`: the token, the event, the branch, the lease, then the message.
    pub async fn receive_at(
        &self,
        delivery: Delivery<'_>,
        now: OffsetDateTime,
    ) -> Result<Received, HookError> {
        let connection = self.authenticate(&delivery).await?;
        let push = match Event::parse(delivery.body).map_err(Refusal::from)? {
            Event::Push(push) => push,
            Event::Other(_) => {
                return Ok(Received::Ignored {
                    reason: IgnoreReason::NotAPush,
                    project_id: None,
                });
            }
        };
        let ignored = |reason| {
            Ok(Received::Ignored {
                reason,
                project_id: Some(push.project_id),
            })
        };
        if !push.is_default_branch() {
            return ignored(IgnoreReason::NotDefaultBranch);
        }
        let request = LeaseRequest::on_queue::<Q>(
            now,
            self.options.coalesce_window,
            self.options.enqueue_lease,
        );
        let taken = self
            .take_lease(&connection, push.project_id, &request)
            .await?;
        let (project, planned) = match taken {
            LeaseTake::Taken(project, planned) => (project, planned),
            LeaseTake::Covered => return ignored(IgnoreReason::Coalesced),
            LeaseTake::Unknown => return ignored(IgnoreReason::UnknownProject),
            LeaseTake::NotSynced(status) => {
                tracing::info!(
                    project_id = push.project_id,
                    status,
                    "push to a project the schedule does not sync"
                );
                return ignored(IgnoreReason::NotSynced);
            }
        };
        self.send(&connection, push.project_id, project, &planned)
            .await?;
        Ok(Received::Queued {
            project_id: push.project_id,
        })
    }

    /// The connection named by the delivery, once its hook secret matched `X-Gitlab-Token` in constant time.
    async fn authenticate(&self, delivery: &Delivery<'_>) -> Result<ConnectionId, HookError> {
        let connection = ConnectionId::parse(delivery.connection).ok_or(Refusal::Unauthorized)?;
        let token = delivery.token.ok_or(Refusal::Unauthorized)?;
        let secret = self
            .hook_secret(&connection)
            .await?
            .ok_or(Refusal::Unauthorized)?;
        if !bool::from(secret.expose().as_bytes().ct_eq(token)) {
            return Err(Refusal::Unauthorized.into());
        }
        Ok(connection)
    }

    /// Takes the project's lease for `request`, reading it again when another writer changed it in between (at
    /// most [`LEASE_ATTEMPTS`] readings). Past them, the delivery is ours to fail: a writer that changed the lease
    /// may not have sent a message (a lease given back after a failed send, a tick's rewrite of what it read), so
    /// the push cannot be counted as covered, and GitLab's retry of the delivery reads the lease again.
    async fn take_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        request: &LeaseRequest,
    ) -> Result<LeaseTake, Unavailable> {
        for _ in 0..LEASE_ATTEMPTS {
            let taken = self
                .leases
                .take_push_lease(connection, project_id, request)
                .await
                .map_err(Unavailable::Store)?;
            if let Some(taken) = taken {
                return Ok(taken);
            }
        }
        Err(Unavailable::Contended)
    }

    /// Sends the project's message with its planned delay. A message not sent gives its lease back, so that
    /// GitLab's retry of this delivery (or the next push) takes it again.
    async fn send(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        project: ScheduledProject,
        planned: &PlannedLease,
    ) -> Result<(), Unavailable> {
        let sent = project
            .send(&self.queue, connection, project_id, planned.delay)
            .await
            .map_err(|failure| match failure {
                NotSent::Queue(error) => Unavailable::Queue(error),
                NotSent::ScheduleItem(error) => Unavailable::ScheduleItem(error),
            });
        if sent.is_err() {
            let released = self
                .leases
                .release_push_lease(connection, project_id, planned.lease.visible_at_ms)
                .await;
            if let Err(error) = released {
                tracing::error!(project_id, error = %error, "push lease not given back; it lapses with its window");
            }
        }
        sent
    }

    /// The connection's hook secret, from the cache while fresh, else from the vault (`None`: it has none, or the
    /// connection does not exist, which is found out without reading the vault and is not remembered).
    async fn hook_secret(
        &self,
        connection: &ConnectionId,
    ) -> Result<Option<SecretString>, Unavailable> {
        if let Some(cached) = self.secrets.fresh(connection) {
            return Ok(cached);
        }
        let known = self
            .leases
            .connection_exists(connection)
            .await
            .map_err(Unavailable::Store)?;
        if !known {
            return Ok(None);
        }
        let name = hook_secret_name(&self.secret_name_prefix, connection);
        let secret = match self.vault.read(&name, None).await {
            Ok(secret) => Some(secret),
            Err(VaultError::NotFound { .. } | VaultError::ScheduledForDeletion { .. }) => None,
            Err(error) => return Err(Unavailable::Vault(error)),
        };
        self.secrets.remember(connection.clone(), secret.clone());
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use serde_json::{Value, json};
    use time::macros::datetime;

    use super::*;
    use crate::kernel::enqueue_lease::EnqueueLease;
    use crate::kernel::project_status::ProjectStatus;
    use crate::scheduler::ports::ScheduleItems;
    use crate::testing::{
        MemoryQueue, MemorySchedulerStore, MemoryVault, discovered_project, project_record,
    };

    const PREFIX: &str = "gitlab-importer/";
    const SECRET: &str = "7f3a9c0e5b1d4f2a8c6e0b9d7f5a3c1e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a";
    const NOW: OffsetDateTime = datetime!(2026-11-30 12:00:00 UTC);
    const UNAUTHORIZED: HookError = HookError::Refused(Refusal::Unauthorized);

    type Hooks = PushHooks<MemorySchedulerStore, MemoryVault, MemoryQueue>;

    fn acme() -> ConnectionId {
        ConnectionId::parse("acme").unwrap()
    }

    /// acme has a hook secret and two projects a tick recorded: 15 (active) and 16 (`status16`).
    async fn hooks(status16: ProjectStatus) -> Hooks {
        let store = MemorySchedulerStore::default();
        let project = |id: u64| discovered_project(id, &format!("acme/p{id}"));
        let (p15, p16) = (project(15), project(16));
        let records = [
            project_record(&p15, None, ProjectStatus::Active),
            project_record(&p16, None, status16),
        ];
        store.write(&acme(), &records).await.unwrap();
        store.add_connection(&acme(), None);
        let secrets = MemoryVault::default();
        secrets
            .create(
                &hook_secret_name(PREFIX, &acme()),
                &SecretString::new(SECRET),
                "v1",
                &[],
            )
            .await
            .unwrap();
        PushHooks::new(
            store,
            secrets,
            MemoryQueue::default(),
            PREFIX.into(),
            HookOptions::default(),
        )
    }

    fn push(project: u64, git_ref: &str) -> Value {
        json!({
            "object_kind": "push",
            "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
            "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            "ref": git_ref,
            "project_id": project,
            "project": {"id": project, "default_branch": "main"},
            "total_commits_count": 1
        })
    }

    async fn deliver(
        hooks: &Hooks,
        connection: &str,
        token: Option<&str>,
        body: &Value,
        at: OffsetDateTime,
    ) -> Result<Received, HookError> {
        receive_raw(hooks, connection, token, body.to_string().as_bytes(), at).await
    }

    async fn receive_raw(
        hooks: &Hooks,
        connection: &str,
        token: Option<&str>,
        body: &[u8],
        at: OffsetDateTime,
    ) -> Result<Received, HookError> {
        let delivery = Delivery {
            connection,
            token: token.map(str::as_bytes),
            body,
        };
        hooks.receive_at(delivery, at).await
    }

    /// acme's push of project 15 to `main`, with acme's token.
    async fn push_to_main(hooks: &Hooks, at: OffsetDateTime) -> Result<Received, HookError> {
        deliver(
            hooks,
            "acme",
            Some(SECRET),
            &push(15, "refs/heads/main"),
            at,
        )
        .await
    }

    /// acme's note event: it passes the token check and sends nothing.
    async fn note(hooks: &Hooks, connection: &str, token: &str) {
        let note = json!({"object_kind": "note"});
        deliver(hooks, connection, Some(token), &note, NOW)
            .await
            .unwrap();
    }

    fn vault_reads(hooks: &Hooks) -> u64 {
        hooks.vault.reads.load(Ordering::SeqCst)
    }

    fn lease_of(hooks: &Hooks, project: u64) -> Option<EnqueueLease> {
        hooks.leases.project(&acme(), project).unwrap().lease
    }

    #[tokio::test]
    async fn a_lone_push_to_the_default_branch_queues_one_sync_at_once() {
        let hooks = hooks(ProjectStatus::Active).await;
        let received = push_to_main(&hooks, NOW).await.unwrap();
        assert_eq!(received, Received::Queued { project_id: 15 });
        let sent = hooks.queue.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].path_with_namespace(), "acme/p15");
        assert_eq!(sent[0].credential_id().as_str(), "cred_1");
        assert_eq!(sent[0].default_branch(), "main");
        assert_eq!(hooks.queue.delays(), vec![(15, Duration::ZERO)]);
        let lease = lease_of(&hooks, 15).unwrap();
        assert_eq!(lease.visible_at_ms, NOW.unix_timestamp() * 1000);
        assert_eq!(lease.until, NOW.unix_timestamp() + 50 * 60);
    }

    #[tokio::test]
    async fn pushes_while_a_sync_may_run_wait_for_one_window_after_it_then_quiet_means_at_once() {
        let hooks = hooks(ProjectStatus::Active).await;
        let at = |ms: i64| NOW + time::Duration::milliseconds(ms);
        let queued = Received::Queued { project_id: 15 };
        let coalesced = Received::Ignored {
            reason: IgnoreReason::Coalesced,
            project_id: Some(15),
        };
        // given a lone push, sent at once
        assert_eq!(push_to_main(&hooks, at(0)).await, Ok(queued.clone()));
        // when another comes 1.2 s later (the first sync may still be queued or running), then more
        assert_eq!(push_to_main(&hooks, at(1_200)).await, Ok(queued.clone()));
        assert_eq!(push_to_main(&hooks, at(2_000)).await, Ok(coalesced.clone()));
        assert_eq!(push_to_main(&hooks, at(4_600)).await, Ok(coalesced));
        // then the second is held back until a window after the first, and covers the third and fourth
        assert_eq!(
            hooks.queue.delays(),
            vec![(15, Duration::ZERO), (15, Duration::from_secs(4))]
        );
        assert_eq!(
            lease_of(&hooks, 15).unwrap().visible_at_ms,
            at(5_200).unix_timestamp() * 1000 + 200
        );
        // and a push a whole window after the last message is a lone push again: at once
        assert_eq!(push_to_main(&hooks, at(10_200)).await, Ok(queued));
        assert_eq!(hooks.queue.delays()[2], (15, Duration::ZERO));
    }

    #[tokio::test]
    async fn fifty_pushes_in_ten_seconds_make_three_syncs_and_every_push_is_covered() {
        let hooks = hooks(ProjectStatus::Active).await;
        let mut outcomes = Vec::new();
        for i in 0..50_i64 {
            let at = NOW + time::Duration::milliseconds(i * 200);
            outcomes.push(push_to_main(&hooks, at).await.unwrap());
        }
        let count = |wanted: fn(&Received) -> bool| outcomes.iter().filter(|o| wanted(o)).count();
        let queued = count(|o| matches!(o, Received::Queued { .. }));
        assert_eq!(queued, 3);
        assert_eq!(hooks.queue.sent().len(), queued);
        // The first at once (the leading edge), the others a window apart.
        let delays: Vec<u64> = hooks
            .queue
            .delays()
            .iter()
            .map(|(_, d)| d.as_secs())
            .collect();
        assert_eq!(delays, vec![0, 5, 6]);
        // Every push is covered: each one is followed by a message that becomes visible after it.
        let coalesced = count(
            |o| matches!(o, Received::Ignored { reason, .. } if *reason == IgnoreReason::Coalesced),
        );
        assert_eq!(queued + coalesced, 50);
    }

    #[tokio::test]
    async fn every_token_failure_is_the_same_refusal_and_touches_nothing() {
        let hooks = hooks(ProjectStatus::Active).await;
        let other = "0".repeat(64);
        let body = push(15, "refs/heads/main");
        for (connection, token) in [
            ("acme", None),
            ("acme", Some("")),
            ("acme", Some(other.as_str())),
            ("acme", Some(&SECRET[..63])),
            ("globex", Some(SECRET)),
            ("a/b", Some(SECRET)),
            ("", Some(SECRET)),
        ] {
            let refused = deliver(&hooks, connection, token, &body, NOW).await;
            assert_eq!(refused, Err(UNAUTHORIZED), "{connection} {token:?}");
        }
        assert!(hooks.queue.sent().is_empty());
        assert!(lease_of(&hooks, 15).is_none());
        // A bad body with a bad token is still only unauthorised: nothing is read before the token matched.
        let too_large = vec![b'x'; super::super::push::MAX_BODY_BYTES + 1];
        let refused = receive_raw(&hooks, "acme", Some("nope"), &too_large, NOW).await;
        assert_eq!(refused, Err(UNAUTHORIZED));
    }

    #[tokio::test]
    async fn events_the_schedule_does_not_sync_are_answered_and_ignored() {
        let hooks = hooks(ProjectStatus::Excluded).await;
        let cases = [
            (
                push(15, "refs/heads/feature"),
                IgnoreReason::NotDefaultBranch,
            ),
            (push(15, "refs/tags/main"), IgnoreReason::NotDefaultBranch),
            (json!({"object_kind": "tag_push"}), IgnoreReason::NotAPush),
            (
                json!({"object_kind": "merge_request", "project": 3}),
                IgnoreReason::NotAPush,
            ),
            (push(99, "refs/heads/main"), IgnoreReason::UnknownProject),
            (push(16, "refs/heads/main"), IgnoreReason::NotSynced),
        ];
        for (body, reason) in cases {
            let received = deliver(&hooks, "acme", Some(SECRET), &body, NOW)
                .await
                .unwrap();
            assert!(
                matches!(received, Received::Ignored { reason: r, .. } if r == reason),
                "{body}: {received:?}"
            );
        }
        assert!(hooks.queue.sent().is_empty());
        for project in [15, 16] {
            assert!(lease_of(&hooks, project).is_none());
        }
    }

    #[tokio::test]
    async fn malformed_and_oversized_bodies_are_the_callers_fault() {
        let hooks = hooks(ProjectStatus::Active).await;
        let mut broken = push(15, "refs/heads/main");
        broken["after"] = json!("not a sha");
        let refused = deliver(&hooks, "acme", Some(SECRET), &broken, NOW).await;
        assert!(
            matches!(refused, Err(HookError::Refused(Refusal::Malformed(_)))),
            "{refused:?}"
        );
        let big =
            json!({"object_kind": "push", "pad": "x".repeat(super::super::push::MAX_BODY_BYTES)});
        let refused = deliver(&hooks, "acme", Some(SECRET), &big, NOW).await;
        assert_eq!(refused, Err(Refusal::TooLarge.into()));
        let refused = receive_raw(&hooks, "acme", Some(SECRET), b"{\"object_kind\":", NOW).await;
        assert!(matches!(
            refused,
            Err(HookError::Refused(Refusal::Malformed(_)))
        ));
        assert!(hooks.queue.sent().is_empty());
    }

    #[tokio::test]
    async fn a_message_that_cannot_be_sent_gives_its_lease_back() {
        let hooks = hooks(ProjectStatus::Active).await;
        hooks.queue.fail_calls(1);
        let failed = push_to_main(&hooks, NOW).await;
        assert!(
            matches!(failed, Err(HookError::Unavailable(Unavailable::Queue(_)))),
            "{failed:?}"
        );
        assert!(lease_of(&hooks, 15).is_none());
        // GitLab's retry a second later takes the lease again and is sent at once.
        let retried = push_to_main(&hooks, NOW + time::Duration::seconds(1)).await;
        assert_eq!(retried, Ok(Received::Queued { project_id: 15 }));
        assert_eq!(hooks.queue.delays(), vec![(15, Duration::ZERO)]);
    }

    #[tokio::test]
    async fn a_lease_that_changes_under_every_take_fails_the_delivery_rather_than_count_it_covered()
    {
        let hooks = hooks(ProjectStatus::Active).await;
        hooks.leases.contend_lease_takes(3);
        let failed = push_to_main(&hooks, NOW).await;
        assert_eq!(failed, Err(HookError::Unavailable(Unavailable::Contended)));
        assert!(hooks.queue.sent().is_empty());
        // Two lost races, then the third reading takes it.
        hooks.leases.contend_lease_takes(2);
        let taken = push_to_main(&hooks, NOW + time::Duration::seconds(1)).await;
        assert_eq!(taken, Ok(Received::Queued { project_id: 15 }));
    }

    #[tokio::test]
    async fn the_hook_secret_is_read_once_a_minute_and_a_vault_failure_is_ours() {
        let hooks = self::hooks(ProjectStatus::Active).await;
        // globex exists but has no hook secret (yet).
        hooks
            .leases
            .add_connection(&ConnectionId::parse("globex").unwrap(), None);
        for _ in 0..5 {
            note(&hooks, "acme", SECRET).await;
            let globex = deliver(
                &hooks,
                "globex",
                Some(SECRET),
                &push(1, "refs/heads/main"),
                NOW,
            )
            .await;
            assert_eq!(globex, Err(UNAUTHORIZED));
        }
        // One read for acme, one for globex (which has none: remembered too).
        assert_eq!(vault_reads(&hooks), 2);

        let down = self::hooks(ProjectStatus::Active).await;
        *down.vault.fail_next.lock().unwrap() = vec!["read"];
        let failed = push_to_main(&down, NOW).await;
        assert!(
            matches!(failed, Err(HookError::Unavailable(Unavailable::Vault(_)))),
            "{failed:?}"
        );
        assert!(!failed.unwrap_err().to_string().contains(SECRET));
    }

    /// A made-up connection id in every delivery, each with a token of its own.
    fn bogus_delivery(n: u32) -> (String, String) {
        let mut bytes = [0_u8; 12];
        getrandom::fill(&mut bytes).unwrap();
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        (format!("conn-{n}-{id}"), format!("{id}{n:08}"))
    }

    #[tokio::test]
    async fn a_thousand_deliveries_for_made_up_connections_read_no_secret() {
        // given acme's secret read and remembered by one real delivery
        let hooks = hooks(ProjectStatus::Active).await;
        note(&hooks, "acme", SECRET).await;
        assert_eq!(vault_reads(&hooks), 1);
        // when 1,000 deliveries name random connections that do not exist
        let body = push(15, "refs/heads/main");
        for n in 0..1000 {
            let (connection, token) = bogus_delivery(n);
            let refused = deliver(&hooks, &connection, Some(&token), &body, NOW).await;
            assert_eq!(refused, Err(UNAUTHORIZED));
        }
        // then not one reached the vault, none took a place in the cache, and acme's secret is still remembered
        assert_eq!(vault_reads(&hooks), 1);
        assert_eq!(hooks.secrets.len(), 1);
        note(&hooks, "acme", SECRET).await;
        assert_eq!(vault_reads(&hooks), 1);
        assert!(hooks.queue.sent().is_empty());
    }

    #[tokio::test]
    async fn a_full_secret_cache_reads_again_only_the_connection_it_evicted() {
        // given four connections with secrets and a cache of three
        let mut hooks = hooks(ProjectStatus::Active).await;
        hooks.options.secret_cache_entries = std::num::NonZeroUsize::new(3).unwrap();
        hooks.secrets = SecretCache::new(
            hooks.options.secret_cache_entries,
            hooks.options.secret_cache_ttl,
        );
        let names = ["acme", "globex", "initech", "umbrella"];
        for name in &names[1..] {
            let connection = ConnectionId::parse(name).unwrap();
            hooks.leases.add_connection(&connection, None);
            hooks
                .vault
                .create(
                    &hook_secret_name(PREFIX, &connection),
                    &SecretString::new(format!("{name}-secret")),
                    "v1",
                    &[],
                )
                .await
                .unwrap();
        }
        let secret_of = |name: &str| {
            if name == "acme" {
                SECRET.to_owned()
            } else {
                format!("{name}-secret")
            }
        };
        // when acme, globex and initech deliver, acme again, then umbrella
        for name in ["acme", "globex", "initech", "acme", "umbrella"] {
            note(&hooks, name, &secret_of(name)).await;
        }
        assert_eq!(vault_reads(&hooks), 4);
        // then only globex, the least recently used, was let go: the others are served without a read
        for name in ["acme", "initech", "umbrella"] {
            note(&hooks, name, &secret_of(name)).await;
        }
        assert_eq!(vault_reads(&hooks), 4);
        note(&hooks, "globex", &secret_of("globex")).await;
        assert_eq!(vault_reads(&hooks), 5);
    }
}
