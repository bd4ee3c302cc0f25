//! The secret vault in memory, for the credentials room's and the push hooks' unit tests.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::kernel::vault::{SecretVault, VaultError};
use crate::secret::SecretString;

/// One secret: its versions by id, which one is current, whether it is scheduled for deletion.
#[derive(Debug, Default)]
pub struct Secret {
    pub versions: BTreeMap<String, String>,
    pub current: Option<String>,
    pub scheduled: bool,
}

/// The secret vault in memory: every secret with its versions, as Secrets Manager keeps them (a create of a name
/// scheduled for deletion is refused, as Secrets Manager refuses it), with failures to inject.
#[derive(Debug, Default)]
pub struct MemoryVault {
    pub secrets: Mutex<BTreeMap<String, Secret>>,
    /// The next call of each of these operations fails (after doing nothing).
    pub fail_next: Mutex<Vec<&'static str>>,
    /// A delete schedules the secret's deletion just before our next stage (once).
    pub delete_before_stage: AtomicBool,
    /// Reads so far.
    pub reads: AtomicU64,
}

impl MemoryVault {
    fn injected(&self, operation: &'static str) -> Result<(), VaultError> {
        let mut fail = self.fail_next.lock().unwrap();
        if let Some(at) = fail.iter().position(|f| *f == operation) {
            fail.remove(at);
            return Err(VaultError::Unavailable {
                operation,
                detail: "injected".into(),
            });
        }
        Ok(())
    }

    /// The current value of a secret that is not scheduled for deletion.
    pub fn current(&self, name: &str) -> Option<String> {
        let secrets = self.secrets.lock().unwrap();
        let secret = secrets.get(name).filter(|s| !s.scheduled)?;
        secret.versions.get(secret.current.as_ref()?).cloned()
    }
}

impl SecretVault for MemoryVault {
    async fn create(
        &self,
        name: &str,
        value: &SecretString,
        version_id: &str,
        _tags: &[(&str, &str)],
    ) -> Result<(), VaultError> {
        self.injected("create")?;
        let mut secrets = self.secrets.lock().unwrap();
        match secrets.get(name) {
            // As Secrets Manager answers a create of a name scheduled for deletion.
            Some(secret) if secret.scheduled => {
                return Err(VaultError::ScheduledForDeletion { name: name.into() });
            }
            Some(_) => return Err(VaultError::AlreadyExists { name: name.into() }),
            None => {}
        }
        let secret = secrets.entry(name.to_owned()).or_default();
        secret
            .versions
            .insert(version_id.to_owned(), value.expose().to_owned());
        secret.current = Some(version_id.to_owned());
        Ok(())
    }
    async fn read(&self, name: &str, version_id: Option<&str>) -> Result<SecretString, VaultError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.injected("read")?;
        let secrets = self.secrets.lock().unwrap();
        let missing = || VaultError::NotFound { name: name.into() };
        let secret = secrets.get(name).ok_or_else(missing)?;
        if secret.scheduled {
            return Err(VaultError::ScheduledForDeletion { name: name.into() });
        }
        let version = version_id
            .or(secret.current.as_deref())
            .ok_or_else(missing)?;
        secret
            .versions
            .get(version)
            .map(SecretString::new)
            .ok_or_else(missing)
    }
    async fn stage(
        &self,
        name: &str,
        value: &SecretString,
        version_id: &str,
    ) -> Result<(), VaultError> {
        self.injected("stage")?;
        let mut secrets = self.secrets.lock().unwrap();
        let secret = secrets
            .get_mut(name)
            .ok_or(VaultError::NotFound { name: name.into() })?;
        if self.delete_before_stage.swap(false, Ordering::Relaxed) {
            secret.scheduled = true;
        }
        if secret.scheduled {
            return Err(VaultError::ScheduledForDeletion { name: name.into() });
        }
        secret
            .versions
            .insert(version_id.to_owned(), value.expose().to_owned());
        Ok(())
    }
    async fn promote(&self, name: &str, version_id: &str) -> Result<(), VaultError> {
        self.injected("promote")?;
        let mut secrets = self.secrets.lock().unwrap();
        let secret = secrets
            .get_mut(name)
            .ok_or(VaultError::NotFound { name: name.into() })?;
        if secret.scheduled {
            return Err(VaultError::ScheduledForDeletion { name: name.into() });
        }
        secret.current = Some(version_id.to_owned());
        Ok(())
    }
    async fn restore(&self, name: &str) -> Result<(), VaultError> {
        self.injected("restore")?;
        let mut secrets = self.secrets.lock().unwrap();
        let secret = secrets
            .get_mut(name)
            .ok_or(VaultError::NotFound { name: name.into() })?;
        secret.scheduled = false;
        Ok(())
    }
    async fn schedule_deletion(&self, name: &str, _days: i64) -> Result<(), VaultError> {
        if let Some(secret) = self.secrets.lock().unwrap().get_mut(name) {
            secret.scheduled = true;
        }
        Ok(())
    }
    async fn delete_now(&self, name: &str) -> Result<(), VaultError> {
        self.injected("delete_now")?;
        self.secrets.lock().unwrap().remove(name);
        Ok(())
    }
}
