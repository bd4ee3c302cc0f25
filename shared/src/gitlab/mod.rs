//! The GitLab REST v4 client: addresses and the network guard, the request budget (and its timeline shared across
//! processes), typed errors and entities,
//! and the connector that makes a client for a stored credential.

pub mod address;
pub mod budget;
pub mod client;
pub mod connect;
pub mod error;
pub mod memory;
pub mod model;
pub mod shared_budget;
#[cfg(test)]
mod untrusted_props;

pub use address::{AddressError, GitLabAddress, NetworkPolicy, PrivateNetworks};
pub use budget::RequestBudget;
pub use client::{
    ClientStats, CommitPage, CommitQuery, GitLabClient, HttpClients, Limits, ListPage, MergeBase,
    ProjectRef, READ_REPOSITORY_ACCESS, RetryPolicy, Timeouts,
};
pub use connect::{ConnectError, ConnectTarget, GitLabConnector};
pub use error::GitLabError;
pub use memory::{MemoryBudget, MemoryBusy, Reservation};
pub use model::{
    Branch, BranchCommit, Commit, CommitStats, Group, Project, READ_SCOPES, TokenInfo,
    excess_scopes,
};
pub use shared_budget::{BucketKey, SharedSlots, SlotRequest, SlotStore};
