//! A GitLab instance's address in its one normal form, so that two spellings of the same instance compare equal.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// A GitLab instance's web root: `http` or `https`, a host, no credentials, query or fragment, and a path that
/// always ends in `/` with any trailing `/api/v4` removed. `https://GitLab.com`, `https://gitlab.com/` and
/// `https://gitlab.com/api/v4` are one instance, written `https://gitlab.com/`. Whether the scheme and the host
/// are allowed in this deployment is the GitLab client's question, not this type's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceUrl(Url);

/// Why a text is not an instance address. All of these are the caller's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstanceUrlError {
    #[error("base_url is not a valid URL")]
    Malformed,
    #[error("base_url must use http or https")]
    UnsupportedScheme,
    #[error("base_url must not contain credentials; put the token in secrets.api_token")]
    EmbeddedCredentials,
    #[error("base_url must not contain a query or fragment")]
    QueryOrFragment,
}

impl InstanceUrl {
    /// Accepts `https://gitlab.com`, `https://gitlab.com/`, `https://gitlab.com/api/v4`, and self-managed
    /// instances under a path prefix such as `https://host/gitlab/`.
    pub fn parse(input: &str) -> Result<Self, InstanceUrlError> {
        let mut url = Url::parse(input.trim()).map_err(|_| InstanceUrlError::Malformed)?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(InstanceUrlError::UnsupportedScheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(InstanceUrlError::EmbeddedCredentials);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(InstanceUrlError::QueryOrFragment);
        }
        if url.host().is_none() {
            return Err(InstanceUrlError::Malformed);
        }
        let path = url.path().trim_end_matches('/');
        let path = path.strip_suffix("/api/v4").unwrap_or(path).to_owned();
        url.set_path(&format!("{path}/"));
        Ok(InstanceUrl(url))
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for InstanceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Stored and sent as its normal text.
impl Serialize for InstanceUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for InstanceUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        InstanceUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_instance_are_equal() {
        let normal = InstanceUrl::parse("https://gitlab.com/").unwrap();
        for spelling in [
            "https://gitlab.com",
            " https://GitLab.com ",
            "https://gitlab.com/api/v4",
            "https://gitlab.com/api/v4/",
            "https://gitlab.com:443/",
        ] {
            assert_eq!(InstanceUrl::parse(spelling).unwrap(), normal, "{spelling}");
        }
        assert_eq!(normal.as_str(), "https://gitlab.com/");
    }

    #[test]
    fn a_path_prefix_is_part_of_the_instance() {
        let prefixed = InstanceUrl::parse("https://host/gitlab/api/v4").unwrap();
        assert_eq!(prefixed.as_str(), "https://host/gitlab/");
        assert_ne!(prefixed, InstanceUrl::parse("https://host/").unwrap());
        assert_ne!(
            InstanceUrl::parse("http://host/").unwrap(),
            InstanceUrl::parse("https://host/").unwrap()
        );
    }

    #[test]
    fn what_is_not_an_instance_is_refused_with_its_reason() {
        use InstanceUrlError::*;
        for (input, reason) in [
            ("gitlab.com", Malformed),
            ("ftp://gitlab.com/", UnsupportedScheme),
            ("https://user:pass@gitlab.com/", EmbeddedCredentials),
            ("https://gitlab.com/?private_token=x", QueryOrFragment),
            ("https://gitlab.com/#top", QueryOrFragment),
        ] {
            assert_eq!(InstanceUrl::parse(input), Err(reason), "{input}");
        }
    }

    #[test]
    fn it_travels_as_its_normal_text() {
        let url: InstanceUrl = serde_json::from_str("\"https://gitlab.com/api/v4\"").unwrap();
        assert_eq!(
            serde_json::to_string(&url).unwrap(),
            "\"https://gitlab.com/\""
        );
        assert!(serde_json::from_str::<InstanceUrl>("\"gitlab\"").is_err());
    }
}
