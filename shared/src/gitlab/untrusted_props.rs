//! Property tests: nothing a GitLab sends panics. Every entity the client decodes is fed arbitrary JSON and, field
//! by field, arbitrary values (dates at both ends of what RFC 3339 writes, in any offset; numbers past every
//! integer type; any text), and whatever decodes goes through every conversion the domain makes of it. Headers
//! and error bodies get the same treatment.

use proptest::prelude::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use std::time::Duration;
use time::OffsetDateTime;

use super::budget::{RateLimitHeaders, RequestBudget};
use super::model::{Branch, Commit, Group, Project, TokenInfo, excess_scopes};
use super::response::{classify_status, decode, next_page_header};
use crate::credentials::verify::unusable;
use crate::kernel::commit_record::MAX_ITEM_BYTES;
use crate::kernel::time::{change_stamp, utc};
use crate::scheduler::DiscoveredProject;
use crate::sync::record::{ProjectOrigin, from_gitlab};
use crate::testing::project_key;

/// The token the client sends: whatever GitLab echoes of it never reaches an error.
const TOKEN: &str = "glpat-property-test-token";

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any_text(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Text of every kind a field may hold: anything, a date, a commit id, control characters.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        rfc3339(),
        "[0-9a-f]{40}",
        "[\\x00-\\x1f\"\\\\]{0,40}",
    ]
}

/// RFC 3339 dates across the whole range the format writes (years 0000 to 9999, any offset up to ±23:59, with
/// and without fractions), the ends included, so that many lie past either end of it once in UTC.
fn rfc3339() -> impl Strategy<Value = String> {
    let anywhere = (0..=9999i32, 1..=12u8, 1..=28u8);
    let last_day = (Just(9999), Just(12), Just(31));
    let first_day = (Just(0), Just(1), Just(1));
    let day = prop_oneof![anywhere, last_day, first_day];
    let offset = prop_oneof![Just((-23, 59)), Just((23, 59)), (-23..=23i32, 0..=59i32)];
    let fraction = prop_oneof![Just(String::new()), "\\.[0-9]{1,9}"];
    (day, 0..=23u8, 0..=59u8, 0..=59u8, fraction, offset).prop_map(
        |((y, mo, d), h, mi, s, frac, (oh, om))| {
            let sign = if oh < 0 { '-' } else { '+' };
            format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{sign}{:02}:{om:02}",
                oh.abs()
            )
        },
    )
}

/// A field's value: mostly of its type (so that about a third of the entities with a dozen fields decode whole
/// and reach the domain), sometimes anything, sometimes left out.
fn field(typed: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        30 => typed.prop_map(Some),
        1 => any_json().prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

fn text() -> BoxedStrategy<Value> {
    any_text().prop_map(Value::from).boxed()
}

fn date() -> BoxedStrategy<Value> {
    rfc3339().prop_map(Value::from).boxed()
}

fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from)
    ]
    .boxed()
}

fn flag() -> BoxedStrategy<Value> {
    any::<bool>().prop_map(Value::from).boxed()
}

fn texts() -> BoxedStrategy<Value> {
    prop::collection::vec(any_text(), 0..4)
        .prop_map(Value::from)
        .boxed()
}

/// An object with these fields, each drawn from its strategy (or left out).
fn entity(fields: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let (names, values): (Vec<_>, Vec<_>) = fields
        .into_iter()
        .map(|(name, typed)| (name, field(typed)))
        .unzip();
    values
        .prop_map(move |values| {
            let mut object = Map::new();
            for (name, value) in names.iter().zip(values) {
                if let Some(value) = value {
                    object.insert((*name).to_owned(), value);
                }
            }
            Value::Object(object)
        })
        .boxed()
}

fn commit_json() -> BoxedStrategy<Value> {
    let trailers = prop::collection::btree_map(any_text(), any_text(), 0..4)
        .prop_map(|map| serde_json::to_value(map).unwrap_or_default())
        .boxed();
    let extended =
        prop::collection::btree_map(any_text(), prop::collection::vec(any_text(), 0..3), 0..3)
            .prop_map(|map| serde_json::to_value(map).unwrap_or_default())
            .boxed();
    let stats = entity(vec![
        ("additions", number()),
        ("deletions", number()),
        ("total", number()),
    ]);
    entity(vec![
        ("id", text()),
        ("short_id", text()),
        ("parent_ids", texts()),
        ("title", text()),
        ("message", text()),
        ("author_name", text()),
        ("author_email", text()),
        ("authored_date", date()),
        ("committer_name", text()),
        ("committer_email", text()),
        ("committed_date", date()),
        ("created_at", date()),
        ("trailers", trailers),
        ("extended_trailers", extended),
        ("web_url", text()),
        ("stats", stats),
    ])
}

fn project_json() -> BoxedStrategy<Value> {
    entity(vec![
        ("id", number()),
        ("path_with_namespace", text()),
        ("default_branch", text()),
        ("empty_repo", flag()),
        ("archived", flag()),
        ("web_url", text()),
        ("last_activity_at", date()),
    ])
}

fn branch_json() -> BoxedStrategy<Value> {
    let commit = entity(vec![("id", text()), ("committed_date", date())]);
    entity(vec![
        ("name", text()),
        ("commit", commit),
        ("default", flag()),
    ])
}

fn group_json() -> BoxedStrategy<Value> {
    entity(vec![
        ("id", number()),
        ("full_path", text()),
        ("parent_id", number()),
        ("web_url", text()),
    ])
}

fn token_json() -> BoxedStrategy<Value> {
    let day = prop_oneof![
        "[0-9]{4}-[0-9]{2}-[0-9]{2}".prop_map(Value::from),
        rfc3339().prop_map(Value::from),
    ]
    .boxed();
    entity(vec![
        ("id", number()),
        ("name", text()),
        ("revoked", flag()),
        ("active", flag()),
        ("scopes", texts()),
        ("user_id", number()),
        ("expires_at", day),
    ])
}

/// A listing of up to a few entities, or anything at all.
fn listing(one: BoxedStrategy<Value>) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(one, 0..4).prop_map(Value::Array),
        1 => any_json(),
    ]
    .prop_map(|value| serde_json::to_vec(&value).unwrap_or_default())
    .boxed()
}

/// Everything the sync makes of a decoded commit: its record (which must fit a DynamoDB item), its item, and its
/// row in the analytics export.
fn convert_commit(commit: Commit) {
    let origin = ProjectOrigin {
        key: project_key("conn-1", 7),
        path_with_namespace: "g/p".into(),
        default_branch: "main".into(),
    };
    let record = from_gitlab(commit, &origin, false, OffsetDateTime::now_utc());
    assert!(record.item_size() <= MAX_ITEM_BYTES);
    let item: Result<
        std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
        _,
    > = serde_dynamo::to_item(&record);
    assert!(item.is_ok());
    #[cfg(feature = "export")]
    {
        let change = crate::export::ChangedCommit {
            record,
            changed_at: change_stamp(OffsetDateTime::now_utc()),
        };
        let row = crate::export::ExportRow::from_change(&origin.key, change, 0);
        assert!(row.is_ok(), "a stored record always makes a row");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_decode_to_an_error_or_an_entity(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode::<Vec<Commit>>(&body, TOKEN);
        let _ = decode::<Vec<Project>>(&body, TOKEN);
        let _ = decode::<Branch>(&body, TOKEN);
        let _ = decode::<TokenInfo>(&body, TOKEN);
    }

    #[test]
    fn commits_of_any_shape_never_panic(body in listing(commit_json())) {
        if let Ok(commits) = decode::<Vec<Commit>>(&body, TOKEN) {
            for commit in commits {
                convert_commit(commit);
            }
        }
    }

    #[test]
    fn projects_and_groups_of_any_shape_never_panic(
        projects in listing(project_json()),
        groups in listing(group_json()),
    ) {
        if let Ok(projects) = decode::<Vec<Project>>(&projects, TOKEN) {
            for project in projects {
                let found = DiscoveredProject::from_gitlab(&project, "cred-1", false);
                let _ = found.has_history();
            }
        }
        let _ = decode::<Vec<Group>>(&groups, TOKEN);
    }

    #[test]
    fn branches_and_tokens_of_any_shape_never_panic(
        branch in branch_json(),
        token in token_json(),
        today in 0..=9999i32,
    ) {
        if let Ok(branch) = decode::<Branch>(&serde_json::to_vec(&branch).unwrap_or_default(), TOKEN) {
            let _ = utc(branch.commit.committed_date);
            let _ = change_stamp(branch.commit.committed_date);
        }
        if let Ok(info) = decode::<TokenInfo>(&serde_json::to_vec(&token).unwrap_or_default(), TOKEN) {
            let today = time::Date::from_ordinal_date(today, 1).unwrap_or(time::Date::MIN);
            let _ = unusable(&info, today);
            let _ = info.can_read_api();
            let _ = excess_scopes(&info.scopes);
        }
    }

    #[test]
    fn headers_and_error_bodies_of_any_shape_never_panic(
        values in prop::collection::vec(prop_oneof![any_text(), any::<u64>().prop_map(|n| n.to_string()), Just("-1".to_owned())], 6),
        status in 100..=599u16,
        body in any_json(),
    ) {
        let names = ["x-next-page", "link", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after"];
        let mut headers = HeaderMap::new();
        for (name, value) in names.iter().zip(&values) {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        let _ = next_page_header(&headers);
        let limits = RateLimitHeaders::from_headers(&headers);
        let _ = limits.wait_after_429(Duration::from_secs(1));
        RequestBudget::per_minute(2_000, 10).observe(&limits, Duration::from_secs(120));
        if let Ok(status) = StatusCode::from_u16(status) {
            let _ = classify_status(status, &body.to_string(), TOKEN);
            // A token GitLab echoes anywhere in its message never reaches the error, whole or cut.
            let echo = serde_json::json!({"message": format!("{}{TOKEN}", values[0])}).to_string();
            let error = classify_status(status, &echo, TOKEN).to_string();
            prop_assert!(!error.contains(&TOKEN[..8]), "{error}");
        }
    }
}
