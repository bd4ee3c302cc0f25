//! The `push-hook` Lambda handler: GitLab's push hooks through API Gateway's public route
//! `POST /connections/{connection_id}/hooks/gitlab` (GitLab cannot sign requests; the hook secret in
//! `X-Gitlab-Token` is the authentication).
//!
//! Every outcome is a JSON reply, fast (GitLab waits 10 s): 202 once a message is queued or the event is one
//! we leave alone, 401/400/413 for what a caller got wrong, 404/405 for other paths and methods, and 503 only when
//! queueing failed on our side, so GitLab delivers again. One log line per delivery: connection, project, result
//! and status, never a header or the body.

use std::time::{Duration, Instant};

use lambda_http::http::{HeaderValue, Method};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::http::{connection_segments, error_body, json_reply, request_path, with_allow};
use crate::hooks::{
    Delivery, HookError, IgnoreReason, PushHooks, PushLeases, Received, Refusal, Unavailable,
};
use crate::kernel::sync_message::SyncQueue;
use crate::kernel::vault::SecretVault;
use crate::metrics::{Emitter, HOOK_DELIVERIES, HOOK_HANDLING_TIME, OUTCOME, millis};

/// Every error code the push hook answers with (openapi.yaml's `HookError` lists exactly these; a test checks).
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

/// A request the push hook refuses or could not serve: the route's own refusals, the caller's faults the hooks
/// domain found, and ours. `Display` is the sentence the caller reads: our own failures keep their detail for the
/// log.
#[derive(Debug, thiserror::Error)]
enum PushHookError {
    #[error("No such route")]
    UnknownRoute,
    #[error("Push hooks are POSTed")]
    MethodNotAllowed,
    #[error(transparent)]
    Refused(Refusal),
    #[error("The sync could not be queued; deliver again")]
    Unavailable(Unavailable),
}

impl From<HookError> for PushHookError {
    fn from(error: HookError) -> Self {
        match error {
            HookError::Refused(refusal) => PushHookError::Refused(refusal),
            HookError::Unavailable(detail) => PushHookError::Unavailable(detail),
        }
    }
}

impl PushHookError {
    /// The HTTP status and the stable code, from one match so that no code goes without its status.
    fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            PushHookError::UnknownRoute => (404, "unknown_route"),
            PushHookError::MethodNotAllowed => (405, "method_not_allowed"),
            PushHookError::Refused(Refusal::Unauthorized) => (401, "unauthorized"),
            PushHookError::Refused(Refusal::Malformed(_)) => (400, "invalid_payload"),
            PushHookError::Refused(Refusal::TooLarge) => (413, "payload_too_large"),
            PushHookError::Unavailable(_) => (503, "unavailable"),
        }
    }

    fn reply(&self) -> Response<Body> {
        let (status, code) = self.status_and_code();
        let reply = json_reply(status, &error_body(code, self));
        match self {
            PushHookError::MethodNotAllowed => with_allow(reply, "POST"),
            _ => reply,
        }
    }
}

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
    let started = Instant::now();
    let result = deliver(hooks, &req).await;
    let reply = match &result {
        Ok(received) => received_reply(received),
        Err(error) => error.reply(),
    };
    // Requests off the route are not deliveries: counted, not logged.
    let delivered = !matches!(
        result,
        Err(PushHookError::UnknownRoute | PushHookError::MethodNotAllowed)
    );
    if let (true, Some(connection)) = (delivered, match_hook_path(request_path(&req))) {
        log_delivery(connection, &result, reply.status().as_u16());
    }
    hooks
        .metrics
        .print([metric_line(&hooks.metrics, &result, started.elapsed())]);
    Ok(reply)
}

/// The delivery's route and method checked, then handed to the hooks domain.
async fn deliver<L, V, Q>(
    hooks: &PushHooks<L, V, Q>,
    req: &Request,
) -> Result<Received, PushHookError>
where
    L: PushLeases,
    V: SecretVault,
    Q: SyncQueue,
{
    let Some(connection) = match_hook_path(request_path(req)) else {
        return Err(PushHookError::UnknownRoute);
    };
    if req.method() != Method::POST {
        return Err(PushHookError::MethodNotAllowed);
    }
    let delivery = Delivery {
        connection,
        token: req.headers().get(TOKEN_HEADER).map(HeaderValue::as_bytes),
        body: req.body().as_ref(),
    };
    Ok(hooks.receive(delivery).await?)
}

/// The delivery's outcome in one word: `queued`, the reason it was left alone, or the code it was refused with.
fn outcome(result: &Result<Received, PushHookError>) -> &'static str {
    match result {
        Ok(Received::Queued { .. }) => "queued",
        Ok(Received::Ignored { reason, .. }) => reason_code(*reason),
        Err(error) => error.status_and_code().1,
    }
}

/// The delivery's metric line ([`crate::metrics`]): counted by its outcome, with the hook's handling time.
fn metric_line(
    emitter: &Emitter,
    result: &Result<Received, PushHookError>,
    took: Duration,
) -> String {
    emitter.line(
        &[(OUTCOME, outcome(result))],
        &[(HOOK_DELIVERIES, 1), (HOOK_HANDLING_TIME, millis(took))],
    )
}

/// A 202 for every delivery that passed the checks, queued or not: GitLab disables a hook after four consecutive
/// non-2xx answers.
fn received_reply(received: &Received) -> Response<Body> {
    let body = match received {
        Received::Queued { project_id } => {
            json!({"ok": true, "queued": true, "project_id": project_id})
        }
        Received::Ignored { reason, project_id } => {
            json!({"ok": true, "queued": false, "reason": reason_code(*reason), "project_id": project_id})
        }
    };
    json_reply(202, &body)
}

/// The stable code a reply and the log give for an event left alone.
fn reason_code(reason: IgnoreReason) -> &'static str {
    match reason {
        IgnoreReason::NotAPush => "not_a_push",
        IgnoreReason::NotDefaultBranch => "not_default_branch",
        IgnoreReason::Coalesced => "coalesced",
        IgnoreReason::UnknownProject => "unknown_project",
        IgnoreReason::NotSynced => "not_synced",
    }
}

/// The delivery's one log line: our own failures at WARN with their detail, the rest at INFO. The connection is
/// named only once the token matched it: anything else is a caller's guess.
fn log_delivery(connection: &str, result: &Result<Received, PushHookError>, status: u16) {
    let connection_id = match result {
        Err(PushHookError::Refused(Refusal::Unauthorized)) => None,
        _ => Some(connection),
    };
    if let Err(PushHookError::Unavailable(detail)) = result {
        let result = "unavailable";
        tracing::warn!(connection_id, status, result, detail = %detail, "push hook not queued");
        return;
    }
    let project_id = match result {
        Ok(Received::Queued { project_id }) => Some(*project_id),
        Ok(Received::Ignored { project_id, .. }) => *project_id,
        Err(_) => None,
    };
    tracing::info!(
        connection_id,
        project_id,
        status,
        result = outcome(result),
        "push hook handled"
    );
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
    use std::collections::BTreeSet;

    use super::*;
    use crate::hooks::PushError;
    use crate::kernel::store::StoreError;

    /// Each refusal answers with a listed code and a status of its class: 4xx for the caller's faults, 503 (which
    /// GitLab delivers again) for ours; every listed code is answered.
    #[test]
    fn every_refusal_has_a_listed_code_and_a_status_of_its_class() {
        let callers_faults = [
            PushHookError::UnknownRoute,
            PushHookError::MethodNotAllowed,
            PushHookError::Refused(Refusal::Unauthorized),
            PushHookError::Refused(Refusal::Malformed(PushError::Shape("ref is missing"))),
            PushHookError::Refused(Refusal::TooLarge),
        ];
        let ours = PushHookError::Unavailable(Unavailable::Queue(StoreError::Conflict));
        let mut answered = BTreeSet::new();
        for error in &callers_faults {
            let (status, code) = error.status_and_code();
            assert!((400..500).contains(&status), "{error:?}");
            answered.insert(code);
        }
        assert_eq!(ours.status_and_code(), (503, "unavailable"));
        answered.insert("unavailable");
        assert_eq!(answered, BTreeSet::from(ERROR_CODES));
        assert_eq!(
            ours.to_string(),
            "The sync could not be queued; deliver again"
        );
    }

    /// Each delivery's line names exactly the push hook's metrics of the catalogue, counted by its outcome.
    #[test]
    fn a_deliverys_line_counts_it_by_outcome_with_its_handling_time() {
        let cases = [
            (Ok(Received::Queued { project_id: 7 }), "queued"),
            (
                Ok(Received::Ignored {
                    reason: IgnoreReason::Coalesced,
                    project_id: Some(7),
                }),
                "coalesced",
            ),
            (
                Err(PushHookError::Refused(Refusal::Unauthorized)),
                "unauthorized",
            ),
            (
                Err(PushHookError::Unavailable(Unavailable::Queue(
                    StoreError::Conflict,
                ))),
                "unavailable",
            ),
            (Err(PushHookError::UnknownRoute), "unknown_route"),
        ];
        let catalogue = crate::metrics::catalogue_names("push-hook");
        for (result, expected) in cases {
            let line = metric_line(&Emitter::new("ns"), &result, Duration::from_millis(42));
            let line: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(crate::metrics::declared_names(&line), catalogue);
            assert_eq!(line["Outcome"], expected);
            assert_eq!(line["HookDeliveries"], 1);
            assert_eq!(line["HookHandlingTime"], 42);
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
