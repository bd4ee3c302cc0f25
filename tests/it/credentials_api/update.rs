//! `credentials.update`: re-verification, rotation in place, and what a failed or racing update leaves.

use super::*;

#[tokio::test]
async fn update_reverifies_and_rotates_the_token_in_place() {
    let env = env().await;
    let created = create(&env, GOOD).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let secret_name = format!("{}{CONN}/{id}", env.prefix);

    // Label only: verified again with the stored token, which stays.
    env.sim.reset_counts();
    let (status, reply) = send(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": id, "label": "Renamed", "secrets": {}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["credential"]["label"], "Renamed");
    assert_eq!(
        reply["credential"]["token_fingerprint"],
        created["token_fingerprint"]
    );
    assert_eq!(reply["credential"]["settings"], created["settings"]);
    assert_eq!(env.sim.request_count(routes::PERSONAL_ACCESS_TOKEN_SELF), 1);

    // Rotation: the same secret gets the new value.
    let (status, reply) = send(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": id, "secrets": {"api_token": ROTATED}, "settings": {"requests_per_minute": 100}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["credential"]["token_fingerprint"],
        SecretString::new(ROTATED).fingerprint()
    );
    assert_eq!(reply["credential"]["label"], "Renamed");
    assert_eq!(reply["credential"]["settings"]["requests_per_minute"], 100);
    assert_eq!(
        token_secrets(&env).await,
        BTreeMap::from([(secret_name, (Some(ROTATED.to_owned()), false))])
    );

    // Clearing with null.
    let (status, reply) = send(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": id, "label": null, "settings": {"requests_per_minute": null}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["credential"]["label"], Value::Null);
    assert_eq!(
        reply["credential"]["settings"]["requests_per_minute"],
        Value::Null
    );
}

#[tokio::test]
async fn a_failed_update_leaves_the_credential_untouched() {
    let env = env().await;
    let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
    let before = stored(&env).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let cases = [
        (
            json!({"id": id, "secrets": {"api_token": NO_SCOPE}}),
            403,
            "invalid_permissions",
        ),
        (
            json!({"id": id, "secrets": {"api_token": UNKNOWN}, "label": "x"}),
            401,
            "invalid_credentials",
        ),
        (
            json!({"id": id, "secrets": {"api_token": NOTHING}}),
            422,
            "no_resources",
        ),
        (
            json!({"id": id, "settings": {"base_url": format!("http://127.0.0.1:{closed}/")}}),
            502,
            "gitlab_unreachable",
        ),
        (
            json!({"id": id, "settings": {"base_url": "ftp://x/"}}),
            400,
            "invalid_settings",
        ),
        (
            json!({"id": id, "secrets": {"api_token": ""}}),
            400,
            "missing_token",
        ),
        (
            json!({"id": id, "expiration_date": "tomorrow"}),
            400,
            "invalid_expiration_date",
        ),
        (json!({"id": id, "label": 7}), 400, "invalid_request"),
    ];
    for (body, expected, code) in cases {
        let (status, reply) = send(&env.api, post("credentials.update", &body)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (expected, Some(code)),
            "{body}: {reply}"
        );
    }
    env.sim.fail_next("*", 100, Fault::ServerError(500));
    let (status, reply) = send(&env.api, rotate(&id, ROTATED)).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (502, Some("gitlab_unreachable"))
    );
    assert_eq!(stored(&env).await, before);
}

#[tokio::test]
async fn a_concurrent_change_is_a_409_and_the_current_token_stays() {
    let env = env().await;
    let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
    // another writer changes the credential between our read and each of our writes
    let change = update_credential_item(&env, &id)
        .update_expression("SET version = version + :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()));
    let another_writer = move || {
        let change = change.clone();
        async move {
            change.send().await.unwrap();
        }
    };
    let racing = faulty_api(
        &env,
        &FaultPlan::with(faults::Fault::run("store.replace", another_writer).every()),
    );
    let reply = handler(&racing, rotate(&id, ROTATED)).await.unwrap();
    assert_eq!(reply.status().as_u16(), 409);
    let body: Value = serde_json::from_slice(reply.body().as_ref()).unwrap();
    assert_eq!(body["error"], "conflict");
    let secrets = secrets(&env).await;
    assert_eq!(secrets.values().next().unwrap().0.as_deref(), Some(GOOD));
    let (_, info) = send(&env.api, get(&format!("credentials.info/{id}"))).await;
    assert_eq!(
        info["credential"]["token_fingerprint"],
        SecretString::new(GOOD).fingerprint()
    );
}
