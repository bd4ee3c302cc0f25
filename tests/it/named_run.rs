//! A named local run, twice on one stand-in, through the function `local-run` runs: the second run reuses the
//! first's tables, queues, secrets, credential and demo repositories, and imports only what GitLab made since;
//! with the repositories gone, a third run refuses the tables rather than compare them with another history.

use testkit::aws_local::AwsStandIn;
use testkit::git_fixture::GitRepo;
use testkit::local_session::{Named, RunName, Session, SessionReport, Source, run_session};

async fn named_run(name: &RunName, dir: &std::path::Path) -> Result<SessionReport, String> {
    run_session(Session {
        source: Source::Demo {
            monolith_commits: 200,
        },
        export: None,
        named: Some(Named {
            name: name.clone(),
            dir: dir.to_path_buf(),
        }),
    })
    .await
    .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_named_run_reuses_the_tables_and_imports_only_the_new_commits() {
    let name = RunName::parse(&format!("it-{}", std::process::id())).unwrap();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join(name.as_str());

    let first = named_run(&name, &dir).await.unwrap();
    assert!(first.mismatches.is_empty(), "{:?}", first.mismatches);
    assert!(!first.reused_tables);
    assert_eq!((first.commits_before, first.moved_on), (0, None));
    assert_eq!(first.credentials, 1);
    let imported: usize = first.passes.iter().map(|p| p.commits_written).sum();
    let monolith = GitRepo::init_at(&dir.join("monolith"), "main");
    let left_at = monolith.head();

    let second = named_run(&name, &dir).await.unwrap();
    // The checks of the run: the table equals `git rev-list` for every project, last_sync counts both runs.
    assert!(second.mismatches.is_empty(), "{:?}", second.mismatches);
    assert!(second.reused_tables, "the tables were created again");
    assert_eq!(second.commits_before, imported as i64);
    assert_eq!(
        second.credentials, 1,
        "the run added a credential instead of reusing the live one"
    );
    // GitLab as the first run left it, moved on: the first run's head is still in the history.
    let new = second.moved_on.expect("the repositories were opened");
    assert!(
        monolith
            .git(&["rev-list", "main"])
            .lines()
            .any(|sha| sha == left_at),
        "the demo repositories were built anew"
    );
    // Incremental: pass 1 wrote exactly the new commits (500 on the monolith, a merge of 3 and 2 releases on
    // the api), nothing the first run had imported.
    assert_eq!(second.passes[0].commits_written, new);
    assert!((500..520).contains(&new), "{new} new commits");

    // Without its repositories a third run would meet another history: it must stop before touching the table.
    std::fs::remove_dir_all(&dir).unwrap();
    let error = named_run(&name, &dir).await.unwrap_err();
    assert!(error.contains("were built anew"), "{error}");

    AwsStandIn::provision_reusing(&format!("local-{}", name.as_str()))
        .await
        .unwrap()
        .teardown()
        .await;
}
