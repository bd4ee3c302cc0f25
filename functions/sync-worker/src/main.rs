//! The sync worker Lambda: SQS sync queue -> `shared::entrypoints::sync_worker` -> `shared::sync::SyncWorker`, one
//! project's default branch per record.
//! Everything is built once per process (`shared::app`); each invocation only runs the handler.

use lambda_runtime::{Error, service_fn};
use shared::config::Config;
use shared::entrypoints::sync_worker::handle;
use shared::sync::SyncOptions;

// One thread: at the template's memory size a Lambda has less than one vCPU, and more threads only add wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let options = SyncOptions {
        writes_per_day: config.commit_writes_per_day,
        ..SyncOptions::default()
    };
    let worker = shared::app::sync_worker_function(&config, &aws, options)?;
    lambda_runtime::run(service_fn(|event| handle(&worker, event))).await
}
