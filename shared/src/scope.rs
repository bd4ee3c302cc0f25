//! Which of a credential's projects are imported: `include` and `exclude` lists of path patterns matched against
//! GitLab's `path_with_namespace`. `*` matches within one path segment, `**` any number of segments, `?` one
//! character, `[...]` a class, `{a,b}` alternatives; matching ignores case, as GitLab's paths do. A project is in
//! scope when `include` is empty or one of its patterns matches, and no `exclude` pattern matches.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// At most this many patterns per list.
pub const MAX_PATTERNS: usize = 100;
/// At most this many bytes per pattern (GitLab's full paths are far shorter in practice).
pub const MAX_PATTERN_BYTES: usize = 255;

/// A pattern that cannot be used, named so the caller can fix it. Never contains anything but the pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{list} pattern {pattern:?} is not valid: {reason}")]
pub struct ScopeError {
    pub list: &'static str,
    pub pattern: String,
    pub reason: String,
}

/// A credential's compiled scope.
#[derive(Debug, Clone)]
pub struct ProjectScope {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl ProjectScope {
    /// Checks and compiles both lists; the first bad pattern is the error.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, ScopeError> {
        Ok(ProjectScope {
            include: compile("include", include)?,
            exclude: compile("exclude", exclude)?,
        })
    }

    pub fn admits(&self, path_with_namespace: &str) -> bool {
        self.include
            .as_ref()
            .is_none_or(|set| set.is_match(path_with_namespace))
            && !self
                .exclude
                .as_ref()
                .is_some_and(|set| set.is_match(path_with_namespace))
    }
}

/// Checks one list without keeping it (the credentials API validates before it stores).
pub fn validate(list: &'static str, patterns: &[String]) -> Result<(), ScopeError> {
    compile(list, patterns).map(drop)
}

fn compile(list: &'static str, patterns: &[String]) -> Result<Option<GlobSet>, ScopeError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    if patterns.len() > MAX_PATTERNS {
        return Err(ScopeError {
            list,
            pattern: String::new(),
            reason: format!("at most {MAX_PATTERNS} patterns"),
        });
    }
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        set.add(glob(list, pattern)?);
    }
    set.build().map(Some).map_err(|e| ScopeError {
        list,
        pattern: String::new(),
        reason: e.to_string(),
    })
}

fn glob(list: &'static str, pattern: &str) -> Result<Glob, ScopeError> {
    let refuse = |reason: &str| ScopeError {
        list,
        pattern: pattern.chars().take(MAX_PATTERN_BYTES).collect(),
        reason: reason.to_owned(),
    };
    if pattern.is_empty() {
        return Err(refuse("empty"));
    }
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(refuse("longer than 255 bytes"));
    }
    if pattern.starts_with('/') || pattern.ends_with('/') || pattern.contains("//") {
        return Err(refuse(
            "a path like group/subgroup/project, without a leading, trailing or double slash",
        ));
    }
    if pattern.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse("whitespace is not part of a GitLab path"));
    }
    // The matcher would read `a**` as `a*`, which stays within a segment: not what anyone writing it means.
    if pattern
        .split('/')
        .any(|segment| segment.contains("**") && segment != "**")
    {
        return Err(refuse("** must be a whole path segment, as in acme/**"));
    }
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .case_insensitive(true)
        .backslash_escape(true)
        .empty_alternates(false)
        .build()
        .map_err(|e| refuse(&e.kind().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(include: &[&str], exclude: &[&str]) -> ProjectScope {
        let owned = |list: &[&str]| list.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
        ProjectScope::new(&owned(include), &owned(exclude)).unwrap()
    }

    #[test]
    fn star_stays_within_a_segment_and_double_star_crosses_them() {
        let platform = scope(&["acme/platform/**"], &[]);
        assert!(platform.admits("acme/platform/api"));
        assert!(platform.admits("acme/platform/infra/terraform"));
        assert!(!platform.admits("acme/platform"));
        assert!(!platform.admits("acme/monolith"));

        let sandboxes = scope(&[], &["acme/*/sandbox"]);
        assert!(!sandboxes.admits("acme/team-a/sandbox"));
        assert!(sandboxes.admits("acme/team-a/deep/sandbox"));
        assert!(sandboxes.admits("acme/team-a/sandbox-tools"));
    }

    #[test]
    fn exclude_wins_over_include_and_an_empty_include_admits_everything() {
        let s = scope(
            &["acme/**", "partners/sdk"],
            &["**/*-mirror", "acme/legacy"],
        );
        assert!(s.admits("acme/api"));
        assert!(
            s.admits("Partners/SDK"),
            "paths match without regard to case"
        );
        assert!(!s.admits("acme/vendor/openssl-mirror"));
        assert!(!s.admits("acme/legacy"));
        assert!(!s.admits("finance/ledger"));
        assert!(scope(&[], &[]).admits("anything/at/all"));
    }

    #[test]
    fn bad_patterns_are_named() {
        for bad in [
            "acme/[platform",
            "acme/{a,b",
            "",
            "/acme",
            "acme/",
            "acme//x",
            "acme/ x",
            "acme/a**",
        ] {
            let error = ProjectScope::new(&[bad.to_owned()], &[]).unwrap_err();
            assert_eq!(error.pattern, bad, "{bad:?}");
            assert!(error.to_string().contains("include pattern"), "{error}");
        }
        let long = "a".repeat(300);
        let error = validate("exclude", &[long]).unwrap_err();
        assert_eq!(error.pattern.len(), MAX_PATTERN_BYTES);
        let many: Vec<String> = (0..=MAX_PATTERNS).map(|i| format!("g/p{i}")).collect();
        assert!(validate("include", &many).is_err());
    }
}
