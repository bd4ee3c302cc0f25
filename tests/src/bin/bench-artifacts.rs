//! Benchmark of the built functions as Lambda runs them (the artifact run of `testkit::artifact_run`, on an x86_64
//! build so no emulator is involved): per function, the init time (process start to its first request for an
//! invocation on the Lambda Runtime API), the duration of its first invocation in the pipeline, and its peak RSS
//! (VmHWM just before the process is stopped). The first invocations are the pipeline's own: `credentials.create`
//! (one token verification), the demo's scheduler tick, the worker's first batch, one push hook, one export.
//!
//! Run: `scripts/build --arch x86_64`, then `scripts/in-private-network scripts/with-moto cargo run -p testkit --bin
//! bench-artifacts -- .aws-sam-x86_64/build [MONOLITH]` (the demo GitLab is served on a private address added to
//! loopback, hence the namespace).

use testkit::artifact_run::{artifacts_dir, run_pipeline};
use testkit::bench_support::BenchResult;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> BenchResult<()> {
    let mut args = std::env::args().skip(1);
    let artifacts = args
        .next()
        .map(std::path::PathBuf::from)
        .or_else(artifacts_dir)
        .ok_or("give the build folder (holding <LogicalId>/bootstrap) as the first argument")?;
    let monolith: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(300);
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        return Err("run it under scripts/with-moto (it needs the AWS stand-in)".into());
    }
    let stack = format!("benchartifacts{}", std::process::id());
    let report = run_pipeline(&artifacts, &stack, monolith).await?;
    println!(
        "Artifact run of {} (demo monolith: {monolith} commits)",
        artifacts.display()
    );
    for step in &report.steps {
        println!("  {step}");
    }
    println!();
    println!("| function | init (ms) | first invocation (ms) | peak RSS (MiB) |");
    println!("|---|---:|---:|---:|");
    for f in &report.figures {
        println!(
            "| {}{} | {:.0} | {} | {} |",
            f.logical_id,
            if f.emulated { " (emulated)" } else { "" },
            f.init.as_secs_f64() * 1000.0,
            f.first_invocation
                .map_or("-".into(), |d| format!("{:.0}", d.as_secs_f64() * 1000.0)),
            f.peak_rss_kib
                .map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
        );
    }
    if !report.mismatches.is_empty() {
        return Err(format!("the run did not match git: {:?}", report.mismatches).into());
    }
    Ok(())
}
