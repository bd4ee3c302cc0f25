//! Turns a stored credential's settings into a GitLab client: its base URL and CA bundle, its token from the vault,
//! and the request budget the process keeps for it, so every task of the process that uses one token shares
//! GitLab's per-user limit; with a [`SlotStore`], every process too. Used by the scheduler and the sync worker alike; the credentials room says what a
//! record's [`ConnectTarget`] is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::shared_budget::{BucketKey, SharedSlots, SlotStore};
use super::{GitLabAddress, GitLabClient, HttpClients, MemoryBudget, RequestBudget, RetryPolicy};
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::vault::SecretVault;

/// Requests one token may send back to back before its steady pace applies.
const BUDGET_BURST: u32 = 20;

/// Why no client could be made for a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The stored base URL or CA bundle is refused (the credential must be updated).
    #[error("invalid_settings")]
    Settings,
    /// The vault could not be read (worth a retry).
    #[error("secret_unavailable: {0}")]
    Secret(String),
}

/// What a client is made of: the GitLab instance, the token's secret (and the version of it), the budget.
#[derive(Debug, Clone, Copy)]
pub struct ConnectTarget<'a> {
    /// Whose request budget the client spends (one per credential, and per process unless shared).
    pub connection_id: &'a ConnectionId,
    pub credential_id: &'a CredentialId,
    pub base_url: &'a str,
    pub ca_bundle: Option<&'a str>,
    /// The credential's own budget; the process default when `None`.
    pub requests_per_minute: Option<u32>,
    pub secret_name: &'a str,
    /// The token's version; the current one when `None`.
    pub secret_version_id: Option<&'a str>,
}

/// Built once per process.
#[derive(Debug)]
pub struct GitLabConnector {
    http: Arc<HttpClients>,
    default_requests_per_minute: u32,
    /// Where each token's timeline is shared with the other processes; `None`: each process paces on its own.
    shared: Option<Arc<dyn SlotStore>>,
    budgets: Mutex<HashMap<BucketKey, Arc<RequestBudget>>>,
    /// Shared by every client made here: all the process's GitLab answers together stay within it.
    memory: MemoryBudget,
}

impl GitLabConnector {
    pub fn new(http: Arc<HttpClients>, default_requests_per_minute: u32) -> Self {
        GitLabConnector {
            http,
            default_requests_per_minute,
            shared: None,
            budgets: Mutex::new(HashMap::new()),
            memory: MemoryBudget::default(),
        }
    }

    /// Another memory budget than [`MemoryBudget::default`] for the clients made here.
    pub fn with_memory(mut self, memory: MemoryBudget) -> Self {
        self.memory = memory;
        self
    }

    /// Every token's budget is also shared, through `store`, with the other processes that use the same store.
    pub fn with_shared_budget(mut self, store: Arc<dyn SlotStore>) -> Self {
        self.shared = Some(store);
        self
    }

    pub async fn client_for<V: SecretVault>(
        &self,
        vault: &V,
        target: &ConnectTarget<'_>,
        retry: RetryPolicy,
    ) -> Result<GitLabClient, ConnectError> {
        let address = GitLabAddress::parse(target.base_url, self.http.policy())
            .map_err(|_| ConnectError::Settings)?;
        let http = self
            .http
            .for_ca_bundle(target.ca_bundle)
            .map_err(|_| ConnectError::Settings)?;
        // The version the record names: a rotation in flight never pairs these settings with another token.
        let token = vault
            .read(target.secret_name, target.secret_version_id)
            .await
            .map_err(|e| ConnectError::Secret(e.to_string()))?;
        let budget = {
            let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
            let key = BucketKey {
                connection_id: target.connection_id.clone(),
                credential_id: target.credential_id.clone(),
            };
            budgets
                .entry(key.clone())
                .or_insert_with(|| {
                    let per_minute = target
                        .requests_per_minute
                        .unwrap_or(self.default_requests_per_minute);
                    Arc::new(match &self.shared {
                        Some(store) => RequestBudget::shared(
                            per_minute,
                            BUDGET_BURST,
                            SharedSlots::new(store.clone(), key, per_minute),
                        ),
                        None => RequestBudget::per_minute(per_minute, BUDGET_BURST),
                    })
                })
                .clone()
        };
        Ok(GitLabClient::new(http, address, token, budget, retry).with_memory(self.memory.clone()))
    }
}
