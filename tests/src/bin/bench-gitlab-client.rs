//! Benchmark of the GitLab client: streams a large default branch from the GitLab simulator and prints requests,
//! wall time, commits/s, CPU seconds and peak RSS of the client process.
//!
//! The simulator runs in a child process (this binary re-executed with `--serve`), so the figures are the
//! client's alone. Run: `cargo run --profile profiling -p testkit --bin bench-gitlab-client -- [COMMITS]`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use shared::gitlab::{CommitQuery, ProjectRef};
use testkit::git_fixture::GitRepo;
use testkit::gitlab_sim::{Membership, Namespace, ProjectSpec, Simulator, TokenSpec, World};

const TOKEN: &str = "glpat-benchmark-token";
const PROJECT: u64 = 1;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if args.get(1).map(String::as_str) == Some("--serve") {
        let commits = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100_000);
        return runtime.block_on(serve(commits));
    }
    let commits: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let mut server = SimulatorProcess::spawn(commits)?;
    println!(
        "GitLab client benchmark: {commits} commits, sequential pages of 100, with stats and trailers"
    );
    println!(
        "{:>10} {:>9} {:>9} {:>10} {:>9} {:>12} {:>13}",
        "latency", "requests", "wall s", "commits/s", "CPU s", "peak RSS MiB", "CPU s/100k"
    );
    for latency_ms in [0_u64, 20] {
        server.command(&format!("latency {latency_ms}"))?;
        reset_peak_rss();
        let cpu_before = cpu_seconds();
        let started = Instant::now();
        let (count, requests) = runtime.block_on(stream_all(&server.base_url))?;
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu_before;
        assert_eq!(count, commits, "the client must yield every commit exactly");
        println!(
            "{:>8}ms {:>9} {:>9.2} {:>10.0} {:>9.2} {:>12.1} {:>13.2}",
            latency_ms,
            requests,
            wall,
            count as f64 / wall,
            cpu,
            peak_rss_mib(),
            cpu * 100_000.0 / count as f64
        );
    }
    server.stop();
    Ok(())
}

/// Streams every commit of the default branch the way an importer without windows would: one page after another.
async fn stream_all(base_url: &str) -> Result<(usize, u64), Box<dyn std::error::Error>> {
    let gitlab = testkit::clients::client(base_url, TOKEN);
    let project = ProjectRef::Id(PROJECT);
    let head = gitlab.branch(&project, "main").await?.commit.id;
    let query = CommitQuery::history("main");
    let mut count = 0;
    let mut first = None;
    let mut pages = std::pin::pin!(gitlab.commits(&project, &query));
    while let Some(page) = pages.try_next().await? {
        if first.is_none() {
            first = page.commits.first().map(|c| c.id.clone());
        }
        count += page.commits.len();
    }
    assert_eq!(
        first.as_deref(),
        Some(head.as_str()),
        "the listing starts at the head"
    );
    Ok((count, gitlab.stats().requests))
}

/// The child: a simulator with one project of `commits` commits; reads `latency <ms>` lines, stops at EOF.
async fn serve(commits: usize) -> Result<(), Box<dyn std::error::Error>> {
    let repo = GitRepo::init("main");
    repo.fast_import_history("main", commits, Some(20));
    let mut world = World::new();
    let user = world.add_user("bench");
    world.add_token(TokenSpec::new(TOKEN, user, &["read_api"]));
    let group = world.add_group("bench", None);
    world.add_member(user, Membership::Group(group), 30);
    let project = world.add_project(ProjectSpec::new(
        Namespace::Group(group),
        "big",
        Some(repo.path()),
        "main",
    ));
    assert_eq!(project, PROJECT);
    let sim = Simulator::start(world).await?;
    println!("READY {}", sim.base_url());
    std::io::stdout().flush()?;
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(tokio::io::stdin()));
    while let Some(line) = lines.next_line().await? {
        if let Some(ms) = line.strip_prefix("latency ") {
            sim.set_latency(Duration::from_millis(ms.trim().parse()?));
            println!("OK");
            std::io::stdout().flush()?;
        }
    }
    sim.shutdown().await;
    Ok(())
}

struct SimulatorProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<std::process::ChildStdout>,
    base_url: String,
}

impl SimulatorProcess {
    fn spawn(commits: usize) -> Result<Self, Box<dyn std::error::Error>> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--serve", &commits.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let base_url = line
            .strip_prefix("READY ")
            .ok_or_else(|| format!("simulator did not start: {line:?}"))?
            .trim()
            .to_owned();
        Ok(SimulatorProcess {
            child,
            stdin,
            stdout,
            base_url,
        })
    }

    fn command(&mut self, line: &str) -> Result<(), Box<dyn std::error::Error>> {
        let stdin = self.stdin.as_mut().ok_or("simulator stdin closed")?;
        writeln!(stdin, "{line}")?;
        stdin.flush()?;
        let mut reply = String::new();
        self.stdout.read_line(&mut reply)?;
        if reply.trim() != "OK" {
            return Err(format!("simulator answered {reply:?}").into());
        }
        Ok(())
    }

    fn stop(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for SimulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU time of this process, from /proc (clock ticks of 1/100 s on Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, indexes 11 and 12 counted from the state field.
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size of this process since the last reset, from /proc (VmHWM).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Resets VmHWM to the current RSS, so each run reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
