//! Where a project stands for the scheduler, in the words its schedule item stores: shared by the scheduler
//! (which records it), the push hooks (which enqueue only some) and the sync (whose refusal codes use the same words).

/// Where a project stands, as its schedule item's `status` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProjectStatus {
    /// Enqueued every tick (a message in flight included).
    Active,
    /// Left out by the credential's `include`/`exclude` patterns; its imported commits are kept.
    Excluded,
    /// No commits to import.
    Empty,
    /// Archived, and its history is fully imported.
    Archived,
    /// Its repository answered 403 (or 404) to the credential: retried after a while, not every tick.
    Forbidden,
    NotFound,
}

impl ProjectStatus {
    pub const ALL: [ProjectStatus; 6] = [
        ProjectStatus::Active,
        ProjectStatus::Excluded,
        ProjectStatus::Empty,
        ProjectStatus::Archived,
        ProjectStatus::Forbidden,
        ProjectStatus::NotFound,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Active => "active",
            ProjectStatus::Excluded => "excluded",
            ProjectStatus::Empty => "empty",
            ProjectStatus::Archived => "archived",
            ProjectStatus::Forbidden => "forbidden",
            ProjectStatus::NotFound => "not_found",
        }
    }

    /// The status of a stored word (a status, or the sync's `access_error` code, which uses the same words).
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }
}
