//! The analytics export: what changed in the commits table since the last run, as append-only Parquet change rows
//! in S3 (Hive-style `commit_month=YYYY-MM` partitions) that Athena, Trino, Spark and DuckDB read as they are.
//!
//! - [`model`]: the change row (the dataset's columns, the contract with `sql/`) and the object names;
//! - [`columnar`]: a batch of rows as one Parquet file;
//! - [`ports`]: the change feed (the commits table's `by_changed_at` index and the per-project watermark) and the
//!   object sink (S3, or a folder for the local run);
//! - [`service`]: the run: per project, the changes in `(watermark, now - settle]`, cut into files by partition
//!   and size, then the watermark moved on;
//! - [`config`]: the exporter function's environment.
//!
//! Rows are never updated in place: a commit that changed again (removed from the branch, re-imported) gets a new
//! row. The `sql/current_commits.sql` view keeps the latest row per commit, so a crashed run (files written, the
//! watermark not moved) or a repeated one leaves extra rows that no query sees.

pub mod columnar;
pub mod config;
pub mod folder;
pub mod model;
pub mod ports;
pub mod service;

pub use model::{ChangedCommit, ExportRow};
pub use ports::{ChangeCursor, ChangeFeed, ChangePage, ExportProject, ObjectSink, Window};
pub use service::{ExportError, ExportOptions, ExportReport, Exporter};
