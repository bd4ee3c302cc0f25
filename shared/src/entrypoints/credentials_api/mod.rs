//! The `credentials-api` Lambda handler: API Gateway v2 (HTTP API) requests in, `{"ok":...}` replies out.
//!
//! Order of checks: authorisation, route, method, connection id, body size and encoding, fields, then the use
//! case. Every outcome is a JSON reply with a fitting status; nothing a caller sends leads to a 500.
//!
//! `request` reads the bodies into typed inputs of the domain's use cases; `commits` serves `commits.list`;
//! `projects` the operator's `projects.*`; `error` holds [`ApiError`], every code the API answers with.

use aws_lambda_events::apigw::ApiGatewayRequestAuthorizerIamDescription;
use lambda_http::http::header;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::http::{connection_segments, error_body, json_reply, request_path, with_allow};
use crate::commits::{CommitLog, CommitReader};
use crate::credentials::{
    CredentialRecord, CredentialStore, Credentials, CredentialsError, Verifier,
};
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::push_hook::hook_path;
use crate::kernel::sync_message::SyncQueue;
use crate::kernel::turn_request::TurnQueue;
use crate::kernel::vault::SecretVault;
use crate::projects::{ProjectStates, Projects};

mod commits;
mod error;
mod projects;
mod request;

pub use error::ApiError;
use request::{CreateBody, DeleteBody, ProjectBody, UpdateBody};

/// Everything the handler needs, built once per process.
#[derive(Debug)]
pub struct CredentialsApi<S, V, G, R, P, Q, T> {
    pub credentials: Credentials<S, V, G>,
    /// `commits.list`: what the sync imported, read back.
    pub commits: CommitLog<R>,
    /// `projects.*`: the operator's view of the projects, and sync requests.
    pub projects: Projects<P, Q, T>,
    /// Accept requests without an IAM authorizer in the request context (local runs only).
    pub allow_unauthenticated: bool,
}

/// The API's methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Create,
    Update,
    Info,
    List,
    Delete,
    /// A new push hook secret for the connection.
    RotateHook,
    /// A page of a project's imported commits.
    CommitsList,
    /// A page of the connection's projects with their state.
    ProjectsList,
    /// One project, with its job and recent failures.
    ProjectsInfo,
    /// Sync one project now.
    ProjectsSync,
    /// Import one project's whole default branch again and reconcile.
    ProjectsResync,
    /// Run the connection's discovery and fan-out now.
    ConnectionsSync,
}

impl Route {
    /// Every method name with its HTTP method and whether it takes an id path segment.
    pub const ALL: [(Route, &'static str, &'static str, bool); 12] = [
        (Route::Create, "credentials.create", "POST", false),
        (Route::Update, "credentials.update", "POST", false),
        (Route::Info, "credentials.info", "GET", true),
        (Route::List, "credentials.list", "GET", false),
        (Route::Delete, "credentials.delete", "POST", false),
        (Route::RotateHook, "hooks.rotate", "POST", false),
        (Route::CommitsList, "commits.list", "GET", false),
        (Route::ProjectsList, "projects.list", "GET", false),
        (Route::ProjectsInfo, "projects.info", "GET", true),
        (Route::ProjectsSync, "projects.sync", "POST", false),
        (Route::ProjectsResync, "projects.resync", "POST", false),
        (Route::ConnectionsSync, "connections.sync", "POST", false),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(route, ..)| *route == self)
            .map_or("", |(_, name, ..)| name)
    }

    fn method(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(route, ..)| *route == self)
            .map_or("", |(_, _, method, _)| method)
    }
}

/// The caller named on the audit line of a request that carries no IAM identity (a local run, or a request the
/// handler refuses as `not_authed`).
pub const UNSIGNED_CALLER: &str = "unsigned";

/// What the audit line tells of one call, filled in as far as the request was understood.
#[derive(Debug, Default)]
struct Audit {
    route: Option<Route>,
    connection: Option<ConnectionId>,
    /// The credential the call names (update, info, delete) or created.
    credential: Option<CredentialId>,
    /// The project the call names (`projects.info`, `.sync`, `.resync`).
    project: Option<u64>,
}

/// The Lambda entry point. Never fails: every outcome is a reply.
///
/// Each call ends with one audit line: who (the IAM ARN API Gateway verified), what (route, connection,
/// credential) and how it ended (`result`: `ok` or the error code, and the HTTP status); never a body, a token or
/// a push hook secret.
/// It is logged at INFO (WARN for our own 5xx failures); the template holds this function at INFO or more so the
/// line survives a quieter `LogLevel`.
pub async fn handler<S, V, G, R, P, Q, T>(
    api: &CredentialsApi<S, V, G, R, P, Q, T>,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error>
where
    S: CredentialStore,
    V: SecretVault,
    G: Verifier,
    R: CommitReader,
    P: ProjectStates,
    Q: SyncQueue,
    T: TurnQueue,
{
    let mut audit = Audit::default();
    let (reply, result) = match api.respond(&req, &mut audit).await {
        Ok(reply) => (reply, "ok"),
        Err(error) => (error_reply(&error), error.code()),
    };
    audit.log(&req, result, reply.status().as_u16());
    Ok(reply)
}

impl Audit {
    /// The call's audit line: INFO, or WARN for our own 5xx failures.
    fn log(&self, req: &Request, result: &str, status: u16) {
        let (caller, request_id) = caller_of(req);
        let route = self.route.map_or("unknown", Route::name);
        let connection_id = self.connection.as_ref().map(ConnectionId::as_str);
        let credential_id = self.credential.as_ref().map(CredentialId::as_str);
        let project_id = self.project;
        // One list of fields for both levels (a level of `tracing` must be known where the line is written).
        macro_rules! audit_line {
            ($level:ident, $message:literal) => {
                tracing::$level!(
                    caller,
                    request_id,
                    route,
                    connection_id,
                    credential_id,
                    project_id,
                    result,
                    status,
                    $message
                )
            };
        }
        if status >= 500 {
            audit_line!(warn, "request failed");
        } else {
            audit_line!(info, "request handled");
        }
    }
}

/// A reply's status and body.
type Reply = (u16, Value);

/// One request whose route, method and connection passed the checks: what every route reads.
struct Call<'a> {
    req: &'a Request,
    connection: ConnectionId,
    audit: &'a mut Audit,
    today: time::Date,
}

impl Call<'_> {
    /// Records the credential the call names on its audit line.
    fn names(&mut self, id: CredentialId) -> CredentialId {
        self.audit.credential = Some(id.clone());
        id
    }

    /// A failure of the credentials service as the caller hears it.
    fn failed(&self, error: &CredentialsError) -> ApiError {
        ApiError::of(error, &self.connection)
    }
}

impl<S, V, G, R, P, Q, T> CredentialsApi<S, V, G, R, P, Q, T>
where
    S: CredentialStore,
    V: SecretVault,
    G: Verifier,
    R: CommitReader,
    P: ProjectStates,
    Q: SyncQueue,
    T: TurnQueue,
{
    /// The checks every route shares (authorisation, route, method, connection id), then the route's own call.
    async fn respond(&self, req: &Request, audit: &mut Audit) -> Result<Response<Body>, ApiError> {
        if !self.allow_unauthenticated && iam_identity(req).is_none() {
            return Err(ApiError::NotAuthed);
        }
        let (route, connection, path_id) =
            match_route(request_path(req)).ok_or(ApiError::UnknownRoute)?;
        audit.route = Some(route);
        audit.connection = ConnectionId::parse(connection);
        if req.method().as_str() != route.method() {
            return Err(ApiError::MethodNotAllowed { route });
        }
        let connection = audit
            .connection
            .clone()
            .ok_or(ApiError::ConnectionNotFound)?;
        let call = &mut Call {
            req,
            connection,
            audit,
            today: time::OffsetDateTime::now_utc().date(),
        };
        let (status, body) = match route {
            Route::Create => self.create(call).await,
            Route::Update => self.update(call).await,
            Route::Info => self.info(call, path_id.unwrap_or_default()).await,
            Route::List => self.list(call).await,
            Route::Delete => self.delete(call).await,
            Route::RotateHook => self.rotate_hook(call).await,
            Route::CommitsList => self.commits_list(call).await,
            Route::ProjectsList => self.projects_list(call).await,
            Route::ProjectsInfo => self.projects_info(call, path_id.unwrap_or_default()).await,
            Route::ProjectsSync | Route::ProjectsResync => self.project_sync(call, route).await,
            Route::ConnectionsSync => self.connection_sync(call).await,
        }?;
        Ok(json_reply(status, &body))
    }

    /// `credentials.create`: 201 with the credential and the connection's push hook.
    async fn create(&self, call: &mut Call<'_>) -> Result<Reply, ApiError> {
        let input = body::<CreateBody>(call.req)?.into_input()?;
        let service = &self.credentials;
        let record = service
            .create(&call.connection, input)
            .await
            .map_err(|e| call.failed(&e))?;
        call.names(record.credential_id.clone());
        let push_hook = opened_push_hook(service, call.req, &call.connection).await;
        let credential = record.view(call.today);
        Ok((
            201,
            json!({"ok": true, "credential": credential, "push_hook": push_hook}),
        ))
    }

    /// `credentials.update`: the credential as it now is.
    async fn update(&self, call: &mut Call<'_>) -> Result<Reply, ApiError> {
        let input = body::<UpdateBody>(call.req)?.into_input()?;
        call.names(input.id.clone());
        credential_reply(call, self.credentials.update(&call.connection, input).await)
    }

    /// `credentials.info/{id}`: one credential; an id of the wrong shape names none.
    async fn info(&self, call: &mut Call<'_>, path_id: &str) -> Result<Reply, ApiError> {
        let id = CredentialId::parse(path_id)
            .ok_or(ApiError::CredentialNotFound(ApiError::NO_SUCH_CREDENTIAL))?;
        let id = call.names(id);
        credential_reply(call, self.credentials.info(&call.connection, &id).await)
    }

    /// `credentials.list[?include_deleted=true]`: the connection's credentials.
    async fn list(&self, call: &mut Call<'_>) -> Result<Reply, ApiError> {
        let include_deleted = call
            .req
            .query_string_parameters_ref()
            .and_then(|q| q.first("include_deleted"))
            .is_some_and(|v| v == "true" || v == "1");
        let records = self
            .credentials
            .list(&call.connection, include_deleted)
            .await
            .map_err(|e| call.failed(&e))?;
        let views: Vec<_> = records.iter().map(|r| r.view(call.today)).collect();
        Ok((200, json!({"ok": true, "credentials": views})))
    }

    /// `credentials.delete`: a soft delete, answered with the credential as deleted.
    async fn delete(&self, call: &mut Call<'_>) -> Result<Reply, ApiError> {
        let id = call.names(body::<DeleteBody>(call.req)?.into_input()?);
        credential_reply(call, self.credentials.delete(&call.connection, &id).await)
    }

    /// `hooks.rotate`: a new push hook secret. It takes no body: whatever is sent is ignored.
    async fn rotate_hook(&self, call: &mut Call<'_>) -> Result<Reply, ApiError> {
        let secret = self
            .credentials
            .rotate_hook_secret(&call.connection)
            .await
            .map_err(|e| call.failed(&e))?;
        let push_hook =
            json!({"url": hook_url(call.req, &call.connection), "secret": secret.expose()});
        Ok((200, json!({"ok": true, "push_hook": push_hook})))
    }

    /// `commits.list`: its errors are the API's own, not the credentials service's.
    async fn commits_list(&self, call: &mut Call<'_>) -> Result<Reply, ApiError> {
        let store = &self.credentials.store;
        let page = commits::list(store, &self.commits, call.req, &call.connection).await?;
        Ok((200, page))
    }

    /// `projects.list[?status=&limit=&cursor=]`: a page of the connection's projects.
    async fn projects_list(&self, call: &mut Call<'_>) -> Result<Reply, ApiError> {
        projects::known_connection(&self.credentials.store, &call.connection).await?;
        let page = projects::list(&self.projects, call.req, &call.connection).await?;
        Ok((200, page))
    }

    /// `projects.info/{id}`: one project; an id of the wrong shape names none.
    async fn projects_info(&self, call: &mut Call<'_>, path_id: &str) -> Result<Reply, ApiError> {
        let project_id = projects::path_project_id(path_id)?;
        call.audit.project = Some(project_id);
        projects::known_connection(&self.credentials.store, &call.connection).await?;
        let view = projects::info(&self.projects, &call.connection, project_id).await?;
        Ok((200, view))
    }

    /// `projects.sync` and `projects.resync`: 202 once the project's sync is queued (or a queued one covers it).
    async fn project_sync(&self, call: &mut Call<'_>, route: Route) -> Result<Reply, ApiError> {
        let project_id = body::<ProjectBody>(call.req)?.into_input()?;
        call.audit.project = Some(project_id);
        projects::known_connection(&self.credentials.store, &call.connection).await?;
        let connection = &call.connection;
        let requested = if route == Route::ProjectsResync {
            self.projects.resync(connection, project_id).await
        } else {
            self.projects.sync(connection, project_id).await
        }
        .map_err(|e| projects::failed(&e, connection))?;
        Ok((202, projects::requested(Some(project_id), requested)))
    }

    /// `connections.sync`: 202 once the connection's turn is requested (or one requested within a minute covers
    /// it). It takes no body: whatever is sent is ignored.
    async fn connection_sync(&self, call: &mut Call<'_>) -> Result<Reply, ApiError> {
        projects::known_connection(&self.credentials.store, &call.connection).await?;
        let connection = &call.connection;
        let requested = self
            .projects
            .sync_connection(connection)
            .await
            .map_err(|e| projects::failed(&e, connection))?;
        Ok((202, projects::requested(None, requested)))
    }
}

/// The request's body read into the route's body type ([`CreateBody`], [`UpdateBody`], [`DeleteBody`],
/// [`ProjectBody`]): JSON or
/// form data by its `Content-Type` (anything else is 415), at most [`request::MAX_BODY_BYTES`].
fn body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let kind = request::body_kind(content_type)?;
    request::read_body(kind, req.body().as_ref())
}

/// `{"ok":true,"credential":...}` (200) for a route that answers with one credential.
fn credential_reply(
    call: &Call<'_>,
    result: Result<CredentialRecord, CredentialsError>,
) -> Result<Reply, ApiError> {
    let record = result.map_err(|e| call.failed(&e))?;
    Ok((
        200,
        json!({"ok": true, "credential": record.view(call.today)}),
    ))
}

/// The `push_hook` of a create's reply: the URL, and the secret when this create made it. A failure to make it
/// does not fail the create (the credential is stored): it is logged, and `hooks.rotate` makes the secret later.
async fn opened_push_hook<S, V, G>(
    service: &Credentials<S, V, G>,
    req: &Request,
    connection: &ConnectionId,
) -> Value
where
    S: CredentialStore,
    V: SecretVault,
    G: Verifier,
{
    let mut push_hook = json!({"url": hook_url(req, connection)});
    match service.open_hook_secret(connection).await {
        Ok(Some(secret)) => push_hook["secret"] = secret.expose().into(),
        Ok(None) => {}
        Err(error) => tracing::warn!(
            connection_id = %connection,
            error = %error,
            "the push hook secret could not be made; hooks.rotate makes it"
        ),
    }
    push_hook
}

/// The URL GitLab is to call with the connection's push hooks: API Gateway's domain name and stage (none for
/// `$default`) as the request came in, or the path alone when the request context names no domain (local runs).
fn hook_url(req: &Request, connection: &ConnectionId) -> String {
    let path = hook_path(connection);
    let Some(RequestContext::ApiGatewayV2(context)) = req.request_context_ref() else {
        return path;
    };
    let Some(domain) = non_empty(&context.domain_name) else {
        return path;
    };
    match non_empty(&context.stage).filter(|stage| *stage != "$default") {
        Some(stage) => format!("https://{domain}/{stage}{path}"),
        None => format!("https://{domain}{path}"),
    }
}

/// The IAM identity API Gateway's IAM authorizer verified (a SigV4 signature), if any.
fn iam_identity(req: &Request) -> Option<&ApiGatewayRequestAuthorizerIamDescription> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.iam.as_ref())
            .filter(|iam| {
                [&iam.user_arn, &iam.caller_id, &iam.access_key]
                    .into_iter()
                    .any(|field| non_empty(field).is_some())
            }),
        _ => None,
    }
}

fn non_empty(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|s| !s.is_empty())
}

/// The caller's IAM ARN (else its caller id, else [`UNSIGNED_CALLER`]) and API Gateway's request id, which the
/// stage's access log carries too.
fn caller_of(req: &Request) -> (&str, Option<&str>) {
    let caller = iam_identity(req)
        .and_then(|iam| non_empty(&iam.user_arn).or_else(|| non_empty(&iam.caller_id)))
        .unwrap_or(UNSIGNED_CALLER);
    let request_id = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => non_empty(&context.request_id),
        _ => None,
    };
    (caller, request_id)
}

/// `[/<stage>]/connections/<connection>/<method>[/<id>]` -> route, connection and path id.
pub fn match_route(path: &str) -> Option<(Route, &str, Option<&str>)> {
    match connection_segments(path)?.as_slice() {
        ["connections", connection, method] => Route::ALL
            .iter()
            .find(|(_, name, _, takes_id)| name == method && !takes_id)
            .map(|(route, ..)| (*route, *connection, None)),
        ["connections", connection, method, id] => Route::ALL
            .iter()
            .find(|(_, name, _, takes_id)| name == method && *takes_id)
            .map(|(route, ..)| (*route, *connection, Some(*id))),
        _ => None,
    }
}

/// `{"ok":false,"error":<code>,"message":<sentence>}` (and the `parameter` an `invalid_parameter` names), and for
/// a 405 the `Allow` header.
fn error_reply(error: &ApiError) -> Response<Body> {
    let mut body = error_body(error.code(), error);
    if let ApiError::InvalidParameter { parameter, .. } = error {
        body["parameter"] = (*parameter).into();
    }
    let reply = json_reply(error.status(), &body);
    match error {
        ApiError::MethodNotAllowed { route } => with_allow(reply, route.method()),
        _ => reply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_with_or_without_a_stage() {
        assert_eq!(
            match_route("/connections/acme/credentials.info/cred_1"),
            Some((Route::Info, "acme", Some("cred_1")))
        );
        assert_eq!(
            match_route("/prod/connections/acme/credentials.list"),
            Some((Route::List, "acme", None))
        );
        assert_eq!(
            match_route("/connections/acme/hooks.rotate"),
            Some((Route::RotateHook, "acme", None))
        );
        assert_eq!(
            match_route("/prod/connections/acme/commits.list"),
            Some((Route::CommitsList, "acme", None))
        );
        for path in [
            "",
            "/",
            "/connections/acme/credentials.info",
            "/connections/acme/credentials.list/x",
            "/a/b/connections/acme/credentials.list",
            "/connections/acme/credentials.create/",
            "/connections/acme/hooks.rotate/x",
            "/connections/acme/commits.list/x",
            "/connections/acme/hooks/gitlab",
        ] {
            assert_eq!(match_route(path), None, "{path}");
        }
    }
}
