//! The entry points: everything that knows an AWS event (API Gateway, EventBridge, SQS). Each reads its event, calls the
//! domain, and maps the result to the reply Lambda expects; the domain rooms import no Lambda crate.

pub mod credentials_api;
#[cfg(feature = "export")]
pub mod exporter;
mod http;
pub mod push_hook;
pub mod scheduler;
pub mod sync_worker;
