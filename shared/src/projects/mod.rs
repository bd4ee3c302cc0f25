//! Operating the importer: every project of a connection as an operator sees it (status, last head, last sync,
//! last success and error, commits written, a sync queued), and the two things an operator asks of one project:
//! sync it now, or import its whole default branch again and reconcile the table with it.
//!
//! - [`model`]: a project's stored state, the one status word that sums it up, and the view the API answers with;
//! - [`ports`]: what the operations need from storage ([`ProjectStates`]);
//! - [`service`]: [`Projects`], listing and the two requests, which enqueue through the project's enqueue lease
//!   (the one the scheduler's ticks and the push hooks take), so they coalesce with them.

pub mod model;
pub mod ports;
pub mod service;

pub use model::{Failure, JobProgress, ProjectState, StatusFilter, SyncRecord};
pub use ports::ProjectStates;
pub use service::{Page, Projects, ProjectsError, ProjectsOptions, Requested};
