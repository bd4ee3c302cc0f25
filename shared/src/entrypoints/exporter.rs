//! The exporter's entry point: an EventBridge schedule event (its content is not needed: every run exports what
//! changed since the last one) and the invocation's deadline become one [`Exporter::run`].

use lambda_runtime::LambdaEvent;
use time::OffsetDateTime;

use crate::export::{ChangeFeed, ExportReport, Exporter, ObjectSink};
use crate::kernel::time::deadline_from_epoch_ms;

/// The Lambda handler: one export run per event. A failed run is an error for Lambda's metrics; the next run
/// retries what it left (the watermarks of the projects it finished have moved).
pub async fn handle<F: ChangeFeed, S: ObjectSink>(
    exporter: &Exporter<F, S>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<ExportReport, lambda_runtime::Error> {
    let ends_at = deadline_from_epoch_ms(event.context.deadline);
    Ok(exporter.run(OffsetDateTime::now_utc(), ends_at).await?)
}
