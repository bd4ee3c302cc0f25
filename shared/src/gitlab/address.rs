//! Where a GitLab lives, and the guard that keeps a caller-supplied base URL from reaching our own network.
//!
//! A credential's `base_url` comes from whoever calls the credentials API, so it is treated as hostile: only
//! http(s), no credentials in the URL, and (unless the local-run allowance is on) no host whose addresses are
//! loopback, link-local (the cloud metadata address), private, shared or unique-local. The address check runs on
//! resolved addresses at connect time ([`GuardedResolver`]), so a public name that resolves to 127.0.0.1, or that
//! changes its answer after validation, does not pass.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::Url;

/// Which networks a GitLab base URL may point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkPolicy {
    /// Production: public addresses only, https only.
    #[default]
    PublicOnly,
    /// Local runs and tests: loopback and private addresses, and plain http, are allowed.
    AllowPrivate,
}

/// Why a base URL was refused. All of these are the caller's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("base_url is not a valid URL")]
    Malformed,
    #[error("base_url must use https")]
    InsecureScheme,
    #[error("base_url must use http or https")]
    UnsupportedScheme,
    #[error("base_url must not contain credentials; put the token in secrets.api_token")]
    EmbeddedCredentials,
    #[error("base_url must not contain a query or fragment")]
    QueryOrFragment,
    #[error("base_url points at a loopback, link-local or private address, which is not allowed")]
    PrivateAddress,
    #[error("base_url host could not be resolved")]
    Unresolvable,
}

/// A validated GitLab instance address: the web root (for people) and the API root (`.../api/v4/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitLabAddress {
    web_root: Url,
    api_root: Url,
}

impl GitLabAddress {
    /// Accepts `https://gitlab.com`, `https://gitlab.com/`, `https://gitlab.com/api/v4`, and self-managed
    /// instances under a path prefix such as `https://host/gitlab/`. IP-literal hosts are checked here; named
    /// hosts are checked on their resolved addresses by [`GuardedResolver`] and [`GitLabAddress::check_resolves`].
    pub fn parse(input: &str, policy: NetworkPolicy) -> Result<Self, AddressError> {
        let url = Url::parse(input.trim()).map_err(|_| AddressError::Malformed)?;
        match (url.scheme(), policy) {
            ("https", _) | ("http", NetworkPolicy::AllowPrivate) => {}
            ("http", NetworkPolicy::PublicOnly) => return Err(AddressError::InsecureScheme),
            _ => return Err(AddressError::UnsupportedScheme),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(AddressError::EmbeddedCredentials);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(AddressError::QueryOrFragment);
        }
        let host = url.host().ok_or(AddressError::Malformed)?;
        let literal = match host {
            url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            url::Host::Domain(_) => None,
        };
        if let Some(ip) = literal
            && !policy.allows(ip)
        {
            return Err(AddressError::PrivateAddress);
        }

        let mut path = url.path().trim_end_matches('/').to_owned();
        if let Some(prefix) = path.strip_suffix("/api/v4") {
            path = prefix.to_owned();
        }
        let mut web_root = url;
        web_root.set_path(&format!("{path}/"));
        let api_root = web_root
            .join("api/v4/")
            .map_err(|_| AddressError::Malformed)?;
        Ok(GitLabAddress { web_root, api_root })
    }

    /// The instance's web root, always ending in `/` (e.g. `https://host/gitlab/`).
    pub fn web_root(&self) -> &Url {
        &self.web_root
    }

    /// The API root, always ending in `/api/v4/`.
    pub fn api_root(&self) -> &Url {
        &self.api_root
    }

    /// Resolves the host now and refuses it when any address is not allowed: a clear error at credential
    /// creation, before any request is sent. The resolver repeats the check on every connection.
    pub async fn check_resolves(&self, policy: NetworkPolicy) -> Result<(), AddressError> {
        let Some(url::Host::Domain(name)) = self.web_root.host() else {
            return Ok(());
        };
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name, 0))
            .await
            .map_err(|_| AddressError::Unresolvable)?
            .collect();
        if addresses.is_empty() {
            return Err(AddressError::Unresolvable);
        }
        if addresses.iter().any(|a| !policy.allows(a.ip())) {
            return Err(AddressError::PrivateAddress);
        }
        Ok(())
    }
}

impl std::fmt::Display for GitLabAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.web_root.as_str())
    }
}

impl NetworkPolicy {
    pub fn allows(self, ip: IpAddr) -> bool {
        match self {
            NetworkPolicy::AllowPrivate => true,
            NetworkPolicy::PublicOnly => is_public(ip),
        }
    }
}

/// True for addresses on the public internet; false for every range a server-side request must not reach.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = v6.segments();
            // NAT64 (64:ff9b::/96) embeds an IPv4 address: judge that one.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || is_ipv6_documentation(v6))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let shared_cgnat = a == 100 && (64..=127).contains(&b); // 100.64.0.0/10
    let benchmarking = a == 198 && (b == 18 || b == 19); // 198.18.0.0/15
    let reserved = a >= 240; // 240.0.0.0/4 and broadcast
    let this_network = a == 0; // 0.0.0.0/8
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_documentation()
        || shared_cgnat
        || benchmarking
        || reserved
        || this_network)
}

fn is_ipv6_documentation(ip: Ipv6Addr) -> bool {
    ip.segments()[..2] == [0x2001, 0x0db8]
}

/// A DNS resolver for reqwest that drops every address the policy forbids, at connect time. When nothing is left,
/// the connection fails: a name that resolves to loopback or the metadata address is never dialled.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub policy: NetworkPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = resolved.filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(AddressError::PrivateAddress) as _);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(input: &str) -> Result<GitLabAddress, AddressError> {
        GitLabAddress::parse(input, NetworkPolicy::PublicOnly)
    }

    #[test]
    fn normalises_the_forms_people_paste() {
        for input in [
            "https://gitlab.com",
            "https://gitlab.com/",
            "https://gitlab.com/api/v4",
            "https://gitlab.com/api/v4/",
            "  https://gitlab.com/  ",
        ] {
            let address = public(input).unwrap();
            assert_eq!(
                address.web_root().as_str(),
                "https://gitlab.com/",
                "{input}"
            );
            assert_eq!(
                address.api_root().as_str(),
                "https://gitlab.com/api/v4/",
                "{input}"
            );
        }
        let prefixed = public("https://example.com/gitlab/api/v4").unwrap();
        assert_eq!(prefixed.web_root().as_str(), "https://example.com/gitlab/");
        assert_eq!(
            prefixed.api_root().as_str(),
            "https://example.com/gitlab/api/v4/"
        );
    }

    #[test]
    fn refuses_schemes_credentials_and_queries() {
        assert_eq!(
            public("http://gitlab.com/"),
            Err(AddressError::InsecureScheme)
        );
        assert_eq!(
            public("ftp://gitlab.com/"),
            Err(AddressError::UnsupportedScheme)
        );
        assert_eq!(
            public("file:///etc/passwd"),
            Err(AddressError::UnsupportedScheme)
        );
        assert_eq!(
            public("https://user:pw@gitlab.com/"),
            Err(AddressError::EmbeddedCredentials)
        );
        assert_eq!(
            public("https://gitlab.com/?x=1"),
            Err(AddressError::QueryOrFragment)
        );
        assert_eq!(public("not a url"), Err(AddressError::Malformed));
        assert!(
            GitLabAddress::parse("http://127.0.0.1:8080/", NetworkPolicy::AllowPrivate).is_ok()
        );
    }

    #[test]
    fn refuses_private_literal_addresses() {
        for input in [
            "https://169.254.169.254/",
            "https://127.0.0.1/",
            "https://10.0.0.8/",
            "https://172.16.3.4/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://2130706433/", // 127.0.0.1 written as a number
        ] {
            assert_eq!(
                public(input),
                Err(AddressError::PrivateAddress),
                "{input} must be refused"
            );
        }
        assert!(public("https://8.8.8.8/").is_ok());
        assert!(public("https://[2606:4700::1111]/").is_ok());
    }

    #[tokio::test]
    async fn refuses_names_that_resolve_to_loopback() {
        let address = public("https://localhost/").unwrap();
        assert_eq!(
            address.check_resolves(NetworkPolicy::PublicOnly).await,
            Err(AddressError::PrivateAddress)
        );
        assert_eq!(
            address.check_resolves(NetworkPolicy::AllowPrivate).await,
            Ok(())
        );
    }
}
