//! Every error the credentials API answers with: one variant per error code, each with its HTTP status and a
//! message for the caller (never a value the caller sent, never our internals).

use super::Route;
use super::request::MAX_BODY_BYTES;
use crate::credentials::{CredentialsError, VerifyError};
use crate::kernel::ids::ConnectionId;

/// Declares [`ApiError`] with its `code()`, `status()` and [`ApiError::ALL_CODES`] from one list, so no code can
/// be answered without being listed (`openapi.yaml` documents the same list, checked by tests).
macro_rules! api_errors {
    ($(
        $(#[$attr:meta])*
        $variant:ident $(($($tuple:ty),*))? $({$($field:ident: $field_ty:ty),*})? = ($status:literal, $code:literal),
    )*) => {
        /// A request the API refuses or could not serve: a status, a stable code and a sentence (`Display`).
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        pub enum ApiError {
            $($(#[$attr])* $variant $(($($tuple),*))? $({$($field: $field_ty),*})?,)*
        }

        impl ApiError {
            /// Every error code with its HTTP status, in declaration order.
            pub const ALL_CODES: &[(&str, u16)] = &[$(($code, $status)),*];

            pub fn code(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => $code,)*
                }
            }

            pub fn status(&self) -> u16 {
                match self {
                    $(Self::$variant { .. } => $status,)*
                }
            }
        }
    };
}

api_errors! {
    #[error("{0}")]
    InvalidJson(&'static str) = (400, "invalid_json"),
    #[error("{0}")]
    InvalidRequest(String) = (400, "invalid_request"),
    #[error("secrets.api_token is required and must not be empty")]
    MissingToken = (400, "missing_token"),
    #[error("{0}")]
    InvalidExpirationDate(&'static str) = (400, "invalid_expiration_date"),
    #[error("{0}")]
    InvalidSettings(String) = (400, "invalid_settings"),
    /// A query parameter the API cannot serve; the reply names it in `parameter`.
    #[error("{parameter} {reason}")]
    InvalidParameter { parameter: &'static str, reason: &'static str } = (400, "invalid_parameter"),
    #[error("the request carries no IAM authorisation; sign it with AWS SigV4")]
    NotAuthed = (401, "not_authed"),
    #[error("{0}")]
    InvalidCredentials(String) = (401, "invalid_credentials"),
    #[error("{0}")]
    InvalidPermissions(String) = (403, "invalid_permissions"),
    #[error(
        "no such method; use /connections/{{connection_id}}/credentials.create, .update, .info/{{id}}, .list, .delete, \
         hooks.rotate, commits.list, projects.list, projects.info/{{id}}, projects.sync, projects.resync or \
         connections.sync"
    )]
    UnknownRoute = (404, "unknown_route"),
    #[error("no connection has this id")]
    ConnectionNotFound = (404, "connection_not_found"),
    /// A malformed id names no credential; a well-formed one may be absent from the connection.
    #[error("{0}")]
    CredentialNotFound(&'static str) = (404, "credential_not_found"),
    /// No tick recorded a project with this id in the connection (or the id is malformed).
    #[error("no project with this id is recorded in this connection")]
    ProjectNotFound = (404, "project_not_found"),
    /// The route is only served under another method (the reply's `Allow` header names it).
    #[error("{} only accepts {}", .route.name(), .route.method())]
    MethodNotAllowed { route: Route } = (405, "method_not_allowed"),
    #[error("this credential is deleted and cannot be changed")]
    CredentialDeleted = (409, "credential_deleted"),
    #[error("the credential was changed by another request at the same time; read it and try again")]
    Conflict = (409, "conflict"),
    #[error(
        "connection {connection} imports from the GitLab instance {bound}; a connection is one GitLab instance, so \
         connect another instance under a connection of its own"
    )]
    InstanceMismatch { connection: ConnectionId, bound: String } = (409, "instance_mismatch"),
    #[error(
        "this credential's stored token is missing; update it with secrets.api_token to store the token again"
    )]
    SecretMissing = (409, "secret_missing"),
    /// The project's status (`excluded`, `archived`, `forbidden`, `gone`, ...) is one the tick does not sync.
    #[error("the project is {0}; only active and empty projects are synced")]
    ProjectNotSynced(String) = (409, "project_not_synced"),
    #[error("a schedule tick is enqueueing this connection's projects; try again in a minute")]
    SchedulingInProgress = (409, "scheduling_in_progress"),
    #[error("the body is larger than {} bytes", MAX_BODY_BYTES)]
    BodyTooLarge = (413, "body_too_large"),
    #[error("send the body as application/json or application/x-www-form-urlencoded")]
    UnsupportedMediaType = (415, "unsupported_media_type"),
    #[error("{0}")]
    NoResources(String) = (422, "no_resources"),
    #[error(
        "GitLab could not be reached or answered with an error; the token was not judged. Try again later"
    )]
    GitLabUnreachable = (502, "gitlab_unreachable"),
    #[error("the service cannot store or read its data right now; try again shortly")]
    ServiceUnavailable = (503, "service_unavailable"),
}

impl ApiError {
    pub(super) const NO_SUCH_CREDENTIAL: &str = "no credential has this id";

    /// A domain failure as the caller hears it. Our own failures get a generic message; details go to the log.
    pub fn of(error: &CredentialsError, connection: &ConnectionId) -> Self {
        match error {
            CredentialsError::Verification(verify) => match verify {
                VerifyError::InvalidSettings(message) => Self::InvalidSettings(message.clone()),
                VerifyError::InvalidCredentials(message) => {
                    Self::InvalidCredentials(message.clone())
                }
                VerifyError::InvalidPermissions(message) => {
                    Self::InvalidPermissions(message.clone())
                }
                VerifyError::NoResources => Self::NoResources(verify.to_string()),
                VerifyError::Unreachable { detail } => {
                    tracing::warn!(connection_id = %connection, detail = %detail, "GitLab unreachable during verification");
                    Self::GitLabUnreachable
                }
            },
            CredentialsError::ConnectionNotFound => Self::ConnectionNotFound,
            CredentialsError::CredentialNotFound => {
                Self::CredentialNotFound("this connection has no credential with this id")
            }
            CredentialsError::CredentialDeleted => Self::CredentialDeleted,
            CredentialsError::Conflict => Self::Conflict,
            CredentialsError::SecretMissing => Self::SecretMissing,
            CredentialsError::OtherInstance { bound } => Self::InstanceMismatch {
                connection: connection.clone(),
                bound: bound.to_string(),
            },
            CredentialsError::Store(_)
            | CredentialsError::Vault(_)
            | CredentialsError::Randomness(_) => {
                tracing::error!(connection_id = %connection, error = %error, "storage failure");
                Self::ServiceUnavailable
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_is_one_variant_with_a_status_of_its_class() {
        let mut codes: Vec<&str> = ApiError::ALL_CODES.iter().map(|(code, _)| *code).collect();
        assert_eq!(codes.len(), 25, "{codes:?}");
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(
            codes.len(),
            ApiError::ALL_CODES.len(),
            "a code is listed twice"
        );
        for (code, status) in ApiError::ALL_CODES {
            assert!((400..600).contains(status), "{code} ({status})");
        }
        let samples = [
            (ApiError::MissingToken, "missing_token", 400),
            (
                ApiError::MethodNotAllowed { route: Route::Info },
                "method_not_allowed",
                405,
            ),
            (ApiError::GitLabUnreachable, "gitlab_unreachable", 502),
            (
                ApiError::ProjectNotSynced("archived".into()),
                "project_not_synced",
                409,
            ),
        ];
        for (error, code, status) in samples {
            assert_eq!((error.code(), error.status()), (code, status));
            assert!(ApiError::ALL_CODES.contains(&(code, status)));
        }
        assert_eq!(
            ApiError::MethodNotAllowed { route: Route::Info }.to_string(),
            "credentials.info only accepts GET"
        );
        assert_eq!(
            ApiError::UnknownRoute.to_string(),
            "no such method; use /connections/{connection_id}/credentials.create, .update, .info/{id}, .list, .delete, \
             hooks.rotate, commits.list, projects.list, projects.info/{id}, projects.sync, projects.resync or \
             connections.sync"
        );
        assert_eq!(
            ApiError::BodyTooLarge.to_string(),
            "the body is larger than 65536 bytes"
        );
    }
}
