//! What API Gateway's IAM authorizer does for a route with `AuthorizationType: AWS_IAM`: it checks the request's
//! SigV4 signature (`Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/execute-api/aws4_request,
//! SignedHeaders=..., Signature=...`) and hands the function the caller it verified in
//! `requestContext.authorizer.iam`. Here the signature is recomputed with the `aws-sigv4` crate (what the AWS SDKs
//! sign with) from the method, path, query, the signed headers, the body and the `X-Amz-Date` time, against a few
//! known test credentials, and compared in constant time. A refusal is API Gateway's own 403 and its words.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use hyper::HeaderMap;
use hyper::header::AUTHORIZATION;
use hyper::http;
use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;
use time::macros::format_description;

/// The account every test identity belongs to (the sample events' account).
pub const ACCOUNT_ID: &str = "123456789012";

/// The service a signature must be scoped to.
const SERVICE: &str = "execute-api";

/// How far the signing time may be from the front's clock.
const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// The stand-in's temporary credentials (`scripts/with-moto` exports them): `testing` / `testing` / `testing`.
pub const STAND_IN_ACCESS_KEY: &str = "testing";
const STAND_IN_SECRET: &str = "testing";
pub const STAND_IN_SESSION_TOKEN: &str = "testing";

/// One IAM user the front knows: the secret its access key signs with, the session token issued with it
/// (temporary credentials; `None` for a long-term key), and its name.
#[derive(Clone)]
struct User {
    secret: String,
    session_token: Option<String>,
    name: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("secret", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("name", &self.name)
            .finish()
    }
}

/// The IAM check of a front: its region and the users (access key id -> secret) it accepts signatures of.
#[derive(Debug, Clone)]
pub struct IamAuth {
    region: String,
    users: BTreeMap<String, User>,
}

/// Why a signed route refuses a request: each is a 403 with API Gateway's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header (or not a SigV4 one).
    MissingAuth,
    /// An `Authorization` header without its three parts, or no `X-Amz-Date`.
    Incomplete,
    /// The access key is not one the front knows.
    UnknownKey,
    /// The scope names another service.
    WrongService,
    /// The scope names another region.
    WrongRegion,
    /// The signing time is more than five minutes from now, or the scope's date is not its date.
    Expired,
    /// The signature is not the one the front computes.
    Mismatch,
}

impl Refusal {
    /// API Gateway's message for the refusal (its `{"message": ...}`).
    pub fn message(&self) -> &'static str {
        match self {
            Refusal::MissingAuth => "Forbidden",
            Refusal::Incomplete => {
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters, and an \
                 'X-Amz-Date' header."
            }
            Refusal::UnknownKey => "The security token included in the request is invalid.",
            Refusal::WrongService => {
                "Credential should be scoped to correct service: 'execute-api'."
            }
            Refusal::WrongRegion => "Credential should be scoped to a valid region.",
            Refusal::Expired => {
                "Signature expired: the signing time is not within 5 minutes of now."
            }
            Refusal::Mismatch => {
                "The request signature we calculated does not match the signature you provided. Check your AWS \
                 Secret Access Key and signing method."
            }
        }
    }
}

/// A request as it reached the front.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub method: &'a str,
    /// The path and query as sent (still encoded).
    pub uri: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The parts of a SigV4 `Authorization` header.
struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

impl IamAuth {
    /// A check for signatures scoped to `region`, knowing no user yet.
    pub fn new(region: &str) -> IamAuth {
        IamAuth {
            region: region.to_owned(),
            users: BTreeMap::new(),
        }
    }

    /// The stand-in's temporary credentials as the IAM user `local-operator`, in `region`.
    pub fn stand_in(region: &str) -> IamAuth {
        let mut auth =
            IamAuth::new(region).with_user(STAND_IN_ACCESS_KEY, STAND_IN_SECRET, "local-operator");
        if let Some(user) = auth.users.get_mut(STAND_IN_ACCESS_KEY) {
            user.session_token = Some(STAND_IN_SESSION_TOKEN.to_owned());
        }
        auth
    }

    /// Also accepts signatures of the long-term key `access_key` with `secret`, as the IAM user `name`.
    pub fn with_user(mut self, access_key: &str, secret: &str, name: &str) -> IamAuth {
        self.users.insert(
            access_key.to_owned(),
            User {
                secret: secret.to_owned(),
                session_token: None,
                name: name.to_owned(),
            },
        );
        self
    }

    /// Checks the request's signature at `now`; the `requestContext.authorizer` of the caller it verified.
    pub fn verify(&self, request: &Incoming<'_>, now: SystemTime) -> Result<Value, Refusal> {
        let header = request
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("AWS4-HMAC-SHA256 "))
            .ok_or(Refusal::MissingAuth)?;
        let auth = parse_authorization(header).ok_or(Refusal::Incomplete)?;
        let amz_date = request
            .headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .ok_or(Refusal::Incomplete)?;
        let signed_at = parse_amz_date(amz_date).ok_or(Refusal::Incomplete)?;
        let user = self.users.get(auth.access_key).ok_or(Refusal::UnknownKey)?;
        // Temporary credentials are a key, a secret and a session token together: the request carries the token
        // issued with the key, and signs it; a long-term key carries none.
        let token = request
            .headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok());
        let token_signed = auth.signed_headers.contains(&"x-amz-security-token");
        let token_matches = match (&user.session_token, token) {
            (Some(issued), Some(given)) => {
                token_signed && bool::from(given.as_bytes().ct_eq(issued.as_bytes()))
            }
            (None, None) => true,
            _ => false,
        };
        if !token_matches {
            return Err(Refusal::UnknownKey);
        }
        if auth.service != SERVICE {
            return Err(Refusal::WrongService);
        }
        if auth.region != self.region {
            return Err(Refusal::WrongRegion);
        }
        let skew = match now.duration_since(signed_at) {
            Ok(behind) => behind,
            Err(ahead) => ahead.duration(),
        };
        if skew > MAX_SKEW || auth.date.len() != 8 || !amz_date.starts_with(auth.date) {
            return Err(Refusal::Expired);
        }
        let expected = self
            .signature(&auth, user, request, signed_at)
            .ok_or(Refusal::Mismatch)?;
        if !bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
            return Err(Refusal::Mismatch);
        }
        Ok(authorizer(auth.access_key, &user.name))
    }

    /// The signature the front computes for the request: over the headers the client says it signed (the signer
    /// adds `x-amz-date` and `x-amz-security-token` itself, from the time and the credentials). `None` when a
    /// signed header is missing or the request cannot be signed.
    fn signature(
        &self,
        auth: &Authorization<'_>,
        user: &User,
        request: &Incoming<'_>,
        signed_at: SystemTime,
    ) -> Option<String> {
        let headers = request.headers;
        let token = auth
            .signed_headers
            .contains(&"x-amz-security-token")
            .then(|| headers.get("x-amz-security-token")?.to_str().ok())
            .flatten()
            .map(str::to_owned);
        let mut signed = Vec::new();
        for name in &auth.signed_headers {
            if matches!(*name, "x-amz-date" | "x-amz-security-token") {
                continue;
            }
            let mut values = headers.get_all(*name).iter().peekable();
            values.peek()?;
            for value in values {
                signed.push((*name, value.to_str().ok()?));
            }
        }
        let host = headers.get("host")?.to_str().ok()?;
        let signable = SignableRequest::new(
            request.method,
            format!("http://{host}{}", request.uri),
            signed.into_iter(),
            SignableBody::Bytes(request.body),
        )
        .ok()?;
        let identity =
            Credentials::new(auth.access_key, &user.secret, token, None, "api-front").into();
        let mut settings = SigningSettings::default();
        // Every header the client signed counts, whatever the signer leaves out by default.
        settings.excluded_headers = Some(Vec::new());
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SERVICE)
            .time(signed_at)
            .settings(settings)
            .build()
            .ok()?
            .into();
        Some(sign(signable, &params).ok()?.signature().to_owned())
    }
}

/// `Credential=<key>/<date>/<region>/<service>/aws4_request, SignedHeaders=a;b, Signature=<hex>`.
fn parse_authorization(header: &str) -> Option<Authorization<'_>> {
    let mut fields = BTreeMap::new();
    for part in header.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        fields.insert(name, value);
    }
    let mut scope = fields.get("Credential")?.split('/');
    let (access_key, date, region, service, terminal) = (
        scope.next()?,
        scope.next()?,
        scope.next()?,
        scope.next()?,
        scope.next()?,
    );
    if terminal != "aws4_request" || scope.next().is_some() || access_key.is_empty() {
        return None;
    }
    let signed_headers: Vec<&str> = fields.get("SignedHeaders")?.split(';').collect();
    let signature = fields.get("Signature")?;
    if signed_headers.iter().any(|h| h.is_empty()) || signature.is_empty() {
        return None;
    }
    Some(Authorization {
        access_key,
        date,
        region,
        service,
        signed_headers,
        signature,
    })
}

/// `20261207T203000Z` as a time.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let parsed = time::PrimitiveDateTime::parse(
        text,
        format_description!("[year][month][day]T[hour][minute][second]Z"),
    )
    .ok()?;
    Some(SystemTime::from(parsed.assume_utc()))
}

/// What API Gateway's IAM authorizer puts in `requestContext.authorizer` for an IAM user of the test account.
fn authorizer(access_key: &str, user: &str) -> Value {
    // A user id of IAM's shape (`AIDA` and upper-case letters and digits), fixed by the user's name.
    let id: String = user
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| char::from(b.to_ascii_uppercase()))
        .collect();
    let user_id = format!("AIDA{id}");
    json!({
        "iam": {
            "accessKey": access_key,
            "accountId": ACCOUNT_ID,
            "callerId": user_id,
            "cognitoIdentity": null,
            "principalOrgId": null,
            "userArn": format!("arn:aws:iam::{ACCOUNT_ID}:user/{user}"),
            "userId": user_id,
        }
    })
}

/// Signs `request` (its URI absolute, as sent) for `execute-api` in `region` with `credentials` at `time`, as the
/// AWS SDKs and the CLI do (default settings: no `x-amz-content-sha256`): for tests of signed routes.
pub fn sign_request(
    request: &mut http::Request<Vec<u8>>,
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
) {
    let uri = request.uri().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .expect("complete signing parameters")
        .into();
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(request.body()),
    )
    .expect("a signable request");
    let (instructions, _) = sign(signable, &params).expect("signs").into_parts();
    instructions.apply_to_request_http1x(request);
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGION: &str = "us-east-1";
    const HOST: &str = "127.0.0.1:4567";

    fn request(method: &str, path_and_query: &str, body: &str) -> http::Request<Vec<u8>> {
        http::Request::builder()
            .method(method)
            .uri(format!("http://{HOST}{path_and_query}"))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body.as_bytes().to_vec())
            .expect("a request")
    }

    fn signed(
        mut request: http::Request<Vec<u8>>,
        key: &str,
        secret: &str,
        token: Option<&str>,
        region: &str,
        time: SystemTime,
    ) -> http::Request<Vec<u8>> {
        let credentials = Credentials::new(key, secret, token.map(str::to_owned), None, "test");
        sign_request(&mut request, &credentials, region, time);
        // As it arrives: the client sends the host it signed.
        request
            .headers_mut()
            .insert("host", http::HeaderValue::from_static(HOST));
        request
    }

    /// What the front makes of the request at `now`.
    fn check(request: &http::Request<Vec<u8>>, now: SystemTime) -> Result<Value, Refusal> {
        let incoming = Incoming {
            method: request.method().as_str(),
            uri: request.uri().path_and_query().map_or("/", |p| p.as_str()),
            headers: request.headers(),
            body: request.body(),
        };
        IamAuth::stand_in(REGION).verify(&incoming, now)
    }

    fn amz_date(time: SystemTime) -> String {
        time::OffsetDateTime::from(time)
            .format(format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .expect("formats")
    }

    const PATH: &str = "/connections/local-demo/projects.list?limit=2&cursor=a%2Fb";
    const BODY: &str = r#"{"label":"x"}"#;

    #[test]
    fn a_request_signed_with_the_sdk_signer_passes_with_the_verified_caller() {
        let now = SystemTime::now();
        {
            let token = Some(STAND_IN_SESSION_TOKEN);
            let post = signed(
                request("POST", PATH, BODY),
                "testing",
                "testing",
                token,
                REGION,
                now,
            );
            let authorizer = check(&post, now).expect("verified");
            assert_eq!(authorizer["iam"]["accessKey"], "testing");
            assert_eq!(authorizer["iam"]["accountId"], ACCOUNT_ID);
            assert_eq!(
                authorizer["iam"]["userArn"],
                "arn:aws:iam::123456789012:user/local-operator"
            );
            assert_eq!(authorizer["iam"]["userId"], "AIDALOCALOPERATOR");
            // A GET without a body, too; and four minutes of clock skew either way.
            let get = signed(
                request("GET", "/connections/c/credentials.list", ""),
                "testing",
                "testing",
                token,
                REGION,
                now,
            );
            for skew in [Duration::ZERO, Duration::from_secs(240)] {
                assert!(check(&get, now + skew).is_ok());
                assert!(check(&get, now - skew).is_ok());
            }
        }
    }

    #[test]
    fn any_change_after_signing_breaks_the_signature() {
        let now = SystemTime::now();
        let good = || {
            signed(
                request("POST", PATH, BODY),
                "testing",
                "testing",
                Some("testing"),
                REGION,
                now,
            )
        };
        let mismatch = Err(Refusal::Mismatch);

        let mut body = good();
        *body.body_mut() = br#"{"label":"y"}"#.to_vec();
        assert_eq!(check(&body, now), mismatch, "body");

        for uri in [
            "/connections/other/projects.list?limit=2&cursor=a%2Fb",
            "/connections/local-demo/projects.list?limit=3&cursor=a%2Fb",
            "/connections/local-demo/projects.list?limit=2",
        ] {
            let mut changed = good();
            *changed.uri_mut() = format!("http://{HOST}{uri}").parse().expect("uri");
            assert_eq!(check(&changed, now), mismatch, "{uri}");
        }
        let mut method = good();
        *method.method_mut() = http::Method::PUT;
        assert_eq!(check(&method, now), mismatch, "method");

        let mut header = good();
        header
            .headers_mut()
            .insert("content-type", http::HeaderValue::from_static("text/plain"));
        assert_eq!(check(&header, now), mismatch, "a signed header");
        let mut token = good();
        token.headers_mut().insert(
            "x-amz-security-token",
            http::HeaderValue::from_static("other"),
        );
        // Another token is not the one issued with the key: refused before the signature is computed.
        assert_eq!(
            check(&token, now),
            Err(Refusal::UnknownKey),
            "the session token"
        );
        let mut dropped = good();
        dropped.headers_mut().remove("accept");
        assert_eq!(check(&dropped, now), mismatch, "a signed header left out");
        let mut date = good();
        let later = amz_date(now + Duration::from_secs(1));
        date.headers_mut().insert(
            "x-amz-date",
            http::HeaderValue::from_str(&later).expect("date"),
        );
        assert_eq!(check(&date, now), mismatch, "the date");

        // An unsigned header may be added on the way (a proxy's), as with API Gateway.
        let mut added = good();
        added.headers_mut().insert(
            "x-forwarded-for",
            http::HeaderValue::from_static("10.0.0.1"),
        );
        assert!(check(&added, now).is_ok());
    }

    #[test]
    fn temporary_credentials_need_their_own_session_token_signed() {
        let now = SystemTime::now();
        let with_token = |token: Option<&str>| {
            signed(
                request("GET", PATH, ""),
                "testing",
                "testing",
                token,
                REGION,
                now,
            )
        };
        assert!(check(&with_token(Some(STAND_IN_SESSION_TOKEN)), now).is_ok());
        // A client that drops the token, or sends another one.
        assert_eq!(check(&with_token(None), now), Err(Refusal::UnknownKey));
        assert_eq!(
            check(&with_token(Some("other")), now),
            Err(Refusal::UnknownKey)
        );
        // The right token, but not among the signed headers.
        let mut unsigned = with_token(None);
        unsigned.headers_mut().insert(
            "x-amz-security-token",
            http::HeaderValue::from_static(STAND_IN_SESSION_TOKEN),
        );
        assert_eq!(check(&unsigned, now), Err(Refusal::UnknownKey));
        // A long-term key carries none.
        let long_term = IamAuth::new(REGION).with_user("AKIALONG", "secret", "ci");
        let request = signed(
            request("GET", PATH, ""),
            "AKIALONG",
            "secret",
            None,
            REGION,
            now,
        );
        let incoming = Incoming {
            method: request.method().as_str(),
            uri: request.uri().path_and_query().map_or("/", |p| p.as_str()),
            headers: request.headers(),
            body: request.body(),
        };
        assert!(long_term.verify(&incoming, now).is_ok());
    }

    #[test]
    fn wrong_keys_scopes_times_and_missing_auth_are_refused() {
        let now = SystemTime::now();
        let sign_as = |key: &str, secret: &str, region: &str, time: SystemTime| {
            let token = Some(STAND_IN_SESSION_TOKEN);
            signed(request("GET", PATH, ""), key, secret, token, region, time)
        };
        assert_eq!(
            check(&sign_as("testing", "wrong", REGION, now), now),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(&sign_as("AKIAUNKNOWN", "testing", REGION, now), now),
            Err(Refusal::UnknownKey)
        );
        assert_eq!(
            check(&sign_as("testing", "testing", "eu-west-1", now), now),
            Err(Refusal::WrongRegion)
        );
        let stale = now - Duration::from_secs(6 * 60);
        assert_eq!(
            check(&sign_as("testing", "testing", REGION, stale), now),
            Err(Refusal::Expired)
        );
        let early = now + Duration::from_secs(6 * 60);
        assert_eq!(
            check(&sign_as("testing", "testing", REGION, early), now),
            Err(Refusal::Expired)
        );

        let mut service = sign_as("testing", "testing", REGION, now);
        let header = service.headers()["authorization"]
            .to_str()
            .unwrap()
            .replace("/execute-api/", "/s3/");
        service.headers_mut().insert(
            "authorization",
            http::HeaderValue::from_str(&header).unwrap(),
        );
        assert_eq!(check(&service, now), Err(Refusal::WrongService));

        let unsigned = request("GET", PATH, "");
        assert_eq!(check(&unsigned, now), Err(Refusal::MissingAuth));
        let mut garbled = sign_as("testing", "testing", REGION, now);
        garbled.headers_mut().insert(
            "authorization",
            http::HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=testing"),
        );
        assert_eq!(check(&garbled, now), Err(Refusal::Incomplete));
        let mut basic = sign_as("testing", "testing", REGION, now);
        basic.headers_mut().insert(
            "authorization",
            http::HeaderValue::from_static("Basic dGVzdGluZw=="),
        );
        assert_eq!(check(&basic, now), Err(Refusal::MissingAuth));
    }
}
