//! The local run as `local-run` runs it, from start to summary: the GitLab (the demo simulator or a real one),
//! the stand-in's tables, the credential, pass 1, the push hooks, GitLab moving on, pass 2 and the checks. The
//! binary parses arguments and calls [`run_session`]; tests call it the same way.
//!
//! A named run ([`RunName`]) outlives its process: its tables, queues and secrets keep the name on a stand-in
//! that outlives the run, the demo's repositories are kept in a folder, and the simulator listens on a port
//! derived from the name (the connection is bound to the instance URL). A second run of the same name meets
//! GitLab as the first left it, makes it move on, and imports only what is new.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use shared::secret::SecretString;

use crate::demo::{DEMO_TOKEN, Demo, differences_from_git};
use crate::git_fixture::CommitSpec;
use crate::gitlab_sim::Simulator;
use crate::local_run::{
    CONNECTION, GitLabTarget, LocalRun, LocalRunError, PassSummary, Tuning,
    last_sync_differences_since,
};

/// A run name that is not `[a-z0-9-]{1,32}`.
#[derive(Debug, thiserror::Error)]
#[error("the run name {0:?} must be 1 to 32 of a-z, 0-9 and -")]
pub struct InvalidRunName(String);

/// The name of a run whose tables and demo repositories a later run picks up again: `[a-z0-9-]{1,32}`, so it
/// fits in resource names, a folder name and a secret path as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunName(String);

impl RunName {
    pub fn parse(name: &str) -> Result<RunName, InvalidRunName> {
        let valid = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(RunName(name.to_owned()))
        } else {
            Err(InvalidRunName(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where `local-run` keeps the run's demo repositories: `target/local-run/<name>/` of the workspace. Not the
    /// system's temporary folder, which may be emptied between two runs; `cargo clean` removes it with the rest.
    pub fn default_dir(&self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/local-run")
            .join(&self.0)
    }

    /// The simulator's port for this run: fixed by the name (FNV-1a), in 20000..30000, below Linux's ephemeral
    /// range (32768 and up) so that no outgoing connection holds it by chance.
    pub fn port(&self) -> u16 {
        let hash = self.0.bytes().fold(0x811c_9dc5_u32, |hash, b| {
            (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        20_000 + (hash % 10_000) as u16
    }
}

/// Where the commits come from (a token prints redacted).
#[derive(Debug)]
pub enum Source {
    /// The demo GitLab, its biggest project of `monolith_commits` commits (the first run of a name only).
    Demo { monolith_commits: usize },
    /// A real GitLab (read-only: projects and commits are listed, nothing written).
    Real {
        base_url: String,
        token: SecretString,
    },
}

/// A named run: its name, and the folder that keeps its demo repositories.
#[derive(Debug)]
pub struct Named {
    pub name: RunName,
    pub dir: PathBuf,
}

/// What to run.
#[derive(Debug)]
pub struct Session {
    pub source: Source,
    /// Also write the analytics dataset (Parquet) to this folder at the end.
    pub export: Option<PathBuf>,
    pub named: Option<Named>,
}

/// How the run went, for its exit code and for tests.
#[derive(Debug)]
pub struct SessionReport {
    /// The tables were there from an earlier run of the same name.
    pub reused_tables: bool,
    /// Items in the commits table before this run's passes.
    pub commits_before: i64,
    /// Commits GitLab made between a named demo's earlier run and this one's pass 1.
    pub moved_on: Option<usize>,
    /// Pass 1, the push hooks (demo only) and pass 2.
    pub passes: Vec<PassSummary>,
    /// The connection's credentials at the end (`credentials.list`).
    pub credentials: usize,
    /// Every check that failed (dead letters, `last_sync`, the table against git, an import that was not
    /// incremental); empty when the run is good.
    pub mismatches: Vec<String>,
}

/// Commits `acme/monolith` gets each time the demo GitLab moves on.
const MOVE_ON_COMMITS: usize = 500;

/// The demo project the push hook step pushes to, and how many times.
const HOOK_PROJECT: &str = "partners/docs";
const HOOK_PUSHES: usize = 3;

/// The GitLab the run imports from.
enum Gitlab {
    Demo(Box<Demo>, Simulator),
    Real(SecretString),
}

/// Runs the whole local run: progress on stderr, the summary on stdout. `Err` when a step could not run at
/// all; checks that fail are in the report.
pub async fn run_session(session: Session) -> Result<SessionReport, LocalRunError> {
    let started = Instant::now();
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let name = session.named.as_ref().map(|n| n.name.as_str());
    let (mut gitlab, target, opened) = match session.source {
        Source::Real { base_url, token } => {
            let target = GitLabTarget {
                base_url,
                requests_per_minute: 2_000,
            };
            (Gitlab::Real(token), target, false)
        }
        Source::Demo { monolith_commits } => {
            let (demo, world, opened) = match &session.named {
                Some(named) => {
                    eprintln!(
                        "the demo GitLab of run {}: repositories in {}",
                        named.name.as_str(),
                        named.dir.display()
                    );
                    Demo::build_or_open(&named.dir, monolith_commits).map_err(|e| {
                        LocalRunError::Config(format!("{}: {e}", named.dir.display()))
                    })?
                }
                _ => {
                    eprintln!(
                        "building the demo GitLab: 8 groups (3 levels deep), 12 projects, {monolith_commits} + \
                         ~500 commits of history..."
                    );
                    let (demo, world) = Demo::build(monolith_commits);
                    (demo, world, false)
                }
            };
            eprintln!(
                "demo GitLab {} in {:.1} s",
                if opened { "opened" } else { "built" },
                started.elapsed().as_secs_f64()
            );
            let sim = match &session.named {
                Some(named) => {
                    let port = named.name.port();
                    Simulator::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), world)
                        .await
                        .map_err(|e| {
                            LocalRunError::Config(format!(
                                "the demo GitLab of run {} listens on 127.0.0.1:{port} (the port follows from \
                                 the name, as the connection is bound to the instance URL): {e}; is a run of \
                                 that name still going? Otherwise choose another name",
                                named.name.as_str()
                            ))
                        })?
                }
                None => Simulator::start(world)
                    .await
                    .map_err(|e| LocalRunError::Config(format!("starting the simulator: {e}")))?,
            };
            let target = GitLabTarget::simulator(&sim);
            (Gitlab::Demo(Box::new(demo), sim), target, opened)
        }
    };
    let (prefix, run) = match name {
        Some(name) => {
            let prefix = format!("local-{name}");
            let run = LocalRun::resume(&prefix, &target, true, Tuning::default()).await?;
            (prefix, run)
        }
        None => {
            let prefix = format!("local-{}", time::OffsetDateTime::now_utc().unix_timestamp());
            let run = LocalRun::prepare(&prefix, &target, true, Tuning::default()).await?;
            (prefix, run)
        }
    };
    eprintln!(
        "AWS stand-in: {endpoint}; GitLab: {}; resources: {prefix}-*",
        target.base_url
    );
    let reused_tables = !run.aws.reused_tables().is_empty();
    let commits_before = run.count_items("CommitsTable").await?;
    if reused_tables {
        eprintln!(
            "reused the tables of run {} ({}): {commits_before} commits in them from earlier runs",
            name.unwrap_or_default(),
            run.aws.reused_tables().join(", ")
        );
    } else {
        eprintln!(
            "tables and queues of template.yaml created ({:.1} s in)",
            started.elapsed().as_secs_f64()
        );
    }
    if let (Gitlab::Demo(..), Some(named)) = (&gitlab, &session.named)
        && !opened
        && commits_before > 0
    {
        return Err(LocalRunError::Config(format!(
            "the tables of run {} hold {commits_before} commits, but its demo repositories in {} were built anew \
             (the folder was removed?): their history is not the one imported; delete the tables or choose \
             another name",
            named.name.as_str(),
            named.dir.display()
        )));
    }

    let token = match &gitlab {
        Gitlab::Demo(..) => DEMO_TOKEN,
        Gitlab::Real(token) => token.expose(),
    };
    let credential = credential(&run, &target, token).await?;
    let credential_id = credential["id"].as_str().unwrap_or_default().to_owned();
    let before = run.credential_info(CONNECTION, &credential_id).await["last_sync"].clone();

    let mut moved_on = None;
    if let Gitlab::Demo(demo, sim) = &mut gitlab
        && opened
    {
        let new = demo.advance(sim, MOVE_ON_COMMITS).len();
        eprintln!(
            "\nGitLab moved on since the last run of {}: {new} new commits on acme/platform/api and acme/monolith",
            name.unwrap_or_default()
        );
        moved_on = Some(new);
    }
    if reused_tables {
        // An earlier run's enqueue lease (one second in a local run) must lapse, as it would between two ticks.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
    }

    let first_label = if reused_tables {
        "pass 1 (incremental, on the earlier run's tables)"
    } else {
        "pass 1 (first import)"
    };
    eprintln!("\n== {first_label}");
    let first = run.pass().await?;
    let mut lines = vec![summary_line(first_label, &first)];
    let mut mismatches = Vec::new();
    if let (true, Some(new)) = (reused_tables, moved_on) {
        // Incremental: pass 1 writes exactly what GitLab made since, nothing the tables already hold.
        lines.push(format!(
            "pass 1 imported {} commits; GitLab made {new} since the last run of {}",
            first.commits_written,
            name.unwrap_or_default()
        ));
        if first.commits_written != new {
            mismatches.push(format!(
                "pass 1 wrote {} commits, but only {new} are new since the last run",
                first.commits_written
            ));
        }
    }
    let mut passes = vec![first];

    if let Gitlab::Demo(demo, sim) = &gitlab {
        eprintln!("\n== push hooks: {HOOK_PUSHES} pushes to {HOOK_PROJECT}, no scheduler tick");
        let pushed = push_hooks(&run, demo, sim).await?;
        lines.push(summary_line("push hooks", &pushed));
        passes.push(pushed);
    }

    if let Gitlab::Demo(demo, sim) = &mut gitlab {
        let new = demo.advance(sim, MOVE_ON_COMMITS);
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
    let info = run.credential_info(CONNECTION, &credential_id).await;
    let credentials = run.credentials(CONNECTION).await?.len();
    println!("\nsummary");
    if reused_tables {
        println!(
            "  reused the tables of run {}: {commits_before} commits in them before this run",
            name.unwrap_or_default()
        );
    }
    for line in &lines {
        println!("  {line}");
    }
    println!("  commits table: {commits} items; dead-letter queue: {dead} messages");
    println!("  credentials.info last_sync: {}", info["last_sync"]);
    println!("  projects.list:");
    for line in Box::pin(project_table(&run)).await {
        println!("    {line}");
    }
    if dead > 0 {
        mismatches.push(format!("{dead} messages in the dead-letter queue"));
    }
    let summaries: Vec<&PassSummary> = passes.iter().collect();
    let differences = last_sync_differences_since(&info["last_sync"], &before, &summaries);
    if differences.is_empty() {
        println!(
            "  checked: last_sync agrees with the run (projects, statuses, commits, last error)"
        );
    }
    mismatches.extend(differences);
    if credentials != 1 {
        mismatches.push(format!(
            "the connection has {credentials} credentials, the run made or reused one"
        ));
    }
    if let Gitlab::Demo(demo, sim) = &gitlab {
        let differences = differences_from_git(demo, sim, &run).await;
        if differences.is_empty() {
            println!(
                "  checked: the commits table equals `git rev-list` for every one of the {} demo projects",
                demo.projects.len()
            );
        }
        mismatches.extend(differences);
        println!(
            "  the simulator counted {} GitLab requests in all",
            sim.total_requests()
        );
    }
    for mismatch in &mismatches {
        println!("  MISMATCH {mismatch}");
    }
    if let Some(dir) = &session.export {
        print_export(&run, dir).await?;
    }
    println!(
        "  total time {:.1} s; tables {} and {} at {endpoint}",
        started.elapsed().as_secs_f64(),
        run.config.state_table,
        run.config.commits_table
    );
    if let Some(name) = name {
        println!(
            "  run it again on the same stand-in to import incrementally: local-run --run-name {name}"
        );
    }
    if let Gitlab::Demo(_, sim) = gitlab {
        sim.shutdown().await;
    }
    Ok(SessionReport {
        reused_tables,
        commits_before,
        moved_on,
        passes,
        credentials,
        mismatches,
    })
}

/// Every project of the connection as `projects.list` answers, page by page, as a table: path, status, commits
/// written, the head imported, the last sync, the last error.
async fn project_table(run: &LocalRun) -> Vec<String> {
    let mut rows = vec![format!(
        "{:<34} {:<9} {:>8} {:<12} {:<20} {}",
        "project", "status", "commits", "last head", "last synced", "last error"
    )];
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let route = match &cursor {
            Some(cursor) => format!("projects.list?limit=100&cursor={cursor}"),
            None => "projects.list?limit=100".to_owned(),
        };
        let (status, body) = run.call_api(CONNECTION, "GET", &route, None).await;
        if status != 200 {
            rows.push(format!("projects.list answered {status}: {body}"));
            break;
        }
        for project in body["projects"].as_array().into_iter().flatten() {
            let text = |field: &str| project[field].as_str().unwrap_or("-").to_owned();
            let head = text("last_head");
            rows.push(format!(
                "{:<34} {:<9} {:>8} {:<12} {:<20} {}",
                text("path_with_namespace"),
                text("status"),
                project["commits_written"],
                &head[..head.len().min(12)],
                text("last_synced_at"),
                project["last_error"]["code"].as_str().unwrap_or("-"),
            ));
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    rows
}

/// The connection's live credential for this GitLab if an earlier run made one (so a named run never adds a
/// second), else a new one through `credentials.create`.
async fn credential(
    run: &LocalRun,
    target: &GitLabTarget,
    token: &str,
) -> Result<Value, LocalRunError> {
    let existing = run.credentials(CONNECTION).await?.into_iter().find(|c| {
        c["status"] == "active" && c["settings"]["base_url"].as_str() == Some(&target.base_url)
    });
    if let Some(credential) = existing {
        eprintln!(
            "credentials.list: credential {} of the earlier run is active: reused",
            credential["id"].as_str().unwrap_or("?")
        );
        return Ok(credential);
    }
    let credential = run
        .create_credential(CONNECTION, &target.base_url, token, "local run")
        .await?;
    eprintln!(
        "credentials.create: credential {} is {} (the token is in Secrets Manager only)",
        credential["id"].as_str().unwrap_or("?"),
        credential["status"].as_str().unwrap_or("?")
    );
    Ok(credential)
}

/// `--export DIR`: the dataset to the folder, and how to query it.
async fn print_export(run: &LocalRun, dir: &Path) -> Result<(), LocalRunError> {
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
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_are_short_lowercase_words() {
        for good in ["demo1", "a", "my-run-2", &"x".repeat(32)] {
            assert!(RunName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "Demo", "a_b", "a b", "../x", "é", &"x".repeat(33)] {
            let error = RunName::parse(bad).unwrap_err().to_string();
            assert!(error.contains("a-z, 0-9 and -"), "{error}");
        }
    }

    #[test]
    fn a_name_keeps_its_port_and_names_differ_in_ports() {
        let demo = RunName::parse("demo1").unwrap();
        assert_eq!(demo.port(), RunName::parse("demo1").unwrap().port());
        assert!((20_000..30_000).contains(&demo.port()));
        assert_ne!(demo.port(), RunName::parse("demo2").unwrap().port());
    }
}
