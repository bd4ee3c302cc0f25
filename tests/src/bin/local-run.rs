//! The README's main command (`scripts/local-run`, which starts the AWS stand-in and runs this): the whole
//! pipeline against the local AWS stand-in, with the demo GitLab simulator or a real GitLab.
//!
//! ```text
//! local-run [--monolith-commits N]          demo GitLab (simulator on loopback)
//! GITLAB_TOKEN=... local-run --gitlab-url URL   a real GitLab (the token only from the environment)
//! local-run ... --export DIR                 also writes the analytics dataset (Parquet) to DIR
//! ```
//!
//! Pass 1 imports everything; pass 2 runs the same pipeline again and shows the incremental path (against the
//! demo, after GitLab moved on: new commits and a merge of a branch with old commit dates). Against the demo
//! the table is then checked against `git rev-list` for every project.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use testkit::demo::{DEMO_TOKEN, Demo, differences_from_git};
use testkit::git_fixture::CommitSpec;
use testkit::gitlab_sim::Simulator;
use testkit::local_run::{
    CONNECTION, GitLabTarget, LocalRun, LocalRunError, PassSummary, Tuning, last_sync_differences,
};

struct Args {
    gitlab_url: Option<String>,
    monolith_commits: usize,
    export: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        gitlab_url: None,
        monolith_commits: 5_000,
        export: None,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || given.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--gitlab-url" => args.gitlab_url = Some(value()?),
            "--export" => args.export = Some(value()?.into()),
            "--monolith-commits" => {
                args.monolith_commits = value()?
                    .parse()
                    .map_err(|_| "--monolith-commits takes a whole number".to_owned())?;
            }
            "-h" | "--help" => {
                return Err(
                    "usage: local-run [--monolith-commits N] [--export DIR] | GITLAB_TOKEN=... local-run --gitlab-url URL [--export DIR]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
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
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("local-run failed: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The GitLab to import from: the demo simulator, or the given one with the token from the environment.
enum Source {
    Demo(Box<Demo>, Simulator),
    Real { token: String },
}

async fn run(args: Args) -> Result<bool, LocalRunError> {
    let started = Instant::now();
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let (mut source, target) = match &args.gitlab_url {
        Some(url) => {
            let token = std::env::var("GITLAB_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| {
                    LocalRunError::Config(
                        "--gitlab-url needs the token in the GITLAB_TOKEN environment variable"
                            .into(),
                    )
                })?;
            let target = GitLabTarget {
                base_url: url.clone(),
                requests_per_minute: 2_000,
            };
            (Source::Real { token }, target)
        }
        None => {
            eprintln!(
                "building the demo GitLab: 8 groups (3 levels deep), 12 projects, {} + ~500 commits of history...",
                args.monolith_commits
            );
            let (demo, world) = Demo::build(args.monolith_commits);
            eprintln!(
                "demo GitLab built in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            let sim = Simulator::start(world)
                .await
                .map_err(|e| LocalRunError::Config(format!("starting the simulator: {e}")))?;
            let target = GitLabTarget {
                base_url: sim.base_url(),
                requests_per_minute: 60_000,
            };
            (Source::Demo(Box::new(demo), sim), target)
        }
    };
    let prefix = format!("local-{}", time::OffsetDateTime::now_utc().unix_timestamp());
    eprintln!(
        "AWS stand-in: {endpoint}; GitLab: {}; resources: {prefix}-*",
        target.base_url
    );
    let run = LocalRun::prepare(&prefix, &target, true, Tuning::default()).await?;
    eprintln!(
        "tables and queues of template.yaml created ({:.1} s in)",
        started.elapsed().as_secs_f64()
    );
    let token = match &source {
        Source::Demo(..) => DEMO_TOKEN,
        Source::Real { token } => token.as_str(),
    };
    let credential = run
        .create_credential(CONNECTION, &target.base_url, token, "local run")
        .await?;
    eprintln!(
        "credentials.create: credential {} is {} (the token is in Secrets Manager only)",
        credential["id"].as_str().unwrap_or("?"),
        credential["status"].as_str().unwrap_or("?")
    );

    eprintln!("\n== pass 1: first import");
    let first = run.pass().await?;
    let mut lines = vec![summary_line("pass 1 (first import)", &first)];
    let mut passes = vec![first];

    if let Source::Demo(demo, sim) = &source {
        eprintln!("\n== push hooks: {HOOK_PUSHES} pushes to {HOOK_PROJECT}, no scheduler tick");
        let pushed = push_hooks(&run, demo, sim).await?;
        lines.push(summary_line("push hooks", &pushed));
        passes.push(pushed);
    }

    if let Source::Demo(demo, _) = &mut source {
        let new = demo.advance(500);
        eprintln!(
            "\nGitLab moves on: {} new commits on acme/platform/api (a merge of a branch whose commits are dated \
             months before pass 1, and a release) and acme/monolith",
            new.len()
        );
    }
    // The local run's enqueue lease is one second: let it lapse, as an hour would in AWS.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    eprintln!("\n== pass 2: the same pipeline again (incremental)");
    let second = run.pass().await?;
    lines.push(summary_line("pass 2 (incremental)", &second));
    passes.push(second);

    let commits = run.count_items("CommitsTable").await?;
    let dead = run.dead_letters().await?;
    let info = run
        .credential_info(CONNECTION, credential["id"].as_str().unwrap_or_default())
        .await;
    println!("\nsummary");
    for line in &lines {
        println!("  {line}");
    }
    println!("  commits table: {commits} items; dead-letter queue: {dead} messages");
    println!("  credentials.info last_sync: {}", info["last_sync"]);
    let mut ok = dead == 0;
    let passes: Vec<&PassSummary> = passes.iter().collect();
    let differences = last_sync_differences(&info["last_sync"], &passes);
    if differences.is_empty() {
        println!(
            "  checked: last_sync agrees with the run (projects, statuses, commits, last error)"
        );
    } else {
        ok = false;
        for difference in differences {
            println!("  MISMATCH {difference}");
        }
    }
    if let Source::Demo(demo, sim) = &source {
        let differences = differences_from_git(demo, sim, &run).await;
        if differences.is_empty() {
            println!(
                "  checked: the commits table equals `git rev-list` for every one of the {} demo projects",
                demo.projects.len()
            );
        } else {
            ok = false;
            for difference in differences {
                println!("  MISMATCH {difference}");
            }
        }
        println!(
            "  the simulator counted {} GitLab requests in all",
            sim.total_requests()
        );
    }
    if let Some(dir) = &args.export {
        let report = run.export_to(dir).await?;
        let files = dir.join("commits").join("**").join("*.parquet");
        println!(
            "  export: {} rows in {} Parquet files ({} bytes) under {}; query them with DuckDB:",
            report.rows,
            report.files,
            report.bytes,
            dir.display()
        );
        println!(
            "    .venv/bin/python -c \"import duckdb; duckdb.sql(\\\"SELECT project_path, count(*) AS commits \
             FROM read_parquet('{}', hive_partitioning = true) WHERE removed_at IS NULL GROUP BY 1 ORDER BY 2 DESC\\\").show()\"",
            files.display()
        );
        println!(
            "    (the saved queries of sql/: .venv/bin/python scripts/query-export {})",
            dir.display()
        );
    }
    println!(
        "  total time {:.1} s; tables {} and {} at {endpoint}",
        started.elapsed().as_secs_f64(),
        run.config.state_table,
        run.config.commits_table
    );
    if let Source::Demo(_, sim) = source {
        sim.shutdown().await;
    }
    Ok(ok)
}

/// The demo project the push hook step pushes to, and how many times.
const HOOK_PROJECT: &str = "partners/docs";
const HOOK_PUSHES: usize = 3;

/// GitLab's push hooks wired to the push hook handler (behind the route API Gateway gives it, on loopback, with
/// the secret `credentials.create` made): each push waits until its commit is in the table, as a user would.
async fn push_hooks(
    run: &LocalRun,
    demo: &Demo,
    sim: &Simulator,
) -> Result<PassSummary, LocalRunError> {
    let hooks = run.serve_push_hooks(sim, CONNECTION).await?;
    eprintln!(
        "  GitLab's push hook: POST {} (X-Gitlab-Token: the connection's hook secret)",
        hooks.url
    );
    let project = sim
        .with_world(|w| w.find_project(HOOK_PROJECT))
        .ok_or_else(|| LocalRunError::Config(format!("the demo has no {HOOK_PROJECT}")))?;
    let repo = &demo.project(HOOK_PROJECT).repo;
    let mut summary = PassSummary::default();
    let started = Instant::now();
    for i in 0..HOOK_PUSHES {
        let pushed_at = Instant::now();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let head = sim
            .push(project, "main", |_| {
                repo.commit(CommitSpec::new(&format!("Docs: hook demo {i}"), now));
            })
            .await
            .after;
        let push_took = pushed_at.elapsed();
        let (drained, waited) = run
            .drain_until_head(CONNECTION, project, &head, Duration::from_secs(60))
            .await?;
        let latency = waited.map(|waited| push_took + waited);
        eprintln!(
            "  push {}: {} in the table {} after the push",
            i + 1,
            &head[..8],
            latency.map_or("not yet (60 s)".to_owned(), |l| format!(
                "{:.1} s",
                l.as_secs_f64()
            ))
        );
        summary.absorb(drained);
    }
    summary.elapsed = started.elapsed();
    sim.clear_hook();
    hooks.front.stop().await;
    Ok(summary)
}

fn summary_line(label: &str, pass: &PassSummary) -> String {
    let results: Vec<String> = pass
        .results
        .iter()
        .map(|(result, n)| format!("{n} {result}"))
        .collect();
    format!(
        "{label}: {} projects found, {} enqueued, {} held as refused by GitLab; syncs: {}; {} commits \
         written; GitLab requests: {} (scheduler {}, sync {}); {} worker invocations; {:.1} s",
        pass.discovered,
        pass.enqueued,
        pass.inaccessible,
        results.join(", "),
        pass.commits_written,
        pass.scheduler_requests + pass.sync_requests,
        pass.scheduler_requests,
        pass.sync_requests,
        pass.invocations,
        pass.elapsed.as_secs_f64()
    )
}
