//! A secret value (a GitLab token) that never prints itself.

use std::fmt;

/// Holds a secret string. `Debug` and `Display` print a redaction, so a token cannot reach a log line, an error
/// message or a panic through formatting; the value is only reachable through [`SecretString::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }

    /// The secret itself, for the one place that must send it (an HTTP header, a Secrets Manager call).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// A short, non-reversible fingerprint that lets a person tell two tokens apart (FNV-1a, 32 bits).
    pub fn fingerprint(&self) -> String {
        let hash = self.0.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
        format!("{hash:08x}")
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretString)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let secret = SecretString::new("glpat-abcdef123456");
        for shown in [
            format!("{secret:?}"),
            format!("{secret}"),
            format!("{secret:#?}"),
            format!("{:?}", Some(&secret)),
        ] {
            assert!(!shown.contains("abcdef"), "{shown}");
        }
        assert_eq!(secret.expose(), "glpat-abcdef123456");
    }

    #[test]
    fn fingerprint_tells_tokens_apart_without_revealing_them() {
        let a = SecretString::new("glpat-aaaaaaaaaaaaaaaa");
        let b = SecretString::new("glpat-aaaaaaaaaaaaaaab");
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 8);
        assert!(!a.expose().contains(&a.fingerprint()));
    }
}
