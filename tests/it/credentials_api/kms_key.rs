//! The customer-managed KMS key new secrets are encrypted with.

use super::caller_policy::{ACCOUNT, REGION};
use super::*;

/// With a KMS key configured, the secrets the vault creates name it (Secrets Manager encrypts with it); without
/// one, they name none (the AWS-managed key).
#[tokio::test]
async fn secrets_are_created_with_the_configured_kms_key() {
    use shared::kernel::vault::SecretVault;
    let env = env().await;
    let key = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    for (name, kms_key_id) in [("with-key", Some(key.clone())), ("managed-key", None)] {
        let vault =
            SecretsManagerVault::new(env.aws.secrets.clone()).with_kms_key_id(kms_key_id.clone());
        let secret = format!("{}{name}", env.prefix);
        let version = shared::credentials::model::new_secret_version_id();
        vault
            .create(
                &secret,
                &SecretString::new(GOOD),
                &version,
                &[("connection", CONN)],
            )
            .await
            .expect("create");
        let described = env
            .aws
            .secrets
            .describe_secret()
            .secret_id(&secret)
            .send()
            .await
            .expect("describe");
        assert_eq!(described.kms_key_id, kms_key_id, "{name}");
        let read = vault.read(&secret, Some(&version)).await.unwrap();
        assert_eq!(read.expose(), GOOD);
    }
}
