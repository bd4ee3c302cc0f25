//! The one error of every storage and queue port (credentials, projects, commits, sync state, the sync queue).

/// A failure of our own storage or queue (never the caller's fault, and worth a retry). `detail` is for logs
/// only, never for replies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the item changed (or appeared) since it was read.
    #[error("the stored item changed concurrently")]
    Conflict,
    #[error("{operation} failed: {detail}")]
    Unavailable {
        operation: &'static str,
        detail: String,
    },
}

impl StoreError {
    pub fn unavailable(operation: &'static str, detail: impl std::fmt::Display) -> Self {
        StoreError::Unavailable {
            operation,
            detail: detail.to_string(),
        }
    }
}
