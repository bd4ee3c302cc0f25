//! AWS adapters behind the domain's ports. SDK types never leave this module.

pub mod commit_store;
pub mod credential_store;
pub mod keys;
pub mod project_store;
pub mod secrets;
pub mod sync_queue;
pub mod sync_state_store;
