//! The process's HTTP clients for GitLab: timeouts, the guarded resolver, no proxy and no redirects, and the
//! rustls trust store (public CAs, plus a connection's own PEM CA bundle when it has one).

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::address::{GuardedResolver, NetworkPolicy};
use super::error::GitLabError;

/// Timeouts of the HTTP client. GitLab.com cuts requests at 60 s; a slow commit page can take many seconds.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// The longest silence while waiting for or reading an answer.
    pub read: Duration,
    /// The whole request, body included: what bounds a body that drips a byte at a time.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(30),
            total: Duration::from_secs(75),
        }
    }
}

/// Builds and keeps the process's HTTP clients: one for public CAs, one per private CA bundle. Built once per
/// process and reused across invocations, so connections and TLS sessions are reused too.
#[derive(Debug)]
pub struct HttpClients {
    policy: NetworkPolicy,
    timeouts: Timeouts,
    default: reqwest::Client,
    with_private_ca: Mutex<HashMap<u64, reqwest::Client>>,
}

impl HttpClients {
    pub fn new(policy: NetworkPolicy, timeouts: Timeouts) -> Result<Self, GitLabError> {
        Ok(HttpClients {
            timeouts,
            default: build_http_client(&policy, timeouts, None)?,
            with_private_ca: Mutex::new(HashMap::new()),
            policy,
        })
    }

    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// The client for a connection: the shared one, or one that also trusts the connection's PEM CA bundle.
    pub fn for_ca_bundle(&self, ca_bundle: Option<&str>) -> Result<reqwest::Client, GitLabError> {
        let Some(pem) = ca_bundle.filter(|pem| !pem.trim().is_empty()) else {
            return Ok(self.default.clone());
        };
        // A fixed-key hash: the same bundle maps to the same client for the life of the process.
        let mut hasher = std::hash::DefaultHasher::new();
        hasher.write(pem.as_bytes());
        let key = hasher.finish();
        let mut cache = self
            .with_private_ca
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let client = build_http_client(&self.policy, self.timeouts, Some(pem))?;
        cache.insert(key, client.clone());
        Ok(client)
    }
}

fn build_http_client(
    policy: &NetworkPolicy,
    timeouts: Timeouts,
    ca_bundle: Option<&str>,
) -> Result<reqwest::Client, GitLabError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!(
            "gitlab-commit-importer/",
            env!("CARGO_PKG_VERSION")
        ))
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.read)
        .timeout(timeouts.total)
        .gzip(true)
        // A redirect could lead to an address the resolver never saw (an IP literal): GitLab's API needs none.
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from HTTPS_PROXY/HTTP_PROXY/ALL_PROXY would be sent `CONNECT host` and resolve the name itself,
        // so the guarded resolver would never run: the environment's proxy settings are ignored.
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            policy: policy.clone(),
        }))
        .https_only(policy.requires_https());
    if let Some(pem) = ca_bundle {
        let certificates = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|_| {
            GitLabError::Connection {
                detail: "ca_bundle is not a valid PEM certificate bundle".into(),
            }
        })?;
        if certificates.is_empty() {
            return Err(GitLabError::Connection {
                detail: "ca_bundle holds no certificate".into(),
            });
        }
        builder = builder.tls_certs_merge(certificates);
    }
    builder.build().map_err(|e| GitLabError::Connection {
        detail: format!("cannot build the HTTP client: {e}"),
    })
}
