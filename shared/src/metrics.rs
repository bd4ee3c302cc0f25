//! The functions' metrics in CloudWatch's embedded metric format (EMF): the catalogue of every metric name, which
//! function emits it and in what unit (the one list the code and the template's dashboard and tests read), and the
//! one function that renders a metric line. A line is JSON on stdout; in Lambda the log agent hands it to
//! CloudWatch, which makes metrics of it in the stack's namespace (`METRICS_NAMESPACE`) without any API call or
//! IAM permission.
//!
//! Every line records its metrics twice: by its dimensions (a connection, a result, an outcome: bounded sets) and
//! without any, so that a dashboard or an alarm reads the stack's total without a search expression.

use std::time::{SystemTime, UNIX_EPOCH};

/// The namespace outside Lambda (the local run, tests); the template gives each stack its own.
pub const DEFAULT_NAMESPACE: &str = "GitLabCommitImporter/local";

/// The unit CloudWatch stores a metric in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    /// The unit's name in EMF (CloudWatch's `StandardUnit`).
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// A metric of the catalogue: its name in the namespace and its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
}

const fn count(name: &'static str) -> Metric {
    Metric {
        name,
        unit: Unit::Count,
    }
}

const fn milliseconds(name: &'static str) -> Metric {
    Metric {
        name,
        unit: Unit::Milliseconds,
    }
}

// --- Dimensions -------------------------------------------------------------------------------------------------

/// The connection a sync belongs to (the sync worker's cost metrics).
pub const CONNECTION_ID: &str = "ConnectionId";
/// How a sync record ended, in the worker log line's word (`imported`, `unchanged`, `continued`, `deferred`,
/// `retry`, a refusal such as `forbidden`): a fixed set of codes.
pub const RESULT: &str = "Result";
/// How a push hook delivery ended: `queued`, the reason it was left alone (`coalesced`, `not_default_branch`, ...)
/// or the error code it was answered with (`unauthorized`, `unavailable`, ...).
pub const OUTCOME: &str = "Outcome";

// --- The sync worker: one line per record by Result, one per started record by ConnectionId -----------------------

/// Records handled, by `Result` (a record handed back unstarted is `deferred`; an unreadable one `retry`).
pub const SYNCS: Metric = count("Syncs");
/// Commits written by a record's sync.
pub const COMMITS_IMPORTED: Metric = count("CommitsImported");
/// Requests sent to GitLab, retries included.
pub const GITLAB_REQUESTS: Metric = count("GitLabRequests");
/// Requests sent again after a passing failure or a 429.
pub const GITLAB_RETRIES: Metric = count("GitLabRetries");
/// GitLab's 429 answers.
pub const GITLAB_RATE_LIMITED: Metric = count("GitLabRateLimited");
/// Requests that waited for the token's request budget (its pace, a 429's pause, the shared timeline).
pub const GITLAB_BUDGET_WAITS: Metric = count("GitLabBudgetWaits");
/// The time those requests waited, together.
pub const GITLAB_BUDGET_WAIT_TIME: Metric = milliseconds("GitLabBudgetWaitTime");
/// A started record's time, from its start to its end.
pub const SYNC_DURATION: Metric = milliseconds("SyncDuration");

// --- The push hook: one line per delivery, by Outcome ---------------------------------------------------------------

/// Deliveries, by `Outcome`.
pub const HOOK_DELIVERIES: Metric = count("HookDeliveries");
/// The hook's own handling time, from the delivery reaching the function to its reply (the sync message sent,
/// when it is `queued`). GitLab's push event carries no time of the push, so this is not push-to-queue latency;
/// the message is then held back `PUSH_COALESCE_SECONDS` by design.
pub const HOOK_HANDLING_TIME: Metric = milliseconds("HookHandlingTime");

// --- The scheduler: one line per tick -------------------------------------------------------------------------------

/// A tick's time, from the event to its report.
pub const TICK_DURATION: Metric = milliseconds("TickDuration");
/// Sync messages a tick sent (one per project due).
pub const PROJECTS_ENQUEUED: Metric = count("ProjectsEnqueued");

// --- The exporter: one line per run ---------------------------------------------------------------------------------

/// Parquet rows a run wrote.
pub const EXPORT_ROWS: Metric = count("ExportRows");
/// Seconds from the point up to which every project's changes are exported to the end of the run: the settle
/// time when the run finished every project, more when it left projects for the next run.
pub const EXPORT_LAG: Metric = Metric {
    name: "ExportLag",
    unit: Unit::Seconds,
};

/// Which function emits which metrics, by the function's package (`functions/<name>`). The credentials API emits
/// none: API Gateway and Lambda measure it.
pub const CATALOGUE: [(&str, &[Metric]); 4] = [
    (
        "sync-worker",
        &[
            SYNCS,
            COMMITS_IMPORTED,
            GITLAB_REQUESTS,
            GITLAB_RETRIES,
            GITLAB_RATE_LIMITED,
            GITLAB_BUDGET_WAITS,
            GITLAB_BUDGET_WAIT_TIME,
            SYNC_DURATION,
        ],
    ),
    ("push-hook", &[HOOK_DELIVERIES, HOOK_HANDLING_TIME]),
    ("scheduler", &[TICK_DURATION, PROJECTS_ENQUEUED]),
    ("exporter", &[EXPORT_ROWS, EXPORT_LAG]),
];

/// The metrics `function` (a package name of [`CATALOGUE`]) emits; none for another.
pub fn emitted_by(function: &str) -> &'static [Metric] {
    CATALOGUE
        .iter()
        .find(|(name, _)| *name == function)
        .map_or(&[], |(_, metrics)| *metrics)
}

/// Whether `namespace` is one CloudWatch accepts for custom metrics: 1 to 255 of letters, digits and `.-_/#: `,
/// not under `AWS/`.
pub fn check_namespace(namespace: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
    if namespace.is_empty() || namespace.len() > 255 {
        return Err(format!(
            "must have 1 to 255 characters, has {}",
            namespace.len()
        ));
    }
    if let Some(c) = namespace.chars().find(|c| !allowed(*c)) {
        return Err(format!("{c:?} is not allowed in a CloudWatch namespace"));
    }
    if namespace.starts_with("AWS/") {
        return Err("AWS/ is reserved for AWS's own metrics".into());
    }
    Ok(())
}

/// One EMF line: `values` in `namespace`, recorded by `dimensions` (name, value) and without any, stamped
/// `timestamp_ms` (milliseconds since the Unix epoch).
pub fn render(
    namespace: &str,
    dimensions: &[(&str, &str)],
    values: &[(Metric, u64)],
    timestamp_ms: u64,
) -> String {
    let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    let dimension_sets = if names.is_empty() {
        serde_json::json!([[]])
    } else {
        serde_json::json!([names, []])
    };
    let declared: Vec<serde_json::Value> = values
        .iter()
        .map(|(metric, _)| serde_json::json!({"Name": metric.name, "Unit": metric.unit.as_str()}))
        .collect();
    let mut line = serde_json::Map::new();
    line.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": dimension_sets,
                "Metrics": declared,
            }],
        }),
    );
    for (name, value) in dimensions {
        line.insert((*name).into(), (*value).into());
    }
    for (metric, value) in values {
        line.insert(metric.name.into(), (*value).into());
    }
    serde_json::Value::Object(line).to_string()
}

/// Where a function's metric lines go: stdout under its namespace, or nowhere when `enabled` is off (the local run
/// turns it off and prints its own progress instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitter {
    pub namespace: String,
    pub enabled: bool,
}

impl Default for Emitter {
    fn default() -> Self {
        Emitter::new(DEFAULT_NAMESPACE)
    }
}

impl Emitter {
    /// Lines in `namespace`, printed.
    pub fn new(namespace: impl Into<String>) -> Self {
        Emitter {
            namespace: namespace.into(),
            enabled: true,
        }
    }

    /// One line in this emitter's namespace, stamped now ([`render`]).
    pub fn line(&self, dimensions: &[(&str, &str)], values: &[(Metric, u64)]) -> String {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        render(&self.namespace, dimensions, values, now_ms)
    }

    /// Prints `lines` on stdout, unless turned off.
    pub fn print(&self, lines: impl IntoIterator<Item = String>) {
        if self.enabled {
            for line in lines {
                println!("{line}");
            }
        }
    }
}

/// A duration in whole milliseconds, as the metrics take it.
/// The metric names an embedded-metric-format line declares (`_aws.CloudWatchMetrics[0].Metrics`), for the
/// functions' tests.
#[cfg(test)]
pub(crate) fn declared_names(line: &serde_json::Value) -> Vec<String> {
    line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .expect("a list of metrics")
        .iter()
        .map(|m| m["Name"].as_str().expect("a metric's name").to_owned())
        .collect()
}

/// The names of the metrics the catalogue says `function` emits, for the functions' tests.
#[cfg(test)]
pub(crate) fn catalogue_names(function: &str) -> Vec<String> {
    emitted_by(function)
        .iter()
        .map(|m| m.name.to_owned())
        .collect()
}

pub fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// What CloudWatch requires of an EMF line: `_aws.CloudWatchMetrics[0]` names the namespace, dimension sets
    /// whose names are top-level string keys, and metrics whose names are top-level number keys.
    #[test]
    fn a_line_is_valid_embedded_metric_format() {
        let line = render(
            "GitLabCommitImporter/prod",
            &[(CONNECTION_ID, "acme")],
            &[(COMMITS_IMPORTED, 250), (SYNC_DURATION, 900)],
            1_700_000_000_000,
        );
        assert!(!line.contains('\n'), "one line");
        let line: serde_json::Value = serde_json::from_str(&line).unwrap();
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_u64);
        assert_eq!(directive["Namespace"], "GitLabCommitImporter/prod");
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["ConnectionId"], []])
        );
        assert_eq!(line["ConnectionId"], "acme");
        assert_eq!(
            directive["Metrics"],
            serde_json::json!([
                {"Name": "CommitsImported", "Unit": "Count"},
                {"Name": "SyncDuration", "Unit": "Milliseconds"}
            ])
        );
        assert_eq!(line["CommitsImported"], 250);
        assert_eq!(line["SyncDuration"], 900);
        for metric in directive["Metrics"].as_array().unwrap() {
            assert!(line[metric["Name"].as_str().unwrap()].is_u64(), "{metric}");
        }
    }

    #[test]
    fn a_line_without_dimensions_records_the_total_only() {
        let line: serde_json::Value =
            serde_json::from_str(&render(DEFAULT_NAMESPACE, &[], &[(EXPORT_LAG, 301)], 0)).unwrap();
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], serde_json::json!([[]]));
        assert_eq!(directive["Metrics"][0]["Unit"], "Seconds");
        assert_eq!(line["ExportLag"], 301);
    }

    #[test]
    fn the_catalogue_names_each_metric_once_and_never_a_dimension() {
        let mut seen = BTreeSet::new();
        for (function, metrics) in CATALOGUE {
            assert!(!metrics.is_empty(), "{function}");
            assert_eq!(emitted_by(function), metrics);
            for metric in metrics {
                assert!(seen.insert(metric.name), "{} twice", metric.name);
                assert!(![CONNECTION_ID, RESULT, OUTCOME].contains(&metric.name));
                assert!(metric.name.chars().all(|c| c.is_ascii_alphanumeric()));
            }
        }
        assert!(emitted_by("credentials-api").is_empty());
    }

    #[test]
    fn namespaces_are_checked_as_cloudwatch_does() {
        for good in [
            DEFAULT_NAMESPACE,
            "GitLabCommitImporter/gitlab-importer",
            "a",
        ] {
            assert_eq!(check_namespace(good), Ok(()), "{good}");
        }
        let long = "n".repeat(256);
        for bad in ["", "AWS/Lambda", "importer/é", "a\nb", long.as_str()] {
            assert!(check_namespace(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_turned_off_emitter_keeps_its_namespace() {
        let mut emitter = Emitter::new("ns");
        assert!(emitter.enabled);
        emitter.enabled = false;
        // Printing nothing is all it does; the line is still what it would print.
        emitter.print([emitter.line(&[], &[(TICK_DURATION, 1)])]);
        let line: serde_json::Value =
            serde_json::from_str(&emitter.line(&[], &[(TICK_DURATION, 1)])).unwrap();
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ns");
        assert_eq!(Emitter::default().namespace, DEFAULT_NAMESPACE);
    }
}
