//! Route keys: the HTTP method plus GitLab's own route template (without `/api/v4`). Request
//! counters and `fail_next` use them.

pub const PERSONAL_ACCESS_TOKEN_SELF: &str = "GET /personal_access_tokens/self";
pub const USER: &str = "GET /user";
pub const GROUPS: &str = "GET /groups";
pub const GROUP: &str = "GET /groups/:id";
pub const GROUP_PROJECTS: &str = "GET /groups/:id/projects";
pub const PROJECTS: &str = "GET /projects";
pub const PROJECT: &str = "GET /projects/:id";
pub const COMMITS: &str = "GET /projects/:id/repository/commits";
pub const BRANCH: &str = "GET /projects/:id/repository/branches/:branch";
pub const MERGE_BASE: &str = "GET /projects/:id/repository/merge_base";
/// Matches every route in `fail_next`; in `request_count` it means the total.
pub const ANY: &str = "*";

/// Every API route key, for iteration in tests and tools.
pub const ALL: &[&str] = &[
    PERSONAL_ACCESS_TOKEN_SELF,
    USER,
    GROUPS,
    GROUP,
    GROUP_PROJECTS,
    PROJECTS,
    PROJECT,
    COMMITS,
    BRANCH,
    MERGE_BASE,
];
