//! The credentials API Lambda: API Gateway HTTP API (IAM auth) -> `shared::entrypoints::credentials_api::handler`.
//! Everything is built once per process (`shared::app`); each invocation only runs the handler.

use lambda_http::{Error, service_fn};
use shared::config::Config;
use shared::entrypoints::credentials_api::handler;

/// Local runs only: accept requests that API Gateway's IAM authorizer did not sign off.
const ALLOW_UNAUTHENTICATED: &str = "CREDENTIALS_API_ALLOW_UNAUTHENTICATED";

// One thread: at the template's memory size a Lambda has less than one vCPU, and more threads only add wake-ups.
#[tokio::main(flavor = "current_thread")]
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
    let api = shared::app::credentials_function(&config, &aws, allow_unauthenticated)?;
    lambda_http::run(service_fn(|req| handler(&api, req))).await
}
