//! Projects as a tick records them, for tests: one builder instead of a struct literal in every test file.

use crate::scheduler::model::DiscoveredProject;

/// A project discovery found at `path_with_namespace` on `gitlab.example.com` by `cred_1`: default branch
/// `main`, with history, neither archived nor excluded. Tests change the fields they are about with
/// `DiscoveredProject { archived: true, ..discovered_project(7, "g/p") }`.
pub fn discovered_project(project_id: u64, path_with_namespace: &str) -> DiscoveredProject {
    DiscoveredProject {
        project_id,
        path_with_namespace: path_with_namespace.to_owned(),
        web_url: format!("https://gitlab.example.com/{path_with_namespace}"),
        default_branch: "main".into(),
        archived: false,
        empty_repo: false,
        last_activity_at: None,
        credential_id: "cred_1".into(),
        excluded: false,
    }
}
