//! AWS adapters behind the domain's ports. SDK types never leave this module.

pub mod commit_store;
pub mod credential_store;
pub mod keys;
pub mod project_store;
pub mod secrets;
pub mod sync_queue;
pub mod sync_state_store;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// A conditional write whose condition did not hold: an answer (someone else got there first), not a failure.
pub(crate) fn condition_failed<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}
