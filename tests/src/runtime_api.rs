//! The Lambda Runtime API (version 2018-06-01) on 127.0.0.1, as Lambda serves it to one execution environment:
//! the routes a runtime client uses (`lambda_runtime`'s `requests.rs`, and AWS's "Using the Lambda runtime API
//! for custom runtimes"):
//! - `GET  /2018-06-01/runtime/invocation/next`: long-polls until there is an invocation; the event is the body,
//!   with `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn`
//!   and `Lambda-Runtime-Trace-Id`;
//! - `POST /2018-06-01/runtime/invocation/{id}/response`: the function's answer (202);
//! - `POST /2018-06-01/runtime/invocation/{id}/error`: an error of that invocation (202), a JSON
//!   `{"errorType","errorMessage"}` with `Lambda-Runtime-Function-Error-Type`;
//! - `POST /2018-06-01/runtime/init/error`: the function could not start (202).
//!
//! An unknown request id is a 400, a response above Lambda's 6 MB payload limit a 413. One invocation at a time,
//! as Lambda gives an execution environment. [`crate::lambda_process`] runs a function process against it.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::gitlab_sim::server::Serving;

/// Lambda's limit on a synchronous invocation's response.
const MAX_RESPONSE: usize = 6 * 1024 * 1024;

/// What the function sent to the API, in order.
#[derive(Debug)]
pub enum Report {
    /// It asked for the next invocation (its first ask ends the init phase).
    Next,
    Response {
        request_id: String,
        body: Bytes,
    },
    Error {
        request_id: String,
        error: Diagnostic,
    },
    InitError(Diagnostic),
}

/// An error as a runtime reports it: the `Lambda-Runtime-Function-Error-Type` header and the JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub error_type: String,
    pub error_message: String,
}

impl Diagnostic {
    fn read(headers: &HeaderMap, body: &[u8]) -> Diagnostic {
        let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let header = headers
            .get("lambda-runtime-function-error-type")
            .and_then(|v| v.to_str().ok());
        Diagnostic {
            error_type: parsed["errorType"]
                .as_str()
                .or(header)
                .unwrap_or("(no errorType)")
                .to_owned(),
            error_message: parsed["errorMessage"]
                .as_str()
                .map_or_else(|| String::from_utf8_lossy(body).into_owned(), str::to_owned),
        }
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

/// One invocation handed to `GET next`.
#[derive(Debug)]
struct Invocation {
    request_id: String,
    deadline_ms: u64,
    event: Bytes,
}

#[derive(Debug)]
struct Api {
    function_arn: String,
    /// The invocation a `GET next` waits for (one at a time).
    pending: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    /// The request id being worked on: answers for any other are refused.
    current: Mutex<Option<String>>,
    reports: mpsc::UnboundedSender<Report>,
    first_next: OnceLock<Instant>,
}

/// A running Runtime API for one function process. Stops on drop.
#[derive(Debug)]
pub struct RuntimeApi {
    addr: SocketAddr,
    api: Arc<Api>,
    invocations: mpsc::Sender<Invocation>,
    reports: tokio::sync::Mutex<mpsc::UnboundedReceiver<Report>>,
    serving: Serving,
}

/// Why an invocation produced no response.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("the function reported an error: {0}")]
    Function(Diagnostic),
    #[error("the function reported an init error: {0}")]
    Init(Diagnostic),
    #[error("no response within {0:?} (the invocation's timeout)")]
    Timeout(Duration),
    #[error("the runtime API stopped")]
    Stopped,
    #[error("the response is not JSON: {0}")]
    NotJson(String),
}

impl RuntimeApi {
    /// Binds `127.0.0.1:0`; invocations name `function_arn` as the invoked function.
    pub async fn start(function_arn: &str) -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (invocations, pending) = mpsc::channel(1);
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let api = Arc::new(Api {
            function_arn: function_arn.to_owned(),
            pending: tokio::sync::Mutex::new(pending),
            current: Mutex::new(None),
            reports: reports_tx,
            first_next: OnceLock::new(),
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/response",
                post(response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api.clone());
        let serving = Serving::spawn(listener, router);
        Ok(RuntimeApi {
            addr,
            api,
            invocations,
            reports: tokio::sync::Mutex::new(reports),
            serving,
        })
    }

    /// `127.0.0.1:PORT`: the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first asked for an invocation (the end of its init phase).
    pub fn first_next(&self) -> Option<Instant> {
        self.api.first_next.get().copied()
    }

    /// Waits for the function's next report (`None` once the API stopped).
    pub async fn report(&self) -> Option<Report> {
        self.reports.lock().await.recv().await
    }

    /// Hands `event` to the function as one invocation that may run `timeout`, and waits for its answer. The
    /// caller serialises invocations (one execution environment runs one at a time).
    pub async fn invoke(&self, event: &Value, timeout: Duration) -> Result<Value, InvokeError> {
        let request_id = crate::gitlab_sim::hooks::uuid();
        let now_ms =
            u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
                .unwrap_or(0);
        let invocation = Invocation {
            request_id: request_id.clone(),
            deadline_ms: now_ms + timeout.as_millis() as u64,
            event: Bytes::from(event.to_string()),
        };
        self.invocations
            .send(invocation)
            .await
            .map_err(|_| InvokeError::Stopped)?;
        let answer = tokio::time::timeout(timeout, async {
            loop {
                match self.report().await {
                    None => return Err(InvokeError::Stopped),
                    Some(Report::Next) => {}
                    Some(Report::Response {
                        request_id: id,
                        body,
                    }) if id == request_id => {
                        return serde_json::from_slice(&body).map_err(|_| {
                            InvokeError::NotJson(String::from_utf8_lossy(&body).into_owned())
                        });
                    }
                    Some(Report::Error {
                        request_id: id,
                        error,
                    }) if id == request_id => {
                        return Err(InvokeError::Function(error));
                    }
                    Some(Report::InitError(error)) => return Err(InvokeError::Init(error)),
                    // An answer for an earlier invocation that timed out: late, ignored.
                    Some(Report::Response { .. } | Report::Error { .. }) => {}
                }
            }
        })
        .await;
        answer.unwrap_or(Err(InvokeError::Timeout(timeout)))
    }

    /// Stops accepting, closes every connection and waits until the port is released.
    pub async fn stop(self) {
        self.serving.stop().await;
    }
}

/// `GET next`: the next invocation, whenever there is one.
async fn next(State(api): State<Arc<Api>>) -> Response {
    let _ = api.first_next.set(Instant::now());
    let _ = api.reports.send(Report::Next);
    let Some(invocation) = api.pending.lock().await.recv().await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "runtime API stopped").into_response();
    };
    *api.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(invocation.request_id.clone());
    // The X-Ray header Lambda passes with Tracing: Active (a root id of the invocation's time and 96 random bits).
    let trace_id = format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
        invocation.deadline_ms / 1000,
        rand::random::<u128>() >> 32,
        rand::random::<u64>()
    );
    (
        StatusCode::OK,
        [
            ("content-type", "application/json".to_owned()),
            ("lambda-runtime-aws-request-id", invocation.request_id),
            (
                "lambda-runtime-deadline-ms",
                invocation.deadline_ms.to_string(),
            ),
            (
                "lambda-runtime-invoked-function-arn",
                api.function_arn.clone(),
            ),
            ("lambda-runtime-trace-id", trace_id),
        ],
        invocation.event,
    )
        .into_response()
}

/// The answer to `response`, `error` and `init/error` posts, as Lambda words them.
fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn refused(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errorType": error_type, "errorMessage": message})),
    )
        .into_response()
}

/// Takes the request id being worked on if it is `request_id`.
fn finish(api: &Api, request_id: &str) -> bool {
    let mut current = api.current.lock().unwrap_or_else(|e| e.into_inner());
    if current.as_deref() == Some(request_id) {
        *current = None;
        return true;
    }
    false
}

async fn response(
    State(api): State<Arc<Api>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Response {
    if body.len() > MAX_RESPONSE {
        return refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "the response is larger than 6 MB",
        );
    }
    if !finish(&api, &request_id) {
        return refused(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "unknown request id",
        );
    }
    let _ = api.reports.send(Report::Response { request_id, body });
    accepted()
}

async fn invocation_error(
    State(api): State<Arc<Api>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !finish(&api, &request_id) {
        return refused(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "unknown request id",
        );
    }
    let error = Diagnostic::read(&headers, &body);
    let _ = api.reports.send(Report::Error { request_id, error });
    accepted()
}

async fn init_error(State(api): State<Arc<Api>>, headers: HeaderMap, body: Bytes) -> Response {
    let _ = api
        .reports
        .send(Report::InitError(Diagnostic::read(&headers, &body)));
    accepted()
}
