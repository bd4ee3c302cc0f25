//! The connection's push hook secret: shown once at the first create, rotated on request, retired with the last
//! credential.

use super::*;

/// The URL the sample events' request context gives the push hook of [`CONN`].
pub(super) const HOOK_URL: &str =
    "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/connections/acme-prod/hooks/gitlab";

/// The connection's push hook secret in Secrets Manager: its current value unless scheduled for deletion, and
/// whether it is (`None`: there is none).
pub(super) async fn hook_secret(env: &Env) -> Option<(Option<String>, bool)> {
    let name = format!("{}{CONN}/{HOOK_SECRET_SUFFIX}", env.prefix);
    secrets(env).await.remove(&name)
}

fn rotate_hook() -> Request {
    post("hooks.rotate", &json!({}))
}

#[tokio::test]
async fn the_first_create_shows_the_push_hook_secret_once_and_rotation_replaces_it() {
    let env = env().await;
    // given a new connection, when its first credential is created, then the reply shows the hook's URL and
    // secret, which is the current value in Secrets Manager, tagged with the connection and no credential
    let reply = created(&env, GOOD).await;
    assert_eq!(reply["push_hook"]["url"], HOOK_URL);
    let first = reply["push_hook"]["secret"].as_str().unwrap().to_owned();
    assert_eq!(first.len(), 64);
    assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(hook_secret(&env).await, Some((Some(first.clone()), false)));
    let tags = secret_tags(&env, &format!("{}{CONN}/{HOOK_SECRET_SUFFIX}", env.prefix)).await;
    assert_eq!(
        tags,
        BTreeMap::from([
            ("connection_id".to_owned(), CONN.to_owned()),
            ("purpose".to_owned(), HOOK_SECRET_SUFFIX.to_owned())
        ])
    );

    // when a second credential is created, then the reply names the URL only and the secret stays
    let reply = created(&env, ROTATED).await;
    assert_eq!(reply["push_hook"], json!({"url": HOOK_URL}));
    assert_eq!(hook_secret(&env).await, Some((Some(first.clone()), false)));

    // when the secret is rotated, then the reply shows a new value, which is the current one
    let (status, reply) = send(&env.api, rotate_hook()).await;
    assert_eq!(status, 200, "{reply}");
    let rotated = reply["push_hook"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(rotated, first);
    assert_eq!(
        reply,
        json!({"ok": true, "push_hook": {"url": HOOK_URL, "secret": rotated}})
    );
    assert_eq!(
        hook_secret(&env).await,
        Some((Some(rotated.clone()), false))
    );
    let read = SecretsManagerVault::new(env.aws.secrets.clone())
        .read(&format!("{}{CONN}/{HOOK_SECRET_SUFFIX}", env.prefix), None)
        .await
        .unwrap();
    assert_eq!(read.expose(), rotated, "what the hook function reads");

    // the URL names a stage other than $default, and is the path alone without a domain (local runs)
    use lambda_http::request::RequestContext;
    let at = |stage: &str, domain: Option<&str>| {
        let req = request(
            "POST",
            &format!("/{stage}/connections/{CONN}/hooks.rotate"),
            None,
            None,
        );
        let RequestContext::ApiGatewayV2(mut context) = req.request_context() else {
            panic!("the samples are API Gateway v2 events");
        };
        context.stage = Some(stage.to_owned());
        context.domain_name = domain.map(str::to_owned);
        req.with_request_context(RequestContext::ApiGatewayV2(context))
    };
    let domain = "hooks.example.com";
    let (status, reply) = send(&env.api, at("prod", Some(domain))).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["push_hook"]["url"],
        format!("https://{domain}/prod/connections/{CONN}/hooks/gitlab")
    );
    let (_, reply) = send(&env.api, at("prod", None)).await;
    assert_eq!(
        reply["push_hook"]["url"],
        format!("/connections/{CONN}/hooks/gitlab")
    );
}

#[tokio::test]
async fn deleting_the_last_credential_retires_the_push_hook_secret_and_a_create_renews_it() {
    let env = env().await;
    let reply = created(&env, GOOD).await;
    let one = reply["credential"]["id"].as_str().unwrap().to_owned();
    let first = reply["push_hook"]["secret"].as_str().unwrap().to_owned();
    let two = create(&env, ROTATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // when one of two credentials is deleted, then the secret stays
    let (status, _) = send(&env.api, post("credentials.delete", &json!({"id": one}))).await;
    assert_eq!(status, 200);
    assert_eq!(hook_secret(&env).await, Some((Some(first.clone()), false)));

    // when the last one is deleted, then it is scheduled for deletion and there is nothing to rotate
    let (status, _) = send(&env.api, post("credentials.delete", &json!({"id": two}))).await;
    assert_eq!(status, 200);
    assert_eq!(hook_secret(&env).await, Some((None, true)));
    refused(&env.api, rotate_hook(), 404, "connection_not_found").await;
    assert_eq!(hook_secret(&env).await, Some((None, true)));

    // when a credential is created again, then the secret is restored with a new value, shown in the reply
    let reply = created(&env, GOOD).await;
    let renewed = reply["push_hook"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(
        renewed, first,
        "a value that leaked before does not come back"
    );
    assert_eq!(hook_secret(&env).await, Some((Some(renewed), false)));
}

#[tokio::test]
async fn rotation_needs_a_connection_with_a_credential_and_makes_a_missing_secret() {
    let env = env().await;
    // a connection that never had a credential: 404, and no secret is made
    refused(&env.api, rotate_hook(), 404, "connection_not_found").await;
    refused(&env.api, get("hooks.rotate"), 405, "method_not_allowed").await;
    assert_eq!(hook_secret(&env).await, None);

    // a credential from before push hooks (no hook secret): rotation makes it
    create(&env, GOOD).await;
    let name = format!("{}{CONN}/{HOOK_SECRET_SUFFIX}", env.prefix);
    SecretsManagerVault::new(env.aws.secrets.clone())
        .delete_now(&name)
        .await
        .unwrap();
    assert_eq!(hook_secret(&env).await, None);
    let (status, reply) = send(&env.api, rotate_hook()).await;
    assert_eq!(status, 200, "{reply}");
    let made = reply["push_hook"]["secret"].as_str().unwrap().to_owned();
    assert_eq!(hook_secret(&env).await, Some((Some(made), false)));
}

#[tokio::test]
async fn a_push_hook_secret_the_vault_cannot_make_does_not_fail_the_create() {
    let logs = captured_logs();
    let env = env().await;
    // Secrets Manager, except that it cannot make push hook secrets
    let no_hook_secrets = faults::Fault::fail("vault.create")
        .every()
        .about(|name| name.ends_with(HOOK_SECRET_SUFFIX));
    let api = faulty_api(&env, &FaultPlan::with(no_hook_secrets));
    // when the hook secret cannot be made, then the create succeeds and its reply shows no secret
    let reply = handler(&api, create_request(&env, GOOD)).await.unwrap();
    assert_eq!(reply.status().as_u16(), 201);
    let body: Value = serde_json::from_slice(reply.body().as_ref()).unwrap();
    assert_eq!(body["push_hook"], json!({"url": HOOK_URL}));
    assert_eq!(body["credential"]["status"], "active");
    assert_eq!(token_secrets(&env).await.len(), 1);
    assert_eq!(hook_secret(&env).await, None);
    // and the failure is logged as a warning, with the connection
    let warned = logs.json.text().lines().any(|line| {
        serde_json::from_str::<Value>(line).is_ok_and(|l| {
            l["level"] == "WARN"
                && l["connection_id"] == CONN
                && l["message"] == "the push hook secret could not be made; hooks.rotate makes it"
                && l["error"].as_str().is_some_and(|e| e.contains("injected"))
        })
    });
    assert!(warned, "the failure is logged");

    // when the vault works again, then a rotation makes the secret
    let (status, reply) = send(&env.api, rotate_hook()).await;
    assert_eq!(status, 200, "{reply}");
    let made = reply["push_hook"]["secret"].as_str().unwrap().to_owned();
    assert_eq!(hook_secret(&env).await, Some((Some(made), false)));
}
