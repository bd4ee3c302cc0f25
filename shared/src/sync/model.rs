//! The project's sync state, read before and written after each sync, and the checkpoint of a large import.

use serde::{Deserialize, Serialize};

/// A project's sync state, read before and written after each sync.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncState {
    /// The head whose whole history is imported.
    pub last_head: Option<String>,
    /// The default branch `last_head` belongs to.
    pub default_branch: Option<String>,
    /// An import in progress: a continuation (or a redelivered message) resumes it.
    pub job: Option<SyncJob>,
    /// GitLab refused this project's repository at the last attempt (`forbidden`, `not_found`); the next sync
    /// that reads it clears the mark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_error: Option<String>,
    /// An operator asked for the whole branch to be imported again (`projects.resync`): the change stamp of the
    /// request, until an import that started after it has reconciled the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resync_requested: Option<String>,
}

/// The checkpoint of a large import: its target, its windows, and which windows are fully written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub head: String,
    pub default_branch: String,
    /// Revision ranges that partition `last_head..head`.
    pub windows: Vec<String>,
    /// Indexes into `windows` whose every commit is written.
    pub done: Vec<usize>,
    /// A window failed (its check, or GitLab), so an anchor may be wrong: the next attempt plans the range again
    /// (the last window's base to `head`), keeping the done mark of every window that comes out the same.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replan: bool,
    /// The previous head was gone from the repository, so this job re-imports the whole branch and, once done,
    /// marks removed every live commit it did not write: the change stamp its writes are raised to (its start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_since: Option<String>,
}

impl SyncJob {
    pub fn pending(&self) -> Vec<(usize, String)> {
        self.windows
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.done.contains(i))
            .map(|(i, w)| (i, w.clone()))
            .collect()
    }
}
