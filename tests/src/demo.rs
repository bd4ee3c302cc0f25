//! The demo GitLab: a few groups with nested subgroups and projects with histories that look like real ones
//! (merges, several authors, non-ASCII names, multi-line messages with trailers, a second root commit, an empty
//! repository, an archived project, a project shared into another group, a group the token cannot see), and the
//! token's roles as they come in real organisations: Developer in one group, only Reporter in another, a member of
//! a nested subgroup only, Guest on a project shared with it, and a project whose repository answers 403. For the
//! local run, the end-to-end test and the `gitlab-sim` binary.
//!
//! [`Demo::advance`] moves GitLab on as a team would between two syncs: new commits, and a merge of a branch
//! whose commits carry committer dates older than the previous sync.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::aws_local::AwsStandIn;
use crate::git_fixture::{CommitSpec, GitRepo};
use crate::gitlab_sim::{Membership, Namespace, ProjectSpec, Simulator, TokenSpec, World, access};
use crate::local_run::{CONNECTION, LocalRun};

/// The token of the demo user: Developer in `acme` (so in its subgroups and the project shared into them),
/// Reporter in `partners`, a member of `research/ml/vision` only, Guest on `finance/budget`.
pub const DEMO_TOKEN: &str = "glpat-simulator-demo-token";

/// 2024-03-01T09:00:00Z: the demo's hand-written history starts here.
const START: i64 = 1_709_283_600;
const DAY: i64 = 86_400;

/// One demo project and its repository.
#[derive(Debug)]
pub struct DemoProject {
    pub path_with_namespace: String,
    pub default_branch: String,
    /// The token reads the project's repository (Reporter or more) and it has commits: it is imported.
    pub expected: bool,
    /// The token sees the project at Reporter or more but its repository answers 403: discovered and tried,
    /// recorded `forbidden`, nothing imported.
    pub refused: bool,
    pub repo: GitRepo,
}

impl DemoProject {
    /// Git's own answer: every commit reachable from the default branch.
    pub fn truth(&self) -> Vec<String> {
        if !self.expected {
            return Vec::new();
        }
        self.repo.rev_list(&[&self.default_branch])
    }
}

/// What the demo token can do with a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Readable,
    Archived,
    /// Listed at Reporter or more, but the repository answers 403.
    RepositoryRefused,
    /// Not visible, or visible below Reporter: never listed.
    Unreadable,
}

/// The demo world and its repositories (temporary directories, removed on drop, or a kept folder: see
/// [`Demo::build_or_open`]).
#[derive(Debug)]
pub struct Demo {
    pub projects: Vec<DemoProject>,
    rounds: u32,
}

/// Written into a kept folder once every repository in it is complete: a build cut short is built again.
const BUILT_MARKER: &str = "demo-built";

/// Where the demo's repositories live.
#[derive(Debug, Clone, Copy)]
enum Repos<'a> {
    Temporary,
    /// One directory per project under the folder; `open` when an earlier build completed there.
    Kept {
        dir: &'a Path,
        open: bool,
    },
}

impl Repos<'_> {
    /// The repository `name`: a new one filled by `fill`, or the kept one as an earlier run left it.
    fn repo(self, name: &str, fill: impl FnOnce(&GitRepo)) -> GitRepo {
        match self {
            Repos::Temporary => {
                let repo = GitRepo::init("main");
                fill(&repo);
                repo
            }
            Repos::Kept { dir, open } => {
                let repo = GitRepo::init_at(&dir.join(name), "main");
                if !open {
                    fill(&repo);
                }
                repo
            }
        }
    }
}

impl Demo {
    /// `monolith_commits` sizes the biggest project (generated through `git fast-import`, a merge every tenth
    /// step); the others have a few hundred commits each. The world goes to [`crate::gitlab_sim::Simulator::start`].
    pub fn build(monolith_commits: usize) -> (Demo, World) {
        Self::assemble(Repos::Temporary, monolith_commits)
    }

    /// Like [`Demo::build`], with the repositories kept in `dir`: if an earlier call completed there, its
    /// repositories are opened as they were left (pushes and [`Demo::advance`] included, `monolith_commits`
    /// ignored) and the world is the same, ids included. True in the second place when they were opened.
    pub fn build_or_open(
        dir: &Path,
        monolith_commits: usize,
    ) -> std::io::Result<(Demo, World, bool)> {
        let open = dir.join(BUILT_MARKER).is_file();
        if !open && dir.exists() {
            // A build cut short: nothing imported from it can be in step with it, so start again.
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        let (mut demo, world) = Self::assemble(Repos::Kept { dir, open }, monolith_commits);
        if open {
            // Each advance merges a branch of its own round: carry on from the last one.
            let merged = demo.project("acme/platform/api").repo.git(&[
                "branch",
                "--list",
                "feature/old-work-*",
            ]);
            demo.rounds = u32::try_from(merged.lines().count()).unwrap_or(u32::MAX);
        } else {
            std::fs::write(dir.join(BUILT_MARKER), "")?;
        }
        Ok((demo, world, open))
    }

    fn assemble(repos: Repos<'_>, monolith_commits: usize) -> (Demo, World) {
        let mut w = World::new();
        let demo = w.add_user("demo");
        w.add_token(TokenSpec::new(DEMO_TOKEN, demo, &["read_api"]));
        let outsider = w.add_user("outsider");
        let acme = w.add_group("acme", None);
        let platform = w.add_group("platform", Some(acme));
        let infra = w.add_group("infra", Some(platform));
        let partners = w.add_group("partners", None);
        let research = w.add_group("research", None);
        let ml = w.add_group("ml", Some(research));
        let vision = w.add_group("vision", Some(ml));
        let finance = w.add_group("finance", None);
        w.add_member(demo, Membership::Group(acme), access::DEVELOPER);
        w.add_member(demo, Membership::Group(partners), access::REPORTER);
        w.add_member(demo, Membership::Group(vision), access::DEVELOPER);
        w.add_member(outsider, Membership::Group(finance), access::MAINTAINER);
        w.add_member(outsider, Membership::Group(research), access::OWNER);

        let mut projects = Vec::new();
        let mut add = |w: &mut World, namespace, path: &str, repo: GitRepo, kind: Kind| {
            let mut spec = ProjectSpec::new(namespace, path, Some(repo.path()), "main");
            match kind {
                Kind::Archived => spec = spec.archived(),
                Kind::RepositoryRefused => spec.repository_enabled = false,
                Kind::Readable | Kind::Unreadable => {}
            }
            let id = w.add_project(spec);
            let readable = matches!(kind, Kind::Readable | Kind::Archived);
            projects.push(DemoProject {
                path_with_namespace: w.project_full_path(id),
                default_branch: "main".into(),
                expected: readable && has_commits(repo.path()),
                refused: kind == Kind::RepositoryRefused,
                repo,
            });
            id
        };

        let monolith = repos.repo("monolith", |repo| {
            repo.fast_import_history("main", monolith_commits, Some(10));
        });
        add(
            &mut w,
            Namespace::Group(acme),
            "monolith",
            monolith,
            Kind::Readable,
        );

        // Team histories: (group, path, commits, seed of the authors and times, kind), added in this order (ids
        // follow it).
        let mut ids = BTreeMap::new();
        for (group, path, commits, seed, kind) in [
            (platform, "api", 120, 0, Kind::Readable),
            (infra, "terraform", 80, 3, Kind::Readable),
            (infra, "new-service", 0, 0, Kind::Readable),
            (platform, "legacy", 60, 5, Kind::Archived),
            // Listed to a Developer, but its repository is closed to the token (403 on the repository routes, as
            // when a repository is restricted or SSO is enforced): tried once, recorded `forbidden`, retried
            // daily.
            (platform, "compliance", 25, 7, Kind::RepositoryRefused),
            // Shared with platform below; two roots in its history.
            (partners, "sdk", 40, 1, Kind::Readable),
            // Only a Reporter here: enough to read code, so imported.
            (partners, "docs", 50, 4, Kind::Readable),
            // A member of the nested subgroup only: its projects are imported, its parents' are not visible.
            (vision, "models", 70, 6, Kind::Readable),
            (ml, "notebooks", 15, 8, Kind::Unreadable),
            (finance, "ledger", 30, 2, Kind::Unreadable),
            (finance, "budget", 20, 9, Kind::Unreadable),
        ] {
            let repo = repos.repo(path, |r| {
                team_history(r, commits, seed);
                if path == "sdk" {
                    merge_in_old_sdk(r);
                }
            });
            ids.insert(path, add(&mut w, Namespace::Group(group), path, repo, kind));
        }
        w.share_project(ids["sdk"], platform, access::DEVELOPER);
        // Shared with acme at Guest: the token sees the project but cannot read its code, so discovery (at
        // Reporter) never lists it and no request is ever spent on it.
        w.share_project(ids["budget"], acme, access::GUEST);

        (
            Demo {
                projects,
                rounds: 0,
            },
            w,
        )
    }

    /// The projects the demo token should import, with git's truth for each.
    pub fn expected(&self) -> impl Iterator<Item = &DemoProject> {
        self.projects.iter().filter(|p| p.expected)
    }

    /// The projects discovered and tried whose repository GitLab refuses.
    pub fn refused(&self) -> impl Iterator<Item = &DemoProject> {
        self.projects.iter().filter(|p| p.refused)
    }

    pub fn project(&self, path_with_namespace: &str) -> &DemoProject {
        self.projects
            .iter()
            .find(|p| p.path_with_namespace == path_with_namespace)
            .unwrap_or_else(|| panic!("no demo project {path_with_namespace}"))
    }

    /// GitLab moves on: `acme/platform/api` gets a merge of a feature branch whose commits are dated before
    /// anything imported so far plus two fresh commits; `acme/monolith` gets `monolith_commits` more. Returns
    /// the shas that are new on the default branches. `sim` records the pushes' activity on both projects, as
    /// GitLab does.
    pub fn advance(&mut self, sim: &Simulator, monolith_commits: usize) -> Vec<String> {
        self.rounds += 1;
        let round = self.rounds;
        let mut new = Vec::new();

        let api = &self.project("acme/platform/api").repo;
        let before: Vec<String> = api.rev_list(&["main"]);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let branch = format!("feature/old-work-{round}");
        api.checkout_new(&branch, "main~30");
        for i in 0..3 {
            // Committed long ago on a branch nobody merged until now: a `since` watermark would miss these.
            api.commit(
                CommitSpec::new(
                    &format!(
                        "Old work {round}.{i}: retry uploads\n\nKept on a branch for months.\n\nCo-authored-by: Jürgen Groß <juergen@example.com>"
                    ),
                    START - (90 - i) * DAY,
                )
                .author("Siobhán Ó Briain", "siobhan@example.com")
                .file(&format!("src/upload_{round}_{i}.rs"), "// retry\n"),
            );
        }
        api.checkout("main");
        api.merge(&branch, &format!("Merge branch '{branch}'"), now - 60);
        for i in 0..2 {
            api.commit(
                CommitSpec::new(&format!("Release 1.{round}.{i}"), now - 30 + i)
                    .author("Ana Lima", "ana@example.com"),
            );
        }
        let after = api.rev_list(&["main"]);
        new.extend(after.into_iter().filter(|sha| !before.contains(sha)));

        let monolith = &self.project("acme/monolith").repo;
        let before_head = monolith.head();
        monolith.fast_import_history("main", monolith_commits, Some(10));
        new.extend(monolith.rev_list(&["main", &format!("^{before_head}")]));
        sim.with_world(|w| {
            for path in ["acme/platform/api", "acme/monolith"] {
                let id = w.find_project(path).expect("a demo project");
                w.project_mut(id)
                    .record_activity(time::OffsetDateTime::now_utc());
            }
        });
        new
    }
}

/// A second root: an imported history merged in, as when two repositories are combined.
fn merge_in_old_sdk(repo: &GitRepo) {
    repo.orphan("imported");
    repo.commit(
        CommitSpec::new("Import the old SDK repository", START - 400 * DAY)
            .author("Zoë Ångström", "zoe@example.com")
            .file("legacy/README.md", "old sdk\n"),
    );
    repo.checkout("main");
    repo.merge_unrelated("imported", "Merge the old SDK history", START + 50 * DAY);
}

/// A small team's history: `commits` commits by five people across two years, a feature branch merged every
/// dozen commits, messages with bodies and `Co-authored-by` trailers, into the new `repo`. `seed` varies names
/// and files.
fn team_history(repo: &GitRepo, commits: usize, seed: usize) {
    const PEOPLE: [(&str, &str); 5] = [
        ("Ana Lima", "ana@example.com"),
        ("Jürgen Groß", "juergen@example.com"),
        ("Siobhán Ó Briain", "siobhan@example.com"),
        ("李雷", "lei@example.com"),
        ("Olúwadámilọ́lá Adé", "dami@example.com"),
    ];
    const VERBS: [&str; 6] = ["Add", "Fix", "Refactor", "Document", "Speed up", "Test"];
    const THINGS: [&str; 6] = [
        "the login flow",
        "retry on 429",
        "the CSV export",
        "pagination",
        "the settings page",
        "time zones in reports",
    ];
    let mut at = START + seed as i64 * 3_600;
    let mut n = 0;
    while n < commits {
        let (name, email) = PEOPLE[(n + seed) % PEOPLE.len()];
        let (pair, pair_email) = PEOPLE[(n + seed + 2) % PEOPLE.len()];
        let title = format!(
            "{} {}",
            VERBS[(n + seed) % VERBS.len()],
            THINGS[(n / 2 + seed) % THINGS.len()]
        );
        at += 5 * 3_600;
        if n % 12 == 11 && n + 3 <= commits {
            // A feature branch of two commits, merged with a merge commit.
            let branch = format!("feature/{n}");
            repo.checkout_new(&branch, "main");
            for step in 0..2 {
                repo.commit(
                    CommitSpec::new(&format!("{title} (part {})", step + 1), at + step)
                        .author(name, email)
                        .file(&format!("src/feature_{n}.txt"), &format!("{step}\n")),
                );
            }
            repo.checkout("main");
            repo.merge(
                &branch,
                &format!("Merge branch '{branch}' into 'main'"),
                at + 60,
            );
            n += 3;
            continue;
        }
        let message = format!(
            "{title}\n\nWhy: users asked for it in issue #{}.\nHow: small, reviewed change.\n\nCo-authored-by: {pair} <{pair_email}>",
            100 + n
        );
        repo.commit(
            CommitSpec::new(&message, at)
                .author(name, email)
                .tz(if n % 3 == 0 { "+0200" } else { "-0500" })
                .file(&format!("src/module_{}.txt", n % 9), &format!("{n}\n")),
        );
        n += 1;
    }
}

/// Compares the commits table with git for every demo project: each project the token can see holds exactly
/// `git rev-list <default branch>` (none marked removed), every other holds nothing. Returns the differences.
pub async fn differences_from_git(demo: &Demo, sim: &Simulator, run: &LocalRun) -> Vec<String> {
    differences_in_tables(demo, sim, &run.aws, CONNECTION).await
}

/// Like [`differences_from_git`], for the commits `connection` has in the stand-in's tables `aws`.
pub async fn differences_in_tables(
    demo: &Demo,
    sim: &Simulator,
    aws: &AwsStandIn,
    connection: &str,
) -> Vec<String> {
    let mut differences = Vec::new();
    for project in &demo.projects {
        let path = &project.path_with_namespace;
        let id = sim
            .with_world(|w| w.find_project(path))
            .unwrap_or_else(|| panic!("the simulator has no {path}"));
        let key = shared::testing::project_key(connection, id);
        let stored = aws.stored_commits(&key).await;
        let live: BTreeSet<&str> = stored
            .iter()
            .filter(|(_, c)| c.removed_at.is_none())
            .map(|(sha, _)| sha.as_str())
            .collect();
        let truth = project.truth();
        let truth: BTreeSet<&str> = truth.iter().map(String::as_str).collect();
        if live != truth {
            differences.push(format!(
                "{path}: {} stored, {} in git, {} missing, {} extra",
                live.len(),
                truth.len(),
                truth.difference(&live).count(),
                live.difference(&truth).count()
            ));
        }
    }
    differences
}

/// True when `path` holds a repository with at least one commit.
pub fn has_commits(path: &Path) -> bool {
    crate::git_fixture::git_command(path)
        .args(["rev-parse", "-q", "--verify", "HEAD^{commit}"])
        .output()
        .is_ok_and(|out| out.status.success())
}
