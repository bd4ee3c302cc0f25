//! Where a GitLab lives, and the guard that keeps a caller-supplied base URL from reaching our own network.
//!
//! A credential's `base_url` comes from whoever calls the credentials API, so it is treated as hostile: only
//! http(s), no credentials in the URL, and (unless the local-run allowance is on) no host with an address that is
//! not global unicast ([`is_public`]: loopback, link-local and the cloud metadata address, private, shared,
//! reserved, and IPv6 forms that embed such an IPv4 address are all refused). The address check runs on
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
    #[error(
        "base_url points at a loopback, link-local, private or reserved address, which is not allowed"
    )]
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

/// True for global unicast addresses only: an allow-list, so a range nobody thought of is refused.
///
/// IPv6 passes only inside 2000::/3, and forms that carry an IPv4 address (IPv4-mapped, NAT64's well-known
/// prefix, 6to4) are judged by that IPv4 address, since that is where the packets go. IPv4-compatible `::/96`
/// (deprecated), local-use NAT64 `64:ff9b:1::/48`, Teredo and the other IETF protocol assignments of 2001::/23
/// (ORCHID, benchmarking, ...) and the documentation ranges are refused whatever they embed.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0 // "this network" 0.0.0.0/8, unspecified included
        || a == 10 // private
        || (a == 100 && (64..=127).contains(&b)) // shared address space (CGNAT) 100.64.0.0/10
        || a == 127 // loopback
        || (a == 169 && b == 254) // link-local, the cloud metadata address included
        || (a == 172 && (16..=31).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0.0/24
        || (a == 192 && b == 0 && c == 2) // documentation TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // deprecated 6to4 relay anycast
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18.0.0/15
        || (a == 198 && b == 51 && c == 100) // documentation TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // documentation TEST-NET-3
        || a >= 224; // multicast 224.0.0.0/4, reserved 240.0.0.0/4 and broadcast
    !refused
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    // IPv4-mapped ::ffff:0:0/96 and NAT64 64:ff9b::/96 reach the IPv4 address they carry.
    if s[..6] == [0, 0, 0, 0, 0, 0xffff] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_global_v4(embedded(s[6], s[7]));
    }
    // 6to4 2002::/16 carries its IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return is_global_v4(embedded(s[1], s[2]));
    }
    let global_unicast = s[0] & 0xe000 == 0x2000; // 2000::/3
    let protocol_assignments = s[0] == 0x2001 && s[1] < 0x0200; // 2001::/23: Teredo, ORCHID, ...
    let documentation = (s[0] == 0x2001 && s[1] == 0x0db8) || s[0] & 0xfff0 == 0x3ff0; // 2001:db8::/32, 3fff::/20
    global_unicast && !protocol_assignments && !documentation
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
    fn only_global_unicast_addresses_are_public() {
        let refused = [
            // IPv4
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.8",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.255",
            "169.254.169.254",
            "172.16.3.4",
            "172.31.255.255",
            "192.0.0.9",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            // IPv6 outside 2000::/3
            "::",
            "::1",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "ff02::1",
            "100::1",
            // IPv6 that carries a non-global IPv4 address
            "::ffff:169.254.169.254",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::a9fe:a9fe",
            "::8.8.8.8",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "64:ff9b:1::8.8.8.8",
            "64:ff9b:1::a9fe:a9fe",
            "2002:7f00::",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101::1",
            // IPv6 special ranges inside 2000::/3
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "2001:10::1",
            "2001:20::1",
            "2001:db8::1",
            "3fff::1",
        ];
        for ip in refused {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} must be refused");
        }
        let allowed = [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.1.1",
            "198.20.0.1",
            "223.255.255.254",
            "2606:4700::1111",
            "2a00:1450:4001:82a::200e",
            "2001:200::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ];
        for ip in allowed {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip} must be allowed");
            assert!(NetworkPolicy::PublicOnly.allows(ip));
        }
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(NetworkPolicy::AllowPrivate.allows(loopback));
        assert!(!NetworkPolicy::PublicOnly.allows(loopback));
    }

    #[test]
    fn refuses_private_literal_addresses() {
        for input in [
            "https://169.254.169.254/",
            "https://127.0.0.1/",
            "https://10.0.0.8/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[::127.0.0.1]/",
            "https://[::a9fe:a9fe]/",
            "https://[2002:7f00::]/",
            "https://[64:ff9b:1::a9fe:a9fe]/",
            "https://2130706433/", // 127.0.0.1 written as a number
            "https://0x7f.1/",     // and in hex
        ] {
            assert_eq!(
                public(input),
                Err(AddressError::PrivateAddress),
                "{input} must be refused"
            );
        }
        assert!(public("https://8.8.8.8/").is_ok());
        assert!(public("https://[2606:4700::1111]/").is_ok());
        assert!(GitLabAddress::parse("https://[::1]:8443/", NetworkPolicy::AllowPrivate).is_ok());
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
