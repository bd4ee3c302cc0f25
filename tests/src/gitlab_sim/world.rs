//! The simulated instance's data: users, tokens, groups, projects, memberships and shares, and the
//! access rules GitLab applies to them (membership inherited down the group tree, project shares).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use time::{Date, OffsetDateTime};

/// GitLab's access levels.
pub mod access {
    pub const GUEST: u32 = 10;
    pub const REPORTER: u32 = 20;
    pub const DEVELOPER: u32 = 30;
    pub const MAINTAINER: u32 = 40;
    pub const OWNER: u32 = 50;
}

/// A fixed creation time for everything, so responses are reproducible.
fn epoch() -> OffsetDateTime {
    time::macros::datetime!(2020-01-01 00:00:00 UTC)
}

/// Guards against a parent cycle built by hand through the pub fields.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    pub value: String,
    pub user_id: u64,
    pub name: String,
    pub description: Option<String>,
    pub scopes: Vec<String>,
    pub active: bool,
    pub revoked: bool,
    /// The token is expired once this date is in the past (it still works on the day itself).
    pub expires_at: Option<Date>,
    pub created_at: OffsetDateTime,
    /// Updated by the simulator on every authenticated request.
    pub last_used_at: Option<OffsetDateTime>,
}

impl TokenSpec {
    pub fn new(value: &str, user_id: u64, scopes: &[&str]) -> Self {
        Self {
            value: value.to_owned(),
            user_id,
            name: "importer".to_owned(),
            description: None,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            active: true,
            revoked: false,
            expires_at: None,
            created_at: epoch(),
            last_used_at: None,
        }
    }

    pub fn with_name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.name);
        self
    }

    pub fn with_expiry(mut self, date: Date) -> Self {
        self.expires_at = Some(date);
        self
    }

    pub fn is_expired(&self, today: Date) -> bool {
        self.expires_at.is_some_and(|d| d < today)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    pub path: String,
    pub name: String,
    pub parent: Option<u64>,
    pub description: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Namespace {
    Group(u64),
    /// A user's personal namespace.
    User(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSpec {
    pub namespace: Namespace,
    pub path: String,
    pub name: String,
    pub description: String,
    /// A bare or non-bare git directory; `None` means the project has no repository at all.
    pub repo: Option<PathBuf>,
    /// Never null in GitLab, even for an empty repository.
    pub default_branch: String,
    pub archived: bool,
    /// The project's repository feature; off means 403 on the repository routes.
    pub repository_enabled: bool,
    pub created_at: OffsetDateTime,
    pub last_activity_at: OffsetDateTime,
}

impl ProjectSpec {
    pub fn new(
        namespace: Namespace,
        path: &str,
        repo: Option<&Path>,
        default_branch: &str,
    ) -> Self {
        Self {
            namespace,
            path: path.to_owned(),
            name: path.to_owned(),
            description: String::new(),
            repo: repo.map(Path::to_path_buf),
            default_branch: default_branch.to_owned(),
            archived: false,
            repository_enabled: true,
            created_at: epoch(),
            last_activity_at: epoch(),
        }
    }

    /// Records activity on the project at `at`, as GitLab does: it moves `last_activity_at` only when that is an
    /// hour old or more, so activity within the hour after it leaves it unmoved.
    pub fn record_activity(&mut self, at: OffsetDateTime) {
        if at - self.last_activity_at >= time::Duration::HOUR {
            self.last_activity_at = at;
        }
    }

    /// A project of group `group` whose default branch is `main`.
    pub fn in_group(group: u64, path: &str, repo: Option<&Path>) -> Self {
        Self::new(Namespace::Group(group), path, repo, "main")
    }

    pub fn archived(mut self) -> Self {
        self.archived = true;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Membership {
    Group(u64),
    Project(u64),
}

/// Everything the simulated instance knows. Ids are assigned per kind, from 1, never reused.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub users: BTreeMap<u64, User>,
    pub tokens: BTreeMap<u64, TokenSpec>,
    pub groups: BTreeMap<u64, GroupSpec>,
    pub projects: BTreeMap<u64, ProjectSpec>,
    /// (user, where) -> access level.
    pub members: BTreeMap<(u64, Membership), u32>,
    /// project -> [(group it is shared with, maximum access level)].
    pub shares: BTreeMap<u64, Vec<(u64, u32)>>,
    last_user: u64,
    last_token: u64,
    last_group: u64,
    last_project: u64,
}

impl World {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_user(&mut self, username: &str) -> u64 {
        self.last_user += 1;
        let user = User {
            username: username.to_owned(),
            name: username.to_owned(),
        };
        self.users.insert(self.last_user, user);
        self.last_user
    }

    pub fn add_token(&mut self, spec: TokenSpec) -> u64 {
        assert!(
            self.users.contains_key(&spec.user_id),
            "token for unknown user {}",
            spec.user_id
        );
        self.last_token += 1;
        self.tokens.insert(self.last_token, spec);
        self.last_token
    }

    pub fn add_group(&mut self, path: &str, parent: Option<u64>) -> u64 {
        if let Some(p) = parent {
            assert!(self.groups.contains_key(&p), "unknown parent group {p}");
        }
        self.last_group += 1;
        let group = GroupSpec {
            path: path.to_owned(),
            name: path.to_owned(),
            parent,
            description: String::new(),
            created_at: epoch(),
        };
        self.groups.insert(self.last_group, group);
        self.last_group
    }

    pub fn add_project(&mut self, spec: ProjectSpec) -> u64 {
        match spec.namespace {
            Namespace::Group(g) => assert!(self.groups.contains_key(&g), "unknown group {g}"),
            Namespace::User(u) => assert!(self.users.contains_key(&u), "unknown user {u}"),
        }
        self.last_project += 1;
        self.projects.insert(self.last_project, spec);
        self.last_project
    }

    pub fn add_member(&mut self, user: u64, of: Membership, access_level: u32) {
        self.members.insert((user, of), access_level);
    }

    pub fn share_project(&mut self, project: u64, with_group: u64, access_level: u32) {
        let shares = self.shares.entry(project).or_default();
        shares.retain(|(g, _)| *g != with_group);
        shares.push((with_group, access_level));
    }

    pub fn project_mut(&mut self, id: u64) -> &mut ProjectSpec {
        self.projects
            .get_mut(&id)
            .unwrap_or_else(|| panic!("unknown project {id}"))
    }

    pub fn group_mut(&mut self, id: u64) -> &mut GroupSpec {
        self.groups
            .get_mut(&id)
            .unwrap_or_else(|| panic!("unknown group {id}"))
    }

    pub fn remove_project(&mut self, id: u64) {
        self.projects.remove(&id);
        self.shares.remove(&id);
        self.members
            .retain(|(_, m), _| *m != Membership::Project(id));
    }

    pub fn token_mut(&mut self, id: u64) -> &mut TokenSpec {
        self.tokens
            .get_mut(&id)
            .unwrap_or_else(|| panic!("unknown token {id}"))
    }

    // ---- derived names -------------------------------------------------------------------

    /// The group itself first, then its parent, up to the top-level group.
    pub fn group_ancestors(&self, id: u64) -> Vec<u64> {
        let mut chain = Vec::new();
        let mut next = Some(id);
        while let Some(g) = next {
            if chain.len() >= MAX_DEPTH || !self.groups.contains_key(&g) {
                break;
            }
            chain.push(g);
            next = self.groups[&g].parent;
        }
        chain
    }

    pub fn group_full_path(&self, id: u64) -> String {
        self.joined_ancestors(id, "/", |g| &g.path)
    }

    pub fn group_full_name(&self, id: u64) -> String {
        self.joined_ancestors(id, " / ", |g| &g.name)
    }

    fn joined_ancestors(&self, id: u64, sep: &str, part: impl Fn(&GroupSpec) -> &str) -> String {
        let mut parts: Vec<&str> = self
            .group_ancestors(id)
            .iter()
            .map(|g| part(&self.groups[g]))
            .collect();
        parts.reverse();
        parts.join(sep)
    }

    pub fn namespace_full_path(&self, ns: Namespace) -> String {
        self.namespace_text(ns, Self::group_full_path, |user| &user.username)
    }

    pub fn namespace_full_name(&self, ns: Namespace) -> String {
        self.namespace_text(ns, Self::group_full_name, |user| &user.name)
    }

    /// A group's text, or a user's (empty for an unknown user).
    fn namespace_text(
        &self,
        ns: Namespace,
        group: impl Fn(&Self, u64) -> String,
        user: impl Fn(&User) -> &String,
    ) -> String {
        match ns {
            Namespace::Group(g) => group(self, g),
            Namespace::User(u) => self.users.get(&u).map(user).cloned().unwrap_or_default(),
        }
    }

    pub fn project_full_path(&self, id: u64) -> String {
        let p = &self.projects[&id];
        format!("{}/{}", self.namespace_full_path(p.namespace), p.path)
    }

    /// The group itself and all groups below it, in id order.
    pub fn group_descendants(&self, id: u64) -> BTreeSet<u64> {
        let mut found = BTreeSet::from([id]);
        // Groups are few; repeat until no new child appears instead of building a child index.
        loop {
            let before = found.len();
            for (gid, g) in &self.groups {
                if g.parent.is_some_and(|p| found.contains(&p)) {
                    found.insert(*gid);
                }
            }
            if found.len() == before {
                return found;
            }
        }
    }

    /// Numeric id or (case-insensitive) full path, as GitLab's `:id`.
    pub fn find_group(&self, key: &str) -> Option<u64> {
        find_by_key(&self.groups, key, |g| self.group_full_path(g))
    }

    /// See [`World::find_group`].
    pub fn find_project(&self, key: &str) -> Option<u64> {
        find_by_key(&self.projects, key, |p| self.project_full_path(p))
    }

    // ---- access ---------------------------------------------------------------------------

    /// Effective access to a group: the highest membership on the group or any ancestor.
    pub fn group_access(&self, user: u64, group: u64) -> Option<u32> {
        self.group_ancestors(group)
            .into_iter()
            .filter_map(|g| self.members.get(&(user, Membership::Group(g))).copied())
            .max()
    }

    /// Effective access to a project: direct membership, inherited group membership, the owner of a
    /// personal namespace, or a share into a group the user belongs to (capped at the share's level).
    pub fn project_access(&self, user: u64, project: u64) -> Option<u32> {
        let p = self.projects.get(&project)?;
        let direct = self
            .members
            .get(&(user, Membership::Project(project)))
            .copied();
        let inherited = match p.namespace {
            Namespace::Group(g) => self.group_access(user, g),
            Namespace::User(owner) => (owner == user).then_some(access::OWNER),
        };
        let shared = self
            .shares
            .get(&project)
            .into_iter()
            .flatten()
            .filter_map(|(g, max)| self.group_access(user, *g).map(|a| a.min(*max)))
            .max();
        [direct, inherited, shared].into_iter().flatten().max()
    }

    /// What `GET /groups` lists: groups with effective access and their ancestors (a member of a
    /// subgroup sees the parents' names).
    pub fn listed_groups(&self, user: u64) -> BTreeSet<u64> {
        self.groups
            .keys()
            .copied()
            .filter(|g| self.group_access(user, *g).is_some())
            .flat_map(|g| self.group_ancestors(g))
            .collect()
    }

    /// Whether `GET /groups/:id` answers: listed, or holding (at any depth) a project the user reaches.
    pub fn group_visible(&self, user: u64, group: u64) -> bool {
        self.listed_groups(user).contains(&group) || self.projects.iter().any(|(pid, p)| {
            matches!(p.namespace, Namespace::Group(g) if self.group_ancestors(g).contains(&group))
                && self.project_access(user, *pid).is_some()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_is_inherited_and_shares_are_capped() {
        let mut w = World::new();
        let alice = w.add_user("alice");
        let top = w.add_group("top", None);
        let sub = w.add_group("sub", Some(top));
        let other = w.add_group("other", None);
        let p = w.add_project(ProjectSpec::in_group(sub, "app", None));
        let q = w.add_project(ProjectSpec::in_group(other, "lib", None));
        w.add_member(alice, Membership::Group(top), access::MAINTAINER);
        w.share_project(q, sub, access::REPORTER);

        assert_eq!(w.group_full_path(sub), "top/sub");
        assert_eq!(w.project_full_path(p), "top/sub/app");
        assert_eq!(w.find_project("TOP/sub/app"), Some(p));
        assert_eq!(w.project_access(alice, p), Some(access::MAINTAINER));
        assert_eq!(w.project_access(alice, q), Some(access::REPORTER));
        assert_eq!(w.listed_groups(alice), BTreeSet::from([top, sub]));
        // `other` is not listed, but readable because a project in it is reachable.
        assert!(w.group_visible(alice, other));
    }
}

/// The id `key` names in `entries`: the id itself, or the one whose full path is `key` in any case.
fn find_by_key<V>(
    entries: &BTreeMap<u64, V>,
    key: &str,
    full_path: impl Fn(u64) -> String,
) -> Option<u64> {
    if let Ok(id) = key.parse::<u64>() {
        return entries.contains_key(&id).then_some(id);
    }
    entries
        .keys()
        .copied()
        .find(|id| full_path(*id).eq_ignore_ascii_case(key))
}

/// The world most tests start from: user `importer` with a `read_api` token, Developer in group `acme`, which
/// holds project `acme/app` on `repo` (default branch `main`). Tests add what else they need.
#[derive(Debug, Clone)]
pub struct OneProject {
    pub world: World,
    pub user: u64,
    pub group: u64,
    pub project: u64,
}

impl World {
    pub fn one_project(token: &str, repo: Option<&Path>) -> OneProject {
        let mut world = World::new();
        let user = world.add_user("importer");
        world.add_token(TokenSpec::new(token, user, &["read_api"]));
        let group = world.add_group("acme", None);
        world.add_member(user, Membership::Group(group), access::DEVELOPER);
        let project = world.add_project(ProjectSpec::in_group(group, "app", repo));
        OneProject {
            world,
            user,
            group,
            project,
        }
    }
}
