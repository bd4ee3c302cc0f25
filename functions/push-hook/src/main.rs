//! The push hook Lambda: API Gateway HTTP API (public route, GitLab's `X-Gitlab-Token`) ->
//! `shared::entrypoints::push_hook::handler`. Everything is built once per process (`shared::app`).

use lambda_http::{Error, service_fn};
use shared::config::Config;
use shared::entrypoints::push_hook::handler;

// One thread: a hook is one secret read (usually cached), one conditional write and one message.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let hooks = shared::app::push_hook_function(&config, &aws);
    lambda_http::run(service_fn(|req| handler(&hooks, req))).await
}
