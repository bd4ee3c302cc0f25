//! The sync message: one project to sync, as the scheduler (and later the webhook) sends it and the sync worker
//! reads it. Validated when it is made and when it is read, so a message either names a project the worker can
//! sync or is refused as malformed.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ids::{ConnectionId, CredentialId};
use super::store::StoreError;

/// One project to sync: the body of a sync queue message (the scheduler's, or a continuation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSyncMessage")]
pub struct SyncMessage {
    connection_id: ConnectionId,
    credential_id: CredentialId,
    project_id: u64,
    path_with_namespace: String,
    default_branch: String,
}

/// Why a sync message is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("connection_id is not an identifier")]
    ConnectionId,
    #[error("credential_id is not an identifier")]
    CredentialId,
    #[error("project_id must be positive")]
    ProjectId,
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{0}")]
    Json(String),
}

/// The wire shape, before its fields are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSyncMessage {
    connection_id: String,
    credential_id: String,
    project_id: u64,
    path_with_namespace: String,
    default_branch: String,
}

impl TryFrom<RawSyncMessage> for SyncMessage {
    type Error = MessageError;

    fn try_from(raw: RawSyncMessage) -> Result<Self, MessageError> {
        SyncMessage::new(
            ConnectionId::parse(&raw.connection_id).ok_or(MessageError::ConnectionId)?,
            CredentialId::parse(&raw.credential_id).ok_or(MessageError::CredentialId)?,
            raw.project_id,
            raw.path_with_namespace,
            raw.default_branch,
        )
    }
}

impl SyncMessage {
    pub fn new(
        connection_id: ConnectionId,
        credential_id: CredentialId,
        project_id: u64,
        path_with_namespace: impl Into<String>,
        default_branch: impl Into<String>,
    ) -> Result<Self, MessageError> {
        let path_with_namespace = path_with_namespace.into();
        let default_branch = default_branch.into();
        if project_id == 0 {
            return Err(MessageError::ProjectId);
        }
        if path_with_namespace.is_empty() {
            return Err(MessageError::Empty("path_with_namespace"));
        }
        if default_branch.is_empty() {
            return Err(MessageError::Empty("default_branch"));
        }
        Ok(SyncMessage {
            connection_id,
            credential_id,
            project_id,
            path_with_namespace,
            default_branch,
        })
    }

    /// A queue message's body, read and checked.
    pub fn from_json(body: &str) -> Result<Self, MessageError> {
        serde_json::from_str(body).map_err(|e| MessageError::Json(e.to_string()))
    }

    pub fn connection_id(&self) -> &ConnectionId {
        &self.connection_id
    }

    pub fn credential_id(&self) -> &CredentialId {
        &self.credential_id
    }

    pub fn project_id(&self) -> u64 {
        self.project_id
    }

    pub fn path_with_namespace(&self) -> &str {
        &self.path_with_namespace
    }

    pub fn default_branch(&self) -> &str {
        &self.default_branch
    }
}

/// Where sync messages go one at a time (the worker's continuations and the push hook's hints; the scheduler sends
/// in batches through its own port).
pub trait SyncQueue: Send + Sync {
    /// Sends `message`, which no worker receives before `delay` has passed (whole seconds, at most
    /// [`SyncQueue::MAX_DELAY`]).
    fn enqueue(
        &self,
        message: &SyncMessage,
        delay: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The longest delay a queue can hold a message back (SQS: 15 minutes).
    const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"connection_id":"c1","credential_id":"k1","project_id":7,"path_with_namespace":"g/p","default_branch":"main"}"#;

    #[test]
    fn a_message_must_have_every_field_and_no_other() {
        assert_eq!(SyncMessage::from_json(OK).unwrap().project_id(), 7);
        assert!(SyncMessage::from_json(r#"{"connection_id":"c1"}"#).is_err());
        let extra = OK.replace('}', r#","token":"x"}"#);
        assert!(SyncMessage::from_json(&extra).is_err());
    }

    #[test]
    fn a_message_is_checked_field_by_field() {
        for (from, to, error) in [
            (r#""c1""#, r#""a/b""#, MessageError::ConnectionId),
            (r#""k1""#, r#""""#, MessageError::CredentialId),
            (":7", ":0", MessageError::ProjectId),
            (
                r#""g/p""#,
                r#""""#,
                MessageError::Empty("path_with_namespace"),
            ),
            (r#""main""#, r#""""#, MessageError::Empty("default_branch")),
        ] {
            let body = OK.replacen(from, to, 1);
            let refused = SyncMessage::from_json(&body).unwrap_err();
            assert!(
                refused.to_string().contains(&error.to_string()),
                "{body}: {refused}"
            );
        }
    }

    #[test]
    fn a_message_reads_back_as_it_was_written() {
        let message = SyncMessage::from_json(OK).unwrap();
        let body = serde_json::to_string(&message).unwrap();
        assert_eq!(SyncMessage::from_json(&body).unwrap(), message);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::from_str::<serde_json::Value>(OK).unwrap()
        );
    }
}
