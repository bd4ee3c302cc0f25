//! Which projects a token can read: its groups, the projects of the top-most of them with their subgroups (shared
//! projects included) and the projects it is a member of, each listing at every page and at the access level that
//! reads a repository ([`crate::gitlab::READ_REPOSITORY_ACCESS`], Reporter), de-duplicated by project id.
//!
//! Only top-most visible groups are asked for their projects: a subgroup's projects are already in its parent's
//! `include_subgroups=true` listing, so asking again would only repeat pages.

use std::collections::{BTreeMap, HashSet};

use futures::{StreamExt, TryStreamExt};

use crate::gitlab::{GitLabClient, GitLabError, Group, Project};

/// What one token's discovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Every distinct project, by id.
    pub projects: BTreeMap<u64, Project>,
    /// False when a group vanished or was refused between listing it and listing its projects: the result may
    /// miss projects, so nothing may be concluded to be gone.
    pub complete: bool,
}

/// Runs discovery with up to `concurrency` group listings at once. Any failure of the group or member listing is
/// the token's or GitLab's and fails the whole discovery.
pub async fn discover(gitlab: &GitLabClient, concurrency: usize) -> Result<Discovery, GitLabError> {
    let groups: Vec<Group> = bounded(gitlab.groups()).await?;
    let tops = top_most(&groups);
    let members = bounded(gitlab.member_projects());
    let per_group = futures::stream::iter(tops.iter().copied())
        .map(|group| async move {
            match bounded(gitlab.group_projects(group, true, None)).await {
                Ok(projects) => Ok(Some(projects)),
                // Deleted or moved since it was listed: the rest of the discovery stands, but is incomplete.
                Err(GitLabError::NotFound { .. } | GitLabError::Forbidden { .. }) => {
                    tracing::warn!(group_id = group, "group vanished during discovery");
                    Ok(None)
                }
                Err(other) => Err(other),
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<Option<Vec<Project>>>>();
    let (members, per_group) = futures::try_join!(members, per_group)?;
    let complete = per_group.iter().all(Option::is_some);
    let lists = per_group.into_iter().flatten().chain([members]);
    Ok(Discovery {
        projects: merge(lists),
        complete,
    })
}

/// More entries than this in one listing is not an organisation but a GitLab that does not stop: the discovery
/// fails rather than fill the function's memory (10,000 projects is the scale the importer is built for).
pub const MAX_LISTED: usize = 100_000;

/// Every page of a listing, up to [`MAX_LISTED`] entries.
async fn bounded<T>(
    pages: impl futures::Stream<Item = Result<Vec<T>, GitLabError>>,
) -> Result<Vec<T>, GitLabError> {
    pages
        .try_fold(Vec::new(), |mut all, page| async move {
            all.extend(page);
            if all.len() > MAX_LISTED {
                return Err(GitLabError::InvalidResponse {
                    detail: format!("a listing of more than {MAX_LISTED} entries"),
                });
            }
            Ok(all)
        })
        .await
}

/// The ids of the groups whose parent is not itself listed, in listing order.
pub fn top_most(groups: &[Group]) -> Vec<u64> {
    let listed: HashSet<u64> = groups.iter().map(|g| g.id).collect();
    let mut seen = HashSet::new();
    groups
        .iter()
        .filter(|g| g.parent_id.is_none_or(|p| !listed.contains(&p)))
        .filter(|g| seen.insert(g.id))
        .map(|g| g.id)
        .collect()
}

/// De-duplicates by project id; the first listing of a project wins.
pub fn merge(lists: impl IntoIterator<Item = Vec<Project>>) -> BTreeMap<u64, Project> {
    let mut projects = BTreeMap::new();
    for project in lists.into_iter().flatten() {
        projects.entry(project.id).or_insert(project);
    }
    projects
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: u64, parent: Option<u64>) -> Group {
        Group {
            id,
            full_path: format!("g{id}"),
            parent_id: parent,
            web_url: String::new(),
        }
    }

    fn project(id: u64, path: &str) -> Project {
        Project {
            id,
            path_with_namespace: path.to_owned(),
            default_branch: Some("main".into()),
            empty_repo: Some(false),
            archived: Some(false),
            web_url: String::new(),
            last_activity_at: None,
        }
    }

    #[test]
    fn only_groups_without_a_listed_parent_are_asked_for_projects() {
        // 1 > 2 > 3 (nested), 5 is a subgroup of an unlisted 4, 6 stands alone.
        let groups = [
            group(3, Some(2)),
            group(1, None),
            group(2, Some(1)),
            group(5, Some(4)),
            group(6, None),
            group(6, None),
        ];
        assert_eq!(top_most(&groups), vec![1, 5, 6]);
    }

    #[test]
    fn a_project_listed_twice_is_kept_once() {
        let merged = merge([
            vec![project(1, "a/one"), project(2, "a/shared")],
            vec![project(2, "b/shared-again"), project(3, "b/three")],
            vec![],
        ]);
        assert_eq!(merged.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(merged[&2].path_with_namespace, "a/shared");
    }
}
