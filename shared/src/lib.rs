//! The GitLab commit importer's library: the GitLab client, the domain (verification, discovery, sync
//! planning), the ports it needs, and the AWS adapters behind them. The Lambda functions only wire these up.

pub mod app;
pub mod aws;
pub mod backoff;
pub mod commits;
pub mod config;
pub mod credentials;
pub mod entrypoints;
#[cfg(feature = "export")]
pub mod export;
pub mod gitlab;
pub mod hooks;
pub mod kernel;
pub mod metrics;
pub mod projects;
pub mod scheduler;
pub mod scope;
pub mod secret;
pub mod sync;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
