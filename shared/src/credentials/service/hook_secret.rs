//! The connection's push hook secret: made with its first credential, rotated on request, retired with its last.

use super::{Credentials, CredentialsError, SECRET_RECOVERY_DAYS};
use crate::credentials::model::new_secret_version_id;
use crate::credentials::ports::CredentialStore;
use crate::credentials::verify::Verifier;
use crate::kernel::ids::ConnectionId;
use crate::kernel::push_hook::{HOOK_SECRET_SUFFIX, generate_hook_secret, hook_secret_name};
use crate::kernel::vault::{SecretVault, VaultError};
use crate::secret::SecretString;

/// The tags of a connection's push hook secret (no credential: it outlives each of them).
fn hook_secret_tags(connection: &ConnectionId) -> [(&str, &str); 2] {
    [
        ("connection_id", connection.as_str()),
        ("purpose", HOOK_SECRET_SUFFIX),
    ]
}

impl<S: CredentialStore, V: SecretVault, G: Verifier> Credentials<S, V, G> {
    /// The vault name of the connection's push hook secret.
    pub(super) fn hook_secret_name(&self, connection: &ConnectionId) -> String {
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
    pub(super) async fn retire_hook_secret(
        &self,
        connection: &ConnectionId,
    ) -> Result<(), CredentialsError> {
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
}
