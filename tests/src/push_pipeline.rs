//! A one-project GitLab simulator whose pushes send GitLab's push hooks over real HTTP to the push hook handler
//! behind an API Gateway front on loopback, with the local run's pipeline on the AWS stand-in: what the push hook
//! tests and the push latency benchmark share.

use std::collections::BTreeSet;

use shared::testing::project_key;

use crate::git_fixture::{CommitSpec, GitRepo};
use crate::gitlab_sim::{OneProject, Simulator, World};
use crate::local_run::{CONNECTION, LocalRun, LocalRunError, ServedPushHooks};

const TOKEN: &str = "glpat-push-pipeline";

/// A one-project GitLab with a short history, imported once by a tick, its push hook pointed at the push hook
/// handler with the secret `credentials.create` made for the connection.
#[derive(Debug)]
pub struct PushPipeline {
    pub repo: GitRepo,
    pub project: u64,
    pub sim: Simulator,
    pub run: LocalRun,
    /// The push hook handler the simulator's hook goes to (its URL and secret).
    pub hooks: ServedPushHooks,
}

impl PushPipeline {
    /// Builds it on the stand-in under resource names starting with `prefix`.
    pub async fn start(prefix: &str) -> Result<PushPipeline, LocalRunError> {
        let repo = GitRepo::init("main");
        for i in 0..3 {
            repo.commit(CommitSpec::new(&format!("start {i}"), 1_700_000_000 + i));
        }
        let OneProject { world, project, .. } = World::one_project(TOKEN, Some(repo.path()));
        let sim = Simulator::start(world)
            .await
            .map_err(|e| LocalRunError::Config(format!("starting the simulator: {e}")))?;
        let run = LocalRun::on_simulator(prefix, &sim).await?;
        run.create_credential(CONNECTION, &sim.base_url(), TOKEN, "push hooks")
            .await?;
        run.pass().await?;
        let hooks = run.serve_push_hooks(&sim, CONNECTION).await?;
        Ok(PushPipeline {
            repo,
            project,
            sim,
            run,
            hooks,
        })
    }

    /// Pushes one commit to the default branch; the new head.
    pub async fn push(&self, message: &str, at: i64) -> String {
        self.sim
            .push(self.project, "main", |_| {
                self.repo.commit(CommitSpec::new(message, at));
            })
            .await
            .after
    }

    /// How the table's live commits of the project differ from `git rev-list main` (empty when equal).
    pub async fn differences_from_git(&self) -> Vec<String> {
        let stored = self
            .run
            .aws
            .stored_commits(&project_key(CONNECTION, self.project))
            .await;
        let live: BTreeSet<String> = stored
            .into_iter()
            .filter(|(_, c)| c.removed_at.is_none())
            .map(|(sha, _)| sha)
            .collect();
        let git: BTreeSet<String> = self.repo.rev_list(&["main"]).into_iter().collect();
        let mut differences: Vec<String> = git
            .difference(&live)
            .map(|sha| format!("{sha} is on main but not in the table"))
            .collect();
        differences.extend(
            live.difference(&git)
                .map(|sha| format!("{sha} is in the table but not on main")),
        );
        differences
    }

    /// Stops the front and the simulator and removes the stand-in's resources.
    pub async fn stop(self) {
        self.hooks.front.stop().await;
        self.sim.shutdown().await;
        self.run.aws.teardown().await;
    }
}
