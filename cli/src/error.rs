//! What can go wrong, split by whose fault it is: the exit code tells a script which (see [`CliError::exit_code`]).

/// A failed command. The message is what the user reads on standard error; none ever holds a token or a secret.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The caller's input cannot work: a missing option, a bad value, an unknown stack (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The API answered with an error: its code and message, shown as they came.
    #[error("{}", api_message(*.status, .code.as_deref(), .message))]
    Api {
        status: u16,
        /// The API's `error` code; `None` for API Gateway's own answers (IAM, throttling, routing).
        code: Option<String>,
        message: String,
    },
    /// AWS refused the caller (IAM denied `DescribeStacks`, say) (exit 3).
    #[error("{0}")]
    Refused(String),
    /// AWS, the network or an answer we cannot read failed us (exit 1).
    #[error("{0}")]
    Failure(String),
    /// Standard output was closed by its reader (`| head`): the command stops quietly (exit 0).
    #[error("standard output was closed")]
    OutputClosed,
}

/// Exit codes: a script can tell a fix on its side (2) from a refusal (3) and from our failure (1).
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_CALLER: u8 = 2;
pub const EXIT_REFUSED: u8 = 3;

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_CALLER,
            CliError::Failure(_) => EXIT_FAILURE,
            CliError::Refused(_) => EXIT_REFUSED,
            CliError::OutputClosed => 0,
            // A refusal: not allowed (IAM, a token GitLab refuses), or not now (a conflict, nothing to import).
            CliError::Api {
                status: 401 | 403 | 409 | 422,
                ..
            } => EXIT_REFUSED,
            // Throttled: passing, try again.
            CliError::Api { status: 429, .. } => EXIT_FAILURE,
            // The request itself is wrong: a bad parameter, an unknown id or route, a body too large.
            CliError::Api {
                status: 400..=499, ..
            } => EXIT_CALLER,
            CliError::Api { .. } => EXIT_FAILURE,
        }
    }
}

fn api_message(status: u16, code: Option<&str>, message: &str) -> String {
    match code {
        Some(code) => format!("{code} ({status}): {message}"),
        None if status == 403 => format!(
            "API Gateway refused the request (403): {message} (check the AWS credentials, the region, and that \
             the caller's IAM policy allows execute-api:Invoke on this API)"
        ),
        None => format!("API Gateway answered {status}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> CliError {
        CliError::Api {
            status,
            code: Some("x".into()),
            message: String::new(),
        }
    }

    #[test]
    fn exit_codes_tell_whose_fault() {
        for status in [400, 404, 405, 413, 415] {
            assert_eq!(api(status).exit_code(), EXIT_CALLER, "{status}");
        }
        for status in [401, 403, 409, 422] {
            assert_eq!(api(status).exit_code(), EXIT_REFUSED, "{status}");
        }
        for status in [429, 500, 502, 503, 504] {
            assert_eq!(api(status).exit_code(), EXIT_FAILURE, "{status}");
        }
        assert_eq!(CliError::Usage(String::new()).exit_code(), EXIT_CALLER);
        assert_eq!(CliError::Failure(String::new()).exit_code(), EXIT_FAILURE);
        assert_eq!(CliError::Refused(String::new()).exit_code(), EXIT_REFUSED);
    }

    #[test]
    fn messages_show_the_code_or_say_api_gateway() {
        let ours = CliError::Api {
            status: 404,
            code: Some("project_not_found".into()),
            message: "no project 42".into(),
        };
        assert_eq!(ours.to_string(), "project_not_found (404): no project 42");
        let gateway = CliError::Api {
            status: 403,
            code: None,
            message: "Forbidden".into(),
        };
        assert!(
            gateway
                .to_string()
                .starts_with("API Gateway refused the request (403): Forbidden")
        );
    }
}
