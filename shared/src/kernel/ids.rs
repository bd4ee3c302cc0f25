//! Identifiers with a checked shape, as they appear in paths, keys and messages.

use std::fmt;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A connection id as it appears in the path: `^[A-Za-z0-9_-]{1,64}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectionId(String);

impl ConnectionId {
    pub fn parse(value: &str) -> Option<Self> {
        is_identifier(value).then(|| ConnectionId(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A credential id: `cred_` and 26 lowercase base-32 characters when we make it; any identifier shape when parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CredentialId(String);

impl CredentialId {
    pub fn parse(value: &str) -> Option<Self> {
        is_identifier(value).then(|| CredentialId(value.to_owned()))
    }

    /// A fresh, unguessable id.
    pub fn generate() -> Self {
        let bits = random_bits();
        const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
        let mut id = String::from("cred_");
        for i in 0..26 {
            id.push(char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]));
        }
        CredentialId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 128 unguessable bits (from the OS-seeded hasher keys, the clock and a counter).
pub(crate) fn random_bits() -> u128 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let mut bits: u128 = 0;
    for half in 0..2_u64 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(half);
        hasher.write_i128(nanos);
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        bits = (bits << 64) | u128::from(hasher.finish());
    }
    bits
}

fn is_identifier(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_have_a_checked_shape() {
        assert!(ConnectionId::parse("acme-prod_1").is_some());
        for bad in ["", "a/b", "..", "a b", "é", &"x".repeat(65), "a%2Fb"] {
            assert!(ConnectionId::parse(bad).is_none(), "{bad:?}");
            assert!(CredentialId::parse(bad).is_none(), "{bad:?}");
        }
        let a = CredentialId::generate();
        let b = CredentialId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 31);
        assert!(CredentialId::parse(a.as_str()).is_some());
    }
}
