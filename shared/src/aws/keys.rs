//! The state table's key layout, in one place for every adapter that shares the table:
//! - connection: `pk = CONN#<connection>`, `sk = CONNECTION`;
//! - credential: `pk = CONN#<connection>`, `sk = CRED#<credential>`;
//! - project (scheduler metadata and sync state on one item): `pk = CONN#<connection>`, `sk = PROJ#<project>`.

pub const CONNECTION_SK: &str = "CONNECTION";
pub const CREDENTIAL_SK_PREFIX: &str = "CRED#";
pub const PROJECT_SK_PREFIX: &str = "PROJ#";

pub fn connection_pk(connection_id: &str) -> String {
    format!("CONN#{connection_id}")
}

pub fn credential_sk(credential_id: &str) -> String {
    format!("{CREDENTIAL_SK_PREFIX}{credential_id}")
}

pub fn project_sk(project_id: u64) -> String {
    format!("{PROJECT_SK_PREFIX}{project_id}")
}
