//! The sync of one project's default branch into the commits table.

pub mod importer;
pub mod model;
pub mod ports;
pub mod worker;

pub use importer::{ProjectSync, SyncError, SyncOptions, SyncOutcome, SyncReport, SyncTarget};
pub use model::{CommitRecord, ProjectKey, ProjectOrigin, SyncJob, SyncState};
pub use ports::{CommitStore, SyncStateStore};
pub use worker::{RecordOutcome, RecordReport, SyncWorker};
