//! The credentials use cases: create, update, info, list, delete, and the connection's push hook secret.
//! Verification comes first; a failed verification stores nothing; a secret never exists without its record, and
//! a record names the version of the secret that holds its token (see `create` and `update` for the order of the
//! steps). The push hook secret lives as long as the connection has a credential that is not deleted.

use time::OffsetDateTime;

use super::model::{
    CREDENTIAL_TYPE, CredentialRecord, CredentialStatus, ExpirationDate, StoredSettings,
    new_secret_version_id,
};
use super::ports::CredentialStore;
use super::verify::{Verifier, VerifyError, warn_of_excess_scopes};
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::instance::InstanceUrl;
use crate::kernel::store::StoreError;
use crate::kernel::time::timestamp;
use crate::kernel::vault::{SecretVault, VaultError};
use crate::secret::SecretString;

mod hook_secret;
#[cfg(test)]
mod tests;

/// Days a deleted credential's secret can still be recovered.
pub const SECRET_RECOVERY_DAYS: i64 = 7;

/// Rounds of following the record with the secret's current stage (see `make_current`).
const MAKE_CURRENT_ROUNDS: usize = 3;

/// The tags of a credential's secret: what it belongs to, to find it from the secret's side.
fn secret_tags(record: &CredentialRecord) -> [(&str, &str); 2] {
    [
        ("connection_id", record.connection_id.as_str()),
        ("credential_id", record.credential_id.as_str()),
    ]
}

/// The next version of `record`, deleted now.
fn marked_deleted(record: &CredentialRecord) -> CredentialRecord {
    let now = timestamp(OffsetDateTime::now_utc());
    CredentialRecord {
        deleted_at: Some(now.clone()),
        updated_at: now,
        version: record.version + 1,
        ..record.clone()
    }
}

/// What `credentials.create` takes, already checked for shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateInput {
    pub label: Option<String>,
    pub base_url: Option<InstanceUrl>,
    pub ca_bundle: Option<String>,
    pub requests_per_minute: Option<u32>,
    /// Path patterns of the projects to import (empty: all) and to leave out; checked by the request parser.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub api_token: SecretString,
    pub expiration_date: Option<ExpirationDate>,
}

/// A field an update may set, clear (`null`) or leave alone (omitted).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T: Clone> Patch<T> {
    fn apply(&self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(value) => Some(value.clone()),
        }
    }
}

/// What `credentials.update` takes: everything but `id` optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateInput {
    pub id: CredentialId,
    pub label: Patch<String>,
    pub base_url: Option<InstanceUrl>,
    pub ca_bundle: Patch<String>,
    pub requests_per_minute: Patch<u32>,
    pub include: Patch<Vec<String>>,
    pub exclude: Patch<Vec<String>>,
    /// `None`: keep the stored token.
    pub api_token: Option<SecretString>,
    pub expiration_date: Patch<ExpirationDate>,
}

/// Why a use case failed: the caller's fault (verification, unknown ids, a lost race) or ours (storage).
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(transparent)]
    Verification(#[from] VerifyError),
    #[error("connection not found")]
    ConnectionNotFound,
    #[error("credential not found")]
    CredentialNotFound,
    #[error("credential is deleted")]
    CredentialDeleted,
    #[error("credential changed concurrently")]
    Conflict,
    /// The credential's token is gone from the vault (deleted or scheduled for deletion out of band, or a create
    /// that stopped half way): only an update that brings a token can repair it.
    #[error("the credential's stored token is missing")]
    SecretMissing,
    /// The connection imports from another GitLab instance (`bound`); one connection is one instance.
    #[error("the connection is bound to the GitLab instance {bound}")]
    OtherInstance { bound: InstanceUrl },
    #[error("credential store: {0}")]
    Store(StoreError),
    #[error("secret vault: {0}")]
    Vault(#[from] VaultError),
    /// The operating system gave no randomness for a new push hook secret.
    #[error("no randomness for a new secret: {0}")]
    Randomness(getrandom::Error),
}

impl From<StoreError> for CredentialsError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => CredentialsError::Conflict,
            other => CredentialsError::Store(other),
        }
    }
}

/// The use cases over their three ports.
#[derive(Debug)]
pub struct Credentials<S, V, G> {
    pub store: S,
    pub vault: V,
    pub verifier: G,
    /// Secrets Manager name prefix (ends with `/`).
    pub secret_name_prefix: String,
    /// The GitLab used when create names no `base_url`.
    pub default_base_url: InstanceUrl,
}

impl<S: CredentialStore, V: SecretVault, G: Verifier> Credentials<S, V, G> {
    pub fn secret_name(&self, connection: &ConnectionId, id: &CredentialId) -> String {
        format!("{}{connection}/{id}", self.secret_name_prefix)
    }

    /// Verifies, then stores the metadata and the token, in an order where every stop (an error or a crash
    /// between two steps) leaves something a caller can see and fix, so no orphan sweep is needed:
    /// 1. the record, `provisioning` (never synced: only `active` credentials are), naming the secret version
    ///    about to be written;
    /// 2. the secret, whose first version has that id;
    /// 3. the record, `active`.
    ///
    /// A secret therefore never exists without its record. When step 2 or 3 fails, the record is marked deleted
    /// and then the secret is deleted (see `undo_create`); if the process dies instead, a `provisioning`
    /// credential remains, which `list` shows: an update completes it (with the stored token, or a new one that
    /// recreates the secret) and a delete removes it.
    pub async fn create(
        &self,
        connection: &ConnectionId,
        input: CreateInput,
    ) -> Result<CredentialRecord, CredentialsError> {
        let settings = StoredSettings {
            base_url: input
                .base_url
                .unwrap_or_else(|| self.default_base_url.clone()),
            ca_bundle: input.ca_bundle,
            requests_per_minute: input.requests_per_minute,
            include: input.include,
            exclude: input.exclude,
        };
        let verified = self.verifier.verify(&settings, &input.api_token).await?;
        let settings = StoredSettings {
            base_url: verified.base_url,
            ..settings
        };

        let now = timestamp(OffsetDateTime::now_utc());
        let id = CredentialId::generate();
        let secret_name = self.secret_name(connection, &id);
        let version_id = new_secret_version_id();
        self.bind(connection, &settings.base_url, &now).await?;
        let provisioning = CredentialRecord {
            connection_id: connection.clone(),
            credential_id: id,
            kind: CREDENTIAL_TYPE.to_owned(),
            label: input.label,
            settings,
            secret_name,
            secret_version_id: Some(version_id.clone()),
            token_fingerprint: input.api_token.fingerprint(),
            status: CredentialStatus::Provisioning,
            created_at: now.clone(),
            updated_at: now.clone(),
            disabled_at: None,
            deleted_at: None,
            expiration_date: input.expiration_date,
            token_expires_at: verified.token_expires_at,
            last_verified_at: Some(now),
            scopes: Some(verified.scopes),
            last_sync: None,
            version: 1,
        };
        if let Err(error) = self.store.insert(&provisioning).await
            && !self.landed(&provisioning).await
        {
            return Err(error.into());
        }

        let active = CredentialRecord {
            status: CredentialStatus::Active,
            version: 2,
            ..provisioning.clone()
        };
        if let Err(error) = self
            .vault
            .create(
                &active.secret_name,
                &input.api_token,
                &version_id,
                &secret_tags(&active),
            )
            .await
        {
            self.undo_create(&provisioning).await;
            return Err(error.into());
        }
        if let Err(error) = self.store.replace(&active, provisioning.version).await
            && !self.landed(&active).await
        {
            self.undo_create(&provisioning).await;
            return Err(error.into());
        }
        warn_of_excess_scopes(&active);
        Ok(active)
    }

    /// Re-verifies with the resulting settings and token; on any failure the stored credential is unchanged.
    ///
    /// A new token becomes a new version of the secret, staged beside the current one; the conditional write of
    /// the record names it; only the winner of that write then makes it the secret's current version. The loser
    /// changes nothing readers see (they fetch the version the record names), so record and token agree whoever
    /// wins, and a crash between the steps leaves the record naming a version that exists. A secret that is gone
    /// or scheduled for deletion is recreated or restored by an update that brings a token; an update without
    /// one is refused with [`CredentialsError::SecretMissing`].
    pub async fn update(
        &self,
        connection: &ConnectionId,
        input: UpdateInput,
    ) -> Result<CredentialRecord, CredentialsError> {
        let current = self.existing(connection, &input.id).await?;
        if current.deleted_at.is_some() {
            return Err(CredentialsError::CredentialDeleted);
        }
        let token = match &input.api_token {
            Some(token) => token.clone(),
            None => self.stored_token(&current).await?,
        };
        let settings = StoredSettings {
            base_url: input
                .base_url
                .clone()
                .unwrap_or_else(|| current.settings.base_url.clone()),
            ca_bundle: input.ca_bundle.apply(current.settings.ca_bundle.clone()),
            requests_per_minute: input
                .requests_per_minute
                .apply(current.settings.requests_per_minute),
            include: input
                .include
                .apply(Some(current.settings.include.clone()))
                .unwrap_or_default(),
            exclude: input
                .exclude
                .apply(Some(current.settings.exclude.clone()))
                .unwrap_or_default(),
        };
        let verified = self.verifier.verify(&settings, &token).await?;

        let now = timestamp(OffsetDateTime::now_utc());
        self.bind(connection, &verified.base_url, &now).await?;
        let secret_version_id = match input.api_token {
            Some(_) => Some(new_secret_version_id()),
            None => current.secret_version_id.clone(),
        };
        let updated = CredentialRecord {
            label: input.label.apply(current.label.clone()),
            settings: StoredSettings {
                base_url: verified.base_url,
                ..settings
            },
            secret_version_id,
            token_fingerprint: token.fingerprint(),
            status: CredentialStatus::Active,
            updated_at: now.clone(),
            expiration_date: input.expiration_date.apply(current.expiration_date),
            token_expires_at: verified.token_expires_at,
            last_verified_at: Some(now),
            scopes: Some(verified.scopes),
            version: current.version + 1,
            ..current.clone()
        };
        if let (Some(_), Some(version_id)) = (&input.api_token, &updated.secret_version_id) {
            self.stage(&updated, &token, version_id).await?;
        }
        if let Err(error) = self.store.replace(&updated, current.version).await
            && !self.landed(&updated).await
        {
            // A staged version the record does not name is never read; nothing to undo, unless a delete won the
            // race while this update restored or recreated the secret: a deleted credential's secret goes again.
            if input.api_token.is_some() {
                self.settle_deleted_secret(&updated).await;
            }
            return Err(error.into());
        }
        self.make_current(updated.clone()).await;
        warn_of_excess_scopes(&updated);
        Ok(updated)
    }

    /// A credential, deleted or not.
    pub async fn info(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
    ) -> Result<CredentialRecord, CredentialsError> {
        self.existing(connection, id).await
    }

    /// The connection's credentials, oldest first; deleted ones only when asked for.
    pub async fn list(
        &self,
        connection: &ConnectionId,
        include_deleted: bool,
    ) -> Result<Vec<CredentialRecord>, CredentialsError> {
        if !self.store.connection_exists(connection).await? {
            return Err(CredentialsError::ConnectionNotFound);
        }
        let mut records = self.store.list(connection).await?;
        records.retain(|r| include_deleted || r.deleted_at.is_none());
        records.sort_by(|a, b| {
            (&a.created_at, &a.credential_id).cmp(&(&b.created_at, &b.credential_id))
        });
        Ok(records)
    }

    /// Soft delete: `deleted_at` is set (no further syncs), then the secret is scheduled for deletion, and the
    /// connection's push hook secret too when no credential is left. Deleting again is harmless and schedules the
    /// deletions again, so a retry completes an interrupted delete.
    pub async fn delete(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
    ) -> Result<CredentialRecord, CredentialsError> {
        let current = self.existing(connection, id).await?;
        let record = if current.deleted_at.is_some() {
            current
        } else {
            let deleted = marked_deleted(&current);
            self.store.replace(&deleted, current.version).await?;
            deleted
        };
        match self
            .vault
            .schedule_deletion(&record.secret_name, SECRET_RECOVERY_DAYS)
            .await
        {
            Ok(()) | Err(VaultError::NotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        self.retire_hook_secret(connection).await?;
        Ok(record)
    }

    /// Binds the connection to the instance, or refuses another one.
    async fn bind(
        &self,
        connection: &ConnectionId,
        base_url: &InstanceUrl,
        now: &str,
    ) -> Result<(), CredentialsError> {
        match self
            .store
            .bind_connection(connection, base_url, now)
            .await?
        {
            None => Ok(()),
            Some(bound) => Err(CredentialsError::OtherInstance { bound }),
        }
    }

    /// The token the record names: its version of the secret.
    async fn stored_token(
        &self,
        record: &CredentialRecord,
    ) -> Result<SecretString, CredentialsError> {
        match self
            .vault
            .read(&record.secret_name, record.secret_version_id.as_deref())
            .await
        {
            Ok(token) => Ok(token),
            Err(VaultError::NotFound { .. } | VaultError::ScheduledForDeletion { .. }) => {
                Err(CredentialsError::SecretMissing)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Adds `token` as version `version_id` of the record's secret, beside the current version; a secret that is
    /// gone is created again (with this version as its first), one scheduled for deletion is restored first.
    async fn stage(
        &self,
        record: &CredentialRecord,
        token: &SecretString,
        version_id: &str,
    ) -> Result<(), VaultError> {
        let name = &record.secret_name;
        match self.vault.stage(name, token, version_id).await {
            Err(VaultError::NotFound { .. }) => {
                match self
                    .vault
                    .create(name, token, version_id, &secret_tags(record))
                    .await
                {
                    // A concurrent repair created it first.
                    Err(VaultError::AlreadyExists { .. }) => {
                        self.vault.stage(name, token, version_id).await
                    }
                    created => created,
                }
            }
            Err(VaultError::ScheduledForDeletion { .. }) => {
                self.vault.restore(name).await?;
                self.vault.stage(name, token, version_id).await
            }
            staged => staged,
        }
    }

    /// Moves the secret's current stage to the version the record names, after the record was written. Readers
    /// do not depend on it (they fetch the named version); people and records stored before versions do. Two
    /// winners one after the other may promote out of order, so the record is read again and the stage follows
    /// it (bounded); a failure is logged, not returned: the update itself is complete.
    async fn make_current(&self, mut record: CredentialRecord) {
        for _ in 0..MAKE_CURRENT_ROUNDS {
            let Some(version_id) = record.secret_version_id.clone() else {
                return;
            };
            let promoted = match self.vault.promote(&record.secret_name, &version_id).await {
                // Restored only for a record that is not deleted (a concurrent delete is checked just below).
                Err(VaultError::ScheduledForDeletion { .. }) if record.deleted_at.is_none() => {
                    match self.vault.restore(&record.secret_name).await {
                        Ok(()) => self.vault.promote(&record.secret_name, &version_id).await,
                        Err(error) => Err(error),
                    }
                }
                promoted => promoted,
            };
            if let Err(error) = promoted {
                tracing::warn!(
                    connection_id = %record.connection_id,
                    credential_id = %record.credential_id,
                    error = %error,
                    "the secret's current version does not follow the credential yet; the next update moves it"
                );
                return;
            }
            match self
                .store
                .get(&record.connection_id, &record.credential_id)
                .await
            {
                Ok(Some(latest)) if latest.deleted_at.is_some() => {
                    // Deleted meanwhile: its secret goes, even if it was restored above.
                    return self.schedule_secret_deletion(&latest).await;
                }
                Ok(Some(latest)) if latest.secret_version_id != record.secret_version_id => {
                    record = latest;
                }
                _ => return,
            }
        }
    }

    /// Whether a write that answered with an error is stored all the same: its answer was lost on the way back,
    /// or the SDK retried a write that had landed and the retry's condition failed. Unknown counts as not stored,
    /// which is safe: the only undo that follows is itself conditional on the record being unchanged.
    async fn landed(&self, written: &CredentialRecord) -> bool {
        match self
            .store
            .get(&written.connection_id, &written.credential_id)
            .await
        {
            // The sync summary is not ours to compare.
            Ok(Some(stored)) => {
                CredentialRecord {
                    last_sync: written.last_sync.clone(),
                    ..stored
                } == *written
            }
            _ => false,
        }
    }

    /// The undo of a create that stopped after its record was written. The record is marked deleted first, on
    /// the condition that it is still the `provisioning` one (so a write that did land, or an update that
    /// completed the credential meanwhile, keeps its secret), then the secret goes. A failure is logged: the
    /// first leaves a `provisioning` credential the caller sees in `list`, the second a deleted credential whose
    /// secret a repeated delete schedules for deletion.
    async fn undo_create(&self, provisioning: &CredentialRecord) {
        let failed = |what: &str, error: &dyn std::fmt::Display| {
            tracing::error!(
                connection_id = %provisioning.connection_id,
                credential_id = %provisioning.credential_id,
                error = %error,
                "a failed create could not {what}"
            );
        };
        let deleted = marked_deleted(provisioning);
        if let Err(error) = self.store.replace(&deleted, provisioning.version).await {
            // A delete may have won meanwhile (the caller saw the provisioning record in `list`): its record
            // is deleted but its secret, created after that delete, is not. Only an active record keeps it.
            match self
                .store
                .get(&provisioning.connection_id, &provisioning.credential_id)
                .await
            {
                Ok(Some(stored)) if stored.deleted_at.is_some() => {}
                _ => {
                    return failed(
                        "mark its record deleted; it stays provisioning: update or delete it",
                        &error,
                    );
                }
            }
        }
        match self.vault.delete_now(&provisioning.secret_name).await {
            Ok(()) | Err(VaultError::NotFound { .. }) => {}
            Err(error) => failed("delete its secret; delete the credential again", &error),
        }
    }

    /// After a lost update: when the credential was deleted meanwhile, its secret (which this update may have
    /// restored or recreated) is scheduled for deletion again, as the delete did.
    async fn settle_deleted_secret(&self, written: &CredentialRecord) {
        let Ok(Some(stored)) = self
            .store
            .get(&written.connection_id, &written.credential_id)
            .await
        else {
            return;
        };
        if stored.deleted_at.is_some() {
            self.schedule_secret_deletion(&stored).await;
        }
    }

    /// A deleted credential's secret, scheduled for deletion (again); a failure is logged for a repeated delete.
    async fn schedule_secret_deletion(&self, deleted: &CredentialRecord) {
        if let Err(error) = self
            .vault
            .schedule_deletion(&deleted.secret_name, SECRET_RECOVERY_DAYS)
            .await
        {
            tracing::error!(
                connection_id = %deleted.connection_id,
                credential_id = %deleted.credential_id,
                error = %error,
                "could not schedule the deletion of a deleted credential's secret; delete it again"
            );
        }
    }

    async fn existing(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
    ) -> Result<CredentialRecord, CredentialsError> {
        match self.store.get(connection, id).await? {
            Some(record) => Ok(record),
            None if self.store.connection_exists(connection).await? => {
                Err(CredentialsError::CredentialNotFound)
            }
            None => Err(CredentialsError::ConnectionNotFound),
        }
    }
}
