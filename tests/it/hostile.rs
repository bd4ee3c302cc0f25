//! A broken or hostile GitLab never takes down a tick, a batch or the API. Two connections share one deployment
//! (the local run's pipeline on moto, through the real handlers): one connection's GitLab turns hostile in one
//! way after another while the other's stays healthy. For each hostile answer: the healthy connection's syncs
//! complete and its table equals git, the hostile connection's credential records a clear error code, nothing
//! panics, the tick ends well within its deadline, and once the hostile GitLab answers normally again its table
//! equals git too.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use shared::gitlab::RetryPolicy;
use shared::scheduler::SchedulerOptions;
use shared::sync::SyncOptions;
use shared::testing::project_key;
use testkit::git_fixture::{CommitSpec, GitRepo};
use testkit::gitlab_sim::{Fault, Hostile, Simulator, World, routes};
use testkit::local_run::{GitLabTarget, LocalRun, PassSummary, Tuning};

const TOKEN: &str = "glpat-hostile-suite-token";
/// A date RFC 3339 can write in its own offset, but not in UTC (year 10000): git allows it, and converting it
/// unchecked aborts the process.
const PAST_9999: &str = "9999-12-31T20:00:00.000-05:00";

/// One connection, its GitLab and its one project.
struct Side {
    connection: &'static str,
    sim: Simulator,
    repo: GitRepo,
    project: u64,
    credential: String,
}

impl Side {
    async fn start(connection: &'static str, commits: usize) -> Side {
        let repo = GitRepo::init("main");
        repo.fast_import_history("main", commits, Some(10));
        let one = World::one_project(TOKEN, Some(repo.path()));
        Side {
            connection,
            sim: Simulator::start(one.world).await.unwrap(),
            repo,
            project: one.project,
            credential: String::new(),
        }
    }

    /// A few new commits on the default branch, as a team pushes between ticks.
    /// Three commits pushed to the default branch, with the activity GitLab records for a push.
    fn push(&self, round: usize) {
        let now = time::OffsetDateTime::now_utc();
        for i in 0..3 {
            self.repo.commit(CommitSpec::new(
                &format!("Round {round}, change {i}"),
                now.unix_timestamp() - 60 + i as i64,
            ));
        }
        self.sim
            .with_world(|w| w.project_mut(self.project).record_activity(now));
    }

    /// The project's live commits in the table against `git rev-list`.
    async fn equals_git(&self, run: &LocalRun) -> bool {
        let stored = run
            .aws
            .stored_commits(&project_key(self.connection, self.project))
            .await;
        let live: Vec<&String> = stored
            .iter()
            .filter(|(_, c)| c.removed_at.is_none())
            .map(|(sha, _)| sha)
            .collect();
        let mut truth = self.repo.rev_list(&["main"]);
        truth.sort();
        live.len() == truth.len() && live.iter().zip(&truth).all(|(a, b)| *a == b)
    }

    async fn last_sync(&self, run: &LocalRun) -> Value {
        run.credential_info(self.connection, &self.credential).await["last_sync"].clone()
    }
}

/// Short retries and waits, so that a hostile answer costs seconds, not minutes; everything else as deployed.
fn tuning() -> Tuning {
    let retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_rate_limit_waits: 2,
        max_rate_limit_wait: Duration::from_secs(2),
        ..RetryPolicy::default()
    };
    let defaults = Tuning::default();
    Tuning {
        scheduler: SchedulerOptions {
            retry,
            discovery_timeout: Duration::from_secs(30),
            ..defaults.scheduler
        },
        sync: SyncOptions {
            retry,
            ..defaults.sync
        },
    }
}

/// One hostile answer: where it is given, how many times, and the error codes the credential may record for it
/// (empty: the answer is odd but harmless, and the sync must simply succeed).
struct Case {
    name: &'static str,
    route: &'static str,
    times: u32,
    fault: Fault,
    codes: &'static [&'static str],
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn body(status: u16, content_type: &str, body: &'static [u8]) -> Fault {
    Fault::Hostile(Hostile::Body {
        status,
        content_type: content_type.into(),
        body: bytes::Bytes::from_static(body),
    })
}

fn cases() -> Vec<Case> {
    let huge_reset = u64::MAX.to_string();
    let fat_trailers: testkit::gitlab_sim::Rewrite = Arc::new(|mut page: Value| {
        if let Some(commits) = page.as_array_mut() {
            for commit in commits {
                let long = "x".repeat(300 * 1024);
                commit["trailers"] = json!({ "Signed-off-by": long });
                commit["extended_trailers"] = json!({ "Signed-off-by": [long] });
            }
        }
        page
    });
    vec![
        Case {
            name: "commits dated past year 9999 in UTC",
            route: routes::COMMITS,
            times: 3,
            fault: Fault::Hostile(Hostile::Rewrite(Arc::new(|mut page: Value| {
                for commit in page.as_array_mut().into_iter().flatten() {
                    commit["committed_date"] = json!(PAST_9999);
                    commit["authored_date"] = json!(PAST_9999);
                    commit["created_at"] = json!(PAST_9999);
                }
                page
            }))),
            codes: &[],
        },
        Case {
            name: "a branch head dated past year 9999 in UTC",
            route: routes::BRANCH,
            times: 3,
            fault: Fault::Hostile(Hostile::Rewrite(Arc::new(|mut branch: Value| {
                branch["commit"]["committed_date"] = json!(PAST_9999);
                branch
            }))),
            codes: &[],
        },
        Case {
            name: "projects last active past year 9999 in UTC",
            route: routes::GROUP_PROJECTS,
            times: 1,
            fault: Fault::Hostile(Hostile::Rewrite(Arc::new(|mut listing: Value| {
                for project in listing.as_array_mut().into_iter().flatten() {
                    project["last_activity_at"] = json!(PAST_9999);
                }
                listing
            }))),
            codes: &[],
        },
        Case {
            name: "RateLimit-Reset of u64::MAX with nothing remaining, on a 200",
            route: routes::ANY,
            times: 3,
            fault: Fault::Hostile(Hostile::Headers(headers(&[
                ("ratelimit-remaining", "0"),
                ("ratelimit-limit", "2000"),
                ("ratelimit-reset", &huge_reset),
            ]))),
            codes: &[],
        },
        Case {
            name: "negative and non-numeric RateLimit-Reset",
            route: routes::ANY,
            times: 3,
            fault: Fault::Hostile(Hostile::Headers(headers(&[
                ("ratelimit-remaining", "-5"),
                ("ratelimit-reset", "soon"),
            ]))),
            codes: &[],
        },
        Case {
            name: "429 with Retry-After of u64::MAX",
            route: routes::COMMITS,
            times: 1,
            fault: Fault::Hostile(Hostile::TooManyRequests(headers(&[(
                "retry-after",
                &huge_reset,
            )]))),
            codes: &["rate_limited"],
        },
        Case {
            name: "429 with negative and non-numeric Retry-After and RateLimit-Reset",
            route: routes::COMMITS,
            times: 1,
            fault: Fault::Hostile(Hostile::TooManyRequests(headers(&[
                ("retry-after", "-1"),
                ("ratelimit-reset", "tomorrow"),
            ]))),
            codes: &["rate_limited"],
        },
        // Three answers: the page, then a tenth of it, then one commit of it (a page over the limit is read again
        // in parts, so one bomb alone is only a detour).
        Case {
            name: "a gzip bomb",
            route: routes::COMMITS,
            times: 3,
            fault: Fault::Hostile(Hostile::GzipBomb {
                inflated: 256 << 20,
            }),
            codes: &["response_too_large"],
        },
        Case {
            name: "a 64 MB body",
            route: routes::COMMITS,
            times: 3,
            fault: Fault::Hostile(Hostile::Huge { bytes: 64 << 20 }),
            codes: &["response_too_large"],
        },
        Case {
            name: "a body that drips one byte a second",
            route: routes::COMMITS,
            times: 1,
            fault: Fault::Hostile(Hostile::Drip {
                every: Duration::from_secs(1),
            }),
            codes: &["timed_out"],
        },
        Case {
            name: "a page of commits with 300 KB of trailers each",
            route: routes::COMMITS,
            times: 2,
            fault: Fault::Hostile(Hostile::Rewrite(fat_trailers)),
            codes: &[],
        },
        Case {
            name: "project pages of 8 MiB without end",
            route: routes::PROJECTS,
            times: u32::MAX,
            fault: Fault::Hostile(Hostile::EndlessProjects {
                page_bytes: 8 << 20,
            }),
            codes: &["discovery_too_large"],
        },
        Case {
            name: "an X-Next-Page that loops",
            route: routes::GROUPS,
            times: 3,
            fault: Fault::Hostile(Hostile::Headers(headers(&[("x-next-page", "1")]))),
            codes: &[],
        },
        Case {
            name: "invalid UTF-8",
            route: routes::COMMITS,
            times: 1,
            fault: body(200, "application/json", b"[{\"id\": \"\xff\xfe\"}]"),
            codes: &["invalid_response"],
        },
        Case {
            name: "invalid JSON",
            route: routes::COMMITS,
            times: 1,
            fault: body(200, "application/json", b"[{\"id\": "),
            codes: &["invalid_response", "gitlab_unavailable"],
        },
        Case {
            name: "HTML with a 200",
            route: routes::COMMITS,
            times: 1,
            fault: body(200, "text/html", b"<html><body>Sign in</body></html>"),
            codes: &["invalid_response"],
        },
        Case {
            name: "a redirect to the metadata address",
            route: routes::COMMITS,
            times: 1,
            fault: Fault::Hostile(Hostile::Redirect(
                "http://169.254.169.254/latest/meta-data/".into(),
            )),
            codes: &["invalid_response", "rejected"],
        },
        Case {
            name: "HTML with a 200 to discovery",
            route: routes::GROUPS,
            times: 1,
            fault: body(200, "text/html", b"<html>maintenance</html>"),
            codes: &["invalid_response"],
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_gitlab_hurts_only_its_own_connection() {
    let mut healthy = Side::start("healthy", 300).await;
    let mut hostile = Side::start("hostile", 300).await;
    let target = GitLabTarget::simulator(&healthy.sim);
    let prefix = format!("hostile{}", std::process::id());
    let run = LocalRun::prepare(&prefix, &target, false, tuning())
        .await
        .unwrap();
    for side in [&mut healthy, &mut hostile] {
        let created = run
            .create_credential(
                side.connection,
                &side.sim.base_url(),
                TOKEN,
                side.connection,
            )
            .await
            .unwrap();
        side.credential = created["id"].as_str().unwrap().to_owned();
    }
    run.pass().await.unwrap();
    assert!(healthy.equals_git(&run).await && hostile.equals_git(&run).await);

    let mut failures = Vec::new();
    for (round, case) in cases().into_iter().enumerate() {
        healthy.push(round);
        hostile.push(round);
        let error_before = hostile.last_sync(&run).await["last_error_at"].clone();
        hostile
            .sim
            .fail_next(case.route, case.times, case.fault.clone());
        // The enqueue lease of the local run is one second.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let pass = run.pass().await.unwrap();
        check(&case, &pass, &healthy, &hostile, &run, &mut failures).await;
        let error_after = hostile.last_sync(&run).await["last_error_at"].clone();
        if !case.codes.is_empty() && error_after == error_before {
            failures.push(format!("{}: no error recorded in this pass", case.name));
        }

        // GitLab answers normally again: the hostile connection catches up.
        hostile.sim.clear_faults();
        if !hostile.equals_git(&run).await {
            tokio::time::sleep(Duration::from_millis(1_100)).await;
            run.pass().await.unwrap();
        }
        if !hostile.equals_git(&run).await {
            failures.push(format!("{}: the hostile side never caught up", case.name));
        }
    }
    assert_eq!(failures, Vec::<String>::new());
    assert_eq!(run.dead_letters().await.unwrap(), 0);
    run.aws.teardown().await;
    healthy.sim.shutdown().await;
    hostile.sim.shutdown().await;
}

/// What must hold after a pass with one hostile answer; every broken rule is a line in `failures`.
async fn check(
    case: &Case,
    pass: &PassSummary,
    healthy: &Side,
    hostile: &Side,
    run: &LocalRun,
    failures: &mut Vec<String>,
) {
    let name = case.name;
    if !healthy.equals_git(run).await {
        failures.push(format!(
            "{name}: the healthy connection's table differs from git"
        ));
    }
    if pass.tick_elapsed > Duration::from_secs(60) {
        failures.push(format!("{name}: the tick took {:?}", pass.tick_elapsed));
    }
    if pass
        .scheduler_errors
        .iter()
        .any(|e| e.starts_with(healthy.connection))
    {
        failures.push(format!(
            "{name}: the healthy connection failed: {:?}",
            pass.scheduler_errors
        ));
    }
    let last = hostile.last_sync(run).await;
    let recorded = last["last_error"].as_str().unwrap_or("");
    if !case.codes.is_empty() && !case.codes.contains(&recorded) {
        failures.push(format!(
            "{name}: the hostile credential records {recorded:?}, expected one of {:?}",
            case.codes
        ));
    }
    let healthy_last = healthy.last_sync(run).await;
    if !healthy_last["last_error"].is_null() {
        failures.push(format!(
            "{name}: the healthy credential records an error: {healthy_last}"
        ));
    }
}
