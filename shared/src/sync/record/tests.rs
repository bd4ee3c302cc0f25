//! The record built from GitLab's commit: what an item leaves out, and how an oversized one is cut to fit.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::{ProjectOrigin, from_gitlab};
use crate::gitlab::{Commit, CommitStats};
use crate::kernel::commit_record::{
    CommitRecord, KEPT_BYTES, MAX_ITEM_BYTES, MAX_MESSAGE_BYTES, cap_message,
};
use crate::kernel::time::utc;
use crate::testing::project_key;

#[test]
fn long_messages_are_cut_at_a_character_boundary() {
    let (short, cut) = cap_message("fix".into());
    assert_eq!((short.as_str(), cut), ("fix", false));
    let long = "é".repeat(MAX_MESSAGE_BYTES); // two bytes each
    let (capped, cut) = cap_message(long);
    assert!(cut);
    assert!(capped.len() <= MAX_MESSAGE_BYTES);
    assert!(capped.chars().all(|c| c == 'é'));
}

#[test]
fn items_leave_out_empty_trailers_and_false_flags_and_read_back_whole() {
    let date = time::macros::datetime!(2024-05-06 07:08:09 +02:00);
    let commit = Commit {
        id: "a".repeat(40),
        short_id: "a".repeat(8),
        parent_ids: vec![],
        title: "t".into(),
        message: "t\n".into(),
        author_name: "a".into(),
        author_email: "a@example.com".into(),
        authored_date: date,
        committer_name: "c".into(),
        committer_email: "c@example.com".into(),
        committed_date: date,
        trailers: BTreeMap::new(),
        extended_trailers: BTreeMap::new(),
        web_url: String::new(),
        stats: Some(CommitStats {
            additions: 1,
            deletions: 2,
            total: 3,
        }),
    };
    let origin = ProjectOrigin {
        key: project_key("c", 1),
        path_with_namespace: "g/p".into(),
        default_branch: "main".into(),
    };
    let plain = from_gitlab(commit.clone(), &origin, false, date);
    let item: serde_dynamo::Item = serde_dynamo::to_item(&plain).unwrap();
    for absent in [
        "trailers",
        "extended_trailers",
        "truncated_fields",
        "stats_missing",
        "removed_at",
    ] {
        assert!(!item.contains_key(absent), "{absent} stored");
    }
    assert_eq!(
        serde_dynamo::from_item::<_, CommitRecord>(item).unwrap(),
        plain
    );

    let trailer = "Co-authored-by".to_owned();
    let coauthor = "B <b@example.com>".to_owned();
    let rich = from_gitlab(
        Commit {
            trailers: BTreeMap::from([(trailer.clone(), coauthor.clone())]),
            extended_trailers: BTreeMap::from([(trailer, vec![coauthor])]),
            stats: None,
            ..commit
        },
        &origin,
        false,
        date,
    );
    let item: serde_dynamo::Item = serde_dynamo::to_item(&rich).unwrap();
    for present in ["trailers", "extended_trailers", "stats_missing"] {
        assert!(item.contains_key(present), "{present} missing");
    }
    assert_eq!(
        serde_dynamo::from_item::<_, CommitRecord>(item).unwrap(),
        rich
    );
}

fn commit() -> Commit {
    let date = time::macros::datetime!(2024-05-06 07:08:09 +02:00);
    Commit {
        id: "a".repeat(40),
        short_id: "a".repeat(8),
        parent_ids: vec!["b".repeat(40)],
        title: "Fix the build".into(),
        message: "Fix the build\n\nCo-authored-by: B <b@example.com>\n".into(),
        author_name: "Ann".into(),
        author_email: "ann@example.com".into(),
        authored_date: date,
        committer_name: "Bob".into(),
        committer_email: "bob@example.com".into(),
        committed_date: date,
        trailers: BTreeMap::from([("Co-authored-by".into(), "B <b@example.com>".into())]),
        extended_trailers: BTreeMap::from([(
            "Co-authored-by".into(),
            vec!["B <b@example.com>".into()],
        )]),
        web_url: "https://gitlab.example.com/g/p/-/commit/aaaa".into(),
        stats: Some(CommitStats {
            additions: 10,
            deletions: 2,
            total: 12,
        }),
    }
}

fn record(commit: Commit) -> CommitRecord {
    let origin = ProjectOrigin {
        key: project_key("conn-1", 42),
        path_with_namespace: "group/project".into(),
        default_branch: "main".into(),
    };
    let at = time::macros::datetime!(2024-06-01 00:00:00 UTC);
    from_gitlab(commit, &origin, false, at)
}

/// AWS's documented count of an encoded item (a number as its digits, which is more than AWS counts): what
/// [`CommitRecord::item_size`] must never undercount.
fn encoded_size(record: &CommitRecord) -> usize {
    use serde_dynamo::AttributeValue as V;
    fn value(v: &V) -> usize {
        match v {
            V::S(text) | V::N(text) => text.len(),
            V::Bool(_) | V::Null(_) => 1,
            V::L(list) => 3 + list.iter().map(|v| 1 + value(v)).sum::<usize>(),
            V::M(map) => {
                3 + map
                    .iter()
                    .map(|(k, v)| 1 + k.len() + value(v))
                    .sum::<usize>()
            }
            other => panic!("a commit record encodes no {other:?}"),
        }
    }
    let item: serde_dynamo::Item = serde_dynamo::to_item(record).unwrap();
    item.iter().map(|(name, v)| name.len() + value(v)).sum()
}

/// [`commit`] with `count` trailer values of `bytes` bytes each, under distinct keys (`Key-0000`, ...), in both
/// trailer fields.
fn with_big_trailers(count: usize, bytes: usize) -> Commit {
    let trailers: Vec<(String, String)> = (0..count)
        .map(|i| (format!("Key-{i:04}"), "x".repeat(bytes)))
        .collect();
    Commit {
        trailers: trailers.iter().cloned().collect(),
        extended_trailers: trailers.into_iter().map(|(k, v)| (k, vec![v])).collect(),
        ..commit()
    }
}

#[test]
fn the_size_counts_every_attribute_of_the_item() {
    let mut full = record(commit());
    full.stats_missing = true;
    full.removed_at = Some(utc(OffsetDateTime::UNIX_EPOCH));
    full.truncated_fields = vec!["message".into()];
    let mut bare = record(Commit {
        parent_ids: Vec::new(),
        trailers: BTreeMap::new(),
        extended_trailers: BTreeMap::new(),
        stats: None,
        ..commit()
    });
    bare.web_url.clear();
    for record in [full, bare] {
        let (estimate, encoded) = (record.item_size(), encoded_size(&record));
        // Never less; more only by the numbers' rounding (21 bytes each for at most 20 digits).
        assert!(
            estimate >= encoded && estimate - encoded <= 3 * 21,
            "{estimate} vs {encoded}"
        );
    }
}

#[test]
fn three_hundred_kb_of_trailers_lose_the_repeated_list_first() {
    let original = with_big_trailers(30, 10 * 1024);
    let stored = record(original.clone());
    assert!(
        encoded_size(&stored) <= MAX_ITEM_BYTES,
        "{}",
        encoded_size(&stored)
    );
    assert_eq!(stored.truncated_fields, ["extended_trailers"]);
    // The map of last values, the message and the rest are whole; the list keeps its first keys.
    assert_eq!(stored.trailers, original.trailers);
    assert_eq!(stored.message, original.message);
    assert!(!stored.extended_trailers.is_empty());
    assert!(
        stored
            .extended_trailers
            .iter()
            .zip(&original.extended_trailers)
            .all(|(kept, original)| kept == original),
        "a prefix of the keys in order"
    );

    // One key repeated 10,000 times (co-authors): only the list is long, and it keeps its first values.
    let coauthors: Vec<String> = (0..10_000)
        .map(|i| format!("Co Author {i:05} <c{i:05}@example.com>"))
        .collect();
    let stored = record(Commit {
        extended_trailers: BTreeMap::from([("Co-authored-by".into(), coauthors.clone())]),
        ..commit()
    });
    assert!(encoded_size(&stored) <= MAX_ITEM_BYTES);
    assert_eq!(stored.truncated_fields, ["extended_trailers"]);
    let kept = &stored.extended_trailers["Co-authored-by"];
    assert!(!kept.is_empty() && kept.len() < coauthors.len());
    assert_eq!(kept[..], coauthors[..kept.len()]);
}

#[test]
fn a_one_mb_message_is_stored_cut_at_64_kib() {
    let message = format!("Big\n\n{}", "é".repeat(512 * 1024));
    let stored = record(Commit {
        message: message.clone(),
        ..commit()
    });
    assert_eq!(stored.truncated_fields, ["message"]);
    assert!(stored.message.len() <= MAX_MESSAGE_BYTES);
    assert!(message.starts_with(&stored.message));
    assert_eq!(stored.title, commit().title);
    assert_eq!(stored.trailers, commit().trailers);
}

#[test]
fn cuts_follow_the_order_and_stop_once_the_item_fits() {
    let original = Commit {
        message: "m".repeat(1024 * 1024),
        title: "t".repeat(100 * 1024),
        author_name: "n".repeat(300 * 1024),
        web_url: "u".repeat(300 * 1024),
        ..with_big_trailers(20, 10 * 1024)
    };
    let stored = record(original.clone());
    assert!(encoded_size(&stored) <= MAX_ITEM_BYTES);
    // The message was over 64 KiB; then both trailer fields went, the message and the title down to their
    // floor, and the author's name, cut last, kept what fits.
    assert_eq!(
        stored.truncated_fields,
        [
            "message",
            "extended_trailers",
            "trailers",
            "title",
            "author_name"
        ]
    );
    assert!(stored.trailers.is_empty() && stored.extended_trailers.is_empty());
    assert_eq!(
        (stored.message.len(), stored.title.len()),
        (KEPT_BYTES, KEPT_BYTES)
    );
    let name = stored.author_name.len();
    assert!(name > 10 * 1024 && name < 300 * 1024, "{name}");
    // Everything after the last cut is whole, the later big field included.
    assert_eq!(stored.web_url, original.web_url);
    assert_eq!(stored.author_email, original.author_email);
    assert_eq!(stored.parent_ids, original.parent_ids);
}

#[test]
fn many_parents_keep_the_first_that_fit_and_nothing_else_is_cut() {
    let parents: Vec<String> = (0..20_000).map(|i| format!("{i:040x}")).collect();
    let original = Commit {
        parent_ids: parents.clone(),
        ..commit()
    };
    let stored = record(original.clone());
    assert!(encoded_size(&stored) <= MAX_ITEM_BYTES);
    // The small trailers are under their floor: only the parents are cut.
    assert_eq!(stored.truncated_fields, ["parent_ids"]);
    assert!(stored.parent_ids.len() > 8_000 && stored.parent_ids.len() < parents.len());
    assert_eq!(stored.parent_ids[..], parents[..stored.parent_ids.len()]);
    assert_eq!(
        (
            &stored.message,
            &stored.title,
            &stored.author_email,
            &stored.trailers
        ),
        (
            &original.message,
            &original.title,
            &original.author_email,
            &original.trailers
        )
    );
}
