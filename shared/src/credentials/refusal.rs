//! What GitLab refusing a stored credential's token means: one rule for the scheduler and the sync worker. A
//! mark stops the credential's syncs until a person updates it, so it is written only when the refusal is certain
//! and is about the token the credential still holds:
//! - a 403 `insufficient_scope` is GitLab's own word on the token: `invalid_permissions`;
//! - a 401 is confirmed with `personal_access_tokens/self` and the same token: only a second 401, or an answer
//!   saying revoked, expired or inactive, marks `invalid_credentials`. A token GitLab calls active, or anything
//!   that is not a clear refusal (5xx, 429, a timeout, a connection failure, another 4xx), marks nothing: the sync
//!   is a passing failure, so a 401 during a GitLab incident never disables a credential;
//! - the mark is conditional on the credential version whose token was used
//!   ([`CredentialStatusStore::mark_status`]), so a rotation during the sync is never marked invalid.

use std::future::Future;

use time::OffsetDateTime;

use super::model::{CredentialRecord, CredentialStatus};
use super::ports::CredentialStatusStore;
use super::verify::unusable;
use crate::gitlab::{GitLabClient, GitLabError, TokenInfo};
use crate::kernel::store::StoreError;

/// What came of a GitLab error for the credential whose token the request carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The token is refused for good: the credential is marked with this status.
    Marked(CredentialStatus),
    /// The token is refused, but the credential changed since it was read (updated, rotated, deleted): nothing is
    /// marked, and the next attempt uses what the credential holds now.
    Changed(CredentialStatus),
    /// A 401 that `personal_access_tokens/self` did not confirm: nothing is marked. `detail` (for logs) says why.
    Unconfirmed { detail: String },
    /// Not about the token (a project's refusal, GitLab down, ...).
    NotTheToken,
}

/// Asks GitLab about the token a client carries: the GitLab client itself, a fake in unit tests.
pub trait TokenCheck: Send + Sync {
    fn token_self(&self) -> impl Future<Output = Result<TokenInfo, GitLabError>> + Send;
}

impl TokenCheck for GitLabClient {
    async fn token_self(&self) -> Result<TokenInfo, GitLabError> {
        GitLabClient::token_self(self).await
    }
}

/// Decides what `error`, met with the token of `record` (the version the caller read), means for the credential,
/// and marks it when the refusal is confirmed. `token` must carry that same token. Errors are only the store's.
pub async fn settle<S, T>(
    store: &S,
    record: &CredentialRecord,
    error: &GitLabError,
    token: &T,
) -> Result<Refusal, StoreError>
where
    S: CredentialStatusStore,
    T: TokenCheck,
{
    let status = match error {
        GitLabError::InsufficientScope { .. } => CredentialStatus::InvalidPermissions,
        GitLabError::Unauthorized { .. } => {
            let today = OffsetDateTime::now_utc().date();
            if let Err(detail) = confirm(token.token_self().await, today) {
                tracing::warn!(
                    detail = %detail,
                    "GitLab answered 401, but the token is not confirmed refused; the credential is not marked"
                );
                return Ok(Refusal::Unconfirmed { detail });
            }
            CredentialStatus::InvalidCredentials
        }
        _ => return Ok(Refusal::NotTheToken),
    };
    let marked = store
        .mark_status(
            &record.connection_id,
            &record.credential_id,
            record.version,
            status,
        )
        .await?;
    if marked {
        tracing::warn!(
            code = error.code(),
            "GitLab refused the token; its syncs stop until it is updated"
        );
        Ok(Refusal::Marked(status))
    } else {
        tracing::info!(
            code = error.code(),
            version = record.version,
            "GitLab refused a token the credential no longer holds (it changed meanwhile); not marked"
        );
        Ok(Refusal::Changed(status))
    }
}

/// Whether `personal_access_tokens/self`'s answer confirms a 401: `Err` with why not.
fn confirm(answer: Result<TokenInfo, GitLabError>, today: time::Date) -> Result<(), String> {
    match answer {
        Err(GitLabError::Unauthorized { .. }) => Ok(()),
        Ok(info) => match unusable(&info, today) {
            Some(_) => Ok(()),
            None => Err("personal_access_tokens/self says the token is active".into()),
        },
        Err(other) => Err(format!(
            "personal_access_tokens/self gave no clear answer: {other}"
        )),
    }
}

#[cfg(test)]
mod tests {
    //! The rule against fakes: given GitLab's error and its answer about the token, when it is settled, then the
    //! credential is marked (or not) as the rule says.

    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::credentials::model::{DiscoverySummary, StoredSettings, SyncTally};
    use crate::kernel::ids::{ConnectionId, CredentialId};

    /// One credential's stored status and version, with `mark_status`'s condition.
    struct FakeStore {
        version: u64,
        deleted: bool,
        marks: Mutex<Vec<CredentialStatus>>,
    }

    impl FakeStore {
        fn at(version: u64) -> Self {
            FakeStore {
                version,
                deleted: false,
                marks: Mutex::new(Vec::new()),
            }
        }

        fn marks(&self) -> Vec<CredentialStatus> {
            self.marks.lock().unwrap().clone()
        }
    }

    impl CredentialStatusStore for FakeStore {
        async fn mark_status(
            &self,
            _connection: &ConnectionId,
            _id: &CredentialId,
            version: u64,
            status: CredentialStatus,
        ) -> Result<bool, StoreError> {
            if version != self.version || self.deleted {
                return Ok(false);
            }
            self.marks.lock().unwrap().push(status);
            Ok(true)
        }
        async fn record_discovery(
            &self,
            _connection: &ConnectionId,
            _id: &CredentialId,
            _summary: &DiscoverySummary,
        ) -> Result<(), StoreError> {
            unreachable!("not part of the rule")
        }
        async fn record_syncs(
            &self,
            _connection: &ConnectionId,
            _id: &CredentialId,
            _tally: &SyncTally,
            _at: &str,
        ) -> Result<(), StoreError> {
            unreachable!("not part of the rule")
        }
    }

    /// GitLab's answer to `personal_access_tokens/self`, and how often it was asked.
    struct FakeToken {
        answer: Result<TokenInfo, GitLabError>,
        asked: Mutex<u32>,
    }

    impl FakeToken {
        fn answering(answer: Result<TokenInfo, GitLabError>) -> Self {
            FakeToken {
                answer,
                asked: Mutex::new(0),
            }
        }

        fn asked(&self) -> u32 {
            *self.asked.lock().unwrap()
        }
    }

    impl TokenCheck for FakeToken {
        async fn token_self(&self) -> Result<TokenInfo, GitLabError> {
            *self.asked.lock().unwrap() += 1;
            self.answer.clone()
        }
    }

    fn info(active: bool, revoked: bool, expires_at: Option<&str>) -> TokenInfo {
        TokenInfo {
            id: 1,
            name: "importer".into(),
            revoked,
            active,
            scopes: vec!["read_api".into()],
            user_id: Some(2),
            expires_at: expires_at.map(str::to_owned),
        }
    }

    fn record(version: u64) -> CredentialRecord {
        CredentialRecord {
            connection_id: ConnectionId::parse("c1").unwrap(),
            credential_id: CredentialId::parse("k1").unwrap(),
            kind: "gitlab".into(),
            label: None,
            settings: StoredSettings {
                base_url: crate::kernel::instance::InstanceUrl::parse(
                    "https://gitlab.example.com/",
                )
                .unwrap(),
                ca_bundle: None,
                requests_per_minute: None,
                include: Vec::new(),
                exclude: Vec::new(),
            },
            secret_name: "p/c1/k1".into(),
            secret_version_id: None,
            token_fingerprint: "f".into(),
            status: CredentialStatus::Active,
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            disabled_at: None,
            deleted_at: None,
            expiration_date: None,
            token_expires_at: None,
            last_verified_at: None,
            scopes: None,
            last_sync: None,
            version,
        }
    }

    fn unauthorized() -> GitLabError {
        GitLabError::Unauthorized {
            message: "401 Unauthorized".into(),
        }
    }

    async fn settled(
        store: &FakeStore,
        version: u64,
        error: GitLabError,
        token: &FakeToken,
    ) -> Refusal {
        settle(store, &record(version), &error, token)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_401_is_marked_only_when_gitlab_confirms_the_token_is_refused() {
        let confirmed = [
            Err(unauthorized()),
            Ok(info(false, true, None)),
            Ok(info(true, false, Some("2000-01-01"))),
            Ok(info(false, false, None)),
        ];
        for answer in confirmed {
            let store = FakeStore::at(3);
            let token = FakeToken::answering(answer.clone());
            assert_eq!(
                settled(&store, 3, unauthorized(), &token).await,
                Refusal::Marked(CredentialStatus::InvalidCredentials),
                "{answer:?}"
            );
            assert_eq!(store.marks(), [CredentialStatus::InvalidCredentials]);
            assert_eq!(token.asked(), 1);
        }
    }

    #[tokio::test]
    async fn a_401_that_gitlab_does_not_confirm_marks_nothing() {
        let unclear = [
            Ok(info(true, false, None)),
            Ok(info(true, false, Some("2999-12-31"))),
            Err(GitLabError::Transient {
                detail: "503".into(),
                status: Some(503),
            }),
            Err(GitLabError::TimedOut {
                detail: "no answer".into(),
            }),
            Err(GitLabError::RateLimited {
                retry_after: Duration::from_secs(60),
            }),
            Err(GitLabError::Connection {
                detail: "reset".into(),
            }),
            Err(GitLabError::InvalidResponse {
                detail: "HTML".into(),
            }),
            Err(GitLabError::Forbidden {
                message: "403".into(),
            }),
            Err(GitLabError::Rejected {
                status: 400,
                message: "400".into(),
            }),
        ];
        for answer in unclear {
            let store = FakeStore::at(3);
            let token = FakeToken::answering(answer.clone());
            let refusal = settled(&store, 3, unauthorized(), &token).await;
            assert!(
                matches!(refusal, Refusal::Unconfirmed { .. }),
                "{answer:?}: {refusal:?}"
            );
            assert!(store.marks().is_empty(), "{answer:?}");
        }
    }

    #[tokio::test]
    async fn a_missing_scope_is_marked_without_asking_and_other_errors_are_not_the_tokens() {
        let store = FakeStore::at(1);
        let token = FakeToken::answering(Err(unauthorized()));
        let scope = GitLabError::InsufficientScope {
            required: "read_api".into(),
        };
        assert_eq!(
            settled(&store, 1, scope, &token).await,
            Refusal::Marked(CredentialStatus::InvalidPermissions)
        );
        for other in [
            GitLabError::Forbidden {
                message: "403".into(),
            },
            GitLabError::NotFound {
                message: "404 Project Not Found".into(),
            },
            GitLabError::Transient {
                detail: "502".into(),
                status: Some(502),
            },
        ] {
            assert_eq!(
                settled(&store, 1, other, &token).await,
                Refusal::NotTheToken
            );
        }
        assert_eq!(store.marks(), [CredentialStatus::InvalidPermissions]);
        assert_eq!(token.asked(), 0);
    }

    #[tokio::test]
    async fn a_refusal_of_a_version_the_credential_no_longer_has_marks_nothing() {
        // The sync read version 3; the credential was rotated (version 4) before GitLab refused the old token.
        let rotated = FakeStore::at(4);
        let token = FakeToken::answering(Err(unauthorized()));
        assert_eq!(
            settled(&rotated, 3, unauthorized(), &token).await,
            Refusal::Changed(CredentialStatus::InvalidCredentials)
        );
        let deleted = FakeStore {
            deleted: true,
            ..FakeStore::at(3)
        };
        assert_eq!(
            settled(&deleted, 3, unauthorized(), &token).await,
            Refusal::Changed(CredentialStatus::InvalidCredentials)
        );
        assert!(rotated.marks().is_empty() && deleted.marks().is_empty());
    }
}
