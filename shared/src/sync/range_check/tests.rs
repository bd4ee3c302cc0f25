//! The range check against listings of a small history: in order, over pages, with duplicates, out of order,
//! cut short, from elsewhere; and the commit ids it accepts.

use time::OffsetDateTime;

use super::*;

#[test]
fn a_range_without_base_is_the_whole_history() {
    assert_eq!(range(None, "abc"), "abc");
    assert_eq!(range(Some("def"), "abc"), "def..abc");
    assert_eq!(bounds("def..abc"), (Some("def"), "abc"));
    assert_eq!(bounds("abc"), (None, "abc"));
}

fn id(n: u32) -> String {
    format!("{n:040x}")
}

fn commit(n: u32, parents: &[u32]) -> Commit {
    let at = OffsetDateTime::UNIX_EPOCH;
    Commit {
        id: id(n),
        short_id: id(n)[..8].to_owned(),
        parent_ids: parents.iter().map(|&p| id(p)).collect(),
        title: String::new(),
        message: String::new(),
        author_name: String::new(),
        author_email: String::new(),
        authored_date: at,
        committer_name: String::new(),
        committer_email: String::new(),
        committed_date: at,
        trailers: Default::default(),
        extended_trailers: Default::default(),
        web_url: String::new(),
        stats: None,
    }
}

fn page(commits: Vec<Commit>) -> CommitPage {
    CommitPage {
        commits,
        next_page: None,
        stats_missing: false,
        memory: Default::default(),
    }
}

fn admitted(check: &mut RangeCheck, commits: Vec<Commit>) -> Vec<String> {
    let admitted = check.admit(page(commits)).unwrap();
    admitted.into_iter().map(|(c, _)| c.id).collect()
}

/// `1..5`: 5 merges 4 and 3 (a side line from 2), 4 and 3 come from 2, 2 from 1 (the base).
fn diamond() -> Vec<Commit> {
    vec![
        commit(5, &[4, 3]),
        commit(4, &[2]),
        commit(3, &[2]),
        commit(2, &[1]),
    ]
}

#[test]
fn a_range_listed_from_its_top_down_checks_out_over_pages() {
    let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
    let mut commits = diamond();
    let second = commits.split_off(2);
    assert_eq!(admitted(&mut check, commits), [id(5), id(4)]);
    assert_eq!(admitted(&mut check, second), [id(3), id(2)]);
    check.finish().unwrap();

    // Duplicates (a page read twice) change nothing.
    let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
    admitted(&mut check, diamond());
    assert_eq!(admitted(&mut check, diamond()).len(), 4);
    check.finish().unwrap();

    // A whole history has no base to reach.
    let mut check = RangeCheck::new(&id(2), &id(2), None).unwrap();
    admitted(&mut check, vec![commit(2, &[1]), commit(1, &[])]);
    check.finish().unwrap();
}

#[test]
fn an_empty_listing_or_one_without_its_top_is_inconsistent() {
    let check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
    assert!(matches!(check.finish(), Err(Inconsistent(_))));

    // An older range of the same history: nothing is admitted, so nothing would be written.
    let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
    assert!(admitted(&mut check, diamond().split_off(1)).is_empty());
    let error = check.finish().unwrap_err();
    assert!(error.to_string().contains("top"), "{error}");
}

#[test]
fn commits_from_outside_the_range_are_never_admitted() {
    let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
    let mut commits = diamond();
    // Another project's commit, with parents of its own, in the middle of the page.
    commits.insert(2, commit(90, &[91]));
    let ids = admitted(&mut check, commits);
    assert_eq!(ids, [id(5), id(4), id(3), id(2)]);
    assert!(matches!(check.finish(), Err(Inconsistent(_))));
}

#[test]
fn the_base_must_be_the_parent_of_a_commit_read() {
    // Cut short: 2, whose parent is the base, is missing.
    let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
    admitted(&mut check, diamond()[..3].to_vec());
    let error = check.finish().unwrap_err();
    assert!(error.to_string().contains("base"), "{error}");

    // A base that is not an ancestor of the top (a wrong anchor or merge base).
    let mut check = RangeCheck::new("7..5", &id(5), Some(&id(7))).unwrap();
    admitted(&mut check, diamond());
    assert!(check.finish().is_err());
}

#[test]
fn a_parent_listed_before_its_child_waits_for_it() {
    let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
    let [five, four, three, two] = <[Commit; 4]>::try_from(diamond()).unwrap();
    assert_eq!(admitted(&mut check, vec![five, two]), [id(5)]);
    // 4 makes 2 reachable; 3 is reachable from 5 already.
    assert_eq!(
        admitted(&mut check, vec![four, three]),
        [id(4), id(2), id(3)]
    );
    check.finish().unwrap();

    // But no more than a page waits: an answer from elsewhere fails early.
    let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
    let foreign: Vec<Commit> = (100..=100 + WAITING_COMMITS as u32)
        .map(|n| commit(n, &[n + 1]))
        .collect();
    assert!(matches!(check.admit(page(foreign)), Err(Inconsistent(_))));
}

#[test]
fn only_commit_ids_are_accepted() {
    for good in [id(7), "c".repeat(64)] {
        assert!(commit_key(&good).is_ok(), "{good}");
    }
    for bad in [
        "main".to_owned(),
        id(0xabc).to_uppercase(),
        id(7)[..39].to_owned(),
        format!("{}g", &id(7)[..39]),
        format!("{}..{}", &id(1)[..19], &id(2)[..19]),
        "x".repeat(1 << 20),
    ] {
        let error = commit_key(&bad).unwrap_err();
        assert!(error.to_string().len() < 200, "the detail stays short");
    }
    let mut check = RangeCheck::new("1..5", &id(5), Some(&id(1))).unwrap();
    let mut bad_parent = commit(5, &[4]);
    bad_parent.parent_ids.push("HEAD~1".into());
    assert!(check.admit(page(vec![bad_parent])).is_err());
}
