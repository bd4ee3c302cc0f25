//! The exporter function's environment, read once at start-up (the SAM template sets these variables).

use std::time::Duration;

use super::{ConfigError, Variables};
use crate::export::service::DEFAULT_SETTLE;

/// Everything the exporter needs from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    /// DynamoDB table of the watermarks (`EXPORT#<project>` items) and the projects to export.
    pub state_table: String,
    /// DynamoDB table of commits, read through its `by_changed_at` index.
    pub commits_table: String,
    /// S3 bucket of the dataset (`EXPORT_BUCKET`).
    pub bucket: String,
    /// Object name prefix (`EXPORT_PREFIX`, empty or ending with `/`).
    pub prefix: String,
    /// How old a write must be before a run exports it (`EXPORT_SETTLE_SECONDS`, 0 to 3600, default
    /// [`DEFAULT_SETTLE`]).
    pub settle: Duration,
    /// The CloudWatch namespace of the run's embedded metrics (`METRICS_NAMESPACE`, as [`super::Config`]'s).
    pub metrics_namespace: String,
}

impl ExportConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Variables(lookup);
        let prefix = vars.optional("EXPORT_PREFIX").unwrap_or_default();
        if !(prefix.is_empty() || prefix.ends_with('/')) || prefix.starts_with('/') {
            return Err(ConfigError::Invalid {
                name: "EXPORT_PREFIX",
                reason: "must be empty or end with '/', and not start with '/'".into(),
            });
        }
        Ok(ExportConfig {
            state_table: vars.required("STATE_TABLE")?,
            commits_table: vars.required("COMMITS_TABLE")?,
            bucket: vars.required("EXPORT_BUCKET")?,
            prefix,
            settle: Duration::from_secs(
                vars.number("EXPORT_SETTLE_SECONDS", default_settle_seconds(), 0..=3600)?
                    .into(),
            ),
            metrics_namespace: vars.metrics_namespace()?,
        })
    }
}

fn default_settle_seconds() -> u32 {
    u32::try_from(DEFAULT_SETTLE.as_secs()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tables_the_bucket_and_a_checked_prefix() {
        let env = |prefix: &'static str| {
            move |name: &str| match name {
                "STATE_TABLE" => Some("state".to_owned()),
                "COMMITS_TABLE" => Some("commits".to_owned()),
                "EXPORT_BUCKET" => Some("bucket".to_owned()),
                "EXPORT_PREFIX" => Some(prefix.to_owned()),
                _ => None,
            }
        };
        let config = ExportConfig::from_lookup(env("analytics/")).unwrap();
        assert_eq!(config.bucket, "bucket");
        assert_eq!(config.prefix, "analytics/");
        assert_eq!(config.metrics_namespace, crate::metrics::DEFAULT_NAMESPACE);
        assert_eq!(ExportConfig::from_lookup(env("")).unwrap().prefix, "");
        for bad in ["analytics", "/analytics/"] {
            assert!(matches!(
                ExportConfig::from_lookup(env(bad)),
                Err(ConfigError::Invalid {
                    name: "EXPORT_PREFIX",
                    ..
                })
            ));
        }
        assert_eq!(
            ExportConfig::from_lookup(|name| env("")(name).filter(|_| name != "EXPORT_BUCKET")),
            Err(ConfigError::Missing("EXPORT_BUCKET"))
        );
    }

    #[test]
    fn the_settle_time_is_five_minutes_unless_set_within_an_hour() {
        let env = |settle: Option<&'static str>| {
            move |name: &str| match name {
                "STATE_TABLE" | "COMMITS_TABLE" | "EXPORT_BUCKET" => Some(name.to_lowercase()),
                "EXPORT_SETTLE_SECONDS" => settle.map(str::to_owned),
                _ => None,
            }
        };
        let settle = |value| ExportConfig::from_lookup(env(value)).map(|c| c.settle);
        assert_eq!(settle(None), Ok(DEFAULT_SETTLE));
        assert_eq!(DEFAULT_SETTLE, Duration::from_secs(300));
        assert_eq!(settle(Some("0")), Ok(Duration::ZERO));
        assert_eq!(settle(Some(" 3600 ")), Ok(Duration::from_secs(3600)));
        for bad in ["3601", "-1", "5m"] {
            assert!(
                matches!(
                    settle(Some(bad)),
                    Err(ConfigError::Invalid {
                        name: "EXPORT_SETTLE_SECONDS",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }
}
