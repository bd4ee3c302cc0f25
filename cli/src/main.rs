//! `gitlab-importer`: the operator's command line for the GitLab commit importer. It signs each API request with
//! the caller's AWS credentials (SigV4, as API Gateway's IAM authorizer checks it) and finds the API from the
//! stack's outputs. `main` only parses, runs and maps the outcome to an exit code.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

mod api;
mod args;
mod aws;
mod commands;
mod error;
mod render;
mod token;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    if let args::Command::Completions { shell } = cli.command {
        clap_complete::generate(
            shell,
            &mut args::Cli::command(),
            "gitlab-importer",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("gitlab-importer: starting: {e}");
            return ExitCode::from(error::EXIT_FAILURE);
        }
    };
    match runtime.block_on(commands::run(&cli.global, cli.command)) {
        Ok(()) | Err(error::CliError::OutputClosed) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gitlab-importer: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
