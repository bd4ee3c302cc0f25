//! The [`ObjectSink`] of the local run's `--export DIR`: object names become paths under a folder, so the same
//! dataset lands on disk as in S3.

use std::path::{Component, Path, PathBuf};

use super::ports::ObjectSink;
use crate::kernel::store::StoreError;

#[derive(Debug, Clone)]
pub struct FolderSink {
    root: PathBuf,
}

impl FolderSink {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FolderSink { root: root.into() }
    }
}

impl ObjectSink for FolderSink {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        // Names are ours, but a name that climbs out of the folder is refused rather than followed.
        let relative = Path::new(key);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(StoreError::unavailable(
                "writing an export file",
                format!("unsafe name {key:?}"),
            ));
        }
        let path = self.root.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::unavailable("writing an export file", e))?;
        }
        // Blocking file calls: the local run writes a few files, on its own.
        std::fs::write(&path, body).map_err(|e| {
            StoreError::unavailable("writing an export file", format!("{}: {e}", path.display()))
        })
    }
}
