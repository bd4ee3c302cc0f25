//! A GitLab token, read where no shell history, process list or log can see it: from standard input when that is
//! a pipe or a file, else from a prompt on the terminal without echo.

use std::io::{IsTerminal, Read};

use crate::error::CliError;

/// More than any GitLab token; a longer input is not a token.
const MAX_TOKEN_BYTES: u64 = 4 * 1024;

pub fn read_token() -> Result<String, CliError> {
    let token = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("GitLab token (not shown): ")
            .map_err(|e| CliError::Usage(format!("reading the token from the terminal: {e}")))?
    } else {
        let mut text = String::new();
        std::io::stdin()
            .take(MAX_TOKEN_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| CliError::Usage(format!("reading the token from standard input: {e}")))?;
        if text.len() as u64 > MAX_TOKEN_BYTES {
            return Err(CliError::Usage(format!(
                "standard input holds more than {MAX_TOKEN_BYTES} bytes: give only the token"
            )));
        }
        text
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(CliError::Usage(
            "no token: pipe it on standard input (e.g. from a secret store) or type it at the prompt".into(),
        ));
    }
    Ok(token.to_owned())
}
