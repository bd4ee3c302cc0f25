//! A Lambda function's `bootstrap` run as Lambda runs it: a process of its own in the binary's folder, with
//! exactly the environment it is given (nothing inherited from the test), behind a [`RuntimeApi`] of its own,
//! and under `qemu-aarch64` when the binary is for aarch64 and the host is not (the CPU is read from the ELF
//! header). Its init phase ends at its first `GET next`; an init error, or the process ending, fails the start
//! or the invocation with the tail of what the process printed.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::runtime_api::{Diagnostic, InvokeError, Report, RuntimeApi};

/// Lambda's limit on a function's init phase.
const INIT_LIMIT: Duration = Duration::from_secs(10);
/// How much longer than natively a process may take under the emulator, which runs the code several times slower.
const EMULATION_ALLOWANCE: u32 = 6;
/// Lines of the process's output kept for error messages.
const OUTPUT_TAIL: usize = 40;
/// The emulator (`QEMU_AARCH64`, as `scripts/fetch-emulator` prints it, else `qemu-aarch64` on PATH) and the
/// aarch64 libraries it loads the binary with (`QEMU_LD_PREFIX`, else where Debian's `libc6-arm64-cross` puts them).
const EMULATOR_VARIABLE: &str = "QEMU_AARCH64";
const SYSROOT_VARIABLE: &str = "QEMU_LD_PREFIX";
const AARCH64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// The CPU a binary is built for, from its ELF header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cpu {
    X86_64,
    Aarch64,
}

impl Cpu {
    /// The CPU of the machine the tests run on.
    pub fn host() -> Option<Cpu> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Cpu::X86_64),
            "aarch64" => Some(Cpu::Aarch64),
            _ => None,
        }
    }

    /// Reads `e_machine` of a 64-bit little-endian ELF file.
    pub fn of_binary(path: &Path) -> Result<Cpu, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let header = bytes.get(..20).unwrap_or_default();
        if header.get(..4) != Some(b"\x7fELF".as_slice()) || header[4] != 2 || header[5] != 1 {
            return Err(format!(
                "{} is not a 64-bit little-endian ELF executable",
                path.display()
            ));
        }
        match u16::from_le_bytes([header[18], header[19]]) {
            0x3e => Ok(Cpu::X86_64),
            0xb7 => Ok(Cpu::Aarch64),
            other => Err(format!(
                "{} is for ELF machine {other:#x}, neither x86_64 nor aarch64",
                path.display()
            )),
        }
    }
}

/// A function that could not start or answer. Each carries the process's last lines where it has them.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    #[error("{function}: cannot start: {reason}")]
    Start { function: String, reason: String },
    #[error("{function}: init error {error}\n--- its output ---\n{output}")]
    Init {
        function: String,
        error: Diagnostic,
        output: String,
    },
    #[error("{function}: the process ended ({status}) \n--- its output ---\n{output}")]
    Exited {
        function: String,
        status: String,
        output: String,
    },
    #[error("{function}: the invocation failed: {error}\n--- its output ---\n{output}")]
    Invocation {
        function: String,
        error: Diagnostic,
        output: String,
    },
    #[error("{function}: {reason}\n--- its output ---\n{output}")]
    NoAnswer {
        function: String,
        reason: String,
        output: String,
    },
}

/// How to start one function.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The name in errors (the template's logical id).
    pub function: String,
    pub bootstrap: PathBuf,
    /// The whole environment but `AWS_LAMBDA_RUNTIME_API`, which is this process's own API.
    pub environment: BTreeMap<String, String>,
    /// The ARN invocations name (`Lambda-Runtime-Invoked-Function-Arn`).
    pub function_arn: String,
}

/// What a stopped process leaves behind.
#[derive(Debug, Clone, Copy)]
pub struct Stopped {
    /// Its peak resident set (`VmHWM`) just before it was stopped; the emulator's own when emulated.
    pub peak_rss_kib: Option<u64>,
}

/// A running function process. Stop it with [`LambdaProcess::stop`]; dropping it kills the process.
#[derive(Debug)]
pub struct LambdaProcess {
    function: String,
    api: RuntimeApi,
    pid: Option<u32>,
    /// From the process's start to its first `GET next`.
    pub init_duration: Duration,
    /// Whether it runs under the emulator.
    pub emulated: bool,
    /// Invocations wait here: an execution environment runs one at a time.
    busy: tokio::sync::Mutex<()>,
    exit: watch::Receiver<Option<ExitStatus>>,
    kill: Option<oneshot::Sender<()>>,
    waiter: Option<JoinHandle<()>>,
    output: Arc<Mutex<VecDeque<String>>>,
}

impl LambdaProcess {
    /// Starts the process and waits for the end of its init phase (its first `GET next`), at most Lambda's 10 s
    /// (more under the emulator).
    pub async fn start(launch: &Launch) -> Result<LambdaProcess, FunctionError> {
        let function = launch.function.clone();
        let failed = |reason: String| FunctionError::Start {
            function: function.clone(),
            reason,
        };
        let cpu = Cpu::of_binary(&launch.bootstrap).map_err(failed)?;
        let emulated = Some(cpu) != Cpu::host();
        let api = RuntimeApi::start(&launch.function_arn)
            .await
            .map_err(|e| failed(format!("serving its runtime API: {e}")))?;
        let mut command = command(launch, cpu, emulated).map_err(failed)?;
        command
            .env_clear()
            .envs(&launch.environment)
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| failed(format!("{}: {e}", launch.bootstrap.display())))?;
        let pid = child.id();
        let output = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(keep_tail(stdout, output.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(keep_tail(stderr, output.clone()));
        }
        let (exit_tx, exit) = watch::channel(None);
        let (kill, killed) = oneshot::channel::<()>();
        let waiter = tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = killed => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let _ = exit_tx.send(status.ok());
        });
        let mut process = LambdaProcess {
            function,
            api,
            pid,
            init_duration: Duration::ZERO,
            emulated,
            busy: tokio::sync::Mutex::new(()),
            exit,
            kill: Some(kill),
            waiter: Some(waiter),
            output,
        };
        let limit = if emulated {
            INIT_LIMIT * EMULATION_ALLOWANCE
        } else {
            INIT_LIMIT
        };
        process.wait_for_init(limit).await?;
        process.init_duration = process
            .api
            .first_next()
            .map_or(started.elapsed(), |at| at.duration_since(started));
        Ok(process)
    }

    async fn wait_for_init(&self, limit: Duration) -> Result<(), FunctionError> {
        let mut exit = self.exit.clone();
        let init = async {
            loop {
                match self.api.report().await {
                    Some(Report::Next) => return Ok(()),
                    Some(Report::InitError(error)) => {
                        // Lambda ends an environment whose init failed; its last words are the error.
                        let _ = tokio::time::timeout(
                            Duration::from_secs(2),
                            exit.wait_for(Option::is_some),
                        )
                        .await;
                        return Err(FunctionError::Init {
                            function: self.function.clone(),
                            error,
                            output: self.output_tail(),
                        });
                    }
                    Some(_) => {}
                    None => return Err(self.no_answer("its runtime API stopped".into())),
                }
            }
        };
        let mut watch_exit = self.exit.clone();
        tokio::select! {
            result = tokio::time::timeout(limit, init) => result.unwrap_or_else(|_| Err(self.no_answer(format!(
                "no request for an invocation within {limit:?} of its start (the init phase's limit)"
            )))),
            status = watch_exit.wait_for(Option::is_some) => Err(self.exited(status.ok().and_then(|s| *s))),
        }
    }

    /// One invocation: the function's response, or why there is none (its error, its process ending, or no
    /// answer within `timeout`).
    pub async fn invoke(&self, event: &Value, timeout: Duration) -> Result<Value, FunctionError> {
        let _busy = self.busy.lock().await;
        let mut exit = self.exit.clone();
        tokio::select! {
            answer = self.api.invoke(event, timeout) => answer.map_err(|e| match e {
                InvokeError::Function(error) => FunctionError::Invocation {
                    function: self.function.clone(),
                    error,
                    output: self.output_tail(),
                },
                InvokeError::Init(error) => FunctionError::Init {
                    function: self.function.clone(),
                    error,
                    output: self.output_tail(),
                },
                other => self.no_answer(other.to_string()),
            }),
            status = exit.wait_for(Option::is_some) => Err(self.exited(status.ok().and_then(|s| *s))),
        }
    }

    /// Stops the process (SIGKILL, as Lambda ends an environment) and its runtime API; its peak RSS first.
    pub async fn stop(mut self) -> Stopped {
        let peak_rss_kib = self
            .pid
            .and_then(|pid| crate::bench_support::peak_rss_kib(&pid.to_string()));
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        if let Some(waiter) = self.waiter.take() {
            let _ = waiter.await;
        }
        Stopped { peak_rss_kib }
    }

    /// The last lines the process printed (stdout and stderr).
    pub fn output_tail(&self) -> String {
        let lines = self.output.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    fn exited(&self, status: Option<ExitStatus>) -> FunctionError {
        FunctionError::Exited {
            function: self.function.clone(),
            status: status.map_or("status unknown".into(), |s| s.to_string()),
            output: self.output_tail(),
        }
    }

    fn no_answer(&self, reason: String) -> FunctionError {
        FunctionError::NoAnswer {
            function: self.function.clone(),
            reason,
            output: self.output_tail(),
        }
    }
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
    }
}

/// The command that runs the binary: itself, or the emulator with the aarch64 libraries.
fn command(launch: &Launch, cpu: Cpu, emulated: bool) -> Result<Command, String> {
    let folder = launch
        .bootstrap
        .parent()
        .ok_or_else(|| format!("{} has no folder", launch.bootstrap.display()))?;
    let mut command = if !emulated {
        Command::new(&launch.bootstrap)
    } else if cpu == Cpu::Aarch64 {
        let qemu = std::env::var_os(EMULATOR_VARIABLE)
            .map(PathBuf::from)
            .or_else(|| on_path("qemu-aarch64"))
            .ok_or(
                "the binary is for aarch64: running it here needs an emulator (scripts/fetch-emulator, or Debian's \
                 qemu-user and libc6-arm64-cross)",
            )?;
        let sysroot = std::env::var_os(SYSROOT_VARIABLE)
            .map_or_else(|| PathBuf::from(AARCH64_SYSROOT), PathBuf::from);
        if !sysroot.is_dir() {
            return Err(format!(
                "{} is missing: the aarch64 C library (scripts/fetch-emulator, or Debian's libc6-arm64-cross)",
                sysroot.display()
            ));
        }
        let mut command = Command::new(qemu);
        command.arg("-L").arg(sysroot).arg(&launch.bootstrap);
        command
    } else {
        return Err(format!(
            "the binary is for {cpu:?}, which this {} host cannot emulate",
            std::env::consts::ARCH
        ));
    };
    command.current_dir(folder);
    Ok(command)
}

/// The first `name` in the test process's PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Reads lines until the stream ends, keeping the last [`OUTPUT_TAIL`].
async fn keep_tail(stream: impl AsyncRead + Unpin, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
        if tail.len() == OUTPUT_TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}
