//! The production wiring of each function: its domain service behind the AWS adapters, built from the typed
//! configuration and an AWS SDK configuration. The Lambda mains and the local run both build their functions
//! here, so the local run exercises exactly what is deployed; the mains hand each to its entry point
//! ([`crate::entrypoints`]).

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::aws::commit_reader::DynamoCommitReader;
use crate::aws::commit_store::DynamoCommitStore;
use crate::aws::credential_store::DynamoCredentialStore;
use crate::aws::project_store::DynamoProjectStore;
use crate::aws::rate_bucket::DynamoSlotStore;
use crate::aws::secrets::SecretsManagerVault;
use crate::aws::sync_queue::{SqsSyncQueue, SqsTurnQueue};
use crate::aws::sync_state_store::DynamoSyncStateStore;
use crate::commits::CommitLog;
use crate::config::{Config, ConfigError};
use crate::credentials::{Credentials, GitLabVerifier};
use crate::entrypoints::credentials_api::CredentialsApi;
use crate::gitlab::{GitLabConnector, GitLabError, HttpClients, MemoryBudget, Timeouts};
use crate::hooks::{HookOptions, PushHooks};
use crate::kernel::vault::SecretVault;
use crate::metrics::Emitter;
use crate::projects::{Projects, ProjectsOptions};
use crate::scheduler::{Scheduler, SchedulerOptions};
use crate::sync::{SyncOptions, SyncWorker};

/// The credentials API function.
pub type CredentialsFunction = CredentialsApi<
    DynamoCredentialStore,
    SecretsManagerVault,
    GitLabVerifier,
    DynamoCommitReader,
    DynamoProjectStore,
    SqsSyncQueue,
    SqsTurnQueue,
>;

/// The scheduler function.
pub type SchedulerFunction =
    Scheduler<DynamoProjectStore, DynamoCredentialStore, SecretsManagerVault, SqsSyncQueue>;

/// The push hook function.
pub type PushHookFunction = PushHooks<DynamoProjectStore, SecretsManagerVault, SqsSyncQueue>;

/// The sync worker function.
pub type SyncWorkerFunction = SyncWorker<
    DynamoCredentialStore,
    SecretsManagerVault,
    DynamoCommitStore,
    DynamoSyncStateStore,
    SqsSyncQueue,
>;

/// What every Lambda main does before it builds its function: tracing, the typed configuration read from the
/// environment (start-up fails with its message), and the AWS SDK configuration.
pub async fn start<C>(
    read_config: fn() -> Result<C, ConfigError>,
) -> Result<(C, SdkConfig), ConfigError> {
    crate::telemetry::init();
    let config = read_config()?;
    Ok((config, aws_config::load_from_env().await))
}

/// The scheduler's options as deployed: the defaults, with the discovery memory bound the configuration sets.
pub fn scheduler_options(config: &Config) -> SchedulerOptions {
    SchedulerOptions {
        discovery_max_bytes: config.discovery_max_bytes,
        ..SchedulerOptions::default()
    }
}

/// The sync worker's options as deployed: the defaults, with the daily write ceiling the configuration sets.
pub fn sync_options(config: &Config) -> SyncOptions {
    SyncOptions {
        writes_per_day: config.commit_writes_per_day,
        ..SyncOptions::default()
    }
}

/// The HTTP clients every GitLab request of one function goes through (network guard, timeouts, TLS roots).
fn gitlab_http(config: &Config) -> Result<Arc<HttpClients>, GitLabError> {
    Ok(Arc::new(HttpClients::new(
        config.network_policy.clone(),
        Timeouts::default(),
    )?))
}

fn credential_store(config: &Config, dynamodb: &aws_sdk_dynamodb::Client) -> DynamoCredentialStore {
    DynamoCredentialStore::new(dynamodb.clone(), config.state_table.clone())
}

fn sync_queue(config: &Config, aws: &SdkConfig) -> SqsSyncQueue {
    SqsSyncQueue::new(aws_sdk_sqs::Client::new(aws), config.sync_queue_url.clone())
}

pub fn credentials_function(
    config: &Config,
    aws: &SdkConfig,
) -> Result<CredentialsFunction, GitLabError> {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    Ok(CredentialsApi {
        credentials: Credentials {
            store: credential_store(config, &dynamodb),
            vault: SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(aws))
                .with_kms_key_id(config.secrets_kms_key_id.clone()),
            verifier: GitLabVerifier::new(gitlab_http(config)?, config.default_requests_per_minute),
            secret_name_prefix: config.secret_name_prefix.clone(),
            default_base_url: config.default_gitlab_base_url.clone(),
        },
        commits: CommitLog::new(DynamoCommitReader::new(
            dynamodb.clone(),
            config.commits_table.clone(),
        )),
        projects: Projects {
            store: DynamoProjectStore::new(dynamodb, config.state_table.clone()),
            queue: sync_queue(config, aws),
            turns: SqsTurnQueue::new(
                aws_sdk_sqs::Client::new(aws),
                config.turn_request_queue_url.clone(),
            ),
            options: ProjectsOptions {
                coalesce_window: config.push_coalesce_window,
                ..ProjectsOptions::default()
            },
        },
        allow_unauthenticated: config.allow_unauthenticated,
    })
}

pub fn scheduler_function(
    config: &Config,
    aws: &SdkConfig,
    options: SchedulerOptions,
) -> Result<SchedulerFunction, GitLabError> {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let mut scheduler = Scheduler::new(
        DynamoProjectStore::new(dynamodb.clone(), config.state_table.clone()),
        credential_store(config, &dynamodb),
        SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(aws)),
        sync_queue(config, aws),
        gitlab_connector(config, &dynamodb)?,
        options,
    );
    scheduler.metrics = metrics(&config.metrics_namespace);
    Ok(scheduler)
}

/// Metric lines in the stack's namespace.
fn metrics(namespace: &str) -> Emitter {
    Emitter::new(namespace)
}

/// The GitLab connector of the scheduler and the sync worker: each token's request budget is shared by every
/// process of both through its timeline in the state table.
fn gitlab_connector(
    config: &Config,
    dynamodb: &aws_sdk_dynamodb::Client,
) -> Result<GitLabConnector, GitLabError> {
    Ok(
        GitLabConnector::new(gitlab_http(config)?, config.default_requests_per_minute)
            .with_memory(MemoryBudget::new(config.gitlab_memory_bytes))
            .with_shared_budget(Arc::new(DynamoSlotStore::new(
                dynamodb.clone(),
                config.state_table.clone(),
            ))),
    )
}

pub fn sync_worker_function(
    config: &Config,
    aws: &SdkConfig,
    options: SyncOptions,
) -> Result<SyncWorkerFunction, GitLabError> {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let mut worker = SyncWorker::new(
        credential_store(config, &dynamodb),
        SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(aws)),
        DynamoCommitStore::new(dynamodb.clone(), config.commits_table.clone()),
        DynamoSyncStateStore::new(dynamodb.clone(), config.state_table.clone()),
        sync_queue(config, aws),
        gitlab_connector(config, &dynamodb)?,
        options,
    );
    worker.metrics = metrics(&config.metrics_namespace);
    Ok(worker)
}

/// The connector of a function that reads GitLab answers: its clients share the function's memory budget.
/// The push hook function: it holds no GitLab token and calls no GitLab; it reads hook secrets, takes enqueue
/// leases and sends sync messages.
pub fn push_hook_function(config: &Config, aws: &SdkConfig) -> PushHookFunction {
    push_hooks_reading(
        config,
        aws,
        SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(aws)),
    )
}

/// The push hook function with hook secrets read through `vault` (tests wrap Secrets Manager to count reads).
pub fn push_hooks_reading<V: SecretVault>(
    config: &Config,
    aws: &SdkConfig,
    vault: V,
) -> PushHooks<DynamoProjectStore, V, SqsSyncQueue> {
    let mut hooks = PushHooks::new(
        DynamoProjectStore::new(
            aws_sdk_dynamodb::Client::new(aws),
            config.state_table.clone(),
        ),
        vault,
        sync_queue(config, aws),
        config.secret_name_prefix.clone(),
        HookOptions {
            coalesce_window: config.push_coalesce_window,
            ..HookOptions::default()
        },
    );
    hooks.metrics = metrics(&config.metrics_namespace);
    hooks
}

/// The exporter function.
#[cfg(feature = "export")]
pub type ExporterFunction = crate::export::Exporter<
    crate::aws::export_feed::DynamoChangeFeed,
    crate::aws::export_bucket::S3ExportBucket,
>;

/// The exporter function: it reads the commits table's change index and the state table, and writes to the export
/// bucket. Off AWS (an endpoint URL is set: the local stand-in), S3 is addressed by path, as stand-ins serve it.
#[cfg(feature = "export")]
pub fn exporter_function(
    config: &crate::config::exporter::ExportConfig,
    aws: &SdkConfig,
) -> ExporterFunction {
    let s3 = aws_sdk_s3::config::Builder::from(aws)
        .force_path_style(aws.endpoint_url().is_some())
        .build();
    let mut exporter = crate::export::Exporter::new(
        crate::aws::export_feed::DynamoChangeFeed::new(
            aws_sdk_dynamodb::Client::new(aws),
            config.state_table.clone(),
            config.commits_table.clone(),
        ),
        crate::aws::export_bucket::S3ExportBucket::new(
            aws_sdk_s3::Client::from_conf(s3),
            config.bucket.clone(),
        ),
        crate::export::ExportOptions {
            prefix: config.prefix.clone(),
            settle: config.settle,
            ..crate::export::ExportOptions::default()
        },
    );
    exporter.metrics = metrics(&config.metrics_namespace);
    exporter
}
