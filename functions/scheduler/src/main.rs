//! The scheduler Lambda: EventBridge schedule -> `shared::scheduler::Scheduler`, one tick per event: discover
//! every live credential's projects and send one sync message per eligible project.
//! Everything is built once per process; each invocation only runs the handler.

use std::sync::Arc;

use lambda_runtime::{Error, service_fn};
use shared::aws::credential_store::DynamoCredentialStore;
use shared::aws::project_store::DynamoProjectStore;
use shared::aws::secrets::SecretsManagerVault;
use shared::aws::sync_queue::SqsSyncQueue;
use shared::config::Config;
use shared::credentials::GitLabConnector;
use shared::gitlab::{HttpClients, Timeouts};
use shared::scheduler::{Scheduler, SchedulerOptions};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let scheduler = Scheduler::new(
        DynamoProjectStore::new(dynamodb.clone(), config.state_table.clone()),
        DynamoCredentialStore::new(dynamodb, config.state_table.clone()),
        SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&aws)),
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
        SchedulerOptions::default(),
    );
    lambda_runtime::run(service_fn(|event| scheduler.handle(event))).await
}
