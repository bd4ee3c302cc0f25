//! Reading imported commits back out: `commits.list`, a project's commits newest first in a window of commit time,
//! page by page behind an opaque cursor.
//!
//! - [`ports`]: the [`CommitReader`] port (the DynamoDB adapter reads the `by_committed_at` index);
//! - [`cursor`]: the cursor, bound to the query it came from;
//! - [`list`]: the use case, its parameters' checks and the bounded reads that fill a page.

pub mod cursor;
pub mod list;
pub mod ports;

pub use list::{
    CommitLog, CommitPage, DEFAULT_LIMIT, ListError, ListRequest, MAX_LIMIT, MAX_READS,
};
pub use ports::{CommitRange, CommitReader, PageKey, ReadOutcome};
