//! The GitLab client against the GitLab simulator over real HTTP: every error class, every fault, every hostile
//! answer, the network guard, a private CA, and the token never showing.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{Stream, TryStreamExt};
use shared::gitlab::{
    AddressError, CommitPage, CommitQuery, GitLabAddress, GitLabClient, GitLabError, HttpClients,
    Limits, ListPage, NetworkPolicy, PrivateNetworks, ProjectRef, RetryPolicy, Timeouts,
};
use testkit::clients::{client, client_with, fast_retry, local_http};
use testkit::git_fixture::GitRepo;
use testkit::gitlab_sim::{
    Fault, FaultMix, Hostile, Membership, Namespace, ProjectSpec, RateLimit, Simulator, TokenSpec,
    World, routes,
};
use testkit::log_sink::LogSink;
use testkit::loopback_alias::{LoopbackAlias, PRIVATE_TEST_ADDRESS};
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
    let repo = GitRepo::with_history(commits, Some(10));
    let mut one = World::one_project(TOKEN, Some(repo.path()));
    let (world, user, group) = (&mut one.world, one.user, one.group);
    let yesterday = time::OffsetDateTime::now_utc().date() - time::Duration::days(1);
    world.add_token(TokenSpec::new(EXPIRED, user, &["read_api"]).with_expiry(yesterday));
    let revoked = world.add_token(TokenSpec::new(REVOKED, user, &["read_api"]));
    world.token_mut(revoked).revoked = true;
    world.add_token(TokenSpec::new(NO_SCOPE, user, &["read_repository"]));
    let no_repo = world.add_project(ProjectSpec::in_group(group, "no-repo", None));
    let repo_disabled = world.add_project(ProjectSpec::in_group(
        group,
        "issues-only",
        Some(repo.path()),
    ));
    world.project_mut(repo_disabled).repository_enabled = false;
    let sim = Simulator::start(one.world).await.expect("simulator");
    Fixture {
        sim,
        repo,
        project: ProjectRef::Id(one.project),
        no_repo: ProjectRef::Id(no_repo),
        repo_disabled: ProjectRef::Id(repo_disabled),
    }
}

impl Fixture {
    /// A client of the simulator with the valid token.
    fn client(&self) -> GitLabClient {
        client(&self.sim.base_url(), TOKEN)
    }

    /// The first page of `main`'s history, as `gitlab` reads it.
    async fn first_page(&self, gitlab: &GitLabClient) -> Result<CommitPage, GitLabError> {
        gitlab
            .commits_page(&self.project, &CommitQuery::history("main"), 1)
            .await
    }
}

/// A client of the GitLab behind `front`, trusting its CA, through `http`.
fn tls_client(http: &HttpClients, front: &TlsFront) -> GitLabClient {
    client_with(
        http,
        &front.base_url,
        TOKEN,
        Some(&front.ca_pem),
        fast_retry(),
    )
}

/// Every item of a paged listing, in GitLab's order.
async fn all_items<T>(pages: impl Stream<Item = Result<ListPage<T>, GitLabError>>) -> Vec<T> {
    pages
        .map_ok(|page| page.items)
        .try_concat()
        .await
        .expect("listing")
}

/// Every commit id of a listing, in GitLab's order.
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
    let gitlab = f.client();
    let shas = all_shas(&gitlab, &f.project, &CommitQuery::history("main")).await;
    assert_eq!(shas, f.repo.rev_list(&["main"]));
    // 1,000 commits at 100 a page: ten full pages, then the empty page GitLab always ends an exact multiple with.
    assert_eq!(f.sim.request_count(COMMITS), 11);
    assert_eq!(gitlab.stats().requests, 11);

    // A range and a first-parent walk.
    let tip = f.repo.rev_list(&["main"])[0].clone();
    let base = f.repo.rev_list(&["--first-parent", "main"])[30].clone();
    let range = CommitQuery::history(format!("{base}..{tip}"));
    assert_eq!(
        all_shas(&gitlab, &f.project, &range).await,
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
    let gitlab = f.client();
    let page = f.first_page(&gitlab).await.unwrap();
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
    let not_found = |message: &str| GitLabError::NotFound {
        message: message.into(),
    };
    let missing = gitlab.project(&ProjectRef::Id(9_999)).await.unwrap_err();
    assert_eq!(missing, not_found("404 Project Not Found"));
    let no_repo = gitlab.commits_page(&f.no_repo, &history, 1).await;
    assert_eq!(no_repo.unwrap_err(), not_found("404 Repository Not Found"));
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
    let gitlab = f.client();
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
        let page = f
            .first_page(&gitlab)
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
    let gitlab = f.client();
    f.sim.fail_next(COMMITS, 3, Fault::ServerError(500));
    let page = f.first_page(&gitlab).await.unwrap();
    assert!(page.stats_missing);
    assert_eq!(page.commits.len(), 20);
    assert!(page.commits.iter().all(|c| c.stats.is_none()));
    assert_eq!(gitlab.stats().stats_fallbacks, 1);
    // The next page asks for stats again.
    let again = f.first_page(&gitlab).await.unwrap();
    assert!(!again.stats_missing && again.commits.iter().all(|c| c.stats.is_some()));
    f.sim.shutdown().await;
}

/// The bar: under 10% 5xx, 5% 429, 1% resets and 1% truncated bodies, listing a 20,000-commit default
/// branch yields exactly the commits of `git rev-list`, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20k_history_survives_the_fault_mix_exactly() {
    let f = fixture(20_000).await;
    let gitlab = f.client();
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
    let repo = GitRepo::with_history(3, None);
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
    let projects = all_items(gitlab.group_projects(top, true, None)).await;
    let ids: HashSet<u64> = projects.iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 250);
    assert_eq!(sim.request_count("GET /groups/:id/projects"), 3);
    let groups = all_items(gitlab.groups()).await;
    let mut paths: Vec<_> = groups.iter().map(|g| g.full_path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["big", "big/sub"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_network_guard_refuses_private_targets() {
    let f = fixture(3).await;
    for (target, refusal) in [
        ("https://169.254.169.254/", AddressError::LocalAddress),
        ("https://127.0.0.1/", AddressError::LocalAddress),
        ("https://10.1.2.3/", AddressError::PrivateAddress),
        ("https://192.168.0.10/", AddressError::PrivateAddress),
        ("https://[fd12::1]/", AddressError::PrivateAddress),
    ] {
        assert_eq!(
            GitLabAddress::parse(target, &NetworkPolicy::PublicOnly),
            Err(refusal),
            "{target}"
        );
    }
    // A name that resolves to loopback passes parsing but is never dialled: the resolver drops the address.
    let tls = TlsFront::start(f.sim.addr()).await.unwrap();
    let public_only = HttpClients::new(NetworkPolicy::PublicOnly, Timeouts::default()).unwrap();
    let address = GitLabAddress::parse(&tls.base_url, &NetworkPolicy::PublicOnly).unwrap();
    assert_eq!(
        address.check_resolves(&NetworkPolicy::PublicOnly).await,
        Err(AddressError::LocalAddress)
    );
    let gitlab = tls_client(&public_only, &tls);
    let error = gitlab.token_self().await.unwrap_err();
    assert!(matches!(error, GitLabError::Connection { .. }), "{error:?}");
    assert_eq!(f.sim.total_requests(), 0, "nothing reached the server");
    f.sim.shutdown().await;
}

/// A client of `base_url` under `policy` whose HTTP client connects within 2 s and gives up after `read_secs` of
/// silence or `total_secs` in all.
fn client_timing_out(
    policy: NetworkPolicy,
    read_secs: u64,
    total_secs: u64,
    base_url: &str,
) -> GitLabClient {
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        read: Duration::from_secs(read_secs),
        total: Duration::from_secs(total_secs),
    };
    let http = HttpClients::new(policy, timeouts).unwrap();
    client_with(&http, base_url, TOKEN, None, fast_retry())
}

/// HTTP clients of a deployed stack whose operator allows the private networks `list`.
fn operator_http(list: &str) -> HttpClients {
    let networks = PrivateNetworks::parse(list).unwrap().unwrap();
    HttpClients::new(NetworkPolicy::PublicAnd(networks), Timeouts::default()).unwrap()
}

#[tokio::test]
async fn an_allow_listed_private_gitlab_is_reachable_and_nothing_outside_the_list_is() {
    let f = fixture(3).await;
    let alias = LoopbackAlias::hold(PRIVATE_TEST_ADDRESS).unwrap();
    // A self-managed GitLab on a private address, behind an internal CA.
    let private = TlsFront::start_on(PRIVATE_TEST_ADDRESS.into(), f.sim.addr(), None)
        .await
        .unwrap();
    let listed = operator_http("10.20.0.0/16 198.18.0.0/15");
    let address = GitLabAddress::parse(&private.base_url, listed.policy()).unwrap();
    assert_eq!(address.check_resolves(listed.policy()).await, Ok(()));
    let gitlab = tls_client(&listed, &private);
    let token = gitlab.token_self().await.unwrap();
    assert!(token.active);
    assert_eq!(f.sim.total_requests(), 1);

    // The same GitLab when the operator listed another network: refused before any request.
    let unlisted = operator_http("10.20.0.0/16 gitlab.corp.example");
    assert_eq!(
        GitLabAddress::parse(&private.base_url, unlisted.policy()),
        Err(AddressError::PrivateAddress)
    );

    // A careless list that covers loopback and link-local still never reaches them: the name `localhost`
    // resolves to loopback, and the resolver drops it at connect time.
    let careless = operator_http("0.0.0.0/0 ::/0 localhost");
    let on_loopback = TlsFront::start(f.sim.addr()).await.unwrap();
    let address = GitLabAddress::parse(&on_loopback.base_url, careless.policy()).unwrap();
    assert_eq!(
        address.check_resolves(careless.policy()).await,
        Err(AddressError::LocalAddress)
    );
    let gitlab = tls_client(&careless, &on_loopback);
    let error = gitlab.token_self().await.unwrap_err();
    assert!(
        matches!(&error, GitLabError::Connection { detail } if detail.contains("never allowed")),
        "{error:?}"
    );
    for never in [
        "https://169.254.169.254/",
        "https://[fe80::1]/",
        "https://127.0.0.1:8443/",
    ] {
        assert_eq!(
            GitLabAddress::parse(never, careless.policy()),
            Err(AddressError::LocalAddress),
            "{never}"
        );
    }
    assert_eq!(
        f.sim.total_requests(),
        1,
        "only the listed GitLab was asked"
    );
    drop(alias);
    f.sim.shutdown().await;
}

#[tokio::test]
async fn a_private_ca_bundle_is_trusted_and_nothing_else_is() {
    let f = fixture(3).await;
    let tls = TlsFront::start(f.sim.addr()).await.unwrap();
    let http = local_http();

    let untrusting = client_with(&http, &tls.base_url, TOKEN, None, fast_retry());
    let error = untrusting.token_self().await.unwrap_err();
    assert!(matches!(error, GitLabError::Connection { .. }), "{error:?}");

    let trusting = tls_client(&http, &tls);
    let token = trusting.token_self().await.unwrap();
    assert!(token.can_read_api());
    let page = f.first_page(&trusting).await.unwrap();
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
    let gitlab = f.client();
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
    // Those waits are the budget's, counted for the worker's metrics.
    assert!(
        stats.budget_waits > 0 && stats.budget_wait >= Duration::from_millis(500),
        "{stats:?}"
    );
    f.sim.shutdown().await;
}

#[tokio::test]
async fn the_token_never_shows_in_debug_display_errors_or_logs() {
    let f = fixture(10).await;
    let logs = LogSink::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let gitlab = f.client();
    f.sim.fail_next(COMMITS, 3, Fault::ServerError(500));
    f.sim.fail_next(
        "*",
        1,
        Fault::RateLimited {
            retry_after_secs: 0,
        },
    );
    let mut shown = vec![format!("{gitlab:?}")];
    shown.push(format!("{:?}", f.first_page(&gitlab).await));
    for token in [TOKEN, EXPIRED, REVOKED, NO_SCOPE] {
        let other = client(&f.sim.base_url(), token);
        let result = other.project(&f.project).await;
        shown.push(format!("{other:?} {result:?}"));
        if let Err(error) = result {
            shown.push(error.to_string());
        }
    }
    drop(_guard);
    shown.push(logs.text());
    let everything = shown.join("\n");
    assert!(everything.contains("rate limit"), "the logs were captured");
    for token in [TOKEN, EXPIRED, REVOKED, NO_SCOPE] {
        assert!(!everything.contains(token), "token leaked:\n{everything}");
    }
    f.sim.shutdown().await;
}

fn hostile(answer: Hostile) -> Fault {
    Fault::Hostile(answer)
}

fn pairs(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// A client whose longest rate-limit wait is `max_wait`.
fn waiting_at_most(sim: &Simulator, max_wait: Duration) -> GitLabClient {
    let policy = RetryPolicy {
        max_rate_limit_wait: max_wait,
        ..fast_retry()
    };
    client_with(&local_http(), &sim.base_url(), TOKEN, None, policy)
}

/// The panic, and its cousins: a 200 whose rate-limit headers are huge, negative or not numbers gives the
/// right answer, and the pause it asks for is clamped to the policy's longest wait, or refused at the deadline.
#[tokio::test]
async fn hostile_rate_limit_headers_on_a_200_never_panic_nor_park() {
    let f = fixture(5).await;
    let end_of_time = u64::MAX.to_string();
    let spent_forever = pairs(&[
        ("RateLimit-Remaining", "0"),
        ("RateLimit-Reset", &end_of_time),
        ("Retry-After", &end_of_time),
    ]);

    // Clamped: the next request waits the longest wait (300 ms), not until the end of time.
    let gitlab = waiting_at_most(&f.sim, Duration::from_millis(300));
    f.sim
        .fail_next(PROJECT, 1, hostile(Hostile::Headers(spent_forever.clone())));
    let project = gitlab.project(&f.project).await.unwrap();
    assert_eq!(project.path_with_namespace, "acme/app");
    let started = Instant::now();
    gitlab.project(&f.project).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
        "{waited:?}"
    );

    // With the default longest wait (120 s) and a deadline a second away: refused at once, nothing sent.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    let gitlab = f.client().with_deadline(Some(deadline));
    f.sim
        .fail_next(PROJECT, 1, hostile(Hostile::Headers(spent_forever)));
    gitlab.project(&f.project).await.unwrap();
    f.sim.reset_counts();
    let started = Instant::now();
    let error = gitlab.project(&f.project).await.unwrap_err();
    assert!(
        matches!(error, GitLabError::RateLimited { retry_after } if retry_after > Duration::from_secs(100)),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(200));
    assert_eq!(f.sim.request_count(PROJECT), 0);

    // Values that are not plain numbers count as absent: no pause at all.
    let gitlab = f.client();
    for reset in ["-1", "soon", "1e30", "99999999999999999999999", "1.5"] {
        f.sim.fail_next(
            PROJECT,
            1,
            hostile(Hostile::Headers(pairs(&[
                ("RateLimit-Limit", "-5"),
                ("RateLimit-Remaining", "0"),
                ("RateLimit-Reset", reset),
                ("Retry-After", "-30"),
            ]))),
        );
        gitlab.project(&f.project).await.unwrap();
        let started = Instant::now();
        gitlab.project(&f.project).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{reset}: {:?}",
            started.elapsed()
        );
    }
    f.sim.shutdown().await;
}

/// A 429 asking for an absurd wait is a prompt `RateLimited`; one whose `Retry-After` is not a number falls back
/// to `RateLimit-Reset`; a wait past the deadline is not waited.
#[tokio::test]
async fn hostile_429s_end_in_a_clear_error_or_a_bounded_wait() {
    let f = fixture(5).await;
    let end_of_time = u64::MAX.to_string();
    for headers in [
        pairs(&[("Retry-After", &end_of_time)]),
        pairs(&[
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", &end_of_time),
        ]),
        // Nothing usable: the 60 s fallback is longer than this client waits.
        pairs(&[("Retry-After", "-5"), ("RateLimit-Reset", "never")]),
    ] {
        // A client of its own each time: `RateLimit-Remaining: 0` pauses the client's budget (for 2 s at most).
        let gitlab = waiting_at_most(&f.sim, Duration::from_secs(2));
        f.sim.reset_counts();
        f.sim.fail_next(
            PROJECT,
            1,
            hostile(Hostile::TooManyRequests(headers.clone())),
        );
        let started = Instant::now();
        let error = gitlab.project(&f.project).await.unwrap_err();
        assert!(
            matches!(error, GitLabError::RateLimited { retry_after } if retry_after > Duration::from_secs(2)),
            "{headers:?}: {error:?}"
        );
        assert_eq!(error.code(), "rate_limited");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{headers:?}"
        );
        assert_eq!(f.sim.request_count(PROJECT), 1, "{headers:?}");
    }

    // `Retry-After` unreadable, `RateLimit-Reset` a second ahead: waited, then answered.
    let gitlab = waiting_at_most(&f.sim, Duration::from_secs(5));
    let reset = (time::OffsetDateTime::now_utc().unix_timestamp() + 1).to_string();
    f.sim.reset_counts();
    f.sim.fail_next(
        PROJECT,
        1,
        hostile(Hostile::TooManyRequests(pairs(&[
            ("Retry-After", "soon"),
            ("RateLimit-Reset", &reset),
        ]))),
    );
    let started = Instant::now();
    gitlab.project(&f.project).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(f.sim.request_count(PROJECT), 2);

    // A 2 s wait with 300 ms left: refused at once.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let gitlab = f.client().with_deadline(Some(deadline));
    f.sim.fail_next(
        PROJECT,
        1,
        hostile(Hostile::TooManyRequests(pairs(&[("Retry-After", "2")]))),
    );
    let started = Instant::now();
    let error = gitlab.project(&f.project).await.unwrap_err();
    assert_eq!(
        error,
        GitLabError::RateLimited {
            retry_after: Duration::from_secs(2)
        }
    );
    assert!(started.elapsed() < Duration::from_millis(300));
    f.sim.shutdown().await;
}

/// The deadline bounds every wait: backoff, a slow answer, and a call made after it passed.
#[tokio::test]
async fn nothing_runs_past_the_deadline() {
    let f = fixture(5).await;
    let slow_backoff = RetryPolicy {
        base_delay: Duration::from_millis(400),
        max_delay: Duration::from_secs(5),
        ..fast_retry()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    let gitlab = client_with(&local_http(), &f.sim.base_url(), TOKEN, None, slow_backoff)
        .with_deadline(Some(deadline));
    f.sim.fail_next(PROJECT, 100, Fault::ServerError(503));
    let error = gitlab.project(&f.project).await.unwrap_err();
    assert!(
        matches!(
            error,
            GitLabError::Transient {
                status: Some(503),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        tokio::time::Instant::now() <= deadline,
        "returned before the deadline"
    );
    assert!(
        f.sim.request_count(PROJECT) < 6,
        "gave up before the attempts ran out"
    );

    let f = fixture(5).await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    let gitlab = f.client().with_deadline(Some(deadline));
    f.sim
        .fail_next(PROJECT, 1, Fault::Latency(Duration::from_secs(10)));
    let started = Instant::now();
    let error = gitlab.project(&f.project).await.unwrap_err();
    assert!(matches!(error, GitLabError::TimedOut { .. }), "{error:?}");
    assert_eq!(error.code(), "timed_out");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    f.sim.reset_counts();
    let error = gitlab.project(&f.project).await.unwrap_err();
    assert!(matches!(error, GitLabError::TimedOut { .. }), "{error:?}");
    assert_eq!(
        f.sim.request_count(PROJECT),
        0,
        "nothing sent after the deadline"
    );
    f.sim.shutdown().await;
}

/// A gzip bomb (512 MiB inflated) and a 64 MB body end at the 8 MiB cap, at once and without retries; a commit
/// page over the cap is asked for again in smaller parts (a tenth, then one commit), each of which is refused the
/// same way, and one bomb alone is only a detour; a lower cap refuses an ordinary page.
#[tokio::test]
async fn oversized_and_bombed_bodies_stop_at_the_cap() {
    let f = fixture(30).await;
    let gitlab = f.client();
    let cap = Limits::default().max_body_bytes;
    assert_eq!(cap, 8 << 20);
    for answer in [
        Hostile::GzipBomb {
            inflated: 512 << 20,
        },
        Hostile::Huge { bytes: 64 << 20 },
    ] {
        f.sim.reset_counts();
        f.sim.fail_next(COMMITS, 3, hostile(answer.clone()));
        let started = Instant::now();
        let error = f.first_page(&gitlab).await.unwrap_err();
        assert_eq!(
            error,
            GitLabError::ResponseTooLarge { limit: cap },
            "{answer:?}"
        );
        assert_eq!(error.code(), "response_too_large");
        assert!(!error.is_transient());
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{answer:?}: {:?}",
            started.elapsed()
        );
        assert_eq!(
            f.sim.request_count(COMMITS),
            3,
            "{answer:?}: the page, a tenth, one commit; none retried"
        );
    }
    // One bomb, then GitLab answers as usual: the page comes back whole, read in tenths (three full parts of
    // ten, and the empty fourth that ends the listing).
    f.sim.reset_counts();
    f.sim.fail_next(
        COMMITS,
        1,
        hostile(Hostile::GzipBomb {
            inflated: 512 << 20,
        }),
    );
    let page = f.first_page(&gitlab).await.unwrap();
    assert_eq!(page.commits.len(), 30);
    assert_eq!(page.next_page, None);
    assert_eq!(f.sim.request_count(COMMITS), 1 + 4);
    let page = f.first_page(&gitlab).await.unwrap();
    assert_eq!(page.commits.len(), 30, "the next answer is read as usual");

    // Smaller than one commit: no part can be read either.
    let small = f.client().with_limits(Limits {
        max_body_bytes: 100,
    });
    let error = f.first_page(&small).await.unwrap_err();
    assert_eq!(error, GitLabError::ResponseTooLarge { limit: 100 });
    f.sim.shutdown().await;
}

/// A body of one byte a second ends at the client's total timeout, as a timeout, without retries.
#[tokio::test]
async fn a_body_that_drips_ends_within_the_total_timeout() {
    let f = fixture(5).await;
    let gitlab = client_timing_out(NetworkPolicy::AllowPrivate, 10, 2, &f.sim.base_url());
    f.sim.fail_next(
        PROJECT,
        1,
        hostile(Hostile::Drip {
            every: Duration::from_secs(1),
        }),
    );
    let started = Instant::now();
    let error = gitlab.project(&f.project).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(error, GitLabError::TimedOut { .. }), "{error:?}");
    assert!(error.is_transient());
    assert!(
        elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert_eq!(f.sim.request_count(PROJECT), 1);
    f.sim.shutdown().await;
}

/// Invalid UTF-8, invalid JSON, JSON of another shape and an HTML page with a 200 are `invalid_response`, not
/// retried, and the client reads the next answer as usual.
#[tokio::test]
async fn answers_that_are_not_the_json_asked_for_are_invalid_responses() {
    let f = fixture(5).await;
    let gitlab = f.client();
    let json = "application/json";
    for (content_type, body, expected) in [
        (json, &b"[{\"id\": \"\xff\xfe\"}]"[..], "not valid UTF-8"),
        (json, b"[{\"id\": \"abc\",", "JSON cut short"),
        (json, b"[{]", "invalid JSON"),
        (json, b"{\"items\": []}", "unexpected JSON"),
        (
            "text/html; charset=utf-8",
            b"<html><body>Sign in</body></html>",
            "expected JSON, got content type \"text/html\"",
        ),
    ] {
        f.sim.reset_counts();
        f.sim.fail_next(
            COMMITS,
            1,
            hostile(Hostile::Body {
                status: 200,
                content_type: content_type.into(),
                body: body.to_vec().into(),
            }),
        );
        let error = f.first_page(&gitlab).await.unwrap_err();
        assert!(
            matches!(&error, GitLabError::InvalidResponse { detail } if detail.contains(expected)),
            "{expected}: {error:?}"
        );
        assert_eq!(error.code(), "invalid_response");
        assert_eq!(f.sim.request_count(COMMITS), 1, "{expected}: not retried");
    }
    let page = f.first_page(&gitlab).await.unwrap();
    assert_eq!(page.commits.len(), 5);
    f.sim.shutdown().await;
}

/// A 302 to the metadata address, or to another server, is an error; its `Location` is never fetched.
#[tokio::test]
async fn a_redirect_is_an_error_and_never_followed() {
    let f = fixture(5).await;
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let gitlab = f.client();
    for location in [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/".to_owned(),
        format!(
            "http://{}/api/v4/projects/1",
            elsewhere.local_addr().unwrap()
        ),
    ] {
        f.sim.reset_counts();
        f.sim
            .fail_next(PROJECT, 1, hostile(Hostile::Redirect(location.clone())));
        let started = Instant::now();
        let error = gitlab.project(&f.project).await.unwrap_err();
        assert!(
            matches!(&error, GitLabError::InvalidResponse { detail } if detail.contains("302 redirect")),
            "{location}: {error:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2), "{location}");
        assert_eq!(f.sim.request_count(PROJECT), 1);
    }
    assert!(
        elsewhere.accept().is_err(),
        "the Location was never dialled"
    );
    f.sim.shutdown().await;
}

/// `X-Next-Page` or `Link rel="next"` pointing back at a page already read ends the listing.
#[tokio::test]
async fn a_next_page_that_loops_ends_the_listing() {
    let f = fixture(250).await;
    let gitlab = f.client();
    let history = CommitQuery::history("main");

    f.sim.fail_next(
        routes::GROUPS,
        1_000,
        hostile(Hostile::Headers(pairs(&[("X-Next-Page", "1")]))),
    );
    let groups = all_items(gitlab.groups()).await;
    assert_eq!(groups.len(), 1);
    assert_eq!(f.sim.request_count(routes::GROUPS), 1);

    // Pages 1 and 2 both say "next: 2": the listing stops after page 2 instead of reading it forever.
    f.sim.fail_next(
        COMMITS,
        1_000,
        hostile(Hostile::Headers(pairs(&[("X-Next-Page", "2")]))),
    );
    let shas = all_shas(&gitlab, &f.project, &history).await;
    assert_eq!(shas, f.repo.rev_list(&["main"])[..200]);
    assert_eq!(f.sim.request_count(COMMITS), 2);

    // `Link rel="next"` back at page 1 (and an empty `X-Next-Page`, as GitLab sends on a last page).
    let link = format!(
        "<{}/groups/{}/projects?page=1&per_page=100>; rel=\"next\"",
        f.sim.api_url(),
        groups[0].id
    );
    f.sim.fail_next(
        routes::GROUP_PROJECTS,
        1_000,
        hostile(Hostile::Headers(pairs(&[
            ("X-Next-Page", ""),
            ("Link", &link),
        ]))),
    );
    let projects = all_items(gitlab.group_projects(groups[0].id, true, None)).await;
    assert_eq!(projects.len(), 3);
    assert_eq!(f.sim.request_count(routes::GROUP_PROJECTS), 1);
    f.sim.shutdown().await;
}

/// With HTTPS_PROXY/HTTP_PROXY/ALL_PROXY pointing at a listener, a client built in that environment never talks to
/// the proxy: the guarded resolver still refuses a private target. Environment variables are process-wide, so the
/// client is built in a child process (this test binary, running only the test below) with them set.
#[test]
fn proxy_settings_in_the_environment_are_ignored() {
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child.args([
        "--exact",
        "gitlab_client::a_client_built_under_proxy_variables_refuses_a_private_target",
        "--ignored",
        "--test-threads=1",
    ]);
    for name in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
    ] {
        child.env(name, &proxy_url);
    }
    let output = child
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran its test: {stdout}"
    );
    let mut accepted = 0;
    while proxy.accept().is_ok() {
        accepted += 1;
    }
    assert_eq!(accepted, 0, "nothing was sent to the proxy");
}

/// Run by [`proxy_settings_in_the_environment_are_ignored`] with proxy variables set (alone, it checks the guard).
#[tokio::test]
#[ignore = "run in a child process by proxy_settings_in_the_environment_are_ignored"]
async fn a_client_built_under_proxy_variables_refuses_a_private_target() {
    let gitlab = client_timing_out(NetworkPolicy::PublicOnly, 2, 3, "https://localhost:9/");
    let error = gitlab.token_self().await.unwrap_err();
    assert!(
        matches!(&error, GitLabError::Connection { detail } if detail.contains("not allowed")),
        "{error:?}"
    );
}

/// A GitLab that echoes the token back in an error message or in a value its JSON quotes: the client's errors
/// (what the worker and scheduler log and record) never carry it.
/// The error a commits page ends in when GitLab answers it with `status` and the JSON `body`, as its log line and
/// its debug form would show it.
async fn echoed_error(f: &Fixture, gitlab: &GitLabClient, status: u16, body: String) -> String {
    f.sim.fail_next(
        COMMITS,
        1,
        hostile(Hostile::Body {
            status,
            content_type: "application/json".into(),
            body: body.into(),
        }),
    );
    let error = f.first_page(gitlab).await.unwrap_err();
    format!("{error} {error:?}")
}

#[tokio::test]
async fn a_token_echoed_by_gitlab_never_reaches_an_error() {
    let f = fixture(3).await;
    let gitlab = f.client();
    let echo_4xx =
        serde_json::json!({ "message": format!("bad header PRIVATE-TOKEN: {TOKEN}") }).to_string();
    let echo_json = format!("[{{\"id\": 1, \"short_id\": \"{TOKEN}\"}}]");
    for (status, body) in [(400, echo_4xx), (401, echo_json.clone()), (200, echo_json)] {
        let shown = echoed_error(&f, &gitlab, status, body).await;
        assert!(!shown.contains(TOKEN), "{status}: {shown}");
    }
    f.sim.shutdown().await;
}

/// A token GitLab echoes where the client cuts a server's text to a few words (160 characters of an error
/// message, of a JSON error): it is blanked before the cut, so no first part of it is left either.
#[tokio::test]
async fn a_token_echoed_across_the_cut_of_an_error_leaves_no_prefix() {
    let f = fixture(3).await;
    let gitlab = f.client();
    // The token starts 150 characters into the text the client keeps 160 of.
    let message =
        serde_json::json!({ "message": format!("{}{TOKEN}", "x".repeat(150)) }).to_string();
    // serde quotes a value of the wrong type after `invalid type: string "` (22 characters).
    let wrong_type = format!("[{{\"parent_ids\": \"{}{TOKEN}\"}}]", "x".repeat(128));
    for (status, body) in [(400, message.clone()), (401, message), (200, wrong_type)] {
        let shown = echoed_error(&f, &gitlab, status, body).await;
        assert!(
            shown.contains("xxxxxxxxxx"),
            "{status}: the text is kept: {shown}"
        );
        // Any part of the token beyond its public `glpat-` marker.
        for end in "glpat-".len() + 1..=TOKEN.len() {
            assert!(
                !shown.contains(&TOKEN[..end]),
                "{status}: {:?} left in {shown}",
                &TOKEN[..end]
            );
        }
    }
    f.sim.shutdown().await;
}

/// A page with more entries than were asked for is not GitLab's pagination: an invalid answer, before it can
/// fill memory page after page.
#[tokio::test]
async fn a_page_longer_than_asked_for_is_refused() {
    let f = fixture(3).await;
    let gitlab = f.client();
    let padded: testkit::gitlab_sim::Rewrite = Arc::new(|page: serde_json::Value| {
        let first = page[0].clone();
        serde_json::Value::Array(vec![first; 101])
    });
    f.sim
        .fail_next(COMMITS, 1, hostile(Hostile::Rewrite(padded)));
    let error = f.first_page(&gitlab).await.unwrap_err();
    assert_eq!(error.code(), "invalid_response", "{error}");
    assert!(error.to_string().contains("101 entries"), "{error}");
    f.sim.shutdown().await;
}
