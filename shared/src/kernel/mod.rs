//! The domain kernel: what every room shares and may use, and which uses nothing above it (only `std`, `serde`,
//! `time`, `url`, `tokio`'s clock, `thiserror` and the redacting [`crate::secret::SecretString`]).
//!
//! - [`enqueue_lease`]: a project's enqueue lease, which keeps its sync messages apart whoever sends them (the
//!   scheduler's ticks, the push hooks), and its default length;
//! - [`ids`]: connection and credential ids with a checked shape;
//! - [`project_key`]: one project of one connection, the key of its commits and sync state;
//! - [`commit_record`]: one imported commit as stored, and the limits that keep it within a DynamoDB item;
//! - [`instance`]: a GitLab instance's address in its normal form, compared by value;
//! - [`store`]: the one error every storage and queue port returns;
//! - [`sync_message`]: the validated sync message, the contract between the scheduler (and later the webhook) and
//!   the sync worker, and the [`sync_message::SyncQueue`] port it travels through;
//! - [`project_status`]: where a project stands, as its schedule item says;
//! - [`push_hook`]: the per-connection push hook secret's name and shape;
//! - [`time`]: stored timestamps and deadlines;
//! - [`vault`]: the [`vault::SecretVault`] port where tokens live.

pub mod commit_record;
pub mod enqueue_lease;
pub mod ids;
pub mod instance;
pub mod project_key;
pub mod project_status;
pub mod push_hook;
pub mod store;
pub mod sync_message;
pub mod time;
pub mod turn_request;
pub mod vault;
