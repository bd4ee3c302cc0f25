//! The tick's time and memory: a GitLab slower than the tick, one that lists projects without end, a tick that
//! crashed mid-discovery; none of them starves the other connections.

use testkit::gitlab_sim::{Fault, Gate, Hostile, routes};

use super::*;

/// [`schedule_event`] as Lambda delivers it, with `time_left` before the invocation's deadline.
fn with_time_left(
    mut event: LambdaEvent<serde_json::Value>,
    time_left: Duration,
) -> LambdaEvent<serde_json::Value> {
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    event.context.deadline = u64::try_from(now_ms).unwrap() + time_left.as_millis() as u64;
    event
}

#[tokio::test]
async fn a_gitlab_slower_than_the_tick_never_starves_the_others_and_each_tick_ends_in_time() {
    let env = Env::new().await;
    let repo = repo();
    let slow = Simulator::start(World::one_project("glpat-slow", Some(repo.path())).world)
        .await
        .unwrap();
    let paced = Simulator::start(World::one_project(TOKEN, Some(repo.path())).world)
        .await
        .unwrap();
    env.connect("a-slow", &slow, "glpat-slow").await;
    env.connect("b-paced", &paced, TOKEN).await;
    env.connect("c-paced", &paced, TOKEN).await;
    // Never answers within a tick; the others' discovery takes two rounds of 3 s (groups, then their projects),
    // then a few store calls.
    slow.set_latency(Duration::from_secs(30));
    paced.set_latency(Duration::from_secs(3));
    let margin = Duration::from_millis(1_500);
    let scheduler = env.scheduler(
        env.sqs(),
        SchedulerOptions {
            connection_concurrency: 1,
            discovery_timeout: Duration::from_secs(10),
            tick_margin: margin,
            ..options()
        },
    );
    let last_scheduled = async |connection: &str| {
        env.item(&format!("CONN#{connection}"), "SCHEDULING")
            .await
            .contains_key("last_scheduled_at")
    };
    // The tick at `time` with `time_left` before the invocation's deadline, which it ends before.
    let tick_within = async |time: &str, time_left: Duration| {
        let started = std::time::Instant::now();
        let report = handle(&scheduler, with_time_left(tick_at(time), time_left))
            .await
            .unwrap();
        assert!(started.elapsed() < time_left, "{:?}", started.elapsed());
        report
    };

    // 11 s for discovery: a-slow (first by id, no turn yet) uses its whole window, half the tick, and fails by
    // itself; b-paced, 5.5 s left, is cut by the tick's end; c-paced never starts.
    let first = tick_within("2026-11-25T10:00:00Z", Duration::from_secs(11) + margin).await;
    let by_name = by_connection(&first);
    assert_failed_with(by_name["a-slow"], "discovery_timeout");
    assert!(!by_name["a-slow"].deferred);
    assert!(by_name["b-paced"].deferred && by_name["c-paced"].deferred);
    assert_eq!(first.deferred(), 2);
    assert!(env.drain().await.is_empty());
    assert!(last_scheduled("a-slow").await);
    assert!(!last_scheduled("b-paced").await && !last_scheduled("c-paced").await);

    // Next tick (20 s), the two left over go first and are scheduled (6 to 9 s each, with their records);
    // a-slow, last, is cut. Had a-slow gone first again, its 10 s window would have left c-paced too little.
    let second = tick_within("2026-11-25T11:00:00Z", Duration::from_secs(20) + margin).await;
    let by_name = by_connection(&second);
    assert_eq!(
        (by_name["b-paced"].enqueued, by_name["c-paced"].enqueued),
        (1, 1),
        "{second:#?}"
    );
    assert!(by_name["a-slow"].deferred, "{:?}", by_name["a-slow"]);
    let messages = env.drain().await;
    let mut connections: Vec<&str> = messages
        .iter()
        .map(|m| m.connection_id().as_str())
        .collect();
    connections.sort_unstable();
    assert_eq!(connections, ["b-paced", "c-paced"]);
    slow.shutdown().await;
    paced.shutdown().await;
    env.aws.teardown().await;
}

/// Two connections, each with its own GitLab of one project: `a-hostile` (first by id, so first in a tick where
/// neither has had a turn) and `b-steady`.
struct TwoTenants {
    env: Env,
    _repo: GitRepo,
    hostile: Simulator,
    steady: Simulator,
    hostile_credential: String,
    steady_project: u64,
}

impl TwoTenants {
    async fn start() -> TwoTenants {
        let env = Env::new().await;
        let repo = repo();
        let hostile =
            Simulator::start(World::one_project("glpat-hostile", Some(repo.path())).world)
                .await
                .unwrap();
        let steady = World::one_project(TOKEN, Some(repo.path()));
        let steady_project = steady.project;
        let steady = Simulator::start(steady.world).await.unwrap();
        let hostile_credential = env.connect("a-hostile", &hostile, "glpat-hostile").await;
        env.connect("b-steady", &steady, TOKEN).await;
        TwoTenants {
            env,
            _repo: repo,
            hostile,
            steady,
            hostile_credential,
            steady_project,
        }
    }

    async fn stop(self) {
        self.hostile.shutdown().await;
        self.steady.shutdown().await;
        self.env.aws.teardown().await;
    }
}

/// A GitLab that lists projects without end, 8 MiB a page, costs its connection at most its discovery's byte
/// budget (16 MiB by default): two pages are read, the credential records `discovery_too_large`, the tick ends
/// and the other connection is scheduled, in this tick and the next. Without the budget each page would stay in
/// memory until the function ran out of it.
#[tokio::test]
async fn endless_8_mib_project_pages_stop_at_the_discovery_byte_budget() {
    let tenants = TwoTenants::start().await;
    let endless = Fault::Hostile(Hostile::EndlessProjects {
        page_bytes: 8 << 20,
    });
    tenants
        .hostile
        .fail_next(routes::PROJECTS, u32::MAX, endless);
    tenants.hostile.reset_counts();
    let scheduler = tenants.env.scheduler(tenants.env.sqs(), options());
    assert_eq!(scheduler.options.discovery_max_bytes, 16 << 20);

    for (tick, time) in ["2026-11-26T10:00:00Z", "2026-11-26T11:00:00Z"]
        .into_iter()
        .enumerate()
    {
        let report = run_tick(&scheduler, time).await;
        let by_name = by_connection(&report);
        let hostile = by_name["a-hostile"];
        assert!(
            hostile.errors.len() == 1 && hostile.errors[0].ends_with("discovery_too_large"),
            "{hostile:?}"
        );
        assert_eq!((hostile.discovered, hostile.enqueued), (0, 0));
        assert!(!hostile.deferred, "its own failure: its turn is over");
        let pages = tenants.hostile.request_count(routes::PROJECTS);
        assert!(
            pages <= 3 * (tick as u64 + 1),
            "{pages} pages of 8 MiB read in {} ticks",
            tick + 1
        );
        let steady = by_name["b-steady"];
        assert!(steady.errors.is_empty(), "{steady:?}");
        if tick == 0 {
            assert_eq!(steady.enqueued, 1);
            assert_eq!(ids(&tenants.env.drain().await), [tenants.steady_project]);
        } else {
            assert_eq!(
                steady.in_flight, 1,
                "sent by the first tick, its lease holds"
            );
        }
        let stored = tenants
            .env
            .credential("a-hostile", &tenants.hostile_credential)
            .await;
        assert_eq!(
            stored.last_sync.unwrap().last_error.as_deref(),
            Some("discovery_too_large")
        );
    }
    tenants.stop().await;
}

/// A connection whose discovery takes the whole process down (here the tick is dropped while its GitLab holds
/// the first answer, as when the function runs out of memory) has its turn stamped before discovery started: the
/// next tick takes the other connection first, and schedules it, whatever the first connection does again.
#[tokio::test]
async fn a_connection_whose_discovery_crashed_the_tick_goes_last_next_tick() {
    let tenants = TwoTenants::start().await;
    let gate = Gate::default();
    tenants
        .hostile
        .fail_next(routes::GROUPS, u32::MAX, Fault::Held(gate.clone()));
    tenants.hostile.reset_counts();
    let scheduler = tenants.env.scheduler(
        tenants.env.sqs(),
        SchedulerOptions {
            connection_concurrency: 1,
            ..options()
        },
    );
    // Runs a tick until the hostile GitLab has been asked `asked` times in all, then drops it: the crash.
    let crashed = async |time: &str, asked: u64| {
        let tick = handle(&scheduler, tick_at(time));
        let reached = async {
            while tenants.hostile.request_count(routes::GROUPS) < asked {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::select! {
            report = tick => panic!("the tick ended though GitLab never answered: {report:?}"),
            () = reached => {}
        }
    };

    crashed("2026-11-26T12:00:00Z", 1).await;
    assert!(
        tenants.env.drain().await.is_empty(),
        "the first tick crashed before b-steady's turn"
    );
    let turn = |connection: &'static str| {
        let env = &tenants.env;
        async move {
            env.item(&format!("CONN#{connection}"), "SCHEDULING")
                .await
                .contains_key("last_scheduled_at")
        }
    };
    assert!(turn("a-hostile").await, "stamped when its turn started");
    assert!(!turn("b-steady").await);

    crashed("2026-11-26T13:00:00Z", 2).await;
    assert_eq!(
        ids(&tenants.env.drain().await),
        [tenants.steady_project],
        "b-steady went first this time"
    );
    assert!(turn("b-steady").await);
    gate.open();
    gate.open();
    tenants.stop().await;
}
