//! The exporter Lambda: EventBridge schedule -> `shared::entrypoints::exporter` -> `shared::export::Exporter`,
//! one run per event: what changed in the commits table since the last run, as Parquet files in the export bucket.
//! Everything is built once per process (`shared::app`); each invocation only runs the handler.

use lambda_runtime::{Error, service_fn};
use shared::app::{exporter_function, start};
use shared::config::exporter::ExportConfig;
use shared::entrypoints::exporter::handle;

// One thread: the run reads and writes one project at a time.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (config, aws) = start(ExportConfig::from_env).await?;
    let exporter = exporter_function(&config, &aws);
    lambda_runtime::run(service_fn(|event| handle(&exporter, event))).await
}
