//! State shared by the request handlers and the `Simulator` handle.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::faults::FaultState;
use super::git::Git;
use super::world::World;

#[derive(Debug)]
pub(crate) struct Shared {
    /// `http://127.0.0.1:PORT/`
    pub base_url: String,
    world: Mutex<World>,
    faults: Mutex<FaultState>,
    counts: Mutex<BTreeMap<String, u64>>,
    pub git: Git,
}

/// A panicking test thread must not take the whole simulator down with a poisoned lock.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(world: World, base_url: String) -> Self {
        Self {
            base_url,
            world: Mutex::new(world),
            faults: Mutex::new(FaultState::default()),
            counts: Mutex::new(BTreeMap::new()),
            git: Git::default(),
        }
    }

    /// Never hold this across an `.await`.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultState> {
        lock(&self.faults)
    }

    pub(crate) fn count(&self, route: &str) {
        *lock(&self.counts).entry(route.to_owned()).or_default() += 1;
    }

    pub(crate) fn counts(&self) -> BTreeMap<String, u64> {
        lock(&self.counts).clone()
    }

    pub(crate) fn reset_counts(&self) {
        lock(&self.counts).clear();
    }
}
