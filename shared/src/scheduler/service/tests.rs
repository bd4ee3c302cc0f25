//! A tick runs once per tick, however often it is delivered.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::testing::MemorySchedulerStore;

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap()
}

/// A tick of 2026-11-24 22:00 UTC.
const TICK: i64 = 1_795_989_600;

/// How long a delivery of a tick holds it (the tick at `TICK + 901` is past it).
const LEASE: Duration = Duration::from_secs(900);

/// A tick's turns that count their runs.
async fn counted(runs: &AtomicUsize) -> Result<Vec<ConnectionReport>, StoreError> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(vec![ConnectionReport::default()])
}

#[tokio::test]
async fn a_tick_delivered_twice_runs_once() {
    let store = MemorySchedulerStore::default();
    let runs = AtomicUsize::new(0);
    let tick = Some("time:2026-11-24T22:00:00Z");

    let first = once(&store, tick, at(TICK), LEASE, || counted(&runs))
        .await
        .unwrap();
    // Redelivered after its lease: a finished tick stays finished.
    let second = once(&store, tick, at(TICK + 3_600), LEASE, || counted(&runs))
        .await
        .unwrap();

    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(!first.duplicate && first.connections.len() == 1);
    assert!(second.duplicate && second.connections.is_empty());
    // An event naming no tick always runs.
    once(&store, None, at(TICK), LEASE, || counted(&runs))
        .await
        .unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_tick_whose_delivery_failed_runs_again_once_its_lease_lapsed() {
    let store = MemorySchedulerStore::default();
    let runs = AtomicUsize::new(0);
    let tick = Some("id:e1");
    let failed = async {
        runs.fetch_add(1, Ordering::SeqCst);
        Err(crate::kernel::store::StoreError::unavailable(
            "Scan",
            "unavailable",
        ))
    };
    assert!(
        once(&store, tick, at(TICK), LEASE, || failed)
            .await
            .is_err()
    );

    let meanwhile = once(&store, tick, at(TICK + 60), LEASE, || counted(&runs))
        .await
        .unwrap();
    let later = once(&store, tick, at(TICK + 901), LEASE, || counted(&runs))
        .await
        .unwrap();

    assert!(
        meanwhile.duplicate,
        "the first delivery's lease still holds"
    );
    assert!(!later.duplicate);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}
