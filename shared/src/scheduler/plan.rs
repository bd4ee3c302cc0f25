//! The pure part of a turn: what a tick does with each discovered project, decided from what discovery found and
//! what the project's item holds. No I/O here; [`super::turn`] carries the decisions out.

use std::collections::{BTreeMap, HashMap};

use super::model::{ConnectionReport, DiscoveredProject};
use super::ports::{KnownProject, ProjectRecord};
use crate::kernel::enqueue_lease::EnqueueLease;
use crate::kernel::project_status::ProjectStatus;
use crate::kernel::time::parse_utc;

/// Why a discovered project gets no message this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// The credential's patterns leave it out.
    Excluded,
    /// An empty repository (or no default branch): nothing to import.
    Empty,
    /// GitLab refused its repository (the status says how) less than the retry period ago.
    Refused(ProjectStatus),
    /// An earlier message's lease still holds.
    InFlight,
    /// Archived, and its history is fully imported.
    ArchivedDone,
    /// Imported, and quiet: a sync found its head current after GitLab's last activity could have hidden a push
    /// ([`Rules::quiet`]).
    Quiet,
}

impl Hold {
    /// Counts the held project in its column of the connection's report.
    pub fn count_in(self, report: &mut ConnectionReport) {
        match self {
            Hold::Empty => report.empty += 1,
            Hold::InFlight => report.in_flight += 1,
            Hold::ArchivedDone => report.archived_done += 1,
            Hold::Excluded => report.excluded += 1,
            Hold::Refused(_) => report.inaccessible += 1,
            Hold::Quiet => report.quiet += 1,
        }
    }
}

/// What a tick does with one discovered project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Write the metadata and take the enqueue lease: a message once it is written.
    Claim,
    /// Write the metadata only.
    Refresh(Hold),
    /// Write nothing: the item already holds exactly this metadata.
    Keep(Hold),
}

impl Step {
    /// The status the project's record shows.
    pub fn status(self) -> ProjectStatus {
        match self {
            Step::Claim
            | Step::Refresh(Hold::InFlight | Hold::Quiet)
            | Step::Keep(Hold::InFlight | Hold::Quiet) => ProjectStatus::Active,
            Step::Refresh(hold) | Step::Keep(hold) => match hold {
                Hold::Excluded => ProjectStatus::Excluded,
                Hold::Empty => ProjectStatus::Empty,
                Hold::Refused(status) => status,
                Hold::ArchivedDone => ProjectStatus::Archived,
                Hold::InFlight | Hold::Quiet => ProjectStatus::Active,
            },
        }
    }
}

/// What a tick's decisions depend on besides the project: the time and the scheduler's periods, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Now, in epoch seconds.
    pub now: i64,
    /// A refused project is claimed again this long after the refusal.
    pub retry: i64,
    /// A quiet project is synced anyway once a sync last found it current this long ago: the safety net for a push
    /// GitLab records no activity for (a lost update of `last_activity_at`, a push it makes no event of).
    pub full_check: i64,
    /// How long after `last_activity_at` a push may leave it unmoved: GitLab moves it at most once an hour, so a
    /// push within the hour after it shows no change.
    pub activity_lag: i64,
}

impl Rules {
    /// Whether the project needs no sync this tick: imported, and a sync found its head current on the branch
    /// GitLab now lists as default ([`KnownProject::verified`]) at least `activity_lag` after its
    /// `last_activity_at` (so any later push would have moved that), and within `full_check`. A project with no
    /// recorded activity is never quiet, nor one whose default branch changed since that sync (GitLab records no
    /// activity for that), nor one with a re-import pending.
    pub fn quiet(&self, project: &DiscoveredProject, known: &KnownProject) -> bool {
        let activity = project
            .last_activity_at
            .as_deref()
            .and_then(parse_utc)
            .map(|at| at.unix_timestamp());
        match (activity, &known.verified) {
            (Some(activity), Some(verified)) => {
                known.imported
                    && verified.branch == project.default_branch
                    && verified.at >= activity.saturating_add(self.activity_lag)
                    && verified.at > self.now.saturating_sub(self.full_check)
            }
            _ => false,
        }
    }
}

/// Decides a project's step from what discovery found and what its item holds.
pub fn plan(project: &DiscoveredProject, known: Option<&KnownProject>, rules: &Rules) -> Step {
    let now = rules.now;
    let lease_holds = known
        .and_then(|k| k.lease.as_ref())
        .is_some_and(|lease| lease.until >= now);
    let refused = known
        .and_then(|k| k.refused)
        .filter(|refusal| refusal.at.saturating_add(rules.retry) > now);
    let hold = if project.excluded {
        Hold::Excluded
    } else if !project.has_history() {
        Hold::Empty
    } else if let Some(refusal) = refused {
        Hold::Refused(refusal.status)
    } else if project.archived && known.is_some_and(|k| k.imported) {
        Hold::ArchivedDone
    } else if lease_holds {
        Hold::InFlight
    } else if known.is_some_and(|k| rules.quiet(project, k)) {
        Hold::Quiet
    } else {
        return Step::Claim;
    };
    let step = Step::Keep(hold);
    let unchanged = known.is_some_and(|k| {
        !k.gone && k.recorded.as_ref() == Some(project) && k.status == Some(step.status())
    });
    if unchanged { step } else { Step::Refresh(hold) }
}

/// The step of every project found, in project id order.
pub fn plan_all<'a>(
    found: &'a BTreeMap<u64, DiscoveredProject>,
    known: &HashMap<u64, KnownProject>,
    rules: &Rules,
) -> Vec<(&'a DiscoveredProject, Step)> {
    found
        .values()
        .map(|project| {
            (
                project,
                plan(project, known.get(&project.project_id), rules),
            )
        })
        .collect()
}

/// Each credential's projects by status word, as its sync summary shows them.
pub type StatusCounts = BTreeMap<String, BTreeMap<&'static str, u64>>;

/// How many projects of each status each credential found.
pub fn status_counts(steps: &[(&DiscoveredProject, Step)]) -> StatusCounts {
    let mut counts = StatusCounts::new();
    for (project, step) in steps {
        *counts
            .entry(project.credential_id.clone())
            .or_default()
            .entry(step.status().as_str())
            .or_default() += 1;
    }
    counts
}

/// Each project's whole record, for those whose item changes: a claimed project takes `taken`, a refreshed one
/// keeps the lease its item holds; a kept one is not written.
pub fn records_to_write<'a>(
    steps: &[(&'a DiscoveredProject, Step)],
    known: &'a HashMap<u64, KnownProject>,
    taken: &'a EnqueueLease,
    seen_at: &'a str,
) -> Vec<ProjectRecord<'a>> {
    steps
        .iter()
        .filter_map(|&(project, step)| {
            let lease = match step {
                Step::Claim => Some(taken),
                Step::Refresh(_) => known
                    .get(&project.project_id)
                    .and_then(|k| k.lease.as_ref()),
                Step::Keep(_) => return None,
            };
            Some(ProjectRecord {
                project,
                seen_at,
                lease,
                status: step.status(),
            })
        })
        .collect()
}

/// Keeps the first credential's finding of a project, unless its patterns exclude the project and a later
/// credential's include it: a project is left out only when every credential that found it leaves it out.
pub fn merge_found(
    found: &mut BTreeMap<u64, DiscoveredProject>,
    id: u64,
    project: DiscoveredProject,
) {
    let replaces = found
        .get(&id)
        .is_none_or(|first| first.excluded && !project.excluded);
    if replaces {
        found.insert(id, project);
    }
}

#[cfg(test)]
mod tests;
