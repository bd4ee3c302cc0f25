//! The API Gateway front: a request reaches a Lambda HTTP handler as the payload 2.0 event API Gateway builds, and
//! the front answers what API Gateway itself answers (no route, too large, a failing function).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::api_front::{ApiFront, MAX_BODY};

const HOOK_ROUTE: &str = "POST /connections/{connection_id}/hooks/gitlab";

/// Echoes what the handler was given, as JSON, with a status and header of its own.
async fn echo(req: Request) -> Response<Body> {
    let context = match req.request_context() {
        RequestContext::ApiGatewayV2(ctx) => json!({
            "route_key": ctx.route_key,
            "stage": ctx.stage,
            "source_ip": ctx.http.source_ip,
            "method": ctx.http.method.as_str(),
            "request_id": ctx.request_id,
            "authorizer": ctx.authorizer.is_some(),
        }),
        _ => Value::Null,
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("<binary>").to_owned())
    };
    let body = req.body();
    let reply = json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "raw_path": req.raw_http_path(),
        "query": req.uri().query(),
        "connection_id": req.path_parameters().first("connection_id"),
        "event_header": header("x-gitlab-event"),
        "host": header("host"),
        "cookie": header("cookie"),
        "context": context,
        "body_len": body.len(),
        "body_is_text": matches!(body, Body::Text(_)),
        "body_head": String::from_utf8_lossy(&body[..body.len().min(16)]),
        "body_bytes_match": body.iter().enumerate().all(|(i, b)| *b == pattern(i)),
    });
    Response::builder()
        .status(202)
        .header("content-type", "application/json")
        .header("x-handler", "echo")
        .body(Body::from(reply.to_string()))
        .expect("response")
}

/// Body bytes that are not UTF-8 (0xff appears), so a binary body can be checked byte for byte.
fn pattern(i: usize) -> u8 {
    u8::try_from(i % 251).expect("small") ^ 0xaa
}

async fn post(front: &ApiFront, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", front.base_url()))
        .header("X-Gitlab-Event", "Push Hook")
        .header("Cookie", "a=1; b=2")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    (status, resp.json().await.expect("JSON reply"))
}

#[tokio::test]
async fn requests_reach_the_handler_as_api_gateway_events() {
    let front = ApiFront::start(&[HOOK_ROUTE], echo).await.expect("start");

    let resp = reqwest::Client::new()
        .post(format!(
            "{}/connections/conn%201/hooks/gitlab?x=1&x=2",
            front.base_url()
        ))
        .header("X-Gitlab-Event", "Push Hook")
        .header("Cookie", "a=1; b=2")
        .body(r#"{"object_kind":"push"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(resp.headers()["x-handler"], "echo");
    let got: Value = resp.json().await.expect("JSON");
    assert_eq!(got["method"], "POST");
    assert_eq!(got["path"], "/connections/conn%201/hooks/gitlab");
    assert_eq!(got["raw_path"], "/connections/conn%201/hooks/gitlab");
    assert_eq!(got["query"], "x=1&x=2");
    assert_eq!(got["connection_id"], "conn 1");
    assert_eq!(got["event_header"], "Push Hook");
    assert_eq!(got["cookie"], "a=1; b=2");
    assert_eq!(
        got["host"].as_str(),
        front.base_url().strip_prefix("http://")
    );
    assert_eq!(got["context"]["route_key"], HOOK_ROUTE);
    assert_eq!(got["context"]["stage"], "$default");
    assert_eq!(got["context"]["source_ip"], "127.0.0.1");
    assert_eq!(got["context"]["method"], "POST");
    assert_eq!(got["context"]["authorizer"], false);
    assert!(
        got["context"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert_eq!(got["body_is_text"], true);
    assert_eq!(got["body_head"], r#"{"object_kind":""#);

    // A body that is not UTF-8 travels base64-encoded and arrives byte for byte.
    let binary: Vec<u8> = (0..1000).map(pattern).collect();
    let (status, got) = post(&front, "/connections/c1/hooks/gitlab", binary).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(got["body_is_text"], false);
    assert_eq!(got["body_len"], 1000);
    assert_eq!(got["body_bytes_match"], true);

    // No route: API Gateway's own 404, the handler is not called.
    for path in ["/connections/c1/hooks", "/connections//hooks/gitlab", "/"] {
        let (status, got) = post(&front, path, b"{}".to_vec()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(got, json!({"message": "Not Found"}), "{path}");
    }
    front.stop().await;
}

#[tokio::test]
async fn bodies_up_to_api_gateways_limit_pass_and_larger_ones_get_413() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let front = ApiFront::start(&["$default"], move |req| {
        counted.fetch_add(1, Ordering::SeqCst);
        echo(req)
    })
    .await
    .expect("start");

    let five_mb = vec![b'x'; 5 * 1024 * 1024];
    let (status, got) = post(&front, "/anything", five_mb).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(got["body_len"], 5 * 1024 * 1024);
    assert_eq!(got["body_head"], "x".repeat(16));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Over 10 MB, with its length declared or streamed without one: 413, and the handler is not called.
    let (status, got) = post(&front, "/anything", vec![b'x'; MAX_BODY + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(got, json!({"message": "Request Entity Too Large"}));
    let chunks =
        futures::stream::iter((0..11).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1024 * 1024])));
    let resp = reqwest::Client::new()
        .post(format!("{}/anything", front.base_url()))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Under 10 MB but over Lambda's 6 MiB invocation payload once in the event: 413 as well.
    let (status, _) = post(&front, "/anything", vec![b'x'; 7 * 1024 * 1024]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    front.stop().await;
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_and_stop_releases_the_port() {
    let front = ApiFront::start(&["ANY /boom"], |_req| async {
        panic!("handler failed");
    })
    .await
    .expect("start");
    let (status, got) = post(&front, "/boom", Vec::new()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(got, json!({"message": "Internal Server Error"}));

    let addr = front
        .base_url()
        .trim_start_matches("http://")
        .parse::<std::net::SocketAddr>()
        .expect("addr");
    front.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
