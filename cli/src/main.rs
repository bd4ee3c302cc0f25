//! `gitlab-importer`: the operator's command line for the GitLab commit importer. It signs each API request with
//! the caller's AWS credentials (SigV4, as API Gateway's IAM authorizer checks it) and finds the API from the
//! stack's outputs. `main` only parses, runs and maps the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

use crate::error::CliError;

mod api;
mod args;
mod aws;
mod commands;
mod error;
mod render;
mod token;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failure(format!("starting: {e}")));
    exit(runtime.and_then(|runtime| runtime.block_on(commands::run(&cli.global, cli.command))))
}

/// The exit code of an outcome, its error said on standard error.
fn exit(outcome: Result<(), CliError>) -> ExitCode {
    match outcome {
        Ok(()) | Err(CliError::OutputClosed) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gitlab-importer: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
