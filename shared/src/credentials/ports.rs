//! The two ports the credentials domain needs, as small `Send + Sync` traits. The AWS adapters live in
//! `crate::aws`; unit tests use in-memory fakes.

use std::future::Future;

use super::model::{
    ConnectionId, CredentialId, CredentialRecord, CredentialStatus, DiscoverySummary, SyncTally,
};
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
    /// The secret exists but is scheduled for deletion: nothing can be read from or added to it until restored.
    #[error("secret {name} is scheduled for deletion")]
    ScheduledForDeletion { name: String },
    #[error("{operation} failed: {detail}")]
    Unavailable {
        operation: &'static str,
        detail: String,
    },
}

/// Credential metadata and the connections they belong to.
pub trait CredentialStore: Send + Sync {
    /// Records that the connection exists and imports from the GitLab instance `base_url` (idempotent; keeps the
    /// first `created_at`). A connection is one instance for its whole life, because its project ids, state items
    /// and commit partitions are GitLab's project ids, which repeat across instances: `Ok(Some(bound))` when it is
    /// already bound to another instance (nothing is written), decided by one conditional write so two creates
    /// racing for two instances cannot both win.
    fn bind_connection(
        &self,
        connection: &ConnectionId,
        base_url: &str,
        created_at: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

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

/// What the sync side records on a credential: a refusal of its token (its syncs stop until the credential is
/// updated, which re-verifies it and sets `active` again), and the sync summary `info` and `list` show.
pub trait CredentialStatusStore: Send + Sync {
    /// Marks the credential with `status`, only if it is still the `version` whose token GitLab refused and is
    /// not deleted: `Ok(false)` (nothing written) when it changed since, e.g. a rotation to a new token. The
    /// mark leaves `version` as it is, so an update racing with it still wins by its own conditional write.
    fn mark_status(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
        version: u64,
        status: CredentialStatus,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The scheduler's figures of one tick (one write per credential and tick).
    fn record_discovery(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
        summary: &DiscoverySummary,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The worker's figures of one batch (one atomic write per credential and batch).
    fn record_syncs(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
        tally: &SyncTally,
        at: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Where tokens live: one secret per credential, one version of it per token the credential held. The record names
/// its token's version (`secret_version_id`) and readers fetch that version, so record and token agree whichever
/// of two concurrent updates wins; the current-version stage only follows the record.
pub trait SecretVault: Send + Sync {
    /// Creates a secret named `name`, tagged with `tags`, whose first version `version_id` holds `value` (and is
    /// current). Retrying with the same `version_id` and value is harmless.
    fn create(
        &self,
        name: &str,
        value: &SecretString,
        version_id: &str,
        tags: &[(&str, &str)],
    ) -> impl Future<Output = Result<(), VaultError>> + Send;

    /// The value of version `version_id`, or of the current version when `None` (records stored before versions
    /// were recorded).
    fn read(
        &self,
        name: &str,
        version_id: Option<&str>,
    ) -> impl Future<Output = Result<SecretString, VaultError>> + Send;

    /// Adds `value` as version `version_id`, staged as pending: the current version stays as it is.
    fn stage(
        &self,
        name: &str,
        value: &SecretString,
        version_id: &str,
    ) -> impl Future<Output = Result<(), VaultError>> + Send;

    /// Makes version `version_id` the current one (nothing to do if it is).
    fn promote(
        &self,
        name: &str,
        version_id: &str,
    ) -> impl Future<Output = Result<(), VaultError>> + Send;

    /// Cancels the scheduled deletion of a secret.
    fn restore(&self, name: &str) -> impl Future<Output = Result<(), VaultError>> + Send;

    /// Deletes after a recovery window; a secret already scheduled for deletion is not an error.
    fn schedule_deletion(
        &self,
        name: &str,
        recovery_days: i64,
    ) -> impl Future<Output = Result<(), VaultError>> + Send;

    /// Deletes at once without recovery: the undo of a [`SecretVault::create`] whose credential was not created.
    fn delete_now(&self, name: &str) -> impl Future<Output = Result<(), VaultError>> + Send;
}
