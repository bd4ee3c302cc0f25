//! Benchmark of one scheduler tick: 10,000 projects in 50 groups (each with a nested subgroup), one connection.
//! Prints GitLab requests (per route, against the number of pages a listing needs), `SendMessageBatch` calls,
//! DynamoDB item writes and write requests, and wall time of a first tick (everything enqueued) and of a second
//! tick right after it (everything still in flight and unchanged: discovery and one read of the project items,
//! nothing written or sent). With `--quiet`, a third tick as the next hour's would find them: every lease lapsed
//! and every project quiet (imported, and a sync found it current long after GitLab's last activity on it: the
//! sync items say so, written before the tick), so nothing is sent or written.
//!
//! Needs the moto server (project items, leases and secrets go through the real adapters; the queue too with
//! `--sqs-moto`, see [`CountingQueue`]):
//! `scripts/with-moto cargo run --profile profiling -p testkit --bin bench-scheduler -- [PROJECTS] [GROUPS] [WRITE_CONCURRENCY] [--sqs-moto] [--memory-store] [--quiet]`.
//! The simulator runs in this process on its own runtime.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use std::sync::atomic::{AtomicU64, Ordering};

use shared::aws::credential_store::DynamoCredentialStore;
use shared::aws::project_store::DynamoProjectStore;
use shared::aws::secrets::SecretsManagerVault;
use shared::aws::sync_queue::SqsSyncQueue;
use shared::credentials::{Credentials, GitLabVerifier};
use shared::gitlab::GitLabConnector;
use shared::kernel::ids::ConnectionId;
use shared::kernel::store::StoreError;
use shared::scheduler::{
    BatchEntry, BatchQueue, ConnectionTurns, FailedEntry, ScheduleItems, Scheduler,
    SchedulerOptions, TickLeases, TickReport,
};
use shared::testing::MemorySchedulerStore;
use shared::testing::credentials::create_input;
use testkit::aws_local::AwsStandIn;
use testkit::bench_support::{
    BENCH_TOKEN, BenchResult, function_runtime, measured, server_runtime,
};
use testkit::clients::local_http;
use testkit::git_fixture::GitRepo;
use testkit::gitlab_sim::{
    Membership, Namespace, ProjectSpec, Simulator, TokenSpec, World, access, routes,
};

/// Counts `SendMessageBatch` calls and messages; sends them through the SQS adapter to moto, or (by default)
/// only checks and serialises them: moto's `SendMessageBatch` slows down with every message already in the queue
/// (about 85 ms a call on an empty queue, 230 ms after 1,000 messages), which would measure moto, not the scheduler.
struct CountingQueue {
    inner: Option<SqsSyncQueue>,
    calls: AtomicU64,
    messages: AtomicU64,
}

impl BatchQueue for CountingQueue {
    async fn send_batch(&self, entries: &[BatchEntry<'_>]) -> Result<Vec<FailedEntry>, StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(inner) = &self.inner {
            let failed = inner.send_batch(entries).await?;
            self.messages
                .fetch_add((entries.len() - failed.len()) as u64, Ordering::Relaxed);
            return Ok(failed);
        }
        assert!(entries.len() <= Self::MAX_BATCH);
        for entry in entries {
            serde_json::to_string(entry.message)
                .map_err(|e| StoreError::unavailable("encoding", e))?;
        }
        self.messages
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        Ok(Vec::new())
    }
}

fn organisation(projects: usize, groups: usize, repo: &std::path::Path) -> World {
    let mut world = World::new();
    let user = world.add_user("importer");
    world.add_token(TokenSpec::new(BENCH_TOKEN, user, &["read_api"]));
    let per_group = projects / groups;
    for g in 0..groups {
        let top = world.add_group(&format!("group-{g:02}"), None);
        let sub = world.add_group("team", Some(top));
        world.add_member(user, Membership::Group(top), access::DEVELOPER);
        for p in 0..per_group {
            let namespace = Namespace::Group(if p % 2 == 0 { top } else { sub });
            world.add_project(ProjectSpec::new(
                namespace,
                &format!("project-{p:04}"),
                Some(repo),
                "main",
            ));
        }
    }
    world
}

fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let projects: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let groups: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(50);
    let sqs_on_moto = args.iter().any(|a| a == "--sqs-moto");
    let memory_store = args.iter().any(|a| a == "--memory-store");
    let quiet = args.iter().any(|a| a == "--quiet");
    let write_concurrency: usize = args
        .get(3)
        .and_then(|n| n.parse().ok())
        .unwrap_or(SchedulerOptions::default().write_concurrency);
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        return Err(
            "run under scripts/with-moto (the tick writes to DynamoDB and SQS on moto)".into(),
        );
    }
    let repo = GitRepo::init("main");
    repo.fast_import_history("main", 3, None);
    let sim_runtime = server_runtime()?;
    let sim = sim_runtime.block_on(Simulator::start(organisation(
        projects,
        groups,
        repo.path(),
    )))?;
    let runtime = function_runtime()?;
    let aws = runtime.block_on(AwsStandIn::provision())?;
    let table = aws.table("StateTable").to_owned();
    let http = Arc::new(local_http());
    let credentials = Credentials {
        store: DynamoCredentialStore::new(aws.dynamodb.clone(), &table),
        vault: SecretsManagerVault::new(aws.secrets.clone()),
        verifier: GitLabVerifier::new(http.clone(), 1_000_000),
        secret_name_prefix: format!("bench-scheduler-{}/", std::process::id()),
        default_base_url: shared::kernel::instance::InstanceUrl::parse(&sim.base_url())?,
    };
    let bench = ConnectionId::parse("bench").ok_or("connection id")?;
    runtime.block_on(credentials.create(&bench, create_input(BENCH_TOKEN)))?;
    let per_page = 100;
    let per_group = projects / groups;
    let pages = |items: usize| items.div_ceil(per_page).max(1);
    let expected_pages = pages(groups * 2) + groups * pages(per_group) + pages(projects);
    println!(
        "Scheduler benchmark: {projects} projects in {groups} groups (each with a subgroup), one connection, {write_concurrency} item writes at once; \
         GitLab simulator in process, project items {}, SQS {}",
        if memory_store {
            "in memory"
        } else {
            "in DynamoDB on moto"
        },
        if sqs_on_moto {
            "on moto"
        } else {
            "counted (batches checked and serialised, not sent)"
        }
    );
    println!(
        "{:>6} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "tick",
        "wall s",
        "projects",
        "enqueued",
        "requests",
        "pages",
        "sqs calls",
        "db writes",
        "db calls",
        "CPU s"
    );
    let bench_ticks = BenchTicks {
        runtime: &runtime,
        sim: &sim,
        expected_pages,
        credential_store: DynamoCredentialStore::new(aws.dynamodb.clone(), &table),
        vault: SecretsManagerVault::new(aws.secrets.clone()),
        queue: CountingQueue {
            inner: sqs_on_moto
                .then(|| SqsSyncQueue::new(aws.sqs.clone(), &aws.queue("SyncQueue").url)),
            calls: AtomicU64::new(0),
            messages: AtomicU64::new(0),
        },
        // GitLab.com's 2,000 requests a minute, as in production.
        connector: GitLabConnector::new(http, 2_000),
        options: SchedulerOptions {
            write_concurrency,
            ..SchedulerOptions::default()
        },
        quiet: quiet.then(|| QuietTick {
            aws: &aws,
            project_ids: sim.with_world(|w| w.projects.keys().copied().collect()),
            connection: bench.clone(),
        }),
    };
    if memory_store {
        // The scheduler timed without moto's cost per call (about 8 ms for an `UpdateItem`, whatever the
        // concurrency: its server is GIL-bound).
        let store = MemorySchedulerStore::default();
        store.add_connection(&bench, None);
        bench_ticks.run(store.clone(), Some(&store))?;
    } else {
        bench_ticks.run(DynamoProjectStore::new(aws.dynamodb.clone(), &table), None)?;
    }
    runtime.block_on(aws.teardown());
    Ok(())
}

/// The two timed ticks, whichever store keeps the project items, and the rest of the scheduler.
struct BenchTicks<'a> {
    runtime: &'a tokio::runtime::Runtime,
    sim: &'a Simulator,
    expected_pages: usize,
    credential_store: DynamoCredentialStore,
    vault: SecretsManagerVault,
    queue: CountingQueue,
    connector: GitLabConnector,
    options: SchedulerOptions,
    /// The third tick, when asked for.
    quiet: Option<QuietTick<'a>>,
}

/// What a third tick needs: every project's sync item saying it is imported and was found current an hour ago,
/// and its lease lapsed.
struct QuietTick<'a> {
    aws: &'a AwsStandIn,
    project_ids: Vec<u64>,
    connection: ConnectionId,
}

impl QuietTick<'_> {
    /// Writes the sync items (`last_head`, `verified_at` an hour ago) 25 a call, and takes every schedule item's
    /// lease back (as if 50 minutes had passed). On the memory store, the same in memory.
    async fn prepare(&self, memory: Option<&MemorySchedulerStore>) -> BenchResult<()> {
        let verified = time::OffsetDateTime::now_utc().unix_timestamp() - 3_600;
        if let Some(store) = memory {
            for id in &self.project_ids {
                store.set_sync_state(&self.connection, *id, true, None);
                store.set_verified(&self.connection, *id, verified);
                store.lapse_lease(&self.connection, *id);
            }
            return Ok(());
        }
        let table = self.aws.table("StateTable");
        let pk = AttributeValue::S(format!("CONN#{}", self.connection));
        for chunk in self.project_ids.chunks(25) {
            let writes = chunk
                .iter()
                .map(|id| {
                    let item = HashMap::from([
                        ("pk".to_owned(), pk.clone()),
                        ("sk".to_owned(), AttributeValue::S(format!("PROJ#{id}"))),
                        ("last_head".to_owned(), AttributeValue::S("a".repeat(40))),
                        (
                            "default_branch".to_owned(),
                            AttributeValue::S("main".into()),
                        ),
                        (
                            "verified_at".to_owned(),
                            AttributeValue::N(verified.to_string()),
                        ),
                    ]);
                    let put = PutRequest::builder().set_item(Some(item)).build()?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, aws_sdk_dynamodb::error::BuildError>>()?;
            self.aws
                .dynamodb
                .batch_write_item()
                .request_items(table, writes)
                .send()
                .await?;
        }
        for chunk in self.project_ids.chunks(100) {
            futures::future::try_join_all(chunk.iter().map(|id| {
                self.aws
                    .dynamodb
                    .update_item()
                    .table_name(table)
                    .key("pk", pk.clone())
                    .key("sk", AttributeValue::S(format!("SCHED#{id}")))
                    .update_expression("SET enqueue_lease_until = :lapsed")
                    .expression_attribute_values(":lapsed", AttributeValue::N("0".into()))
                    .send()
            }))
            .await?;
        }
        Ok(())
    }
}

impl BenchTicks<'_> {
    /// The ticks on `store`; `memory` is the same store when it is the one in memory.
    fn run<P>(self, store: P, memory: Option<&MemorySchedulerStore>) -> BenchResult<()>
    where
        P: TickLeases + ConnectionTurns + ScheduleItems + Clone,
    {
        let scheduler = Scheduler::new(
            store,
            self.credential_store,
            self.vault,
            self.queue,
            self.connector,
            self.options,
        );
        let (runtime, sim, expected_pages) = (self.runtime, self.sim, self.expected_pages);
        for (tick, key) in [
            ("first", "bench-tick-1"),
            ("second", "bench-tick-2"),
            ("quiet", "bench-tick-3"),
        ] {
            if key == "bench-tick-3" {
                let Some(quiet) = &self.quiet else { break };
                runtime.block_on(quiet.prepare(memory))?;
            }
            sim.reset_counts();
            scheduler.queue.calls.store(0, Ordering::Relaxed);
            scheduler.queue.messages.store(0, Ordering::Relaxed);
            let (report, cost) = measured(|| runtime.block_on(scheduler.tick(Some(key), None)));
            let report: TickReport = report?;
            let (wall, cpu) = (cost.wall, cost.cpu);
            let part = report
                .connections
                .first()
                .ok_or("no connection in the report")?;
            assert!(part.errors.is_empty(), "{:?}", part.errors);
            let requests = sim.total_requests();
            let sqs_calls = scheduler.queue.calls.load(Ordering::Relaxed);
            // Project item writes (unchanged items are skipped), plus the tick lease taken and completed.
            let db_writes = part.writes + 2;
            // Write requests: the lock, batches of 25 records, releases and gone marks, plus the tick lease's two.
            let db_calls = part.write_calls + 2;
            println!(
                "{tick:>6} {wall:>9.1} {:>9} {:>9} {requests:>10} {expected_pages:>10} {sqs_calls:>9} {db_writes:>9} {db_calls:>9} {cpu:>8.1}",
                part.discovered, part.enqueued
            );
            println!(
                "         requests by route: groups {}, group projects {}, member projects {}",
                sim.request_count(routes::GROUPS),
                sim.request_count(routes::GROUP_PROJECTS),
                sim.request_count(routes::PROJECTS)
            );
        }
        Ok(())
    }
}
