//! An extra address on the loopback interface, so a test can serve a "private GitLab" at an address the network
//! guard judges like any private one (198.18.0.0/15, the range set aside for benchmarks) while no packet leaves
//! the host. Adding it needs `ip` (iproute2) and CAP_NET_ADMIN over the network namespace: `scripts/test` runs the
//! tests in a namespace of their own (`scripts/in-private-network`), where any user has it. Without it the test
//! fails and says so, rather than passing without checking.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Mutex;

/// The alias tests use: the first address of the benchmarking range.
pub const PRIVATE_TEST_ADDRESS: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

/// How many tests of this process hold the alias, and whether this process added it (then the last one out
/// removes it).
static HOLDERS: Mutex<(usize, bool)> = Mutex::new((0, false));

/// The alias while at least one test holds it.
#[derive(Debug)]
pub struct LoopbackAlias {
    ip: Ipv4Addr,
}

impl LoopbackAlias {
    pub fn hold(ip: Ipv4Addr) -> Result<Self, String> {
        let mut holders = HOLDERS.lock().unwrap_or_else(|e| e.into_inner());
        if holders.0 == 0 && std::net::TcpListener::bind((ip, 0)).is_err() {
            ip_address("add", ip)?;
            holders.1 = true;
        }
        holders.0 += 1;
        Ok(LoopbackAlias { ip })
    }
}

impl Drop for LoopbackAlias {
    fn drop(&mut self) {
        let mut holders = HOLDERS.lock().unwrap_or_else(|e| e.into_inner());
        holders.0 -= 1;
        if holders.0 == 0 && holders.1 {
            holders.1 = false;
            if let Err(error) = ip_address("del", self.ip) {
                eprintln!("{error}");
            }
        }
    }
}

fn ip_address(verb: &str, ip: Ipv4Addr) -> Result<(), String> {
    let command = format!("ip address {verb} {ip}/32 dev lo");
    let output = Command::new("ip")
        .args(["address", verb, &format!("{ip}/32"), "dev", "lo"])
        .output()
        .map_err(|e| format!("cannot run `{command}` (iproute2 is needed): {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{command}` failed (it needs CAP_NET_ADMIN: run the tests through scripts/test, or \
         scripts/in-private-network): {}",
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}
