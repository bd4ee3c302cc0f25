//! The GitLab client against the GitLab simulator over real HTTP: every error class, every fault, the network
//! guard, a private CA, and the token never showing.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt;
use shared::gitlab::{
    AddressError, CommitQuery, GitLabAddress, GitLabClient, GitLabError, HttpClients,
    NetworkPolicy, ProjectRef, RetryPolicy, Timeouts,
};
use testkit::clients::{client, client_with, fast_retry, local_http};
use testkit::git_fixture::GitRepo;
use testkit::gitlab_sim::{
    Fault, FaultMix, Membership, Namespace, OneProject, ProjectSpec, RateLimit, Simulator,
    TokenSpec, World,
};
use testkit::tls_front::TlsFront;

const TOKEN: &str = "glpat-client-test-token-0001";
const EXPIRED: &str = "glpat-client-test-expired-02";
const REVOKED: &str = "glpat-client-test-revoked-03";
const NO_SCOPE: &str = "glpat-client-test-noscope-04";
const COMMITS: &str = "GET /projects/:id/repository/commits";
const PROJECT: &str = "GET /projects/:id";

struct Fixture {
    sim: Simulator,
    repo: GitRepo,
    project: ProjectRef,
    no_repo: ProjectRef,
    repo_disabled: ProjectRef,
}

/// One user in one group with a project of `commits` commits (merges every 10th), plus projects without a
/// repository and with the repository feature off, and tokens in every state.
async fn fixture(commits: usize) -> Fixture {
    let repo = GitRepo::init("main");
    repo.fast_import_history("main", commits, Some(10));
    let OneProject {
        mut world,
        user,
        group,
        project,
    } = World::one_project(TOKEN, Some(repo.path()));
    let yesterday = time::OffsetDateTime::now_utc().date() - time::Duration::days(1);
    world.add_token(TokenSpec::new(EXPIRED, user, &["read_api"]).with_expiry(yesterday));
    let revoked = world.add_token(TokenSpec::new(REVOKED, user, &["read_api"]));
    world.token_mut(revoked).revoked = true;
    world.add_token(TokenSpec::new(NO_SCOPE, user, &["read_repository"]));
    let no_repo = world.add_project(ProjectSpec::new(
        Namespace::Group(group),
        "no-repo",
        None,
        "main",
    ));
    let repo_disabled = world.add_project(ProjectSpec::new(
        Namespace::Group(group),
        "issues-only",
        Some(repo.path()),
        "main",
    ));
    world.project_mut(repo_disabled).repository_enabled = false;
    let sim = Simulator::start(world).await.expect("simulator");
    Fixture {
        sim,
        repo,
        project: ProjectRef::Id(project),
        no_repo: ProjectRef::Id(no_repo),
        repo_disabled: ProjectRef::Id(repo_disabled),
    }
}

/// The simulator's socket, for fronting it with TLS.
fn sim_addr(sim: &Simulator) -> std::net::SocketAddr {
    let url = url::Url::parse(&sim.base_url()).unwrap();
    url.socket_addrs(|| None).unwrap()[0]
}

async fn all_shas(client: &GitLabClient, project: &ProjectRef, query: &CommitQuery) -> Vec<String> {
    client
        .commits(project, query)
        .map_ok(|page| {
            futures::stream::iter(page.commits.into_iter().map(|c| Ok::<_, GitLabError>(c.id)))
        })
        .try_flatten()
        .try_collect()
        .await
        .expect("listing")
}

#[tokio::test]
async fn streams_a_history_page_by_page_exactly_as_git_lists_it() {
    let f = fixture(1_000).await;
    let gitlab = client(&f.sim.base_url(), TOKEN);
    let shas = all_shas(&gitlab, &f.project, &CommitQuery::history("main")).await;
    assert_eq!(shas, f.repo.rev_list(&["main"]));
    // 1,000 commits at 100 a page: ten full pages, then the empty page GitLab always ends an exact multiple with.
    assert_eq!(f.sim.request_count(COMMITS), 11);
    assert_eq!(gitlab.stats().requests, 11);

    // A range and a first-parent walk by path-encoded project.
    let tip = f.repo.rev_list(&["main"])[0].clone();
    let base = f.repo.rev_list(&["--first-parent", "main"])[30].clone();
    let range = CommitQuery::history(format!("{base}..{tip}"));
    let by_path = ProjectRef::Path("acme/app".into());
    assert_eq!(
        all_shas(&gitlab, &by_path, &range).await,
        f.repo.rev_list(&[&format!("{base}..{tip}")])
    );
    let spine = CommitQuery {
        first_parent: true,
        ..CommitQuery::history("main")
    };
    assert_eq!(
        all_shas(&gitlab, &f.project, &spine).await,
        f.repo.rev_list(&["--first-parent", "main"])
    );
    f.sim.shutdown().await;
}

#[tokio::test]
async fn commits_carry_every_field_with_stats_and_trailers() {
    let f = fixture(30).await;
    let gitlab = client(&f.sim.base_url(), TOKEN);
    let page = gitlab
        .commits_page(&f.project, &CommitQuery::history("main"), 1)
        .await
        .unwrap();
    assert_eq!(page.commits.len(), 30);
    assert!(!page.stats_missing);
    assert_eq!(
        page.next_page, None,
        "a partial page advertises no next page"
    );
    let head = &page.commits[0];
    assert_eq!(head.id, f.repo.rev_list(&["main"])[0]);
    assert_eq!(head.short_id, head.id[..8]);
    assert!(
        head.stats
            .is_some_and(|s| s.total == s.additions + s.deletions)
    );
    assert!(
        head.web_url
            .ends_with(&format!("/acme/app/-/commit/{}", head.id))
    );
    f.sim.shutdown().await;
}

#[tokio::test]
async fn each_error_class_is_typed() {
    let f = fixture(5).await;
    let base = f.sim.base_url();
    let history = CommitQuery::history("main");

    let unknown = client(&base, "glpat-nobody")
        .token_self()
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, GitLabError::Unauthorized { .. }),
        "{unknown:?}"
    );
    let expired = client(&base, EXPIRED).token_self().await.unwrap_err();
    assert!(
        matches!(&expired, GitLabError::Unauthorized { message } if message.contains("expired")),
        "{expired:?}"
    );
    let revoked = client(&base, REVOKED).token_self().await.unwrap_err();
    assert!(
        matches!(&revoked, GitLabError::Unauthorized { message } if message.contains("revoked")),
        "{revoked:?}"
    );

    // A token without read_api can read its own scopes, and nothing else.
    let weak = client(&base, NO_SCOPE);
    assert!(!weak.token_self().await.unwrap().can_read_api());
    let scope = weak.project(&f.project).await.unwrap_err();
    assert!(
        matches!(&scope, GitLabError::InsufficientScope { required } if required.contains("read_api")),
        "{scope:?}"
    );

    let gitlab = client(&base, TOKEN);
    let missing = gitlab.project(&ProjectRef::Id(9_999)).await.unwrap_err();
    assert_eq!(
        missing,
        GitLabError::NotFound {
            message: "404 Project Not Found".into()
        }
    );
    let no_repo = gitlab
        .commits_page(&f.no_repo, &history, 1)
        .await
        .unwrap_err();
    assert_eq!(
        no_repo,
        GitLabError::NotFound {
            message: "404 Repository Not Found".into()
        }
    );
    let disabled = gitlab
        .commits_page(&f.repo_disabled, &history, 1)
        .await
        .unwrap_err();
    assert!(
        matches!(disabled, GitLabError::Forbidden { .. }),
        "{disabled:?}"
    );
    let branch = gitlab.branch(&f.project, "nope").await.unwrap_err();
    assert!(matches!(branch, GitLabError::NotFound { .. }), "{branch:?}");
    let bad_ref = gitlab
        .commits_page(&f.project, &CommitQuery::history("-bad ref"), 1)
        .await
        .unwrap_err();
    assert!(
        matches!(bad_ref, GitLabError::Rejected { status: 400, .. }),
        "{bad_ref:?}"
    );
    // An unknown ref is an empty history, not an error (GitLab's own behaviour).
    let unknown_ref = gitlab
        .commits_page(&f.project, &CommitQuery::history("no-such-branch"), 1)
        .await
        .unwrap();
    assert!(unknown_ref.commits.is_empty());
    f.sim.shutdown().await;
}

#[tokio::test]
async fn recovers_from_each_kind_of_fault() {
    let f = fixture(50).await;
    let gitlab = client(&f.sim.base_url(), TOKEN);
    let expected = f.repo.rev_list(&["main"]);
    for fault in [
        Fault::ServerError(502),
        Fault::ServerError(503),
        Fault::RateLimited {
            retry_after_secs: 0,
        },
        Fault::Reset,
        Fault::Truncated,
        Fault::Latency(Duration::from_millis(50)),
    ] {
        f.sim.reset_counts();
        f.sim.fail_next(COMMITS, 2, fault.clone());
        let page = gitlab
            .commits_page(&f.project, &CommitQuery::history("main"), 1)
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        let shas: Vec<_> = page.commits.iter().map(|c| c.id.clone()).collect();
        assert_eq!(shas, expected, "{fault:?}");
        let expected_requests = if matches!(fault, Fault::Latency(_)) {
            1
        } else {
            3
        };
        assert_eq!(f.sim.request_count(COMMITS), expected_requests, "{fault:?}");
    }
    f.sim.shutdown().await;
}

#[tokio::test]
async fn gives_up_after_bounded_retries() {
    let f = fixture(5).await;
    let policy = RetryPolicy {
        max_attempts: 4,
        max_rate_limit_waits: 2,
        ..fast_retry()
    };
    let gitlab = client_with(&local_http(), &f.sim.base_url(), TOKEN, None, policy);

    f.sim.fail_next(COMMITS, 100, Fault::ServerError(503));
    let error = gitlab
        .commits_page(
            &f.project,
            &CommitQuery {
                with_stats: false,
                ..CommitQuery::history("main")
            },
            1,
        )
        .await
        .unwrap_err();
    assert_eq!(
        error,
        GitLabError::Transient {
            detail: "HTTP 503".into(),
            status: Some(503)
        }
    );
    assert_eq!(f.sim.request_count(COMMITS), 4);

    f.sim.fail_next(
        PROJECT,
        100,
        Fault::RateLimited {
            retry_after_secs: 0,
        },
    );
    let error = gitlab.project(&f.project).await.unwrap_err();
    assert!(
        matches!(error, GitLabError::RateLimited { .. }),
        "{error:?}"
    );
    assert_eq!(f.sim.request_count(PROJECT), 3, "two waits, then give up");
    f.sim.shutdown().await;
}

#[tokio::test]
async fn a_page_whose_stats_fail_is_fetched_without_them() {
    let f = fixture(20).await;
    let gitlab = client(&f.sim.base_url(), TOKEN);
    f.sim.fail_next(COMMITS, 3, Fault::ServerError(500));
    let page = gitlab
        .commits_page(&f.project, &CommitQuery::history("main"), 1)
        .await
        .unwrap();
    assert!(page.stats_missing);
    assert_eq!(page.commits.len(), 20);
    assert!(page.commits.iter().all(|c| c.stats.is_none()));
    assert_eq!(gitlab.stats().stats_fallbacks, 1);
    // The next page asks for stats again.
    let again = gitlab
        .commits_page(&f.project, &CommitQuery::history("main"), 1)
        .await
        .unwrap();
    assert!(!again.stats_missing && again.commits.iter().all(|c| c.stats.is_some()));
    f.sim.shutdown().await;
}

/// The bar: under 10% 5xx, 5% 429, 1% resets and 1% truncated bodies, listing a 20,000-commit default
/// branch yields exactly the commits of `git rev-list`, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20k_history_survives_the_fault_mix_exactly() {
    let f = fixture(20_000).await;
    let gitlab = client(&f.sim.base_url(), TOKEN);
    f.sim.set_fault_mix(FaultMix {
        server_error: 0.10,
        rate_limited: 0.05,
        reset: 0.01,
        truncated: 0.01,
        seed: 20_000,
    });
    let query = CommitQuery {
        with_stats: false,
        ..CommitQuery::history("main")
    };
    let shas = all_shas(&gitlab, &f.project, &query).await;
    let oracle = f.repo.rev_list(&["main"]);
    assert_eq!(shas.len(), 20_000);
    assert_eq!(
        shas.iter().collect::<HashSet<_>>().len(),
        20_000,
        "each once"
    );
    assert_eq!(shas, oracle);
    let stats = gitlab.stats();
    assert!(stats.retries > 0 && stats.rate_limited > 0, "{stats:?}");
    f.sim.shutdown().await;
}

#[tokio::test]
async fn group_listings_follow_every_page() {
    let repo = GitRepo::init("main");
    repo.fast_import_history("main", 3, None);
    let mut world = World::new();
    let user = world.add_user("importer");
    world.add_token(TokenSpec::new(TOKEN, user, &["read_api"]));
    let top = world.add_group("big", None);
    let sub = world.add_group("sub", Some(top));
    world.add_member(user, Membership::Group(top), 30);
    for i in 0..250 {
        let namespace = Namespace::Group(if i % 2 == 0 { top } else { sub });
        world.add_project(ProjectSpec::new(
            namespace,
            &format!("p{i}"),
            Some(repo.path()),
            "main",
        ));
    }
    let sim = Simulator::start(world).await.unwrap();
    let gitlab = client(&sim.base_url(), TOKEN);
    let projects: Vec<_> = gitlab
        .group_projects(top, true, None)
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    let ids: HashSet<u64> = projects.iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 250);
    assert_eq!(sim.request_count("GET /groups/:id/projects"), 3);
    let groups: Vec<_> = gitlab
        .groups()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .concat();
    let mut paths: Vec<_> = groups.iter().map(|g| g.full_path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["big", "big/sub"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_network_guard_refuses_private_targets() {
    let f = fixture(3).await;
    for target in [
        "https://169.254.169.254/",
        "https://127.0.0.1/",
        "https://10.1.2.3/",
        "https://192.168.0.10/",
        "https://[fd12::1]/",
    ] {
        assert_eq!(
            GitLabAddress::parse(target, NetworkPolicy::PublicOnly),
            Err(AddressError::PrivateAddress),
            "{target}"
        );
    }
    // A name that resolves to loopback passes parsing but is never dialled: the resolver drops the address.
    let tls = TlsFront::start(sim_addr(&f.sim)).await.unwrap();
    let public_only = HttpClients::new(NetworkPolicy::PublicOnly, Timeouts::default()).unwrap();
    let address = GitLabAddress::parse(&tls.base_url, NetworkPolicy::PublicOnly).unwrap();
    assert_eq!(
        address.check_resolves(NetworkPolicy::PublicOnly).await,
        Err(AddressError::PrivateAddress)
    );
    let gitlab = client_with(
        &public_only,
        &tls.base_url,
        TOKEN,
        Some(&tls.ca_pem),
        fast_retry(),
    );
    let error = gitlab.token_self().await.unwrap_err();
    assert!(matches!(error, GitLabError::Connection { .. }), "{error:?}");
    assert_eq!(f.sim.total_requests(), 0, "nothing reached the server");
    f.sim.shutdown().await;
}

#[tokio::test]
async fn a_private_ca_bundle_is_trusted_and_nothing_else_is() {
    let f = fixture(3).await;
    let tls = TlsFront::start(sim_addr(&f.sim)).await.unwrap();
    let http = local_http();

    let untrusting = client_with(&http, &tls.base_url, TOKEN, None, fast_retry());
    let error = untrusting.token_self().await.unwrap_err();
    assert!(matches!(error, GitLabError::Connection { .. }), "{error:?}");

    let trusting = client_with(&http, &tls.base_url, TOKEN, Some(&tls.ca_pem), fast_retry());
    let token = trusting.token_self().await.unwrap();
    assert!(token.can_read_api());
    let page = trusting
        .commits_page(&f.project, &CommitQuery::history("main"), 1)
        .await
        .unwrap();
    assert_eq!(page.commits.len(), 3);

    assert!(matches!(
        http.for_ca_bundle(Some(
            "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
        )),
        Err(GitLabError::Connection { .. })
    ));
    f.sim.shutdown().await;
}

#[tokio::test]
async fn a_shared_budget_keeps_concurrent_tasks_under_the_gitlab_limit() {
    let f = fixture(5).await;
    // GitLab allows 20 requests per 2 s window; four tasks want 40 requests at once.
    f.sim
        .set_rate_limit(Some(RateLimit::new(20, Duration::from_secs(2))));
    let gitlab = client(&f.sim.base_url(), TOKEN);
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let gitlab = gitlab.clone();
            let project = f.project.clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    gitlab.project(&project).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let stats = gitlab.stats();
    // Every request succeeded; reading RateLimit-Remaining, the client waited for the window instead of
    // hammering: at most one 429 per window boundary.
    assert!(stats.rate_limited <= 3, "{stats:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stats.requests - stats.rate_limited, 40);
    f.sim.shutdown().await;
}

/// Captures every log line the client emits, at every level.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_never_shows_in_debug_display_errors_or_logs() {
    let f = fixture(10).await;
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let gitlab = client(&f.sim.base_url(), TOKEN);
    f.sim.fail_next(COMMITS, 3, Fault::ServerError(500));
    f.sim.fail_next(
        "*",
        1,
        Fault::RateLimited {
            retry_after_secs: 0,
        },
    );
    let mut shown = vec![format!("{gitlab:?}")];
    shown.push(format!(
        "{:?}",
        gitlab
            .commits_page(&f.project, &CommitQuery::history("main"), 1)
            .await
    ));
    for token in [TOKEN, EXPIRED, REVOKED, NO_SCOPE] {
        let other = client(&f.sim.base_url(), token);
        let result = other.project(&f.project).await;
        shown.push(format!("{other:?} {result:?}"));
        if let Err(error) = result {
            shown.push(error.to_string());
        }
    }
    drop(_guard);
    shown.push(String::from_utf8(logs.0.lock().unwrap().clone()).unwrap());
    let everything = shown.join("\n");
    assert!(everything.contains("rate limit"), "the logs were captured");
    for token in [TOKEN, EXPIRED, REVOKED, NO_SCOPE] {
        assert!(!everything.contains(token), "token leaked:\n{everything}");
    }
    f.sim.shutdown().await;
}
