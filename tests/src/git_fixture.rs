//! Real git repositories for tests, built with the git CLI. Deterministic: authors, committers and
//! dates are always given explicitly, and no user or system git configuration is read.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

const DEFAULT_NAME: &str = "Test Author";
const DEFAULT_EMAIL: &str = "author@example.com";
/// First date of generated histories: 2020-09-13T12:26:40Z.
const GENERATED_EPOCH: i64 = 1_600_000_000;

/// A `git` command for `repo`, isolated from the environment: no system or global config, no
/// inherited `GIT_*` variables (a hook's `GIT_DIR` would redirect everything), no pager, no prompts.
pub fn git_command(repo: &Path) -> Command {
    let mut cmd = Command::new("git");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GIT_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("LC_ALL", "C")
        .args([
            "-c",
            "core.quotepath=off",
            "-c",
            "safe.directory=*",
            "-c",
            "commit.gpgsign=false",
        ])
        .arg("-C")
        .arg(repo);
    cmd
}

fn check(args: &[&str], out: &Output) -> String {
    assert!(
        out.status.success(),
        "git {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One commit to create. Dates are unix seconds with a `+HHMM` offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSpec {
    pub message: String,
    pub author_name: String,
    pub author_email: String,
    pub author_date: i64,
    pub committer_name: String,
    pub committer_email: String,
    pub committer_date: i64,
    /// UTC offset of both dates, e.g. `+0300`.
    pub tz: String,
    /// Files to write (path, content). Empty: a line is appended to `history.txt`.
    pub files: Vec<(String, String)>,
}

impl CommitSpec {
    pub fn new(message: &str, unix_ts: i64) -> Self {
        Self {
            message: message.to_owned(),
            author_name: DEFAULT_NAME.to_owned(),
            author_email: DEFAULT_EMAIL.to_owned(),
            author_date: unix_ts,
            committer_name: DEFAULT_NAME.to_owned(),
            committer_email: DEFAULT_EMAIL.to_owned(),
            committer_date: unix_ts,
            tz: "+0000".to_owned(),
            files: Vec::new(),
        }
    }

    pub fn author(mut self, name: &str, email: &str) -> Self {
        name.clone_into(&mut self.author_name);
        email.clone_into(&mut self.author_email);
        self
    }

    pub fn committer(mut self, name: &str, email: &str) -> Self {
        name.clone_into(&mut self.committer_name);
        email.clone_into(&mut self.committer_email);
        self
    }

    pub fn author_date(mut self, unix_ts: i64) -> Self {
        self.author_date = unix_ts;
        self
    }

    pub fn committer_date(mut self, unix_ts: i64) -> Self {
        self.committer_date = unix_ts;
        self
    }

    pub fn tz(mut self, offset: &str) -> Self {
        offset.clone_into(&mut self.tz);
        self
    }

    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files.push((path.to_owned(), content.to_owned()));
        self
    }
}

/// A non-bare repository with a work tree, in a temporary directory (removed on drop) or a given
/// path (kept).
#[derive(Debug)]
pub struct GitRepo {
    path: PathBuf,
    _dir: Option<TempDir>,
}

impl GitRepo {
    pub fn init(default_branch: &str) -> GitRepo {
        let dir = tempfile::Builder::new()
            .prefix("gitrepo-")
            .tempdir()
            .expect("create temp dir");
        let repo = GitRepo {
            path: dir.path().to_path_buf(),
            _dir: Some(dir),
        };
        repo.git(&["init", "-q", "-b", default_branch]);
        repo
    }

    /// A temporary repository whose `main` holds `commits` generated commits: see
    /// [`GitRepo::fast_import_history`].
    pub fn with_history(commits: usize, merge_every: Option<usize>) -> GitRepo {
        let repo = GitRepo::init("main");
        repo.fast_import_history("main", commits, merge_every);
        repo
    }

    /// Initializes (or reuses) a repository at `path`, which is not removed afterwards.
    pub fn init_at(path: &Path, default_branch: &str) -> GitRepo {
        std::fs::create_dir_all(path).expect("create repo dir");
        let repo = GitRepo {
            path: path.to_path_buf(),
            _dir: None,
        };
        repo.git(&["init", "-q", "-b", default_branch]);
        repo
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs any git command; panics with stderr on failure.
    pub fn git(&self, args: &[&str]) -> String {
        let out = git_command(&self.path)
            .args(args)
            .output()
            .expect("spawn git");
        check(args, &out)
    }

    fn git_with_env(
        &self,
        args: &[&str],
        env: &[(&str, String)],
        stdin: Option<Vec<u8>>,
    ) -> String {
        let mut cmd = git_command(&self.path);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn git");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin");
            // A thread, so a large input cannot deadlock against git's output.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        check(args, &child.wait_with_output().expect("wait for git"))
    }

    fn identity_env(c: &CommitSpec) -> Vec<(&'static str, String)> {
        vec![
            ("GIT_AUTHOR_NAME", c.author_name.clone()),
            ("GIT_AUTHOR_EMAIL", c.author_email.clone()),
            ("GIT_AUTHOR_DATE", format!("@{} {}", c.author_date, c.tz)),
            ("GIT_COMMITTER_NAME", c.committer_name.clone()),
            ("GIT_COMMITTER_EMAIL", c.committer_email.clone()),
            (
                "GIT_COMMITTER_DATE",
                format!("@{} {}", c.committer_date, c.tz),
            ),
        ]
    }

    /// Creates a commit on the current branch and returns its sha. The message is stored verbatim.
    pub fn commit(&self, c: CommitSpec) -> String {
        if c.files.is_empty() {
            let log = self.path.join("history.txt");
            let mut text = std::fs::read_to_string(&log).unwrap_or_default();
            let title = c.message.lines().next().unwrap_or_default();
            let _ = writeln!(text, "{} {title}", c.committer_date);
            std::fs::write(&log, text).expect("write history.txt");
        }
        for (file, content) in &c.files {
            let full = self.path.join(file);
            if let Some(dir) = full.parent() {
                std::fs::create_dir_all(dir).expect("create dirs");
            }
            std::fs::write(&full, content).expect("write file");
        }
        self.git(&["add", "-A"]);
        let args = [
            "commit",
            "-q",
            "--allow-empty",
            "--allow-empty-message",
            "--no-verify",
            "--cleanup=verbatim",
            "-F",
            "-",
        ];
        self.git_with_env(&args, &Self::identity_env(&c), Some(c.message.into_bytes()));
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    pub fn checkout_new(&self, branch: &str, from: &str) {
        self.git(&["checkout", "-q", "-b", branch, from]);
    }

    pub fn checkout(&self, branch: &str) {
        self.git(&["checkout", "-q", branch]);
    }

    /// `git merge --no-ff` of `branch` into the current branch; returns the merge commit.
    pub fn merge(&self, branch: &str, message: &str, date: i64) -> String {
        self.merge_with(&[], branch, message, date)
    }

    /// Merges a branch with no common history (a second root), like `--allow-unrelated-histories`.
    pub fn merge_unrelated(&self, branch: &str, message: &str, date: i64) -> String {
        self.merge_with(&["--allow-unrelated-histories"], branch, message, date)
    }

    fn merge_with(&self, extra: &[&str], branch: &str, message: &str, date: i64) -> String {
        let spec = CommitSpec::new(message, date);
        let mut args = vec!["merge", "-q", "--no-ff", "--no-edit"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-m", message, branch]);
        self.git_with_env(&args, &Self::identity_env(&spec), None);
        self.head()
    }

    pub fn reset_hard(&self, rev: &str) {
        self.git(&["reset", "-q", "--hard", rev]);
    }

    /// A force-push seen from the repository: `branch` (checked out) rewound `back` first-parent steps and given
    /// `commits` new commits, a minute apart from the commit it was rewound to, like the history they replace.
    /// Returns the commits that left it, sorted.
    pub fn force_push(&self, branch: &str, back: usize, commits: i64) -> Vec<String> {
        let before = self.rev_list(&[branch]);
        let rewind_to = self.rev_list(&["--first-parent", branch])[back].clone();
        self.reset_hard(&rewind_to);
        let date: i64 = self
            .git(&["log", "-1", "--format=%ct", &rewind_to])
            .trim()
            .parse()
            .expect("a commit date");
        for i in 1..=commits {
            self.commit(CommitSpec::new(&format!("rewritten {i}"), date + 60 * i));
        }
        let after: HashSet<String> = self.rev_list(&[branch]).into_iter().collect();
        let mut left: Vec<String> = before
            .into_iter()
            .filter(|sha| !after.contains(sha))
            .collect();
        left.sort();
        left
    }

    /// Deletes every commit no branch reaches any more (reflogs expired, then `gc --prune=now`), as GitLab's
    /// housekeeping does after a force-push: the old head is then unknown to the repository.
    pub fn prune_unreachable(&self) {
        self.git(&["reflog", "expire", "--expire=now", "--all"]);
        self.git(&["gc", "-q", "--prune=now"]);
    }

    pub fn rename_branch(&self, from: &str, to: &str) {
        self.git(&["branch", "-m", from, to]);
    }

    /// Switches to a new branch without history (the next commit is a second root).
    pub fn orphan(&self, branch: &str) {
        self.git(&["checkout", "-q", "--orphan", branch]);
        self.git(&["rm", "-rfq", "--ignore-unmatch", "."]);
        self.git(&["clean", "-fdxq"]);
    }

    /// The oracle: `git rev-list <args>`.
    pub fn rev_list(&self, args: &[&str]) -> Vec<String> {
        let mut full = vec!["rev-list"];
        full.extend_from_slice(args);
        self.git(&full).lines().map(str::to_owned).collect()
    }

    /// Appends `commits` generated commits to `branch` (creating it if needed) through
    /// `git fast-import`, and returns the new head.
    ///
    /// Each commit rewrites one of 16 small files. With `merge_every = Some(n)`, every n-th
    /// mainline step is a two-commit side branch plus a `--no-ff`-style merge, so first-parent
    /// history differs from full history. `commits` counts every commit, side and merge included.
    /// Committer dates rise by one minute per commit.
    pub fn fast_import_history(
        &self,
        branch: &str,
        commits: usize,
        merge_every: Option<usize>,
    ) -> String {
        let branch_ref = format!("refs/heads/{branch}");
        let tip = self.try_git(&[
            "rev-parse",
            "-q",
            "--verify",
            &format!("{branch_ref}^{{commit}}"),
        ]);
        let start = match &tip {
            Some(sha) => {
                self.git(&["log", "-1", "--format=%ct", sha.as_str()])
                    .trim()
                    .parse::<i64>()
                    .unwrap_or(0)
                    + 60
            }
            None => GENERATED_EPOCH,
        };
        let stream = fast_import_stream(
            &branch_ref,
            tip.as_deref(),
            start,
            commits,
            merge_every.filter(|n| *n > 0),
        );
        self.git_with_env(
            &["fast-import", "--quiet", "--done"],
            &[],
            Some(stream.into_bytes()),
        );
        self.try_git(&["update-ref", "-d", SIDE_REF]);
        // Keep the work tree in step when the imported branch is checked out.
        if self.try_git(&["symbolic-ref", "-q", "HEAD"]).as_deref() == Some(branch_ref.as_str()) {
            self.git(&["reset", "-q", "--hard"]);
        }
        // Generation numbers make `git log`/`rev-list` on big histories fast.
        self.git(&["commit-graph", "write", "--reachable"]);
        self.git(&["rev-parse", &branch_ref]).trim().to_owned()
    }

    /// Trimmed stdout, or `None` when git fails.
    fn try_git(&self, args: &[&str]) -> Option<String> {
        let out = git_command(&self.path)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

/// The ref side commits are written to during an import, deleted afterwards.
const SIDE_REF: &str = "refs/fast-import/side";

/// The `git fast-import` stream behind [`GitRepo::fast_import_history`].
///
/// Side commits go to one long-lived side line, so neither line ever switches its base: a `from`
/// that changes a branch's tree makes fast-import re-read trees through delta chains, which
/// doubled the import time.
fn fast_import_stream(
    branch_ref: &str,
    tip: Option<&str>,
    start: i64,
    commits: usize,
    merge_every: Option<usize>,
) -> String {
    struct Emitter {
        out: String,
        n: usize,
        start: i64,
    }
    impl Emitter {
        /// Writes one commit to `git_ref` and returns its mark.
        fn commit(
            &mut self,
            git_ref: &str,
            message: &str,
            (from, merge): (Option<&str>, Option<usize>),
            (path, content): (&str, &str),
        ) -> String {
            self.n += 1;
            let ts = self.start + 60 * (self.n as i64 - 1);
            let who = self.n % 7;
            let o = &mut self.out;
            let _ = writeln!(o, "commit {git_ref}\nmark :{}", self.n);
            let _ = writeln!(o, "author Dev {who} <dev{who}@example.com> {ts} +0000");
            let _ = writeln!(o, "committer Dev {who} <dev{who}@example.com> {ts} +0000");
            let _ = write!(o, "data {}\n{message}\n", message.len());
            if let Some(from) = from {
                let _ = writeln!(o, "from {from}");
            }
            if let Some(m) = merge {
                let _ = writeln!(o, "merge :{m}");
            }
            let _ = write!(
                o,
                "M 100644 inline {path}\ndata {}\n{content}\n",
                content.len()
            );
            format!(":{}", self.n)
        }
    }

    let mut e = Emitter {
        out: String::with_capacity(commits * 200),
        n: 0,
        start,
    };
    let mut prev: Option<String> = tip.map(str::to_owned);
    let mut side: Option<String> = None;
    let mut step = 0usize;
    let mut merges = 0usize;
    while e.n < commits {
        step += 1;
        let merge_now = merge_every.is_some_and(|m| step.is_multiple_of(m))
            && prev.is_some()
            && commits - e.n >= 3;
        if merge_now {
            merges += 1;
            let file = format!("side/b{}.txt", merges % 8);
            let (c1, c2) = (format!("side {merges} 1\n"), format!("side {merges} 2\n"));
            // The side line forks from the mainline once, then continues on its own.
            let fork = if side.is_none() {
                prev.as_deref()
            } else {
                None
            };
            e.commit(
                SIDE_REF,
                &format!("Side work {merges}.1"),
                (fork, None),
                (&file, &c1),
            );
            let s2 = e.commit(
                SIDE_REF,
                &format!("Side work {merges}.2"),
                (None, None),
                (&file, &c2),
            );
            let mark = s2[1..].parse().ok();
            let msg = format!("Merge branch 'side-{merges}'");
            prev = Some(e.commit(branch_ref, &msg, (prev.as_deref(), mark), (&file, &c2)));
            side = Some(s2);
        } else {
            let n = e.n + 1;
            let file = format!("src/f{}.txt", n % 16);
            let msg = format!("Commit {n}\n\nGenerated change {n}.");
            prev = Some(e.commit(
                branch_ref,
                &msg,
                (prev.as_deref(), None),
                (&file, &format!("commit {n}\n")),
            ));
        }
    }
    e.out.push_str("done\n");
    e.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_import_builds_merges_and_counts_every_commit() {
        let repo = GitRepo::init("main");
        let head = repo.fast_import_history("main", 40, Some(5));
        assert_eq!(repo.rev_list(&["main"]).len(), 40);
        assert!(repo.rev_list(&["--first-parent", "main"]).len() < 40);
        assert_eq!(repo.head(), head);
        // The work tree follows, so ordinary commits can continue the history.
        let next = repo.commit(CommitSpec::new("after import", 1_700_000_000));
        assert_eq!(repo.rev_list(&["main"]).len(), 41);
        assert_eq!(repo.rev_list(&["-1", "main"]), vec![next]);
        // A second import continues the branch; the temporary side line leaves no ref behind.
        repo.fast_import_history("main", 10, Some(3));
        assert_eq!(repo.rev_list(&["main"]).len(), 51);
        assert_eq!(
            repo.git(&["for-each-ref", "--format=%(refname)"]),
            "refs/heads/main\n"
        );
    }
}
