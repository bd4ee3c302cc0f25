//! Logging set-up shared by the functions: JSON lines in Lambda (`AWS_LAMBDA_LOG_FORMAT=JSON`), readable text
//! elsewhere.
//!
//! One level for everything, read the way `lambda_runtime`'s own subscriber reads it: `AWS_LAMBDA_LOG_LEVEL`
//! (which Lambda sets from the function's `ApplicationLogLevel`, the template's `LogLevel`), else `RUST_LOG`, else
//! `info`. The crates that see raw events, requests and responses are held at `info` (or the level, if that is
//! quieter) whatever it says: below `info`, `lambda_runtime` logs every raw event (an API request's body, with the
//! token being stored), the AWS SDK its requests (a secret's value), the HTTP and TLS crates their traffic.

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The variables that name the level, first found wins.
const LEVEL_VARIABLES: [&str; 2] = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"];

/// Target prefixes held at `info` at most: everything that carries event, request or response bodies (a prefix
/// covers the crates it begins: `aws_` is the SDK, smithy and SigV4; `hyper` is hyper and hyper-util).
pub const QUIET_TARGETS: [&str; 8] = [
    "lambda_runtime",
    "lambda_http",
    "aws_",
    "hyper",
    "h2",
    "reqwest",
    "rustls",
    "tokio_rustls",
];

/// A level variable holds something that is no level; logging goes on at `info`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} is {value:?}, which is no log level; logging at info")]
pub struct UnknownLevel {
    pub variable: &'static str,
    pub value: String,
}

/// The level from the environment (through `lookup`): `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`.
/// Lambda's words (`TRACE` to `FATAL`) and `tracing`'s are both understood, in any case.
pub fn level(lookup: impl Fn(&str) -> Option<String>) -> Result<LevelFilter, UnknownLevel> {
    let Some((variable, value)) = LEVEL_VARIABLES
        .iter()
        .find_map(|name| Some((*name, lookup(name).filter(|v| !v.trim().is_empty())?)))
    else {
        return Ok(LevelFilter::INFO);
    };
    let word = value.trim();
    if word.eq_ignore_ascii_case("fatal") {
        return Ok(LevelFilter::ERROR);
    }
    LevelFilter::from_str(word).map_err(|_| UnknownLevel { variable, value })
}

/// What is logged at `level`: everything at that level, except the [`QUIET_TARGETS`] below `info`.
pub fn filter(level: LevelFilter) -> Targets {
    let quiet = level.min(LevelFilter::INFO);
    QUIET_TARGETS
        .iter()
        .fold(Targets::new().with_default(level), |targets, target| {
            targets.with_target(*target, quiet)
        })
}

/// Installs the global subscriber once per process. Never logs event bodies or secrets: callers log fields.
pub fn init() {
    let (level, unknown) = match level(|name| std::env::var(name).ok()) {
        Ok(level) => (level, None),
        Err(unknown) => (LevelFilter::INFO, Some(unknown)),
    };
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_target(false)
        .with_ansi(false);
    // `try_init` so a second call (tests, local run) keeps the first subscriber instead of panicking.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .finish()
            .with(filter(level))
            .try_init()
    } else {
        builder.compact().finish().with(filter(level)).try_init()
    };
    if let Some(unknown) = unknown {
        tracing::warn!("{unknown}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(name: &'static str, value: &'static str) -> impl Fn(&str) -> Option<String> {
        move |n| (n == name).then(|| value.to_owned())
    }

    #[test]
    fn lambdas_level_comes_first_then_rust_log_then_info() {
        let both = |n: &str| match n {
            "AWS_LAMBDA_LOG_LEVEL" => Some("WARN".to_owned()),
            "RUST_LOG" => Some("debug".to_owned()),
            _ => None,
        };
        assert_eq!(level(both), Ok(LevelFilter::WARN));
        assert_eq!(level(only("RUST_LOG", "debug")), Ok(LevelFilter::DEBUG));
        assert_eq!(level(|_| None), Ok(LevelFilter::INFO));
        assert_eq!(
            level(only("AWS_LAMBDA_LOG_LEVEL", " ")),
            Ok(LevelFilter::INFO)
        );
        assert_eq!(
            level(only("AWS_LAMBDA_LOG_LEVEL", "FATAL")),
            Ok(LevelFilter::ERROR)
        );
        assert_eq!(
            level(only("RUST_LOG", "shared=trace")),
            Err(UnknownLevel {
                variable: "RUST_LOG",
                value: "shared=trace".into()
            })
        );
    }

    #[test]
    fn the_crates_that_see_bodies_never_log_below_info() {
        for level in [
            LevelFilter::TRACE,
            LevelFilter::DEBUG,
            LevelFilter::INFO,
            LevelFilter::WARN,
        ] {
            let targets = filter(level);
            for target in [
                "lambda_runtime::layers::api_response",
                "lambda_runtime_api_client",
                "aws_smithy_runtime::client::orchestrator",
                "aws_sigv4::http_request::sign",
                "hyper_util::client::legacy::pool",
                "h2::codec",
                "reqwest::connect",
                "rustls::client::hs",
            ] {
                assert!(
                    !targets.would_enable(target, &tracing::Level::DEBUG),
                    "{target} at {level}"
                );
                assert_eq!(
                    targets.would_enable(target, &tracing::Level::INFO),
                    level >= LevelFilter::INFO,
                    "{target} at {level}"
                );
            }
            assert_eq!(
                targets.would_enable("shared::sync::worker", &tracing::Level::DEBUG),
                level >= LevelFilter::DEBUG
            );
        }
    }
}
