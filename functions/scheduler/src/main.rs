//! The scheduler Lambda: EventBridge schedule -> `shared::entrypoints::scheduler` -> `shared::scheduler::Scheduler`,
//! one tick per event: discover
//! every live credential's projects and send one sync message per eligible project.
//! Everything is built once per process (`shared::app`); each invocation only runs the handler.

use lambda_runtime::{Error, service_fn};
use shared::config::Config;
use shared::entrypoints::scheduler::handle;
use shared::scheduler::SchedulerOptions;

// One thread: at the template's memory size a Lambda has less than one vCPU, and more threads only add wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let options = SchedulerOptions {
        discovery_max_bytes: config.discovery_max_bytes,
        ..SchedulerOptions::default()
    };
    let scheduler = shared::app::scheduler_function(&config, &aws, options)?;
    lambda_runtime::run(service_fn(|event| handle(&scheduler, event))).await
}
