//! Typed configuration, read once from the environment at start-up (the SAM template sets these variables).

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::gitlab::{GitLabAddress, NetworkPolicy, PrivateNetworks};
use crate::kernel::instance::InstanceUrl;
use crate::metrics::{DEFAULT_NAMESPACE, check_namespace};
use crate::sync::importer::DEFAULT_WRITES_PER_DAY;

#[cfg(feature = "export")]
pub mod exporter;

/// Everything the functions need from their environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// DynamoDB table of connections, credential metadata and per-project sync state.
    pub state_table: String,
    /// DynamoDB table of commits, keyed by (connection#project, sha).
    pub commits_table: String,
    /// SQS queue of per-project sync messages.
    pub sync_queue_url: String,
    /// SQS queue of `connections.sync`'s turn requests, which the scheduler takes.
    pub turn_request_queue_url: String,
    /// Secrets Manager name prefix of the stored GitLab tokens (ends with `/`).
    pub secret_name_prefix: String,
    /// The GitLab a credential uses when its settings name none.
    pub default_gitlab_base_url: InstanceUrl,
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
    /// What all the GitLab answers a function holds at once may take, bodies and decoded pages
    /// (`GITLAB_MEMORY_MIB`, 8 to 4,096, default 96): the sync worker's concurrent windows share it, and so do
    /// the scheduler's discoveries of a tick.
    pub gitlab_memory_bytes: u64,
    /// What one connection's discovery may keep of what it lists (`DISCOVERY_MAX_MIB`, 1 to 1,024, default 16).
    pub discovery_max_bytes: u64,
    /// The least time between two of a project's sync messages that push hooks (and `projects.sync`) send: the
    /// first push after a quiet spell is sent at once, later ones wait this long after it
    /// (`PUSH_COALESCE_SECONDS`, 1 to 900, default 5).
    pub push_coalesce_window: Duration,
    /// Commits one connection's imports may write in a day, UTC (`COMMIT_WRITES_PER_DAY`, default
    /// [`DEFAULT_WRITES_PER_DAY`]); reaching it is the connection's `write_ceiling` error until the next day.
    pub commit_writes_per_day: u64,
    /// The CloudWatch namespace of the functions' embedded metrics (`METRICS_NAMESPACE`; the template names the
    /// stack in it; default [`DEFAULT_NAMESPACE`]).
    pub metrics_namespace: String,
}

/// A variable is missing or unusable. Start-up fails with this message; nothing runs half-configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// The variables `lookup` gives (the environment, or a map in tests), read by the rules every function's
/// configuration follows: values are trimmed, and an empty one counts as unset.
pub(crate) struct Variables<F>(pub(crate) F);

impl<F: Fn(&str) -> Option<String>> Variables<F> {
    /// The trimmed value, `None` when unset or empty.
    pub(crate) fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    /// `true`/`1` or `false`/`0`; unset is `false`.
    fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.optional(name).as_deref() {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(other) => Err(invalid(
                name,
                format!("expected true or false, found {other:?}"),
            )),
        }
    }

    /// A whole number within `range`, or `default` when unset.
    pub(crate) fn number(
        &self,
        name: &'static str,
        default: u32,
        range: RangeInclusive<u32>,
    ) -> Result<u32, ConfigError> {
        let Some(value) = (self.0)(name) else {
            return Ok(default);
        };
        let (low, high) = (range.start(), range.end());
        value
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                let reason =
                    format!("expected a whole number from {low} to {high}, found {value:?}");
                invalid(name, reason)
            })
    }

    /// A size in MiB within `range`, in bytes; `default` bytes when unset.
    fn mebibytes(
        &self,
        name: &'static str,
        default: u64,
        range: RangeInclusive<u32>,
    ) -> Result<u64, ConfigError> {
        let mib = self.number(name, (default >> 20) as u32, range)?;
        Ok(u64::from(mib) << 20)
    }

    /// Loopback and plain http in the local run; else public addresses and the operator's private networks.
    fn network_policy(&self) -> Result<NetworkPolicy, ConfigError> {
        let allow_private = self.flag("GITLAB_ALLOW_PRIVATE_NETWORK")?;
        let networks =
            PrivateNetworks::parse(&(self.0)("GITLAB_PRIVATE_NETWORKS").unwrap_or_default())
                .map_err(|e| invalid("GITLAB_PRIVATE_NETWORKS", e.to_string()))?;
        Ok(match (allow_private, networks) {
            (true, _) => NetworkPolicy::AllowPrivate,
            (false, Some(networks)) => NetworkPolicy::PublicAnd(networks),
            (false, None) => NetworkPolicy::PublicOnly,
        })
    }

    /// The default GitLab (gitlab.com when unset), which the network policy must allow.
    fn default_gitlab_base_url(&self, policy: &NetworkPolicy) -> Result<InstanceUrl, ConfigError> {
        const NAME: &str = "DEFAULT_GITLAB_BASE_URL";
        let url = self
            .optional(NAME)
            .unwrap_or_else(|| "https://gitlab.com/".to_owned());
        let address =
            GitLabAddress::parse(&url, policy).map_err(|e| invalid(NAME, e.to_string()))?;
        Ok(address.web_root().clone())
    }

    /// `METRICS_NAMESPACE`, one CloudWatch accepts; [`DEFAULT_NAMESPACE`] when unset.
    pub(crate) fn metrics_namespace(&self) -> Result<String, ConfigError> {
        const NAME: &str = "METRICS_NAMESPACE";
        let namespace = self
            .optional(NAME)
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        check_namespace(&namespace).map_err(|reason| invalid(NAME, reason))?;
        Ok(namespace)
    }

    fn secret_name_prefix(&self) -> Result<String, ConfigError> {
        const NAME: &str = "SECRET_NAME_PREFIX";
        let prefix = self.required(NAME)?;
        if !prefix.ends_with('/') {
            return Err(invalid(NAME, "must end with '/'".into()));
        }
        Ok(prefix)
    }
}

fn invalid(name: &'static str, reason: String) -> ConfigError {
    ConfigError::Invalid { name, reason }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Variables(lookup);
        let network_policy = vars.network_policy()?;
        let writes_per_day = u32::try_from(DEFAULT_WRITES_PER_DAY).unwrap_or(u32::MAX);
        // SQS holds a message back for at most 15 minutes.
        let push_coalesce_seconds = vars.number("PUSH_COALESCE_SECONDS", 5, 1..=900)?;
        Ok(Config {
            state_table: vars.required("STATE_TABLE")?,
            commits_table: vars.required("COMMITS_TABLE")?,
            sync_queue_url: vars.required("SYNC_QUEUE_URL")?,
            turn_request_queue_url: vars.required("TURN_REQUEST_QUEUE_URL")?,
            secret_name_prefix: vars.secret_name_prefix()?,
            default_gitlab_base_url: vars.default_gitlab_base_url(&network_policy)?,
            network_policy,
            default_requests_per_minute: vars.number(
                "GITLAB_REQUESTS_PER_MINUTE",
                crate::gitlab::budget::GITLAB_COM_REQUESTS_PER_MINUTE,
                1..=u32::MAX,
            )?,
            secrets_kms_key_id: vars.optional("SECRETS_KMS_KEY_ID"),
            allow_unauthenticated: vars.flag("CREDENTIALS_API_ALLOW_UNAUTHENTICATED")?,
            gitlab_memory_bytes: vars.mebibytes(
                "GITLAB_MEMORY_MIB",
                crate::gitlab::memory::DEFAULT_MEMORY_BYTES,
                8..=4096,
            )?,
            discovery_max_bytes: vars.mebibytes(
                "DISCOVERY_MAX_MIB",
                crate::scheduler::service::DEFAULT_DISCOVERY_MAX_BYTES,
                1..=1024,
            )?,
            push_coalesce_window: Duration::from_secs(u64::from(push_coalesce_seconds)),
            commit_writes_per_day: u64::from(vars.number(
                "COMMIT_WRITES_PER_DAY",
                writes_per_day,
                1..=u32::MAX,
            )?),
            metrics_namespace: vars.metrics_namespace()?,
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
        ("TURN_REQUEST_QUEUE_URL", "http://127.0.0.1:1/t"),
        ("SECRET_NAME_PREFIX", "gitlab-importer/"),
    ];

    /// Reads [`BASE`] with `extra` added (a later pair of the same name wins).
    fn read_with(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut env = BASE.to_vec();
        env.extend_from_slice(extra);
        Config::from_lookup(lookup(&env))
    }

    #[test]
    fn reads_a_complete_environment_with_safe_defaults() {
        let config = read_with(&[]).unwrap();
        assert_eq!(config.state_table, "state");
        assert_eq!(
            config.default_gitlab_base_url.as_str(),
            "https://gitlab.com/"
        );
        assert_eq!(config.network_policy, NetworkPolicy::PublicOnly);
        assert_eq!(config.default_requests_per_minute, 2_000);
        assert_eq!(config.secrets_kms_key_id, None);
        assert!(!config.allow_unauthenticated);
        assert_eq!(config.push_coalesce_window, Duration::from_secs(5));
        assert_eq!(config.commit_writes_per_day, 5_000_000);
        assert_eq!(
            read_with(&[("COMMIT_WRITES_PER_DAY", "20000")])
                .unwrap()
                .commit_writes_per_day,
            20_000
        );
        assert_eq!(config.metrics_namespace, "GitLabCommitImporter/local");
        assert_eq!(
            read_with(&[("METRICS_NAMESPACE", " GitLabCommitImporter/prod ")])
                .unwrap()
                .metrics_namespace,
            "GitLabCommitImporter/prod"
        );
        assert_eq!(config.gitlab_memory_bytes, 96 << 20);
        assert_eq!(config.discovery_max_bytes, 16 << 20);
        let sized =
            read_with(&[("GITLAB_MEMORY_MIB", "128"), ("DISCOVERY_MAX_MIB", "24")]).unwrap();
        assert_eq!(
            (sized.gitlab_memory_bytes, sized.discovery_max_bytes),
            (128 << 20, 24 << 20)
        );
        assert_eq!(
            read_with(&[(
                "SECRETS_KMS_KEY_ID",
                " arn:aws:kms:eu-west-1:123456789012:key/k1 ",
            )])
            .unwrap()
            .secrets_kms_key_id
            .as_deref(),
            Some("arn:aws:kms:eu-west-1:123456789012:key/k1")
        );
        assert_eq!(
            read_with(&[("SECRETS_KMS_KEY_ID", "")])
                .unwrap()
                .secrets_kms_key_id,
            None
        );
    }

    #[test]
    fn the_operators_private_networks_widen_the_public_policy_but_not_the_local_run() {
        let mut env = vec![
            (
                "GITLAB_PRIVATE_NETWORKS",
                "10.20.0.0/16,gitlab.corp.example",
            ),
            ("DEFAULT_GITLAB_BASE_URL", "https://10.20.0.5/"),
        ];
        let config = read_with(&env).unwrap();
        let expected = PrivateNetworks::parse("10.20.0.0/16 gitlab.corp.example")
            .unwrap()
            .unwrap();
        assert_eq!(config.network_policy, NetworkPolicy::PublicAnd(expected));

        env.push(("GITLAB_ALLOW_PRIVATE_NETWORK", "true"));
        env.push(("CREDENTIALS_API_ALLOW_UNAUTHENTICATED", "1"));
        let local = read_with(&env).unwrap();
        assert_eq!(local.network_policy, NetworkPolicy::AllowPrivate);
        assert!(local.allow_unauthenticated);

        let config = read_with(&[("GITLAB_PRIVATE_NETWORKS", " , ")]).unwrap();
        assert_eq!(config.network_policy, NetworkPolicy::PublicOnly);
    }

    #[test]
    fn names_the_variable_that_is_missing_or_wrong() {
        assert_eq!(
            Config::from_lookup(lookup(&BASE[1..])),
            Err(ConfigError::Missing("STATE_TABLE"))
        );
        let bad_values = [
            ("GITLAB_REQUESTS_PER_MINUTE", &["lots"][..]),
            ("COMMIT_WRITES_PER_DAY", &["0", "-1", "lots", "5000000000"]),
            ("PUSH_COALESCE_SECONDS", &["0", "901", "-5", "5s"]),
            ("GITLAB_MEMORY_MIB", &["4"]),
            ("DISCOVERY_MAX_MIB", &["0"]),
            ("CREDENTIALS_API_ALLOW_UNAUTHENTICATED", &["yes"]),
            ("METRICS_NAMESPACE", &["AWS/Lambda", "importer/é"]),
            ("DEFAULT_GITLAB_BASE_URL", &["https://169.254.169.254/"]),
        ];
        for (name, values) in bad_values {
            for value in values {
                assert!(
                    matches!(
                        read_with(&[(name, value)]),
                        Err(ConfigError::Invalid { name: found, .. }) if found == name
                    ),
                    "{name}={value}"
                );
            }
        }
        assert!(matches!(
            read_with(&[("GITLAB_PRIVATE_NETWORKS", "10.20.0.0/16, gitlab corp!")]),
            Err(ConfigError::Invalid {
                name: "GITLAB_PRIVATE_NETWORKS",
                reason,
            }) if reason.contains("\"corp!\"")
        ));
    }
}
