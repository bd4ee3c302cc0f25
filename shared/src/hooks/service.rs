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

use super::ports::{LeaseTake, PushLeases};
use super::push::{Event, PushError};
use super::secret_cache::SecretCache;
use crate::kernel::ids::ConnectionId;
use crate::kernel::push_hook::hook_secret_name;
use crate::kernel::sync_message::{SyncMessage, SyncQueue};
use crate::kernel::vault::{SecretVault, VaultError};
use crate::scheduler::ports::EnqueueLease;
use crate::secret::SecretString;

/// How hooks are coalesced, and how long a hook secret is remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookOptions {
    /// A hook's message is delayed this long, and covers every push of the project in that time: a burst of
    /// pushes makes one sync per window, and a push is in the table about this long after it happened.
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
            enqueue_lease: crate::scheduler::SchedulerOptions::default().enqueue_lease,
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

/// What a delivery that passed every check led to (a 202 either way: GitLab disables a hook after four
/// consecutive non-2xx answers, so an event we leave alone is still a success for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A sync message for the project is queued; a worker receives it after the coalescing window.
    Queued { project_id: u64 },
    /// Nothing sent, and why (`reason` is a stable code).
    Ignored {
        reason: &'static str,
        project_id: Option<u64>,
    },
}

/// Why a delivery was refused: the caller's fault (4xx) or ours (503, which GitLab retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    #[error("the X-Gitlab-Token header does not match this connection's push hook secret")]
    Unauthorized,
    #[error(
        "the body is larger than the {} bytes a push hook may send",
        super::push::MAX_BODY_BYTES
    )]
    TooLarge,
    #[error("the body is not a GitLab push event: {0}")]
    Malformed(String),
    #[error("{0}")]
    Unavailable(String),
}

impl HookError {
    /// A stable code for replies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            HookError::Unauthorized => "unauthorized",
            HookError::TooLarge => "payload_too_large",
            HookError::Malformed(_) => "invalid_payload",
            HookError::Unavailable(_) => "unavailable",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            HookError::Unauthorized => 401,
            HookError::TooLarge => 413,
            HookError::Malformed(_) => 400,
            HookError::Unavailable(_) => 503,
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
            secrets: SecretCache::new(options.secret_cache_entries, options.secret_cache_ttl),
        }
    }

    /// Handles one delivery now.
    pub async fn receive(&self, delivery: Delivery<'_>) -> Result<Received, HookError> {
        self.receive_at(delivery, OffsetDateTime::now_utc()).await
    }

    /// Handles one delivery at `now`.
    pub async fn receive_at(
        &self,
        delivery: Delivery<'_>,
        now: OffsetDateTime,
    ) -> Result<Received, HookError> {
        let connection = ConnectionId::parse(delivery.connection).ok_or(HookError::Unauthorized)?;
        let token = delivery.token.ok_or(HookError::Unauthorized)?;
        let secret = self
            .hook_secret(&connection)
            .await?
            .ok_or(HookError::Unauthorized)?;
        if !bool::from(secret.expose().as_bytes().ct_eq(token)) {
            return Err(HookError::Unauthorized);
        }

        let event = Event::parse(delivery.body).map_err(|error| match error {
            PushError::TooLarge => HookError::TooLarge,
            other => HookError::Malformed(other.to_string()),
        })?;
        let push = match event {
            Event::Push(push) => push,
            Event::Other(_) => {
                return Ok(Received::Ignored {
                    reason: "not_a_push",
                    project_id: None,
                });
            }
        };
        let project_id = Some(push.project_id);
        if !push.is_default_branch() {
            return Ok(Received::Ignored {
                reason: "not_default_branch",
                project_id,
            });
        }

        let now_s = now.unix_timestamp();
        let lease = EnqueueLease {
            enqueued_at: crate::kernel::time::utc(now),
            until: now_s.saturating_add(self.options.enqueue_lease.as_secs() as i64),
            visible_at: now_s.saturating_add(self.window().as_secs() as i64),
        };
        // Covered only by a message that becomes visible a second or more after this push: a margin for clocks.
        let covered_from = now_s.saturating_add(1);
        let taken = self
            .leases
            .take_push_lease(&connection, push.project_id, &lease, covered_from)
            .await
            .map_err(|e| HookError::Unavailable(format!("store: {e}")))?;
        let project = match taken {
            LeaseTake::Taken(project) => project,
            LeaseTake::Covered => {
                return Ok(Received::Ignored {
                    reason: "coalesced",
                    project_id,
                });
            }
            LeaseTake::Unknown => {
                return Ok(Received::Ignored {
                    reason: "unknown_project",
                    project_id,
                });
            }
            LeaseTake::NotSynced(status) => {
                tracing::info!(
                    project_id = push.project_id,
                    status,
                    "push to a project the schedule does not sync"
                );
                return Ok(Received::Ignored {
                    reason: "not_synced",
                    project_id,
                });
            }
        };
        let message = SyncMessage::new(
            connection.clone(),
            project.credential_id,
            push.project_id,
            project.path_with_namespace,
            project.default_branch,
        );
        let sent = match message {
            Ok(message) => self
                .queue
                .enqueue(&message, self.window())
                .await
                .map_err(|e| HookError::Unavailable(format!("queue: {e}"))),
            // The tick wrote the record from GitLab's answer; one that makes no message is a bug, not the caller's.
            Err(error) => Err(HookError::Unavailable(format!(
                "the project's schedule item makes no sync message: {error}"
            ))),
        };
        if let Err(error) = sent {
            // Given back so that GitLab's retry of this delivery (or the next push) takes it again.
            if let Err(release) = self
                .leases
                .release_push_lease(&connection, push.project_id, lease.visible_at)
                .await
            {
                tracing::error!(project_id = push.project_id, error = %release, "push lease not given back; it lapses with its window");
            }
            return Err(error);
        }
        Ok(Received::Queued {
            project_id: push.project_id,
        })
    }

    fn window(&self) -> Duration {
        self.options.coalesce_window.min(Q::MAX_DELAY)
    }

    /// The connection's hook secret, from the cache while fresh, else from the vault (`None`: it has none, or the
    /// connection does not exist, which is found out without reading the vault and is not remembered).
    async fn hook_secret(
        &self,
        connection: &ConnectionId,
    ) -> Result<Option<SecretString>, HookError> {
        if let Some(cached) = self.secrets.fresh(connection) {
            return Ok(cached);
        }
        let known = self
            .leases
            .connection_exists(connection)
            .await
            .map_err(|e| HookError::Unavailable(format!("store: {e}")))?;
        if !known {
            return Ok(None);
        }
        let name = hook_secret_name(&self.secret_name_prefix, connection);
        let secret = match self.vault.read(&name, None).await {
            Ok(secret) => Some(secret),
            Err(VaultError::NotFound { .. } | VaultError::ScheduledForDeletion { .. }) => None,
            Err(error) => return Err(HookError::Unavailable(format!("secret vault: {error}"))),
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
    use crate::scheduler::model::{DiscoveredProject, ProjectStatus};
    use crate::scheduler::ports::{ProjectRecord, ScheduleItems};
    use crate::testing::{MemoryQueue, MemorySchedulerStore, MemoryVault};

    const PREFIX: &str = "gitlab-importer/";
    const SECRET: &str = "7f3a9c0e5b1d4f2a8c6e0b9d7f5a3c1e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a";
    const NOW: OffsetDateTime = datetime!(2026-11-30 12:00:00 UTC);

    type Hooks = PushHooks<MemorySchedulerStore, MemoryVault, MemoryQueue>;

    fn acme() -> ConnectionId {
        ConnectionId::parse("acme").unwrap()
    }

    /// acme has a hook secret and two projects a tick recorded: 15 (active) and 16 (`status`).
    async fn hooks(status16: ProjectStatus) -> Hooks {
        let store = MemorySchedulerStore::default();
        let project = |id: u64| DiscoveredProject {
            project_id: id,
            path_with_namespace: format!("acme/p{id}"),
            web_url: format!("https://gitlab.example.com/acme/p{id}"),
            default_branch: "main".into(),
            archived: false,
            empty_repo: false,
            last_activity_at: None,
            credential_id: "cred_1".into(),
            excluded: false,
        };
        let (p15, p16) = (project(15), project(16));
        let records = [
            ProjectRecord {
                project: &p15,
                seen_at: "2026-11-30T11:00:00Z",
                lease: None,
                status: ProjectStatus::Active,
            },
            ProjectRecord {
                project: &p16,
                seen_at: "2026-11-30T11:00:00Z",
                lease: None,
                status: status16,
            },
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
        let body = body.to_string();
        hooks
            .receive_at(
                Delivery {
                    connection,
                    token: token.map(str::as_bytes),
                    body: body.as_bytes(),
                },
                at,
            )
            .await
    }

    #[tokio::test]
    async fn a_push_to_the_default_branch_queues_one_delayed_sync() {
        let hooks = hooks(ProjectStatus::Active).await;
        let received = deliver(
            &hooks,
            "acme",
            Some(SECRET),
            &push(15, "refs/heads/main"),
            NOW,
        )
        .await
        .unwrap();
        assert_eq!(received, Received::Queued { project_id: 15 });
        let sent = hooks.queue.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].path_with_namespace(), "acme/p15");
        assert_eq!(sent[0].credential_id().as_str(), "cred_1");
        assert_eq!(sent[0].default_branch(), "main");
        assert_eq!(hooks.queue.delays(), vec![(15, Duration::from_secs(5))]);
        let lease = hooks.leases.project(&acme(), 15).unwrap().lease.unwrap();
        assert_eq!(lease.visible_at, NOW.unix_timestamp() + 5);
        assert_eq!(lease.until, NOW.unix_timestamp() + 50 * 60);
    }

    #[tokio::test]
    async fn fifty_pushes_in_ten_seconds_make_at_most_three_syncs() {
        let hooks = hooks(ProjectStatus::Active).await;
        let mut outcomes = Vec::new();
        for i in 0..50_i64 {
            let at = NOW + time::Duration::milliseconds(i * 200);
            outcomes.push(
                deliver(
                    &hooks,
                    "acme",
                    Some(SECRET),
                    &push(15, "refs/heads/main"),
                    at,
                )
                .await
                .unwrap(),
            );
        }
        let queued = outcomes
            .iter()
            .filter(|o| matches!(o, Received::Queued { .. }))
            .count();
        assert!((2..=3).contains(&queued), "{queued} syncs");
        assert_eq!(hooks.queue.sent().len(), queued);
        // Every push is covered: each one is followed by a message that becomes visible after it.
        let coalesced = outcomes
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    Received::Ignored {
                        reason: "coalesced",
                        ..
                    }
                )
            })
            .count();
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
            assert_eq!(
                refused,
                Err(HookError::Unauthorized),
                "{connection} {token:?}"
            );
        }
        assert!(hooks.queue.sent().is_empty());
        assert!(hooks.leases.project(&acme(), 15).unwrap().lease.is_none());
        // A bad body with a bad token is still only unauthorised: nothing is read before the token matched.
        let refused = hooks
            .receive_at(
                Delivery {
                    connection: "acme",
                    token: Some(b"nope"),
                    body: &vec![b'x'; super::super::push::MAX_BODY_BYTES + 1],
                },
                NOW,
            )
            .await;
        assert_eq!(refused, Err(HookError::Unauthorized));
    }

    #[tokio::test]
    async fn events_the_schedule_does_not_sync_are_answered_and_ignored() {
        let hooks = hooks(ProjectStatus::Excluded).await;
        let cases = [
            (push(15, "refs/heads/feature"), "not_default_branch"),
            (push(15, "refs/tags/main"), "not_default_branch"),
            (json!({"object_kind": "tag_push"}), "not_a_push"),
            (
                json!({"object_kind": "merge_request", "project": 3}),
                "not_a_push",
            ),
            (push(99, "refs/heads/main"), "unknown_project"),
            (push(16, "refs/heads/main"), "not_synced"),
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
            assert!(
                hooks
                    .leases
                    .project(&acme(), project)
                    .unwrap()
                    .lease
                    .is_none()
            );
        }
    }

    #[tokio::test]
    async fn malformed_and_oversized_bodies_are_the_callers_fault() {
        let hooks = hooks(ProjectStatus::Active).await;
        let mut broken = push(15, "refs/heads/main");
        broken["after"] = json!("not a sha");
        let refused = deliver(&hooks, "acme", Some(SECRET), &broken, NOW).await;
        assert!(
            matches!(refused, Err(HookError::Malformed(_))),
            "{refused:?}"
        );
        let big =
            json!({"object_kind": "push", "pad": "x".repeat(super::super::push::MAX_BODY_BYTES)});
        let refused = deliver(&hooks, "acme", Some(SECRET), &big, NOW).await;
        assert_eq!(refused, Err(HookError::TooLarge));
        let refused = hooks
            .receive_at(
                Delivery {
                    connection: "acme",
                    token: Some(SECRET.as_bytes()),
                    body: b"{\"object_kind\":",
                },
                NOW,
            )
            .await;
        assert!(matches!(refused, Err(HookError::Malformed(_))));
        for error in [
            HookError::TooLarge,
            HookError::Malformed(String::new()),
            HookError::Unauthorized,
        ] {
            assert!((400..500).contains(&error.status()), "{error:?}");
        }
        assert!(hooks.queue.sent().is_empty());
    }

    #[tokio::test]
    async fn a_message_that_cannot_be_sent_gives_its_lease_back() {
        let hooks = hooks(ProjectStatus::Active).await;
        hooks.queue.fail_calls(1);
        let failed = deliver(
            &hooks,
            "acme",
            Some(SECRET),
            &push(15, "refs/heads/main"),
            NOW,
        )
        .await;
        assert!(
            matches!(failed, Err(HookError::Unavailable(_))),
            "{failed:?}"
        );
        assert_eq!(failed.unwrap_err().status(), 503);
        assert!(hooks.leases.project(&acme(), 15).unwrap().lease.is_none());
        // GitLab's retry a second later takes the lease again and is sent.
        let retried = deliver(
            &hooks,
            "acme",
            Some(SECRET),
            &push(15, "refs/heads/main"),
            NOW + time::Duration::seconds(1),
        )
        .await;
        assert_eq!(retried, Ok(Received::Queued { project_id: 15 }));
    }

    #[tokio::test]
    async fn the_hook_secret_is_read_once_a_minute_and_a_vault_failure_is_ours() {
        let hooks = self::hooks(ProjectStatus::Active).await;
        // globex exists but has no hook secret (yet).
        hooks
            .leases
            .add_connection(&ConnectionId::parse("globex").unwrap(), None);
        for _ in 0..5 {
            deliver(
                &hooks,
                "acme",
                Some(SECRET),
                &json!({"object_kind": "note"}),
                NOW,
            )
            .await
            .unwrap();
            let _ = deliver(
                &hooks,
                "globex",
                Some(SECRET),
                &push(1, "refs/heads/main"),
                NOW,
            )
            .await;
        }
        // One read for acme, one for globex (which has none: remembered too).
        assert_eq!(hooks.vault.reads.load(Ordering::SeqCst), 2);

        let down = self::hooks(ProjectStatus::Active).await;
        *down.vault.fail_next.lock().unwrap() = vec!["read"];
        let failed = deliver(
            &down,
            "acme",
            Some(SECRET),
            &push(15, "refs/heads/main"),
            NOW,
        )
        .await;
        assert!(
            matches!(failed, Err(HookError::Unavailable(_))),
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
        let note = json!({"object_kind": "note"});
        deliver(&hooks, "acme", Some(SECRET), &note, NOW)
            .await
            .unwrap();
        assert_eq!(hooks.vault.reads.load(Ordering::SeqCst), 1);
        // when 1,000 deliveries name random connections that do not exist
        for n in 0..1000 {
            let (connection, token) = bogus_delivery(n);
            let refused = deliver(
                &hooks,
                &connection,
                Some(&token),
                &push(15, "refs/heads/main"),
                NOW,
            )
            .await;
            assert_eq!(refused, Err(HookError::Unauthorized));
        }
        // then not one reached the vault, none took a place in the cache, and acme's secret is still remembered
        assert_eq!(hooks.vault.reads.load(Ordering::SeqCst), 1);
        assert_eq!(hooks.secrets.len(), 1);
        deliver(&hooks, "acme", Some(SECRET), &note, NOW)
            .await
            .unwrap();
        assert_eq!(hooks.vault.reads.load(Ordering::SeqCst), 1);
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
        let note = json!({"object_kind": "note"});
        let secret_of = |name: &str| {
            if name == "acme" {
                SECRET.to_owned()
            } else {
                format!("{name}-secret")
            }
        };
        let reads = || hooks.vault.reads.load(Ordering::SeqCst);
        // when acme, globex and initech deliver, acme again, then umbrella
        for name in ["acme", "globex", "initech", "acme", "umbrella"] {
            deliver(&hooks, name, Some(&secret_of(name)), &note, NOW)
                .await
                .unwrap();
        }
        assert_eq!(reads(), 4);
        // then only globex, the least recently used, was let go: the others are served without a read
        for name in ["acme", "initech", "umbrella"] {
            deliver(&hooks, name, Some(&secret_of(name)), &note, NOW)
                .await
                .unwrap();
        }
        assert_eq!(reads(), 4);
        deliver(&hooks, "globex", Some(&secret_of("globex")), &note, NOW)
            .await
            .unwrap();
        assert_eq!(reads(), 5);
    }
}
