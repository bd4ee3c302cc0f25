//! What the export needs from storage, as small traits: the AWS adapters implement them over DynamoDB and S3,
//! tests over memory.

use std::future::Future;

use crate::kernel::project_key::ProjectKey;
use crate::kernel::store::StoreError;

use super::model::ChangedCommit;

/// A project whose commits may be exported, and how far its changes already are (`None`: never exported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportProject {
    pub key: ProjectKey,
    pub exported_to: Option<ExportPosition>,
}

/// One change in the index's order, which is total: `changed_at`, then `sha` (many changes share a stamp).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChangeCursor {
    pub changed_at: String,
    pub sha: String,
}

/// A project's watermark: every change up to and including this one is exported. A watermark written before
/// watermarks had a sha (`sha: None`) means every change stamped up to `changed_at`; it sorts before the
/// positions of its own stamp, which no run from it reaches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExportPosition {
    pub changed_at: String,
    pub sha: Option<String>,
}

impl ExportPosition {
    /// The position of a change read.
    pub fn at(change: ChangeCursor) -> Self {
        ExportPosition {
            changed_at: change.changed_at,
            sha: Some(change.sha),
        }
    }

    /// The change the next read starts after, if the position names one.
    pub fn cursor(&self) -> Option<ChangeCursor> {
        Some(ChangeCursor {
            changed_at: self.changed_at.clone(),
            sha: self.sha.clone()?,
        })
    }
}

/// The changes a run exports for one project: after `after` (exclusive) up to the stamp `until` (inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub after: Option<ExportPosition>,
    pub until: String,
}

/// One page of a project's changes in the index's order, with the shas of items that could not be read as commits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangePage {
    pub changes: Vec<ChangedCommit>,
    pub unreadable: Vec<String>,
    /// The page's last item, readable or not: how far the page took the reader.
    pub last: Option<ChangeCursor>,
    /// Where the next page starts; `None`: the window has no more.
    pub next: Option<ChangeCursor>,
}

/// The commits table seen by change time, and the export's per-project watermark.
pub trait ChangeFeed: Send + Sync {
    /// Every project with synced commits, with its watermark.
    fn projects(&self) -> impl Future<Output = Result<Vec<ExportProject>, StoreError>> + Send;

    /// One page of `project`'s changes within `window` (its lower bound's stamp included: the caller skips what
    /// it already has), after `start`.
    fn changes(
        &self,
        project: &ProjectKey,
        window: &Window,
        start: Option<ChangeCursor>,
    ) -> impl Future<Output = Result<ChangePage, StoreError>> + Send;

    /// Moves the project's watermark to `to`, never backwards: of two runs, the one that got further wins.
    fn advance(
        &self,
        project: &ProjectKey,
        to: &ExportPosition,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Where the files go. A put under an existing name replaces the object.
pub trait ObjectSink: Send + Sync {
    fn put(&self, key: &str, body: Vec<u8>) -> impl Future<Output = Result<(), StoreError>> + Send;
}
