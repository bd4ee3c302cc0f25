//! Routing, IAM authorisation, methods, sizes and encodings: every refusal is a JSON error.

use super::*;

#[tokio::test]
async fn requests_without_iam_authorisation_are_refused_unless_the_local_run_allows_them() {
    let mut env = env().await;
    let mut e = event("list");
    e["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let (status, reply) = send(&env.api, into_request(&e)).await;
    assert_eq!((status, reply["error"].as_str()), (401, Some("not_authed")));
    let mut jwt = event("list");
    jwt["requestContext"]["authorizer"] = json!({"jwt": {"claims": {"sub": "x"}, "scopes": null}});
    let (status, _) = send(&env.api, into_request(&jwt)).await;
    assert_eq!(status, 401);

    env.api.allow_unauthenticated = true;
    refused(&env.api, into_request(&e), 404, "connection_not_found").await;
}

#[tokio::test]
async fn routes_methods_sizes_and_encodings_get_json_errors() {
    let env = env().await;
    let bare = |method: &str, path: &str| request(method, path, None, None);
    let at = |method: &str, route: &str| bare(method, &format!("/connections/acme-prod/{route}"));
    let create = |content_type: &str, body: Option<String>| {
        let path = "/connections/acme-prod/credentials.create";
        request("POST", path, Some(content_type), body)
    };
    let json = "application/json";
    let cases: Vec<(Request, u16, &str)> = vec![
        (at("GET", "credentials.nope"), 404, "unknown_route"),
        (bare("GET", "/connections/acme-prod"), 404, "unknown_route"),
        (bare("GET", "/"), 404, "unknown_route"),
        (at("GET", "credentials.list/extra"), 404, "unknown_route"),
        (at("GET", "credentials.create"), 405, "method_not_allowed"),
        (at("POST", "credentials.list"), 405, "method_not_allowed"),
        (
            at("DELETE", "credentials.delete"),
            405,
            "method_not_allowed",
        ),
        (
            create(json, Some("{\"label\":".into())),
            400,
            "invalid_json",
        ),
        (create(json, Some("[]".into())), 400, "invalid_json"),
        (
            create("text/plain", Some("hi".into())),
            415,
            "unsupported_media_type",
        ),
        (
            create(
                json,
                Some(format!("{{\"label\":\"{}\"}}", "x".repeat(70_000))),
            ),
            413,
            "body_too_large",
        ),
        (create(json, None), 400, "missing_token"),
    ];
    for (req, expected, code) in cases {
        let method = req.method().clone();
        let path = req.raw_http_path().to_owned();
        let reply = handler(&env.api, req).await.unwrap();
        let status = reply.status().as_u16();
        let allow = reply.headers().get("allow").cloned();
        let body: Value = serde_json::from_slice(reply.body().as_ref()).unwrap();
        assert_eq!(
            (status, body["error"].as_str()),
            (expected, Some(code)),
            "{method} {path}: {body}"
        );
        assert_eq!(body["ok"], false);
        if status == 405 {
            assert!(allow.is_some(), "405 names the allowed method");
        }
    }
    assert_eq!(stored(&env).await, (Vec::new(), BTreeMap::new()));
}
