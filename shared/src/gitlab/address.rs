//! Where a GitLab lives, and the guard that keeps a caller-supplied base URL from reaching our own network.
//!
//! A credential's `base_url` comes from whoever calls the credentials API, so it is treated as hostile: only
//! https, no credentials in the URL, and no host with an address that is not global unicast ([`is_public`]:
//! private, shared, reserved, and IPv6 forms that embed such an IPv4 address are all refused) unless the
//! operator allowed that private network for this deployment ([`PrivateNetworks`]). Loopback, link-local and the
//! cloud metadata addresses ([`is_never_allowed`]) are refused whatever the operator's list says. The address
//! check runs on resolved addresses at connect time ([`GuardedResolver`]), so a public name that resolves to
//! 127.0.0.1, or that changes its answer after validation, does not pass.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

use crate::kernel::instance::{InstanceUrl, InstanceUrlError};
use url::Url;

/// Which networks a GitLab base URL may point at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetworkPolicy {
    /// Deployed stacks: public addresses only, https only.
    #[default]
    PublicOnly,
    /// Deployed stacks whose operator runs a private GitLab: public addresses and the operator's private
    /// networks, https only.
    PublicAnd(PrivateNetworks),
    /// Local runs and tests: loopback and private addresses, and plain http, are allowed.
    AllowPrivate,
}

/// The private networks an operator lets connections use (`GITLAB_PRIVATE_NETWORKS`): CIDR ranges such as
/// `10.20.0.0/16` (a bare address is a /32 or /128), and host names (`gitlab.corp.example`, or `*.corp.example`
/// for every name below it) that may resolve to private addresses. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateNetworks {
    ranges: Arc<[IpNet]>,
    hosts: Arc<[HostPattern]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.corp.example`: holds `.corp.example`, so `corp.example` itself and `evilcorp.example` do not match.
    Below(String),
}

/// Why an entry of the operator's list was refused (a deployment error: start-up fails with it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry:?} is neither a CIDR range, an IP address nor a host name")]
pub struct PrivateNetworksError {
    pub entry: String,
}

impl PrivateNetworks {
    /// Parses a list separated by commas or whitespace; `None` when it holds no entry.
    pub fn parse(list: &str) -> Result<Option<Self>, PrivateNetworksError> {
        let mut ranges = Vec::new();
        let mut hosts = Vec::new();
        for entry in list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            let refused = || PrivateNetworksError {
                entry: entry.to_owned(),
            };
            if let Ok(range) = entry.parse::<IpNet>() {
                ranges.push(range.trunc());
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                ranges.push(IpNet::from(ip));
            } else {
                let (below, name) = match entry.strip_prefix("*.") {
                    Some(rest) => (true, rest),
                    None => (false, entry),
                };
                let name = normalise_host(name);
                let valid_name = !name.is_empty()
                    && name.split('.').all(|label| {
                        !label.is_empty()
                            && label.len() <= 63
                            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    });
                if !valid_name || name.parse::<IpAddr>().is_ok() {
                    return Err(refused());
                }
                hosts.push(if below {
                    HostPattern::Below(format!(".{name}"))
                } else {
                    HostPattern::Exact(name)
                });
            }
        }
        if ranges.is_empty() && hosts.is_empty() {
            return Ok(None);
        }
        Ok(Some(PrivateNetworks {
            ranges: ranges.into(),
            hosts: hosts.into(),
        }))
    }

    /// True when `ip` lies in a listed range (judged also by the IPv4 address an IPv6 form carries), or when the
    /// connection is to a listed host name.
    fn contain(&self, host: Option<&str>, ip: IpAddr) -> bool {
        let in_range = |ip: IpAddr| self.ranges.iter().any(|range| range.contains(&ip));
        if in_range(ip) || embedded_v4(ip).is_some_and(|v4| in_range(IpAddr::V4(v4))) {
            return true;
        }
        let Some(host) = host.map(normalise_host) else {
            return false;
        };
        self.hosts.iter().any(|pattern| match pattern {
            HostPattern::Exact(name) => *name == host,
            HostPattern::Below(suffix) => host.ends_with(suffix.as_str()),
        })
    }
}

/// Host names compare in lower case and without the root's trailing dot.
fn normalise_host(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
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
        "base_url points at a private or reserved address outside the private networks this deployment allows \
         (its GitLabPrivateNetworks setting)"
    )]
    PrivateAddress,
    #[error(
        "base_url points at a loopback, link-local or cloud metadata address, which is never allowed"
    )]
    LocalAddress,
    #[error("base_url host could not be resolved")]
    Unresolvable,
}

impl From<InstanceUrlError> for AddressError {
    fn from(error: InstanceUrlError) -> Self {
        match error {
            InstanceUrlError::Malformed => AddressError::Malformed,
            InstanceUrlError::UnsupportedScheme => AddressError::UnsupportedScheme,
            InstanceUrlError::EmbeddedCredentials => AddressError::EmbeddedCredentials,
            InstanceUrlError::QueryOrFragment => AddressError::QueryOrFragment,
        }
    }
}

/// A validated GitLab instance address: the web root (for people) and the API root (`.../api/v4/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitLabAddress {
    web_root: InstanceUrl,
    api_root: Url,
}

impl GitLabAddress {
    /// Accepts `https://gitlab.com`, `https://gitlab.com/`, `https://gitlab.com/api/v4`, and self-managed
    /// instances under a path prefix such as `https://host/gitlab/`. IP-literal hosts are checked here; named
    /// hosts are checked on their resolved addresses by [`GuardedResolver`] and [`GitLabAddress::check_resolves`].
    pub fn parse(input: &str, policy: &NetworkPolicy) -> Result<Self, AddressError> {
        let instance = InstanceUrl::parse(input)?;
        if instance.as_url().scheme() == "http" && policy.requires_https() {
            return Err(AddressError::InsecureScheme);
        }
        let literal = match instance.as_url().host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal {
            policy.check(None, ip)?;
        }
        let api_root = instance
            .as_url()
            .join("api/v4/")
            .map_err(|_| AddressError::Malformed)?;
        Ok(GitLabAddress {
            web_root: instance,
            api_root,
        })
    }

    /// The instance's web root, always ending in `/` (e.g. `https://host/gitlab/`).
    pub fn web_root(&self) -> &InstanceUrl {
        &self.web_root
    }

    /// The API root, always ending in `/api/v4/`.
    pub fn api_root(&self) -> &Url {
        &self.api_root
    }

    /// Resolves the host now and refuses it when any address is not allowed: a clear error at credential
    /// creation, before any request is sent. The resolver repeats the check on every connection.
    pub async fn check_resolves(&self, policy: &NetworkPolicy) -> Result<(), AddressError> {
        let Some(url::Host::Domain(name)) = self.web_root.as_url().host() else {
            return Ok(());
        };
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name, 0))
            .await
            .map_err(|_| AddressError::Unresolvable)?
            .collect();
        if addresses.is_empty() {
            return Err(AddressError::Unresolvable);
        }
        addresses
            .iter()
            .try_for_each(|a| policy.check(Some(name), a.ip()))
    }
}

impl std::fmt::Display for GitLabAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.web_root.fmt(f)
    }
}

impl NetworkPolicy {
    /// Whether a connection to `host` (the URL's name; `None` for an IP literal) may use the address `ip`.
    pub fn check(&self, host: Option<&str>, ip: IpAddr) -> Result<(), AddressError> {
        match self {
            NetworkPolicy::AllowPrivate => Ok(()),
            _ if is_never_allowed(ip) => Err(AddressError::LocalAddress),
            _ if is_public(ip) => Ok(()),
            NetworkPolicy::PublicAnd(private) if private.contain(host, ip) => Ok(()),
            _ => Err(AddressError::PrivateAddress),
        }
    }

    /// Deployed stacks speak https only; plain http is for local runs.
    pub fn requires_https(&self) -> bool {
        !matches!(self, NetworkPolicy::AllowPrivate)
    }
}

/// Loopback, link-local (the cloud metadata address 169.254.169.254 among them), AWS's IPv6 instance services
/// (fd00:ec2::/32: metadata, DNS, time), unspecified and multicast addresses, also when an IPv6 form carries
/// them: what no operator's list can allow, because they reach the function's own host or the cloud's control
/// plane rather than a GitLab.
pub fn is_never_allowed(ip: IpAddr) -> bool {
    let v4_refused = |v4: Ipv4Addr| {
        v4.is_loopback() || v4.is_link_local() || v4.octets()[0] == 0 || v4.octets()[0] >= 224
    };
    match ip {
        IpAddr::V4(v4) => v4_refused(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || s[0] & 0xffc0 == 0xfe80 // link-local fe80::/10
                || (s[0] == 0xfd00 && s[1] == 0x0ec2) // AWS instance services fd00:ec2::/32
                || embedded_v4(ip).is_some_and(v4_refused)
                // The deprecated IPv4-compatible ::/96 and local-use NAT64 64:ff9b:1::/48 may carry one too.
                || ((s[..6] == [0; 6] || s[..3] == [0x64, 0xff9b, 1])
                    && v4_refused(Ipv4Addr::from(v6.to_bits() as u32)))
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
    if let Some(v4) = embedded_v4(IpAddr::V6(ip)) {
        return is_global_v4(v4);
    }
    let s = ip.segments();
    let global_unicast = s[0] & 0xe000 == 0x2000; // 2000::/3
    let protocol_assignments = s[0] == 0x2001 && s[1] < 0x0200; // 2001::/23: Teredo, ORCHID, ...
    let documentation = (s[0] == 0x2001 && s[1] == 0x0db8) || s[0] & 0xfff0 == 0x3ff0; // 2001:db8::/32, 3fff::/20
    global_unicast && !protocol_assignments && !documentation
}

/// The IPv4 address an IPv6 address delivers to: IPv4-mapped ::ffff:0:0/96 and NAT64 64:ff9b::/96 carry it in
/// their last 32 bits, 6to4 2002::/16 in bits 16..48.
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else {
        return None;
    };
    let s = v6.segments();
    let v4 = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if s[..6] == [0, 0, 0, 0, 0, 0xffff] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(v4(s[6], s[7]))
    } else if s[0] == 0x2002 {
        Some(v4(s[1], s[2]))
    } else {
        None
    }
}

/// A DNS resolver for reqwest that drops every address the policy forbids, at connect time. When nothing is left,
/// the connection fails: a name that resolves to loopback or the metadata address is never dialled.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub policy: NetworkPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed = admit(&policy, name.as_str(), resolved)?;
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The resolved addresses of `name` the policy allows; the first refusal's reason when none is left.
fn admit(
    policy: &NetworkPolicy,
    name: &str,
    resolved: impl Iterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, AddressError> {
    let mut refusal = AddressError::Unresolvable;
    let allowed: Vec<SocketAddr> = resolved
        .filter(|a| match policy.check(Some(name), a.ip()) {
            Ok(()) => true,
            Err(reason) => {
                if refusal == AddressError::Unresolvable {
                    refusal = reason;
                }
                false
            }
        })
        .collect();
    if allowed.is_empty() {
        return Err(refusal);
    }
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(input: &str) -> Result<GitLabAddress, AddressError> {
        GitLabAddress::parse(input, &NetworkPolicy::PublicOnly)
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
            GitLabAddress::parse("http://127.0.0.1:8080/", &NetworkPolicy::AllowPrivate).is_ok()
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
            assert_eq!(NetworkPolicy::PublicOnly.check(None, ip), Ok(()));
        }
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(NetworkPolicy::AllowPrivate.check(None, loopback), Ok(()));
        assert_eq!(
            NetworkPolicy::PublicOnly.check(None, loopback),
            Err(AddressError::LocalAddress)
        );
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
            let expected = if ["10.0.0.8", "100.64.0.1", "fd00::1"]
                .iter()
                .any(|private| input.contains(private))
            {
                AddressError::PrivateAddress
            } else {
                AddressError::LocalAddress
            };
            assert_eq!(public(input), Err(expected), "{input} must be refused");
        }
        assert!(public("https://8.8.8.8/").is_ok());
        assert!(public("https://[2606:4700::1111]/").is_ok());
        assert!(GitLabAddress::parse("https://[::1]:8443/", &NetworkPolicy::AllowPrivate).is_ok());
    }

    #[tokio::test]
    async fn refuses_names_that_resolve_to_loopback() {
        let address = public("https://localhost/").unwrap();
        assert_eq!(
            address.check_resolves(&NetworkPolicy::PublicOnly).await,
            Err(AddressError::LocalAddress)
        );
        assert_eq!(
            address.check_resolves(&NetworkPolicy::AllowPrivate).await,
            Ok(())
        );
    }

    fn operator(list: &str) -> NetworkPolicy {
        NetworkPolicy::PublicAnd(PrivateNetworks::parse(list).unwrap().unwrap())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_operators_ranges_allow_their_private_addresses_and_no_others() {
        let policy = operator("10.20.0.0/16, 198.18.0.1 fd12:3456::/32");
        for allowed in [
            "10.20.0.5",
            "10.20.255.254",
            "198.18.0.1",
            "fd12:3456::9",
            "::ffff:10.20.0.5",
            "8.8.8.8",
        ] {
            assert_eq!(policy.check(None, ip(allowed)), Ok(()), "{allowed}");
        }
        for refused in [
            "10.21.0.1",
            "192.168.0.1",
            "198.18.0.2",
            "fd12:3457::1",
            "172.16.0.1",
        ] {
            assert_eq!(
                policy.check(None, ip(refused)),
                Err(AddressError::PrivateAddress),
                "{refused}"
            );
        }
        assert!(GitLabAddress::parse("https://10.20.0.5:8443/", &policy).is_ok());
        assert_eq!(
            GitLabAddress::parse("https://10.30.0.5/", &policy),
            Err(AddressError::PrivateAddress)
        );
        assert_eq!(
            GitLabAddress::parse("http://10.20.0.5/", &policy),
            Err(AddressError::InsecureScheme),
            "a private GitLab is still reached over https only"
        );
    }

    #[test]
    fn loopback_link_local_and_metadata_stay_refused_whatever_the_list_covers() {
        let careless = operator("0.0.0.0/0 ::/0 127.0.0.0/8 169.254.0.0/16 fe80::/10 fd00::/8");
        for never in [
            "127.0.0.1",
            "127.1.2.3",
            "169.254.169.254",
            "169.254.170.2",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::",
            "::a9fe:a9fe",
            "64:ff9b:1::7f00:1",
        ] {
            assert_eq!(
                careless.check(None, ip(never)),
                Err(AddressError::LocalAddress),
                "{never} must be refused even when listed"
            );
            assert_eq!(
                careless.check(Some("gitlab.corp.example"), ip(never)),
                Err(AddressError::LocalAddress)
            );
        }
        assert_eq!(careless.check(None, ip("10.9.8.7")), Ok(()));
        assert_eq!(careless.check(None, ip("fd00::1")), Ok(()));
    }

    #[test]
    fn a_listed_host_name_may_resolve_to_private_addresses_and_only_that_name() {
        let policy = operator("gitlab.corp.example, *.git.example");
        let private = ip("10.1.2.3");
        for name in [
            "gitlab.corp.example",
            "GitLab.Corp.Example.",
            "eu.git.example",
            "a.b.git.example",
        ] {
            assert_eq!(policy.check(Some(name), private), Ok(()), "{name}");
        }
        for name in [
            "corp.example",
            "evilgitlab.corp.example",
            "gitlab.corp.example.evil.test",
            "git.example",
            "evilgit.example",
        ] {
            assert_eq!(
                policy.check(Some(name), private),
                Err(AddressError::PrivateAddress),
                "{name}"
            );
        }
        assert_eq!(
            policy.check(Some("gitlab.corp.example"), ip("169.254.169.254")),
            Err(AddressError::LocalAddress)
        );
    }

    #[test]
    fn a_name_passes_the_resolver_only_with_addresses_the_policy_allows() {
        let policy = operator("10.20.0.0/16");
        let at = |text: &str| SocketAddr::new(ip(text), 443);
        assert_eq!(
            admit(
                &policy,
                "gitlab.corp.example",
                [at("10.20.0.5")].into_iter()
            ),
            Ok(vec![at("10.20.0.5")])
        );
        assert_eq!(
            admit(
                &policy,
                "gitlab.corp.example",
                [at("10.99.0.1")].into_iter()
            ),
            Err(AddressError::PrivateAddress)
        );
        assert_eq!(
            admit(
                &policy,
                "rebind.example",
                [at("169.254.169.254")].into_iter()
            ),
            Err(AddressError::LocalAddress)
        );
        // A name with one allowed and one refused answer is only ever dialled at the allowed one.
        assert_eq!(
            admit(
                &policy,
                "mixed.example",
                [at("127.0.0.1"), at("10.20.0.7"), at("10.99.0.1")].into_iter()
            ),
            Ok(vec![at("10.20.0.7")])
        );
        assert_eq!(
            admit(&policy, "nothing.example", std::iter::empty()),
            Err(AddressError::Unresolvable)
        );
    }

    #[test]
    fn the_list_takes_ranges_addresses_and_names_and_refuses_anything_else() {
        assert_eq!(PrivateNetworks::parse(""), Ok(None));
        assert_eq!(PrivateNetworks::parse(" ,\n "), Ok(None));
        // A range written with host bits set means the network it names.
        assert_eq!(
            PrivateNetworks::parse("10.20.3.4/16"),
            PrivateNetworks::parse("10.20.0.0/16")
        );
        for bad in [
            "10.0.0.0/33",
            "https://gitlab.corp/",
            "gitlab_corp",
            "*.",
            "a..b",
            "*",
        ] {
            assert_eq!(
                PrivateNetworks::parse(&format!("10.0.0.0/8 {bad}")),
                Err(PrivateNetworksError {
                    entry: bad.to_owned()
                }),
                "{bad}"
            );
        }
    }
}
