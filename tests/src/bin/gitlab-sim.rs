//! A GitLab simulator with a small demo world, for poking at by hand or pointing a local run at.
//!
//! `cargo run -p testkit --bin gitlab-sim [COMMITS]` prints the base URL and a token, then serves
//! until Ctrl-C. Faults can be switched at runtime:
//! `curl -X POST $URL/-/sim/faults -d '{"server_error":0.1,"seed":7}' -H 'content-type: application/json'`.

use testkit::git_fixture::GitRepo;
use testkit::gitlab_sim::{
    Membership, Namespace, ProjectSpec, Simulator, TokenSpec, World, access,
};

const TOKEN: &str = "glpat-simulator-demo-token";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let commits: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);

    // Repositories live in temp dirs for as long as the process runs.
    let big = GitRepo::init("main");
    big.fast_import_history("main", commits, Some(10));
    let small = GitRepo::init("main");
    small.fast_import_history("main", 250, None);
    let empty = GitRepo::init("main");

    let mut w = World::new();
    let demo = w.add_user("demo");
    w.add_token(TokenSpec::new(TOKEN, demo, &["read_api"]));
    let acme = w.add_group("acme", None);
    let platform = w.add_group("platform", Some(acme));
    let infra = w.add_group("infra", Some(platform));
    let partners = w.add_group("partners", None);
    w.add_member(demo, Membership::Group(acme), access::DEVELOPER);

    w.add_project(ProjectSpec::new(
        Namespace::Group(acme),
        "monolith",
        Some(big.path()),
        "main",
    ));
    w.add_project(ProjectSpec::new(
        Namespace::Group(platform),
        "api",
        Some(small.path()),
        "main",
    ));
    w.add_project(ProjectSpec::new(
        Namespace::Group(infra),
        "terraform",
        Some(small.path()),
        "main",
    ));
    w.add_project(ProjectSpec::new(
        Namespace::Group(infra),
        "new-service",
        Some(empty.path()),
        "main",
    ));
    w.add_project(
        ProjectSpec::new(
            Namespace::Group(platform),
            "legacy",
            Some(small.path()),
            "main",
        )
        .archived(),
    );
    let sdk = w.add_project(ProjectSpec::new(
        Namespace::Group(partners),
        "sdk",
        Some(small.path()),
        "main",
    ));
    w.share_project(sdk, platform, access::DEVELOPER);

    let sim = Simulator::start(w).await?;
    println!("GitLab simulator at {}", sim.base_url());
    println!("token: {TOKEN}");
    println!(
        "try: curl -H 'PRIVATE-TOKEN: {TOKEN}' '{}/groups/acme/projects?include_subgroups=true'",
        sim.api_url()
    );
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
