//! Processes of one GitLab token as separate Lambda instances run them: each with its own GitLab connector, HTTP
//! client and request budget. What they share is what the deployment shares: the token's timeline in the state
//! table of the AWS stand-in, or (to compare) nothing, or a fixed part of the token's limit each.

use std::path::Path;
use std::sync::Arc;

use shared::aws::rate_bucket::DynamoSlotStore;
use shared::gitlab::{ConnectTarget, GitLabClient, GitLabConnector, ProjectRef};
use shared::kernel::ids::{ConnectionId, CredentialId};
use shared::kernel::vault::SecretVault;
use shared::secret::SecretString;
use shared::sync::SyncTarget;
use shared::testing::{MemoryVault, project_key};

use crate::aws_local::AwsStandIn;
use crate::clients::{fast_retry, local_http};
use crate::gitlab_sim::{Namespace, OneProject, ProjectSpec, World};

/// The connection and credential every process syncs for.
pub const CONNECTION: &str = "shared-token";
const CREDENTIAL: &str = "cred_shared_token";
const SECRET: &str = "shared-token/secret";

/// How the processes of one token divide its limit.
#[derive(Debug, Clone, Copy)]
pub enum Pacing<'a> {
    /// One timeline in the state table for all of them (what the scheduler and the worker do).
    Shared(&'a AwsStandIn),
    /// Each process paces on its own at the whole limit (before the timeline was shared).
    PerProcess,
    /// Each process paces on its own at the limit divided by this many processes.
    Divided(u32),
}

/// A GitLab client of a process of its own for `token` at `base_url`, whose token may send `requests_per_minute`.
pub async fn process_client(
    base_url: &str,
    token: &str,
    requests_per_minute: u32,
    pacing: Pacing<'_>,
) -> GitLabClient {
    let per_process = match pacing {
        Pacing::Divided(processes) => requests_per_minute / processes.max(1),
        Pacing::Shared(_) | Pacing::PerProcess => requests_per_minute,
    };
    let mut connector = GitLabConnector::new(Arc::new(local_http()), per_process);
    if let Pacing::Shared(aws) = pacing {
        // An SDK client of this process's own, on the same stand-in.
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(aws.dynamodb.config().clone());
        connector = connector.with_shared_budget(Arc::new(DynamoSlotStore::new(
            dynamodb,
            aws.table("StateTable"),
        )));
    }
    let vault = MemoryVault::default();
    vault
        .create(SECRET, &SecretString::new(token), "v1", &[])
        .await
        .expect("in memory");
    let target = ConnectTarget {
        connection_id: &ConnectionId::parse(CONNECTION).expect("valid"),
        credential_id: &CredentialId::parse(CREDENTIAL).expect("valid"),
        base_url,
        ca_bundle: None,
        requests_per_minute: None,
        secret_name: SECRET,
        secret_version_id: None,
    };
    connector
        .client_for(&vault, &target, fast_retry())
        .await
        .expect("a client for the simulator")
}

/// A GitLab of `projects` projects with the same repository at `repo`, readable by `token`, and their sync
/// targets.
pub fn projects_of_one_token(
    token: &str,
    repo: &Path,
    projects: usize,
) -> (World, Vec<SyncTarget>) {
    let OneProject {
        mut world,
        group,
        project,
        ..
    } = World::one_project(token, Some(repo));
    let mut ids = vec![project];
    for i in 1..projects {
        ids.push(world.add_project(ProjectSpec::new(
            Namespace::Group(group),
            &format!("copy-{i}"),
            Some(repo),
            "main",
        )));
    }
    let targets = ids
        .into_iter()
        .map(|id| SyncTarget {
            key: project_key(CONNECTION, id),
            project: ProjectRef::Id(id),
            path_with_namespace: format!("acme/{id}"),
            default_branch: "main".into(),
        })
        .collect();
    (world, targets)
}
