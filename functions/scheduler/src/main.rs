//! The scheduler Lambda: EventBridge schedule -> `shared::entrypoints::scheduler` -> `shared::scheduler::Scheduler`,
//! one tick per event: discover every live credential's projects and send one sync message per eligible project.
//! Everything is built once per process (`shared::app`); each invocation only runs the handler.

use lambda_runtime::{Error, service_fn};
use shared::app::{scheduler_function, scheduler_options, start};
use shared::config::Config;
use shared::entrypoints::scheduler::handle;

// One thread: at the template's memory size a Lambda has less than one vCPU, and more threads only add wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (config, aws) = start(Config::from_env).await?;
    let scheduler = scheduler_function(&config, &aws, scheduler_options(&config))?;
    lambda_runtime::run(service_fn(|event| handle(&scheduler, event))).await
}
