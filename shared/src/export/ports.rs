//! What the export needs from storage, as small traits: the AWS adapters implement them over DynamoDB and S3,
//! tests over memory.

use std::future::Future;

use crate::kernel::StoreError;
use crate::sync::model::ProjectKey;

use super::model::ChangedCommit;

/// A project whose commits may be exported, and how far its changes already are (`None`: never exported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportProject {
    pub key: ProjectKey,
    pub exported_to: Option<String>,
}

/// The change stamps a run exports for one project: after `after` (exclusive) up to `until` (inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub after: Option<String>,
    pub until: String,
}

/// Where the next page of a project's changes starts: the last change read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeCursor {
    pub sha: String,
    pub changed_at: String,
}

/// One page of a project's changes in stamp order, with the shas of items that could not be read as commits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangePage {
    pub changes: Vec<ChangedCommit>,
    pub unreadable: Vec<String>,
    pub next: Option<ChangeCursor>,
}

/// The commits table seen by change time, and the export's per-project watermark.
pub trait ChangeFeed: Send + Sync {
    /// Every project with synced commits, with its watermark.
    fn projects(&self) -> impl Future<Output = Result<Vec<ExportProject>, StoreError>> + Send;

    /// One page of `project`'s changes within `window`, from `start` on.
    fn changes(
        &self,
        project: &ProjectKey,
        window: &Window,
        start: Option<ChangeCursor>,
    ) -> impl Future<Output = Result<ChangePage, StoreError>> + Send;

    /// Moves the project's watermark to `to`, never backwards: of two runs, the later window wins.
    fn advance(
        &self,
        project: &ProjectKey,
        to: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Where the files go. A put under an existing name replaces the object.
pub trait ObjectSink: Send + Sync {
    fn put(&self, key: &str, body: Vec<u8>) -> impl Future<Output = Result<(), StoreError>> + Send;
}
