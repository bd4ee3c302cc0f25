//! The sync of one project's default branch into the commits table.
//!
//! - [`importer`]: one project's sync ([`ProjectSync`]), its options, outcomes and errors;
//! - `windows`: a large range cut into windows along its first-parent spine;
//! - `range_check`: the check that what GitLab listed for a range is that range, gap-free;
//! - [`record`]: the stored record of a commit GitLab listed;
//! - [`model`]: the project's sync state and the checkpoint of a large import;
//! - [`ports`]: the commits table and the sync state, as the sync needs them;
//! - [`worker`]: one batch of sync messages, each record on its own within its share of the invocation's time;
//! - [`metrics`]: the worker's metric lines, per record.

pub mod importer;
pub mod metrics;
pub mod model;
pub mod ports;
mod range_check;
pub mod record;
mod windows;
pub mod worker;

pub use importer::{ProjectSync, SyncError, SyncOptions, SyncOutcome, SyncReport, SyncTarget};
pub use model::{SyncJob, SyncState};
pub use ports::{CommitStore, SyncEnd, SyncStateStore};
pub use worker::{RecordOutcome, RecordReport, SyncWorker};
