//! The `push-hook` Lambda handler: GitLab's push hooks through API Gateway's public route
//! `POST /connections/{connection_id}/hooks/gitlab` (GitLab cannot sign requests; the hook secret in
//! `X-Gitlab-Token` is the authentication).
//!
//! Every outcome is a JSON reply, fast (GitLab waits 10 s): 202 once a message is queued or the event is one
//! we leave alone, 401/400/413 for what a caller got wrong, 404/405 for other paths and methods, and 503 only when
//! queueing failed on our side, so GitLab delivers again. One log line per delivery: connection, project, result
//! and status, never a header or the body.

use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::http::{connection_segments, json_reply, request_path};

use crate::hooks::{Delivery, HookError, PushHooks, PushLeases, Received};
use crate::kernel::sync_message::SyncQueue;
use crate::kernel::vault::SecretVault;

/// Every error code the push hook answers with: the route's own and [`HookError::code`]'s (openapi.yaml's
/// `HookError` lists exactly these; a test checks).
pub const ERROR_CODES: [&str; 6] = [
    "unknown_route",
    "method_not_allowed",
    "unauthorized",
    "invalid_payload",
    "payload_too_large",
    "unavailable",
];

/// The header GitLab sends the hook's secret token in.
pub const TOKEN_HEADER: &str = "x-gitlab-token";

/// The Lambda entry point. Never fails: every outcome is a reply.
pub async fn handler<L, V, Q>(
    hooks: &PushHooks<L, V, Q>,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error>
where
    L: PushLeases,
    V: SecretVault,
    Q: SyncQueue,
{
    let path = request_path(&req);
    let Some(connection) = match_hook_path(path) else {
        return Ok(json_reply(
            404,
            &json!({"ok": false, "error": ERROR_CODES[0], "message": "No such route."}),
        ));
    };
    if req.method().as_str() != "POST" {
        let mut refused = json_reply(
            405,
            &json!({"ok": false, "error": ERROR_CODES[1], "message": "Push hooks are POSTed."}),
        );
        refused
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Ok(refused);
    }
    let delivery = Delivery {
        connection,
        token: req.headers().get(TOKEN_HEADER).map(HeaderValue::as_bytes),
        body: req.body().as_ref(),
    };
    let result = hooks.receive(delivery).await;
    let (status, body, outcome, project_id) = match &result {
        Ok(Received::Queued { project_id }) => (
            202,
            json!({"ok": true, "queued": true, "project_id": project_id}),
            "queued",
            Some(*project_id),
        ),
        Ok(Received::Ignored { reason, project_id }) => (
            202,
            json!({"ok": true, "queued": false, "reason": reason, "project_id": project_id}),
            *reason,
            *project_id,
        ),
        Err(error) => {
            // Our own failures are logged in full and answered without their detail.
            let message = match error {
                HookError::Unavailable(_) => {
                    "The sync could not be queued; deliver again.".to_owned()
                }
                other => format!("{other}."),
            };
            (
                error.status(),
                json!({"ok": false, "error": error.code(), "message": message}),
                error.code(),
                None,
            )
        }
    };
    // The connection is named only once the token matched it: anything else is a caller's guess.
    let connection_id = match &result {
        Err(HookError::Unauthorized) => None,
        _ => Some(connection),
    };
    match &result {
        Err(HookError::Unavailable(detail)) => {
            tracing::warn!(
                connection_id,
                status,
                result = outcome,
                detail,
                "push hook not queued"
            );
        }
        _ => tracing::info!(
            connection_id,
            project_id,
            status,
            result = outcome,
            "push hook handled"
        ),
    }
    Ok(json_reply(status, &body))
}

/// `[/<stage>]/connections/<connection>/hooks/gitlab` -> the connection segment.
pub fn match_hook_path(path: &str) -> Option<&str> {
    match connection_segments(path)?.as_slice() {
        ["connections", connection, "hooks", "gitlab"] => Some(connection),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_a_listed_code() {
        for error in [
            HookError::Unauthorized,
            HookError::Malformed(String::new()),
            HookError::TooLarge,
            HookError::Unavailable(String::new()),
        ] {
            assert!(ERROR_CODES[2..].contains(&error.code()), "{error:?}");
        }
    }

    #[test]
    fn the_hook_path_names_its_connection_with_or_without_a_stage() {
        assert_eq!(
            match_hook_path("/connections/acme/hooks/gitlab"),
            Some("acme")
        );
        assert_eq!(
            match_hook_path("/prod/connections/acme/hooks/gitlab"),
            Some("acme")
        );
        for path in [
            "",
            "/",
            "/connections/acme/hooks",
            "/connections/acme/hooks/gitlab/",
            "/connections/acme/hooks/github",
            "/a/b/connections/acme/hooks/gitlab",
        ] {
            assert_eq!(match_hook_path(path), None, "{path}");
        }
    }
}
