//! `commits.list` through the handler, on commits written by the sync's own adapter to the stand-in's commits table
//! and read back through its `by_committed_at` index: whole walks page by page, the time window, removed commits,
//! and every bad parameter or foreign cursor a 400 naming it.

use std::collections::BTreeSet;

use shared::aws::commit_store::DynamoCommitStore;
use shared::kernel::commit_record::CommitRecord;
use shared::sync::CommitStore;
use shared::testing::project_key;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;

const PROJECT: u64 = 42;

/// The commit time of commit `i`: one an hour from 2024-01-01, every seventh sharing its second with the one
/// before (ties the index orders by its own rule).
fn at(i: u64) -> OffsetDateTime {
    let hours = i - u64::from(i % 7 == 6);
    datetime!(2024-01-01 00:00:00 UTC) + Duration::hours(hours as i64)
}

/// Commit `i` of `connection`'s `project`, as the sync stores it; shas do not sort in commit order.
fn commit(connection: &str, project: u64, i: u64) -> CommitRecord {
    let sha = format!("{:040x}", (i * 7919 + 13) % 100_003);
    let committed = at(i).format(&Rfc3339).unwrap();
    serde_json::from_value(json!({
        "project_key": project_key(connection, project).partition(), "sha": sha,
        "committed_at": committed, "short_id": &sha[..8], "parent_ids": [], "title": format!("commit {i}"),
        "message": format!("commit {i}\n"), "author_name": "a", "author_email": "a@example.com",
        "authored_date": committed, "committer_name": "c", "committer_email": "c@example.com",
        "committed_date": committed, "web_url": "", "project_path": "acme/app", "default_branch": "main",
        "imported_at": "2025-01-01T00:00:00Z"
    }))
    .unwrap()
}

/// An env whose connection exists, with `n` commits of [`PROJECT`] (those `removed` says marked removed), and
/// neighbours that must never show: another project of the connection, the same project of another connection.
async fn history(n: u64, removed: impl Fn(u64) -> bool) -> Env {
    let env = env().await;
    create(&env, GOOD).await;
    let store = DynamoCommitStore::new(env.aws.dynamodb.clone(), env.aws.table("CommitsTable"));
    let mut records: Vec<CommitRecord> = (0..n).map(|i| commit(CONN, PROJECT, i)).collect();
    records.extend((0..5).map(|i| commit(CONN, PROJECT + 1, i)));
    records.extend((0..5).map(|i| commit("other-conn", PROJECT, i)));
    for page in records.chunks(100) {
        assert_eq!(
            store.put(page.to_vec()).await.unwrap(),
            Vec::<String>::new()
        );
    }
    let gone: Vec<String> = (0..n)
        .filter(|i| removed(*i))
        .map(|i| commit(CONN, PROJECT, i).sha)
        .collect();
    store
        .mark_removed(
            &project_key(CONN, PROJECT),
            gone,
            datetime!(2025-02-01 0:00 UTC),
        )
        .await
        .unwrap();
    env
}

/// Every page of `query` (a query string without `cursor`), following `next_cursor` to the end.
async fn walk(env: &Env, query: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let mut route = format!("commits.list?{query}");
        if let Some(cursor) = &cursor {
            route.push_str(&format!("&cursor={cursor}"));
        }
        let (status, body) = send(&env.api, get(&route)).await;
        assert_eq!(status, 200, "{route}: {body}");
        pages.push(body["commits"].as_array().unwrap().clone());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert!(body["next_cursor"].is_null(), "{body}");
                return pages;
            }
        }
    }
    panic!("{query}: the listing never ended");
}

/// The shas of the commits `i` of [`PROJECT`], newest first (ties in any order).
fn newest_first(commits: &[Value]) -> Vec<String> {
    let times: Vec<&str> = commits
        .iter()
        .map(|c| c["committed_at"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {times:?}"
    );
    commits
        .iter()
        .map(|c| c["sha"].as_str().unwrap().to_owned())
        .collect()
}

fn shas(indexes: impl Iterator<Item = u64>) -> BTreeSet<String> {
    indexes.map(|i| commit(CONN, PROJECT, i).sha).collect()
}

fn as_set(shas: &[String]) -> BTreeSet<String> {
    let set: BTreeSet<String> = shas.iter().cloned().collect();
    assert_eq!(set.len(), shas.len(), "a commit repeated across pages");
    set
}

#[tokio::test]
async fn pages_walk_the_whole_history_newest_first_without_gaps_or_repeats() {
    let env = history(137, |_| false).await;
    let pages = walk(&env, &format!("project_id={PROJECT}&limit=25")).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [25, 25, 25, 25, 25, 12]);
    let listed = newest_first(&pages.concat());
    assert_eq!(as_set(&listed), shas(0..137));
    let first = &pages[0][0];
    assert_eq!(first["title"], "commit 136");
    assert_eq!(first.get("project_key"), None, "no internal key: {first}");
    assert_eq!(first.get("removed_at"), None);
    for field in [
        "sha",
        "committed_at",
        "author_email",
        "project_path",
        "imported_at",
    ] {
        assert!(first[field].is_string(), "{field}: {first}");
    }
    // The default page is 50; a cursor carries on whatever the next page's size.
    let (_, default) = send(&env.api, get(&format!("commits.list?project_id={PROJECT}"))).await;
    assert_eq!(default["commits"].as_array().unwrap().len(), 50);
    let cursor = default["next_cursor"].as_str().unwrap();
    let (_, rest) = send(
        &env.api,
        get(&format!(
            "commits.list?project_id={PROJECT}&limit=100&cursor={cursor}"
        )),
    )
    .await;
    let rest = newest_first(rest["commits"].as_array().unwrap());
    assert_eq!(rest.len(), 87);
    assert_eq!(
        as_set(&[newest_first(default["commits"].as_array().unwrap()), rest].concat()),
        shas(0..137)
    );
}

#[tokio::test]
async fn since_is_inclusive_and_until_exclusive_in_any_offset() {
    let env = history(60, |_| false).await;
    let utc = |i: u64| at(i).format(&Rfc3339).unwrap();
    // Commits 10 to 29 (29 is the one at 28's second, 27 the one at 26's); until is the second of commit 30.
    let listed = walk(
        &env,
        &format!(
            "project_id={PROJECT}&since={}&until={}&limit=7",
            utc(10),
            utc(30)
        ),
    )
    .await
    .concat();
    assert_eq!(as_set(&newest_first(&listed)), shas(10..30));
    // The same instants at +02:00, the plus encoded; and unencoded, which arrives as a space.
    let plus_two = |i: u64| {
        at(i)
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap())
            .format(&Rfc3339)
            .unwrap()
    };
    for plus in ["%2B", "+"] {
        let since = plus_two(10).replace('+', plus);
        let until = plus_two(30).replace('+', plus);
        let listed = walk(
            &env,
            &format!("project_id={PROJECT}&since={since}&until={until}"),
        )
        .await
        .concat();
        assert_eq!(as_set(&newest_first(&listed)), shas(10..30), "{plus}");
    }
    let only_since = walk(&env, &format!("project_id={PROJECT}&since={}", utc(50))).await;
    assert_eq!(as_set(&newest_first(&only_since.concat())), shas(50..60));
    let only_until = walk(&env, &format!("project_id={PROJECT}&until={}", utc(5))).await;
    assert_eq!(as_set(&newest_first(&only_until.concat())), shas(0..5));
    let empty = walk(
        &env,
        &format!("project_id={PROJECT}&since=2030-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(empty, vec![Vec::<Value>::new()]);
}

#[tokio::test]
async fn removed_commits_are_left_out_unless_asked_for() {
    // A long run of removed commits (a force-push) in the middle, and a few scattered ones.
    let removed = |i: u64| (40..75).contains(&i) || i.is_multiple_of(11);
    let env = history(100, removed).await;
    let pages = walk(&env, &format!("project_id={PROJECT}&limit=5")).await;
    let live = newest_first(&pages.concat());
    assert_eq!(as_set(&live), shas((0..100).filter(|i| !removed(*i))));
    assert!(
        pages.iter().all(|page| page.len() <= 5),
        "{:?}",
        pages.iter().map(Vec::len).collect::<Vec<_>>()
    );
    // The run is 35 items: one page reads at most 5 x 5 of them, so one page comes back short and the next goes on.
    assert!(
        pages[..pages.len() - 1].iter().any(|page| page.len() < 5),
        "{:?}",
        pages.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let all = walk(
        &env,
        &format!("project_id={PROJECT}&limit=30&include_removed=true"),
    )
    .await
    .concat();
    assert_eq!(as_set(&newest_first(&all)), shas(0..100));
    let marked: BTreeSet<String> = all
        .iter()
        .filter(|c| c["removed_at"] == "2025-02-01T00:00:00Z")
        .map(|c| c["sha"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(marked, shas((0..100).filter(|i| removed(*i))));
}

#[tokio::test]
async fn bad_parameters_and_foreign_cursors_are_400s_naming_the_parameter() {
    let env = history(30, |i| i == 3).await;
    let (_, first) = send(
        &env.api,
        get(&format!("commits.list?project_id={PROJECT}&limit=2")),
    )
    .await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, windowed) = send(
        &env.api,
        get(&format!(
            "commits.list?project_id={PROJECT}&limit=2&since=2024-01-01T05:00:00Z"
        )),
    )
    .await;
    let windowed_cursor = windowed["next_cursor"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone();
    tampered.replace_range(10..12, "AA");
    let p = format!("project_id={PROJECT}");
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "project_id"),
        ("project_id=".into(), "project_id"),
        ("project_id=0".into(), "project_id"),
        ("project_id=-1".into(), "project_id"),
        ("project_id=abc".into(), "project_id"),
        ("project_id=184467440737095516160".into(), "project_id"),
        (format!("{p}&limit=0"), "limit"),
        (format!("{p}&limit=101"), "limit"),
        (format!("{p}&limit=x"), "limit"),
        (format!("{p}&since=yesterday"), "since"),
        (format!("{p}&since=2024-01-01"), "since"),
        (format!("{p}&until=2024-13-01T00:00:00Z"), "until"),
        (
            format!("{p}&since=2024-02-01T00:00:00Z&until=2024-01-01T00:00:00Z"),
            "until",
        ),
        (
            format!("{p}&since=2024-01-01T00:00:00Z&until=2024-01-01T00:00:00Z"),
            "until",
        ),
        (format!("{p}&include_removed=maybe"), "include_removed"),
        (format!("{p}&cursor=%25%25%25"), "cursor"),
        (format!("{p}&cursor={}", "A".repeat(2000)), "cursor"),
        (format!("{p}&cursor={tampered}"), "cursor"),
        // Another project, another filter, another window: each a cursor of another query.
        (
            format!("project_id={}&cursor={cursor}", PROJECT + 1),
            "cursor",
        ),
        (
            format!("{p}&include_removed=true&cursor={cursor}"),
            "cursor",
        ),
        (
            format!("{p}&until=2024-01-02T00:00:00Z&cursor={cursor}"),
            "cursor",
        ),
        (format!("{p}&cursor={windowed_cursor}"), "cursor"),
    ];
    for (query, parameter) in cases {
        let (status, body) = send(&env.api, get(&format!("commits.list?{query}"))).await;
        assert_eq!(
            (status, body["error"].as_str(), body["parameter"].as_str()),
            (400, Some("invalid_parameter"), Some(parameter)),
            "{query}: {body}"
        );
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with(parameter), "{message}");
        assert!(
            !message.contains("yesterday") && !message.contains(&cursor),
            "{message}"
        );
    }
    // The good cursor still serves its own query.
    let (status, _) = send(
        &env.api,
        get(&format!("commits.list?{p}&limit=2&cursor={cursor}")),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_route_answers_like_the_others_for_missing_connections_methods_and_storage() {
    // A connection that never had a credential.
    let env = env().await;
    refused(
        &env.api,
        get("commits.list?project_id=1"),
        404,
        "connection_not_found",
    )
    .await;
    create(&env, GOOD).await;
    let (status, body) = send(&env.api, get("commits.list?project_id=1")).await;
    assert_eq!((status, &body["commits"]), (200, &json!([])), "{body}");
    assert_eq!(body["next_cursor"], Value::Null);
    refused(
        &env.api,
        post("commits.list?project_id=1", &json!({})),
        405,
        "method_not_allowed",
    )
    .await;
    // The commits table unreachable: ours, and said without internals.
    let broken = CredentialsApi {
        commits: CommitLog::new(DynamoCommitReader::new(
            env.aws.dynamodb.clone(),
            "no-such-table",
        )),
        ..api_for(
            &env.aws,
            env.aws.table("StateTable"),
            &env.prefix,
            &env.sim.base_url(),
            NetworkPolicy::AllowPrivate,
        )
    };
    let body = refused(
        &broken,
        get("commits.list?project_id=1"),
        503,
        "service_unavailable",
    )
    .await;
    assert!(!body.to_string().contains("no-such-table"), "{body}");
}

#[tokio::test]
async fn the_sample_event_lists_through_the_handler() {
    let env = history(10, |_| false).await;
    let path = format!(
        "{}/../events/apigw-commits-list.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        sample["queryStringParameters"]["project_id"],
        PROJECT.to_string()
    );
    let (status, body) = send(&env.api, into_request(&sample)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        as_set(&newest_first(body["commits"].as_array().unwrap())),
        shas(0..10)
    );
    assert_eq!(body["next_cursor"], Value::Null);
}

/// Messages full of control characters, which JSON writes as six bytes each (`\u0001`) and the Lambda response
/// escapes once more: every page the handler answers stays under 5 MB as the function returns it, and the walk
/// still yields every commit exactly once.
#[tokio::test]
async fn pages_of_escaped_messages_stay_under_five_megabytes() {
    let env = env().await;
    create(&env, GOOD).await;
    let store = DynamoCommitStore::new(env.aws.dynamodb.clone(), env.aws.table("CommitsTable"));
    // 300,000 control characters: a 300 KB item, 1.8 MB of JSON, 2.1 MB in the response. Every third is short.
    let records: Vec<CommitRecord> = (0..9)
        .map(|i| CommitRecord {
            message: if i % 3 == 0 {
                format!("commit {i}\n")
            } else {
                "\u{1}".repeat(300_000)
            },
            ..commit(CONN, PROJECT, i)
        })
        .collect();
    for record in records {
        assert_eq!(store.put(vec![record]).await.unwrap(), Vec::<String>::new());
    }
    let mut cursor: Option<String> = None;
    let mut listed = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let mut route = format!("commits.list?project_id={PROJECT}&limit=100");
        if let Some(cursor) = &cursor {
            route.push_str(&format!("&cursor={cursor}"));
        }
        let reply = handler(&env.api, get(&route)).await.unwrap();
        assert_eq!(reply.status(), 200);
        let body = std::str::from_utf8(reply.body().as_ref())
            .unwrap()
            .to_owned();
        // The body as the Lambda response carries it: a JSON string inside the response's JSON.
        let in_response = serde_json::to_string(&body).unwrap().len();
        assert!(in_response < 5_000_000, "a page of {in_response} bytes");
        sizes.push(in_response);
        let page: Value = serde_json::from_str(&body).unwrap();
        listed.extend(newest_first(page["commits"].as_array().unwrap()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(sizes.len() < 20, "the listing never ended");
    }
    assert_eq!(listed.len(), 9, "{sizes:?}");
    assert_eq!(as_set(&listed), shas(0..9));
    assert!(sizes.len() >= 3, "{sizes:?}");
}
