//! Reading one GitLab answer: its body within the size limit and the memory budget, JSON of the expected shape,
//! the next page from its headers, and an error status classified; whatever the server wrote is clipped and
//! cleared of the token before it can reach an error.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde::de::DeserializeOwned;
use url::Url;

use super::error::{GitLabError, blank_secret};
use super::memory::{MemoryBudget, Reservation};
use super::transport::{Attempt, describe};

/// Error bodies are read only this far: enough for GitLab's JSON message, never a whole HTML page.
const MAX_ERROR_BODY: usize = 4 * 1024;

/// What a server's text may add to an error message: errors end up in logs and stored statuses.
const MAX_DETAIL_CHARS: usize = 160;

/// `X-Next-Page` when not empty, or else the `page` of `Link rel="next"`. Only the number is used: the client
/// never follows a URL the server hands it, so a hostile `Link` cannot redirect the token elsewhere.
pub(super) fn next_page_header(headers: &HeaderMap) -> Option<u32> {
    if let Some(value) = headers
        .get("x-next-page")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
    {
        return value.trim().parse().ok();
    }
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.split(';').any(|p| p.trim() == r#"rel="next""#) {
            return None;
        }
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        let url = Url::parse(target).ok()?;
        url.query_pairs()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
    })
}

/// The body, decompressed, as it streams in, refusing more than `limit` bytes: a `Content-Length` over the limit is
/// refused before reading, and a body that grows past it (a gzip bomb, a chunked flood) stops there. Every byte
/// of the buffer is reserved in `memory` before it is allocated (an announced length at once), and the
/// reservation comes back with the body.
pub(super) async fn read_body(
    mut response: reqwest::Response,
    limit: u64,
    memory: &MemoryBudget,
) -> Result<(Vec<u8>, Reservation), Attempt> {
    let too_large = || Attempt::Final(GitLabError::ResponseTooLarge { limit });
    let announced = response.content_length();
    if announced.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut held = Reservation::default();
    let mut body = Vec::new();
    // The buffer grows as a `Vec` would (doubling, at most to the limit), but exactly, so what is reserved is what
    // is allocated.
    let mut make_room = |body: &mut Vec<u8>, needed: u64| -> Result<(), Attempt> {
        let capacity = body.capacity() as u64;
        if needed <= capacity {
            return Ok(());
        }
        let target = needed.max(capacity.saturating_mul(2)).min(limit);
        memory
            .grow(&mut held, target - capacity)
            .map_err(Attempt::Busy)?;
        body.reserve_exact((target as usize).saturating_sub(body.len()));
        Ok(())
    };
    make_room(&mut body, announced.unwrap_or(0))?;
    while let Some(chunk) = response.chunk().await.map_err(|e| body_error(&e))? {
        let needed = (body.len() as u64).saturating_add(chunk.len() as u64);
        if needed > limit {
            return Err(too_large());
        }
        make_room(&mut body, needed)?;
        body.extend_from_slice(&chunk);
    }
    Ok((body, held))
}

/// A body that stopped coming in time is [`GitLabError::TimedOut`]; one cut short is transient (the next attempt
/// usually gets all of it).
fn body_error(error: &reqwest::Error) -> Attempt {
    let detail = describe(error);
    if error.is_timeout() {
        return Attempt::Final(GitLabError::TimedOut { detail });
    }
    Attempt::Transient {
        detail: format!("response body cut short: {detail}"),
        status: None,
    }
}

/// GitLab's API answers `application/json`. Anything else with a 200 (the HTML sign-in or maintenance page of a
/// proxy in front) is not an answer, and is not read; an answer without a type is left to the JSON parser.
pub(super) fn check_json_content_type(headers: &HeaderMap, secret: &str) -> Result<(), Attempt> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let text = blank_secret(
        String::from_utf8_lossy(value.as_bytes()).into_owned(),
        secret,
    );
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        return Ok(());
    }
    Err(invalid(format!(
        "expected JSON, got content type {:?}",
        clip(&essence, secret)
    )))
}

/// UTF-8 JSON of the expected shape, or [`GitLabError::InvalidResponse`] saying what is wrong (never quoting more
/// than a few words of the body).
pub(super) fn decode<T: DeserializeOwned>(body: &[u8], secret: &str) -> Result<T, Attempt> {
    let text = std::str::from_utf8(body).map_err(|e| {
        invalid(format!(
            "the body is not valid UTF-8 (byte {})",
            e.valid_up_to()
        ))
    })?;
    serde_json::from_str(text).map_err(|e| {
        let position = format!("line {}, column {}", e.line(), e.column());
        invalid(match e.classify() {
            // serde's message says what was expected, with a few words of what came instead.
            serde_json::error::Category::Data => {
                format!("unexpected JSON: {}", clip(&e.to_string(), secret))
            }
            serde_json::error::Category::Eof => format!("JSON cut short ({position})"),
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                format!("invalid JSON ({position})")
            }
        })
    })
}

pub(super) fn invalid(detail: String) -> Attempt {
    Attempt::Final(GitLabError::InvalidResponse { detail })
}

/// At most [`MAX_DETAIL_CHARS`] of a server's text, `secret` blanked out first: once cut, a token that straddled
/// the cut would no longer be found whole, and its first part would stay.
fn clip(text: &str, secret: &str) -> String {
    let text = blank_secret(text.to_owned(), secret);
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

pub(super) async fn read_error_body(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_ERROR_BODY {
            body.truncate(MAX_ERROR_BODY);
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// GitLab's error bodies: `{"message": ".."}`, or OAuth-style `{"error": "..", "error_description": ".."}`.
pub(super) fn classify_status(status: StatusCode, body: &str, secret: &str) -> GitLabError {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let text = |key: &str| {
        json.get(key)
            .and_then(|v| v.as_str())
            .map(|text| clip(text, secret))
    };
    let message = text("message")
        .or_else(|| text("error_description"))
        .or_else(|| text("error"))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    match status {
        StatusCode::UNAUTHORIZED => GitLabError::Unauthorized { message },
        StatusCode::FORBIDDEN if text("error").as_deref() == Some("insufficient_scope") => {
            GitLabError::InsufficientScope {
                required: text("scope").unwrap_or_else(|| "api read_api".into()),
            }
        }
        StatusCode::FORBIDDEN => GitLabError::Forbidden { message },
        StatusCode::NOT_FOUND => GitLabError::NotFound { message },
        _ => GitLabError::Rejected {
            status: status.as_u16(),
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::gitlab::memory::MemoryBusy;
    use crate::gitlab::model::Group;

    #[test]
    fn next_page_comes_from_the_header_or_the_link() {
        let mut headers = HeaderMap::new();
        headers.insert("x-next-page", "3".parse().unwrap());
        assert_eq!(next_page_header(&headers), Some(3));
        headers.insert("x-next-page", "".parse().unwrap());
        assert_eq!(next_page_header(&headers), None);

        let mut linked = HeaderMap::new();
        linked.insert(
            "link",
            r#"<https://gitlab.example.com/api/v4/groups?page=1&per_page=100>; rel="prev", <https://gitlab.example.com/api/v4/groups?page=3&per_page=100>; rel="next", <https://gitlab.example.com/api/v4/groups?page=1&per_page=100>; rel="first""#
                .parse()
                .unwrap(),
        );
        assert_eq!(next_page_header(&linked), Some(3));
    }

    #[test]
    fn classifies_gitlab_error_bodies() {
        let scope = classify_status(
            StatusCode::FORBIDDEN,
            r#"{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api read_api"}"#,
            "",
        );
        assert_eq!(
            scope,
            GitLabError::InsufficientScope {
                required: "api read_api".into()
            }
        );
        let expired = classify_status(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_token","error_description":"Token has expired."}"#,
            "",
        );
        assert_eq!(
            expired,
            GitLabError::Unauthorized {
                message: "Token has expired.".into()
            }
        );
        assert_eq!(
            classify_status(
                StatusCode::NOT_FOUND,
                r#"{"message":"404 Project Not Found"}"#,
                ""
            ),
            GitLabError::NotFound {
                message: "404 Project Not Found".into()
            }
        );
        assert_eq!(
            classify_status(StatusCode::BAD_REQUEST, "not json", ""),
            GitLabError::Rejected {
                status: 400,
                message: "Bad Request".into()
            }
        );
    }

    fn final_error(attempt: Attempt) -> GitLabError {
        match attempt {
            Attempt::Final(error) => error,
            Attempt::RateLimited(_) | Attempt::Transient { .. } | Attempt::Busy(_) => {
                panic!("not a final error")
            }
        }
    }

    #[test]
    fn bodies_that_are_not_the_json_asked_for_are_invalid_responses() {
        let detail = |body: &[u8]| match final_error(decode::<Vec<Group>>(body, "").unwrap_err()) {
            GitLabError::InvalidResponse { detail } => detail,
            other => panic!("{other:?}"),
        };
        assert!(detail(b"[\"\xff\xfe\"]").contains("not valid UTF-8 (byte 2)"));
        assert!(detail(b"[{").starts_with("JSON cut short"));
        assert!(detail(b"<html>").starts_with("invalid JSON"));
        assert!(detail(b"{}").starts_with("unexpected JSON: invalid type: map"));
        let long = format!("[{{\"id\": \"{}\"}}]", "x".repeat(10_000));
        assert!(detail(long.as_bytes()).chars().count() < MAX_DETAIL_CHARS + 40);
        assert_eq!(decode::<Vec<Group>>(b" [] ", "").ok(), Some(vec![]));
    }

    #[test]
    fn only_json_content_types_are_read() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, value.parse().unwrap());
            check_json_content_type(&headers, "").map_err(final_error)
        };
        assert!(with("application/json").is_ok());
        assert!(with("Application/JSON; charset=utf-8").is_ok());
        assert!(with("application/problem+json").is_ok());
        assert!(check_json_content_type(&HeaderMap::new(), "").is_ok());
        assert_eq!(
            with("text/html; charset=utf-8").unwrap_err(),
            GitLabError::InvalidResponse {
                detail: r#"expected JSON, got content type "text/html""#.into()
            }
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_announced_or_not() {
        let memory = MemoryBudget::default();
        let announced = reqwest::Response::from(http::Response::new(vec![b' '; 11]));
        assert_eq!(announced.content_length(), Some(11));
        assert_eq!(
            final_error(read_body(announced, 10, &memory).await.unwrap_err()),
            GitLabError::ResponseTooLarge { limit: 10 }
        );
        // Streamed without a length: reading stops at the first chunk that crosses the limit.
        use futures::StreamExt as _;
        let pulled = Arc::new(AtomicU64::new(0));
        let counter = pulled.clone();
        let chunks = futures::stream::iter(0..1_000).map(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok::<_, std::io::Error>(vec![b' '; 4])
        });
        let streamed =
            reqwest::Response::from(http::Response::new(reqwest::Body::wrap_stream(chunks)));
        assert_eq!(streamed.content_length(), None);
        assert_eq!(
            final_error(read_body(streamed, 10, &memory).await.unwrap_err()),
            GitLabError::ResponseTooLarge { limit: 10 }
        );
        assert_eq!(
            pulled.load(Ordering::Relaxed),
            3,
            "three chunks of four bytes, no more"
        );
        let fits = reqwest::Response::from(http::Response::new(b"[]".to_vec()));
        let (body, held) = read_body(fits, 2, &memory).await.ok().unwrap();
        assert_eq!((body, held.bytes()), (b"[]".to_vec(), 2));
        drop(held);
        assert_eq!(
            memory.available(),
            memory.total(),
            "refused bodies held nothing"
        );
    }

    /// A body streamed without a length, in chunks of `chunk` bytes, `chunks` of them.
    fn chunked(chunk: usize, chunks: usize) -> reqwest::Response {
        use futures::StreamExt as _;
        let stream = futures::stream::iter(0..chunks)
            .map(move |_| Ok::<_, std::io::Error>(vec![b' '; chunk]));
        reqwest::Response::from(http::Response::new(reqwest::Body::wrap_stream(stream)))
    }

    #[tokio::test]
    async fn bodies_hold_what_they_allocate_of_one_shared_budget() {
        let memory = MemoryBudget::new(100);
        // 3 chunks of 10: the buffer doubles as it fills (10, 20, 40), reserving each growth first.
        let (body, first) = read_body(chunked(10, 3), 1_000, &memory)
            .await
            .ok()
            .unwrap();
        assert_eq!(body.len(), 30);
        assert_eq!(first.bytes(), body.capacity() as u64);
        assert_eq!(first.bytes(), 40);

        // The next body finds 60 bytes free: 40 fit, 70 (a buffer of 80) do not, and what the body had is given
        // back at once.
        let (_, second) = read_body(chunked(10, 4), 1_000, &memory)
            .await
            .ok()
            .unwrap();
        assert_eq!(second.bytes(), 40);
        drop(second);
        let busy = read_body(chunked(10, 7), 1_000, &memory).await.unwrap_err();
        assert!(matches!(busy, Attempt::Busy(MemoryBusy { total: 100, .. })));
        assert_eq!(memory.available(), 60);

        // An announced length is reserved whole before a byte is read.
        let announced = reqwest::Response::from(http::Response::new(vec![b' '; 61]));
        assert!(matches!(
            read_body(announced, 1_000, &memory).await.unwrap_err(),
            Attempt::Busy(MemoryBusy { wanted: 61, .. })
        ));
        drop(first);
        assert_eq!(memory.available(), 100);
    }
}
