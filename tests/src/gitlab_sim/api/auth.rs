//! Token authentication and scopes, in GitLab's order: unknown, expired, revoked, inactive, scope.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde_json::Value;
use time::OffsetDateTime;

use super::ApiError;
use crate::gitlab_sim::entities;
use crate::gitlab_sim::state::Shared;

const API_SCOPES: &[&str] = &["api", "read_api"];

fn today() -> time::Date {
    OffsetDateTime::now_utc().date()
}

/// `PRIVATE-TOKEN`, `Authorization: Bearer`, or the `private_token` query parameter.
fn token_from(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(t) = headers.get("private-token").and_then(|v| v.to_str().ok()) {
        return Some(t.trim().to_owned());
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    bearer.or_else(|| {
        url::form_urlencoded::parse(query?.as_bytes())
            .find(|(k, _)| k == "private_token")
            .map(|(_, v)| v.into_owned())
    })
}

pub(super) fn token_from_request(req: &Request) -> Option<String> {
    token_from(req.headers(), req.uri().query())
}

impl Shared {
    /// The (token id, user id) a token value authenticates as, or the 401 GitLab gives.
    pub(crate) fn token_owner(&self, token: &str) -> Result<(u64, u64), ApiError> {
        let world = self.world();
        let (id, spec) = world
            .tokens
            .iter()
            .find(|(_, t)| t.value == token)
            .ok_or(ApiError::Unauthorized)?;
        if spec.is_expired(today()) {
            return Err(ApiError::TokenExpired);
        }
        if spec.revoked {
            return Err(ApiError::TokenRevoked);
        }
        if !spec.active || !world.users.contains_key(&spec.user_id) {
            return Err(ApiError::Unauthorized);
        }
        Ok((*id, spec.user_id))
    }
}

/// Any valid token, whatever its scopes.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub token_id: u64,
    pub user_id: u64,
    pub scopes: Vec<String>,
}

impl Principal {
    fn require_any(&self, scopes: &[&str]) -> Result<(), ApiError> {
        if self.scopes.iter().any(|s| scopes.contains(&s.as_str())) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope)
        }
    }
}

impl FromRequestParts<Arc<Shared>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &Arc<Shared>) -> Result<Self, ApiError> {
        let token = token_from(&parts.headers, parts.uri.query()).ok_or(ApiError::Unauthorized)?;
        let (token_id, user_id) = st.token_owner(&token)?;
        let mut world = st.world();
        let spec = world.token_mut(token_id);
        spec.last_used_at = Some(OffsetDateTime::now_utc());
        Ok(Self {
            token_id,
            user_id,
            scopes: spec.scopes.clone(),
        })
    }
}

/// A token with `api` or `read_api`: what every endpoint but `/personal_access_tokens/self` needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApiUser(pub u64);

impl FromRequestParts<Arc<Shared>> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &Arc<Shared>) -> Result<Self, ApiError> {
        let p = Principal::from_request_parts(parts, st).await?;
        p.require_any(API_SCOPES)?;
        Ok(Self(p.user_id))
    }
}

/// `GET /personal_access_tokens/self`: how importers read a token's scopes.
pub(super) async fn token_self(State(st): State<Arc<Shared>>, p: Principal) -> Json<Value> {
    let world = st.world();
    Json(entities::token(
        p.token_id,
        &world.tokens[&p.token_id],
        today(),
    ))
}

/// `GET /user`; GitLab also lets `read_user` tokens read it.
pub(super) async fn current_user(
    State(st): State<Arc<Shared>>,
    p: Principal,
) -> Result<Json<Value>, ApiError> {
    p.require_any(&["api", "read_api", "read_user"])?;
    Ok(Json(entities::user(&st.world(), p.user_id, &st.base_url)))
}
