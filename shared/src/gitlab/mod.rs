//! The GitLab REST v4 client: addresses and the network guard, the HTTP clients and their trust store, the
//! transport (retries, rate limits, body limits) under the typed operations, the request budget (and its timeline
//! shared across processes), typed errors and entities, and the connector that makes a client for a stored
//! credential.

pub mod address;
pub mod budget;
pub mod client;
pub mod connect;
pub mod error;
pub mod memory;
pub mod model;
mod response;
pub mod shared_budget;
mod tls;
mod transport;
#[cfg(test)]
mod untrusted_props;

pub use address::{AddressError, GitLabAddress, NetworkPolicy, PrivateNetworks};
pub use budget::RequestBudget;
pub use client::{
    CommitPage, CommitQuery, GitLabClient, ListPage, MergeBase, ProjectRef, READ_REPOSITORY_ACCESS,
};
pub use connect::{ConnectError, ConnectTarget, GitLabConnector};
pub use error::GitLabError;
pub use memory::{MemoryBudget, MemoryBusy, Reservation};
pub use model::{
    Branch, BranchCommit, Commit, CommitStats, Group, Project, READ_SCOPES, TokenInfo,
    excess_scopes,
};
pub use shared_budget::{BucketKey, SharedSlots, SlotRequest, SlotStore};
pub use tls::{HttpClients, Timeouts};
pub use transport::{ClientStats, Limits, RetryPolicy};
