//! An operator's request for one connection's scheduling turn now (`connections.sync`): the message the
//! credentials API sends and the scheduler's entry point reads, and the port it goes through.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::ids::ConnectionId;
use super::store::StoreError;

/// The largest body a turn request may have: it is two short fields.
const MAX_BODY_BYTES: usize = 1024;

/// Run this connection's discovery and fan-out now, without waiting for the tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TurnRequest {
    pub connection_id: ConnectionId,
    /// When it was requested (epoch seconds): with the connection, the identity of the turn, so that a second
    /// delivery of one request does nothing.
    pub requested_at: i64,
}

/// A body as sent, before its connection id is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    connection_id: String,
    requested_at: i64,
}

impl TurnRequest {
    /// A message body read back; `None` when it is no turn request (a connection id of another shape included).
    pub fn from_json(body: &str) -> Option<Self> {
        if body.len() > MAX_BODY_BYTES {
            return None;
        }
        let body: Body = serde_json::from_str(body).ok()?;
        Some(TurnRequest {
            connection_id: ConnectionId::parse(&body.connection_id)?,
            requested_at: body.requested_at,
        })
    }

    /// The key of the scheduler's tick lease for this request's turn.
    pub fn tick_key(&self) -> String {
        format!("turn:{}:{}", self.connection_id, self.requested_at)
    }
}

/// Where turn requests go.
pub trait TurnQueue: Send + Sync {
    fn request_turn(
        &self,
        request: &TurnRequest,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_request_reads_back_as_written_and_nothing_else_reads() {
        let request = TurnRequest {
            connection_id: ConnectionId::parse("acme").unwrap(),
            requested_at: 1_700_000_000,
        };
        let body = serde_json::to_string(&request).unwrap();
        assert_eq!(TurnRequest::from_json(&body), Some(request.clone()));
        assert_eq!(request.tick_key(), "turn:acme:1700000000");
        for body in [
            r#"{"connection_id":"a/b","requested_at":1}"#,
            r#"{"connection_id":"acme"}"#,
            r#"{"connection_id":"acme","requested_at":1,"x":2}"#,
            "[]",
            "",
        ] {
            assert_eq!(TurnRequest::from_json(body), None, "{body}");
        }
        let long = format!(
            r#"{{"connection_id":"acme","requested_at":1,"{}":0}}"#,
            "x".repeat(2000)
        );
        assert_eq!(TurnRequest::from_json(&long), None);
    }
}
