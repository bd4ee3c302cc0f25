//! Request bodies: JSON or form (`settings[base_url]=..&secrets[api_token]=..`, first turned into the same JSON
//! object), read into the typed bodies below, then checked field by field in a fixed order with our own messages
//! (a message never echoes a value the caller sent).

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::ApiError;
use crate::credentials::model::ExpirationDate;
use crate::credentials::service::Patch;
use crate::credentials::{CreateInput, UpdateInput};
use crate::kernel::ids::CredentialId;
use crate::kernel::instance::InstanceUrl;
use crate::secret::SecretString;

/// Bodies larger than this are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const MAX_LABEL_CHARS: usize = 256;
const MAX_BASE_URL_BYTES: usize = 2048;
const MAX_CA_BUNDLE_BYTES: usize = 48 * 1024;
const MAX_TOKEN_BYTES: usize = 1024;
const MAX_REQUESTS_PER_MINUTE: u64 = 1_000_000;

/// How the body is encoded, from `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
}

/// JSON when no content type is given; 415 for anything but JSON and form data.
pub fn body_kind(content_type: Option<&str>) -> Result<BodyKind, ApiError> {
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
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// The body read into one of the body types ([`CreateBody`], [`UpdateBody`], [`DeleteBody`]). An empty body is an
/// empty object.
pub fn read_body<T: DeserializeOwned>(kind: BodyKind, body: &[u8]) -> Result<T, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::BodyTooLarge);
    }
    let value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        match kind {
            BodyKind::Json => serde_json::from_slice(body)
                .map_err(|_| ApiError::InvalidJson("the body is not valid JSON"))?,
            BodyKind::Form => Value::Object(parse_form(body)?),
        }
    };
    // The body types take any object (every field is a `Field`), so only a body that is no object fails here.
    T::deserialize(value).map_err(|_| ApiError::InvalidJson("the body must be a JSON object"))
}

/// `a=1&b[c]=2` -> `{"a":"1","b":{"c":"2"}}`; one level of nesting, no repeated keys.
fn parse_form(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let invalid = |message: &str| ApiError::InvalidRequest(message.to_owned());
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
/// One body field as sent: omitted, `null`, a value of the expected shape, or a value of another shape. A value
/// of another shape is kept rather than failing the whole body, so the fields are checked in a fixed order and
/// the caller hears our message (serde's would echo the value).
#[derive(Debug, Default)]
enum Field<T> {
    #[default]
    Omitted,
    Null,
    Set(T),
    Unexpected,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::Null => Field::Null,
            value => T::deserialize(value).map_or(Field::Unexpected, Field::Set),
        })
    }
}

impl<T> Field<T> {
    /// Omitted keeps, `null` clears, a value sets; a value of another shape is `unexpected`.
    fn patch(self, unexpected: impl FnOnce() -> ApiError) -> Result<Patch<T>, ApiError> {
        match self {
            Field::Omitted => Ok(Patch::Keep),
            Field::Null => Ok(Patch::Clear),
            Field::Set(value) => Ok(Patch::Set(value)),
            Field::Unexpected => Err(unexpected()),
        }
    }
}

/// The fields of an object that its type does not name (refused, with the names it takes).
type Unknown = BTreeMap<String, IgnoredAny>;

/// `credentials.create`'s body.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct CreateBody {
    label: Field<String>,
    settings: Field<SettingsBody>,
    secrets: Field<SecretsBody>,
    expiration_date: Field<String>,
    #[serde(flatten)]
    unknown: Unknown,
}

/// `credentials.update`'s body: an `id` and the create fields, each omitted (kept), `null` (cleared) or set.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct UpdateBody {
    id: Field<String>,
    #[serde(flatten)]
    fields: CreateBody,
}

/// `credentials.delete`'s body.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct DeleteBody {
    id: Field<String>,
    #[serde(flatten)]
    unknown: Unknown,
}

/// `projects.sync`'s and `projects.resync`'s body.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ProjectBody {
    project_id: Field<Count>,
    #[serde(flatten)]
    unknown: Unknown,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct SettingsBody {
    base_url: Field<String>,
    ca_bundle: Field<String>,
    requests_per_minute: Field<Count>,
    include: Field<PatternList>,
    exclude: Field<PatternList>,
    #[serde(flatten)]
    unknown: Unknown,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct SecretsBody {
    api_token: Field<String>,
    #[serde(flatten)]
    unknown: Unknown,
}

/// A whole number, as JSON gives it or as a form field's text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Count {
    Number(u64),
    Text(String),
}

/// Path patterns: a JSON array, or one pattern per line (a form field).
#[derive(Deserialize)]
#[serde(untagged)]
enum PatternList {
    List(Vec<String>),
    Lines(String),
}

fn only_fields(
    unknown: &Unknown,
    allowed: &[&str],
    make: fn(String) -> ApiError,
    what: &str,
) -> Result<(), ApiError> {
    if !unknown.is_empty() {
        return Err(make(format!(
            "{what} has a field this method does not accept; allowed: {}",
            allowed.join(", ")
        )));
    }
    Ok(())
}

/// `null` and omitted both read as `None`; anything but an object is an error.
fn object<T>(field: Field<T>, name: &str) -> Result<Option<T>, ApiError> {
    match field {
        Field::Omitted | Field::Null => Ok(None),
        Field::Set(inner) => Ok(Some(inner)),
        Field::Unexpected => Err(ApiError::InvalidRequest(format!(
            "{name} must be an object"
        ))),
    }
}

/// A string field: omitted -> `Keep`, `null` -> `Clear`, a string -> `Set`.
fn string_patch(
    field: Field<String>,
    name: &str,
    make: fn(String) -> ApiError,
) -> Result<Patch<String>, ApiError> {
    field.patch(|| make(format!("{name} must be a string")))
}

fn label(field: Field<String>) -> Result<Patch<String>, ApiError> {
    Ok(
        match string_patch(field, "label", ApiError::InvalidRequest)? {
            Patch::Set(label) => {
                let label = label.trim().to_owned();
                if label.chars().count() > MAX_LABEL_CHARS {
                    return Err(ApiError::InvalidRequest(format!(
                        "label must be at most {MAX_LABEL_CHARS} characters"
                    )));
                }
                if label.chars().any(char::is_control) {
                    return Err(ApiError::InvalidRequest(
                        "label must not contain control characters".to_owned(),
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

fn expiration_date(field: Field<String>) -> Result<Patch<ExpirationDate>, ApiError> {
    const NOT_A_DATE: &str = "expiration_date must be a date like 2030-12-31";
    match field.patch(|| ApiError::InvalidExpirationDate(NOT_A_DATE))? {
        Patch::Set(s) if s.trim().is_empty() => Ok(Patch::Clear),
        Patch::Set(s) => {
            let date = ExpirationDate::parse(s.trim())
                .ok_or(ApiError::InvalidExpirationDate(NOT_A_DATE))?;
            if date.has_passed(time::OffsetDateTime::now_utc().date()) {
                return Err(ApiError::InvalidExpirationDate(
                    "expiration_date lies in the past",
                ));
            }
            Ok(Patch::Set(date))
        }
        Patch::Keep => Ok(Patch::Keep),
        Patch::Clear => Ok(Patch::Clear),
    }
}

/// The settings fields: `base_url`, `ca_bundle`, `requests_per_minute`, `include`, `exclude` (all kept when
/// `settings` is absent).
#[derive(Default)]
struct SettingsFields {
    base_url: Option<InstanceUrl>,
    ca_bundle: Patch<String>,
    requests_per_minute: Patch<u32>,
    include: Patch<Vec<String>>,
    exclude: Patch<Vec<String>>,
}

/// `include`/`exclude`: a list of path patterns (JSON array, or one pattern per line in a form field); absent ->
/// `Keep`, `null` or empty -> `Clear`. Each pattern is checked here, so a bad one is refused before anything is
/// verified or stored, with the pattern named.
fn patterns(field: Field<PatternList>, list: &'static str) -> Result<Patch<Vec<String>>, ApiError> {
    let patterns: Vec<String> = match field
        .patch(|| ApiError::InvalidSettings(format!("{list} must be a list of path patterns")))?
    {
        Patch::Set(PatternList::Lines(lines)) => lines
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect(),
        Patch::Set(PatternList::List(items)) => items.iter().map(|p| p.trim().to_owned()).collect(),
        Patch::Keep => return Ok(Patch::Keep),
        Patch::Clear => return Ok(Patch::Clear),
    };
    crate::scope::validate(list, &patterns)
        .map_err(|e| ApiError::InvalidSettings(e.to_string()))?;
    Ok(if patterns.is_empty() {
        Patch::Clear
    } else {
        Patch::Set(patterns)
    })
}

fn settings(field: Field<SettingsBody>) -> Result<Option<SettingsFields>, ApiError> {
    let Some(settings) = object(field, "settings")? else {
        return Ok(None);
    };
    only_fields(
        &settings.unknown,
        &[
            "base_url",
            "ca_bundle",
            "requests_per_minute",
            "include",
            "exclude",
        ],
        ApiError::InvalidSettings,
        "settings",
    )?;
    let base_url = match string_patch(settings.base_url, "base_url", ApiError::InvalidSettings)? {
        Patch::Set(url) if url.trim().is_empty() => None,
        Patch::Set(url) if url.len() > MAX_BASE_URL_BYTES => {
            return Err(ApiError::InvalidSettings("base_url is too long".to_owned()));
        }
        Patch::Set(url) => {
            Some(InstanceUrl::parse(&url).map_err(|e| ApiError::InvalidSettings(e.to_string()))?)
        }
        Patch::Keep | Patch::Clear => None,
    };
    let ca_bundle = match string_patch(settings.ca_bundle, "ca_bundle", ApiError::InvalidSettings)?
    {
        Patch::Set(pem) if pem.trim().is_empty() => Patch::Clear,
        Patch::Set(pem) if pem.len() > MAX_CA_BUNDLE_BYTES => {
            return Err(ApiError::InvalidSettings(format!(
                "ca_bundle must be at most {MAX_CA_BUNDLE_BYTES} bytes"
            )));
        }
        Patch::Set(pem) if !pem.contains("-----BEGIN CERTIFICATE-----") => {
            return Err(ApiError::InvalidSettings(
                "ca_bundle must be PEM certificates (-----BEGIN CERTIFICATE-----)".to_owned(),
            ));
        }
        other => other,
    };
    let rpm_error = || {
        ApiError::InvalidSettings(format!(
            "requests_per_minute must be a whole number from 1 to {MAX_REQUESTS_PER_MINUTE}"
        ))
    };
    let requests_per_minute = match settings.requests_per_minute.patch(rpm_error)? {
        Patch::Set(Count::Text(s)) if s.trim().is_empty() => Patch::Clear,
        Patch::Set(count) => {
            let n = match count {
                Count::Number(n) => Some(n),
                Count::Text(s) => s.trim().parse::<u64>().ok(),
            }
            .filter(|n| (1..=MAX_REQUESTS_PER_MINUTE).contains(n))
            .ok_or_else(rpm_error)?;
            Patch::Set(u32::try_from(n).map_err(|_| rpm_error())?)
        }
        Patch::Keep => Patch::Keep,
        Patch::Clear => Patch::Clear,
    };
    Ok(Some(SettingsFields {
        base_url,
        ca_bundle,
        requests_per_minute,
        include: patterns(settings.include, "include")?,
        exclude: patterns(settings.exclude, "exclude")?,
    }))
}

/// `secrets.api_token`: `Ok(None)` when `secrets` is absent, `null` or `{}`.
fn api_token(field: Field<SecretsBody>) -> Result<Option<SecretString>, ApiError> {
    let Some(secrets) = object(field, "secrets")? else {
        return Ok(None);
    };
    only_fields(
        &secrets.unknown,
        &["api_token"],
        ApiError::InvalidRequest,
        "secrets",
    )?;
    match secrets.api_token {
        Field::Omitted => Ok(None),
        Field::Set(token) => {
            let token = token.trim();
            if token.is_empty() {
                return Err(ApiError::MissingToken);
            }
            if token.len() > MAX_TOKEN_BYTES || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ApiError::InvalidRequest(
                    "secrets.api_token must be a GitLab access token (printable ASCII, no spaces)"
                        .to_owned(),
                ));
            }
            Ok(Some(SecretString::new(token)))
        }
        Field::Null => Err(ApiError::MissingToken),
        Field::Unexpected => Err(ApiError::InvalidRequest(
            "secrets.api_token must be a string".to_owned(),
        )),
    }
}

/// `id`: a string of the identifier shape. A malformed id cannot name a credential: 404.
fn credential_id(field: Field<String>) -> Result<CredentialId, ApiError> {
    match field {
        Field::Set(id) => CredentialId::parse(id.trim())
            .ok_or(ApiError::CredentialNotFound(ApiError::NO_SUCH_CREDENTIAL)),
        Field::Omitted | Field::Null => Err(ApiError::InvalidRequest("id is required".to_owned())),
        Field::Unexpected => Err(ApiError::InvalidRequest("id must be a string".to_owned())),
    }
}

/// On create there is nothing to keep: a value or nothing.
fn set_or_none<T>(patch: Patch<T>) -> Option<T> {
    match patch {
        Patch::Set(value) => Some(value),
        Patch::Keep | Patch::Clear => None,
    }
}

impl CreateBody {
    pub fn into_input(self) -> Result<CreateInput, ApiError> {
        only_fields(
            &self.unknown,
            &["label", "settings", "secrets", "expiration_date"],
            ApiError::InvalidRequest,
            "the body",
        )?;
        let settings = settings(self.settings)?;
        let api_token = api_token(self.secrets)?.ok_or(ApiError::MissingToken)?;
        let settings = settings.unwrap_or_default();
        Ok(CreateInput {
            label: set_or_none(label(self.label)?),
            base_url: settings.base_url,
            ca_bundle: set_or_none(settings.ca_bundle),
            requests_per_minute: set_or_none(settings.requests_per_minute),
            include: set_or_none(settings.include).unwrap_or_default(),
            exclude: set_or_none(settings.exclude).unwrap_or_default(),
            api_token,
            expiration_date: set_or_none(expiration_date(self.expiration_date)?),
        })
    }
}

impl UpdateBody {
    pub fn into_input(self) -> Result<UpdateInput, ApiError> {
        let fields = self.fields;
        only_fields(
            &fields.unknown,
            &["id", "label", "settings", "secrets", "expiration_date"],
            ApiError::InvalidRequest,
            "the body",
        )?;
        let id = credential_id(self.id)?;
        let settings = settings(fields.settings)?;
        let api_token = api_token(fields.secrets)?;
        let settings = settings.unwrap_or_default();
        Ok(UpdateInput {
            id,
            label: label(fields.label)?,
            base_url: settings.base_url,
            ca_bundle: settings.ca_bundle,
            requests_per_minute: settings.requests_per_minute,
            include: settings.include,
            exclude: settings.exclude,
            api_token,
            expiration_date: expiration_date(fields.expiration_date)?,
        })
    }
}

impl DeleteBody {
    pub fn into_input(self) -> Result<CredentialId, ApiError> {
        only_fields(&self.unknown, &["id"], ApiError::InvalidRequest, "the body")?;
        credential_id(self.id)
    }
}

impl ProjectBody {
    pub fn into_input(self) -> Result<u64, ApiError> {
        only_fields(
            &self.unknown,
            &["project_id"],
            ApiError::InvalidRequest,
            "the body",
        )?;
        let invalid = || ApiError::InvalidRequest("project_id must be a positive integer".into());
        let id = match self.project_id {
            Field::Set(Count::Number(id)) => id,
            Field::Set(Count::Text(text)) => text.trim().parse().map_err(|_| invalid())?,
            Field::Omitted | Field::Null => {
                return Err(ApiError::InvalidRequest("project_id is required".into()));
            }
            Field::Unexpected => return Err(invalid()),
        };
        if id == 0 {
            return Err(invalid());
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(kind: BodyKind, body: &str) -> Result<CreateInput, ApiError> {
        read_body::<CreateBody>(kind, body.as_bytes())?.into_input()
    }

    fn update(body: &str) -> Result<UpdateInput, ApiError> {
        read_body::<UpdateBody>(BodyKind::Json, body.as_bytes())?.into_input()
    }

    #[test]
    fn form_bodies_map_to_nested_fields() {
        let input = create(
            BodyKind::Form,
            "label=Prod&settings%5Bbase_url%5D=https%3A%2F%2Fgitlab.example.com%2F&secrets[api_token]=glpat-x&settings[requests_per_minute]=60",
        )
        .unwrap();
        assert_eq!(input.label.as_deref(), Some("Prod"));
        assert_eq!(
            input.base_url.as_ref().map(InstanceUrl::as_str),
            Some("https://gitlab.example.com/")
        );
        assert_eq!(input.requests_per_minute, Some(60));
        assert_eq!(input.api_token.expose(), "glpat-x");
        for bad in ["a[b][c]=1", "a=1&a=2", "a=1&a[b]=2", "[x]=1", "a[b=1"] {
            assert_eq!(
                parse_form(bad.as_bytes()).unwrap_err().code(),
                "invalid_request",
                "{bad}"
            );
        }
    }

    /// A form body is read by the same types as JSON: the same fields, the same checks, the same messages.
    #[test]
    fn form_and_json_bodies_read_alike() {
        let pairs = [
            (
                "secrets[api_token]=t&settings[include]=acme/**%0A%0Aother/*&label=%20x%20",
                r#"{"secrets":{"api_token":"t"},"settings":{"include":["acme/**","other/*"]},"label":" x "}"#,
            ),
            (
                "secrets[api_token]=t&settings[requests_per_minute]=0",
                r#"{"secrets":{"api_token":"t"},"settings":{"requests_per_minute":0}}"#,
            ),
            (
                "secrets[api_token]=t&settings[colour]=red",
                r#"{"secrets":{"api_token":"t"},"settings":{"colour":"red"}}"#,
            ),
            ("secrets=t", r#"{"secrets":"t"}"#),
        ];
        for (form, json) in pairs {
            let (form, json) = (create(BodyKind::Form, form), create(BodyKind::Json, json));
            match (form, json) {
                (Ok(form), Ok(json)) => assert_eq!(
                    (form.label, form.include, form.api_token.expose().to_owned()),
                    (json.label, json.include, json.api_token.expose().to_owned())
                ),
                (Err(form), Err(json)) => assert_eq!(form, json),
                other => panic!("{other:?}"),
            }
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
            let error = create(BodyKind::Json, body).unwrap_err();
            assert_eq!(error.code(), code, "{body}");
            assert!(!error.to_string().contains("glpat-secret"), "{body}");
        }
        assert_eq!(
            create(BodyKind::Json, "[1]").unwrap_err().code(),
            "invalid_json"
        );
        assert_eq!(
            create(BodyKind::Json, "{\"a\":").unwrap_err().code(),
            "invalid_json"
        );
        assert_eq!(
            read_body::<CreateBody>(BodyKind::Json, &vec![b' '; MAX_BODY_BYTES + 1])
                .err()
                .map(|e| e.status()),
            Some(413)
        );
        assert_eq!(body_kind(Some("text/plain")).unwrap_err().status(), 415);
        assert_eq!(
            body_kind(Some("application/json; charset=utf-8")),
            Ok(BodyKind::Json)
        );
    }

    /// Each wrong shape is refused with the message that names the field, checked in a fixed order: unknown
    /// fields first, then settings, secrets, label and expiration date, whatever order the body gives them in.
    #[test]
    fn wrong_shapes_get_our_messages_in_a_fixed_order() {
        let cases: [(&[&str], &str); 13] = [
            (&["[]", "null"], "the body must be a JSON object"),
            (
                &[r#"{"label":5,"zzz":1}"#],
                "the body has a field this method does not accept; allowed: label, settings, secrets, expiration_date",
            ),
            (
                &[r#"{"label":5,"settings":[1]}"#],
                "settings must be an object",
            ),
            (
                &[r#"{"settings":{"base_url":1,"x":1}}"#],
                "settings has a field this method does not accept; allowed: base_url, ca_bundle, requests_per_minute, include, exclude",
            ),
            (
                &[r#"{"settings":{"base_url":1,"ca_bundle":1}}"#],
                "base_url must be a string",
            ),
            (
                &[
                    r#"{"settings":{"requests_per_minute":-1}}"#,
                    r#"{"settings":{"requests_per_minute":60.5}}"#,
                    r#"{"settings":{"requests_per_minute":true}}"#,
                ],
                "requests_per_minute must be a whole number from 1 to 1000000",
            ),
            (
                &[r#"{"settings":{"include":["a",1]}}"#],
                "include must be a list of path patterns",
            ),
            (
                &[r#"{"settings":{"exclude":{}}}"#],
                "exclude must be a list of path patterns",
            ),
            (
                &[r#"{"label":5,"secrets":{"api_token":1}}"#],
                "secrets.api_token must be a string",
            ),
            (
                &[r#"{"label":5,"secrets":{"api_token":null}}"#],
                "secrets.api_token is required and must not be empty",
            ),
            (
                &[r#"{"secrets":{"api_token":"t","x":1}}"#],
                "secrets has a field this method does not accept; allowed: api_token",
            ),
            (
                &[r#"{"expiration_date":1,"label":5,"secrets":{"api_token":"t"}}"#],
                "label must be a string",
            ),
            (
                &[r#"{"expiration_date":1,"secrets":{"api_token":"t"}}"#],
                "expiration_date must be a date like 2030-12-31",
            ),
        ];
        for (bodies, message) in cases {
            for body in bodies {
                let error = create(BodyKind::Json, body).unwrap_err();
                assert_eq!(error.to_string(), message, "{body}");
            }
        }
    }

    /// Blank values read as absent: a blank count, bundle, label or date is none, a `null` list is empty.
    #[test]
    fn blank_values_read_as_absent() {
        let input = create(
            BodyKind::Json,
            r#"{"secrets":{"api_token":" t "},"settings":{"requests_per_minute":"  ","ca_bundle":" ","include":null},"label":"  ","expiration_date":""}"#,
        )
        .unwrap();
        assert_eq!(input.api_token.expose(), "t");
        assert_eq!(
            (
                input.requests_per_minute,
                input.ca_bundle,
                input.label,
                input.expiration_date
            ),
            (None, None, None, None)
        );
        assert!(input.include.is_empty());
    }

    #[test]
    fn update_distinguishes_omitted_null_and_set() {
        let input =
            update(r#"{"id":"cred_1","label":null,"settings":{"ca_bundle":null},"secrets":{}}"#)
                .unwrap();
        assert_eq!(input.label, Patch::Clear);
        assert_eq!(input.ca_bundle, Patch::Clear);
        assert_eq!(input.requests_per_minute, Patch::Keep);
        assert_eq!(input.api_token, None);
        assert_eq!(input.expiration_date, Patch::Keep);
        assert_eq!(
            update(r#"{"id":"../x"}"#).unwrap_err().code(),
            "credential_not_found"
        );
        assert_eq!(update(r#"{}"#).unwrap_err().code(), "invalid_request");
        let input = update(
            r#"{"id":"cred_1","label":"x","settings":{"requests_per_minute":"60","exclude":"a/*"}}"#,
        )
        .unwrap();
        assert_eq!(input.label, Patch::Set("x".to_owned()));
        assert_eq!(input.requests_per_minute, Patch::Set(60));
        assert_eq!(input.exclude, Patch::Set(vec!["a/*".to_owned()]));
        assert_eq!(input.include, Patch::Keep);
        for (body, message) in [
            (r#"{"id":1}"#, "id must be a string"),
            (r#"{"id":null}"#, "id is required"),
            (
                r#"{"id":"cred_1","x":1}"#,
                "the body has a field this method does not accept; allowed: id, label, settings, secrets, expiration_date",
            ),
        ] {
            assert_eq!(update(body).unwrap_err().to_string(), message, "{body}");
        }
        let delete =
            |body: &str| read_body::<DeleteBody>(BodyKind::Json, body.as_bytes())?.into_input();
        assert_eq!(delete(r#"{"id":" cred_1 "}"#).unwrap().as_str(), "cred_1");
        assert_eq!(
            delete(r#"{"id":"cred_1","label":"x"}"#)
                .unwrap_err()
                .to_string(),
            "the body has a field this method does not accept; allowed: id"
        );
    }
}
