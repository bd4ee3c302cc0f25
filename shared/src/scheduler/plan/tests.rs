//! The plan's decisions, project by project.

use std::collections::BTreeMap;

use super::*;
use crate::scheduler::ports::{AccessRefusal, Verified};
use crate::testing::discovered_project;

/// A day, the default retry of a refused project.
const RETRY: i64 = 86_400;

/// The rules at `now` with `retry`, and the default full check (a day) and activity lag (70 minutes).
fn rules(now: i64, retry: i64) -> Rules {
    Rules {
        now,
        retry,
        full_check: 86_400,
        activity_lag: 4_200,
    }
}

fn project(archived: bool, empty: bool) -> DiscoveredProject {
    DiscoveredProject {
        archived,
        empty_repo: empty,
        ..discovered_project(7, "g/p")
    }
}

/// The item a tick left for `project`, recorded with `status`.
fn known(
    project: &DiscoveredProject,
    lease_until: Option<i64>,
    imported: bool,
    status: ProjectStatus,
) -> KnownProject {
    KnownProject {
        project_id: project.project_id,
        gone: false,
        lease: lease_until.map(|until| EnqueueLease {
            enqueued_at: "2026-01-01T00:00:00Z".into(),
            until,
            visible_at_ms: (until - 3_000) * 1000,
        }),
        imported,
        refused: None,
        verified: None,
        recorded: Some(project.clone()),
        status: Some(status),
    }
}

#[test]
fn a_new_or_lapsed_project_is_claimed() {
    let p = project(false, false);
    assert_eq!(plan(&p, None, &rules(100, RETRY)), Step::Claim);
    let lapsed = known(&p, Some(99), true, ProjectStatus::Active);
    assert_eq!(plan(&p, Some(&lapsed), &rules(100, RETRY)), Step::Claim);
    // An archived project not yet imported is synced once.
    let a = project(true, false);
    let unimported = known(&a, None, false, ProjectStatus::Active);
    assert_eq!(plan(&a, Some(&unimported), &rules(100, RETRY)), Step::Claim);
}

#[test]
fn held_projects_are_written_only_when_their_metadata_or_status_changed() {
    let p = project(false, false);
    let held = known(&p, Some(100), false, ProjectStatus::Active);
    assert_eq!(
        plan(&p, Some(&held), &rules(100, RETRY)),
        Step::Keep(Hold::InFlight)
    );
    let mut renamed = p.clone();
    renamed.path_with_namespace = "g/renamed".into();
    assert_eq!(
        plan(&renamed, Some(&held), &rules(100, RETRY)),
        Step::Refresh(Hold::InFlight)
    );
    let gone = KnownProject {
        gone: true,
        ..held.clone()
    };
    assert_eq!(
        plan(&p, Some(&gone), &rules(100, RETRY)),
        Step::Refresh(Hold::InFlight)
    );
    let was_forbidden = KnownProject {
        status: Some(ProjectStatus::Forbidden),
        ..held
    };
    assert_eq!(
        plan(&p, Some(&was_forbidden), &rules(100, RETRY)),
        Step::Refresh(Hold::InFlight),
        "a status that changed is written"
    );

    let a = project(true, false);
    let done = known(&a, None, true, ProjectStatus::Archived);
    assert_eq!(
        plan(&a, Some(&done), &rules(100, RETRY)),
        Step::Keep(Hold::ArchivedDone)
    );
    let e = project(false, true);
    assert_eq!(
        plan(&e, None, &rules(100, RETRY)),
        Step::Refresh(Hold::Empty)
    );
    let empty = known(&e, None, false, ProjectStatus::Empty);
    assert_eq!(
        plan(&e, Some(&empty), &rules(100, RETRY)),
        Step::Keep(Hold::Empty)
    );
}

#[test]
fn a_refused_project_waits_for_its_retry_then_is_claimed_once() {
    let p = project(false, false);
    let refused_at = 1_000;
    let item = KnownProject {
        refused: Some(AccessRefusal {
            status: ProjectStatus::Forbidden,
            at: refused_at,
        }),
        ..known(&p, None, true, ProjectStatus::Active)
    };
    let next_tick = refused_at + 3_600;
    let step = plan(&p, Some(&item), &rules(next_tick, RETRY));
    assert_eq!(step, Step::Refresh(Hold::Refused(ProjectStatus::Forbidden)));
    assert_eq!(step.status(), ProjectStatus::Forbidden);
    let recorded = KnownProject {
        status: Some(ProjectStatus::Forbidden),
        ..item.clone()
    };
    assert_eq!(
        plan(&p, Some(&recorded), &rules(next_tick + 3_600, RETRY)),
        Step::Keep(Hold::Refused(ProjectStatus::Forbidden)),
        "held ticks write nothing"
    );
    assert_eq!(
        plan(&p, Some(&recorded), &rules(refused_at + RETRY, RETRY)),
        Step::Claim,
        "a day later it is tried again"
    );
    let never_overflows = KnownProject {
        refused: Some(AccessRefusal {
            status: ProjectStatus::NotFound,
            at: i64::MAX,
        }),
        ..item
    };
    assert_eq!(
        plan(&p, Some(&never_overflows), &rules(0, i64::MAX)),
        Step::Refresh(Hold::Refused(ProjectStatus::NotFound))
    );
}

#[test]
fn an_excluded_project_is_recorded_and_never_claimed() {
    let mut p = project(false, false);
    p.excluded = true;
    let step = plan(&p, None, &rules(100, RETRY));
    assert_eq!(step, Step::Refresh(Hold::Excluded));
    assert_eq!(step.status(), ProjectStatus::Excluded);
    let imported = known(&p, None, true, ProjectStatus::Excluded);
    assert_eq!(
        plan(&p, Some(&imported), &rules(100, RETRY)),
        Step::Keep(Hold::Excluded)
    );
}

#[test]
fn a_project_is_left_out_only_if_every_credential_that_found_it_leaves_it_out() {
    let mut found = BTreeMap::new();
    let mut by_first = project(false, false);
    by_first.excluded = true;
    let mut by_second = project(false, false);
    by_second.credential_id = "cred_2".into();
    merge_found(&mut found, 7, by_first.clone());
    merge_found(&mut found, 7, by_second.clone());
    assert_eq!(found[&7], by_second);
    let mut by_third = project(false, false);
    by_third.credential_id = "cred_3".into();
    merge_found(&mut found, 7, by_third);
    assert_eq!(found[&7], by_second, "the first that includes it keeps it");
    let mut only_excluded = BTreeMap::new();
    merge_found(&mut only_excluded, 7, by_first.clone());
    let mut also_excluded = by_second;
    also_excluded.excluded = true;
    merge_found(&mut only_excluded, 7, also_excluded);
    assert_eq!(only_excluded[&7], by_first);
}

#[test]
fn an_imported_project_without_activity_since_a_sync_found_it_current_is_quiet_until_the_full_check()
 {
    // given a project whose last activity GitLab shows at 10:00, imported, its lease lapsed
    let activity = 1_796_724_000; // 2026-12-08T10:00:00Z
    let p = DiscoveredProject {
        last_activity_at: Some("2026-12-08T10:00:00Z".into()),
        ..project(false, false)
    };
    let verified_on_main = |at: i64| Verified {
        at,
        branch: "main".into(),
    };
    let item = |verified_at: Option<i64>| KnownProject {
        verified: verified_at.map(verified_on_main),
        ..known(&p, Some(0), true, ProjectStatus::Active)
    };
    let at =
        |now: i64, verified_at: Option<i64>| plan(&p, Some(&item(verified_at)), &rules(now, RETRY));
    let now = activity + 6 * 3_600;
    // then a sync that found the head current 70 minutes or more after that activity makes it quiet
    assert_eq!(at(now, Some(activity + 4_200)), Step::Keep(Hold::Quiet));
    assert_eq!(
        at(now, Some(activity + 4_200)).status(),
        ProjectStatus::Active
    );
    // but one within the hour after it may have missed a push that left the activity unmoved
    assert_eq!(at(now, Some(activity + 4_199)), Step::Claim);
    assert_eq!(at(now, None), Step::Claim);
    // and a day after that check the project is synced anyway
    assert_eq!(
        at(activity + 4_200 + 86_400, Some(activity + 4_200)),
        Step::Claim
    );
    // activity after the check (GitLab moved it): synced
    let moved = DiscoveredProject {
        last_activity_at: Some("2026-12-08T12:00:00Z".into()),
        ..p.clone()
    };
    assert_eq!(
        plan(
            &moved,
            Some(&item(Some(activity + 4_200))),
            &rules(now, RETRY)
        ),
        Step::Claim
    );
    // a default branch changed (GitLab records no activity for that): synced on the new branch, even once a tick
    // recorded it (its message may have failed), until a sync found the new branch current
    let renamed = DiscoveredProject {
        default_branch: "trunk".into(),
        ..p.clone()
    };
    assert_eq!(
        plan(
            &renamed,
            Some(&item(Some(activity + 4_200))),
            &rules(now, RETRY)
        ),
        Step::Claim
    );
    let recorded_renamed = KnownProject {
        verified: Some(verified_on_main(activity + 4_200)),
        ..known(&renamed, Some(0), true, ProjectStatus::Active)
    };
    assert_eq!(
        plan(&renamed, Some(&recorded_renamed), &rules(now, RETRY)),
        Step::Claim
    );
    // no activity shown, or a history not fully imported: never quiet
    let unknown = DiscoveredProject {
        last_activity_at: None,
        ..p.clone()
    };
    assert_eq!(
        plan(&unknown, Some(&item(Some(now))), &rules(now, RETRY)),
        Step::Claim
    );
    let unfinished = KnownProject {
        imported: false,
        ..item(Some(now))
    };
    assert_eq!(plan(&p, Some(&unfinished), &rules(now, RETRY)), Step::Claim);
}
