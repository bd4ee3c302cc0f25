//! Push hooks: the simulator reports a push as GitLab does, with an asynchronous POST of the push event to one
//! configured receiver (a project or group hook sends `Push Hook`, a system hook `System Hook`; the body is the same).

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinSet;
use url::{Host, Url};

use super::entities::{commit_title, project};
use super::git::{Changes, RawCommit};
use super::state::Shared;
use super::world::World;

/// GitLab gives up on a hook that has not answered after this long.
const TIMEOUT: Duration = Duration::from_secs(10);
/// A push event lists at most this many commits: the newest, oldest first.
const PAYLOAD_COMMITS: usize = 20;
/// `before` of a branch creation, `after` of a deletion.
pub(crate) const ZEROS: &str = "0000000000000000000000000000000000000000";
const USER_AGENT: &str = "GitLab/17.11.0";

/// A hook delivery: what was sent, and how the receiver answered.
#[derive(Debug, Clone)]
pub struct HookDelivery {
    /// Index in [`crate::gitlab_sim::Simulator::hook_deliveries`], as [`Pushed::delivery`] names it.
    pub id: usize,
    /// `Push Hook` or `System Hook`.
    pub event: &'static str,
    /// The JSON body as sent.
    pub payload: Value,
    /// Also the `Idempotency-Key` header.
    pub event_uuid: String,
    pub sent_at: Instant,
    pub outcome: DeliveryOutcome,
}

/// How a receiver answered a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Still waiting for the answer.
    Pending,
    /// The receiver answered with this status (the body is not read).
    Answered { status: u16, at: Instant },
    /// No answer: refused, reset, or not within GitLab's 10 s.
    Failed { error: String, at: Instant },
}

impl DeliveryOutcome {
    /// When the answer (or the failure) came; `None` while pending.
    pub fn at(&self) -> Option<Instant> {
        match self {
            Self::Pending => None,
            Self::Answered { at, .. } | Self::Failed { at, .. } => Some(*at),
        }
    }
}

/// What [`crate::gitlab_sim::Simulator::push`] did. Shas are 40 zeros for a branch that did not exist before or
/// no longer exists after, as GitLab writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub before: String,
    pub after: String,
    /// The delivery this push caused: none when the branch did not move or no hook is set.
    pub delivery: Option<usize>,
}

#[derive(Clone)]
struct Config {
    url: Url,
    secret: String,
    event: &'static str,
    webhook_uuid: String,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url.as_str())
            .field("secret", &"[redacted]")
            .field("event", &self.event)
            .finish_non_exhaustive()
    }
}

/// The hook configuration, the deliveries made and the tasks still delivering (aborted when dropped).
#[derive(Debug)]
pub(crate) struct Hooks {
    client: reqwest::Client,
    config: Mutex<Option<Config>>,
    deliveries: Arc<Mutex<Vec<HookDelivery>>>,
    tasks: Mutex<JoinSet<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Hooks {
    pub(crate) fn new() -> reqwest::Result<Self> {
        // GitLab follows no redirects for hooks; proxies from the environment must not catch loopback traffic.
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .build()?;
        Ok(Self {
            client,
            config: Mutex::new(None),
            deliveries: Arc::default(),
            tasks: Mutex::new(JoinSet::new()),
        })
    }

    /// Panics unless `url` is `http://` on a loopback address: tests never send hooks off the machine.
    pub(crate) fn set(&self, url: &str, secret: &str, event: &'static str) {
        let parsed = Url::parse(url).unwrap_or_else(|e| panic!("hook URL {url:?}: {e}"));
        let loopback = match parsed.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        };
        assert!(
            parsed.scheme() == "http" && loopback,
            "the simulator sends hooks to http:// on a loopback address only, not to {url:?}"
        );
        *lock(&self.config) = Some(Config {
            url: parsed,
            secret: secret.to_owned(),
            event,
            webhook_uuid: uuid(),
        });
    }

    pub(crate) fn clear(&self) {
        *lock(&self.config) = None;
    }

    pub(crate) fn is_set(&self) -> bool {
        lock(&self.config).is_some()
    }

    pub(crate) fn deliveries(&self) -> Vec<HookDelivery> {
        lock(&self.deliveries).clone()
    }

    /// Starts delivering `payload` in the background, as GitLab's Sidekiq job does; `None` if no hook is set.
    pub(crate) fn deliver(&self, payload: Value, instance: &str) -> Option<usize> {
        let config = lock(&self.config).clone()?;
        let event_uuid = uuid();
        let body = serde_json::to_vec(&payload).expect("a JSON value serialises");
        let id = {
            let mut deliveries = lock(&self.deliveries);
            let id = deliveries.len();
            deliveries.push(HookDelivery {
                id,
                event: config.event,
                payload,
                event_uuid: event_uuid.clone(),
                sent_at: Instant::now(),
                outcome: DeliveryOutcome::Pending,
            });
            id
        };
        let request = self
            .client
            .post(config.url)
            .header("Content-Type", "application/json")
            .header("User-Agent", USER_AGENT)
            .header("X-Gitlab-Event", config.event)
            .header("X-Gitlab-Token", config.secret)
            .header("X-Gitlab-Instance", instance.trim_end_matches('/'))
            .header("X-Gitlab-Webhook-UUID", config.webhook_uuid)
            .header("X-Gitlab-Event-UUID", &event_uuid)
            .header("Idempotency-Key", &event_uuid)
            .body(body);
        let deliveries = self.deliveries.clone();
        let mut tasks = lock(&self.tasks);
        // Reap finished deliveries so the set stays small.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            let outcome = match request.send().await {
                Ok(reply) => DeliveryOutcome::Answered {
                    status: reply.status().as_u16(),
                    at: Instant::now(),
                },
                Err(e) => DeliveryOutcome::Failed {
                    error: error_chain(&e),
                    at: Instant::now(),
                },
            };
            lock(&deliveries)[id].outcome = outcome;
        });
        Some(id)
    }
}

/// The error and its causes: reqwest's own message alone does not say "connection refused".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// A random (version 4) UUID, as GitLab labels hooks and events.
pub(crate) fn uuid() -> String {
    let n = rand::random::<u128>() & !(0xf << 76) & !(0x3 << 62) | (0x4 << 76) | (0x2 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        n >> 96,
        (n >> 80) & 0xffff,
        (n >> 64) & 0xffff,
        (n >> 48) & 0xffff,
        n & 0xffff_ffff_ffff
    )
}

/// The branch head as a sha, or 40 zeros when there is no such branch.
pub(crate) async fn branch_sha(shared: &Shared, repo: &Path, branch: &str) -> String {
    shared
        .git
        .commit_sha(repo, &format!("refs/heads/{branch}"))
        .await
        .unwrap_or_else(|e| panic!("read branch {branch}: {e}"))
        .unwrap_or_else(|| ZEROS.to_owned())
}

/// GitLab's push event (`Gitlab::DataBuilder::Push`) for `branch` of `project` moving from `before` to `after`.
pub(crate) async fn push_payload(
    shared: &Shared,
    project_id: u64,
    branch: &str,
    before: &str,
    after: &str,
) -> Value {
    let (repo, default_branch, project, pusher) = {
        let w = shared.world();
        let p = &w.projects[&project_id];
        let repo = p.repo.clone().expect("a pushed project has a repository");
        let pusher = pusher(&w, project_id);
        (
            repo,
            p.default_branch.clone(),
            project(&w, project_id, &shared.base_url, true),
            pusher,
        )
    };
    // What GitLab counts as pushed: a new default branch is all its history, another new branch what the default
    // branch does not hold, an update the range; a deletion pushes nothing.
    let revs = if after == ZEROS {
        None
    } else if before != ZEROS {
        Some(vec![format!("{before}..{after}")])
    } else if branch == default_branch || branch_sha(shared, &repo, &default_branch).await == ZEROS
    {
        Some(vec![after.to_owned()])
    } else {
        Some(vec![
            after.to_owned(),
            "--not".to_owned(),
            format!("refs/heads/{default_branch}"),
        ])
    };
    let (total, commits) = match revs {
        Some(revs) => shared
            .git
            .pushed_commits(&repo, &revs, PAYLOAD_COMMITS)
            .await
            .unwrap_or_else(|e| panic!("list pushed commits: {e}")),
        None => (0, Vec::new()),
    };
    let web_url = project["web_url"].as_str().unwrap_or_default().to_owned();
    let commits: Vec<Value> = commits
        .iter()
        .map(|(c, changes)| commit_attrs(c, changes, &web_url))
        .collect();
    let project_attrs = json!({
        "id": project_id,
        "name": project["name"],
        "description": project["description"],
        "web_url": web_url,
        "avatar_url": null,
        "git_ssh_url": project["ssh_url_to_repo"],
        "git_http_url": project["http_url_to_repo"],
        "namespace": project["namespace"]["name"],
        "visibility_level": 0,
        "path_with_namespace": project["path_with_namespace"],
        "default_branch": default_branch,
        "ci_config_path": null,
        "homepage": web_url,
        "url": project["ssh_url_to_repo"],
        "ssh_url": project["ssh_url_to_repo"],
        "http_url": project["http_url_to_repo"],
    });
    let (user_id, user_name, user_username) = pusher;
    json!({
        "object_kind": "push",
        "event_name": "push",
        "before": before,
        "after": after,
        "ref": format!("refs/heads/{branch}"),
        // GitLab protects the default branch by default.
        "ref_protected": branch == default_branch,
        "checkout_sha": (after != ZEROS).then_some(after),
        "message": null,
        "user_id": user_id,
        "user_name": user_name,
        "user_username": user_username,
        "user_email": "[REDACTED]",
        "user_avatar": format!("{}uploads/-/system/user/avatar/{user_id}/avatar.png", shared.base_url),
        "project_id": project_id,
        "project": project_attrs,
        "commits": commits,
        "total_commits_count": total,
        "push_options": {},
        "repository": {
            "name": project_attrs["name"],
            "url": project_attrs["url"],
            "description": project_attrs["description"],
            "homepage": web_url,
            "git_http_url": project_attrs["git_http_url"],
            "git_ssh_url": project_attrs["git_ssh_url"],
            "visibility_level": 0,
        },
    })
}

/// The pusher: the member with the highest access to the project (the lowest id among equals).
fn pusher(w: &World, project: u64) -> (u64, String, String) {
    let (id, user) = w
        .users
        .iter()
        .filter_map(|(id, u)| w.project_access(*id, project).map(|a| (a, *id, u)))
        .max_by_key(|(access, id, _)| (*access, std::cmp::Reverse(*id)))
        .map(|(_, id, u)| (id, u))
        .unwrap_or_else(|| panic!("no user of the world can push to project {project}"));
    (id, user.name.clone(), user.username.clone())
}

/// Ruby's `xmlschema` of the committer date with the commit's own offset: git's strict ISO date, except that GitLab
/// writes UTC as `+00:00` where newer git writes `Z`.
fn timestamp(git_iso: &str) -> String {
    git_iso
        .strip_suffix('Z')
        .map_or_else(|| git_iso.to_owned(), |head| format!("{head}+00:00"))
}

/// `Commit#hook_attrs(with_changed_files: true)`.
fn commit_attrs(c: &RawCommit, changes: &Changes, web_url: &str) -> Value {
    json!({
        "id": c.id,
        "title": commit_title(&c.message),
        "message": c.message,
        "timestamp": timestamp(&c.committer_date),
        "url": format!("{web_url}/-/commit/{}", c.id),
        "author": { "name": c.author_name, "email": c.author_email },
        "added": changes.added,
        "modified": changes.modified,
        "removed": changes.removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4() {
        let id = uuid();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'), "{id}");
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(uuid(), id);
    }
}
