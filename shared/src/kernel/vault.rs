//! The secret vault port: where GitLab tokens live. In the kernel because both the credentials room (which
//! writes tokens) and the GitLab connector (which reads them for the scheduler and the worker) need it.

use std::future::Future;

use crate::secret::SecretString;

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
