//! One project of one connection: the key of its commits and of its sync state.

use super::ids::ConnectionId;

/// Identifies one project of one connection; the commits table's partition key is `<connection>#<project>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectKey {
    pub connection_id: ConnectionId,
    pub project_id: u64,
}

impl ProjectKey {
    pub fn new(connection_id: ConnectionId, project_id: u64) -> Self {
        ProjectKey {
            connection_id,
            project_id,
        }
    }

    pub fn partition(&self) -> String {
        format!("{}#{}", self.connection_id, self.project_id)
    }
}
