//! In-memory fakes of the ports, one copy of each: for the unit tests of this crate and, behind the `testing`
//! feature, for the tests and benches of `testkit`. Not in the deployed functions: their builds do not turn the
//! feature on.

mod commits;
pub mod credentials;
#[cfg(feature = "export")]
mod export;
pub mod faults;
mod scheduler;
mod sync;
mod vault;

#[cfg(feature = "export")]
pub use export::{MemoryChangeFeed, MemorySink};
pub use scheduler::{
    MemoryQueue, MemorySchedulerStore, SEEN_AT, discovered_project, project_record,
};
pub use sync::{MemoryCommitStore, MemoryStateStore, project_key};
pub use vault::{MemoryVault, Secret};
