//! The credentials use cases: create, update, info, list, delete, and the connection's push hook secret.
//! Verification comes first; a failed verification stores nothing; a secret never exists without its record, and
//! a record names the version of the secret that holds its token (see `create` and `update` for the order of the
//! steps). The push hook secret lives as long as the connection has a credential that is not deleted.

use time::OffsetDateTime;

use super::model::{
    CREDENTIAL_TYPE, ConnectionId, CredentialId, CredentialRecord, CredentialStatus,
    StoredSettings, new_secret_version_id,
};
use super::ports::{CredentialStore, SecretVault, VaultError};
use super::verify::{Verifier, VerifyError, warn_of_excess_scopes};
use crate::kernel::push_hook::{HOOK_SECRET_SUFFIX, generate_hook_secret, hook_secret_name};
use crate::kernel::store::StoreError;
use crate::kernel::time::timestamp;
use crate::secret::SecretString;

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

/// The tags of a connection's push hook secret (no credential: it outlives each of them).
fn hook_secret_tags(connection: &ConnectionId) -> [(&str, &str); 2] {
    [
        ("connection_id", connection.as_str()),
        ("purpose", HOOK_SECRET_SUFFIX),
    ]
}

/// What `credentials.create` takes, already checked for shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateInput {
    pub label: Option<String>,
    pub base_url: Option<String>,
    pub ca_bundle: Option<String>,
    pub requests_per_minute: Option<u32>,
    /// Path patterns of the projects to import (empty: all) and to leave out; checked by the request parser.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub api_token: SecretString,
    pub expiration_date: Option<String>,
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
    pub base_url: Option<String>,
    pub ca_bundle: Patch<String>,
    pub requests_per_minute: Patch<u32>,
    pub include: Patch<Vec<String>>,
    pub exclude: Patch<Vec<String>>,
    /// `None`: keep the stored token.
    pub api_token: Option<SecretString>,
    pub expiration_date: Patch<String>,
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
    OtherInstance { bound: String },
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
    pub default_base_url: String,
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
            expiration_date: input.expiration_date.apply(current.expiration_date.clone()),
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
            let now = timestamp(OffsetDateTime::now_utc());
            let deleted = CredentialRecord {
                deleted_at: Some(now.clone()),
                updated_at: now,
                version: current.version + 1,
                ..current.clone()
            };
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

    /// The vault name of the connection's push hook secret.
    fn hook_secret_name(&self, connection: &ConnectionId) -> String {
        hook_secret_name(&self.secret_name_prefix, connection)
    }

    /// Gives the connection a live push hook secret, after a create: the value when this call made it (the only
    /// time it is shown apart from a rotation), `None` when the connection had one. One scheduled for deletion
    /// (every credential of the connection was deleted) is restored with a new value, so a value that leaked
    /// before does not come back. Read first: a create of a name scheduled for deletion is refused with an error
    /// that does not say so everywhere (moto calls it "exists").
    pub async fn open_hook_secret(
        &self,
        connection: &ConnectionId,
    ) -> Result<Option<SecretString>, CredentialsError> {
        let name = self.hook_secret_name(connection);
        let scheduled = match self.vault.read(&name, None).await {
            Ok(_) => return Ok(None),
            Err(VaultError::NotFound { .. }) => false,
            Err(VaultError::ScheduledForDeletion { .. }) => true,
            Err(error) => return Err(error.into()),
        };
        let value = generate_hook_secret().map_err(CredentialsError::Randomness)?;
        if scheduled {
            self.vault.restore(&name).await?;
            return self.renew_hook_secret(&name, value).await.map(Some);
        }
        let version_id = new_secret_version_id();
        let tags = hook_secret_tags(connection);
        match self.vault.create(&name, &value, &version_id, &tags).await {
            Ok(()) => Ok(Some(value)),
            // A concurrent create made it first and shows it.
            Err(VaultError::AlreadyExists { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// A new value for the connection's push hook secret (made if it is missing), current once this returns; the
    /// old value stops working. Needs a credential that is not deleted, as the secret lives only that long.
    pub async fn rotate_hook_secret(
        &self,
        connection: &ConnectionId,
    ) -> Result<SecretString, CredentialsError> {
        if !self.has_credentials(connection).await? {
            return Err(CredentialsError::ConnectionNotFound);
        }
        match self.open_hook_secret(connection).await? {
            Some(value) => Ok(value),
            None => {
                let name = self.hook_secret_name(connection);
                let value = generate_hook_secret().map_err(CredentialsError::Randomness)?;
                self.renew_hook_secret(&name, value).await
            }
        }
    }

    /// Stages `value` as a new version of the hook secret `name` and makes it current.
    async fn renew_hook_secret(
        &self,
        name: &str,
        value: SecretString,
    ) -> Result<SecretString, CredentialsError> {
        let version_id = new_secret_version_id();
        self.vault.stage(name, &value, &version_id).await?;
        self.vault.promote(name, &version_id).await?;
        Ok(value)
    }

    /// Whether the connection has a credential that is not deleted (a push hook secret lives that long).
    async fn has_credentials(&self, connection: &ConnectionId) -> Result<bool, CredentialsError> {
        let records = self.store.list(connection).await?;
        Ok(records.iter().any(|r| r.deleted_at.is_none()))
    }

    /// After a delete: when the connection has no credential left, its push hook secret is scheduled for deletion
    /// (a create restores it with a new value). A create racing with this delete may have found the secret still
    /// live and kept it, so the credentials are looked at again afterwards: one that appeared meanwhile gets the
    /// secret restored.
    async fn retire_hook_secret(&self, connection: &ConnectionId) -> Result<(), CredentialsError> {
        if self.has_credentials(connection).await? {
            return Ok(());
        }
        let name = self.hook_secret_name(connection);
        match self
            .vault
            .schedule_deletion(&name, SECRET_RECOVERY_DAYS)
            .await
        {
            Ok(()) => {}
            Err(VaultError::NotFound { .. }) => return Ok(()),
            Err(error) => return Err(error.into()),
        }
        if self.has_credentials(connection).await? {
            match self.vault.restore(&name).await {
                Ok(()) | Err(VaultError::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// Binds the connection to the instance, or refuses another one.
    async fn bind(
        &self,
        connection: &ConnectionId,
        base_url: &str,
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
        let now = timestamp(OffsetDateTime::now_utc());
        let deleted = CredentialRecord {
            deleted_at: Some(now.clone()),
            updated_at: now,
            version: provisioning.version + 1,
            ..provisioning.clone()
        };
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

#[cfg(test)]
mod tests {
    //! The use cases against in-memory fakes of the three ports: given / when / then.

    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::credentials::verify::Verified;
    use crate::testing::MemoryVault;

    #[derive(Default)]
    struct MemoryStore {
        /// connection -> the instance it is bound to
        connections: Mutex<BTreeMap<ConnectionId, String>>,
        records: Mutex<BTreeMap<(ConnectionId, CredentialId), CredentialRecord>>,
        fail_writes: bool,
        /// Replacements fail (inserts work).
        fail_replace: std::sync::atomic::AtomicBool,
        /// Another writer changes the record between our read and our write.
        race: std::sync::atomic::AtomicBool,
        /// A delete commits just before our next replacement (once).
        delete_first: std::sync::atomic::AtomicBool,
        /// A concurrent create inserts this record just after our next list (once).
        insert_after_list: Mutex<Option<CredentialRecord>>,
    }

    impl CredentialStore for MemoryStore {
        async fn bind_connection(
            &self,
            c: &ConnectionId,
            base_url: &str,
            _at: &str,
        ) -> Result<Option<String>, StoreError> {
            let mut connections = self.connections.lock().unwrap();
            let bound = connections
                .entry(c.clone())
                .or_insert_with(|| base_url.to_owned());
            Ok((bound != base_url).then(|| bound.clone()))
        }
        async fn connection_exists(&self, c: &ConnectionId) -> Result<bool, StoreError> {
            Ok(self.connections.lock().unwrap().contains_key(c))
        }
        async fn insert(&self, r: &CredentialRecord) -> Result<(), StoreError> {
            if self.fail_writes {
                return Err(StoreError::Unavailable {
                    operation: "insert",
                    detail: "injected".into(),
                });
            }
            let key = (r.connection_id.clone(), r.credential_id.clone());
            let mut records = self.records.lock().unwrap();
            if records.contains_key(&key) {
                return Err(StoreError::Conflict);
            }
            records.insert(key, r.clone());
            Ok(())
        }
        async fn replace(&self, r: &CredentialRecord, expected: u64) -> Result<(), StoreError> {
            if self.fail_writes || self.fail_replace.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(StoreError::Unavailable {
                    operation: "replace",
                    detail: "injected".into(),
                });
            }
            let key = (r.connection_id.clone(), r.credential_id.clone());
            let mut records = self.records.lock().unwrap();
            if self.race.load(std::sync::atomic::Ordering::Relaxed)
                && let Some(current) = records.get_mut(&key)
            {
                current.version += 1;
            }
            if self
                .delete_first
                .swap(false, std::sync::atomic::Ordering::Relaxed)
                && let Some(current) = records.get_mut(&key)
            {
                current.deleted_at = Some("2026-11-30T00:00:00Z".into());
                current.version += 1;
            }
            match records.get(&key) {
                Some(current) if current.version == expected => {
                    records.insert(key, r.clone());
                    Ok(())
                }
                _ => Err(StoreError::Conflict),
            }
        }
        async fn get(
            &self,
            c: &ConnectionId,
            id: &CredentialId,
        ) -> Result<Option<CredentialRecord>, StoreError> {
            Ok(self
                .records
                .lock()
                .unwrap()
                .get(&(c.clone(), id.clone()))
                .cloned())
        }
        async fn list(&self, c: &ConnectionId) -> Result<Vec<CredentialRecord>, StoreError> {
            let mut records = self.records.lock().unwrap();
            let listed = records
                .values()
                .filter(|r| &r.connection_id == c)
                .cloned()
                .collect();
            if let Some(r) = self.insert_after_list.lock().unwrap().take() {
                records.insert((r.connection_id.clone(), r.credential_id.clone()), r);
            }
            Ok(listed)
        }
    }

    /// Accepts the tokens that start with `good`; refuses the others.
    struct FakeVerifier;

    impl Verifier for FakeVerifier {
        async fn verify(
            &self,
            settings: &StoredSettings,
            token: &SecretString,
        ) -> Result<Verified, VerifyError> {
            if token.expose().starts_with("good") {
                Ok(Verified {
                    base_url: settings.base_url.clone(),
                    token_expires_at: None,
                    scopes: vec!["read_api".into()],
                })
            } else {
                Err(VerifyError::InvalidCredentials("refused".into()))
            }
        }
    }

    fn service(store: MemoryStore) -> Credentials<MemoryStore, MemoryVault, FakeVerifier> {
        Credentials {
            store,
            vault: MemoryVault::default(),
            verifier: FakeVerifier,
            secret_name_prefix: "p/".into(),
            default_base_url: "https://gitlab.example.com/".into(),
        }
    }

    fn create_input(token: &str) -> CreateInput {
        CreateInput {
            label: Some("L".into()),
            base_url: None,
            ca_bundle: None,
            requests_per_minute: None,
            include: Vec::new(),
            exclude: Vec::new(),
            api_token: SecretString::new(token),
            expiration_date: None,
        }
    }

    fn update_input(id: &CredentialId) -> UpdateInput {
        UpdateInput {
            id: id.clone(),
            label: Patch::Keep,
            base_url: None,
            ca_bundle: Patch::Keep,
            requests_per_minute: Patch::Keep,
            include: Patch::Keep,
            exclude: Patch::Keep,
            api_token: None,
            expiration_date: Patch::Keep,
        }
    }

    fn conn() -> ConnectionId {
        ConnectionId::parse("acme").unwrap()
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn create_stores_the_pair_or_nothing() {
        block_on(async {
            // given a working store, when a good token is created, then secret and record exist
            let credentials = service(MemoryStore::default());
            let record = credentials
                .create(&conn(), create_input("good-1"))
                .await
                .unwrap();
            assert_eq!(record.settings.base_url, "https://gitlab.example.com/");
            assert_eq!(
                record.secret_name,
                format!("p/acme/{}", record.credential_id)
            );
            assert_eq!(record.status, CredentialStatus::Active);
            assert_eq!(
                credentials.vault.current(&record.secret_name).as_deref(),
                Some("good-1")
            );
            // when a refused token is created, then nothing more is stored
            let refused = credentials.create(&conn(), create_input("bad")).await;
            assert!(matches!(refused, Err(CredentialsError::Verification(_))));
            assert_eq!(credentials.vault.secrets.lock().unwrap().len(), 1);
            assert_eq!(credentials.store.records.lock().unwrap().len(), 1);

            // given a store whose writes fail, then nothing is stored
            let failing = service(MemoryStore {
                fail_writes: true,
                ..MemoryStore::default()
            });
            let error = failing
                .create(&conn(), create_input("good-2"))
                .await
                .unwrap_err();
            assert!(matches!(error, CredentialsError::Store(_)));
            assert!(failing.vault.secrets.lock().unwrap().is_empty());
        });
    }

    /// The token readers get for the stored record, and the record's fingerprint of its token.
    async fn read_pair(
        credentials: &Credentials<MemoryStore, MemoryVault, FakeVerifier>,
        id: &CredentialId,
    ) -> (String, String) {
        let record = credentials.info(&conn(), id).await.unwrap();
        let token = credentials
            .vault
            .read(&record.secret_name, record.secret_version_id.as_deref())
            .await
            .unwrap();
        (token.fingerprint(), record.token_fingerprint)
    }

    #[test]
    fn update_keeps_what_is_omitted_and_a_lost_race_changes_nothing_readers_see() {
        block_on(async {
            let credentials = service(MemoryStore::default());
            let created = credentials
                .create(&conn(), create_input("good-1"))
                .await
                .unwrap();
            let id = created.credential_id.clone();

            let mut rotate = update_input(&id);
            rotate.api_token = Some(SecretString::new("good-2"));
            let updated = credentials.update(&conn(), rotate).await.unwrap();
            assert_eq!(updated.label, created.label);
            assert_eq!(updated.version, created.version + 1);
            assert_eq!(
                updated.token_fingerprint,
                SecretString::new("good-2").fingerprint()
            );

            let mut refused = update_input(&id);
            refused.api_token = Some(SecretString::new("bad"));
            refused.label = Patch::Clear;
            assert!(credentials.update(&conn(), refused).await.is_err());
            let stored = credentials.info(&conn(), &id).await.unwrap();
            assert_eq!(stored, updated, "a refused update changes nothing");

            assert_eq!(
                credentials.vault.current(&created.secret_name).as_deref(),
                Some("good-2"),
                "the winner's version is current"
            );

            // A lost race: the record moved on; the loser's staged version is neither named nor current.
            credentials
                .store
                .race
                .store(true, std::sync::atomic::Ordering::Relaxed);
            let mut racing = update_input(&id);
            racing.api_token = Some(SecretString::new("good-3"));
            assert!(matches!(
                credentials.update(&conn(), racing).await,
                Err(CredentialsError::Conflict)
            ));
            assert_eq!(
                credentials.vault.current(&created.secret_name).as_deref(),
                Some("good-2")
            );
            let (read, recorded) = read_pair(&credentials, &id).await;
            assert_eq!(read, recorded);
            assert_eq!(read, SecretString::new("good-2").fingerprint());
        });
    }

    #[test]
    fn a_create_that_stops_after_its_record_leaves_no_live_token_and_a_visible_credential() {
        block_on(async {
            // when the secret cannot be written, then the record is marked deleted and no secret exists
            let credentials = service(MemoryStore::default());
            *credentials.vault.fail_next.lock().unwrap() = vec!["create"];
            let error = credentials
                .create(&conn(), create_input("good-1"))
                .await
                .unwrap_err();
            assert!(matches!(error, CredentialsError::Vault(_)), "{error}");
            assert!(credentials.vault.secrets.lock().unwrap().is_empty());
            let records = credentials.list(&conn(), true).await.unwrap();
            assert_eq!(records.len(), 1);
            assert!(records[0].deleted_at.is_some());
            assert!(credentials.list(&conn(), false).await.unwrap().is_empty());

            // when the undo fails too, then a provisioning credential stays visible and is never synced; an
            // update without a token says the secret is missing, one with a token completes it
            let fail_replace = |on| {
                credentials
                    .store
                    .fail_replace
                    .store(on, std::sync::atomic::Ordering::Relaxed)
            };
            *credentials.vault.fail_next.lock().unwrap() = vec!["create"];
            fail_replace(true);
            assert!(
                credentials
                    .create(&conn(), create_input("good-2"))
                    .await
                    .is_err()
            );
            fail_replace(false);
            let listed = credentials.list(&conn(), false).await.unwrap();
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].status, CredentialStatus::Provisioning);
            let today = OffsetDateTime::now_utc().date();
            assert!(!listed[0].is_live(today));
            let id = listed[0].credential_id.clone();
            assert!(matches!(
                credentials.update(&conn(), update_input(&id)).await,
                Err(CredentialsError::SecretMissing)
            ));
            let mut repair = update_input(&id);
            repair.api_token = Some(SecretString::new("good-3"));
            let repaired = credentials.update(&conn(), repair).await.unwrap();
            assert_eq!(repaired.status, CredentialStatus::Active);
            let (read, recorded) = read_pair(&credentials, &id).await;
            assert_eq!(read, recorded);
            assert_eq!(read, SecretString::new("good-3").fingerprint());
        });
    }

    #[test]
    fn a_rotation_that_loses_to_a_delete_leaves_the_secret_scheduled_for_deletion() {
        block_on(async {
            // given a credential, when a delete commits while a rotation is between its read and its write (the
            // delete scheduled the secret's deletion, the rotation restored it to stage its token)
            let credentials = service(MemoryStore::default());
            let created = credentials
                .create(&conn(), create_input("good-1"))
                .await
                .unwrap();
            let order = std::sync::atomic::Ordering::Relaxed;
            credentials.vault.delete_before_stage.store(true, order);
            credentials.store.delete_first.store(true, order);
            let mut rotate = update_input(&created.credential_id);
            rotate.api_token = Some(SecretString::new("good-2"));
            let lost = credentials.update(&conn(), rotate).await;

            // then the update lost, and the deleted credential's secret is scheduled for deletion again
            assert!(matches!(lost, Err(CredentialsError::Conflict)), "{lost:?}");
            let secrets = credentials.vault.secrets.lock().unwrap();
            assert!(secrets[&created.secret_name].scheduled);
        });
    }

    #[test]
    fn a_create_that_loses_to_a_delete_leaves_no_secret() {
        block_on(async {
            // when a delete of the provisioning record commits before the create activates it
            let credentials = service(MemoryStore::default());
            let order = std::sync::atomic::Ordering::Relaxed;
            credentials.store.delete_first.store(true, order);
            let lost = credentials.create(&conn(), create_input("good-1")).await;

            // then the create fails, its record stays deleted and the secret it wrote is gone
            assert!(matches!(lost, Err(CredentialsError::Conflict)), "{lost:?}");
            let records = credentials.list(&conn(), true).await.unwrap();
            assert_eq!(records.len(), 1);
            assert!(records[0].deleted_at.is_some());
            assert!(credentials.vault.secrets.lock().unwrap().is_empty());
        });
    }

    #[test]
    fn an_update_with_a_token_repairs_a_secret_deleted_or_scheduled_out_of_band() {
        block_on(async {
            let credentials = service(MemoryStore::default());
            let created = credentials
                .create(&conn(), create_input("good-1"))
                .await
                .unwrap();
            let id = created.credential_id.clone();
            let token = |t: &str| Some(SecretString::new(t));

            credentials
                .vault
                .secrets
                .lock()
                .unwrap()
                .remove(&created.secret_name);
            assert!(matches!(
                credentials.update(&conn(), update_input(&id)).await,
                Err(CredentialsError::SecretMissing)
            ));
            let repair = UpdateInput {
                api_token: token("good-2"),
                ..update_input(&id)
            };
            credentials.update(&conn(), repair).await.unwrap();
            assert_eq!(
                credentials.vault.current(&created.secret_name).as_deref(),
                Some("good-2")
            );

            credentials
                .vault
                .schedule_deletion(&created.secret_name, 7)
                .await
                .unwrap();
            assert!(matches!(
                credentials.update(&conn(), update_input(&id)).await,
                Err(CredentialsError::SecretMissing)
            ));
            let repair = UpdateInput {
                api_token: token("good-3"),
                ..update_input(&id)
            };
            credentials.update(&conn(), repair).await.unwrap();
            assert_eq!(
                credentials.vault.current(&created.secret_name).as_deref(),
                Some("good-3")
            );
            let (read, recorded) = read_pair(&credentials, &id).await;
            assert_eq!(read, recorded);

            // settings only: verified with the token the record names, which stays current
            let relabel = UpdateInput {
                label: Patch::Set("again".into()),
                ..update_input(&id)
            };
            let relabelled = credentials.update(&conn(), relabel).await.unwrap();
            assert_eq!(relabelled.token_fingerprint, recorded);
        });
    }

    #[test]
    fn delete_is_soft_idempotent_and_blocks_updates() {
        block_on(async {
            let credentials = service(MemoryStore::default());
            let created = credentials
                .create(&conn(), create_input("good-1"))
                .await
                .unwrap();
            let id = created.credential_id.clone();
            let deleted = credentials.delete(&conn(), &id).await.unwrap();
            assert!(deleted.deleted_at.is_some());
            assert!(credentials.vault.secrets.lock().unwrap()[&created.secret_name].scheduled);
            let again = credentials.delete(&conn(), &id).await.unwrap();
            assert_eq!(again, deleted);
            assert!(credentials.list(&conn(), false).await.unwrap().is_empty());
            assert_eq!(credentials.list(&conn(), true).await.unwrap().len(), 1);
            assert!(matches!(
                credentials.update(&conn(), update_input(&id)).await,
                Err(CredentialsError::CredentialDeleted)
            ));
            let other = ConnectionId::parse("other").unwrap();
            assert!(matches!(
                credentials.list(&other, false).await,
                Err(CredentialsError::ConnectionNotFound)
            ));
        });
    }

    /// The connection's push hook secret: its current value unless scheduled for deletion, and whether it is.
    fn hook_secret(
        credentials: &Credentials<MemoryStore, MemoryVault, FakeVerifier>,
    ) -> (Option<String>, bool) {
        let name = credentials.hook_secret_name(&conn());
        let scheduled = credentials
            .vault
            .secrets
            .lock()
            .unwrap()
            .get(&name)
            .map(|s| s.scheduled);
        assert!(scheduled.is_some(), "no hook secret {name}");
        (credentials.vault.current(&name), scheduled == Some(true))
    }

    #[test]
    fn the_hook_secret_is_made_once_per_connection_and_rotation_replaces_its_value() {
        block_on(async {
            // given a connection's first credential, when its hook secret is opened, then it is made and shown
            let credentials = service(MemoryStore::default());
            credentials
                .create(&conn(), create_input("good-1"))
                .await
                .unwrap();
            let first = credentials.open_hook_secret(&conn()).await.unwrap();
            let first = first
                .expect("the first credential shows the secret")
                .expose()
                .to_owned();
            assert_eq!(first.len(), 64);
            assert_eq!(credentials.hook_secret_name(&conn()), "p/acme/push-hook");
            assert_eq!(hook_secret(&credentials), (Some(first.clone()), false));

            // when a second credential is created, then the secret is kept and not shown
            credentials
                .create(&conn(), create_input("good-2"))
                .await
                .unwrap();
            assert!(
                credentials
                    .open_hook_secret(&conn())
                    .await
                    .unwrap()
                    .is_none()
            );
            assert_eq!(hook_secret(&credentials).0.as_deref(), Some(first.as_str()));

            // when it is rotated, then the new value is current and the old one is not
            let rotated = credentials.rotate_hook_secret(&conn()).await.unwrap();
            assert_ne!(rotated.expose(), first);
            assert_eq!(
                hook_secret(&credentials).0.as_deref(),
                Some(rotated.expose())
            );

            // a connection without credentials has nothing to rotate, and gets no secret
            let other = ConnectionId::parse("other").unwrap();
            assert!(matches!(
                credentials.rotate_hook_secret(&other).await,
                Err(CredentialsError::ConnectionNotFound)
            ));
            assert!(
                !credentials
                    .vault
                    .secrets
                    .lock()
                    .unwrap()
                    .contains_key("p/other/push-hook")
            );
        });
    }

    #[test]
    fn rotation_makes_a_missing_hook_secret() {
        block_on(async {
            // given a connection whose credential predates hook secrets
            let credentials = service(MemoryStore::default());
            credentials
                .create(&conn(), create_input("good-1"))
                .await
                .unwrap();
            // when the hook secret is rotated, then it is made with the value shown
            let made = credentials.rotate_hook_secret(&conn()).await.unwrap();
            assert_eq!(
                hook_secret(&credentials),
                (Some(made.expose().to_owned()), false)
            );
        });
    }

    #[test]
    fn deleting_the_last_credential_retires_the_hook_secret_and_a_create_brings_a_new_value() {
        block_on(async {
            let credentials = service(MemoryStore::default());
            let one = credentials
                .create(&conn(), create_input("good-1"))
                .await
                .unwrap();
            let two = credentials
                .create(&conn(), create_input("good-2"))
                .await
                .unwrap();
            let first = credentials
                .open_hook_secret(&conn())
                .await
                .unwrap()
                .unwrap();

            // when one of two credentials is deleted, then the hook secret stays
            credentials
                .delete(&conn(), &one.credential_id)
                .await
                .unwrap();
            assert_eq!(
                hook_secret(&credentials),
                (Some(first.expose().to_owned()), false)
            );

            // when the last one is deleted, then it is scheduled for deletion, and rotation finds no connection
            credentials
                .delete(&conn(), &two.credential_id)
                .await
                .unwrap();
            assert_eq!(hook_secret(&credentials), (None, true));
            assert!(matches!(
                credentials.rotate_hook_secret(&conn()).await,
                Err(CredentialsError::ConnectionNotFound)
            ));

            // when a credential is created again, then the secret is restored with a new value, shown once
            credentials
                .create(&conn(), create_input("good-3"))
                .await
                .unwrap();
            let renewed = credentials
                .open_hook_secret(&conn())
                .await
                .unwrap()
                .unwrap();
            assert_ne!(renewed.expose(), first.expose());
            assert_eq!(
                hook_secret(&credentials),
                (Some(renewed.expose().to_owned()), false)
            );
        });
    }

    #[test]
    fn a_vault_that_fails_the_hook_secret_leaves_the_credential_and_rotation_repairs_it() {
        block_on(async {
            // given a created credential, when the vault fails to make the hook secret
            let credentials = service(MemoryStore::default());
            let created = credentials
                .create(&conn(), create_input("good-1"))
                .await
                .unwrap();
            *credentials.vault.fail_next.lock().unwrap() = vec!["create"];
            let failed = credentials.open_hook_secret(&conn()).await;

            // then that is an error of ours, and the credential is active with its token
            assert!(
                matches!(failed, Err(CredentialsError::Vault(_))),
                "{failed:?}"
            );
            let stored = credentials
                .info(&conn(), &created.credential_id)
                .await
                .unwrap();
            assert_eq!(stored.status, CredentialStatus::Active);
            assert_eq!(
                credentials.vault.current(&created.secret_name).as_deref(),
                Some("good-1")
            );
            // and a failed promotion of a rotation is an error too, never a value that does not work
            let working = credentials.rotate_hook_secret(&conn()).await.unwrap();
            *credentials.vault.fail_next.lock().unwrap() = vec!["promote"];
            assert!(credentials.rotate_hook_secret(&conn()).await.is_err());
            assert_eq!(
                hook_secret(&credentials).0.as_deref(),
                Some(working.expose())
            );
            // when rotated later, then the secret exists with the value shown
            let made = credentials.rotate_hook_secret(&conn()).await.unwrap();
            assert_eq!(
                hook_secret(&credentials),
                (Some(made.expose().to_owned()), false)
            );
        });
    }

    #[test]
    fn a_create_racing_with_the_last_delete_keeps_the_hook_secret() {
        block_on(async {
            // given one credential with its hook secret
            let credentials = service(MemoryStore::default());
            let only = credentials
                .create(&conn(), create_input("good-1"))
                .await
                .unwrap();
            let secret = credentials
                .open_hook_secret(&conn())
                .await
                .unwrap()
                .unwrap();

            // when a create lands just after the delete found no credential left (and found the secret live)
            let racing = CredentialRecord {
                credential_id: CredentialId::generate(),
                ..only.clone()
            };
            *credentials.store.insert_after_list.lock().unwrap() = Some(racing);
            credentials
                .delete(&conn(), &only.credential_id)
                .await
                .unwrap();

            // then the delete looks again and restores the secret for the new credential, with its value
            assert_eq!(
                hook_secret(&credentials),
                (Some(secret.expose().to_owned()), false)
            );
        });
    }
}
