//! Answers repository questions with the git CLI, as Gitaly does, so history semantics are git's own.
//!
//! Commit listing is `git log --skip --max-count`. Deep offsets are served from a small cache of the
//! walk's full order (one `git rev-list` per distinct walk, keyed by the *resolved* refs so pushes
//! invalidate it), so paging through 100k commits is not quadratic.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use crate::git_fixture::git_command;

/// One field per `%x00`, then free text (numstat) until the next record's leading NUL.
const FORMAT: &str = "--format=%x00%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B%x00\
                      %(trailers:unfold,only,separator=%x1e,key_value_separator=%x1f)%x00";
const FIELDS: usize = 11;
/// Offsets below this are walked directly; cheaper than a full `rev-list` of a big history.
const DIRECT_SKIP_LIMIT: usize = 1000;
const CACHE_ENTRIES: usize = 8;
/// Remembered resolutions of sha-only revisions (small strings; cleared when full).
const RESOLVED_ENTRIES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub(crate) enum GitError {
    #[error("cannot run git: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("git {args} failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("unexpected git output: {0}")]
    Parse(&'static str),
}

/// A commit as git prints it; dates are git's strict ISO 8601 (`%aI`).
#[derive(Debug, Clone)]
pub(crate) struct RawCommit {
    pub id: String,
    pub parent_ids: Vec<String>,
    pub author_name: String,
    pub author_email: String,
    pub author_date: String,
    pub committer_name: String,
    pub committer_email: String,
    pub committer_date: String,
    pub message: String,
    pub trailers: Vec<(String, String)>,
    /// (additions, deletions) against the first parent, when asked for.
    pub stats: Option<(u64, u64)>,
}

/// The paths one commit added, modified (content or type) and removed, as a push hook lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    pub added: Vec<String>,
    pub modified: Vec<String>,
    pub removed: Vec<String>,
}

/// Everything that shapes a history walk, besides paging.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub(crate) struct Walk {
    /// Resolved revisions as `git rev-parse` prints them (`<sha>`, `^<sha>`), or `--all`.
    pub revs: Vec<String>,
    pub first_parent: bool,
    pub topo: bool,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub path: Option<String>,
    pub author: Option<String>,
}

impl Walk {
    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.first_parent {
            args.push("--first-parent".to_owned());
        }
        if self.topo {
            args.push("--topo-order".to_owned());
        }
        if let Some(t) = self.since {
            args.push(format!("--since=@{t}"));
        }
        if let Some(t) = self.until {
            args.push(format!("--until=@{t}"));
        }
        if let Some(a) = &self.author {
            args.push(format!("--author={a}"));
        }
        args.extend(self.revs.iter().cloned());
        args.push("--".to_owned());
        args.extend(self.path.iter().cloned());
        args
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CacheKey {
    repo: PathBuf,
    walk: Walk,
}

/// A walk's full order as fixed-width hex, a few MB for 100k commits.
#[derive(Debug)]
struct ShaList {
    hex: String,
    width: usize,
}

impl ShaList {
    fn parse(out: &[u8]) -> Self {
        let text = String::from_utf8_lossy(out);
        let mut lines = text.lines().filter(|l| !l.is_empty()).peekable();
        let width = lines.peek().map_or(40, |l| l.len());
        let mut hex = String::with_capacity(text.len());
        for line in lines {
            hex.push_str(line);
        }
        Self { hex, width }
    }

    fn len(&self) -> usize {
        self.hex.len() / self.width
    }

    fn slice(&self, skip: usize, limit: usize) -> Vec<&str> {
        let end = (skip + limit).min(self.len());
        (skip.min(end)..end)
            .map(|i| &self.hex[i * self.width..(i + 1) * self.width])
            .collect()
    }
}

type Slot = Arc<OnceCell<Arc<ShaList>>>;

#[derive(Debug, Default)]
pub(crate) struct Git {
    /// Most recently used first.
    cache: Mutex<VecDeque<(CacheKey, Slot)>>,
    /// `(repo, rev)` to what `rev-parse` said, for sha-only revisions.
    resolved: Mutex<HashMap<(PathBuf, String), Vec<String>>>,
}

impl Git {
    async fn run(&self, repo: &Path, args: &[String]) -> Result<Output, GitError> {
        let mut cmd = tokio::process::Command::from(git_command(repo));
        // Paths are literal, as Gitaly passes them: no `:(exclude)` magic from a query string.
        cmd.env("GIT_LITERAL_PATHSPECS", "1")
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        Ok(cmd.output().await?)
    }

    async fn run_ok(&self, repo: &Path, args: &[String]) -> Result<Vec<u8>, GitError> {
        let out = self.run(repo, args).await?;
        if !out.status.success() {
            return Err(GitError::Failed {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(out.stdout)
    }

    /// `git rev-parse <rev> --`: the revisions a ref, sha or range stands for; `None` if unknown.
    /// A rev made only of full shas (`a`, `a..b`) names immutable objects, so its answer is remembered: paging
    /// through a range costs one `rev-parse`, as Gitaly resolves revisions without a process of its own.
    pub(crate) async fn resolve(
        &self,
        repo: &Path,
        rev: &str,
    ) -> Result<Option<Vec<String>>, GitError> {
        let immutable = rev.split("..").all(|part| part.len() == 40 && is_hex(part));
        let memo_key = (repo.to_path_buf(), rev.to_owned());
        if immutable
            && let Some(revs) = self
                .resolved
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&memo_key)
        {
            return Ok(Some(revs.clone()));
        }
        let out = self.run(repo, &strings(&["rev-parse", rev, "--"])).await?;
        if !out.status.success() {
            return Ok(None);
        }
        let revs: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| is_hex(l.trim_start_matches('^')))
            .map(str::to_owned)
            .collect();
        if revs.is_empty() {
            return Ok(None);
        }
        if immutable {
            let mut memo = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
            if memo.len() >= RESOLVED_ENTRIES {
                memo.clear();
            }
            memo.insert(memo_key, revs.clone());
        }
        Ok(Some(revs))
    }

    /// One page of `git log` for `walk`.
    pub(crate) async fn log_page(
        &self,
        repo: &Path,
        walk: &Walk,
        skip: usize,
        limit: usize,
        stats: bool,
    ) -> Result<Vec<RawCommit>, GitError> {
        let key = CacheKey {
            repo: repo.to_path_buf(),
            walk: walk.clone(),
        };
        let cached = self.peek(&key);
        if cached.is_none() && skip < DIRECT_SKIP_LIMIT {
            if walk.path.is_none() {
                // One process: walk and format together.
                let mut args = strings(&[
                    "log",
                    &format!("--skip={skip}"),
                    &format!("--max-count={limit}"),
                ]);
                args.extend(walk.args());
                return self.show(repo, args, stats).await;
            }
            // With a path, git may rewrite parents while simplifying; take the shas from the walk
            // and the commits themselves from their objects, as Gitaly does.
            let mut args = strings(&[
                "rev-list",
                &format!("--skip={skip}"),
                &format!("--max-count={limit}"),
            ]);
            args.extend(walk.args());
            let list = ShaList::parse(&self.run_ok(repo, &args).await?);
            return self.show_shas(repo, &list.slice(0, limit), stats).await;
        }
        let list = match cached {
            Some(list) => list,
            None => self.full_walk(key).await?,
        };
        self.show_shas(repo, &list.slice(skip, limit), stats).await
    }

    /// Details of the given commits, in the given order.
    pub(crate) async fn show_shas(
        &self,
        repo: &Path,
        shas: &[&str],
        stats: bool,
    ) -> Result<Vec<RawCommit>, GitError> {
        if shas.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = strings(&["log", "--no-walk=unsorted"]);
        args.extend(shas.iter().map(|s| (*s).to_owned()));
        args.push("--".to_owned());
        self.show(repo, args, stats).await
    }

    /// Runs a `git log` variant with the entity format (and numstat for stats) and parses it.
    async fn show(
        &self,
        repo: &Path,
        mut args: Vec<String>,
        stats: bool,
    ) -> Result<Vec<RawCommit>, GitError> {
        let mut opts = strings(&["--no-color", "--no-mailmap", "--no-notes", FORMAT]);
        if stats {
            // Against the first parent; a root commit against the empty tree; binary files count 0.
            opts.extend(strings(&[
                "--numstat",
                "--no-renames",
                "--root",
                "--diff-merges=first-parent",
            ]));
        }
        args.splice(1..1, opts);
        parse_log(&self.run_ok(repo, &args).await?, stats)
    }

    /// The commit a branch points at, or `None` if there is no such branch.
    pub(crate) async fn branch_head(
        &self,
        repo: &Path,
        branch: &str,
    ) -> Result<Option<RawCommit>, GitError> {
        let branch_ref = format!("refs/heads/{branch}");
        let Some(sha) = self.commit_sha(repo, &branch_ref).await? else {
            return Ok(None);
        };
        Ok(self.show_shas(repo, &[&sha], false).await?.pop())
    }

    /// The commit `rev` names, as a sha; `None` if unknown.
    pub(crate) async fn commit_sha(
        &self,
        repo: &Path,
        rev: &str,
    ) -> Result<Option<String>, GitError> {
        let spec = format!("{rev}^{{commit}}");
        let out = self
            .run(repo, &strings(&["rev-parse", "-q", "--verify", &spec]))
            .await?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()))
    }

    /// What a push reports for `revs` (a range such as `before..after`): how many commits it holds, and the newest
    /// `limit` of them, oldest first, each with the paths it changed against its first parent.
    pub(crate) async fn pushed_commits(
        &self,
        repo: &Path,
        revs: &[String],
        limit: usize,
    ) -> Result<(u64, Vec<(RawCommit, Changes)>), GitError> {
        let mut count = strings(&["rev-list", "--count"]);
        count.extend(revs.iter().cloned());
        let total = String::from_utf8_lossy(&self.run_ok(repo, &count).await?)
            .trim()
            .parse()
            .map_err(|_| GitError::Parse("rev-list --count is not a number"))?;
        let mut newest = strings(&["rev-list", &format!("--max-count={limit}")]);
        newest.extend(revs.iter().cloned());
        newest.push("--".to_owned());
        let list = ShaList::parse(&self.run_ok(repo, &newest).await?);
        let mut shas = list.slice(0, limit);
        shas.reverse();
        let mut commits = Vec::with_capacity(shas.len());
        for commit in self.show_shas(repo, &shas, false).await? {
            let changes = self.changes(repo, &commit).await?;
            commits.push((commit, changes));
        }
        Ok((total, commits))
    }

    async fn changes(&self, repo: &Path, commit: &RawCommit) -> Result<Changes, GitError> {
        let mut args = strings(&[
            "diff-tree",
            "-z",
            "-r",
            "--no-commit-id",
            "--name-status",
            "--no-renames",
        ]);
        match commit.parent_ids.first() {
            Some(parent) => args.push(parent.clone()),
            None => args.push("--root".to_owned()),
        }
        args.push(commit.id.clone());
        let out = self.run_ok(repo, &args).await?;
        let mut fields = out.split(|b| *b == 0).filter(|f| !f.is_empty());
        let mut changes = Changes::default();
        while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
            let list = match status.first() {
                Some(b'A') => &mut changes.added,
                Some(b'D') => &mut changes.removed,
                _ => &mut changes.modified,
            };
            list.push(text(path));
        }
        Ok(changes)
    }

    pub(crate) async fn merge_base(
        &self,
        repo: &Path,
        shas: &[String],
    ) -> Result<Option<RawCommit>, GitError> {
        let mut args = strings(&["merge-base"]);
        args.extend(shas.iter().cloned());
        let out = self.run(repo, &args).await?;
        let base = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() || base.is_empty() {
            return Ok(None);
        }
        Ok(self.show_shas(repo, &[&base], false).await?.pop())
    }

    fn peek(&self, key: &CacheKey) -> Option<Arc<ShaList>> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let pos = cache.iter().position(|(k, _)| k == key)?;
        let list = cache[pos].1.get().cloned()?;
        let entry = cache.remove(pos)?;
        cache.push_front(entry);
        Some(list)
    }

    /// The walk's full order, computed once even when several requests want it at the same time.
    async fn full_walk(&self, key: CacheKey) -> Result<Arc<ShaList>, GitError> {
        let slot = {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = match cache.iter().position(|(k, _)| *k == key) {
                Some(pos) => cache.remove(pos).map(|(_, s)| s).unwrap_or_default(),
                None => Slot::default(),
            };
            cache.push_front((key.clone(), slot.clone()));
            cache.truncate(CACHE_ENTRIES);
            slot
        };
        let list = slot
            .get_or_try_init(|| async {
                let mut args = strings(&["rev-list"]);
                args.extend(key.walk.args());
                let out = self.run_ok(&key.repo, &args).await?;
                Ok::<_, GitError>(Arc::new(ShaList::parse(&out)))
            })
            .await?;
        Ok(list.clone())
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

fn is_hex(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

/// Parses `FORMAT` output: a leading NUL, then per commit `FIELDS - 1` NUL-terminated fields and
/// the free-text numstat block.
fn parse_log(out: &[u8], with_stats: bool) -> Result<Vec<RawCommit>, GitError> {
    if out.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&[u8]> = out.split(|b| *b == 0).collect();
    if !parts[0].is_empty() || !(parts.len() - 1).is_multiple_of(FIELDS) {
        return Err(GitError::Parse("commit records are misaligned"));
    }
    Ok(parts[1..]
        .chunks_exact(FIELDS)
        .map(|f| parse_record(f, with_stats))
        .collect())
}

fn parse_record(f: &[&[u8]], with_stats: bool) -> RawCommit {
    let trailers = text(f[9])
        .split('\x1e')
        .filter_map(|t| t.split_once('\x1f'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    RawCommit {
        id: text(f[0]),
        parent_ids: text(f[1]).split_whitespace().map(str::to_owned).collect(),
        author_name: text(f[2]),
        author_email: text(f[3]),
        author_date: text(f[4]),
        committer_name: text(f[5]),
        committer_email: text(f[6]),
        committer_date: text(f[7]),
        message: text(f[8]),
        trailers,
        stats: with_stats.then(|| numstat(f[10])),
    }
}

/// Sums `--numstat` lines; binary files (`-\t-\tpath`) count 0.
fn numstat(block: &[u8]) -> (u64, u64) {
    String::from_utf8_lossy(block)
        .lines()
        .fold((0, 0), |(add, del), line| {
            let mut cols = line.splitn(3, '\t');
            match (cols.next(), cols.next(), cols.next()) {
                (Some(a), Some(d), Some(_)) => (
                    add + a.parse::<u64>().unwrap_or(0),
                    del + d.parse::<u64>().unwrap_or(0),
                ),
                _ => (add, del),
            }
        })
}

/// Whether the repository has any branch: `empty_repo` is "no branches". Read from the ref store
/// directly, because project lists ask this for every project on a page.
pub(crate) fn has_branches(repo: &Path) -> bool {
    let dot_git = repo.join(".git");
    let git_dir = if dot_git.is_dir() {
        dot_git
    } else {
        repo.to_path_buf()
    };
    if git_dir.join("reftable").is_dir() {
        // The binary ref format: ask git.
        let out = git_command(repo)
            .args(["for-each-ref", "--count=1", "refs/heads/"])
            .output();
        return out.is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    }
    let packed = std::fs::read_to_string(git_dir.join("packed-refs")).unwrap_or_default();
    has_loose_ref(&git_dir.join("refs/heads"))
        || packed.lines().any(|l| {
            l.split_once(' ')
                .is_some_and(|(_, r)| r.starts_with("refs/heads/"))
        })
}

fn has_loose_ref(dir: &Path) -> bool {
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    entries.map(|e| e.path()).any(|path| {
        if path.is_dir() {
            has_loose_ref(&path)
        } else {
            path.extension().is_none_or(|x| x != "lock")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_with_any_message_and_numstat() {
        let out = b"\0aaa\0p1 p2\0A\0a@x\0d1\0C\0c@x\0d2\0Title\n\nline with \t tab\n\0Co-authored-by\x1fX <x@y>\x1eAcked-by\x1fZ\0\n\n3\t1\tf\n-\t-\tbin\n\
                    \0bbb\0\0A\0a@x\0d1\0C\0c@x\0d2\0root\0\0\n";
        let commits = parse_log(out, true).unwrap();
        assert_eq!(commits.len(), 2);
        assert_eq!(commits[0].parent_ids, ["p1", "p2"]);
        assert_eq!(commits[0].message, "Title\n\nline with \t tab\n");
        assert_eq!(commits[0].trailers.len(), 2);
        assert_eq!(commits[0].stats, Some((3, 1)));
        assert_eq!(commits[1].stats, Some((0, 0)));
        assert!(commits[1].parent_ids.is_empty());
    }
}
