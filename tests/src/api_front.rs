//! An HTTP front for API Gateway HTTP API handlers, on 127.0.0.1: each request becomes the payload 2.0 event API
//! Gateway would send to the Lambda function, the handler's answer goes back as API Gateway relays it. API
//! Gateway's own answers are kept too: 404 for no route, 413 above its 10 MB body limit or Lambda's 6 MiB
//! invocation limit, 500 when the function fails, 503 after its 30 s integration timeout.
//!
//! A front started with [`ApiFront::start_checked`] also does what API Gateway's IAM authorizer does for the routes
//! that need IAM auth ([`RouteAuth::Iam`]): it checks the SigV4 signature against known test credentials
//! ([`IamAuth`], see [`iam`]) and refuses with API Gateway's 403, or hands the function the verified caller in
//! `requestContext.authorizer.iam`. [`ApiFront::start`] checks nothing, as before.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_lambda_events::encodings::Base64Data;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::StatusCode;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, HeaderValue, USER_AGENT};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::net::TcpListener;

use crate::gitlab_sim::server::Serving;

pub mod iam;
pub use iam::IamAuth;

/// API Gateway's request body limit.
pub const MAX_BODY: usize = 10 * 1024 * 1024;
/// Lambda's limit on a synchronous invocation's payload, the event JSON.
const MAX_EVENT: usize = 6 * 1024 * 1024;
/// API Gateway's limit on an HTTP API integration.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// A route key that matches every request API Gateway has no other route for.
pub const DEFAULT_ROUTE: &str = "$default";

type Handler = Arc<
    dyn Fn(lambda_http::Request) -> BoxFuture<'static, lambda_http::Response<lambda_http::Body>>
        + Send
        + Sync,
>;

/// A function's answer to a payload 2.0 event, as the function returned it (`None`: the invocation failed).
type EventRelay = Arc<dyn Fn(Value) -> BoxFuture<'static, Option<Value>> + Send + Sync>;

/// What answers behind the front: a handler in this process, or a function that takes the event itself (a
/// Lambda process behind its runtime API).
enum Target {
    Handler(Handler),
    Function(EventRelay),
}

/// Whether a route needs a SigV4 signature (`AuthorizationType: AWS_IAM` in the template) or is public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAuth {
    Public,
    Iam,
}

struct Front {
    routes: Vec<(String, RouteAuth)>,
    /// The IAM check of the [`RouteAuth::Iam`] routes (none: the front checks nothing).
    iam: Option<IamAuth>,
    target: Target,
    /// `127.0.0.1:PORT`, where API Gateway has `<api-id>.execute-api.<region>.amazonaws.com`.
    domain: String,
    requests: AtomicU64,
}

/// A running front. Stops with [`ApiFront::stop`], or on drop.
#[derive(Debug)]
pub struct ApiFront {
    addr: SocketAddr,
    serving: Serving,
}

impl ApiFront {
    /// Binds `127.0.0.1:0` and serves `routes` with `handler`. A route key is API Gateway's `METHOD /path` with
    /// `{name}` segments for path parameters (`ANY` for every method), or [`DEFAULT_ROUTE`]; the first match wins.
    pub async fn start<F, Fut>(routes: &[&str], handler: F) -> std::io::Result<ApiFront>
    where
        F: Fn(lambda_http::Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = lambda_http::Response<lambda_http::Body>> + Send + 'static,
    {
        let routes: Vec<(&str, RouteAuth)> =
            routes.iter().map(|r| (*r, RouteAuth::Public)).collect();
        Self::serve(
            &routes,
            None,
            Target::Handler(Arc::new(move |req| Box::pin(handler(req)))),
        )
        .await
    }

    /// Like [`ApiFront::start`], checking SigV4 signatures as API Gateway's IAM authorizer does on the routes
    /// marked [`RouteAuth::Iam`], with `iam`'s credentials and region.
    pub async fn start_checked<F, Fut>(
        routes: &[(&str, RouteAuth)],
        iam: IamAuth,
        handler: F,
    ) -> std::io::Result<ApiFront>
    where
        F: Fn(lambda_http::Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = lambda_http::Response<lambda_http::Body>> + Send + 'static,
    {
        Self::serve(
            routes,
            Some(iam),
            Target::Handler(Arc::new(move |req| Box::pin(handler(req)))),
        )
        .await
    }

    /// Like [`ApiFront::start`], with a function that is given the event JSON and answers with its response JSON
    /// (`None` when the invocation failed), as API Gateway invokes a Lambda function.
    pub async fn start_relay<F, Fut>(routes: &[&str], function: F) -> std::io::Result<ApiFront>
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<Value>> + Send + 'static,
    {
        let routes: Vec<(&str, RouteAuth)> =
            routes.iter().map(|r| (*r, RouteAuth::Public)).collect();
        Self::serve(
            &routes,
            None,
            Target::Function(Arc::new(move |event| Box::pin(function(event)))),
        )
        .await
    }

    async fn serve(
        routes: &[(&str, RouteAuth)],
        iam: Option<IamAuth>,
        target: Target,
    ) -> std::io::Result<ApiFront> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let front = Arc::new(Front {
            routes: routes
                .iter()
                .map(|(r, auth)| ((*r).to_owned(), *auth))
                .collect(),
            iam,
            target,
            domain: addr.to_string(),
            requests: AtomicU64::new(0),
        });
        let router = Router::new().fallback(relay).with_state(front);
        let serving = Serving::spawn(listener, router);
        Ok(ApiFront { addr, serving })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash: route paths start with one).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, closes every connection and waits until the port is released.
    pub async fn stop(self) {
        self.serving.stop().await;
    }
}

/// API Gateway's own error answers: a JSON `message`.
fn gateway_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

async fn relay(
    State(front): State<Arc<Front>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
        Err(_) => return gateway_error(StatusCode::BAD_REQUEST, "Bad Request"),
    };
    let path = parts.uri.path();
    let Some(((route_key, path_parameters), auth)) = front.routes.iter().find_map(|(r, auth)| {
        route_match(r, parts.method.as_str(), path).map(|matched| (matched, *auth))
    }) else {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let authorizer = match (&front.iam, auth) {
        (Some(iam), RouteAuth::Iam) => {
            let incoming = iam::Incoming {
                method: parts.method.as_str(),
                uri: parts.uri.path_and_query().map_or(path, |p| p.as_str()),
                headers: &parts.headers,
                body: &body,
            };
            match iam.verify(&incoming, std::time::SystemTime::now()) {
                Ok(authorizer) => Some(authorizer),
                Err(refusal) => return gateway_error(StatusCode::FORBIDDEN, refusal.message()),
            }
        }
        _ => None,
    };
    let n = front.requests.fetch_add(1, Ordering::Relaxed);
    let mut event = event(
        &front.domain,
        &parts,
        peer,
        &body,
        route_key,
        &path_parameters,
        n,
    );
    if let Some(authorizer) = authorizer {
        event["requestContext"]["authorizer"] = authorizer;
    }
    let text = event.to_string();
    if text.len() > MAX_EVENT {
        return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let handler = match &front.target {
        Target::Handler(handler) => handler.clone(),
        Target::Function(function) => {
            return match tokio::time::timeout(INTEGRATION_TIMEOUT, function(event)).await {
                Ok(Some(reply)) => integration_response(&reply),
                Ok(None) => {
                    gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
                }
                Err(_) => gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
            };
        }
    };
    let request = match lambda_http::request::from_str(&text) {
        Ok(request) => request,
        Err(e) => {
            tracing::error!(error = %e, "api front: lambda_http rejects the event it was given");
            return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    // A task of its own, so a panicking handler is a failed invocation (500), as in Lambda.
    let call = tokio::spawn(handler(request));
    match tokio::time::timeout(INTEGRATION_TIMEOUT, call).await {
        Ok(Ok(reply)) => {
            let (parts, body) = reply.into_parts();
            Response::from_parts(parts, axum::body::Body::from(Bytes::copy_from_slice(&body)))
        }
        Ok(Err(_)) => gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        Err(_) => gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
    }
}

/// A function's payload 2.0 response as API Gateway relays it: `statusCode`, `headers`, `cookies`, `body`
/// (base64 when `isBase64Encoded`); a response without `statusCode` is a JSON body of a 200.
fn integration_response(reply: &Value) -> Response {
    let Some(status) = reply["statusCode"].as_u64() else {
        return (
            StatusCode::OK,
            [(CONTENT_TYPE, "application/json")],
            reply.to_string(),
        )
            .into_response();
    };
    let body = reply["body"].as_str().unwrap_or_default();
    let body = if reply["isBase64Encoded"] == true {
        match serde_json::from_value::<Base64Data>(json!(body)) {
            Ok(data) => data.0,
            Err(_) => return gateway_error(StatusCode::BAD_GATEWAY, "Internal Server Error"),
        }
    } else {
        body.as_bytes().to_vec()
    };
    let mut response = Response::new(axum::body::Body::from(body));
    *response.status_mut() = StatusCode::from_u16(u16::try_from(status).unwrap_or(502))
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = reply["headers"].as_object().into_iter().flatten();
    let cookies = reply["cookies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| ("set-cookie".to_owned(), c.clone()));
    for (name, value) in headers.map(|(k, v)| (k.clone(), v.clone())).chain(cookies) {
        let parsed = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value.as_str().unwrap_or_default()),
        );
        if let (Ok(name), Ok(value)) = parsed {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// Whether route key `route` matches the request; if so, the key and the path parameters.
fn route_match<'r>(
    route: &'r str,
    method: &str,
    path: &str,
) -> Option<(&'r str, BTreeMap<String, String>)> {
    if route == DEFAULT_ROUTE {
        return Some((route, BTreeMap::new()));
    }
    let (want_method, template) = route.split_once(' ')?;
    if want_method != "ANY" && want_method != method {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut actual = path.split('/');
    for want in template.split('/') {
        let got = actual.next()?;
        match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            // A greedy `{name+}` (the last segment of a template) takes the rest of the path.
            Some(greedy) if greedy.ends_with('+') && !got.is_empty() => {
                let rest: Vec<&str> = std::iter::once(got).chain(actual.by_ref()).collect();
                let value = percent_encoding::percent_decode_str(&rest.join("/"))
                    .decode_utf8_lossy()
                    .into_owned();
                params.insert(greedy.trim_end_matches('+').to_owned(), value);
            }
            Some(name) if !got.is_empty() => {
                let value = percent_encoding::percent_decode_str(got).decode_utf8_lossy();
                params.insert(name.to_owned(), value.into_owned());
            }
            Some(_) => return None,
            None if want == got => {}
            None => return None,
        }
    }
    actual.next().is_none().then_some((route, params))
}

/// The HTTP API payload 2.0 event for one request.
fn event(
    domain: &str,
    parts: &axum::http::request::Parts,
    peer: SocketAddr,
    body: &[u8],
    route_key: &str,
    path_parameters: &BTreeMap<String, String>,
    n: u64,
) -> Value {
    // Repeated headers are joined with commas; cookies travel apart; the host is the API's own domain.
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == COOKIE {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()));
            continue;
        }
        if name == HOST {
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    headers.insert(HOST.as_str().to_owned(), domain.to_owned());
    headers.insert("x-forwarded-for".into(), peer.ip().to_string());
    headers.insert("x-forwarded-port".into(), peer.port().to_string());
    headers.insert("x-forwarded-proto".into(), "http".into());
    let raw_query = parts.uri.query().unwrap_or_default();
    let mut query: HashMap<String, String> = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        query
            .entry(key.into_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    let now = OffsetDateTime::now_utc();
    let time = now
        .format(format_description!(
            "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
        ))
        .unwrap_or_default();
    let user_agent = parts
        .headers
        .get(USER_AGENT)
        .map_or(HeaderValue::from_static(""), Clone::clone);
    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(route_key));
    event.insert("rawPath".into(), json!(parts.uri.path()));
    event.insert("rawQueryString".into(), json!(raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), json!(headers));
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), json!(query));
    }
    if !path_parameters.is_empty() {
        event.insert("pathParameters".into(), json!(path_parameters));
    }
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": "123456789012",
            "apiId": "apifront",
            "domainName": domain,
            "domainPrefix": "apifront",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": String::from_utf8_lossy(user_agent.as_bytes()),
            },
            "requestId": format!("apifront-{n:010}"),
            "routeKey": route_key,
            "stage": "$default",
            "time": time,
            "timeEpoch": now.unix_timestamp() * 1000 + i64::from(now.millisecond()),
        }),
    );
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) => {
                event.insert("body".into(), json!(text));
                event.insert("isBase64Encoded".into(), json!(false));
            }
            Err(_) => {
                // The event types' own base64 encoding, rather than another crate for it.
                let mut data = Base64Data::default();
                data.extend_from_slice(body);
                event.insert("body".into(), json!(data));
                event.insert("isBase64Encoded".into(), json!(true));
            }
        }
    } else {
        event.insert("isBase64Encoded".into(), json!(false));
    }
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_like_api_gateway() {
        let route = "POST /connections/{connection_id}/hooks/gitlab";
        let (key, params) = route_match(route, "POST", "/connections/c%201/hooks/gitlab").unwrap();
        assert_eq!(key, route);
        assert_eq!(params["connection_id"], "c 1");
        assert!(route_match(route, "GET", "/connections/c1/hooks/gitlab").is_none());
        assert!(route_match(route, "POST", "/connections//hooks/gitlab").is_none());
        assert!(route_match(route, "POST", "/connections/c1/hooks/gitlab/x").is_none());
        assert!(route_match(route, "POST", "/connections/c1/hooks").is_none());
        assert!(route_match("ANY /a/{b}", "DELETE", "/a/x").is_some());
        assert!(route_match(DEFAULT_ROUTE, "PUT", "/anything").is_some());

        let greedy = "ANY /connections/{connection_id}/{proxy+}";
        let (_, params) =
            route_match(greedy, "GET", "/connections/c1/credentials.info/a%2Fb").unwrap();
        assert_eq!(params["connection_id"], "c1");
        assert_eq!(params["proxy"], "credentials.info/a/b");
        assert!(route_match(greedy, "GET", "/connections/c1/").is_none());
        assert!(route_match(greedy, "GET", "/connections/c1").is_none());
    }
}
