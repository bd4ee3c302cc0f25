//! The README's main command (`scripts/local-run`, which starts the AWS stand-in and runs this): the whole
//! pipeline against the local AWS stand-in, with the demo GitLab simulator or a real GitLab.
//!
//! ```text
//! local-run [--monolith-commits N]          demo GitLab (simulator on loopback)
//! GITLAB_TOKEN=... local-run --gitlab-url URL   a real GitLab (the token only from the environment)
//! local-run ... --export DIR                 also writes the analytics dataset (Parquet) to DIR
//! local-run ... --run-name NAME              tables, queues, secrets and demo repositories kept under NAME:
//!                                            a second run of NAME imports incrementally
//! ```
//!
//! Pass 1 imports everything; pass 2 runs the same pipeline again and shows the incremental path (against the
//! demo, after GitLab moved on: new commits and a merge of a branch with old commit dates). Against the demo
//! the table is then checked against `git rev-list` for every project. The run itself is
//! [`testkit::local_session::run_session`].

use std::process::ExitCode;

use shared::secret::SecretString;
use testkit::local_session::{Named, RunName, Session, Source, run_session};

const USAGE: &str = "usage: local-run [--monolith-commits N] [--export DIR] [--run-name NAME] | GITLAB_TOKEN=... \
                     local-run --gitlab-url URL [--export DIR] [--run-name NAME]";

struct Args {
    gitlab_url: Option<String>,
    monolith_commits: usize,
    export: Option<std::path::PathBuf>,
    run_name: Option<RunName>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        gitlab_url: None,
        monolith_commits: 5_000,
        export: None,
        run_name: None,
    };
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
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
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
    let session = match parse_args().and_then(session) {
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
