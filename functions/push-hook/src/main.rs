//! The push hook Lambda: API Gateway HTTP API (public route, GitLab's `X-Gitlab-Token`) ->
//! `shared::entrypoints::push_hook::handler`. Everything is built once per process (`shared::app`).

use lambda_http::{Error, service_fn};
use shared::app::{push_hook_function, start};
use shared::config::Config;
use shared::entrypoints::push_hook::handler;

// One thread: a hook is one secret read (usually cached), one conditional write and one message.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (config, aws) = start(Config::from_env).await?;
    let hooks = push_hook_function(&config, &aws);
    lambda_http::run(service_fn(|req| handler(&hooks, req))).await
}
