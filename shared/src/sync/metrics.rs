//! The sync worker's metrics ([`crate::metrics`]): for every record a line counting it by how it ended
//! (`Result`), and for a record that ran one with what it cost, by connection (commits written, GitLab's
//! requests, retries and 429s, the waits for the token's request budget, the record's time).

use super::worker::RecordReport;
use crate::metrics::{
    COMMITS_IMPORTED, CONNECTION_ID, Emitter, GITLAB_BUDGET_WAIT_TIME, GITLAB_BUDGET_WAITS,
    GITLAB_RATE_LIMITED, GITLAB_REQUESTS, GITLAB_RETRIES, RESULT, SYNC_DURATION, SYNCS, millis,
};

/// The lines of one record: its result; and its cost when it ran (`ran`: not a record handed back unstarted, nor
/// one whose body was no sync message).
pub fn record_lines(emitter: &Emitter, report: &RecordReport, ran: bool) -> Vec<String> {
    let mut lines = vec![emitter.line(&[(RESULT, report.result())], &[(SYNCS, 1)])];
    if let (true, Some(message)) = (ran, &report.message) {
        let stats = &report.stats;
        lines.push(emitter.line(
            &[(CONNECTION_ID, message.connection_id().as_str())],
            &[
                (COMMITS_IMPORTED, report.commits() as u64),
                (GITLAB_REQUESTS, stats.requests),
                (GITLAB_RETRIES, stats.retries),
                (GITLAB_RATE_LIMITED, stats.rate_limited),
                (GITLAB_BUDGET_WAITS, stats.budget_waits),
                (GITLAB_BUDGET_WAIT_TIME, millis(stats.budget_wait)),
                (SYNC_DURATION, millis(report.duration)),
            ],
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use super::*;
    use crate::gitlab::ClientStats;
    use crate::kernel::ids::{ConnectionId, CredentialId};
    use crate::kernel::sync_message::SyncMessage;
    use crate::sync::RecordOutcome;
    use crate::sync::importer::SyncOutcome;

    fn parsed(line: &str) -> serde_json::Value {
        serde_json::from_str(line).unwrap()
    }

    use crate::metrics::declared_names as declared;

    fn report(outcome: RecordOutcome) -> RecordReport {
        RecordReport {
            message: Some(
                SyncMessage::new(
                    ConnectionId::parse("acme").unwrap(),
                    CredentialId::parse("c1").unwrap(),
                    42,
                    "group/project",
                    "main",
                )
                .unwrap(),
            ),
            outcome,
            stats: ClientStats {
                requests: 12,
                retries: 2,
                rate_limited: 1,
                budget_waits: 3,
                budget_wait: Duration::from_millis(1_500),
                ..ClientStats::default()
            },
            duration: Duration::from_millis(900),
        }
    }

    /// Together a record's lines name exactly the metrics the catalogue says the sync worker emits.
    #[test]
    fn a_record_that_ran_names_every_metric_of_the_catalogue() {
        let emitter = Emitter::new("GitLabCommitImporter/test");
        let lines: Vec<serde_json::Value> = record_lines(
            &emitter,
            &report(RecordOutcome::Synced(SyncOutcome::Unchanged)),
            true,
        )
        .iter()
        .map(|l| parsed(l))
        .collect();
        assert_eq!(lines.len(), 2);
        let names: BTreeSet<String> = lines.iter().flat_map(declared).collect();
        let catalogue: BTreeSet<String> = crate::metrics::emitted_by("sync-worker")
            .iter()
            .map(|m| m.name.to_owned())
            .collect();
        assert_eq!(names, catalogue);

        let (result, cost) = (&lines[0], &lines[1]);
        assert_eq!(result["Result"], "unchanged");
        assert_eq!(result["Syncs"], 1);
        assert_eq!(cost["ConnectionId"], "acme");
        assert_eq!(cost["GitLabRequests"], 12);
        assert_eq!(cost["GitLabRateLimited"], 1);
        assert_eq!(cost["GitLabBudgetWaits"], 3);
        assert_eq!(cost["GitLabBudgetWaitTime"], 1_500);
        assert_eq!(cost["SyncDuration"], 900);
        assert_eq!(cost["CommitsImported"], 0);
        for line in &lines {
            assert_eq!(
                line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
                "GitLabCommitImporter/test"
            );
        }
    }

    /// A record handed back unstarted counts as `deferred` and costs nothing; one without a readable message is
    /// a `retry` of no connection.
    #[test]
    fn a_record_that_did_not_run_is_counted_by_its_result_only() {
        let emitter = Emitter::default();
        let deferred = record_lines(&emitter, &report(RecordOutcome::Deferred), false);
        assert_eq!(deferred.len(), 1);
        assert_eq!(parsed(&deferred[0])["Result"], "deferred");
        assert_eq!(declared(&parsed(&deferred[0])), ["Syncs"]);

        let unreadable = RecordReport::malformed("not JSON".into());
        let lines = record_lines(&emitter, &unreadable, true);
        assert_eq!(lines.len(), 1);
        assert_eq!(parsed(&lines[0])["Result"], "retry");
    }
}
