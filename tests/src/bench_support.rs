//! What the benchmarks share: a GitLab simulator in a child process (so the figures are the measured process's
//! alone), the process's own CPU time and peak RSS, read from /proc, and a commit store that keeps nothing.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shared::aws::commit_store::MAX_BATCH_WRITE;
use shared::kernel::commit_record::CommitRecord;
use shared::kernel::project_key::ProjectKey;
use shared::kernel::store::StoreError;
use shared::sync::CommitStore;
use time::OffsetDateTime;

use crate::git_fixture::GitRepo;
use crate::gitlab_sim::{Fault, Hostile, OneProject, Simulator, World, routes};

pub type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The token of the benchmark simulator's only user.
pub const BENCH_TOKEN: &str = "glpat-benchmark-token";
/// The id of the benchmark simulator's only project.
pub const BENCH_PROJECT: u64 = 1;

/// The argument that turns a benchmark binary into its own simulator child.
const SERVE_FLAG: &str = "--serve";

/// Benchmarks re-execute themselves as their simulator child. With [`SERVE_FLAG`] first, this process is that
/// child: it serves until the parent closes its input, and `None` is returned. Otherwise it returns the number of
/// commits asked for (first argument, default 100,000).
pub fn serve_as_child_or_commits(args: &[String]) -> BenchResult<Option<usize>> {
    let commits = |at: usize| args.get(at).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    if args.get(1).map(String::as_str) == Some(SERVE_FLAG) {
        server_runtime()?.block_on(serve(commits(2)))?;
        return Ok(None);
    }
    Ok(Some(commits(1)))
}

/// In the child: a simulator with one project `acme/app` of `commits` commits on `main` (a merge every 20th)
/// and a [`write_sink`]; prints `READY <simulator base_url> <sink url>`, then obeys `latency <ms>`, `gzip-bomb
/// <inflated bytes>` and `huge <bytes>` lines (the last two: the next answer, on any route) and `fat-commits
/// <answers> <message bytes>` (the next commit pages, each commit's message padded), and stops at end of input.
async fn serve(commits: usize) -> BenchResult<()> {
    let repo = GitRepo::init("main");
    repo.fast_import_history("main", commits, Some(20));
    let OneProject { world, project, .. } = World::one_project(BENCH_TOKEN, Some(repo.path()));
    assert_eq!(project, BENCH_PROJECT);
    let sim = Simulator::start(world).await?;
    let sink_url = spawn_write_sink()?;
    println!("READY {} {sink_url}", sim.base_url());
    std::io::stdout().flush()?;
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(tokio::io::stdin()));
    while let Some(line) = lines.next_line().await? {
        let (command, value) = line.split_once(' ').unwrap_or((&line, ""));
        let hostile = |answer| sim.fail_next(routes::ANY, 1, Fault::Hostile(answer));
        match command {
            "latency" => sim.set_latency(Duration::from_millis(value.trim().parse()?)),
            "gzip-bomb" => hostile(Hostile::GzipBomb {
                inflated: value.trim().parse()?,
            }),
            "huge" => hostile(Hostile::Huge {
                bytes: value.trim().parse()?,
            }),
            "fat-commits" => {
                let (answers, message_bytes) = value.trim().split_once(' ').ok_or("two numbers")?;
                let message = "m".repeat(message_bytes.parse()?);
                let fat: crate::gitlab_sim::Rewrite = std::sync::Arc::new(move |mut page| {
                    for commit in page.as_array_mut().into_iter().flatten() {
                        commit["message"] = serde_json::Value::from(message.as_str());
                    }
                    page
                });
                sim.fail_next(
                    routes::COMMITS,
                    answers.parse()?,
                    Fault::Hostile(Hostile::Rewrite(fat)),
                );
            }
            _ => {
                println!("ERR unknown command {command:?}");
                std::io::stdout().flush()?;
                continue;
            }
        }
        println!("OK");
        std::io::stdout().flush()?;
    }
    sim.shutdown().await;
    Ok(())
}

/// Starts a [`write_sink`] on a thread and runtime of its own, so that the simulator's work never delays its
/// answers; it ends with the process. Returns its URL.
fn spawn_write_sink() -> BenchResult<String> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.set_nonblocking(true)?;
    let url = format!("http://{}", listener.local_addr()?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, write_sink()).await
        })
    });
    Ok(url)
}

/// A DynamoDB endpoint that answers every request with "all items processed" and keeps nothing, as fast as
/// loopback allows and on kept-alive connections, like DynamoDB's own. Only for measuring what the real adapter
/// and the AWS SDK cost the worker in CPU without a slow stand-in in the way; correctness is tested on moto.
fn write_sink() -> axum::Router {
    // Reading the whole body lets the connection be reused for the next request.
    axum::Router::new().fallback(|_request: axum::body::Bytes| async {
        (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/x-amz-json-1.0",
            )],
            r#"{"UnprocessedItems":{}}"#,
        )
    })
}

/// The parent's handle on the simulator child. Killed on drop.
#[derive(Debug)]
pub struct SimulatorProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub base_url: String,
    /// The [`write_sink`]'s endpoint URL.
    pub sink_url: String,
}

impl SimulatorProcess {
    /// Re-executes the current binary with [`SERVE_FLAG`] and waits until its simulator is up.
    pub fn spawn(commits: usize) -> BenchResult<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args([SERVE_FLAG, &commits.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let (base_url, sink_url) = line
            .strip_prefix("READY ")
            .and_then(|urls| urls.trim().split_once(' '))
            .ok_or_else(|| format!("simulator did not start: {line:?}"))?;
        Ok(SimulatorProcess {
            base_url: base_url.to_owned(),
            sink_url: sink_url.to_owned(),
            child,
            stdin,
            stdout,
        })
    }

    pub fn set_latency(&mut self, latency: Duration) -> BenchResult<()> {
        self.command(&format!("latency {}", latency.as_millis()))
    }

    /// The next answer (any route) is a gzip bomb that inflates to `inflated` bytes.
    pub fn next_answer_gzip_bomb(&mut self, inflated: usize) -> BenchResult<()> {
        self.command(&format!("gzip-bomb {inflated}"))
    }

    /// The next answer (any route) is `bytes` bytes of valid JSON with their `Content-Length`.
    pub fn next_answer_huge(&mut self, bytes: usize) -> BenchResult<()> {
        self.command(&format!("huge {bytes}"))
    }

    /// The next `answers` commit pages are the real ones with every commit's message `message_bytes` long.
    pub fn next_commit_pages_fat(&mut self, answers: u32, message_bytes: usize) -> BenchResult<()> {
        self.command(&format!("fat-commits {answers} {message_bytes}"))
    }

    fn command(&mut self, line: &str) -> BenchResult<()> {
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
}

impl Drop for SimulatorProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU seconds of this process (/proc/self/stat, clock ticks of 1/100 s).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name is in parentheses and may hold spaces: count fields after it. utime and stime are
    // fields 14 and 15 of the line, indexes 11 and 12 counted from the state field.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size of this process since the last [`reset_peak_rss`], in MiB (VmHWM).
pub fn peak_rss_mib() -> f64 {
    peak_rss_kib("self").map_or(0.0, |kib| kib as f64 / 1024.0)
}

/// Peak resident set size (VmHWM) of a live process, `self` or a pid, in KiB.
pub fn peak_rss_kib(process: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets the peak RSS to the current RSS, so each run reports its own peak.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// What one measured run cost this process.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    /// Wall seconds.
    pub wall: f64,
    /// User + system CPU seconds ([`cpu_seconds`]).
    pub cpu: f64,
    /// Peak RSS during the run, in MiB ([`peak_rss_mib`] after [`reset_peak_rss`]).
    pub peak_rss_mib: f64,
}

/// Runs `run` and returns its result with what it cost: wall time, CPU time and its own peak RSS.
pub fn measured<T>(run: impl FnOnce() -> T) -> (T, Cost) {
    reset_peak_rss();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let result = run();
    let cost = Cost {
        wall: started.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - cpu_before,
        peak_rss_mib: peak_rss_mib(),
    };
    (result, cost)
}

/// The runtime the measured code runs on: single-threaded, as in the Lambda functions' mains.
pub fn function_runtime() -> BenchResult<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// A runtime of two worker threads for servers that must answer while the measured code runs on its own
/// runtime (the in-process simulator of the scheduler benchmark, the simulator child).
pub fn server_runtime() -> BenchResult<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// A commit store that keeps nothing and counts the write calls the DynamoDB adapter would make (a
/// `BatchWriteItem` per 25 commits, an `UpdateItem` per removal mark). Made [`DroppedCommits::encoding`], it first
/// encodes each item as the adapter does, so a benchmark's CPU figure includes that.
#[derive(Debug, Default)]
pub struct DroppedCommits {
    encode: bool,
    write_calls: AtomicU64,
}

impl DroppedCommits {
    pub fn encoding() -> Self {
        DroppedCommits {
            encode: true,
            ..DroppedCommits::default()
        }
    }

    pub fn write_calls(&self) -> u64 {
        self.write_calls.load(Ordering::Relaxed)
    }
}

impl CommitStore for DroppedCommits {
    async fn put_changed_from(
        &self,
        records: Vec<CommitRecord>,
        _floor: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        if self.encode {
            for record in &records {
                let item: serde_dynamo::Item = serde_dynamo::to_item(record)
                    .map_err(|e| StoreError::unavailable("encoding", e))?;
                std::hint::black_box(item);
            }
        }
        let calls = records.len().div_ceil(MAX_BATCH_WRITE) as u64;
        self.write_calls.fetch_add(calls, Ordering::Relaxed);
        Ok(Vec::new())
    }

    async fn mark_removed(
        &self,
        _project: &ProjectKey,
        shas: Vec<String>,
        _at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.write_calls
            .fetch_add(shas.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Nothing is kept, so nothing is left to mark.
    async fn remove_unchanged_since(
        &self,
        _project: &ProjectKey,
        _since: &str,
        _at: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        Ok(0)
    }
}
