//! The credentials use cases: create, update, info, list, delete. Verification comes first; a failed
//! verification stores nothing; the secret and the record are written so that neither exists without the other.

use time::OffsetDateTime;

use super::model::{
    CREDENTIAL_TYPE, ConnectionId, CredentialId, CredentialRecord, CredentialStatus,
    StoredSettings, timestamp,
};
use super::ports::{CredentialStore, SecretVault, StoreError, VaultError};
use super::verify::{Verifier, VerifyError, warn_of_excess_scopes};
use crate::secret::SecretString;

/// Days a deleted credential's secret can still be recovered.
pub const SECRET_RECOVERY_DAYS: i64 = 7;

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
    /// The connection imports from another GitLab instance (`bound`); one connection is one instance.
    #[error("the connection is bound to the GitLab instance {bound}")]
    OtherInstance { bound: String },
    #[error("credential store: {0}")]
    Store(StoreError),
    #[error("secret vault: {0}")]
    Vault(#[from] VaultError),
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

    /// Verifies, then stores the token in its own secret and the metadata in the store. The connection comes
    /// into existence with its first credential.
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
        self.bind(connection, &settings.base_url, &now).await?;
        self.vault
            .create(
                &secret_name,
                &input.api_token,
                &[
                    ("connection_id", connection.as_str()),
                    ("credential_id", id.as_str()),
                ],
            )
            .await?;
        let record = CredentialRecord {
            connection_id: connection.clone(),
            credential_id: id,
            kind: CREDENTIAL_TYPE.to_owned(),
            label: input.label,
            settings,
            secret_name: secret_name.clone(),
            token_fingerprint: input.api_token.fingerprint(),
            status: CredentialStatus::Active,
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
        if let Err(error) = self.store.insert(&record).await {
            // The write may have landed even though the answer did not: then the pair is complete.
            if let Ok(Some(stored)) = self.store.get(connection, &record.credential_id).await
                && stored == record
            {
                return Ok(record);
            }
            if let Err(undo) = self.vault.delete_now(&secret_name).await {
                tracing::error!(
                    connection_id = %connection,
                    credential_id = %record.credential_id,
                    error = %undo,
                    "could not delete the secret of a credential whose record was not written"
                );
            }
            return Err(error.into());
        }
        warn_of_excess_scopes(&record);
        Ok(record)
    }

    /// Re-verifies with the resulting settings and token; on any failure the stored credential is unchanged.
    pub async fn update(
        &self,
        connection: &ConnectionId,
        input: UpdateInput,
    ) -> Result<CredentialRecord, CredentialsError> {
        let current = self.existing(connection, &input.id).await?;
        if current.deleted_at.is_some() {
            return Err(CredentialsError::CredentialDeleted);
        }
        let stored_token = self.vault.read(&current.secret_name).await?;
        let rotated = input
            .api_token
            .as_ref()
            .filter(|token| **token != stored_token);
        let token = rotated.unwrap_or(&stored_token);
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
        let verified = self.verifier.verify(&settings, token).await?;

        let now = timestamp(OffsetDateTime::now_utc());
        self.bind(connection, &verified.base_url, &now).await?;
        let updated = CredentialRecord {
            label: input.label.apply(current.label.clone()),
            settings: StoredSettings {
                base_url: verified.base_url,
                ..settings
            },
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
        if let Some(new_token) = rotated {
            self.vault.replace(&current.secret_name, new_token).await?;
        }
        if let Err(error) = self.store.replace(&updated, current.version).await {
            if rotated.is_some()
                && let Err(undo) = self
                    .vault
                    .replace(&current.secret_name, &stored_token)
                    .await
            {
                tracing::error!(
                    connection_id = %connection,
                    credential_id = %current.credential_id,
                    error = %undo,
                    "could not restore the previous token after a failed update"
                );
            }
            return Err(error.into());
        }
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

    /// Soft delete: `deleted_at` is set (no further syncs), then the secret is scheduled for deletion. Deleting
    /// again is harmless and schedules the secret's deletion again, so a retry completes an interrupted delete.
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
            Ok(()) | Err(VaultError::NotFound { .. }) => Ok(record),
            Err(error) => Err(error.into()),
        }
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

    #[derive(Default)]
    struct MemoryStore {
        /// connection -> the instance it is bound to
        connections: Mutex<BTreeMap<ConnectionId, String>>,
        records: Mutex<BTreeMap<(ConnectionId, CredentialId), CredentialRecord>>,
        fail_writes: bool,
        /// Another writer changes the record between our read and our write.
        race: std::sync::atomic::AtomicBool,
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
            if self.fail_writes {
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
            Ok(self
                .records
                .lock()
                .unwrap()
                .values()
                .filter(|r| &r.connection_id == c)
                .cloned()
                .collect())
        }
    }

    #[derive(Default)]
    struct MemoryVault {
        /// name -> (value, scheduled for deletion)
        secrets: Mutex<BTreeMap<String, (String, bool)>>,
    }

    impl SecretVault for MemoryVault {
        async fn create(
            &self,
            name: &str,
            value: &SecretString,
            _tags: &[(&str, &str)],
        ) -> Result<(), VaultError> {
            self.secrets
                .lock()
                .unwrap()
                .insert(name.to_owned(), (value.expose().to_owned(), false));
            Ok(())
        }
        async fn read(&self, name: &str) -> Result<SecretString, VaultError> {
            self.secrets
                .lock()
                .unwrap()
                .get(name)
                .map(|(v, _)| SecretString::new(v.clone()))
                .ok_or(VaultError::NotFound {
                    name: name.to_owned(),
                })
        }
        async fn replace(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
            let mut secrets = self.secrets.lock().unwrap();
            let entry = secrets.get_mut(name).ok_or(VaultError::NotFound {
                name: name.to_owned(),
            })?;
            entry.0 = value.expose().to_owned();
            Ok(())
        }
        async fn schedule_deletion(&self, name: &str, _days: i64) -> Result<(), VaultError> {
            if let Some(entry) = self.secrets.lock().unwrap().get_mut(name) {
                entry.1 = true;
            }
            Ok(())
        }
        async fn delete_now(&self, name: &str) -> Result<(), VaultError> {
            self.secrets.lock().unwrap().remove(name);
            Ok(())
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
            assert_eq!(
                credentials.vault.secrets.lock().unwrap()[&record.secret_name],
                ("good-1".to_owned(), false)
            );
            // when a refused token is created, then nothing more is stored
            let refused = credentials.create(&conn(), create_input("bad")).await;
            assert!(matches!(refused, Err(CredentialsError::Verification(_))));
            assert_eq!(credentials.vault.secrets.lock().unwrap().len(), 1);
            assert_eq!(credentials.store.records.lock().unwrap().len(), 1);

            // given a store whose writes fail, then the secret is undone
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

    #[test]
    fn update_keeps_what_is_omitted_and_restores_the_token_when_the_write_fails() {
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

            // A lost race: the record moved on; the new token must not stay in the vault.
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
                credentials.vault.secrets.lock().unwrap()[&created.secret_name].0,
                "good-2"
            );
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
            assert!(credentials.vault.secrets.lock().unwrap()[&created.secret_name].1);
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
}
