//! The README's main command (`scripts/local-run`, which starts the AWS stand-in and runs this): the whole
//! pipeline against the local AWS stand-in, with the demo GitLab simulator or a real GitLab.
//!
//! ```text
//! local-run [--monolith-commits N]          demo GitLab (simulator on loopback)
//! GITLAB_TOKEN=... local-run --gitlab-url URL   a real GitLab (the token only from the environment)
//! local-run ... --export DIR                 also writes the analytics dataset (Parquet) to DIR
//! local-run ... --run-name NAME              tables, queues, secrets and demo repositories kept under NAME:
//!                                            a second run of NAME imports incrementally
//! local-run --serve [--tick-seconds N] [--stack-name NAME] [--connection ID] [--monolith-commits N]
//!                                            keeps the pipeline, the demo GitLab and the signed API up for the
//!                                            gitlab-importer CLI until Ctrl-C (testkit::local_serve)
//! ```
//!
//! Pass 1 imports everything; pass 2 runs the same pipeline again and shows the incremental path (against the
//! demo, after GitLab moved on: new commits and a merge of a branch with old commit dates). Against the demo
//! the table is then checked against `git rev-list` for every project. The run itself is
//! [`testkit::local_session::run_session`].

use std::process::ExitCode;

use shared::secret::SecretString;
use testkit::local_serve::{ServeOptions, serve_until_interrupted};
use testkit::local_session::{Named, RunName, Session, Source, run_session};

const USAGE: &str = "usage: local-run [--monolith-commits N] [--export DIR] [--run-name NAME] | GITLAB_TOKEN=... \
                     local-run --gitlab-url URL [--export DIR] [--run-name NAME] | local-run --serve \
                     [--tick-seconds N] [--stack-name NAME] [--connection ID] [--monolith-commits N]";

struct Args {
    gitlab_url: Option<String>,
    monolith_commits: usize,
    export: Option<std::path::PathBuf>,
    run_name: Option<RunName>,
    /// `--serve` and its options (`None`: the run from start to summary).
    serve: Option<ServeOptions>,
}

/// Whether a flag belongs to `--serve` only.
fn serve_only(flag: &str) -> bool {
    matches!(flag, "--tick-seconds" | "--stack-name" | "--connection")
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        gitlab_url: None,
        monolith_commits: 5_000,
        export: None,
        run_name: None,
        serve: None,
    };
    let mut serve = ServeOptions::default();
    let mut serving = false;
    let mut serve_flags = Vec::new();
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || given.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--gitlab-url" => args.gitlab_url = Some(value()?),
            "--export" => args.export = Some(value()?.into()),
            "--run-name" => {
                args.run_name = Some(RunName::parse(&value()?).map_err(|e| e.to_string())?);
            }
            "--monolith-commits" => {
                args.monolith_commits = value()?
                    .parse()
                    .map_err(|_| "--monolith-commits takes a whole number".to_owned())?;
            }
            "--serve" => serving = true,
            "--tick-seconds" => {
                let seconds: u64 = value()?
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or("--tick-seconds takes a whole number of seconds above 0")?;
                serve.tick_every = std::time::Duration::from_secs(seconds);
            }
            "--stack-name" => serve.stack_name = value()?,
            "--connection" => serve.connection = value()?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
        if serve_only(&flag) {
            serve_flags.push(flag);
        }
    }
    if serving {
        if args.gitlab_url.is_some() || args.export.is_some() || args.run_name.is_some() {
            return Err(
                "--serve serves the demo GitLab: no --gitlab-url, --export or --run-name".into(),
            );
        }
        serve.monolith_commits = args.monolith_commits;
        args.serve = Some(serve);
        return Ok(args);
    }
    if let Some(flag) = serve_flags.first() {
        return Err(format!("{flag} goes with --serve"));
    }
    if args.run_name.is_some() && std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        return Err(
            "--run-name needs AWS_ENDPOINT_URL: a stand-in that outlives the run keeps its tables"
                .into(),
        );
    }
    Ok(args)
}

fn session(args: Args) -> Result<Session, String> {
    let source = match args.gitlab_url {
        Some(base_url) => {
            let token = std::env::var("GITLAB_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .ok_or("--gitlab-url needs the token in the GITLAB_TOKEN environment variable")?;
            Source::Real {
                base_url,
                token: SecretString::new(token),
            }
        }
        None => Source::Demo {
            monolith_commits: args.monolith_commits,
        },
    };
    Ok(Session {
        source,
        export: args.export,
        named: args.run_name.map(|name| Named {
            dir: name.default_dir(),
            name,
        }),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    if let Some(options) = args.serve {
        return match serve_until_interrupted(options).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("local-run --serve failed: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let session = match session(args) {
        Ok(session) => session,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run_session(session).await {
        Ok(report) if report.mismatches.is_empty() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("local-run failed: {error}");
            ExitCode::FAILURE
        }
    }
}
