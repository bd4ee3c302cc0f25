//! The operator's routes: `projects.list` and `projects.info/{id}` read a connection's projects as the state
//! table holds them; `projects.sync` and `projects.resync` ask for one project's sync (or whole re-import) now,
//! `connections.sync` for the connection's discovery and fan-out.
//! Every parameter the API cannot serve is `invalid_parameter` naming it; a message never echoes the value.

use lambda_http::{Request, RequestExt};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::ApiError;
use super::commits::digits;
use crate::credentials::CredentialStore;
use crate::kernel::ids::ConnectionId;
use crate::kernel::sync_message::SyncQueue;
use crate::kernel::turn_request::TurnQueue;
use crate::projects::service::{DEFAULT_PAGE, MAX_PAGE};
use crate::projects::{ProjectStates, Projects, ProjectsError, Requested, StatusFilter};

/// What `projects.list` reads of the query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ListQuery {
    status: Option<StatusFilter>,
    after: Option<u64>,
    limit: usize,
}

/// `404 connection_not_found` unless the credentials API recorded the connection.
pub(super) async fn known_connection<S: CredentialStore>(
    store: &S,
    connection: &ConnectionId,
) -> Result<(), ApiError> {
    match store.connection_exists(connection).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::ConnectionNotFound),
        Err(error) => {
            tracing::error!(connection_id = %connection, error = %error, "storage failure");
            Err(ApiError::ServiceUnavailable)
        }
    }
}

/// One page of the connection's projects: `{"ok":true,"projects":[...],"next_cursor":...}`.
pub(super) async fn list<P: ProjectStates, Q: SyncQueue, T: TurnQueue>(
    projects: &Projects<P, Q, T>,
    req: &Request,
    connection: &ConnectionId,
) -> Result<Value, ApiError> {
    let query = read_query(|name| {
        req.query_string_parameters_ref()
            .and_then(|query| query.first(name))
    })?;
    let page = projects
        .list(connection, query.status, query.after, query.limit)
        .await
        .map_err(|e| failed(&e, connection))?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let views: Vec<Value> = page.projects.iter().map(|p| p.view(now)).collect();
    let next_cursor = page.next_after.map(|id| id.to_string());
    Ok(json!({"ok": true, "projects": views, "next_cursor": next_cursor}))
}

/// One project with its job and recent failures: `{"ok":true,"project":{...}}`.
pub(super) async fn info<P: ProjectStates, Q: SyncQueue, T: TurnQueue>(
    projects: &Projects<P, Q, T>,
    connection: &ConnectionId,
    project_id: u64,
) -> Result<Value, ApiError> {
    let state = projects
        .info(connection, project_id)
        .await
        .map_err(|e| failed(&e, connection))?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    Ok(json!({"ok": true, "project": state.detail(now)}))
}

/// A requested sync, re-import or turn: `{"ok":true,"sync":"queued"|"covered"}`, with the project's id.
pub(super) fn requested(project_id: Option<u64>, requested: Requested) -> Value {
    let sync = match requested {
        Requested::Queued => "queued",
        Requested::Covered => "covered",
    };
    let mut reply = json!({"ok": true, "sync": sync});
    if let Some(id) = project_id {
        reply["project_id"] = id.into();
    }
    reply
}

/// A failure of the projects service as the caller hears it; our own are logged and said without internals.
pub(super) fn failed(error: &ProjectsError, connection: &ConnectionId) -> ApiError {
    match error {
        ProjectsError::ProjectNotFound => ApiError::ProjectNotFound,
        ProjectsError::NotSynced(status) => ApiError::ProjectNotSynced(status.clone()),
        ProjectsError::Busy => ApiError::SchedulingInProgress,
        ProjectsError::Store(_) | ProjectsError::Queue(_) | ProjectsError::ScheduleItem(_) => {
            tracing::error!(connection_id = %connection, error = %error, "project request failed");
            ApiError::ServiceUnavailable
        }
    }
}

/// The id of `projects.info/{id}`: a positive integer, or no project.
pub(super) fn path_project_id(segment: &str) -> Result<u64, ApiError> {
    digits(segment)
        .filter(|id| *id > 0)
        .ok_or(ApiError::ProjectNotFound)
}

/// The query string's parameters (the first value of each), checked in a fixed order; others are ignored.
fn read_query<'a>(param: impl Fn(&str) -> Option<&'a str>) -> Result<ListQuery, ApiError> {
    let invalid = |parameter, reason| ApiError::InvalidParameter { parameter, reason };
    let status = match param("status") {
        None | Some("") => None,
        Some(word) => Some(StatusFilter::parse(word).ok_or(invalid(
            "status",
            "must be one of active, failing, forbidden, excluded, empty, archived, gone",
        ))?),
    };
    let limit = match param("limit") {
        None | Some("") => DEFAULT_PAGE,
        Some(text) => digits(text)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or(invalid("limit", "must be an integer from 1 to 100"))?,
    };
    let after = match param("cursor") {
        None | Some("") => None,
        Some(text) => Some(digits(text).ok_or(invalid(
            "cursor",
            "must be a next_cursor this method answered with",
        ))?),
    };
    Ok(ListQuery {
        status,
        after,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<ListQuery, ApiError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        read_query(|name| map.get(name).copied())
    }

    #[test]
    fn the_list_query_reads_status_limit_and_cursor_and_names_what_it_refuses() {
        assert_eq!(
            read(&[]).unwrap(),
            ListQuery {
                status: None,
                after: None,
                limit: DEFAULT_PAGE
            }
        );
        assert_eq!(
            read(&[("status", "failing"), ("limit", "3"), ("cursor", "42")]).unwrap(),
            ListQuery {
                status: Some(StatusFilter::Failing),
                after: Some(42),
                limit: 3
            }
        );
        for (pairs, parameter) in [
            (&[("status", "broken")][..], "status"),
            (&[("status", "not_found")][..], "status"),
            (&[("limit", "0")][..], "limit"),
            (&[("limit", "101")][..], "limit"),
            (&[("limit", "-1")][..], "limit"),
            (&[("cursor", "abc")][..], "cursor"),
            (&[("cursor", "99999999999999999999999")][..], "cursor"),
        ] {
            match read(pairs) {
                Err(ApiError::InvalidParameter { parameter: p, .. }) => {
                    assert_eq!(p, parameter, "{pairs:?}")
                }
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
        assert_eq!(path_project_id("17"), Ok(17));
        for segment in ["0", "-1", "x", "", "1.5"] {
            assert_eq!(path_project_id(segment), Err(ApiError::ProjectNotFound));
        }
    }
}
