//! The audit line: one per call, without body or token.

use super::*;

/// `req` with API Gateway's request id `request_id`, signed by `caller` (an IAM ARN), or unsigned.
fn as_sent_by(req: Request, caller: Option<&str>, request_id: &str) -> Request {
    use lambda_http::request::RequestContext;
    let RequestContext::ApiGatewayV2(mut context) = req.request_context() else {
        panic!("the samples are API Gateway v2 events");
    };
    context.request_id = Some(request_id.to_owned());
    match caller {
        Some(arn) => {
            let iam = context.authorizer.as_mut().unwrap().iam.as_mut().unwrap();
            iam.user_arn = Some(arn.to_owned());
        }
        None => context.authorizer = None,
    }
    req.with_request_context(RequestContext::ApiGatewayV2(context))
}

/// The one log line that tells of request `request_id`.
fn audit_line(request_id: &str) -> Value {
    let text = captured_logs().json.text();
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["request_id"] == request_id)
        .collect();
    assert_eq!(lines.len(), 1, "{request_id}: {lines:#?}");
    lines.into_iter().next().unwrap()
}

/// Each route's call, and calls refused before, during and after the use case, leave one JSON line each: the
/// caller's IAM ARN, the request id (which the stage's access log has too), route, connection, the credential the
/// call names or created, result code and status. No field holds anything else: no body, no token.
#[tokio::test]
async fn every_call_leaves_one_audit_line_without_body_or_token() {
    let env = env().await;
    let run = format!(
        "audit-{}-{}",
        std::process::id(),
        NEXT_PREFIX.fetch_add(1, Ordering::Relaxed)
    );
    let caller = format!("arn:aws:sts::123456789012:assumed-role/backoffice/{run}");
    const LABEL: &str = "label-text-that-stays-out-of-the-logs";
    let mut seq = 0;
    let mut call = async |req: Request, signed: bool| {
        seq += 1;
        let request_id = format!("{run}-{seq}");
        let signer = signed.then_some(caller.as_str());
        let (status, reply) = send(&env.api, as_sent_by(req, signer, &request_id)).await;
        (status, reply, audit_line(&request_id))
    };
    let mut body = create_body(&env, GOOD);
    body["label"] = LABEL.into();
    let (status, reply, created) = call(post("credentials.create", &body), true).await;
    assert_eq!(status, 201, "{reply}");
    let id = reply["credential"]["id"].as_str().unwrap().to_owned();
    let mut hook_secrets = vec![reply["push_hook"]["secret"].as_str().unwrap().to_owned()];
    let (status, reply, rotated) = call(post("hooks.rotate", &json!({})), true).await;
    assert_eq!(status, 200, "{reply}");
    hook_secrets.push(reply["push_hook"]["secret"].as_str().unwrap().to_owned());
    let update = json!({"id": id, "label": LABEL, "secrets": {"api_token": ROTATED}});
    let mut lines = vec![
        (created, "credentials.create", Some(id.as_str()), "ok", 201),
        (rotated, "hooks.rotate", None, "ok", 200),
        {
            let (_, _, line) = call(post("credentials.update", &update), true).await;
            (line, "credentials.update", Some(id.as_str()), "ok", 200)
        },
        {
            let (_, _, line) = call(get(&format!("credentials.info/{id}")), true).await;
            (line, "credentials.info", Some(id.as_str()), "ok", 200)
        },
        {
            let (_, _, line) = call(get("credentials.list"), true).await;
            (line, "credentials.list", None, "ok", 200)
        },
    ];
    // Refused by GitLab (the credential is named), by the method check, and ours to fix (a 5xx, at WARN).
    let revoked = json!({"id": id, "label": LABEL, "secrets": {"api_token": REVOKED}});
    let (_, _, line) = call(post("credentials.update", &revoked), true).await;
    lines.push((
        line,
        "credentials.update",
        Some(id.as_str()),
        "invalid_credentials",
        401,
    ));
    let (_, _, line) = call(get("credentials.create"), true).await;
    lines.push((line, "credentials.create", None, "method_not_allowed", 405));
    env.sim.fail_next("*", 6, Fault::ServerError(502));
    let mut unreachable = create_body(&env, UNKNOWN);
    unreachable["label"] = LABEL.into();
    let (_, _, line) = call(post("credentials.create", &unreachable), true).await;
    lines.push((line, "credentials.create", None, "gitlab_unreachable", 502));
    let (_, _, line) = call(post("credentials.delete", &json!({"id": id})), true).await;
    lines.push((line, "credentials.delete", Some(id.as_str()), "ok", 200));

    for (line, route, credential, result, status) in &lines {
        let text = line.to_string();
        assert_eq!(line["caller"], caller.as_str(), "{text}");
        assert_eq!(line["route"], *route, "{text}");
        assert_eq!(line["connection_id"], CONN, "{text}");
        assert_eq!(line["credential_id"].as_str(), *credential, "{text}");
        assert_eq!(line["result"], *result, "{text}");
        assert_eq!(line["status"], *status, "{text}");
        let (level, message) = if *status >= 500 {
            ("WARN", "request failed")
        } else {
            ("INFO", "request handled")
        };
        assert_eq!(
            (line["level"].as_str(), line["message"].as_str()),
            (Some(level), Some(message))
        );
        let mut keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = vec![
            "caller",
            "connection_id",
            "level",
            "message",
            "request_id",
            "result",
            "route",
            "status",
            "timestamp",
        ];
        expected.extend(credential.map(|_| "credential_id"));
        expected.sort_unstable();
        assert_eq!(keys, expected, "{text}");
        assert!(!text.contains(LABEL), "a body field is logged: {text}");
        assert_shows_no_secret(&text, &format!("the audit line {text}"), &hook_secrets);
    }

    // Unsigned (a local run, or refused as not_authed here): a placeholder, never an empty caller.
    seq += 1;
    let request_id = format!("{run}-{seq}");
    let (status, _) = send(
        &env.api,
        as_sent_by(post("credentials.create", &body), None, &request_id),
    )
    .await;
    assert_eq!(status, 401);
    let line = audit_line(&request_id);
    assert_eq!(
        line["caller"],
        shared::entrypoints::credentials_api::UNSIGNED_CALLER
    );
    assert_eq!(
        (line["result"].as_str(), line["route"].as_str()),
        (Some("not_authed"), Some("unknown"))
    );
    assert!(!line.to_string().contains(GOOD));
}
