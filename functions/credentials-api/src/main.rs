//! The credentials API Lambda: API Gateway HTTP API (IAM auth) -> `shared::entrypoints::credentials_api::handler`.
//! Everything is built once per process (`shared::app`); each invocation only runs the handler.

use lambda_http::{Error, service_fn};
use shared::app::{credentials_function, start};
use shared::config::Config;
use shared::entrypoints::credentials_api::handler;

// One thread: at the template's memory size a Lambda has less than one vCPU, and more threads only add wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (config, aws) = start(Config::from_env).await?;
    let api = credentials_function(&config, &aws)?;
    lambda_http::run(service_fn(|req| handler(&api, req))).await
}
