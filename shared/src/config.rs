//! Typed configuration, read once from the environment at start-up (the SAM template sets these variables).

use std::time::Duration;

use crate::gitlab::{GitLabAddress, NetworkPolicy, PrivateNetworks};
use crate::sync::importer::DEFAULT_WRITES_PER_DAY;

/// Everything the functions need from their environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// DynamoDB table of connections, credential metadata and per-project sync state.
    pub state_table: String,
    /// DynamoDB table of commits, keyed by (connection#project, sha).
    pub commits_table: String,
    /// SQS queue of per-project sync messages.
    pub sync_queue_url: String,
    /// Secrets Manager name prefix of the stored GitLab tokens (ends with `/`).
    pub secret_name_prefix: String,
    /// The GitLab a credential uses when its settings name none.
    pub default_gitlab_base_url: String,
    /// Public addresses in AWS, plus the operator's private networks (`GITLAB_PRIVATE_NETWORKS`); the local run
    /// allows loopback and plain http (`GITLAB_ALLOW_PRIVATE_NETWORK`).
    pub network_policy: NetworkPolicy,
    /// Requests per minute one GitLab token may spend, unless a credential sets its own.
    pub default_requests_per_minute: u32,
    /// The customer-managed KMS key (ARN) new secrets are encrypted with (`SECRETS_KMS_KEY_ID`); `None`: the
    /// AWS-managed key.
    pub secrets_kms_key_id: Option<String>,
    /// Local runs only (`CREDENTIALS_API_ALLOW_UNAUTHENTICATED`): the credentials API accepts requests that API
    /// Gateway's IAM authorizer did not sign off.
    pub allow_unauthenticated: bool,
    /// How long a push hook's sync message is held back; every push of the project in that time is covered by
    /// it (`PUSH_COALESCE_SECONDS`, 1 to 900, default 5).
    pub push_coalesce_window: Duration,
    /// Commits one connection's imports may write in a day, UTC (`COMMIT_WRITES_PER_DAY`, default
    /// [`DEFAULT_WRITES_PER_DAY`]); reaching it is the connection's `write_ceiling` error until the next day.
    pub commit_writes_per_day: u64,
}

/// A variable is missing or unusable. Start-up fails with this message; nothing runs half-configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let flag = |name: &'static str| match lookup(name).as_deref() {
            None | Some("" | "false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(other) => Err(ConfigError::Invalid {
                name,
                reason: format!("expected true or false, found {other:?}"),
            }),
        };
        let allow_private = flag("GITLAB_ALLOW_PRIVATE_NETWORK")?;
        let private_networks =
            PrivateNetworks::parse(&lookup("GITLAB_PRIVATE_NETWORKS").unwrap_or_default())
                .map_err(|e| ConfigError::Invalid {
                    name: "GITLAB_PRIVATE_NETWORKS",
                    reason: e.to_string(),
                })?;
        let network_policy = match (allow_private, private_networks) {
            (true, _) => NetworkPolicy::AllowPrivate,
            (false, Some(networks)) => NetworkPolicy::PublicAnd(networks),
            (false, None) => NetworkPolicy::PublicOnly,
        };
        let default_gitlab_base_url = lookup("DEFAULT_GITLAB_BASE_URL")
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "https://gitlab.com/".to_owned());
        GitLabAddress::parse(&default_gitlab_base_url, &network_policy).map_err(|e| {
            ConfigError::Invalid {
                name: "DEFAULT_GITLAB_BASE_URL",
                reason: e.to_string(),
            }
        })?;
        let secret_name_prefix = required("SECRET_NAME_PREFIX")?;
        if !secret_name_prefix.ends_with('/') {
            return Err(ConfigError::Invalid {
                name: "SECRET_NAME_PREFIX",
                reason: "must end with '/'".into(),
            });
        }
        // A whole number within `range`, or `default` when unset.
        let number =
            |name: &'static str, default: u32, range: std::ops::RangeInclusive<u32>| match lookup(
                name,
            ) {
                None => Ok(default),
                Some(value) => value
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| ConfigError::Invalid {
                        name,
                        reason: format!(
                            "expected a whole number from {} to {}, found {value:?}",
                            range.start(),
                            range.end()
                        ),
                    }),
            };
        let default_requests_per_minute = number(
            "GITLAB_REQUESTS_PER_MINUTE",
            crate::gitlab::budget::GITLAB_COM_REQUESTS_PER_MINUTE,
            1..=u32::MAX,
        )?;
        // SQS holds a message back for at most 15 minutes.
        let push_coalesce_seconds = number("PUSH_COALESCE_SECONDS", 5, 1..=900)?;
        let commit_writes_per_day = number(
            "COMMIT_WRITES_PER_DAY",
            u32::try_from(DEFAULT_WRITES_PER_DAY).unwrap_or(u32::MAX),
            1..=u32::MAX,
        )?;
        Ok(Config {
            state_table: required("STATE_TABLE")?,
            commits_table: required("COMMITS_TABLE")?,
            sync_queue_url: required("SYNC_QUEUE_URL")?,
            secret_name_prefix,
            default_gitlab_base_url,
            network_policy,
            default_requests_per_minute,
            secrets_kms_key_id: lookup("SECRETS_KMS_KEY_ID")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            allow_unauthenticated: flag("CREDENTIALS_API_ALLOW_UNAUTHENTICATED")?,
            push_coalesce_window: Duration::from_secs(u64::from(push_coalesce_seconds)),
            commit_writes_per_day: u64::from(commit_writes_per_day),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("STATE_TABLE", "state"),
        ("COMMITS_TABLE", "commits"),
        ("SYNC_QUEUE_URL", "http://127.0.0.1:1/q"),
        ("SECRET_NAME_PREFIX", "gitlab-importer/"),
    ];

    #[test]
    fn reads_a_complete_environment_with_safe_defaults() {
        let config = Config::from_lookup(lookup(BASE)).unwrap();
        assert_eq!(config.state_table, "state");
        assert_eq!(config.default_gitlab_base_url, "https://gitlab.com/");
        assert_eq!(config.network_policy, NetworkPolicy::PublicOnly);
        assert_eq!(config.default_requests_per_minute, 2_000);
        assert_eq!(config.secrets_kms_key_id, None);
        assert!(!config.allow_unauthenticated);
        assert_eq!(config.push_coalesce_window, Duration::from_secs(5));
        assert_eq!(config.commit_writes_per_day, 5_000_000);
        let mut ceiling = BASE.to_vec();
        ceiling.push(("COMMIT_WRITES_PER_DAY", "20000"));
        assert_eq!(
            Config::from_lookup(lookup(&ceiling))
                .unwrap()
                .commit_writes_per_day,
            20_000
        );
        let mut with_key = BASE.to_vec();
        with_key.push((
            "SECRETS_KMS_KEY_ID",
            " arn:aws:kms:eu-west-1:123456789012:key/k1 ",
        ));
        assert_eq!(
            Config::from_lookup(lookup(&with_key))
                .unwrap()
                .secrets_kms_key_id
                .as_deref(),
            Some("arn:aws:kms:eu-west-1:123456789012:key/k1")
        );
        let mut empty_key = BASE.to_vec();
        empty_key.push(("SECRETS_KMS_KEY_ID", ""));
        assert_eq!(
            Config::from_lookup(lookup(&empty_key))
                .unwrap()
                .secrets_kms_key_id,
            None
        );
    }

    #[test]
    fn the_operators_private_networks_widen_the_public_policy_but_not_the_local_run() {
        let mut env = BASE.to_vec();
        env.push((
            "GITLAB_PRIVATE_NETWORKS",
            "10.20.0.0/16,gitlab.corp.example",
        ));
        env.push(("DEFAULT_GITLAB_BASE_URL", "https://10.20.0.5/"));
        let config = Config::from_lookup(lookup(&env)).unwrap();
        let expected = PrivateNetworks::parse("10.20.0.0/16 gitlab.corp.example")
            .unwrap()
            .unwrap();
        assert_eq!(config.network_policy, NetworkPolicy::PublicAnd(expected));

        env.push(("GITLAB_ALLOW_PRIVATE_NETWORK", "true"));
        env.push(("CREDENTIALS_API_ALLOW_UNAUTHENTICATED", "1"));
        let local = Config::from_lookup(lookup(&env)).unwrap();
        assert_eq!(local.network_policy, NetworkPolicy::AllowPrivate);
        assert!(local.allow_unauthenticated);

        let mut blank = BASE.to_vec();
        blank.push(("GITLAB_PRIVATE_NETWORKS", " , "));
        let config = Config::from_lookup(lookup(&blank)).unwrap();
        assert_eq!(config.network_policy, NetworkPolicy::PublicOnly);
    }

    #[test]
    fn names_the_variable_that_is_missing_or_wrong() {
        assert_eq!(
            Config::from_lookup(lookup(&BASE[1..])),
            Err(ConfigError::Missing("STATE_TABLE"))
        );
        let mut bad = BASE.to_vec();
        bad.push(("GITLAB_REQUESTS_PER_MINUTE", "lots"));
        assert!(matches!(
            Config::from_lookup(lookup(&bad)),
            Err(ConfigError::Invalid {
                name: "GITLAB_REQUESTS_PER_MINUTE",
                ..
            })
        ));
        for ceiling in ["0", "-1", "lots", "5000000000"] {
            let mut bad_ceiling = BASE.to_vec();
            bad_ceiling.push(("COMMIT_WRITES_PER_DAY", ceiling));
            assert!(matches!(
                Config::from_lookup(lookup(&bad_ceiling)),
                Err(ConfigError::Invalid {
                    name: "COMMIT_WRITES_PER_DAY",
                    ..
                })
            ));
        }
        for window in ["0", "901", "-5", "5s"] {
            let mut bad_window = BASE.to_vec();
            bad_window.push(("PUSH_COALESCE_SECONDS", window));
            assert!(matches!(
                Config::from_lookup(lookup(&bad_window)),
                Err(ConfigError::Invalid {
                    name: "PUSH_COALESCE_SECONDS",
                    ..
                })
            ));
        }
        let mut bad_network = BASE.to_vec();
        bad_network.push(("GITLAB_PRIVATE_NETWORKS", "10.20.0.0/16, gitlab corp!"));
        assert!(matches!(
            Config::from_lookup(lookup(&bad_network)),
            Err(ConfigError::Invalid {
                name: "GITLAB_PRIVATE_NETWORKS",
                reason,
            }) if reason.contains("\"corp!\"")
        ));
        let mut bad_flag = BASE.to_vec();
        bad_flag.push(("CREDENTIALS_API_ALLOW_UNAUTHENTICATED", "yes"));
        assert!(matches!(
            Config::from_lookup(lookup(&bad_flag)),
            Err(ConfigError::Invalid {
                name: "CREDENTIALS_API_ALLOW_UNAUTHENTICATED",
                ..
            })
        ));
        let mut private_default = BASE.to_vec();
        private_default.push(("DEFAULT_GITLAB_BASE_URL", "https://169.254.169.254/"));
        assert!(matches!(
            Config::from_lookup(lookup(&private_default)),
            Err(ConfigError::Invalid {
                name: "DEFAULT_GITLAB_BASE_URL",
                ..
            })
        ));
    }
}
