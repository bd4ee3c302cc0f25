//! In-memory fakes of the export's ports: a change feed with the index's order (`changed_at`, then `sha`) and
//! inclusive bounds, pages of a chosen size and a forward-only watermark; and a sink that keeps objects by name (a
//! put replaces).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::export::{
    ChangeCursor, ChangeFeed, ChangePage, ChangedCommit, ExportPosition, ExportProject, ObjectSink,
    Window,
};
use crate::kernel::project_key::ProjectKey;
use crate::kernel::store::StoreError;

/// One project's items: by (changed_at, sha), the index's order, and each sha's stamp (one item per sha).
#[derive(Debug, Default)]
struct Indexed {
    by_change: BTreeMap<(String, String), ChangedCommit>,
    stamps: HashMap<String, String>,
}

#[derive(Debug)]
pub struct MemoryChangeFeed {
    changes: Mutex<BTreeMap<ProjectKey, Indexed>>,
    watermarks: Mutex<BTreeMap<ProjectKey, ExportPosition>>,
    page_size: usize,
    /// How long reading a page takes (on tokio's clock, which a test may pause).
    pub page_delay: Duration,
    /// `advance` fails: a run that crashed after writing its files.
    pub fail_advance: AtomicBool,
}

impl MemoryChangeFeed {
    pub fn new(page_size: usize) -> Self {
        MemoryChangeFeed {
            changes: Mutex::default(),
            watermarks: Mutex::default(),
            page_size: page_size.max(1),
            page_delay: Duration::ZERO,
            fail_advance: AtomicBool::new(false),
        }
    }

    /// Writes a commit as the commits table would: one item per sha, its stamp replaced.
    pub fn write(&self, project: &ProjectKey, change: ChangedCommit) {
        let mut changes = self.changes.lock().unwrap();
        let items = changes.entry(project.clone()).or_default();
        let sha = change.record.sha.clone();
        if let Some(old) = items.stamps.insert(sha.clone(), change.changed_at.clone()) {
            items.by_change.remove(&(old, sha.clone()));
        }
        items
            .by_change
            .insert((change.changed_at.clone(), sha), change);
    }

    /// The project's items as the table holds them now, in the index's order.
    pub fn items(&self, project: &ProjectKey) -> Vec<ChangedCommit> {
        let changes = self.changes.lock().unwrap();
        changes
            .get(project)
            .map(|items| items.by_change.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn watermark(&self, project: &ProjectKey) -> Option<ExportPosition> {
        self.watermarks.lock().unwrap().get(project).cloned()
    }

    /// Sets a watermark as an older exporter left it.
    pub fn set_watermark(&self, project: &ProjectKey, position: ExportPosition) {
        self.watermarks
            .lock()
            .unwrap()
            .insert(project.clone(), position);
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
        if !self.page_delay.is_zero() {
            tokio::time::sleep(self.page_delay).await;
        }
        let changes = self.changes.lock().unwrap();
        let after = window
            .after
            .as_ref()
            .map(|after| after.changed_at.clone())
            .unwrap_or_default();
        let from = match start {
            Some(start) => Bound::Excluded((start.changed_at, start.sha)),
            None => Bound::Included((after, String::new())),
        };
        let mut page: Vec<ChangedCommit> = changes
            .get(project)
            .into_iter()
            .flat_map(|items| items.by_change.range((from.clone(), Bound::Unbounded)))
            .take_while(|((at, _), _)| *at <= window.until)
            .take(self.page_size + 1)
            .map(|(_, change)| change.clone())
            .collect();
        let more = page.len() > self.page_size;
        page.truncate(self.page_size);
        let last = page.last().map(|last| ChangeCursor {
            changed_at: last.changed_at.clone(),
            sha: last.record.sha.clone(),
        });
        Ok(ChangePage {
            changes: page,
            unreadable: Vec::new(),
            next: last.clone().filter(|_| more),
            last,
        })
    }

    async fn advance(&self, project: &ProjectKey, to: &ExportPosition) -> Result<(), StoreError> {
        if self.fail_advance.load(Ordering::Relaxed) {
            return Err(StoreError::unavailable("advance", "the run crashed"));
        }
        let mut watermarks = self.watermarks.lock().unwrap();
        if watermarks.get(project).is_none_or(|mark| mark < to) {
            watermarks.insert(project.clone(), to.clone());
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

impl MemorySink {
    /// The dataset's files (Parquet), without the run record.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let objects = self.objects.lock().unwrap();
        objects
            .iter()
            .filter(|(key, _)| key.ends_with(".parquet"))
            .map(|(key, body)| (key.clone(), body.clone()))
            .collect()
    }
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
