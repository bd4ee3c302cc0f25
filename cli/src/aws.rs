//! The caller's AWS side: credentials and region from the SDK's default chain (as the AWS CLI finds them), SigV4
//! signing of API requests, and the stack's outputs.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use crate::error::CliError;

/// The service name API Gateway's IAM authorizer checks in a signature's scope.
const SIGNING_SERVICE: &str = "execute-api";

/// The SDK's configuration for `profile` and `region` (each `None`: the default chain's, as the AWS CLI).
pub async fn sdk_config(profile: Option<&str>, region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    loader.load().await
}

/// Signs API requests with the caller's credentials.
#[derive(Debug, Clone)]
pub struct Signer {
    credentials: SharedCredentialsProvider,
    region: String,
}

impl Signer {
    pub fn new(config: &SdkConfig) -> Result<Signer, CliError> {
        let region = config.region().ok_or_else(|| {
            CliError::Usage(
                "no AWS region: give --region, or set one in the profile or in AWS_REGION".into(),
            )
        })?;
        let credentials = config
            .credentials_provider()
            .ok_or_else(|| CliError::Usage("no AWS credentials provider is configured".into()))?;
        Ok(Signer {
            credentials,
            region: region.to_string(),
        })
    }

    /// Adds SigV4's headers (`authorization`, `x-amz-date`, and `x-amz-security-token` for temporary
    /// credentials) to `request`, over its method, URL, headers and body.
    pub async fn sign(&self, request: &mut reqwest::Request) -> Result<(), CliError> {
        let credentials = self.credentials.provide_credentials().await.map_err(|e| {
            CliError::Usage(format!(
                "no AWS credentials to sign with (profile, SSO login, environment or instance role): {}",
                error_chain(&e)
            ))
        })?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SIGNING_SERVICE)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| CliError::Failure(format!("signing the request: {e}")))?
            .into();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let body = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .unwrap_or_default();
        let signable = SignableRequest::new(
            request.method().as_str(),
            request.url().as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| CliError::Failure(format!("signing the request: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| CliError::Failure(format!("signing the request: {e}")))?
            .into_parts();
        let (headers, _) = instructions.into_parts();
        for header in headers {
            let value = reqwest::header::HeaderValue::from_str(header.value())
                .map_err(|e| CliError::Failure(format!("signing the request: {e}")))?;
            request.headers_mut().insert(header.name(), value);
        }
        Ok(())
    }
}

/// A stack's outputs, by key (`template.yaml`'s `Outputs`).
#[derive(Debug, Clone, Default)]
pub struct StackOutputs {
    pub stack: String,
    outputs: BTreeMap<String, String>,
}

impl StackOutputs {
    /// `DescribeStacks` of `stack`.
    pub async fn read(config: &SdkConfig, stack: &str) -> Result<StackOutputs, CliError> {
        let client = aws_sdk_cloudformation::Client::new(config);
        let described = client
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_cloudformation::error::ProvideErrorMetadata as _;
                let service = e.as_service_error();
                let code = service.and_then(|s| s.code()).unwrap_or_default();
                let message = service.and_then(|s| s.message()).unwrap_or_default();
                let region = config.region().map(ToString::to_string).unwrap_or_default();
                match code {
                    // CloudFormation says a missing stack with this code and these words.
                    "ValidationError" if message.contains("does not exist") => {
                        CliError::Usage(format!("no stack named {stack:?} in {region}"))
                    }
                    "AccessDenied" | "AccessDeniedException" => CliError::Refused(format!(
                        "reading stack {stack:?}: {message} (the caller needs cloudformation:DescribeStacks)"
                    )),
                    // No credentials, or an expired SSO login: the caller's to fix.
                    _ if service.is_none() && error_chain(&e).contains("credentials") => {
                        CliError::Usage(format!("reading stack {stack:?}: {}", error_chain(&e)))
                    }
                    _ => CliError::Failure(format!("reading stack {stack:?}: {}", error_chain(&e))),
                }
            })?;
        let outputs = described
            .stacks()
            .first()
            .map(|s| s.outputs())
            .unwrap_or_default()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect();
        Ok(StackOutputs {
            stack: stack.to_owned(),
            outputs,
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.outputs.get(key).map(String::as_str)
    }
}

/// An error and its sources, one line: the SDK's errors say what failed in their sources, and their `Debug`
/// (what `DisplayErrorContext` adds) is more than a person needs.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}
