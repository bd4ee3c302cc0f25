//! The [`SecretVault`] port on AWS Secrets Manager: one secret per credential, named under the stack's prefix and
//! tagged with its connection and credential ids. SDK types stay in this file.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_secretsmanager::types::Tag;

use crate::credentials::ports::{SecretVault, VaultError};
use crate::secret::SecretString;

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
        tags: &[(&str, &str)],
    ) -> Result<(), VaultError> {
        let mut request = self
            .client
            .create_secret()
            .name(name)
            .description("GitLab access token of the commit importer")
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

    async fn read(&self, name: &str) -> Result<SecretString, VaultError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(name)
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

    async fn replace(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        self.client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value.expose())
            .send()
            .await
            .map(drop)
            .map_err(|e| vault_error("PutSecretValue", name, &e))
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
