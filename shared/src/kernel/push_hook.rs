//! The per-connection push hook secret: GitLab sends it in `X-Gitlab-Token` with every push hook, and the hook
//! endpoint compares it with the one in the secret vault. The credentials room creates and rotates it; the hooks
//! room reads it. Its name and shape live here so that the two agree.

use crate::secret::SecretString;

use super::ids::ConnectionId;

/// The last segment of a hook secret's name. A token's secret is `<prefix><connection>/<credential>`, and no
/// credential id we make is this word, so the hook function's IAM policy (`<prefix>*/push-hook-??????`) reaches
/// hook secrets and never a token.
pub const HOOK_SECRET_SUFFIX: &str = "push-hook";

/// Bytes of randomness in a hook secret (shown as twice as many hex digits).
const SECRET_BYTES: usize = 32;

/// The secret vault name of a connection's push hook secret.
pub fn hook_secret_name(prefix: &str, connection: &ConnectionId) -> String {
    format!("{prefix}{connection}/{HOOK_SECRET_SUFFIX}")
}

/// The path of a connection's push hook route, as GitLab is told to call it (after the API's base URL).
pub fn hook_path(connection: &ConnectionId) -> String {
    format!("/connections/{connection}/hooks/gitlab")
}

/// A fresh hook secret: 256 bits from the operating system's generator, as 64 lowercase hex digits.
pub fn generate_hook_secret() -> Result<SecretString, getrandom::Error> {
    let mut bytes = [0_u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(SecretString::new(hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_secret_is_long_random_and_never_a_token_secret_name() {
        let a = generate_hook_secret().unwrap();
        let b = generate_hook_secret().unwrap();
        assert_eq!(a.expose().len(), 64);
        assert!(a.expose().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.expose(), b.expose());
        let connection = ConnectionId::parse("acme").unwrap();
        assert_eq!(
            hook_secret_name("gitlab-importer/", &connection),
            "gitlab-importer/acme/push-hook"
        );
        assert!(
            !crate::kernel::ids::CredentialId::generate()
                .as_str()
                .eq(HOOK_SECRET_SUFFIX)
        );
        assert_eq!(hook_path(&connection), "/connections/acme/hooks/gitlab");
    }
}
