//! Which projects a token can read: its groups, the projects of the top-most of them with their subgroups (shared
//! projects included) and the projects it is a member of, each listing at every page and at the access level that
//! reads a repository ([`crate::gitlab::READ_REPOSITORY_ACCESS`], Reporter), de-duplicated by project id.
//!
//! Only top-most visible groups are asked for their projects: a subgroup's projects are already in its parent's
//! `include_subgroups=true` listing, so asking again would only repeat pages.
//!
//! Memory: each page holds its body's bytes of the client's memory budget while it is read and decoded, then only
//! what discovery keeps of it (the entities' fields), until the discovery is dropped. What one connection's
//! discovery keeps, across its credentials, is bounded by [`DiscoveryBytes`].

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{StreamExt, TryStreamExt};

use crate::gitlab::{GitLabClient, GitLabError, Group, ListPage, Project, Reservation};

/// What one token's discovery found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Every distinct project, by id.
    pub projects: BTreeMap<u64, Project>,
    /// False when a group vanished or was refused between listing it and listing its projects: the result may
    /// miss projects, so nothing may be concluded to be gone.
    pub complete: bool,
    /// What the projects hold of the client's memory budget: keep it as long as they (or what is made of them)
    /// are kept.
    pub memory: Reservation,
}

/// Why a discovery produced nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error(transparent)]
    GitLab(#[from] GitLabError),
    /// What the connection's discovery keeps passed its budget: a GitLab that lists without end, or entities too
    /// large to be projects.
    #[error("discovery_too_large: the discovery keeps more than {limit} bytes")]
    TooLarge { limit: u64 },
}

/// The bytes one connection's discovery may keep, across its credentials' listings: each page is charged what is
/// kept of it (its entities' fields, about 250 bytes a project), not its body, which the memory budget bounds
/// while it is read.
#[derive(Debug)]
pub struct DiscoveryBytes {
    limit: u64,
    kept: AtomicU64,
}

impl DiscoveryBytes {
    pub fn new(limit: u64) -> Self {
        DiscoveryBytes {
            limit,
            kept: AtomicU64::new(0),
        }
    }

    pub fn kept(&self) -> u64 {
        self.kept.load(Ordering::Relaxed)
    }

    fn charge(&self, bytes: u64) -> Result<(), DiscoveryError> {
        let before = self.kept.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.limit {
            return Err(DiscoveryError::TooLarge { limit: self.limit });
        }
        Ok(())
    }
}

/// Runs discovery with up to `concurrency` group listings at once, keeping at most `bytes`. Any failure of the
/// group or member listing is the token's or GitLab's and fails the whole discovery.
pub async fn discover(
    gitlab: &GitLabClient,
    concurrency: usize,
    bytes: &DiscoveryBytes,
) -> Result<Discovery, DiscoveryError> {
    let groups = bounded(gitlab.groups(), bytes).await?;
    let tops = top_most(&groups.items);
    let members = bounded(gitlab.member_projects(), bytes);
    let per_group = futures::stream::iter(tops.iter().copied())
        .map(|group| async move {
            match bounded(gitlab.group_projects(group, true, None), bytes).await {
                Ok(projects) => Ok(Some(projects)),
                // Deleted or moved since it was listed: the rest of the discovery stands, but is incomplete.
                Err(DiscoveryError::GitLab(
                    GitLabError::NotFound { .. } | GitLabError::Forbidden { .. },
                )) => {
                    tracing::warn!(group_id = group, "group vanished during discovery");
                    Ok(None)
                }
                Err(other) => Err(other),
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<Option<ListPage<Project>>>>();
    let (members, per_group) = futures::try_join!(members, per_group)?;
    let complete = per_group.iter().all(Option::is_some);
    let mut memory = groups.memory;
    let lists = per_group
        .into_iter()
        .flatten()
        .chain([members])
        .map(|list| {
            memory.merge(list.memory);
            list.items
        });
    Ok(Discovery {
        projects: merge(lists),
        complete,
        memory,
    })
}

/// More entries than this in one listing is not an organisation but a GitLab that does not stop: the discovery
/// fails rather than fill the function's memory (10,000 projects is the scale the importer is built for).
pub const MAX_LISTED: usize = 100_000;

/// Every page of a listing, up to [`MAX_LISTED`] entries and what `bytes` allows, with the memory they hold.
async fn bounded<T: Kept>(
    pages: impl futures::Stream<Item = Result<ListPage<T>, GitLabError>>,
    bytes: &DiscoveryBytes,
) -> Result<ListPage<T>, DiscoveryError> {
    let all = ListPage {
        items: Vec::new(),
        memory: Reservation::default(),
    };
    pages
        .map_err(DiscoveryError::from)
        .try_fold(all, |mut all, mut page| async move {
            let kept: u64 = page.items.iter().map(Kept::kept_bytes).sum();
            bytes.charge(kept)?;
            page.memory.shrink_to(kept);
            all.memory.merge(page.memory);
            all.items.extend(page.items);
            if all.items.len() > MAX_LISTED {
                return Err(DiscoveryError::GitLab(GitLabError::InvalidResponse {
                    detail: format!("a listing of more than {MAX_LISTED} entries"),
                }));
            }
            Ok(all)
        })
        .await
}

/// What a listed entity keeps in memory once decoded: itself and its text.
trait Kept {
    fn kept_bytes(&self) -> u64;
}

impl Kept for Group {
    fn kept_bytes(&self) -> u64 {
        (size_of::<Group>() + self.full_path.capacity() + self.web_url.capacity()) as u64
    }
}

impl Kept for Project {
    fn kept_bytes(&self) -> u64 {
        let branch = self.default_branch.as_ref().map_or(0, String::capacity);
        (size_of::<Project>()
            + self.path_with_namespace.capacity()
            + branch
            + self.web_url.capacity()) as u64
    }
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

    /// A GitLab that lists pages of 100 projects without end, each page's body holding 1 MiB of the budget.
    fn endless_pages(
        budget: &crate::gitlab::MemoryBudget,
        pulled: &AtomicU64,
    ) -> impl futures::Stream<Item = Result<ListPage<Project>, GitLabError>> {
        futures::stream::repeat_with(move || {
            let page = pulled.fetch_add(1, Ordering::Relaxed);
            let mut memory = Reservation::default();
            budget
                .grow(&mut memory, 1 << 20)
                .map_err(|busy| GitLabError::MemoryBusy {
                    wanted: busy.wanted,
                    total: busy.total,
                })?;
            let items = (0..100)
                .map(|i| project(page * 100 + i, &format!("g/{}", "p".repeat(1_000))))
                .collect();
            Ok(ListPage { items, memory })
        })
    }

    #[tokio::test]
    async fn endless_pages_stop_at_the_discovery_s_byte_budget_and_keep_only_what_is_kept() {
        let budget = crate::gitlab::MemoryBudget::new(64 << 20);
        let pulled = AtomicU64::new(0);
        let per_page: u64 = (0..100)
            .map(|i| project(i, &format!("g/{}", "p".repeat(1_000))).kept_bytes())
            .sum();
        assert!(per_page > 100_000 && per_page < 1 << 20, "{per_page}");

        let bytes = DiscoveryBytes::new(10 * per_page);
        let listed = bounded(endless_pages(&budget, &pulled), &bytes).await;

        assert_eq!(
            listed.unwrap_err(),
            DiscoveryError::TooLarge {
                limit: 10 * per_page
            }
        );
        assert_eq!(
            pulled.load(Ordering::Relaxed),
            11,
            "stops at the page that passes the budget"
        );
        assert_eq!(
            budget.available(),
            64 << 20,
            "what was kept is given back with the listing"
        );

        let roomy = DiscoveryBytes::new(100 * per_page);
        let limited = bounded(endless_pages(&budget, &pulled).take(3), &roomy)
            .await
            .unwrap();
        assert_eq!(limited.items.len(), 300);
        assert_eq!(
            limited.memory.bytes(),
            3 * per_page,
            "each page keeps what its projects hold"
        );
        assert_eq!(roomy.kept(), 3 * per_page);
        assert_eq!(budget.available(), (64 << 20) - 3 * per_page);
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
