//! GitLab clients as tests need them: pointed at a simulator on loopback, with short retry delays.

use std::sync::Arc;
use std::time::Duration;

use shared::gitlab::{
    GitLabAddress, GitLabClient, HttpClients, NetworkPolicy, RequestBudget, RetryPolicy, Timeouts,
};
use shared::secret::SecretString;

/// The production policy with delays scaled down, so fault tests run in seconds.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    }
}

/// HTTP clients for a simulator on loopback (the local-run allowance), with short timeouts.
pub fn local_http() -> HttpClients {
    HttpClients::new(
        NetworkPolicy::AllowPrivate,
        Timeouts {
            connect: Duration::from_secs(2),
            read: Duration::from_secs(10),
            total: Duration::from_secs(30),
        },
    )
    .expect("HTTP client")
}

/// A client for `base_url` with `token`, an unconstrained budget and [`fast_retry`].
pub fn client(base_url: &str, token: &str) -> GitLabClient {
    client_with(&local_http(), base_url, token, None, fast_retry())
}

/// A client with every part chosen by the test.
pub fn client_with(
    http: &HttpClients,
    base_url: &str,
    token: &str,
    ca_bundle: Option<&str>,
    retry: RetryPolicy,
) -> GitLabClient {
    let address = GitLabAddress::parse(base_url, http.policy()).expect("base URL");
    GitLabClient::new(
        http.for_ca_bundle(ca_bundle).expect("client for CA bundle"),
        address,
        SecretString::new(token),
        Arc::new(RequestBudget::per_minute(1_000_000, 1_000)),
        retry,
    )
}
