//! The demo GitLab (`testkit::demo`) on its own, for poking at by hand or pointing a local run at.
//!
//! `cargo run -p testkit --bin gitlab-sim [MONOLITH_COMMITS]` prints the base URL and a token, then serves
//! until Ctrl-C. Faults can be switched at runtime:
//! `curl -X POST $URL/-/sim/faults -d '{"server_error":0.1,"seed":7}' -H 'content-type: application/json'`.

use testkit::demo::{DEMO_TOKEN, Demo};
use testkit::gitlab_sim::Simulator;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let commits: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    // The repositories live in temp dirs for as long as `_demo` does.
    let (_demo, world) = Demo::build(commits);
    let sim = Simulator::start(world).await?;
    println!("GitLab simulator at {}", sim.base_url());
    println!("token: {DEMO_TOKEN}");
    println!(
        "try: curl -H 'PRIVATE-TOKEN: {DEMO_TOKEN}' '{}/groups/acme/projects?include_subgroups=true'",
        sim.api_url()
    );
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
