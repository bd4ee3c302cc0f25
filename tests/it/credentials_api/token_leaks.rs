//! No reply, log line or stored item contains a token.

use super::*;

#[tokio::test]
async fn no_reply_log_line_or_stored_item_contains_a_token() {
    let logs = captured_logs();
    let env = env().await;
    let mut replies: Vec<String> = Vec::new();
    let mut run = async |req: Request| {
        // What lambda_runtime logs of every invocation, at its own target and level (the handler runs here
        // without the runtime): the raw event, body and token included.
        tracing::trace!(
            target: "lambda_runtime::layers::api_response",
            body = ?req.body(),
            "raw JSON event received from Lambda"
        );
        let reply = handler(&env.api, req).await.unwrap();
        replies.push(format!("{:?} {:?}", reply.headers(), reply.body()));
        serde_json::from_slice::<Value>(reply.body().as_ref()).unwrap()
    };
    let created = run(create_request(&env, GOOD)).await;
    let id = created["credential"]["id"].as_str().unwrap().to_owned();
    let mut hook_secrets = vec![created["push_hook"]["secret"].as_str().unwrap().to_owned()];
    let rotated = run(post("hooks.rotate", &json!({}))).await;
    hook_secrets.push(rotated["push_hook"]["secret"].as_str().unwrap().to_owned());
    for token in ALL_TOKENS {
        run(create_request(&env, token)).await;
        let mut with_error = create_body(&env, token);
        with_error["settings"]["requests_per_minute"] = json!(*token);
        run(post("credentials.create", &with_error)).await;
        with_error["expiration_date"] = json!(*token);
        run(post("credentials.create", &with_error)).await;
        run(post(
            "credentials.update",
            &json!({"id": id, "secrets": {"api_token": token}, "label": "rotating"}),
        ))
        .await;
        run(rotate(&id, GOOD)).await;
        let form = format!("secrets%5Bapi_token%5D={token}&{token}=1");
        run(request(
            "POST",
            &format!("/connections/{CONN}/credentials.create"),
            Some("application/x-www-form-urlencoded"),
            Some(form),
        ))
        .await;
    }
    env.sim.fail_next("*", 6, Fault::ServerError(502));
    run(create_request(&env, ROTATED)).await;
    run(rotate(&id, ROTATED)).await;
    run(get(&format!("credentials.info/{id}"))).await;
    run(get("credentials.list?include_deleted=true")).await;
    run(post("credentials.delete", &json!({"id": id}))).await;
    run(get(&format!("credentials.info/{id}"))).await;

    // Without the functions' filter, the runtime's line shows the tokens, and the SDK and HTTP crates log at
    // TRACE: what the filter must hold back.
    let unfiltered = logs.unfiltered.text();
    assert!(unfiltered.contains("raw JSON event received from Lambda"));
    assert!(ALL_TOKENS.iter().any(|token| unfiltered.contains(token)));
    assert!(
        unfiltered.lines().count() > 50,
        "trace-level lines of the SDK and HTTP clients too"
    );
    let table = format!("{:?}", table_items(&env).await);
    assert!(table.contains(&id), "the scan sees the credential");
    assert_shows_no_secret(&table, "the table", &hook_secrets);
    let replies = replies.join("\n");
    assert!(replies.contains(&SecretString::new(GOOD).fingerprint()));
    for token in ALL_TOKENS {
        assert!(!replies.contains(token), "a reply shows {token}");
    }
    assert!(logs.by_level.len() >= 3, "{:?}", logs.by_level.len());
    for (level, captured) in &logs.by_level {
        let text = captured.text();
        let info = matches!(level.as_str(), "INFO" | "DEBUG");
        assert_eq!(
            text.contains("request handled"),
            info,
            "{level}: the handler's INFO lines are there exactly when the level admits them"
        );
        assert!(!text.contains("raw JSON event"), "{level} logs raw events");
        assert_shows_no_secret(&text, &format!("a log line at {level}"), &hook_secrets);
    }
}
