//! The scheduler's entry point: an EventBridge schedule event (any JSON; its `time` or `id` names the tick) and
//! the invocation's deadline become a [`Tick`] for [`Scheduler::run`]; an SQS event of `connections.sync`'s turn
//! requests (`Records`) becomes one tick of the named connection only per request.

use lambda_runtime::LambdaEvent;

use crate::credentials::{CredentialStatusStore, CredentialStore};
use crate::kernel::time::deadline_from_epoch_ms;
use crate::kernel::turn_request::TurnRequest;
use crate::kernel::vault::SecretVault;
use crate::scheduler::{
    BatchQueue, ConnectionTurns, ScheduleItems, Scheduler, Tick, TickLeases, TickReport,
};

/// The Lambda handler: one tick per schedule event, or per turn request of an SQS event. A turn request that is
/// none fails the invocation, so that SQS delivers it again and in the end keeps it in its dead-letter queue.
pub async fn handle<P, K, V, Q, S>(
    scheduler: &Scheduler<P, K, V, Q, S>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<TickReport, lambda_runtime::Error>
where
    P: TickLeases + ConnectionTurns,
    S: ScheduleItems,
    K: CredentialStore + CredentialStatusStore,
    V: SecretVault,
    Q: BatchQueue,
{
    let ends_at = deadline_from_epoch_ms(event.context.deadline);
    let Some(records) = sqs_records(&event.payload) else {
        let tick = Tick {
            key: tick_key(&event.payload),
            ends_at,
            only: None,
        };
        return Ok(scheduler.run(&tick).await?);
    };
    let mut report = TickReport::default();
    for body in records {
        let request = TurnRequest::from_json(body)
            .ok_or("an SQS record of the scheduler's queue is no turn request")?;
        let tick = Tick {
            key: Some(request.tick_key()),
            ends_at,
            only: Some(request.connection_id),
        };
        let turn = scheduler.run(&tick).await?;
        // A turn a tick was taking already is that tick's; one out of time goes first at the next tick.
        for connection in &turn.connections {
            if connection.busy || connection.deferred {
                tracing::warn!(
                    connection_id = %connection.connection_id,
                    busy = connection.busy,
                    deferred = connection.deferred,
                    "the requested turn was left to the tick"
                );
            }
        }
        report.tick = turn.tick;
        report.duplicate = turn.duplicate;
        report.connections.extend(turn.connections);
    }
    Ok(report)
}

/// The bodies of an SQS event's records (`None` when the event is no SQS event).
fn sqs_records(event: &serde_json::Value) -> Option<Vec<&str>> {
    let records = event.get("Records")?.as_array()?;
    let from_sqs = |record: &serde_json::Value| {
        record
            .get("eventSource")
            .and_then(serde_json::Value::as_str)
            == Some("aws:sqs")
    };
    if records.is_empty() || !records.iter().all(from_sqs) {
        return None;
    }
    Some(
        records
            .iter()
            .map(|record| {
                record
                    .get("body")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
            })
            .collect(),
    )
}

/// The identity of a schedule tick: two deliveries of one tick carry the same scheduled `time` (EventBridge
/// rules) or the same `id`; either is accepted, `time` first. Events without either have none.
pub fn tick_key(event: &serde_json::Value) -> Option<String> {
    ["time", "id"].iter().find_map(|field| {
        event
            .get(*field)
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 200)
            .map(|v| format!("{field}:{v}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_is_named_by_its_scheduled_time_then_its_id() {
        let event = serde_json::json!({"id": "e1", "time": "2026-11-24T22:00:00Z", "detail": {}});
        assert_eq!(
            tick_key(&event).as_deref(),
            Some("time:2026-11-24T22:00:00Z")
        );
        let event = serde_json::json!({"id": "e1"});
        assert_eq!(tick_key(&event).as_deref(), Some("id:e1"));
        assert_eq!(tick_key(&serde_json::json!({})), None);
        assert_eq!(tick_key(&serde_json::json!({"time": " "})), None);
    }

    #[test]
    fn an_sqs_event_is_read_as_its_bodies_and_anything_else_as_a_tick() {
        let record = |body: &str| serde_json::json!({"eventSource": "aws:sqs", "body": body});
        let event = serde_json::json!({"Records": [record("a"), record("b")]});
        assert_eq!(sqs_records(&event), Some(vec!["a", "b"]));
        for tick in [
            serde_json::json!({"time": "2026-11-24T22:00:00Z"}),
            serde_json::json!({"Records": []}),
            serde_json::json!({"Records": [{"eventSource": "aws:s3", "body": "a"}]}),
            serde_json::json!({"Records": "x"}),
        ] {
            assert_eq!(sqs_records(&tick), None, "{tick}");
        }
    }
}
