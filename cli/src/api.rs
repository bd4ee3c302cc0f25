//! The importer's API as the commands call it: one signed request per call, under
//! `<api>/connections/<connection>/<method>`, its JSON reply or its error.

use std::time::Duration;

use serde_json::Value;
use url::Url;

use crate::aws::{Signer, error_chain};
use crate::error::CliError;

/// API Gateway gives up on an integration after 30 s; a little more covers the network.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);
/// The largest reply the API sends (Lambda's 6 MB response limit) with room to spare; more is not the API.
const MAX_REPLY_BYTES: usize = 8 * 1024 * 1024;

/// A connection's API: where it is and who signs.
#[derive(Debug)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
    connection: String,
    signer: Signer,
}

impl Api {
    pub fn new(base_url: &str, connection: &str, signer: Signer) -> Result<Api, CliError> {
        let base = Url::parse(base_url)
            .ok()
            .filter(|u| u.scheme() == "https" || (u.scheme() == "http" && is_loopback(u)))
            .ok_or_else(|| {
                // A token and a replayable signature must not cross a network in the clear.
                CliError::Usage(format!(
                    "the API URL {base_url:?} is no https URL (plain http only on loopback, for a local serve)"
                ))
            })?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("gitlab-importer-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Failure(format!("building the HTTP client: {e}")))?;
        Ok(Api {
            http,
            base,
            connection: connection.to_owned(),
            signer,
        })
    }

    pub fn connection(&self) -> &str {
        &self.connection
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The URL of `method` (with `/id` when given) in the connection.
    fn url(&self, method: &str, id: Option<&str>) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["connections", &self.connection, method]);
            if let Some(id) = id {
                segments.push(id);
            }
        }
        url
    }

    /// `GET <method>[/id]?query`.
    pub async fn get(
        &self,
        method: &str,
        id: Option<&str>,
        query: &[(&str, String)],
    ) -> Result<Value, CliError> {
        let mut url = self.url(method, id);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (k, v.as_str())));
        }
        let request = self
            .http
            .get(url)
            .build()
            .map_err(|e| CliError::Failure(format!("{method}: {e}")))?;
        self.send(method, request).await
    }

    /// `POST <method>` with a JSON body (or none).
    pub async fn post(&self, method: &str, body: Option<&Value>) -> Result<Value, CliError> {
        let mut request = self.http.post(self.url(method, None));
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let request = request
            .build()
            .map_err(|e| CliError::Failure(format!("{method}: {e}")))?;
        self.send(method, request).await
    }

    async fn send(&self, method: &str, mut request: reqwest::Request) -> Result<Value, CliError> {
        self.signer.sign(&mut request).await?;
        let response = self.http.execute(request).await.map_err(|e| {
            CliError::Failure(format!(
                "{method}: the API at {} did not answer: {}",
                self.base_url(),
                error_chain(&e)
            ))
        })?;
        let status = response.status().as_u16();
        if response
            .content_length()
            .is_some_and(|n| n > MAX_REPLY_BYTES as u64)
        {
            return Err(CliError::Failure(format!(
                "{method}: the reply is too large"
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| CliError::Failure(format!("{method}: reading the reply: {e}")))?;
        if body.len() > MAX_REPLY_BYTES {
            return Err(CliError::Failure(format!(
                "{method}: the reply is too large"
            )));
        }
        let reply: Option<Value> = serde_json::from_slice(&body).ok();
        reply_or_error(method, status, reply)
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A 2xx JSON reply, or the error the reply carries: the API's `{"ok":false,"error":..,"message":..}`, or API
/// Gateway's own `{"message":..}`.
fn reply_or_error(method: &str, status: u16, reply: Option<Value>) -> Result<Value, CliError> {
    match reply {
        Some(reply) if (200..300).contains(&status) && reply["ok"] == true => Ok(reply),
        Some(reply) if !(200..300).contains(&status) => {
            let text = |field: &str| reply[field].as_str().map(str::to_owned);
            Err(CliError::Api {
                status,
                code: text("error"),
                message: text("message").unwrap_or_default(),
            })
        }
        _ => Err(CliError::Failure(format!(
            "{method}: the API answered {status} with a body that is not its JSON"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn api(base: &str) -> Api {
        let config = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::for_tests(),
                ),
            )
            .build();
        Api::new(base, "acme-prod", Signer::new(&config).unwrap()).unwrap()
    }

    #[test]
    fn urls_keep_the_stage_and_encode_ids() {
        let stage = api("https://a1.execute-api.eu-west-1.amazonaws.com/prod/");
        assert_eq!(
            stage.url("projects.info", Some("42")).as_str(),
            "https://a1.execute-api.eu-west-1.amazonaws.com/prod/connections/acme-prod/projects.info/42"
        );
        let root = api("http://127.0.0.1:8080");
        assert_eq!(
            root.url("credentials.info", Some("a/b")).as_str(),
            "http://127.0.0.1:8080/connections/acme-prod/credentials.info/a%2Fb"
        );
        assert!(Api::new("ftp://x", "c", root.signer.clone()).is_err());
        let plain = "http://a1.execute-api.eu-west-1.amazonaws.com";
        assert!(Api::new(plain, "c", root.signer.clone()).is_err());
        assert!(Api::new("http://localhost:8080", "c", root.signer).is_ok());
    }

    #[test]
    fn replies_become_values_or_errors() {
        assert!(reply_or_error("m", 200, Some(json!({"ok": true}))).is_ok());
        let ours = reply_or_error(
            "m",
            409,
            Some(json!({"ok": false, "error": "scheduling_in_progress", "message": "wait"})),
        )
        .unwrap_err();
        assert!(
            matches!(&ours, CliError::Api { code: Some(code), .. } if code == "scheduling_in_progress")
        );
        assert_eq!(ours.exit_code(), crate::error::EXIT_REFUSED);
        let gateway = reply_or_error("m", 403, Some(json!({"message": "Forbidden"}))).unwrap_err();
        assert!(matches!(gateway, CliError::Api { code: None, .. }));
        // A 200 that is not the API's reply, or a body that is no JSON, is our failure, never a success.
        assert!(matches!(
            reply_or_error("m", 200, Some(json!({"message": "hi"}))),
            Err(CliError::Failure(_))
        ));
        assert!(matches!(
            reply_or_error("m", 502, None),
            Err(CliError::Failure(_))
        ));
    }
}
