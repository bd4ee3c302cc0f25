//! Test support shared by every test of the workspace (one place, not copied per test file):
//! - [`gitlab_sim`]: an HTTP server speaking GitLab REST v4, backed by real git repositories;
//! - [`git_fixture`]: builds those repositories with the git CLI and answers the `git rev-list` oracle;
//! - [`aws_local`]: the local AWS stand-in (moto server) with the tables and queues of `template.yaml`;
//! - [`api_front`]: API Gateway's HTTP API in front of a Lambda handler, on loopback;
//! - [`tls_front`]: a TLS front with a private CA, for self-managed GitLab behind one;
//! - [`loopback_alias`]: a private address on the loopback interface, for a GitLab on a private network;
//! - [`clients`]: GitLab clients pointed at the simulator;
//! - [`log_sink`]: a log sink for a test's own tracing subscriber;
//! - in-memory fakes of the ports are `shared::testing` (the `testing` feature), next to the ports they fake;
//! - [`demo`]: the demo GitLab of the local run and the end-to-end test;
//! - [`local_run`]: the whole pipeline in one process against the stand-in, as the README's main command runs it;
//! - [`local_session`]: the README's main command from start to summary (`local-run`), named runs included;
//! - [`local_serve`]: `local-run --serve`, the pipeline, the demo GitLab and the signed API kept up for the CLI;
//! - [`push_pipeline`]: a one-project GitLab whose pushes reach the push hook handler, for hook tests and benches;
//! - [`bench_support`]: a simulator child process, /proc measurements and a commit store that keeps nothing, for
//!   the benchmarks;
//! - [`token_processes`]: GitLab clients of one token in processes of their own, sharing its budget or not;
//! - [`lambda_events`]: the events AWS sends the functions, and what an SQS event source mapping does with answers;
//! - [`runtime_api`], [`lambda_process`], [`lambda_environment`]: a built `bootstrap` run as Lambda runs it, behind
//!   a Lambda Runtime API, with the environment `template.yaml` gives it;
//! - [`artifact_run`]: the five built functions driving the whole pipeline (the artifact run);
//! - [`built_binary`]: a binary of the workspace beside the running one (the CLI, `local-run`).

pub mod api_front;
pub mod artifact_run;
pub mod aws_local;
pub mod bench_support;
pub mod clients;
pub mod demo;
pub mod git_fixture;
pub mod gitlab_sim;
pub mod lambda_environment;
pub mod lambda_events;
pub mod lambda_process;
pub mod local_run;
pub mod local_serve;
pub mod local_session;
pub mod log_sink;
pub mod loopback_alias;
pub mod push_pipeline;
pub mod runtime_api;
pub mod tls_front;
pub mod token_processes;

/// A binary of the workspace where cargo builds it beside the running one: in the same folder (a binary) or the
/// one above (a test binary, in `deps/`). `None` when it is not built.
pub fn built_binary(name: &str) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}
