//! A GitLab REST v4 simulator on 127.0.0.1, backed by real git repositories.
//!
//! Tests describe users, tokens, groups and projects in a [`World`], point projects at repositories
//! built with [`crate::git_fixture`], and talk to [`Simulator::base_url`] over real HTTP. Commits
//! come from `git log`, so history semantics are git's own. Latency, 5xx, 429, connection resets
//! and truncated bodies can be injected per route ([`Simulator::fail_next`]) or at random
//! ([`FaultMix`]), and a real per-user rate limiter can be switched on ([`RateLimit`]). Pushes made through
//! [`Simulator::push`] are reported to a push hook ([`Simulator::set_push_hook`]) as GitLab reports them.

mod api;
mod entities;
mod faults;
mod git;
pub(crate) mod hooks;
mod params;
pub mod routes;
pub(crate) mod server;
mod state;
mod world;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

pub use faults::{Fault, FaultMix, Gate, Hostile, RateLimit, Rewrite};
pub use hooks::{DeliveryOutcome, HookDelivery, Pushed};
pub use world::{
    GroupSpec, Membership, Namespace, OneProject, ProjectSpec, TokenSpec, User, World, access,
};

use hooks::Hooks;
use server::Serving;
use state::Shared;

/// A running simulator. Stops with [`Simulator::shutdown`], or on drop.
#[derive(Debug)]
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    /// Boxed: the handle stays small enough to move around in enums.
    hooks: Box<Hooks>,
    serving: Serving,
}

impl Simulator {
    /// Binds `127.0.0.1:0` and starts serving `world`.
    pub async fn start(world: World) -> std::io::Result<Simulator> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), world).await
    }

    /// Binds `addr` and starts serving `world`: a fixed port keeps the instance URL, to which a connection is
    /// bound, the same from one process to the next.
    pub async fn start_on(addr: SocketAddr, world: World) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(world, format!("http://{addr}/")));
        let hooks = Box::new(Hooks::new().map_err(std::io::Error::other)?);
        let serving = Serving::spawn(listener, api::router(shared.clone()));
        Ok(Simulator {
            shared,
            addr,
            hooks,
            serving,
        })
    }

    /// The instance URL, `http://127.0.0.1:PORT/` (without `api/v4`).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// `http://127.0.0.1:PORT/api/v4`
    pub fn api_url(&self) -> String {
        format!("{}api/v4", self.shared.base_url)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Reads or changes the world while running. Commits may be pushed as plain git on the project's repository;
    /// [`Simulator::push`] does the same and reports it to the push hook.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.shared.world())
    }

    /// Delays every API response by `d`.
    pub fn set_latency(&self, d: Duration) {
        self.shared.faults().latency = d;
    }

    /// Random faults per API request; the RNG restarts from `mix.seed`.
    pub fn set_fault_mix(&self, mix: FaultMix) {
        self.shared.faults().set_mix(mix);
    }

    /// The next `n` requests to `route` (a [`routes`] key, or `"*"` for any) get `fault` (`u32::MAX`: for good,
    /// until [`Simulator::clear_faults`]).
    pub fn fail_next(&self, route: &str, n: u32, fault: Fault) {
        self.shared.faults().queue(route, n, fault);
    }

    /// Drops every fault still queued by [`Simulator::fail_next`]: GitLab answers normally again.
    pub fn clear_faults(&self) {
        self.shared.faults().clear_queued();
    }

    /// Switches the per-user limiter on or off (and zeroes its count of refusals).
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.shared.faults().set_limit(limit);
    }

    /// Requests the per-user limiter answered with 429 since it was set.
    pub fn rate_limit_refusals(&self) -> u64 {
        self.shared.faults().refused
    }

    /// Requests that reached `route` (counted on arrival, faults included); `"*"` is the total.
    pub fn request_count(&self, route: &str) -> u64 {
        if route == routes::ANY {
            return self.total_requests();
        }
        self.shared.counts().get(route).copied().unwrap_or(0)
    }

    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.shared.counts()
    }

    pub fn total_requests(&self) -> u64 {
        self.shared.counts().values().sum()
    }

    pub fn reset_counts(&self) {
        self.shared.reset_counts();
    }

    /// Sends every later push to `url` (`http://` on loopback only, else this panics) as a project or group hook
    /// does: `X-Gitlab-Event: Push Hook`, `X-Gitlab-Token: <secret>`. Replaces any hook set before.
    pub fn set_push_hook(&self, url: &str, secret: &str) {
        self.hooks.set(url, secret, "Push Hook");
    }

    /// Like [`Simulator::set_push_hook`], as an instance's system hook: `X-Gitlab-Event: System Hook`.
    pub fn set_system_hook(&self, url: &str, secret: &str) {
        self.hooks.set(url, secret, "System Hook");
    }

    /// Stops sending hooks; deliveries already started go on.
    pub fn clear_hook(&self) {
        self.hooks.clear();
    }

    /// Pushes to `branch` of `project`: reads the branch head, runs `mutate` on the project's repository (commits,
    /// merges, `reset --hard` for a force push, creating or deleting the branch), reads the head again and, if it
    /// moved and a hook is set, starts delivering GitLab's push event. Panics if the project has no repository.
    pub async fn push(&self, project: u64, branch: &str, mutate: impl FnOnce(&Path)) -> Pushed {
        let repo = self.with_world(|w| {
            w.project_mut(project)
                .repo
                .clone()
                .unwrap_or_else(|| panic!("project {project} has no repository to push to"))
        });
        let before = hooks::branch_sha(&self.shared, &repo, branch).await;
        mutate(&repo);
        let after = hooks::branch_sha(&self.shared, &repo, branch).await;
        if before == after {
            return Pushed {
                before,
                after,
                delivery: None,
            };
        }
        self.with_world(|w| {
            w.project_mut(project)
                .record_activity(time::OffsetDateTime::now_utc())
        });
        let delivery = if self.hooks.is_set() {
            let payload = hooks::push_payload(&self.shared, project, branch, &before, &after).await;
            self.hooks.deliver(payload, &self.shared.base_url)
        } else {
            None
        };
        Pushed {
            before,
            after,
            delivery,
        }
    }

    /// Every hook delivery so far, in order, with its outcome as it stands now.
    pub fn hook_deliveries(&self) -> Vec<HookDelivery> {
        self.hooks.deliveries()
    }

    /// Waits until no delivery is pending, or `within` has passed, and returns [`Simulator::hook_deliveries`].
    pub async fn settled_hook_deliveries(&self, within: Duration) -> Vec<HookDelivery> {
        let deadline = Instant::now() + within;
        loop {
            let deliveries = self.hooks.deliveries();
            let pending = deliveries
                .iter()
                .any(|d| d.outcome == DeliveryOutcome::Pending);
            if !pending || Instant::now() >= deadline {
                return deliveries;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops accepting, closes every connection and waits until the port is released.
    pub async fn shutdown(self) {
        self.serving.stop().await;
    }
}
