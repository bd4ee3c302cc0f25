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
    let cases: Vec<(Request, u16, &str)> = vec![
        (
            request("GET", "/connections/acme-prod/credentials.nope", None, None),
            404,
            "unknown_route",
        ),
        (
            request("GET", "/connections/acme-prod", None, None),
            404,
            "unknown_route",
        ),
        (request("GET", "/", None, None), 404, "unknown_route"),
        (
            request(
                "GET",
                "/connections/acme-prod/credentials.list/extra",
                None,
                None,
            ),
            404,
            "unknown_route",
        ),
        (
            request(
                "GET",
                "/connections/acme-prod/credentials.create",
                None,
                None,
            ),
            405,
            "method_not_allowed",
        ),
        (
            request(
                "POST",
                "/connections/acme-prod/credentials.list",
                None,
                None,
            ),
            405,
            "method_not_allowed",
        ),
        (
            request(
                "DELETE",
                "/connections/acme-prod/credentials.delete",
                None,
                None,
            ),
            405,
            "method_not_allowed",
        ),
        (
            request(
                "POST",
                "/connections/acme-prod/credentials.create",
                Some("application/json"),
                Some("{\"label\":".into()),
            ),
            400,
            "invalid_json",
        ),
        (
            request(
                "POST",
                "/connections/acme-prod/credentials.create",
                Some("application/json"),
                Some("[]".into()),
            ),
            400,
            "invalid_json",
        ),
        (
            request(
                "POST",
                "/connections/acme-prod/credentials.create",
                Some("text/plain"),
                Some("hi".into()),
            ),
            415,
            "unsupported_media_type",
        ),
        (
            request(
                "POST",
                "/connections/acme-prod/credentials.create",
                Some("application/json"),
                Some(format!("{{\"label\":\"{}\"}}", "x".repeat(70_000))),
            ),
            413,
            "body_too_large",
        ),
        (
            request(
                "POST",
                "/connections/acme-prod/credentials.create",
                Some("application/json"),
                None,
            ),
            400,
            "missing_token",
        ),
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
