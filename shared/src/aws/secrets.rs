//! The [`SecretVault`] port on AWS Secrets Manager: one secret per credential, named under the stack's prefix and
//! tagged with its connection and credential ids; a token is one version (its id is the `ClientRequestToken` we
//! choose), staged `AWSPENDING` until the credential record names it, then moved to `AWSCURRENT`. SDK types stay
//! in this file.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_secretsmanager::types::Tag;

use crate::kernel::vault::{SecretVault, VaultError};
use crate::secret::SecretString;

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";

/// Tries of moving `AWSCURRENT`: a concurrent move between our look and our move makes the move fail.
const PROMOTE_ATTEMPTS: usize = 3;

/// Secrets Manager behind the [`SecretVault`] port.
#[derive(Debug, Clone)]
pub struct SecretsManagerVault {
    client: Client,
    /// The KMS key new secrets are encrypted with; `None` is Secrets Manager's AWS-managed key.
    kms_key_id: Option<String>,
}

impl SecretsManagerVault {
    pub fn new(client: Client) -> Self {
        SecretsManagerVault {
            client,
            kms_key_id: None,
        }
    }

    /// Secrets this vault creates are encrypted with `kms_key_id` (a key ARN) instead of the AWS-managed key.
    pub fn with_kms_key_id(self, kms_key_id: Option<String>) -> Self {
        SecretsManagerVault { kms_key_id, ..self }
    }
}

/// An SDK error as a [`VaultError`]: the service's error code decides; the text is for logs only (SDK errors
/// never carry the request's secret value).
fn vault_error<E>(
    operation: &'static str,
    name: &str,
    error: &aws_sdk_secretsmanager::error::SdkError<E>,
) -> VaultError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error.as_service_error().and_then(|e| e.code()) {
        Some("ResourceNotFoundException") => VaultError::NotFound {
            name: name.to_owned(),
        },
        Some("ResourceExistsException") => VaultError::AlreadyExists {
            name: name.to_owned(),
        },
        // What reads and writes of values (and a create of its name) answer for a secret scheduled for deletion.
        Some("InvalidRequestException")
            if matches!(
                operation,
                "GetSecretValue" | "PutSecretValue" | "CreateSecret"
            ) =>
        {
            VaultError::ScheduledForDeletion {
                name: name.to_owned(),
            }
        }
        _ => VaultError::Unavailable {
            operation,
            detail: DisplayErrorContext(error).to_string(),
        },
    }
}

impl SecretVault for SecretsManagerVault {
    async fn create(
        &self,
        name: &str,
        value: &SecretString,
        version_id: &str,
        tags: &[(&str, &str)],
    ) -> Result<(), VaultError> {
        let mut request = self
            .client
            .create_secret()
            .name(name)
            .client_request_token(version_id)
            .description("A GitLab token or push hook secret of the commit importer")
            .set_kms_key_id(self.kms_key_id.clone())
            .secret_string(value.expose());
        for (key, tag_value) in tags {
            request = request.tags(Tag::builder().key(*key).value(*tag_value).build());
        }
        request
            .send()
            .await
            .map(drop)
            .map_err(|e| vault_error("CreateSecret", name, &e))
    }

    async fn read(&self, name: &str, version_id: Option<&str>) -> Result<SecretString, VaultError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(name)
            .set_version_id(version_id.map(str::to_owned))
            // The current version by its stage, said explicitly (the default; moto otherwise keeps reading the
            // version that was current before a stage move).
            .set_version_stage(version_id.is_none().then(|| CURRENT.to_owned()))
            .send()
            .await
            .map_err(|e| vault_error("GetSecretValue", name, &e))?;
        output
            .secret_string
            .map(SecretString::new)
            .ok_or_else(|| VaultError::Unavailable {
                operation: "GetSecretValue",
                detail: format!("secret {name} holds no string value"),
            })
    }

    async fn stage(
        &self,
        name: &str,
        value: &SecretString,
        version_id: &str,
    ) -> Result<(), VaultError> {
        self.client
            .put_secret_value()
            .secret_id(name)
            .client_request_token(version_id)
            .secret_string(value.expose())
            .version_stages(PENDING)
            .send()
            .await
            .map(drop)
            .map_err(|e| vault_error("PutSecretValue", name, &e))
    }

    /// Looks where `AWSCURRENT` is, then moves it from there (the API insists on naming the version it leaves).
    async fn promote(&self, name: &str, version_id: &str) -> Result<(), VaultError> {
        for _ in 0..PROMOTE_ATTEMPTS {
            let described = self
                .client
                .describe_secret()
                .secret_id(name)
                .send()
                .await
                .map_err(|e| vault_error("DescribeSecret", name, &e))?;
            if described.deleted_date.is_some() {
                return Err(VaultError::ScheduledForDeletion {
                    name: name.to_owned(),
                });
            }
            let current = described
                .version_ids_to_stages
                .unwrap_or_default()
                .into_iter()
                .find(|(_, stages)| stages.iter().any(|s| s == CURRENT))
                .map(|(id, _)| id);
            if current.as_deref() == Some(version_id) {
                return Ok(());
            }
            match self
                .client
                .update_secret_version_stage()
                .secret_id(name)
                .version_stage(CURRENT)
                .move_to_version_id(version_id)
                .set_remove_from_version_id(current)
                .send()
                .await
            {
                Ok(_) => return Ok(()),
                // The stage left the version we named meanwhile: look again.
                Err(e)
                    if e.as_service_error().and_then(|s| s.code())
                        == Some("InvalidParameterException") =>
                {
                    continue;
                }
                Err(e) => return Err(vault_error("UpdateSecretVersionStage", name, &e)),
            }
        }
        Err(VaultError::Unavailable {
            operation: "UpdateSecretVersionStage",
            detail: format!("{CURRENT} of {name} kept moving"),
        })
    }

    async fn restore(&self, name: &str) -> Result<(), VaultError> {
        self.client
            .restore_secret()
            .secret_id(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| vault_error("RestoreSecret", name, &e))
    }

    async fn schedule_deletion(&self, name: &str, recovery_days: i64) -> Result<(), VaultError> {
        match self
            .client
            .delete_secret()
            .secret_id(name)
            .recovery_window_in_days(recovery_days)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already scheduled for deletion: the goal is reached.
            Err(e)
                if e.as_service_error().and_then(|s| s.code())
                    == Some("InvalidRequestException") =>
            {
                Ok(())
            }
            Err(e) => Err(vault_error("DeleteSecret", name, &e)),
        }
    }

    async fn delete_now(&self, name: &str) -> Result<(), VaultError> {
        self.client
            .delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await
            .map(drop)
            .map_err(|e| vault_error("DeleteSecret", name, &e))
    }
}
