//! The HTTP surface: `/api/v4` routes behind the fault/limit gate, and the `/-/sim/` admin routes.

mod admin;
mod auth;
mod namespaces;
mod repository;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde_json::json;

use super::faults::{self, Fault};
use super::git::GitError;
use super::routes;
use super::server::ConnControl;
use super::state::Shared;

/// GitLab's error replies, each with its exact body.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("401 Unauthorized")]
    Unauthorized,
    #[error("Token has expired.")]
    TokenExpired,
    #[error("Token was revoked. You have to re-authorize from the user.")]
    TokenRevoked,
    #[error("The request requires higher privileges than provided by the access token.")]
    InsufficientScope,
    #[error("403 Forbidden")]
    Forbidden,
    /// 404 with `{"message": ...}`.
    #[error("{0}")]
    NotFound(String),
    /// 400 with `{"message": ...}`.
    #[error("{0}")]
    BadRequest(String),
    /// 400 with `{"error": ...}`: Grape's parameter validation.
    #[error("{0}")]
    InvalidParam(String),
    #[error(transparent)]
    Git(#[from] GitError),
}

impl ApiError {
    pub(crate) fn invalid(param: &str) -> Self {
        Self::InvalidParam(format!("{param} is invalid"))
    }

    pub(crate) fn not_a_valid_value(param: &str) -> Self {
        Self::InvalidParam(format!("{param} does not have a valid value"))
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self::NotFound(format!("404 {what} Not Found"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let oauth = |status: StatusCode, error: &str, description: String| {
            let mut body = json!({ "error": error, "error_description": description });
            if error == "insufficient_scope" {
                body["scope"] = json!("api read_api");
            }
            let challenge = format!(
                "Bearer realm=\"Protected by OAuth 2.0\", error=\"{error}\", error_description=\"{description}\""
            );
            let mut resp = (status, axum::Json(body)).into_response();
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            resp
        };
        let message = |status: StatusCode, m: String| {
            (status, axum::Json(json!({ "message": m }))).into_response()
        };
        match self {
            Self::Unauthorized => message(StatusCode::UNAUTHORIZED, self.to_string()),
            Self::TokenExpired | Self::TokenRevoked => {
                oauth(StatusCode::UNAUTHORIZED, "invalid_token", self.to_string())
            }
            Self::InsufficientScope => oauth(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                self.to_string(),
            ),
            Self::Forbidden => message(StatusCode::FORBIDDEN, self.to_string()),
            Self::NotFound(m) => message(StatusCode::NOT_FOUND, m),
            Self::BadRequest(m) => message(StatusCode::BAD_REQUEST, m),
            Self::InvalidParam(e) => {
                (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e }))).into_response()
            }
            Self::Git(e) => {
                tracing::warn!(error = %e, "git failed behind a simulated GitLab request");
                faults::server_error(500)
            }
        }
    }
}

/// Per-route state of the gate: the shared state plus the route's key.
#[derive(Debug, Clone)]
struct Gate {
    shared: Arc<Shared>,
    route: &'static str,
}

/// Runs before every API handler: count, latency, injected faults, then the real rate limiter.
async fn gate(State(gate): State<Gate>, req: Request, next: Next) -> Response {
    let Gate { shared, route } = gate;
    shared.count(route);
    let latency = shared.faults().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = shared.faults().decide(route);
    let mut truncate = false;
    match fault {
        None => {}
        Some(Fault::ServerError(code)) => return faults::server_error(code),
        Some(Fault::RateLimited { retry_after_secs }) => {
            return shared
                .faults()
                .injected_rate_info(retry_after_secs)
                .too_many_requests();
        }
        Some(Fault::Reset) => {
            if let Some(conn) = req.extensions().get::<Arc<ConnControl>>() {
                conn.reset();
                // The connection task drops this request with the socket.
                std::future::pending::<()>().await;
            }
            return faults::server_error(500);
        }
        Some(Fault::Truncated) => truncate = true,
        Some(Fault::Latency(d)) => tokio::time::sleep(d).await,
        Some(Fault::Held(ref gate)) => gate.passed().await,
        Some(Fault::Hostile(ref hostile)) => {
            if let Some(answer) = hostile.instead(page_parameter(req.uri())) {
                return answer;
            }
        }
    }
    // Rack::Attack keys its authenticated throttle by user; anonymous requests pass.
    let user = auth::token_from_request(&req)
        .and_then(|t| shared.token_owner(&t).ok())
        .map(|(_, user)| user);
    let rate = user.and_then(|u| shared.faults().admit(u));
    if let Some(info) = &rate
        && info.exceeded()
    {
        return info.too_many_requests();
    }
    let mut resp = next.run(req).await;
    if let Some(info) = rate {
        info.apply(resp.headers_mut());
    }
    if truncate {
        resp = faults::truncate(resp).await;
    }
    if let Some(Fault::Hostile(hostile)) = fault {
        resp = hostile.alter(resp).await;
    }
    resp
}

/// The request's `page` (1 when absent or not a number).
fn page_parameter(uri: &axum::http::Uri) -> u32 {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(key, _)| key == "page")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(1)
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "error": "404 Not Found" })),
    )
        .into_response()
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api_routes: [(&'static str, MethodRouter<Arc<Shared>>); 10] = [
        (routes::PERSONAL_ACCESS_TOKEN_SELF, get(auth::token_self)),
        (routes::USER, get(auth::current_user)),
        (routes::GROUPS, get(namespaces::list_groups)),
        (routes::GROUP, get(namespaces::get_group)),
        (routes::GROUP_PROJECTS, get(namespaces::group_projects)),
        (routes::PROJECTS, get(namespaces::list_projects)),
        (routes::PROJECT, get(namespaces::get_project)),
        (routes::COMMITS, get(repository::commits)),
        (routes::BRANCH, get(repository::branch)),
        (routes::MERGE_BASE, get(repository::merge_base)),
    ];
    let gated = api_routes
        .into_iter()
        .fold(Router::new(), |router, (route, handler)| {
            let gate_state = Gate {
                shared: shared.clone(),
                route,
            };
            router.route(
                &api_path(route),
                handler.layer(middleware::from_fn_with_state(gate_state, gate)),
            )
        });
    gated
        .route("/-/sim/stats", get(admin::stats))
        .route("/-/sim/faults", post(admin::set_faults))
        .route("/-/sim/latency", post(admin::set_latency))
        .route("/-/sim/reset-counts", post(admin::reset_counts))
        .fallback(not_found)
        .with_state(shared)
}

/// The path a route key is served on: `GET /groups/:id` at `/api/v4/groups/{id}`. GitLab accepts the branch
/// URL-encoded (`a%2Fb`) or with raw slashes, so `:branch` takes the rest of the path.
fn api_path(route: &str) -> String {
    let (_method, template) = route
        .split_once(' ')
        .expect("a route key is `METHOD /template`");
    let segments: Vec<String> = template
        .split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some("branch") => "{*branch}".to_owned(),
            Some(name) => format!("{{{name}}}"),
            None => segment.to_owned(),
        })
        .collect();
    format!("/api/v4{}", segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_key_is_served_at_its_template_under_api_v4() {
        assert_eq!(api_path(routes::USER), "/api/v4/user");
        assert_eq!(api_path(routes::GROUP), "/api/v4/groups/{id}");
        assert_eq!(
            api_path(routes::COMMITS),
            "/api/v4/projects/{id}/repository/commits"
        );
        assert_eq!(
            api_path(routes::BRANCH),
            "/api/v4/projects/{id}/repository/branches/{*branch}"
        );
    }
}
