//! The ports the credentials domain needs, as small `Send + Sync` traits (the secret vault is the kernel's). The AWS adapters live in
//! `crate::aws`; unit tests use in-memory fakes.

use std::future::Future;

use super::model::{CredentialRecord, CredentialStatus, DiscoverySummary, SyncTally};
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::instance::InstanceUrl;
use crate::kernel::store::StoreError;
// The vault is the kernel's (the GitLab connector reads it too); named here as the credentials room's port.

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
        base_url: &InstanceUrl,
        created_at: &str,
    ) -> impl Future<Output = Result<Option<InstanceUrl>, StoreError>> + Send;

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
