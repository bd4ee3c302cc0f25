//! `credentials.create`: verification first, the token in its own secret, the metadata in the table, and what a
//! failure leaves.

use super::*;

#[tokio::test]
async fn create_verifies_then_keeps_the_token_in_its_own_secret_and_metadata_in_the_table() {
    let env = env().await;
    let mut body = create_body(&env, GOOD);
    body["expiration_date"] = "2099-12-31".into();
    body["settings"]["requests_per_minute"] = 600.into();
    let (status, reply) = send(&env.api, post("credentials.create", &body)).await;
    assert_eq!(status, 201, "{reply}");
    let credential = &reply["credential"];
    let id = credential["id"].as_str().unwrap();
    assert!(id.starts_with("cred_"));
    assert_eq!(credential["type"], "gitlab");
    assert_eq!(credential["label"], "Production");
    assert_eq!(credential["status"], "active");
    assert_eq!(credential["settings"]["base_url"], env.sim.base_url());
    assert_eq!(credential["settings"]["requests_per_minute"], 600);
    assert_eq!(credential["expiration_date"], "2099-12-31");
    assert_eq!(credential["deleted_at"], Value::Null);
    assert_eq!(credential["last_sync"], Value::Null);
    assert!(credential["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        credential["token_fingerprint"],
        SecretString::new(GOOD).fingerprint()
    );

    // Bounded verification: the token, then one page of groups (found one, so no projects probe).
    assert_eq!(env.sim.request_count(routes::PERSONAL_ACCESS_TOKEN_SELF), 1);
    assert_eq!(env.sim.request_count(routes::GROUPS), 1);
    assert_eq!(env.sim.request_count(routes::PROJECTS), 0);

    let secret_name = format!("{}{CONN}/{id}", env.prefix);
    let secrets = token_secrets(&env).await;
    assert_eq!(
        secrets,
        BTreeMap::from([(secret_name.clone(), (Some(GOOD.to_owned()), false))])
    );
    let tags = secret_tags(&env, &secret_name).await;
    assert_eq!(tags["connection_id"], CONN);
    assert_eq!(tags["credential_id"], id);

    let items = table_items(&env).await;
    assert_eq!(items.len(), 2, "the connection and the credential");
    let record = items
        .iter()
        .find(|i| i["sk"] == AttributeValue::S(format!("CRED#{id}")))
        .expect("credential item");
    assert_eq!(record["pk"], AttributeValue::S(format!("CONN#{CONN}")));
    assert_eq!(record["secret_name"], AttributeValue::S(secret_name));
    assert!(!format!("{items:?}").contains(GOOD));
    assert!(
        items
            .iter()
            .any(|i| i["sk"] == AttributeValue::S("CONNECTION".into()))
    );
}

#[tokio::test]
async fn create_accepts_form_bodies_and_tokens_that_reach_only_projects() {
    let env = env().await;
    let form = format!(
        "label=Solo&settings%5Bbase_url%5D={}&secrets%5Bapi_token%5D={PROJECTS_ONLY}",
        url::form_urlencoded::byte_serialize(env.sim.base_url().as_bytes()).collect::<String>()
    );
    let req = request(
        "POST",
        &format!("/connections/{CONN}/credentials.create"),
        Some("application/x-www-form-urlencoded"),
        Some(form),
    );
    let (status, reply) = send(&env.api, req).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["credential"]["label"], "Solo");
    // No group: one page of member projects was asked for too, and no more.
    assert_eq!(env.sim.request_count(routes::GROUPS), 1);
    assert_eq!(env.sim.request_count(routes::PROJECTS), 1);
    assert_eq!(env.sim.total_requests(), 3);
}

#[tokio::test]
async fn create_uses_the_default_base_url_when_settings_name_none() {
    let env = env().await;
    let (status, reply) = send(
        &env.api,
        post(
            "credentials.create",
            &json!({"secrets": {"api_token": GOOD}}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(
        reply["credential"]["settings"]["base_url"],
        env.sim.base_url()
    );
    assert_eq!(reply["credential"]["label"], Value::Null);
}

#[tokio::test]
async fn a_token_that_fails_verification_stores_nothing() {
    let env = env().await;
    let cases = [
        (UNKNOWN, 401, "invalid_credentials"),
        (EXPIRED, 401, "invalid_credentials"),
        (REVOKED, 401, "invalid_credentials"),
        (NO_SCOPE, 403, "invalid_permissions"),
        (NOTHING, 422, "no_resources"),
        (GUEST, 422, "no_resources"),
    ];
    for (token, expected_status, code) in cases {
        let (status, reply) = send(&env.api, create_request(&env, token)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (expected_status, Some(code)),
            "{token}: {reply}"
        );
    }
    assert_eq!(stored(&env).await, (Vec::new(), BTreeMap::new()));
    // Bounded: at most the token, one page of groups and one page of projects per attempt.
    assert!(env.sim.total_requests() <= 3 * cases.len() as u64);
}

#[tokio::test]
async fn a_reporter_token_is_accepted_because_reporters_read_code() {
    let env = env().await;
    let credential = create(&env, REPORTER).await;
    assert_eq!(credential["status"], "active");
    assert_eq!(
        env.sim.request_count(routes::GROUPS),
        1,
        "one page of groups at min_access_level=20 found the group"
    );
}

#[tokio::test]
async fn include_and_exclude_patterns_are_checked_kept_and_cleared() {
    let env = env().await;
    for (settings, named) in [
        (json!({"include": ["acme/[platform"]}), "acme/[platform"),
        (json!({"exclude": ["ok/*", "acme/a**"]}), "acme/a**"),
        (json!({"include": ["/acme"]}), "/acme"),
        (json!({"include": "acme/**\nbad {"}), "bad {"),
        (json!({"exclude": [7]}), "exclude must be a list"),
        (json!({"include": {"a": 1}}), "include must be a list"),
    ] {
        let mut body = create_body(&env, GOOD);
        body["settings"]
            .as_object_mut()
            .unwrap()
            .extend(settings.as_object().unwrap().clone());
        let (status, reply) = send(&env.api, post("credentials.create", &body)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (400, Some("invalid_settings")),
            "{settings}: {reply}"
        );
        assert!(
            reply["message"].as_str().unwrap().contains(named),
            "{reply}"
        );
    }
    assert_eq!(stored(&env).await, (Vec::new(), BTreeMap::new()));
    assert_eq!(
        env.sim.total_requests(),
        0,
        "refused before GitLab is asked"
    );

    let mut body = create_body(&env, GOOD);
    body["settings"]["include"] = json!(["acme/**", "partners/sdk"]);
    body["settings"]["exclude"] = json!(["acme/*/sandbox"]);
    let (status, reply) = send(&env.api, post("credentials.create", &body)).await;
    assert_eq!(status, 201, "{reply}");
    let id = reply["credential"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply["credential"]["settings"]["include"],
        json!(["acme/**", "partners/sdk"])
    );
    assert_eq!(
        reply["credential"]["settings"]["exclude"],
        json!(["acme/*/sandbox"])
    );
    // Omitted: kept; a bad one on update: refused, nothing changes; null: cleared.
    let (_, kept) = send(
        &env.api,
        post("credentials.update", &json!({"id": id, "label": "x"})),
    )
    .await;
    assert_eq!(
        kept["credential"]["settings"]["include"],
        json!(["acme/**", "partners/sdk"])
    );
    refused(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": id, "settings": {"exclude": ["{a,"]}}),
        ),
        400,
        "invalid_settings",
    )
    .await;
    assert_eq!(
        info(&env, &id).await["settings"]["exclude"],
        json!(["acme/*/sandbox"])
    );
    let (_, cleared) = send(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": id, "settings": {"include": null, "exclude": []}}),
        ),
    )
    .await;
    assert_eq!(cleared["credential"]["settings"]["include"], json!([]));
    assert_eq!(cleared["credential"]["settings"]["exclude"], json!([]));
}

#[tokio::test]
async fn a_connection_is_one_gitlab_instance() {
    // A second GitLab with the same project ids: its projects would share this connection's keys.
    let env = env().await;
    let other = Simulator::start(world()).await.unwrap();
    let first = create(&env, GOOD).await;
    let mut body = create_body(&env, GOOD);
    body["settings"]["base_url"] = json!(other.base_url());
    let reply = refused(
        &env.api,
        post("credentials.create", &body),
        409,
        "instance_mismatch",
    )
    .await;
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains(&env.sim.base_url()),
        "names the connection's instance: {reply}"
    );
    let id = first["id"].as_str().unwrap();
    refused(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": id, "settings": {"base_url": other.base_url()}}),
        ),
        409,
        "instance_mismatch",
    )
    .await;
    assert_eq!(
        info(&env, id).await["settings"]["base_url"],
        env.sim.base_url()
    );
    // Only the first credential and its secret exist; the same instance in another form is the same instance.
    assert_eq!(list_credentials(&env, "").await.len(), 1);
    assert_eq!(token_secrets(&env).await.len(), 1);
    let mut same = create_body(&env, GOOD);
    same["settings"]["base_url"] = json!(format!("{}api/v4", env.sim.base_url()));
    let (status, reply) = send(&env.api, post("credentials.create", &same)).await;
    assert_eq!(status, 201, "{reply}");
    // Another connection may use the other instance.
    let elsewhere = request(
        "POST",
        "/connections/acme-other/credentials.create",
        Some("application/json"),
        Some(body.to_string()),
    );
    let (status, reply) = send(&env.api, elsewhere).await;
    assert_eq!(status, 201, "{reply}");
    other.shutdown().await;
}

#[tokio::test]
async fn a_gitlab_on_a_private_network_the_operator_allows_can_be_connected() {
    let env = env().await;
    let alias = LoopbackAlias::hold(PRIVATE_TEST_ADDRESS).unwrap();
    let private = TlsFront::start_on(PRIVATE_TEST_ADDRESS.into(), env.sim.addr(), None)
        .await
        .unwrap();
    let mut body = create_body(&env, GOOD);
    body["settings"]["base_url"] = private.base_url.as_str().into();
    body["settings"]["ca_bundle"] = private.ca_pem.as_str().into();
    let deployed = |list: &str| {
        let policy = match PrivateNetworks::parse(list).unwrap() {
            Some(networks) => NetworkPolicy::PublicAnd(networks),
            None => NetworkPolicy::PublicOnly,
        };
        api_for(
            &env.aws,
            env.aws.table("StateTable"),
            &env.prefix,
            "https://gitlab.com/",
            policy,
        )
    };

    for list in ["", "10.20.0.0/16"] {
        let (status, reply) = send(&deployed(list), post("credentials.create", &body)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (400, Some("invalid_settings")),
            "{list:?}: {reply}"
        );
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(message.contains("GitLabPrivateNetworks"), "{message}");
    }
    assert_eq!(
        env.sim.total_requests(),
        0,
        "a refused address is never asked"
    );

    let (status, reply) = send(
        &deployed("10.20.0.0/16, 198.18.0.0/15"),
        post("credentials.create", &body),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["credential"]["status"], "active", "{reply}");

    // The metadata address stays refused, with its own reason, whatever the list covers.
    body["settings"]["base_url"] = "https://169.254.169.254/".into();
    let reply = refused(
        &deployed("0.0.0.0/0"),
        post("credentials.create", &body),
        400,
        "invalid_settings",
    )
    .await;
    let message = reply["message"].as_str().unwrap_or_default();
    assert!(message.contains("never allowed"), "{message}");
    drop(alias);
    env.sim.shutdown().await;
}

#[tokio::test]
async fn settings_the_network_guard_refuses_are_invalid_settings() {
    let env = env().await;
    let public = api_for(
        &env.aws,
        env.aws.table("StateTable"),
        &env.prefix,
        "https://gitlab.com/",
        NetworkPolicy::PublicOnly,
    );
    for base_url in [
        "https://127.0.0.1/",
        "https://169.254.169.254/latest/",
        "https://[::1]:8443/",
        "https://localhost/",
        "http://gitlab.example.com/",
        "ftp://gitlab.example.com/",
        "https://user:pass@gitlab.example.com/",
        "https://gitlab.example.com/?x=1",
        "not a url",
        &env.sim.base_url(),
    ] {
        let mut body = create_body(&env, GOOD);
        body["settings"]["base_url"] = base_url.into();
        let (status, reply) = send(&public, post("credentials.create", &body)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (400, Some("invalid_settings")),
            "{base_url}: {reply}"
        );
    }
    for (setting, value) in [
        // A CA bundle that is not a certificate.
        (
            "ca_bundle",
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n".to_owned(),
        ),
        // Something that is not a GitLab API answers 404 on personal_access_tokens/self.
        ("base_url", format!("{}not-gitlab/", env.sim.base_url())),
    ] {
        let mut body = create_body(&env, GOOD);
        body["settings"][setting] = value.into();
        let create = post("credentials.create", &body);
        refused(&env.api, create, 400, "invalid_settings").await;
    }
    assert_eq!(env.sim.request_count(routes::GROUPS), 0);
    assert_eq!(stored(&env).await, (Vec::new(), BTreeMap::new()));
}

#[tokio::test]
async fn a_gitlab_that_is_down_answers_5xx_or_fails_tls_is_unreachable_not_bad_credentials() {
    let env = env().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let unreachable = async |body: &Value| {
        let create = post("credentials.create", body);
        refused(&env.api, create, 502, "gitlab_unreachable").await;
    };
    let mut down = create_body(&env, GOOD);
    down["settings"]["base_url"] = format!("http://127.0.0.1:{closed}/").into();
    unreachable(&down).await;

    // A self-managed GitLab behind a private CA: refused without the bundle, verified with it.
    let addr = url::Url::parse(&env.sim.base_url())
        .unwrap()
        .socket_addrs(|| None)
        .unwrap()[0];
    let tls = TlsFront::start(addr).await.unwrap();
    let mut untrusted = create_body(&env, GOOD);
    untrusted["settings"]["base_url"] = tls.base_url.clone().into();
    unreachable(&untrusted).await;
    assert_eq!(stored(&env).await, (Vec::new(), BTreeMap::new()));

    untrusted["settings"]["ca_bundle"] = tls.ca_pem.clone().into();
    let (status, reply) = send(&env.api, post("credentials.create", &untrusted)).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(
        reply["credential"]["settings"]["ca_bundle"]["certificates"],
        1
    );
    assert!(!reply.to_string().contains("BEGIN CERTIFICATE"));

    // A rate limit longer than a caller can wait is reported as GitLab being unavailable, at once.
    let before = stored(&env).await;
    env.sim.fail_next(
        routes::PERSONAL_ACCESS_TOKEN_SELF,
        1,
        Fault::RateLimited {
            retry_after_secs: 600,
        },
    );
    let started = std::time::Instant::now();
    unreachable(&create_body(&env, GOOD)).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(stored(&env).await, before);

    // GitLab answering 5xx: a bounded number of attempts, then 502, and nothing more stored.
    let before = stored(&env).await;
    env.sim.reset_counts();
    env.sim.fail_next("*", 100, Fault::ServerError(503));
    unreachable(&create_body(&env, GOOD)).await;
    assert_eq!(
        env.sim.request_count(routes::PERSONAL_ACCESS_TOKEN_SELF),
        3,
        "three attempts, then the verdict"
    );
    assert_eq!(stored(&env).await, before);
}

/// A store whose writes fail, with an error detail that must not reach a reply: no secret may stay without its
/// record.
fn failing_writes() -> Arc<FaultPlan> {
    const DETAIL: &str = "ProvisionedThroughputExceededException (injected)";
    let plan = FaultPlan::new();
    plan.add(faults::Fault::fail("store.insert").every().detail(DETAIL));
    plan.add(faults::Fault::fail("store.replace").every().detail(DETAIL));
    plan
}

#[tokio::test]
async fn a_failed_table_write_leaves_no_secret_and_answers_503_without_internals() {
    let env = env().await;
    let failing = faulty_api(&env, &failing_writes());
    let reply = handler(&failing, create_request(&env, GOOD)).await.unwrap();
    assert_eq!(reply.status().as_u16(), 503);
    let body: Value = serde_json::from_slice(reply.body().as_ref()).unwrap();
    assert_eq!(body["error"], "service_unavailable");
    assert!(!body.to_string().contains("Exception"), "{body}");
    assert!(secrets(&env).await.is_empty(), "the secret was deleted");
    assert!(
        table_items(&env)
            .await
            .iter()
            .all(|i| i["sk"] == AttributeValue::S("CONNECTION".into())),
        "no credential record"
    );

    // An update whose write fails leaves the old token in place.
    let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
    let before = stored(&env).await;
    let reply = handler(&failing, rotate(&id, ROTATED)).await.unwrap();
    assert_eq!(reply.status().as_u16(), 503);
    assert_eq!(stored(&env).await, before);
}

#[tokio::test]
async fn our_own_aws_failures_are_503() {
    let env = env().await;
    let broken = api_for(
        &env.aws,
        "no-such-table",
        &env.prefix,
        &env.sim.base_url(),
        NetworkPolicy::AllowPrivate,
    );
    let reply = refused(&broken, get("credentials.list"), 503, "service_unavailable").await;
    assert!(!reply.to_string().contains("no-such-table"));
    let (status, _) = send(&broken, create_request(&env, GOOD)).await;
    assert_eq!(status, 503);
    assert!(secrets(&env).await.is_empty());
}
