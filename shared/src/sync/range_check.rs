//! The check that what GitLab listed for a revision range is that range: gap-free from its top down to its base,
//! nothing from elsewhere (see [`RangeCheck`]); and the commit ids and ranges it works on.

use std::collections::{HashMap, HashSet};

use crate::gitlab::client::MAX_PER_PAGE;
use crate::gitlab::{Commit, CommitPage};

/// GitLab's answer cannot be the range asked for (or names as a commit something that is no commit id): the
/// detail, short, for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Inconsistent(pub String);

/// `base..head`, or `head` alone for a whole history.
pub fn range(base: Option<&str>, head: &str) -> String {
    base.map_or_else(|| head.to_owned(), |base| format!("{base}..{head}"))
}

/// The base (if any) and the top of a window made by [`range`].
pub fn bounds(window: &str) -> (Option<&str>, &str) {
    match window.split_once("..") {
        Some((base, top)) => (Some(base), top),
        None => (None, window),
    }
}

/// A commit id as a key: its bytes (SHA-1's 20, SHA-256's 32). Anything else GitLab calls a commit id (only 40 or
/// 64 lowercase hex digits are) is an inconsistent answer, and never reaches a revision range or a table key.
pub type CommitKey = [u8; 32];

pub fn commit_key(id: &str) -> Result<CommitKey, Inconsistent> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let mut key = [0; 32];
    let pairs = id.as_bytes().chunks(2);
    let valid = matches!(id.len(), 40 | 64)
        && pairs.zip(key.iter_mut()).all(|(pair, byte)| {
            let (Some(high), Some(low)) = (digit(pair[0]), digit(pair[1])) else {
                return false;
            };
            *byte = high << 4 | low;
            true
        });
    if !valid {
        let shown: String = id.chars().take(80).collect();
        return Err(Inconsistent(format!("{shown:?} is not a commit id")));
    }
    Ok(key)
}

/// Commits read before any commit naming them as a parent, held until one does: a page's worth. Git lists a range
/// from its top down, children before parents, so none are held from a GitLab that answers right.
const WAITING_COMMITS: usize = MAX_PER_PAGE as usize;

/// Checks that what was read for the range `base..top` is that range, as far as the ids and parents read can
/// show it: every commit of a range is reachable from its top along parents inside the range, so each commit read
/// must be the top or a parent of a commit admitted before it (one from another range or project is not); the top
/// must be read; and `base`, an ancestor of the top, must be the parent of some commit admitted (which also proves
/// an anchor or merge base to be on the range). Commits are admitted (and may be written) as soon as they are
/// reachable, so nothing from outside the range is ever written; duplicates are harmless.
#[derive(Debug)]
pub struct RangeCheck {
    range: String,
    base: Option<CommitKey>,
    /// The top and every parent of an admitted commit.
    reachable: HashSet<CommitKey>,
    /// Commits not reachable yet, with their page's `stats_missing`.
    waiting: HashMap<CommitKey, (Commit, bool)>,
    admitted: usize,
    base_reached: bool,
}

impl RangeCheck {
    pub fn new(range: &str, top: &str, base: Option<&str>) -> Result<Self, Inconsistent> {
        let top = commit_key(top)?;
        Ok(RangeCheck {
            range: range.to_owned(),
            base: base.map(commit_key).transpose()?,
            reachable: HashSet::from([top]),
            waiting: HashMap::new(),
            admitted: 0,
            base_reached: false,
        })
    }

    /// The commits of `page` (and any waiting ones) that are now reachable from the top, in an order that lists
    /// each after one of its children.
    pub fn admit(&mut self, page: CommitPage) -> Result<Vec<(Commit, bool)>, Inconsistent> {
        let mut admitted = Vec::with_capacity(page.commits.len());
        for commit in page.commits {
            let key = commit_key(&commit.id)?;
            for parent in &commit.parent_ids {
                commit_key(parent)?;
            }
            if !self.reachable.contains(&key) {
                self.waiting.insert(key, (commit, page.stats_missing));
                if self.waiting.len() > WAITING_COMMITS {
                    return Err(self.unreachable());
                }
                continue;
            }
            let mut ready = vec![(commit, page.stats_missing)];
            while let Some((commit, stats_missing)) = ready.pop() {
                for parent in &commit.parent_ids {
                    let parent = commit_key(parent)?;
                    self.base_reached |= self.base == Some(parent);
                    if self.reachable.insert(parent)
                        && let Some(waiting) = self.waiting.remove(&parent)
                    {
                        ready.push(waiting);
                    }
                }
                self.admitted += 1;
                admitted.push((commit, stats_missing));
            }
        }
        Ok(admitted)
    }

    fn unreachable(&self) -> Inconsistent {
        Inconsistent(format!(
            "{} commits listed for {} are not reachable from its top",
            self.waiting.len(),
            self.range
        ))
    }

    /// Whether everything read was the range, once the listing has ended.
    pub fn finish(self) -> Result<(), Inconsistent> {
        if self.admitted == 0 {
            return Err(Inconsistent(format!(
                "the listing of {} does not hold its top commit",
                self.range
            )));
        }
        if !self.waiting.is_empty() {
            return Err(self.unreachable());
        }
        if self.base.is_some() && !self.base_reached {
            return Err(Inconsistent(format!(
                "no commit listed for {} has its base as a parent",
                self.range
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
