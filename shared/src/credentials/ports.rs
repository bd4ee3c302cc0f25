//! The two ports the credentials domain needs, as small `Send + Sync` traits. The AWS adapters live in
//! `crate::aws`; unit tests use in-memory fakes.

use std::future::Future;

use super::model::{ConnectionId, CredentialId, CredentialRecord, CredentialStatus};
use crate::secret::SecretString;

/// A failure of our own storage (never the caller's fault). `detail` is for logs only, never for replies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the item changed (or appeared) since it was read.
    #[error("the stored item changed concurrently")]
    Conflict,
    #[error("{operation} failed: {detail}")]
    Unavailable {
        operation: &'static str,
        detail: String,
    },
}

/// A failure of the secret vault. `detail` is for logs only and never holds a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("secret {name} does not exist")]
    NotFound { name: String },
    #[error("secret {name} already exists")]
    AlreadyExists { name: String },
    #[error("{operation} failed: {detail}")]
    Unavailable {
        operation: &'static str,
        detail: String,
    },
}

/// Credential metadata and the connections they belong to.
pub trait CredentialStore: Send + Sync {
    /// Records that the connection exists (idempotent; keeps the first `created_at`).
    fn ensure_connection(
        &self,
        connection: &ConnectionId,
        created_at: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn connection_exists(
        &self,
        connection: &ConnectionId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Writes a new credential; [`StoreError::Conflict`] if one with this id exists.
    fn insert(
        &self,
        record: &CredentialRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces a credential if its stored `version` is still `expected_version`, else [`StoreError::Conflict`].
    fn replace(
        &self,
        record: &CredentialRecord,
        expected_version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
    ) -> impl Future<Output = Result<Option<CredentialRecord>, StoreError>> + Send;

    /// Every credential of a connection (all pages), deleted ones included.
    fn list(
        &self,
        connection: &ConnectionId,
    ) -> impl Future<Output = Result<Vec<CredentialRecord>, StoreError>> + Send;
}

/// What the sync side records on a credential when GitLab refuses its token: its syncs stop until the
/// credential is updated (the update re-verifies it and sets `active` again).
pub trait CredentialStatusStore: Send + Sync {
    fn mark_status(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
        status: CredentialStatus,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Where tokens live: one secret per credential.
pub trait SecretVault: Send + Sync {
    /// Creates a secret named `name` holding `value`, tagged with `tags`.
    fn create(
        &self,
        name: &str,
        value: &SecretString,
        tags: &[(&str, &str)],
    ) -> impl Future<Output = Result<(), VaultError>> + Send;

    fn read(&self, name: &str) -> impl Future<Output = Result<SecretString, VaultError>> + Send;

    /// Replaces the secret's value (a new version).
    fn replace(
        &self,
        name: &str,
        value: &SecretString,
    ) -> impl Future<Output = Result<(), VaultError>> + Send;

    /// Deletes after a recovery window; a secret already scheduled for deletion is not an error.
    fn schedule_deletion(
        &self,
        name: &str,
        recovery_days: i64,
    ) -> impl Future<Output = Result<(), VaultError>> + Send;

    /// Deletes at once without recovery: the undo of a [`SecretVault::create`] whose record could not be written.
    fn delete_now(&self, name: &str) -> impl Future<Output = Result<(), VaultError>> + Send;
}
