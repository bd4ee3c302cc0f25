//! The credentials API Lambda: API Gateway HTTP API (IAM auth) -> `shared::credentials::handler`.
//! Everything is built once per process; each invocation only runs the handler.

use std::sync::Arc;

use lambda_http::{Error, service_fn};
use shared::aws::credential_store::DynamoCredentialStore;
use shared::aws::secrets::SecretsManagerVault;
use shared::config::Config;
use shared::credentials::{Credentials, CredentialsApi, GitLabVerifier, handler};
use shared::gitlab::{HttpClients, Timeouts};

/// Local runs only: accept requests that API Gateway's IAM authorizer did not sign off.
const ALLOW_UNAUTHENTICATED: &str = "CREDENTIALS_API_ALLOW_UNAUTHENTICATED";

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let allow_unauthenticated = match std::env::var(ALLOW_UNAUTHENTICATED).as_deref() {
        Err(_) | Ok("" | "false" | "0") => false,
        Ok("true" | "1") => true,
        Ok(other) => {
            return Err(
                format!("{ALLOW_UNAUTHENTICATED} must be true or false, found {other:?}").into(),
            );
        }
    };
    let aws = aws_config::load_from_env().await;
    let http = Arc::new(HttpClients::new(
        config.network_policy,
        Timeouts::default(),
    )?);
    let api = CredentialsApi {
        credentials: Credentials {
            store: DynamoCredentialStore::new(
                aws_sdk_dynamodb::Client::new(&aws),
                config.state_table.clone(),
            ),
            vault: SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&aws)),
            verifier: GitLabVerifier::new(http, config.default_requests_per_minute),
            secret_name_prefix: config.secret_name_prefix.clone(),
            default_base_url: config.default_gitlab_base_url.clone(),
        },
        allow_unauthenticated,
    };
    lambda_http::run(service_fn(|req| handler(&api, req))).await
}
