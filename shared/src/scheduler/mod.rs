//! The scheduler: on each schedule tick, discovers every project a live credential reaches and fans out one sync
//! message per eligible project.
//!
//! - [`model`]: what discovery finds and what a tick reports;
//! - [`ports`]: one trait per job: [`TickLeases`], [`ConnectionTurns`] (turn order and scheduling locks),
//!   [`ScheduleItems`] (project metadata and enqueue leases) and the [`BatchQueue`] (AWS adapters in `crate::aws`,
//!   memory fakes in `crate::testing`);
//! - [`discovery`]: groups, their projects with subgroups, and member projects, de-duplicated;
//! - [`fanout`]: `SendMessageBatch`-sized sends with bounded retries of failed entries;
//! - [`plan`]: what a tick does with each discovered project, decided without I/O;
//! - `turn`: one connection's turn under its scheduling lock: records, leases, messages, gone marks;
//! - [`service`]: one tick over every connection (its Lambda entry point is [`crate::entrypoints::scheduler`]).

pub mod discovery;
pub mod fanout;
pub mod model;
pub mod plan;
pub mod ports;
pub mod service;
mod turn;

pub use discovery::{Discovery, discover};
pub use fanout::{FanOut, SendPolicy, send_all};
pub use model::{ConnectionReport, DiscoveredProject, Tick, TickReport};
pub use ports::{
    AccessRefusal, BatchEntry, BatchQueue, ConnectionTurns, FailedEntry, KnownProject,
    ProjectRecord, ScheduleItems, TickLeases,
};
pub use service::{Scheduler, SchedulerOptions};
