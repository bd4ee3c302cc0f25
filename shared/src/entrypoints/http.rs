//! What the two API Gateway entry points (the credentials API and the push hook) read and answer alike.

use lambda_http::http::{HeaderValue, StatusCode, header};
use std::fmt::Display;

use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};

/// The request's path as API Gateway received it (the raw path, else the URI's path).
pub(crate) fn request_path(req: &Request) -> &str {
    if req.raw_http_path().is_empty() {
        req.uri().path()
    } else {
        req.raw_http_path()
    }
}

/// The path's segments from `connections` on: a leading stage segment (`/<stage>/connections/...`) is dropped.
pub(crate) fn connection_segments(path: &str) -> Option<Vec<&str>> {
    let mut segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    if segments.get(1) == Some(&"connections") && segments.first() != Some(&"connections") {
        segments.remove(0);
    }
    Some(segments)
}

/// A JSON reply with `status` (a status that is no HTTP status becomes 503).
pub(crate) fn json_reply(status: u16, body: &Value) -> Response<Body> {
    let mut reply = Response::new(Body::Text(body.to_string()));
    *reply.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply
}

/// The body of a refusal: `{"ok":false,"error":<code>,"message":<sentence>}`, the sentence ended with a full stop.
pub(crate) fn error_body(code: &str, message: impl Display) -> Value {
    let mut message = message.to_string();
    if !message.ends_with('.') {
        message.push('.');
    }
    json!({"ok": false, "error": code, "message": message})
}

/// A 405 with the `Allow` header naming the one method its route takes.
pub(crate) fn with_allow(mut reply: Response<Body>, method: &'static str) -> Response<Body> {
    reply
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(method));
    reply
}
