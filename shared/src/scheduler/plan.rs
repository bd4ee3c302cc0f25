//! The pure part of a turn: what a tick does with each discovered project, decided from what discovery found and
//! what the project's item holds. No I/O here; [`super::turn`] carries the decisions out.

use std::collections::{BTreeMap, HashMap};

use super::model::{ConnectionReport, DiscoveredProject};
use super::ports::{KnownProject, ProjectRecord};
use crate::kernel::enqueue_lease::EnqueueLease;
use crate::kernel::project_status::ProjectStatus;

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
            Step::Claim | Step::Refresh(Hold::InFlight) | Step::Keep(Hold::InFlight) => {
                ProjectStatus::Active
            }
            Step::Refresh(hold) | Step::Keep(hold) => match hold {
                Hold::Excluded => ProjectStatus::Excluded,
                Hold::Empty => ProjectStatus::Empty,
                Hold::Refused(status) => status,
                Hold::ArchivedDone => ProjectStatus::Archived,
                Hold::InFlight => ProjectStatus::Active,
            },
        }
    }
}

/// Decides a project's step from what discovery found and what its item holds (`now` in epoch seconds; a refused
/// project is claimed again `retry` seconds after the refusal).
pub fn plan(
    project: &DiscoveredProject,
    known: Option<&KnownProject>,
    now: i64,
    retry: i64,
) -> Step {
    let lease_holds = known
        .and_then(|k| k.lease.as_ref())
        .is_some_and(|lease| lease.until >= now);
    let refused = known
        .and_then(|k| k.refused)
        .filter(|refusal| refusal.at.saturating_add(retry) > now);
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
    now: i64,
    retry: i64,
) -> Vec<(&'a DiscoveredProject, Step)> {
    found
        .values()
        .map(|project| {
            (
                project,
                plan(project, known.get(&project.project_id), now, retry),
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
