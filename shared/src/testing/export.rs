//! In-memory fakes of the export's ports: a change feed with the index's order and inclusive bounds, pages of a
//! chosen size and a forward-only watermark; and a sink that keeps objects by name (a put replaces).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::export::{
    ChangeCursor, ChangeFeed, ChangePage, ChangedCommit, ExportProject, ObjectSink, Window,
};
use crate::kernel::StoreError;
use crate::sync::ProjectKey;

/// One project's items by (changed_at, sha): the index's order.
type Indexed = BTreeMap<(String, String), ChangedCommit>;

#[derive(Debug)]
pub struct MemoryChangeFeed {
    changes: Mutex<BTreeMap<ProjectKey, Indexed>>,
    watermarks: Mutex<BTreeMap<ProjectKey, String>>,
    page_size: usize,
    /// `advance` fails: a run that crashed after writing its files.
    pub fail_advance: AtomicBool,
}

impl MemoryChangeFeed {
    pub fn new(page_size: usize) -> Self {
        MemoryChangeFeed {
            changes: Mutex::default(),
            watermarks: Mutex::default(),
            page_size: page_size.max(1),
            fail_advance: AtomicBool::new(false),
        }
    }

    /// Writes a commit as the commits table would: one item per sha, its stamp replaced.
    pub fn write(&self, project: &ProjectKey, change: ChangedCommit) {
        let mut changes = self.changes.lock().unwrap();
        let items = changes.entry(project.clone()).or_default();
        items.retain(|(_, sha), _| *sha != change.record.sha);
        items.insert(
            (change.changed_at.clone(), change.record.sha.clone()),
            change,
        );
    }

    pub fn watermark(&self, project: &ProjectKey) -> Option<String> {
        self.watermarks.lock().unwrap().get(project).cloned()
    }
}

impl ChangeFeed for MemoryChangeFeed {
    async fn projects(&self) -> Result<Vec<ExportProject>, StoreError> {
        let watermarks = self.watermarks.lock().unwrap();
        Ok(self
            .changes
            .lock()
            .unwrap()
            .keys()
            .map(|key| ExportProject {
                key: key.clone(),
                exported_to: watermarks.get(key).cloned(),
            })
            .collect())
    }

    async fn changes(
        &self,
        project: &ProjectKey,
        window: &Window,
        start: Option<ChangeCursor>,
    ) -> Result<ChangePage, StoreError> {
        let changes = self.changes.lock().unwrap();
        let after = window.after.clone().unwrap_or_default();
        let start = start.map(|c| (c.changed_at, c.sha));
        let mut page: Vec<ChangedCommit> = changes
            .get(project)
            .into_iter()
            .flatten()
            .filter(|((at, _), _)| *at >= after && *at <= window.until)
            .filter(|(key, _)| start.as_ref().is_none_or(|start| *key > start))
            .take(self.page_size + 1)
            .map(|(_, change)| change.clone())
            .collect();
        let more = page.len() > self.page_size;
        page.truncate(self.page_size);
        let next = page.last().filter(|_| more).map(|last| ChangeCursor {
            sha: last.record.sha.clone(),
            changed_at: last.changed_at.clone(),
        });
        Ok(ChangePage {
            changes: page,
            unreadable: Vec::new(),
            next,
        })
    }

    async fn advance(&self, project: &ProjectKey, to: &str) -> Result<(), StoreError> {
        if self.fail_advance.load(Ordering::Relaxed) {
            return Err(StoreError::unavailable("advance", "the run crashed"));
        }
        let mut watermarks = self.watermarks.lock().unwrap();
        let mark = watermarks.entry(project.clone()).or_default();
        if mark.as_str() < to {
            *mark = to.to_owned();
        }
        Ok(())
    }
}

/// Objects by name.
#[derive(Debug, Default)]
pub struct MemorySink {
    pub objects: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Every put fails.
    pub fail: AtomicBool,
}

impl ObjectSink for MemorySink {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        if self.fail.load(Ordering::Relaxed) {
            return Err(StoreError::unavailable("PutObject", "refused"));
        }
        self.objects.lock().unwrap().insert(key.to_owned(), body);
        Ok(())
    }
}
