//! The sync worker Lambda: SQS sync queue -> `shared::entrypoints::sync_worker` -> `shared::sync::SyncWorker`, one
//! project's default branch per record.
//! Everything is built once per process (`shared::app`); each invocation only runs the handler.

use lambda_runtime::{Error, service_fn};
use shared::app::{start, sync_options, sync_worker_function};
use shared::config::Config;
use shared::entrypoints::sync_worker::handle;

// One thread: at the template's memory size a Lambda has less than one vCPU, and more threads only add wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (config, aws) = start(Config::from_env).await?;
    let worker = sync_worker_function(&config, &aws, sync_options(&config))?;
    lambda_runtime::run(service_fn(|event| handle(&worker, event))).await
}
