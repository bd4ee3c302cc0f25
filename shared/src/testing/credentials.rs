//! The credential store in memory, and the inputs of `credentials.create` and `credentials.update` with nothing
//! set but the token, for tests to change the one field they are about.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::credentials::model::CredentialRecord;
use crate::credentials::ports::CredentialStore;
use crate::credentials::service::{CreateInput, Patch, UpdateInput};
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::instance::InstanceUrl;
use crate::kernel::store::StoreError;
use crate::secret::SecretString;

#[derive(Debug, Default)]
struct Contents {
    /// connection -> the instance it is bound to
    connections: BTreeMap<ConnectionId, InstanceUrl>,
    records: BTreeMap<(ConnectionId, CredentialId), CredentialRecord>,
}

/// The credential store in memory, with the conditional writes of the DynamoDB one. Clones share their contents,
/// so a test keeps a handle on the store it hands to the service (and to the hooks of a
/// [`Faulty`](super::faults::Faulty) wrapper around it).
#[derive(Debug, Clone, Default)]
pub struct MemoryCredentialStore {
    contents: Arc<Mutex<Contents>>,
}

impl MemoryCredentialStore {
    /// Every credential of every connection.
    pub fn records(&self) -> Vec<CredentialRecord> {
        let contents = self.contents.lock().unwrap();
        contents.records.values().cloned().collect()
    }

    /// Writes `record` whatever is stored (another writer's unconditional write).
    pub fn put(&self, record: CredentialRecord) {
        let key = (record.connection_id.clone(), record.credential_id.clone());
        self.contents.lock().unwrap().records.insert(key, record);
    }

    /// Changes every stored credential of `connection` in place (another writer's change).
    pub fn change(&self, connection: &ConnectionId, edit: impl Fn(&mut CredentialRecord)) {
        let mut contents = self.contents.lock().unwrap();
        let records = contents.records.values_mut();
        records
            .filter(|r| &r.connection_id == connection)
            .for_each(edit);
    }
}

impl CredentialStore for MemoryCredentialStore {
    async fn bind_connection(
        &self,
        connection: &ConnectionId,
        base_url: &InstanceUrl,
        _created_at: &str,
    ) -> Result<Option<InstanceUrl>, StoreError> {
        let mut contents = self.contents.lock().unwrap();
        let bound = contents
            .connections
            .entry(connection.clone())
            .or_insert_with(|| base_url.clone());
        Ok((bound != base_url).then(|| bound.clone()))
    }

    async fn connection_exists(&self, connection: &ConnectionId) -> Result<bool, StoreError> {
        let contents = self.contents.lock().unwrap();
        Ok(contents.connections.contains_key(connection))
    }

    async fn insert(&self, record: &CredentialRecord) -> Result<(), StoreError> {
        let key = (record.connection_id.clone(), record.credential_id.clone());
        let mut contents = self.contents.lock().unwrap();
        if contents.records.contains_key(&key) {
            return Err(StoreError::Conflict);
        }
        contents.records.insert(key, record.clone());
        Ok(())
    }

    async fn replace(&self, record: &CredentialRecord, expected: u64) -> Result<(), StoreError> {
        let key = (record.connection_id.clone(), record.credential_id.clone());
        let mut contents = self.contents.lock().unwrap();
        match contents.records.get(&key) {
            Some(current) if current.version == expected => {
                contents.records.insert(key, record.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn get(
        &self,
        connection: &ConnectionId,
        id: &CredentialId,
    ) -> Result<Option<CredentialRecord>, StoreError> {
        let contents = self.contents.lock().unwrap();
        let key = (connection.clone(), id.clone());
        Ok(contents.records.get(&key).cloned())
    }

    async fn list(&self, connection: &ConnectionId) -> Result<Vec<CredentialRecord>, StoreError> {
        let contents = self.contents.lock().unwrap();
        let records = contents.records.values();
        Ok(records
            .filter(|r| &r.connection_id == connection)
            .cloned()
            .collect())
    }
}

/// A create with `token` and nothing else: the deployment's default GitLab, no label, every project.
pub fn create_input(token: &str) -> CreateInput {
    CreateInput {
        label: None,
        base_url: None,
        ca_bundle: None,
        requests_per_minute: None,
        include: Vec::new(),
        exclude: Vec::new(),
        api_token: SecretString::new(token),
        expiration_date: None,
    }
}

/// An update of credential `id` that changes nothing and keeps the stored token.
pub fn update_input(id: &CredentialId) -> UpdateInput {
    UpdateInput {
        id: id.clone(),
        label: Patch::Keep,
        base_url: None,
        ca_bundle: Patch::Keep,
        requests_per_minute: Patch::Keep,
        include: Patch::Keep,
        exclude: Patch::Keep,
        api_token: None,
        expiration_date: Patch::Keep,
    }
}

/// An update of credential `id` to a new token, nothing else changed.
pub fn rotation(id: &CredentialId, token: &str) -> UpdateInput {
    UpdateInput {
        api_token: Some(SecretString::new(token)),
        ..update_input(id)
    }
}
