//! Request bodies: JSON or form (`settings[base_url]=..&secrets[api_token]=..`), read into one JSON object,
//! then checked field by field with our own messages (a message never echoes a value the caller sent).

use serde_json::{Map, Value};

use super::model::{CredentialId, parse_date};
use super::service::{CreateInput, Patch, UpdateInput};
use crate::secret::SecretString;

/// Bodies larger than this are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const MAX_LABEL_CHARS: usize = 256;
const MAX_BASE_URL_BYTES: usize = 2048;
const MAX_CA_BUNDLE_BYTES: usize = 48 * 1024;
const MAX_TOKEN_BYTES: usize = 1024;
const MAX_REQUESTS_PER_MINUTE: u64 = 1_000_000;

/// A request the caller must fix: the HTTP status, a stable code and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Rejection {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Rejection {
            status,
            code,
            message: message.into(),
        }
    }

    fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", message)
    }

    fn invalid_settings(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_settings", message)
    }
}

/// How the body is encoded, from `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
}

/// JSON when no content type is given; 415 for anything but JSON and form data.
pub fn body_kind(content_type: Option<&str>) -> Result<BodyKind, Rejection> {
    let media = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "" | "application/json" => Ok(BodyKind::Json),
        "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
        m if m.starts_with("application/") && m.ends_with("+json") => Ok(BodyKind::Json),
        _ => Err(Rejection::new(
            415,
            "unsupported_media_type",
            "send the body as application/json or application/x-www-form-urlencoded",
        )),
    }
}

/// The body as one JSON object. An empty body is an empty object.
pub fn parse_body(kind: BodyKind, body: &[u8]) -> Result<Map<String, Value>, Rejection> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Rejection::new(
            413,
            "body_too_large",
            format!("the body is larger than {MAX_BODY_BYTES} bytes"),
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match kind {
        BodyKind::Json => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(Rejection::new(
                400,
                "invalid_json",
                "the body must be a JSON object",
            )),
            Err(_) => Err(Rejection::new(
                400,
                "invalid_json",
                "the body is not valid JSON",
            )),
        },
        BodyKind::Form => parse_form(body),
    }
}

/// `a=1&b[c]=2` -> `{"a":"1","b":{"c":"2"}}`; one level of nesting, no repeated keys.
fn parse_form(body: &[u8]) -> Result<Map<String, Value>, Rejection> {
    let invalid = |message: &str| Rejection::new(400, "invalid_request", message);
    if std::str::from_utf8(body).is_err() {
        return Err(invalid("the form body is not valid UTF-8"));
    }
    let mut map = Map::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        let value = Value::String(value.into_owned());
        let (outer, inner) = match key.split_once('[') {
            None => (key.as_ref(), None),
            Some((outer, rest)) => match rest.strip_suffix(']') {
                Some(inner) if !inner.contains(['[', ']']) && !outer.is_empty() => {
                    (outer, Some(inner))
                }
                _ => {
                    return Err(invalid(
                        "form keys may nest one level, like settings[base_url]",
                    ));
                }
            },
        };
        match inner {
            None => {
                if map.insert(outer.to_owned(), value).is_some() {
                    return Err(invalid("a form field appears more than once"));
                }
            }
            Some(inner) => {
                let entry = map
                    .entry(outer.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                let Value::Object(object) = entry else {
                    return Err(invalid(
                        "a form field is given both as a value and as nested fields",
                    ));
                };
                if object.insert(inner.to_owned(), value).is_some() {
                    return Err(invalid("a form field appears more than once"));
                }
            }
        }
    }
    Ok(map)
}

fn only_fields(
    map: &Map<String, Value>,
    allowed: &[&str],
    make: fn(String) -> Rejection,
    what: &str,
) -> Result<(), Rejection> {
    if map.keys().any(|k| !allowed.contains(&k.as_str())) {
        return Err(make(format!(
            "{what} has a field this method does not accept; allowed: {}",
            allowed.join(", ")
        )));
    }
    Ok(())
}

/// `null` and absent both read as `None`; anything but an object is an error.
fn object<'a>(
    map: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a Map<String, Value>>, Rejection> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(_) => Err(Rejection::invalid_request(format!(
            "{field} must be an object"
        ))),
    }
}

/// A string field: absent -> `Keep`, `null` -> `Clear`, a string -> `Set`.
fn string_patch(
    map: &Map<String, Value>,
    field: &str,
    make: fn(String) -> Rejection,
) -> Result<Patch<String>, Rejection> {
    match map.get(field) {
        None => Ok(Patch::Keep),
        Some(Value::Null) => Ok(Patch::Clear),
        Some(Value::String(s)) => Ok(Patch::Set(s.clone())),
        Some(_) => Err(make(format!("{field} must be a string"))),
    }
}

fn label(map: &Map<String, Value>) -> Result<Patch<String>, Rejection> {
    Ok(
        match string_patch(map, "label", Rejection::invalid_request)? {
            Patch::Set(label) => {
                let label = label.trim().to_owned();
                if label.chars().count() > MAX_LABEL_CHARS {
                    return Err(Rejection::invalid_request(format!(
                        "label must be at most {MAX_LABEL_CHARS} characters"
                    )));
                }
                if label.chars().any(char::is_control) {
                    return Err(Rejection::invalid_request(
                        "label must not contain control characters",
                    ));
                }
                if label.is_empty() {
                    Patch::Clear
                } else {
                    Patch::Set(label)
                }
            }
            other => other,
        },
    )
}

fn expiration_date(map: &Map<String, Value>) -> Result<Patch<String>, Rejection> {
    let invalid = |message: &str| Rejection::new(400, "invalid_expiration_date", message);
    match map.get("expiration_date") {
        None => Ok(Patch::Keep),
        Some(Value::Null) => Ok(Patch::Clear),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Patch::Clear),
        Some(Value::String(s)) => {
            let date = parse_date(s.trim())
                .ok_or_else(|| invalid("expiration_date must be a date like 2030-12-31"))?;
            if date < time::OffsetDateTime::now_utc().date() {
                return Err(invalid("expiration_date lies in the past"));
            }
            Ok(Patch::Set(s.trim().to_owned()))
        }
        Some(_) => Err(invalid("expiration_date must be a date like 2030-12-31")),
    }
}

/// The settings fields: `base_url`, `ca_bundle`, `requests_per_minute`, `include`, `exclude` (all kept when
/// `settings` is absent).
#[derive(Default)]
struct SettingsFields {
    base_url: Option<String>,
    ca_bundle: Patch<String>,
    requests_per_minute: Patch<u32>,
    include: Patch<Vec<String>>,
    exclude: Patch<Vec<String>>,
}

/// `include`/`exclude`: a list of path patterns (JSON array, or one pattern per line in a form field); absent ->
/// `Keep`, `null` or empty -> `Clear`. Each pattern is checked here, so a bad one is refused before anything is
/// verified or stored, with the pattern named.
fn patterns(
    settings: &Map<String, Value>,
    list: &'static str,
) -> Result<Patch<Vec<String>>, Rejection> {
    let must_be = || Rejection::invalid_settings(format!("{list} must be a list of path patterns"));
    let patterns: Vec<String> = match settings.get(list) {
        None => return Ok(Patch::Keep),
        Some(Value::Null) => return Ok(Patch::Clear),
        Some(Value::String(lines)) => lines
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(|p| p.trim().to_owned()))
            .collect::<Option<_>>()
            .ok_or_else(must_be)?,
        Some(_) => return Err(must_be()),
    };
    crate::scope::validate(list, &patterns)
        .map_err(|e| Rejection::invalid_settings(e.to_string()))?;
    Ok(if patterns.is_empty() {
        Patch::Clear
    } else {
        Patch::Set(patterns)
    })
}

fn settings(map: &Map<String, Value>) -> Result<Option<SettingsFields>, Rejection> {
    let Some(settings) = object(map, "settings")? else {
        return Ok(None);
    };
    only_fields(
        settings,
        &[
            "base_url",
            "ca_bundle",
            "requests_per_minute",
            "include",
            "exclude",
        ],
        Rejection::invalid_settings,
        "settings",
    )?;
    let base_url = match string_patch(settings, "base_url", Rejection::invalid_settings)? {
        Patch::Set(url) if url.trim().is_empty() => None,
        Patch::Set(url) if url.len() > MAX_BASE_URL_BYTES => {
            return Err(Rejection::invalid_settings("base_url is too long"));
        }
        Patch::Set(url) => Some(url.trim().to_owned()),
        Patch::Keep | Patch::Clear => None,
    };
    let ca_bundle = match string_patch(settings, "ca_bundle", Rejection::invalid_settings)? {
        Patch::Set(pem) if pem.trim().is_empty() => Patch::Clear,
        Patch::Set(pem) if pem.len() > MAX_CA_BUNDLE_BYTES => {
            return Err(Rejection::invalid_settings(format!(
                "ca_bundle must be at most {MAX_CA_BUNDLE_BYTES} bytes"
            )));
        }
        Patch::Set(pem) if !pem.contains("-----BEGIN CERTIFICATE-----") => {
            return Err(Rejection::invalid_settings(
                "ca_bundle must be PEM certificates (-----BEGIN CERTIFICATE-----)",
            ));
        }
        other => other,
    };
    let rpm_error = || {
        Rejection::invalid_settings(format!(
            "requests_per_minute must be a whole number from 1 to {MAX_REQUESTS_PER_MINUTE}"
        ))
    };
    let requests_per_minute = match settings.get("requests_per_minute") {
        None => Patch::Keep,
        Some(Value::Null) => Patch::Clear,
        Some(Value::String(s)) if s.trim().is_empty() => Patch::Clear,
        Some(value) => {
            let n = match value {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse::<u64>().ok(),
                _ => None,
            }
            .filter(|n| (1..=MAX_REQUESTS_PER_MINUTE).contains(n))
            .ok_or_else(rpm_error)?;
            Patch::Set(u32::try_from(n).map_err(|_| rpm_error())?)
        }
    };
    Ok(Some(SettingsFields {
        base_url,
        ca_bundle,
        requests_per_minute,
        include: patterns(settings, "include")?,
        exclude: patterns(settings, "exclude")?,
    }))
}

/// `secrets.api_token`: `Ok(None)` when `secrets` is absent, `null` or `{}`.
fn api_token(map: &Map<String, Value>) -> Result<Option<SecretString>, Rejection> {
    let Some(secrets) = object(map, "secrets")? else {
        return Ok(None);
    };
    only_fields(
        secrets,
        &["api_token"],
        Rejection::invalid_request,
        "secrets",
    )?;
    let missing = || {
        Rejection::new(
            400,
            "missing_token",
            "secrets.api_token is required and must not be empty",
        )
    };
    match secrets.get("api_token") {
        None => Ok(None),
        Some(Value::String(token)) => {
            let token = token.trim();
            if token.is_empty() {
                return Err(missing());
            }
            if token.len() > MAX_TOKEN_BYTES || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Rejection::invalid_request(
                    "secrets.api_token must be a GitLab access token (printable ASCII, no spaces)",
                ));
            }
            Ok(Some(SecretString::new(token)))
        }
        Some(Value::Null) => Err(missing()),
        Some(_) => Err(Rejection::invalid_request(
            "secrets.api_token must be a string",
        )),
    }
}

/// `id`: a string of the identifier shape. A malformed id cannot name a credential: 404.
fn credential_id(map: &Map<String, Value>) -> Result<CredentialId, Rejection> {
    match map.get("id") {
        Some(Value::String(id)) => CredentialId::parse(id.trim()).ok_or_else(|| {
            Rejection::new(404, "credential_not_found", "no credential has this id")
        }),
        None | Some(Value::Null) => Err(Rejection::invalid_request("id is required")),
        Some(_) => Err(Rejection::invalid_request("id must be a string")),
    }
}

pub fn create_input(map: &Map<String, Value>) -> Result<CreateInput, Rejection> {
    only_fields(
        map,
        &["label", "settings", "secrets", "expiration_date"],
        Rejection::invalid_request,
        "the body",
    )?;
    let settings = settings(map)?;
    let api_token = api_token(map)?.ok_or_else(|| {
        Rejection::new(
            400,
            "missing_token",
            "secrets.api_token is required and must not be empty",
        )
    })?;
    let settings = settings.unwrap_or_default();
    Ok(CreateInput {
        label: label(map)?.apply_to_none(),
        base_url: settings.base_url,
        ca_bundle: settings.ca_bundle.apply_to_none(),
        requests_per_minute: settings.requests_per_minute.apply_to_none(),
        include: settings.include.apply_to_none().unwrap_or_default(),
        exclude: settings.exclude.apply_to_none().unwrap_or_default(),
        api_token,
        expiration_date: expiration_date(map)?.apply_to_none(),
    })
}

pub fn update_input(map: &Map<String, Value>) -> Result<UpdateInput, Rejection> {
    only_fields(
        map,
        &["id", "label", "settings", "secrets", "expiration_date"],
        Rejection::invalid_request,
        "the body",
    )?;
    let id = credential_id(map)?;
    let settings = settings(map)?;
    let api_token = api_token(map)?;
    let settings = settings.unwrap_or_default();
    Ok(UpdateInput {
        id,
        label: label(map)?,
        base_url: settings.base_url,
        ca_bundle: settings.ca_bundle,
        requests_per_minute: settings.requests_per_minute,
        include: settings.include,
        exclude: settings.exclude,
        api_token,
        expiration_date: expiration_date(map)?,
    })
}

pub fn delete_input(map: &Map<String, Value>) -> Result<CredentialId, Rejection> {
    only_fields(map, &["id"], Rejection::invalid_request, "the body")?;
    credential_id(map)
}

impl<T> Patch<T> {
    /// On create there is nothing to keep: a value or nothing.
    fn apply_to_none(self) -> Option<T> {
        match self {
            Patch::Set(value) => Some(value),
            Patch::Keep | Patch::Clear => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Map<String, Value> {
        parse_body(BodyKind::Json, text.as_bytes()).unwrap()
    }

    #[test]
    fn form_bodies_map_to_nested_fields() {
        let map = parse_body(
            BodyKind::Form,
            b"label=Prod&settings%5Bbase_url%5D=https%3A%2F%2Fgitlab.example.com%2F&secrets[api_token]=glpat-x&settings[requests_per_minute]=60",
        )
        .unwrap();
        let input = create_input(&map).unwrap();
        assert_eq!(input.label.as_deref(), Some("Prod"));
        assert_eq!(
            input.base_url.as_deref(),
            Some("https://gitlab.example.com/")
        );
        assert_eq!(input.requests_per_minute, Some(60));
        assert_eq!(input.api_token.expose(), "glpat-x");
        for bad in ["a[b][c]=1", "a=1&a=2", "a=1&a[b]=2", "[x]=1", "a[b=1"] {
            assert_eq!(
                parse_body(BodyKind::Form, bad.as_bytes()).unwrap_err().code,
                "invalid_request",
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_input_gets_its_own_code_and_never_echoes_values() {
        let cases = [
            (r#"{"secrets":{}}"#, "missing_token"),
            (r#"{"secrets":{"api_token":"  "}}"#, "missing_token"),
            (r#"{"secrets":{"api_token":"a b"}}"#, "invalid_request"),
            (
                r#"{"secrets":{"api_token":"t"},"expiration_date":"2030-02-30"}"#,
                "invalid_expiration_date",
            ),
            (
                r#"{"secrets":{"api_token":"t"},"expiration_date":"2001-01-01"}"#,
                "invalid_expiration_date",
            ),
            (
                r#"{"secrets":{"api_token":"t"},"settings":{"requests_per_minute":"glpat-secret"}}"#,
                "invalid_settings",
            ),
            (
                r#"{"secrets":{"api_token":"t"},"settings":{"ca_bundle":"glpat-secret"}}"#,
                "invalid_settings",
            ),
            (
                r#"{"secrets":{"api_token":"t"},"glpat-secret":1}"#,
                "invalid_request",
            ),
            (r#"{"secrets":"glpat-secret"}"#, "invalid_request"),
        ];
        for (body, code) in cases {
            let rejection = create_input(&json(body)).unwrap_err();
            assert_eq!(rejection.code, code, "{body}");
            assert!(!rejection.message.contains("glpat-secret"), "{body}");
        }
        assert_eq!(
            parse_body(BodyKind::Json, b"[1]").unwrap_err().code,
            "invalid_json"
        );
        assert_eq!(
            parse_body(BodyKind::Json, b"{\"a\":").unwrap_err().code,
            "invalid_json"
        );
        assert_eq!(
            parse_body(BodyKind::Json, &vec![b' '; MAX_BODY_BYTES + 1])
                .unwrap_err()
                .status,
            413
        );
        assert_eq!(body_kind(Some("text/plain")).unwrap_err().status, 415);
        assert_eq!(
            body_kind(Some("application/json; charset=utf-8")),
            Ok(BodyKind::Json)
        );
    }

    #[test]
    fn update_distinguishes_omitted_null_and_set() {
        let input = update_input(&json(
            r#"{"id":"cred_1","label":null,"settings":{"ca_bundle":null},"secrets":{}}"#,
        ))
        .unwrap();
        assert_eq!(input.label, Patch::Clear);
        assert_eq!(input.ca_bundle, Patch::Clear);
        assert_eq!(input.requests_per_minute, Patch::Keep);
        assert_eq!(input.api_token, None);
        assert_eq!(input.expiration_date, Patch::Keep);
        assert_eq!(
            update_input(&json(r#"{"id":"../x"}"#)).unwrap_err().code,
            "credential_not_found"
        );
        assert_eq!(
            update_input(&json(r#"{}"#)).unwrap_err().code,
            "invalid_request"
        );
    }
}
