//! The sync worker Lambda: SQS sync queue -> `shared::sync::SyncWorker`, one project's default branch per record.
//! Everything is built once per process; each invocation only runs the handler.

use std::sync::Arc;

use lambda_runtime::{Error, service_fn};
use shared::aws::commit_store::DynamoCommitStore;
use shared::aws::credential_store::DynamoCredentialStore;
use shared::aws::secrets::SecretsManagerVault;
use shared::aws::sync_queue::SqsSyncQueue;
use shared::aws::sync_state_store::DynamoSyncStateStore;
use shared::config::Config;
use shared::credentials::GitLabConnector;
use shared::gitlab::{HttpClients, Timeouts};
use shared::sync::{SyncOptions, SyncWorker};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let worker = SyncWorker::new(
        DynamoCredentialStore::new(dynamodb.clone(), config.state_table.clone()),
        SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&aws)),
        DynamoCommitStore::new(dynamodb.clone(), config.commits_table.clone()),
        DynamoSyncStateStore::new(dynamodb, config.state_table.clone()),
        SqsSyncQueue::new(
            aws_sdk_sqs::Client::new(&aws),
            config.sync_queue_url.clone(),
        ),
        GitLabConnector::new(
            Arc::new(HttpClients::new(
                config.network_policy,
                Timeouts::default(),
            )?),
            config.default_requests_per_minute,
        ),
        SyncOptions::default(),
    );
    lambda_runtime::run(service_fn(|event| worker.handle(event))).await
}
