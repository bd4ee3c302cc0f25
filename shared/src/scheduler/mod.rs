//! The scheduler: on each schedule tick, discovers every project a live credential reaches and fans out one sync
//! message per eligible project.
//!
//! - [`model`]: what discovery finds and what a tick reports;
//! - [`ports`]: the [`ProjectStore`] (project metadata, leases, connections) and the [`BatchQueue`] traits (AWS
//!   adapters in `crate::aws`);
//! - [`discovery`]: groups, their projects with subgroups, and member projects, de-duplicated;
//! - [`fanout`]: `SendMessageBatch`-sized sends with bounded retries of failed entries;
//! - [`service`]: one tick over every connection (its Lambda entry point is [`crate::entrypoints::scheduler`]).

pub mod discovery;
pub mod fanout;
pub mod model;
pub mod ports;
pub mod service;

pub use discovery::{Discovery, discover};
pub use fanout::{FanOut, SendPolicy, send_all};
pub use model::{ConnectionReport, DiscoveredProject, ProjectStatus, Tick, TickReport};
pub use ports::{
    AccessRefusal, BatchEntry, BatchQueue, EnqueueLease, FailedEntry, KnownProject, ProjectRecord,
    ProjectStore,
};
pub use service::{Scheduler, SchedulerOptions};
