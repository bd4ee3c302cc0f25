//! The scheduler's entry point: an EventBridge schedule event (any JSON; its `time` or `id` names the tick) and
//! the invocation's deadline become a [`Tick`] for [`Scheduler::run`].

use lambda_runtime::LambdaEvent;

use crate::credentials::{CredentialStatusStore, CredentialStore};
use crate::kernel::time::deadline_from_epoch_ms;
use crate::kernel::vault::SecretVault;
use crate::scheduler::{
    BatchQueue, ConnectionTurns, ScheduleItems, Scheduler, Tick, TickLeases, TickReport,
};

/// The Lambda handler: one tick per event.
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
    let tick = Tick {
        key: tick_key(&event.payload),
        ends_at: deadline_from_epoch_ms(event.context.deadline),
    };
    Ok(scheduler.run(&tick).await?)
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
}
