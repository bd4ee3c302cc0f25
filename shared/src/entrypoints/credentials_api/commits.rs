//! `commits.list`: the query string read into the use case's [`ListRequest`], the connection checked, the page
//! answered as `{"ok":true,"commits":[...],"next_cursor":...}`. Every parameter the API cannot serve is
//! `invalid_parameter` naming it; a message never echoes the value.

use lambda_http::{Request, RequestExt};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ApiError;
use crate::commits::{CommitLog, CommitReader, DEFAULT_LIMIT, ListError, ListRequest};
use crate::credentials::CredentialStore;
use crate::kernel::commit_record::CommitRecord;
use crate::kernel::ids::ConnectionId;

/// The stored fields a reply leaves out: the table's partition key (the caller named the project).
const INTERNAL_FIELDS: [&str; 1] = ["project_key"];

/// One page of the connection's commits, or why not.
pub(super) async fn list<S, R>(
    store: &S,
    commits: &CommitLog<R>,
    req: &Request,
    connection: &ConnectionId,
) -> Result<Value, ApiError>
where
    S: CredentialStore,
    R: CommitReader,
{
    let request = read_query(|name| {
        req.query_string_parameters_ref()
            .and_then(|query| query.first(name))
    })?;
    match store.connection_exists(connection).await {
        Ok(true) => {}
        Ok(false) => return Err(ApiError::ConnectionNotFound),
        Err(error) => {
            tracing::error!(connection_id = %connection, error = %error, "storage failure");
            return Err(ApiError::ServiceUnavailable);
        }
    }
    let project_id = request.project_id;
    match commits.list(connection, request).await {
        Ok(page) => {
            tracing::info!(
                connection_id = %connection,
                project_id,
                commits = page.commits.len(),
                reads = page.reads,
                scanned = page.scanned,
                "commits listed"
            );
            let views: Vec<Value> = page.commits.iter().map(view).collect();
            Ok(json!({"ok": true, "commits": views, "next_cursor": page.next_cursor}))
        }
        Err(ListError::InvalidParameter { parameter, reason }) => {
            Err(ApiError::InvalidParameter { parameter, reason })
        }
        Err(ListError::Store(error)) => {
            tracing::error!(connection_id = %connection, project_id, error = %error, "commits could not be read");
            Err(ApiError::ServiceUnavailable)
        }
    }
}

/// A commit as the caller sees it: the stored fields without internal keys.
fn view(record: &CommitRecord) -> Value {
    let mut value = serde_json::to_value(record).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        for field in INTERNAL_FIELDS {
            fields.remove(field);
        }
    }
    value
}

/// The query string's parameters (the first value of each), read and checked in a fixed order; others are
/// ignored.
fn read_query<'a>(param: impl Fn(&str) -> Option<&'a str>) -> Result<ListRequest, ApiError> {
    let invalid = |parameter, reason| ApiError::InvalidParameter { parameter, reason };
    let project_id = match param("project_id") {
        None | Some("") => return Err(invalid("project_id", "is required")),
        Some(text) => digits(text)
            .filter(|id| *id > 0)
            .ok_or(invalid("project_id", "must be a positive integer"))?,
    };
    let time = |parameter| match param(parameter) {
        None | Some("") => Ok(None),
        // A `+` sent unencoded in a query string arrives as a space.
        Some(text) => OffsetDateTime::parse(&text.replace(' ', "+"), &Rfc3339)
            .map(Some)
            .map_err(|_| {
                invalid(
                    parameter,
                    "must be an RFC 3339 date-time such as 2024-05-01T00:00:00Z",
                )
            }),
    };
    let since = time("since")?;
    let until = time("until")?;
    let limit = match param("limit") {
        None | Some("") => DEFAULT_LIMIT,
        Some(text) => digits(text)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(invalid("limit", "must be an integer from 1 to 100"))?,
    };
    let cursor = param("cursor").filter(|c| !c.is_empty()).map(str::to_owned);
    let include_removed = match param("include_removed") {
        None | Some("" | "false" | "0") => false,
        Some("true" | "1") => true,
        Some(_) => return Err(invalid("include_removed", "must be true or false")),
    };
    Ok(ListRequest {
        project_id,
        since,
        until,
        limit,
        cursor,
        include_removed,
    })
}

/// A decimal number of digits only (no sign, no spaces), within u64 (the query parameters' numbers).
pub(super) fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use time::macros::datetime;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<ListRequest, ApiError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        read_query(|name| map.get(name).copied())
    }

    fn parameter_of(result: Result<ListRequest, ApiError>) -> &'static str {
        match result {
            Err(ApiError::InvalidParameter { parameter, .. }) => parameter,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_query_reads_into_its_request_with_defaults() {
        assert_eq!(
            read(&[("project_id", "42")]).unwrap(),
            ListRequest {
                project_id: 42,
                since: None,
                until: None,
                limit: DEFAULT_LIMIT,
                cursor: None,
                include_removed: false,
            }
        );
        let full = read(&[
            ("project_id", "7"),
            ("since", "2024-05-01T00:00:00Z"),
            // `+02:00` whose plus arrived as a space.
            ("until", "2024-06-01T02:00:00 02:00"),
            ("limit", "100"),
            ("cursor", "abc"),
            ("include_removed", "true"),
            ("unknown", "ignored"),
        ])
        .unwrap();
        assert_eq!(full.since, Some(datetime!(2024-05-01 00:00:00 UTC)));
        assert_eq!(full.until, Some(datetime!(2024-06-01 00:00:00 UTC)));
        assert_eq!(
            (full.limit, full.cursor.as_deref(), full.include_removed),
            (100, Some("abc"), true)
        );
    }

    #[test]
    fn each_bad_parameter_is_named() {
        let cases: [(&[(&str, &str)], &str); 12] = [
            (&[], "project_id"),
            (&[("project_id", "")], "project_id"),
            (&[("project_id", "0")], "project_id"),
            (&[("project_id", "-3")], "project_id"),
            (&[("project_id", "1e3")], "project_id"),
            (&[("project_id", "99999999999999999999999")], "project_id"),
            (&[("project_id", "1"), ("since", "yesterday")], "since"),
            (&[("project_id", "1"), ("until", "2024-05-01")], "until"),
            (&[("project_id", "1"), ("limit", "ten")], "limit"),
            (&[("project_id", "1"), ("limit", "-1")], "limit"),
            (
                &[("project_id", "1"), ("include_removed", "yes")],
                "include_removed",
            ),
            (
                &[("project_id", "1"), ("limit", "184467440737095516160")],
                "limit",
            ),
        ];
        for (pairs, parameter) in cases {
            assert_eq!(parameter_of(read(pairs)), parameter, "{pairs:?}");
        }
        // The range of `limit` is the use case's to check.
        assert_eq!(
            read(&[("project_id", "1"), ("limit", "0")]).unwrap().limit,
            0
        );
    }

    #[test]
    fn a_commit_view_leaves_out_the_partition_key() {
        let record: CommitRecord = serde_json::from_value(json!({
            "project_key": "acme#7", "sha": "a", "committed_at": "2024-01-01T00:00:00Z", "short_id": "a",
            "parent_ids": [], "title": "t", "message": "m", "author_name": "n", "author_email": "e",
            "authored_date": "d", "committer_name": "n", "committer_email": "e", "committed_date": "d",
            "web_url": "u", "project_path": "acme/app", "default_branch": "main", "imported_at": "i",
            "removed_at": "2024-02-01T00:00:00Z"
        }))
        .unwrap();
        let view = view(&record);
        assert_eq!(view.get("project_key"), None);
        assert_eq!(view["sha"], "a");
        assert_eq!(view["removed_at"], "2024-02-01T00:00:00Z");
    }
}
