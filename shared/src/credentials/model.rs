//! What the credentials API stores and shows: identifiers with a checked shape, the stored record (metadata
//! only; the token lives in the secret vault), and the view a caller sees.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::gitlab::ConnectTarget;
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::instance::InstanceUrl;

/// The only credential type this importer knows.
pub const CREDENTIAL_TYPE: &str = "gitlab";

/// A fresh id for a version of a credential's secret: 32 hex digits, the shape Secrets Manager takes as a
/// version id (`ClientRequestToken`, 32 to 64 characters).
pub fn new_secret_version_id() -> String {
    format!("{:032x}", crate::kernel::ids::random_bits())
}

/// Where a credential stands. The API stores `provisioning` while a create is under way and `active` once it is
/// complete (a failed verification stores nothing); the scheduler and worker record the others when GitLab later
/// refuses the token. `expired` is also derived at read time from the expiration date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    /// Created but not finished (its secret may not exist yet): never synced. An update completes it (with the
    /// stored token or a new one), a delete removes it.
    Provisioning,
    Active,
    InvalidCredentials,
    InvalidPermissions,
    Expired,
}

/// The non-secret settings of a GitLab credential, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSettings {
    /// The instance's web root, as verified.
    pub base_url: InstanceUrl,
    /// A PEM bundle of extra CA certificates for self-managed GitLab (public data, not a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    /// This credential's own GitLab request budget; the deployment default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    /// Path patterns of the projects to import (empty: every project) and to leave out ([`crate::scope`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl StoredSettings {
    /// The compiled scope; patterns were checked when they were stored, so one that no longer compiles (a stored
    /// item edited by hand) leaves the credential's scope at "nothing", never at "everything".
    pub fn scope(&self) -> Result<crate::scope::ProjectScope, crate::scope::ScopeError> {
        crate::scope::ProjectScope::new(&self.include, &self.exclude)
    }
}

/// The stored metadata of one credential (one DynamoDB item, `pk = CONN#<connection>`, `sk = CRED#<id>`).
/// Never holds the token: `secret_name` points at it in the vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRecord {
    pub connection_id: ConnectionId,
    pub credential_id: CredentialId,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub label: Option<String>,
    pub settings: StoredSettings,
    pub secret_name: String,
    /// The version of the secret that holds this record's token; readers fetch exactly this version. Absent on
    /// records stored before versions were recorded: their token is the secret's current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_version_id: Option<String>,
    pub token_fingerprint: String,
    pub status: CredentialStatus,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub disabled_at: Option<String>,
    #[serde(default)]
    pub deleted_at: Option<String>,
    /// Given by the caller.
    #[serde(default)]
    pub expiration_date: Option<ExpirationDate>,
    /// What GitLab reported for the token at the last verification.
    #[serde(default)]
    pub token_expires_at: Option<ExpirationDate>,
    #[serde(default)]
    pub last_verified_at: Option<String>,
    /// The token's scopes GitLab reported at the last verification; `None` for a credential last verified before
    /// scopes were recorded.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Filled by the scheduler and the sync worker; absent until the first tick. Stored as attributes of their
    /// own (see the credential store), never written by the API.
    #[serde(skip)]
    pub last_sync: Option<LastSync>,
    /// Optimistic concurrency: every write increments it and is conditional on the value read.
    pub version: u64,
}

/// The sync summary of a credential, as `info` and `list` show it. The scheduler sets the project figures once a
/// tick; the worker adds to `commits` and sets the times once per batch. Both write only their own attributes with
/// atomic updates (`SET`, `ADD`), never read-modify-write, so neither a tick of 10,000 projects nor concurrent
/// batches contend.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LastSync {
    /// Projects the last tick found for this credential (those another credential of the connection found
    /// first are counted there).
    pub projects: Option<u64>,
    /// Those projects by status (`active`, `excluded`, `empty`, `archived`, `forbidden`, `not_found`): how many
    /// are held back and why.
    #[serde(default)]
    pub project_statuses: BTreeMap<String, u64>,
    /// When that tick ran.
    pub discovered_at: Option<String>,
    /// Commits written by this credential's syncs since it was created.
    pub commits: Option<u64>,
    /// Commits the table refused even cut to size, since it was created (each is logged with its project).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commits_skipped: Option<u64>,
    /// The last time a sync of one of its projects completed (imported, unchanged or empty).
    pub last_success_at: Option<String>,
    /// The last error code of a tick or a sync (`forbidden`, `not_found`, `gitlab_unavailable`, ...), and when.
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

/// What one tick found for a credential: its projects by status, or why its discovery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoverySummary {
    Found {
        statuses: BTreeMap<&'static str, u64>,
        at: String,
    },
    Failed {
        code: String,
        at: String,
    },
}

/// What one batch of syncs did for a credential.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncTally {
    /// Syncs that completed (imported, unchanged, empty; a continued one has not), and the commits every sync
    /// of the batch wrote (continued ones included).
    pub succeeded: u64,
    pub commits: u64,
    /// Commits DynamoDB refused even cut to size (each also logged with its project).
    pub commits_skipped: u64,
    /// The last error code of the batch, if any.
    pub last_error: Option<String>,
}

impl SyncTally {
    pub fn is_empty(&self) -> bool {
        self.succeeded == 0
            && self.commits == 0
            && self.commits_skipped == 0
            && self.last_error.is_none()
    }
}

impl CredentialRecord {
    /// The status a caller sees: the stored one, or `expired` once an expiration date has passed.
    pub fn effective_status(&self, today: time::Date) -> CredentialStatus {
        let passed = |date: &Option<ExpirationDate>| date.is_some_and(|d| d.has_passed(today));
        if self.status == CredentialStatus::Active
            && (passed(&self.expiration_date) || passed(&self.token_expires_at))
        {
            CredentialStatus::Expired
        } else {
            self.status
        }
    }

    /// Why the scheduler and the worker must leave this credential alone, if they must: deleted, disabled, or
    /// not active (refused, expired, still provisioning).
    pub fn not_live(&self, today: time::Date) -> Option<&'static str> {
        if self.deleted_at.is_some() {
            return Some("credential_deleted");
        }
        if self.disabled_at.is_some() {
            return Some("credential_disabled");
        }
        match self.effective_status(today) {
            CredentialStatus::Active => None,
            _ => Some("credential_not_active"),
        }
    }

    /// What the GitLab connector makes this credential's client of.
    pub fn gitlab_target(&self) -> ConnectTarget<'_> {
        ConnectTarget {
            connection_id: &self.connection_id,
            credential_id: &self.credential_id,
            base_url: self.settings.base_url.as_str(),
            ca_bundle: self.settings.ca_bundle.as_deref(),
            requests_per_minute: self.settings.requests_per_minute,
            secret_name: &self.secret_name,
            secret_version_id: self.secret_version_id.as_deref(),
        }
    }

    /// A credential the scheduler and the worker use.
    pub fn is_live(&self, today: time::Date) -> bool {
        self.not_live(today).is_none()
    }

    /// The token's scopes beyond reading ([`crate::gitlab::excess_scopes`]); empty when unknown.
    pub fn excess_scopes(&self) -> Vec<String> {
        self.scopes
            .as_deref()
            .map(crate::gitlab::excess_scopes)
            .unwrap_or_default()
    }

    /// What info and list return: metadata, status, fingerprint; never the token.
    pub fn view(&self, today: time::Date) -> CredentialView {
        CredentialView {
            id: self.credential_id.clone(),
            kind: self.kind.clone(),
            label: self.label.clone(),
            settings: SettingsView {
                base_url: self.settings.base_url.clone(),
                ca_bundle: self.settings.ca_bundle.as_deref().map(|pem| CaBundleView {
                    certificates: pem.matches("-----BEGIN CERTIFICATE-----").count(),
                    fingerprint: crate::secret::SecretString::new(pem).fingerprint(),
                }),
                requests_per_minute: self.settings.requests_per_minute,
                include: self.settings.include.clone(),
                exclude: self.settings.exclude.clone(),
            },
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            disabled_at: self.disabled_at.clone(),
            deleted_at: self.deleted_at.clone(),
            expiration_date: self.expiration_date,
            status: self.effective_status(today),
            last_verified_at: self.last_verified_at.clone(),
            token_fingerprint: self.token_fingerprint.clone(),
            token_expires_at: self.token_expires_at,
            excess_scopes: self.scopes.as_ref().map(|_| self.excess_scopes()),
            scopes: self.scopes.clone(),
            last_sync: self.last_sync.clone(),
        }
    }
}

/// A credential as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialView {
    pub id: CredentialId,
    #[serde(rename = "type")]
    pub kind: String,
    pub label: Option<String>,
    pub settings: SettingsView,
    pub created_at: String,
    pub updated_at: String,
    pub disabled_at: Option<String>,
    pub deleted_at: Option<String>,
    pub expiration_date: Option<ExpirationDate>,
    pub status: CredentialStatus,
    pub last_verified_at: Option<String>,
    pub token_fingerprint: String,
    pub token_expires_at: Option<ExpirationDate>,
    /// The token's scopes, and those beyond reading (accepted, but more than the importer needs); both `null`
    /// for a credential last verified before scopes were recorded.
    pub scopes: Option<Vec<String>>,
    pub excess_scopes: Option<Vec<String>>,
    pub last_sync: Option<LastSync>,
}

/// Settings as shown: the CA bundle is summarised, not echoed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingsView {
    pub base_url: InstanceUrl,
    pub ca_bundle: Option<CaBundleView>,
    pub requests_per_minute: Option<u32>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaBundleView {
    pub certificates: usize,
    pub fingerprint: String,
}

/// A day a credential or its token expires, written `YYYY-MM-DD` (strictly) wherever it is stored or shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpirationDate(time::Date);

impl ExpirationDate {
    pub fn parse(value: &str) -> Option<Self> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        if value.len() != 10 {
            return None;
        }
        time::Date::parse(value, &format).ok().map(ExpirationDate)
    }

    /// Whether the day is over before `today` starts.
    pub fn has_passed(self, today: time::Date) -> bool {
        self.0 < today
    }
}

impl fmt::Display for ExpirationDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = (self.0.year(), u8::from(self.0.month()), self.0.day());
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

impl Serialize for ExpirationDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A stored date that is not `YYYY-MM-DD` is an error of the item, not a date to guess at.
impl<'de> Deserialize<'de> for ExpirationDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ExpirationDate::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a YYYY-MM-DD date: {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_version_ids_are_fresh_and_of_the_vaults_shape() {
        let version = new_secret_version_id();
        assert_eq!(version.len(), 32);
        assert_ne!(version, new_secret_version_id());
    }

    #[test]
    fn dates_parse_strictly_and_travel_as_their_text() {
        let date = ExpirationDate::parse("2030-01-31").unwrap();
        assert_eq!(serde_json::to_string(&date).unwrap(), "\"2030-01-31\"");
        assert_eq!(
            serde_json::from_str::<ExpirationDate>("\"2030-01-31\"").unwrap(),
            date
        );
        assert!(serde_json::from_str::<ExpirationDate>("\"2030-1-31\"").is_err());
        let today = time::macros::date!(2030 - 02 - 01);
        assert!(date.has_passed(today));
        assert!(
            !ExpirationDate::parse("2030-02-01")
                .unwrap()
                .has_passed(today)
        );
        for bad in [
            "2030-02-30",
            "2030-1-31",
            "31.01.2030",
            "2030-01-31T00:00:00Z",
            "",
        ] {
            assert!(ExpirationDate::parse(bad).is_none(), "{bad:?}");
        }
    }
}
