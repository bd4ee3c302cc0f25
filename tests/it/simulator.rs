//! The GitLab simulator over real HTTP: it must behave like GitLab exactly where importers break
//! (pagination edges, revision ranges, error bodies, rate limits, faults), with git as the oracle.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use testkit::api_front::ApiFront;
use testkit::git_fixture::{CommitSpec, GitRepo};
use testkit::gitlab_sim::{
    DeliveryOutcome, Fault, FaultMix, Membership, Namespace, ProjectSpec, RateLimit, Simulator,
    TokenSpec, World, access, routes,
};

const TOKEN: &str = "glpat-simulator-test-0001";

/// A user with a read_api token, developer in group `acme`, which holds project `app` on `repo`.
fn world_with(repo: Option<&GitRepo>) -> (World, u64, u64) {
    let one = World::one_project(TOKEN, repo.map(GitRepo::path));
    (one.world, one.user, one.project)
}

async fn start(repo: &GitRepo) -> (Simulator, u64) {
    let (w, _, app) = world_with(Some(repo));
    (Simulator::start(w).await.expect("start simulator"), app)
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
    }

    fn ids(&self) -> Vec<String> {
        self.body
            .as_array()
            .expect("array")
            .iter()
            .map(|c| c["id"].as_str().expect("id").to_owned())
            .collect()
    }

    fn project_paths(&self) -> BTreeSet<String> {
        self.body
            .as_array()
            .expect("array")
            .iter()
            .map(|p| p["path_with_namespace"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// `GET /api/v4/<path>` with `token` (if any); bodies that are not JSON come back as a string.
async fn get_as(sim: &Simulator, token: Option<&str>, path: &str) -> Reply {
    let mut req = reqwest::Client::new().get(format!("{}/{path}", sim.api_url()));
    if let Some(t) = token {
        req = req.header("PRIVATE-TOKEN", t);
    }
    let resp = req.send().await.expect("request");
    let (status, headers) = (resp.status(), resp.headers().clone());
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(sim: &Simulator, path: &str) -> Reply {
    get_as(sim, Some(TOKEN), path).await
}

/// Each `GET /api/v4/<path>` of `expected` answers its status with its body.
async fn assert_replies(sim: &Simulator, expected: &[(String, u16, Value)]) {
    for (path, status, body) in expected {
        let reply = get(sim, path).await;
        assert_eq!(
            (reply.status.as_u16(), &reply.body),
            (*status, body),
            "{path}"
        );
    }
}

/// GitLab's error body `{"message": text}`.
fn message(text: &str) -> Value {
    json!({ "message": text })
}

/// Follows `X-Next-Page` from page 1 and returns every commit id plus the number of requests.
async fn all_commits(sim: &Simulator, project: u64, query: &str) -> (Vec<String>, usize) {
    let (mut ids, mut page, mut requests) = (Vec::new(), 1, 0);
    loop {
        let r = get(
            sim,
            &format!("projects/{project}/repository/commits?{query}&page={page}"),
        )
        .await;
        requests += 1;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert!(
            r.header("x-total").is_none() && r.header("x-total-pages").is_none(),
            "commits never carry totals"
        );
        ids.extend(r.ids());
        match r.header("x-next-page") {
            Some("") | None => return (ids, requests),
            Some(next) => page = next.parse().expect("page number"),
        }
    }
}

/// Whether an error was caused by a TCP reset (ECONNRESET) somewhere down its source chain.
fn is_connection_reset(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

#[tokio::test]
async fn an_exact_multiple_of_per_page_ends_with_an_empty_page() {
    let repo = GitRepo::with_history(200, None);
    let (sim, app) = start(&repo).await;

    let first = get(
        &sim,
        &format!("projects/{app}/repository/commits?per_page=100"),
    )
    .await;
    assert_eq!(first.ids().len(), 100);
    assert_eq!(
        (first.header("x-page"), first.header("x-per-page")),
        (Some("1"), Some("100"))
    );
    assert_eq!(
        (first.header("x-next-page"), first.header("x-prev-page")),
        (Some("2"), Some(""))
    );
    let link = first.header("link").expect("Link");
    assert!(
        link.contains(&format!(
            "<{}/projects/{app}/repository/commits?page=2&per_page=100>; rel=\"next\"",
            sim.api_url()
        )),
        "{link}"
    );
    assert!(
        link.contains("rel=\"first\"") && !link.contains("rel=\"last\""),
        "{link}"
    );

    let second = get(
        &sim,
        &format!("projects/{app}/repository/commits?per_page=100&page=2"),
    )
    .await;
    assert_eq!(second.ids().len(), 100);
    assert_eq!(
        second.header("x-next-page"),
        Some("3"),
        "a full page always advertises a next one"
    );

    let third = get(
        &sim,
        &format!("projects/{app}/repository/commits?per_page=100&page=3"),
    )
    .await;
    assert_eq!(third.status, StatusCode::OK);
    assert_eq!(third.body, json!([]));
    assert_eq!(
        (third.header("x-next-page"), third.header("x-prev-page")),
        (Some(""), Some("2"))
    );
    assert!(
        !third
            .header("link")
            .unwrap_or_default()
            .contains("rel=\"next\"")
    );

    let (ids, requests) = all_commits(&sim, app, "per_page=100").await;
    assert_eq!(ids, repo.rev_list(&["main"]));
    assert_eq!(requests, 3);
    // per_page above 100 is clamped, absent is 20.
    assert_eq!(
        get(
            &sim,
            &format!("projects/{app}/repository/commits?per_page=500")
        )
        .await
        .header("x-per-page"),
        Some("100")
    );
    assert_eq!(
        get(&sim, &format!("projects/{app}/repository/commits"))
            .await
            .ids()
            .len(),
        20
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn deep_paging_equals_git_in_every_order_and_follows_pushes() {
    let repo = GitRepo::with_history(2_500, Some(7));
    let (sim, app) = start(&repo).await;

    // Deep pages come from the cached walk; the order must still be git's own.
    for (query, oracle) in [
        ("per_page=100", vec!["main"]),
        ("per_page=100&order=topo", vec!["--topo-order", "main"]),
        (
            "per_page=100&first_parent=true",
            vec!["--first-parent", "main"],
        ),
    ] {
        let (ids, _) = all_commits(&sim, app, query).await;
        assert_eq!(ids, repo.rev_list(&oracle), "{query}");
    }

    // A push changes the resolved head, so the cache cannot serve a stale page.
    let before = get(
        &sim,
        &format!("projects/{app}/repository/commits?per_page=100&page=15"),
    )
    .await
    .ids();
    repo.commit(CommitSpec::new("pushed later", 1_700_000_000));
    let after = get(
        &sim,
        &format!("projects/{app}/repository/commits?per_page=100&page=15"),
    )
    .await
    .ids();
    assert_eq!(after, repo.rev_list(&["main"])[1400..1500]);
    assert_ne!(before, after);
    sim.shutdown().await;
}

#[tokio::test]
async fn ranges_continuations_and_filters_match_rev_list() {
    let repo = GitRepo::with_history(300, Some(5));
    let (sim, app) = start(&repo).await;
    let spine = repo.rev_list(&["--first-parent", "main"]);
    let (tip, old) = (&spine[0], &spine[60]);

    for range in [
        format!("{old}..{tip}"),
        format!("{old}...{tip}"),
        format!("{}..main", &spine[10][..12]),
    ] {
        let (ids, _) = all_commits(&sim, app, &format!("per_page=100&ref_name={range}")).await;
        assert_eq!(ids, repo.rev_list(&[&range]), "{range}");
    }

    // The importer's spine walk: first_parent pages continued by ref_name=<last sha>, no offsets.
    let mut walked = Vec::new();
    let mut next = tip.clone();
    loop {
        let r = get(
            &sim,
            &format!(
                "projects/{app}/repository/commits?first_parent=true&per_page=7&ref_name={next}"
            ),
        )
        .await;
        let ids = r.ids();
        let fresh: Vec<String> = ids
            .iter()
            .skip(usize::from(!walked.is_empty()))
            .cloned()
            .collect();
        walked.extend(fresh);
        if ids.len() < 7 {
            break;
        }
        next = ids.last().unwrap().clone();
    }
    assert_eq!(walked, spine);

    let path_ids = all_commits(&sim, app, "per_page=100&path=src/f3.txt")
        .await
        .0;
    assert_eq!(path_ids, repo.rev_list(&["main", "--", "src/f3.txt"]));
    let (since, until) = ("2020-09-13T14:00:00Z", "2020-09-13T15:00:00%2B00:00");
    let dated = all_commits(
        &sim,
        app,
        &format!("per_page=100&since={since}&until={until}"),
    )
    .await
    .0;
    assert_eq!(
        dated,
        repo.rev_list(&[
            "--since=2020-09-13T14:00:00Z",
            "--until=2020-09-13T15:00:00Z",
            "main"
        ])
    );
    assert!(!dated.is_empty());
    let by_author = all_commits(&sim, app, "per_page=100&author=dev3@").await.0;
    assert_eq!(by_author, repo.rev_list(&["--author=dev3@", "main"]));

    // Unknown refs are an empty list, not a 404.
    let unknown = get(
        &sim,
        &format!("projects/{app}/repository/commits?ref_name=no-such-branch"),
    )
    .await;
    assert_eq!((unknown.status, unknown.body), (StatusCode::OK, json!([])));
    sim.shutdown().await;
}

#[tokio::test]
async fn commit_entities_carry_dates_trailers_and_stats() {
    let repo = GitRepo::init("main");
    let root = repo.commit(CommitSpec::new("Root", 1_632_120_000).file("a.txt", "1\n2\n3\n"));
    let message = "Add feature\n\nBody text.\n\nCo-authored-by: Ann <ann@example.com>\nCo-authored-by: Bob <bob@example.com>\nSigned-off-by: Cy <cy@example.com>\n";
    let sha = repo.commit(
        CommitSpec::new(message, 1_632_127_822)
            .author("Ann", "ann@example.com")
            .author_date(1_632_127_000)
            .tz("+0300")
            .file("a.txt", "1\nX\n3\n")
            .file("blob.bin", "\0\u{1}\u{2}binary"),
    );
    let (sim, app) = start(&repo).await;

    let plain = get(
        &sim,
        &format!("projects/{app}/repository/commits?ref_name={sha}&per_page=1"),
    )
    .await;
    let c = &plain.body[0];
    assert_eq!(c["id"], json!(sha));
    assert_eq!(c["short_id"], json!(sha[..8]));
    assert_eq!(c["title"], json!("Add feature"));
    assert_eq!(c["message"], json!(message));
    assert_eq!(c["parent_ids"], json!([root]));
    assert_eq!(c["committed_date"], json!("2021-09-20T11:50:22.000+03:00"));
    assert_eq!(c["created_at"], c["committed_date"]);
    assert_eq!(c["authored_date"], json!("2021-09-20T11:36:40.000+03:00"));
    assert_eq!(
        (c["author_name"].as_str(), c["committer_name"].as_str()),
        (Some("Ann"), Some("Test Author"))
    );
    assert_eq!(
        c["web_url"],
        json!(format!("{}acme/app/-/commit/{sha}", sim.base_url()))
    );
    assert_eq!(
        (&c["trailers"], &c["extended_trailers"]),
        (&json!({}), &json!({}))
    );
    assert!(c.get("stats").is_none());

    let full = get(
        &sim,
        &format!("projects/{app}/repository/commits?trailers=true&with_stats=true"),
    )
    .await;
    let c = &full.body[0];
    assert_eq!(
        c["trailers"],
        json!({"Co-authored-by": "Bob <bob@example.com>", "Signed-off-by": "Cy <cy@example.com>"})
    );
    assert_eq!(
        c["extended_trailers"],
        json!({"Co-authored-by": ["Ann <ann@example.com>", "Bob <bob@example.com>"], "Signed-off-by": ["Cy <cy@example.com>"]})
    );
    // One line changed in a.txt; the binary file counts zero.
    assert_eq!(
        c["stats"],
        json!({"additions": 1, "deletions": 1, "total": 2})
    );
    // The root commit is compared with the empty tree; UTC keeps an explicit offset.
    assert_eq!(
        full.body[1]["stats"],
        json!({"additions": 3, "deletions": 0, "total": 3})
    );
    assert_eq!(
        full.body[1]["committed_date"],
        json!("2021-09-20T06:40:00.000+00:00")
    );

    // A merge is measured against its first parent.
    repo.checkout_new("topic", &root);
    repo.commit(CommitSpec::new("Topic", 1_632_130_000).file("b.txt", "b\nb\n"));
    repo.checkout("main");
    let merge = repo.merge("topic", "Merge topic", 1_632_140_000);
    let merged = get(
        &sim,
        &format!("projects/{app}/repository/commits?with_stats=true&per_page=1"),
    )
    .await;
    assert_eq!(merged.body[0]["id"], json!(merge));
    assert_eq!(
        merged.body[0]["stats"],
        json!({"additions": 2, "deletions": 0, "total": 2})
    );
    assert_eq!(
        merged.body[0]["parent_ids"].as_array().map(Vec::len),
        Some(2)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn branches_and_merge_bases_answer_like_gitlab() {
    let repo = GitRepo::init("main");
    let root = repo.commit(CommitSpec::new("Root", 1_600_000_000));
    let main_tip = repo.commit(CommitSpec::new("Main work", 1_600_000_100));
    repo.checkout_new("feature/x", &root);
    let feature_tip = repo.commit(CommitSpec::new("Feature work", 1_600_000_200));
    repo.orphan("unrelated");
    let lonely = repo.commit(CommitSpec::new("Second root", 1_600_000_300));
    repo.checkout("main");
    let (sim, app) = start(&repo).await;

    let main = get(&sim, &format!("projects/{app}/repository/branches/main")).await;
    assert_eq!(main.status, StatusCode::OK);
    assert_eq!(main.body["commit"]["id"], json!(main_tip));
    assert_eq!(
        (main.body["default"].clone(), main.body["protected"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(main.body["merged"], json!(false));
    let feature = get(
        &sim,
        &format!("projects/{app}/repository/branches/feature%2Fx"),
    )
    .await;
    assert_eq!(
        (
            feature.body["name"].clone(),
            feature.body["commit"]["id"].clone()
        ),
        (json!("feature/x"), json!(feature_tip))
    );
    assert_eq!(feature.body["default"], json!(false));
    let base = get(
        &sim,
        &format!("projects/{app}/repository/merge_base?refs[]=main&refs[]=feature%2Fx"),
    )
    .await;
    assert_eq!(base.body["id"], json!(root));
    let merge_base = |refs: &str| format!("projects/{app}/repository/merge_base?{refs}");
    let branch = format!("projects/{app}/repository/branches/nope");
    let (one, ghost) = (
        merge_base("refs[]=main"),
        merge_base("refs[]=main&refs[]=ghost"),
    );
    let unrelated = merge_base(&format!("refs[]=main&refs[]={lonely}"));
    assert_replies(
        &sim,
        &[
            (branch, 404, message("404 Branch Not Found")),
            (one, 400, message("Provide at least 2 refs")),
            (ghost, 400, message("Could not find ref: ghost")),
            (unrelated, 404, message("404 Merge Base Not Found")),
        ],
    )
    .await;

    // The default branch renamed at runtime: no ref_name follows the project's default branch.
    repo.rename_branch("main", "trunk");
    sim.with_world(|w| w.project_mut(app).default_branch = "trunk".to_owned());
    let trunk = get(&sim, &format!("projects/{app}/repository/commits")).await;
    assert_eq!(trunk.ids(), repo.rev_list(&["trunk"]));
    let project = get(&sim, &format!("projects/{app}")).await;
    assert_eq!(project.body["default_branch"], json!("trunk"));
    let gone = get(&sim, &format!("projects/{app}/repository/branches/main")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    sim.shutdown().await;
}

#[tokio::test]
async fn authentication_errors_have_gitlabs_bodies() {
    let repo = GitRepo::with_history(3, None);
    let (mut w, user, app) = world_with(Some(&repo));
    let yesterday = time::OffsetDateTime::now_utc().date() - time::Duration::days(1);
    w.add_token(TokenSpec::new("expired", user, &["api"]).with_expiry(yesterday));
    w.add_token(
        TokenSpec::new("today", user, &["api"]).with_expiry(time::OffsetDateTime::now_utc().date()),
    );
    let revoked = w.add_token(TokenSpec::new("revoked", user, &["api"]));
    w.token_mut(revoked).revoked = true;
    let inactive = w.add_token(TokenSpec::new("inactive", user, &["api"]));
    w.token_mut(inactive).active = false;
    w.add_token(TokenSpec::new("repo-only", user, &["read_repository"]).with_name("ci"));
    let sim = Simulator::start(w).await.unwrap();
    let path = format!("projects/{app}/repository/commits");

    let unauthorized = json!({"message": "401 Unauthorized"});
    for token in [None, Some("nope"), Some("inactive")] {
        let r = get_as(&sim, token, &path).await;
        assert_eq!(
            (r.status, &r.body),
            (StatusCode::UNAUTHORIZED, &unauthorized),
            "{token:?}"
        );
    }
    let expired = get_as(&sim, Some("expired"), &path).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        expired.body,
        json!({"error": "invalid_token", "error_description": "Token has expired."})
    );
    let self_expired = get_as(&sim, Some("expired"), "personal_access_tokens/self").await;
    assert_eq!(self_expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get_as(&sim, Some("today"), &path).await.status,
        StatusCode::OK,
        "valid through its expiry date"
    );
    let revoked = get_as(&sim, Some("revoked"), &path).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        revoked.body,
        json!({"error": "invalid_token", "error_description": "Token was revoked. You have to re-authorize from the user."})
    );

    let scope = get_as(&sim, Some("repo-only"), &path).await;
    assert_eq!(scope.status, StatusCode::FORBIDDEN);
    assert_eq!(
        scope.body,
        json!({"error": "insufficient_scope",
               "error_description": "The request requires higher privileges than provided by the access token.",
               "scope": "api read_api"})
    );
    // Any scope may read itself: that is how importers learn a token's scopes.
    let me = get_as(&sim, Some("repo-only"), "personal_access_tokens/self").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        (me.body["name"].clone(), me.body["scopes"].clone()),
        (json!("ci"), json!(["read_repository"]))
    );
    assert_eq!(
        (me.body["active"].clone(), me.body["revoked"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(me.body["user_id"], json!(user));
    assert!(me.body["last_used_at"].is_string() && me.body["expires_at"].is_null());
    let today = get_as(&sim, Some("today"), "personal_access_tokens/self").await;
    assert_eq!(
        today.body["expires_at"],
        json!(time::OffsetDateTime::now_utc().date().to_string())
    );

    // Bearer works like PRIVATE-TOKEN; revoking at runtime takes effect at once.
    let bearer = reqwest::Client::new()
        .get(format!("{}/user", sim.api_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let bearer: Value = bearer.json().await.unwrap();
    assert_eq!(
        (bearer["username"].clone(), bearer["state"].clone()),
        (json!("importer"), json!("active"))
    );
    sim.with_world(|w| w.token_mut(1).revoked = true);
    assert_eq!(get(&sim, "user").await.status, StatusCode::UNAUTHORIZED);
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_things_and_bad_input_have_gitlabs_bodies() {
    let repo = GitRepo::with_history(3, None);
    let empty = GitRepo::init("main");
    let (mut w, _, app) = world_with(Some(&repo));
    let acme = 1;
    let no_repo = w.add_project(ProjectSpec::in_group(acme, "wiki-only", None));
    let disabled = w.add_project(ProjectSpec::in_group(acme, "issues", Some(repo.path())));
    w.project_mut(disabled).repository_enabled = false;
    let fresh = w.add_project(ProjectSpec::in_group(acme, "fresh", Some(empty.path())));
    let stranger = w.add_user("stranger");
    let private = w.add_group("private", None);
    w.add_member(stranger, Membership::Group(private), access::OWNER);
    let hidden = w.add_project(ProjectSpec::in_group(private, "secret", Some(repo.path())));
    let bare_dir = tempfile::tempdir().unwrap();
    let bare_path = bare_dir.path().join("app.git");
    repo.git(&["clone", "-q", "--bare", ".", bare_path.to_str().unwrap()]);
    let mirror = ProjectSpec::in_group(acme, "mirror", Some(&bare_path));
    let bare_project = w.add_project(mirror);
    let sim = Simulator::start(w).await.unwrap();

    let mut expected = Vec::new();
    for id in [
        hidden.to_string(),
        "999".to_owned(),
        "private%2Fsecret".to_owned(),
    ] {
        let project_404 = message("404 Project Not Found");
        let (project, commits) = (
            format!("projects/{id}"),
            format!("projects/{id}/repository/commits"),
        );
        expected.push((project, 404, project_404.clone()));
        expected.push((commits, 404, project_404));
    }
    let repository = |id: u64, route: &str| format!("projects/{id}/repository/{route}");
    let (group_404, no_repo_404) = (
        message("404 Group Not Found"),
        message("404 Repository Not Found"),
    );
    let forbidden = message("403 Forbidden");
    expected.extend([
        ("groups/private".to_owned(), 404, group_404),
        (repository(no_repo, "commits"), 404, no_repo_404.clone()),
        (repository(no_repo, "branches/main"), 404, no_repo_404),
        (repository(disabled, "commits"), 403, forbidden),
    ]);
    assert_replies(&sim, &expected).await;
    let bare = get(&sim, &format!("projects/{bare_project}/repository/commits")).await;
    assert_eq!(
        bare.ids(),
        repo.rev_list(&["main"]),
        "a bare repository serves the same"
    );

    // An empty repository: `[]`, `empty_repo`, and still a default branch.
    let r = get(&sim, &format!("projects/{fresh}/repository/commits")).await;
    assert_eq!((r.status, r.body), (StatusCode::OK, json!([])));
    let p = get(&sim, &format!("projects/{fresh}")).await.body;
    assert_eq!(
        (p["empty_repo"].clone(), p["default_branch"].clone()),
        (json!(true), json!("main"))
    );
    assert_eq!(
        get(&sim, &format!("projects/{app}")).await.body["empty_repo"],
        json!(false)
    );
    assert_eq!(
        get(&sim, &format!("projects/{no_repo}")).await.body["empty_repo"],
        json!(true)
    );

    let commits = format!("projects/{app}/repository/commits");
    let mut expected: Vec<_> = ["-all", "main%20x", "a:b", "a%5Cb"]
        .iter()
        .map(|bad| {
            let path = format!("{commits}?ref_name={bad}");
            (path, 400, json!({"error": "ref_name is invalid"}))
        })
        .collect();
    let maybe = format!("{commits}?first_parent=maybe");
    expected.push((maybe, 400, json!({"error": "first_parent is invalid"})));
    let tags = "projects/1/repository/tags".to_owned();
    expected.push((tags, 404, json!({"error": "404 Not Found"})));
    assert_replies(&sim, &expected).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn group_projects_cover_subgroups_shares_and_archives() {
    let repo = GitRepo::with_history(2, None);
    let r = Some(repo.path());
    let mut w = World::new();
    let dev = w.add_user("dev");
    w.add_token(TokenSpec::new(TOKEN, dev, &["read_api"]));
    let sub_only = w.add_user("sub-only");
    w.add_token(TokenSpec::new("sub-only-token", sub_only, &["api"]));
    let a = w.add_group("a", None);
    let b = w.add_group("b", Some(a));
    let c = w.add_group("c", Some(b));
    let ext = w.add_group("ext", None);
    w.add_group("elsewhere", None);
    w.add_member(dev, Membership::Group(a), access::DEVELOPER);
    w.add_member(sub_only, Membership::Group(c), access::MAINTAINER);
    for (g, name) in [(a, "a1"), (a, "a2"), (b, "b1"), (c, "c1"), (c, "c2")] {
        w.add_project(ProjectSpec::new(Namespace::Group(g), name, r, "main"));
    }
    w.add_project(ProjectSpec::in_group(c, "old", r).archived());
    let lib = w.add_project(ProjectSpec::in_group(ext, "lib", r));
    w.share_project(lib, b, access::REPORTER);
    let sim = Simulator::start(w).await.unwrap();
    let set = |paths: &[&str]| {
        paths
            .iter()
            .map(|p| (*p).to_owned())
            .collect::<BTreeSet<_>>()
    };

    let direct = get(&sim, "groups/a/projects").await;
    assert_eq!(direct.project_paths(), set(&["a/a1", "a/a2"]));
    let all = get(&sim, &format!("groups/{a}/projects?include_subgroups=true")).await;
    assert_eq!(
        all.project_paths(),
        set(&[
            "a/a1",
            "a/a2",
            "a/b/b1",
            "a/b/c/c1",
            "a/b/c/c2",
            "a/b/c/old",
            "ext/lib"
        ])
    );
    assert_eq!(all.header("x-total"), Some("7"));
    let unshared = get(
        &sim,
        "groups/a/projects?include_subgroups=true&with_shared=false",
    )
    .await;
    assert!(!unshared.project_paths().contains("ext/lib"));
    let shared_into_b = get(&sim, "groups/a%2Fb/projects").await;
    assert_eq!(shared_into_b.project_paths(), set(&["a/b/b1", "ext/lib"]));
    let active = get(
        &sim,
        "groups/a/projects?include_subgroups=true&archived=false",
    )
    .await;
    assert!(!active.project_paths().contains("a/b/c/old") && active.project_paths().len() == 6);
    let archived = get(
        &sim,
        "groups/a/projects?include_subgroups=true&archived=true",
    )
    .await;
    assert_eq!(archived.project_paths(), set(&["a/b/c/old"]));
    assert_eq!(archived.body[0]["archived"], json!(true));
    let simple = get(&sim, "groups/a/projects?simple=true").await;
    assert!(simple.body[0].get("empty_repo").is_none() && simple.body[0].get("archived").is_none());
    assert!(
        direct.body[0]["empty_repo"].is_boolean()
            && direct.body[0]["namespace"]["kind"] == json!("group")
    );
    // Default order is newest first, deterministic.
    let ids: Vec<u64> = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");

    // Paging through Link rel="next" until it is gone collects everything exactly once.
    let mut url = format!(
        "{}/groups/a/projects?include_subgroups=true&per_page=3",
        sim.api_url()
    );
    let (mut seen, mut pages) = (Vec::new(), 0);
    loop {
        let resp = reqwest::Client::new()
            .get(&url)
            .header("PRIVATE-TOKEN", TOKEN)
            .send()
            .await
            .unwrap();
        let link = resp.headers()["link"].to_str().unwrap().to_owned();
        assert_eq!(resp.headers()["x-total-pages"], "3");
        assert!(link.contains("rel=\"last\""), "{link}");
        let page: Vec<Value> = resp.json().await.unwrap();
        seen.extend(page.iter().map(|p| p["id"].as_u64().unwrap()));
        pages += 1;
        let next = link.split(", ").find(|l| l.ends_with("rel=\"next\""));
        match next {
            Some(n) => url = n[1..n.find('>').unwrap()].to_owned(),
            None => break,
        }
    }
    assert_eq!((pages, seen), (3, ids));

    // Groups: members see their subgroups and, from a subgroup, the ancestors.
    let groups = |r: &Reply| {
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["full_path"].as_str().unwrap().to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        groups(&get(&sim, "groups").await),
        set(&["a", "a/b", "a/b/c"])
    );
    assert_eq!(
        groups(&get(&sim, "groups?top_level_only=true").await),
        set(&["a"])
    );
    assert_eq!(
        groups(&get(&sim, "groups?min_access_level=40").await),
        set(&[])
    );
    let sub = get_as(&sim, Some("sub-only-token"), "groups").await;
    assert_eq!(groups(&sub), set(&["a", "a/b", "a/b/c"]));
    let sub_min = get_as(&sim, Some("sub-only-token"), "groups?min_access_level=30").await;
    assert_eq!(groups(&sub_min), set(&["a/b/c"]));
    let g = get(&sim, "groups/a%2Fb").await.body;
    assert_eq!(
        (
            g["full_path"].clone(),
            g["parent_id"].clone(),
            g["full_name"].clone()
        ),
        (json!("a/b"), json!(a), json!("a / b"))
    );
    assert_eq!(
        get(&sim, "groups/ext").await.status,
        StatusCode::OK,
        "readable through the shared project"
    );

    // /projects: membership through groups and shares; the share caps access at Reporter.
    let mine = get(&sim, "projects?membership=true").await;
    assert_eq!(mine.project_paths().len(), 7);
    let dev_level = get(&sim, "projects?membership=true&min_access_level=30").await;
    assert!(!dev_level.project_paths().contains("ext/lib") && dev_level.project_paths().len() == 6);
    let p = get(&sim, "projects/a%2Fb%2Fc%2Fc1").await.body;
    assert_eq!(
        (
            p["path_with_namespace"].clone(),
            p["name_with_namespace"].clone()
        ),
        (json!("a/b/c/c1"), json!("a / b / c / c1"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn totals_disappear_above_ten_thousand_records() {
    let mut w = World::new();
    let user = w.add_user("big");
    w.add_token(TokenSpec::new(TOKEN, user, &["api"]));
    let g = w.add_group("big", None);
    w.add_member(user, Membership::Group(g), access::DEVELOPER);
    for i in 0..10_001 {
        w.add_project(ProjectSpec::new(
            Namespace::Group(g),
            &format!("p{i}"),
            None,
            "main",
        ));
    }
    let sim = Simulator::start(w).await.unwrap();
    let r = get(&sim, "groups/big/projects?per_page=100&simple=true").await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(100));
    assert!(r.header("x-total").is_none() && r.header("x-total-pages").is_none());
    assert_eq!(r.header("x-next-page"), Some("2"));
    assert!(!r.header("link").unwrap().contains("rel=\"last\""));
    sim.with_world(|w| w.remove_project(10_001));
    let r = get(&sim, "groups/big/projects?per_page=100&simple=true").await;
    assert_eq!(
        (r.header("x-total"), r.header("x-total-pages")),
        (Some("10000"), Some("100"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn injected_faults_break_requests_the_way_networks_do() {
    let repo = GitRepo::with_history(30, None);
    let (sim, app) = start(&repo).await;
    let commits = format!("projects/{app}/repository/commits?per_page=100");
    let client = reqwest::Client::new();
    let url = format!("{}/{commits}", sim.api_url());

    sim.fail_next(routes::COMMITS, 1, Fault::ServerError(502));
    let r = get(&sim, &commits).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_GATEWAY,
            json!({"message": "502 Bad Gateway"})
        )
    );

    sim.fail_next(
        "*",
        1,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    );
    let r = get(&sim, &commits).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.body, json!("Retry later\n"));
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(
        r.header("ratelimit-name"),
        Some("throttle_authenticated_api")
    );
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    assert!(r.header("ratelimit-limit").is_some() && r.header("ratelimit-observed").is_some());
    assert!(r.header("ratelimit-reset").unwrap().parse::<u64>().is_ok());
    assert!(r.header("ratelimit-resettime").unwrap().ends_with(" GMT"));

    sim.fail_next(routes::COMMITS, 1, Fault::Reset);
    let reset = client.get(&url).header("PRIVATE-TOKEN", TOKEN).send().await;
    let err = reset.expect_err("a reset connection is an error, not a reply");
    assert!(
        is_connection_reset(&err),
        "an RST, not a clean close: {err:?}"
    );

    sim.fail_next(routes::COMMITS, 1, Fault::Truncated);
    // The headers (with the full Content-Length) arrive; the body stops halfway.
    let resp = client
        .get(&url)
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(resp.status(), StatusCode::OK);
    let truncated = resp.bytes().await;
    assert!(
        truncated.is_err(),
        "a truncated body must fail, not come back short: {truncated:?}"
    );

    sim.fail_next(
        routes::COMMITS,
        1,
        Fault::Latency(Duration::from_millis(300)),
    );
    let t = Instant::now();
    assert_eq!(get(&sim, &commits).await.status, StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(300));
    sim.set_latency(Duration::from_millis(150));
    let t = Instant::now();
    assert_eq!(get(&sim, "user").await.status, StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(150));
    sim.set_latency(Duration::ZERO);

    // The faults are used up: everything is back to normal, and every attempt was counted.
    let ok = get(&sim, &commits).await;
    assert_eq!(
        (ok.status, ok.ids()),
        (StatusCode::OK, repo.rev_list(&["main"]))
    );
    assert_eq!(sim.request_count(routes::COMMITS), 6);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_seeded_fault_mix_is_reproducible() {
    let repo = GitRepo::with_history(2, None);
    let mix = FaultMix {
        server_error: 0.3,
        rate_limited: 0.2,
        reset: 0.0,
        truncated: 0.0,
        seed: 42,
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (sim, _) = start(&repo).await;
        sim.set_fault_mix(mix);
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(get(&sim, "user").await.status.as_u16());
        }
        sim.set_fault_mix(FaultMix::none());
        assert_eq!(get(&sim, "user").await.status, StatusCode::OK);
        sim.shutdown().await;
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    let kinds: BTreeSet<u16> = runs[0].iter().map(|s| s / 100 * 100).collect();
    assert_eq!(kinds, BTreeSet::from([200, 400, 500]), "{:?}", runs[0]);
}

#[tokio::test]
async fn the_rate_limiter_counts_per_user_in_fixed_windows() {
    let repo = GitRepo::with_history(2, None);
    let (mut w, _, _) = world_with(Some(&repo));
    let other = w.add_user("other");
    w.add_token(TokenSpec::new("other-token", other, &["read_api"]));
    let sim = Simulator::start(w).await.unwrap();
    // An hour-long window cannot roll over during the test.
    sim.set_rate_limit(Some(RateLimit::new(3, Duration::from_secs(3600))));

    for remaining in ["2", "1", "0"] {
        let r = get(&sim, "user").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            (r.header("ratelimit-limit"), r.header("ratelimit-remaining")),
            (Some("3"), Some(remaining))
        );
        assert_eq!(
            r.header("ratelimit-name"),
            Some("throttle_authenticated_api")
        );
    }
    let limited = get(&sim, "projects").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body, json!("Retry later\n"));
    assert_eq!(limited.header("ratelimit-observed"), Some("4"));
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    let reset: u64 = limited.header("ratelimit-reset").unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(reset >= now && reset <= now + 3601, "{reset} vs {now}");
    // Limits are per user, and the limiter can be switched off.
    assert_eq!(
        get_as(&sim, Some("other-token"), "user").await.status,
        StatusCode::OK
    );
    sim.set_rate_limit(None);
    let free = get(&sim, "user").await;
    assert_eq!(free.status, StatusCode::OK);
    assert!(free.header("ratelimit-limit").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_are_counted_per_route() {
    let repo = GitRepo::with_history(2, None);
    let (sim, app) = start(&repo).await;
    get(&sim, "personal_access_tokens/self").await;
    get(&sim, "groups").await;
    get(&sim, "groups/acme").await;
    get(&sim, "groups/acme/projects").await;
    get(&sim, "projects").await;
    get(&sim, &format!("projects/{app}")).await;
    get(&sim, &format!("projects/{app}/repository/branches/main")).await;
    get(
        &sim,
        &format!("projects/{app}/repository/merge_base?refs[]=main&refs[]=main"),
    )
    .await;
    sim.fail_next(routes::COMMITS, 1, Fault::ServerError(500));
    for _ in 0..2 {
        get(&sim, &format!("projects/{app}/repository/commits")).await;
    }
    get_as(&sim, None, "user").await;

    let mut expected: BTreeMap<String, u64> =
        routes::ALL.iter().map(|r| ((*r).to_owned(), 1)).collect();
    expected.insert(routes::COMMITS.to_owned(), 2);
    assert_eq!(sim.request_counts(), expected);
    assert_eq!(sim.total_requests(), 11);
    assert_eq!(sim.request_count("*"), 11);

    // The admin routes answer without auth and are not counted.
    let stats: Value = reqwest::get(format!("{}-/sim/stats", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            stats["total"].clone(),
            stats["routes"][routes::COMMITS].clone()
        ),
        (json!(11), json!(2))
    );
    sim.reset_counts();
    assert_eq!(
        (sim.total_requests(), sim.request_count(routes::USER)),
        (0, 0)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_and_drop_release_the_port() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // An established connection is ours alone (unlike the port number, which another test may bind as soon as
    // it is free): when the server is gone, its end of that connection is closed.
    async fn open_connection(sim: &Simulator) -> tokio::net::TcpStream {
        let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
        stream
            .write_all(b"GET /api/v4/user HTTP/1.1\r\nhost: x\r\nprivate-token: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0_u8; 12];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 401");
        stream
    }
    async fn assert_closed(mut stream: tokio::net::TcpStream) {
        let mut rest = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(
            matches!(read, Ok(Ok(_)) | Ok(Err(_))),
            "the server side of a kept-alive connection must close"
        );
    }

    let repo = GitRepo::init("main");
    let (sim, _) = start(&repo).await;
    let kept_alive = open_connection(&sim).await;
    tokio::time::timeout(Duration::from_secs(5), sim.shutdown())
        .await
        .expect("shutdown finishes without waiting for the client to hang up");
    assert_closed(kept_alive).await;

    let (sim, _) = start(&repo).await;
    let kept_alive = open_connection(&sim).await;
    drop(sim);
    assert_closed(kept_alive).await;
}

#[tokio::test]
async fn hostile_answers_are_what_they_claim_to_be() {
    use testkit::gitlab_sim::Hostile;
    let repo = GitRepo::with_history(5, None);
    let (sim, app) = start(&repo).await;
    let commits = format!("projects/{app}/repository/commits?per_page=100");
    let url = format!("{}/{commits}", sim.api_url());
    // No automatic decompression: the wire form is what is checked.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();

    // A gzip bomb: small on the wire, `inflated` bytes of a JSON array once decoded.
    let inflated = 8 << 20;
    sim.fail_next(
        routes::COMMITS,
        1,
        Fault::Hostile(Hostile::GzipBomb { inflated }),
    );
    let resp = raw
        .get(&url)
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let wire = resp.bytes().await.unwrap();
    assert!(wire.len() < 64 << 10, "{} bytes on the wire", wire.len());
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&wire[..]), &mut decoded).unwrap();
    assert_eq!(decoded.len(), inflated);
    assert_eq!(
        serde_json::from_slice::<Value>(&decoded).unwrap(),
        json!([])
    );

    // A huge body: exactly that many bytes of valid JSON.
    sim.fail_next(
        routes::COMMITS,
        1,
        Fault::Hostile(Hostile::Huge { bytes: 3 << 20 }),
    );
    let body = raw
        .get(&url)
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.len(), 3 << 20);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), json!([]));

    // Headers of any value, a body of any kind, a redirect, a rewrite, a drip.
    sim.fail_next(
        routes::COMMITS,
        1,
        Fault::Hostile(Hostile::Headers(vec![(
            "ratelimit-reset".into(),
            u64::MAX.to_string(),
        )])),
    );
    let r = get(&sim, &commits).await;
    assert_eq!(r.header("ratelimit-reset"), Some("18446744073709551615"));
    assert_eq!(r.ids().len(), 5);
    sim.fail_next(
        routes::COMMITS,
        1,
        Fault::Hostile(Hostile::Body {
            status: 200,
            content_type: "text/html".into(),
            body: "<html>sign in</html>".into(),
        }),
    );
    let r = get(&sim, &commits).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!("<html>sign in</html>"))
    );
    sim.fail_next(
        routes::COMMITS,
        1,
        Fault::Hostile(Hostile::Redirect("http://169.254.169.254/latest".into())),
    );
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirects
        .get(&url)
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(resp.headers()["location"], "http://169.254.169.254/latest");
    let empty: testkit::gitlab_sim::Rewrite = std::sync::Arc::new(|_| json!([]));
    sim.fail_next(routes::COMMITS, 1, Fault::Hostile(Hostile::Rewrite(empty)));
    assert_eq!(get(&sim, &commits).await.body, json!([]));
    sim.fail_next(
        routes::COMMITS,
        1,
        Fault::Hostile(Hostile::Drip {
            every: Duration::from_millis(1),
        }),
    );
    let started = Instant::now();
    let r = get(&sim, &commits).await;
    assert_eq!(r.ids().len(), 5);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "a byte at a time"
    );
    sim.shutdown().await;
}

/// A push hook receiver: the API front recording every request (headers, JSON body) and answering 200.
struct HookReceiver {
    front: ApiFront,
    seen: Arc<Mutex<Vec<(lambda_http::http::HeaderMap, Value)>>>,
}

impl HookReceiver {
    async fn start() -> HookReceiver {
        let seen: Arc<Mutex<Vec<_>>> = Arc::default();
        let record = seen.clone();
        let front = ApiFront::start(&["POST /hook"], move |req: lambda_http::Request| {
            let body = serde_json::from_slice(req.body()).unwrap_or(Value::Null);
            record.lock().unwrap().push((req.headers().clone(), body));
            async { lambda_http::Response::new(lambda_http::Body::Empty) }
        })
        .await
        .expect("start receiver");
        HookReceiver { front, seen }
    }

    fn url(&self) -> String {
        format!("{}/hook", self.front.base_url())
    }

    fn seen(&self) -> Vec<(lambda_http::http::HeaderMap, Value)> {
        self.seen.lock().unwrap().clone()
    }
}

const HOOK_SECRET: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";
const SETTLE: Duration = Duration::from_secs(5);

fn commit_ids(payload: &Value) -> Vec<String> {
    payload["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn a_push_delivers_one_gitlab_push_event() {
    let repo = GitRepo::with_history(30, None);
    let (sim, app) = start(&repo).await;
    let receiver = HookReceiver::start().await;
    sim.set_push_hook(&receiver.url(), HOOK_SECRET);

    let old_head = repo.head();
    let pushed = sim
        .push(app, "main", |_| {
            for i in 0..22 {
                repo.commit(CommitSpec::new(
                    &format!("change {i}\n\nbody {i}"),
                    1_700_000_000 + i,
                ));
            }
            repo.commit(
                CommitSpec::new("add and change files", 1_700_001_000)
                    .author("Ada", "ada@example.com")
                    .file("docs/new.md", "new")
                    .file("history.txt", "rewritten"),
            );
        })
        .await;
    assert_eq!(pushed.before, old_head);
    assert_eq!(pushed.after, repo.head());
    assert_eq!(pushed.delivery, Some(0));

    let deliveries = sim.settled_hook_deliveries(SETTLE).await;
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert!(
        matches!(delivery.outcome, DeliveryOutcome::Answered { status: 200, at } if at >= delivery.sent_at),
        "{:?}",
        delivery.outcome
    );
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    let (headers, payload) = &seen[0];
    assert_eq!(payload, &delivery.payload);
    assert_eq!(headers["x-gitlab-event"], "Push Hook");
    assert_eq!(headers["x-gitlab-token"], HOOK_SECRET);
    assert_eq!(headers["content-type"], "application/json");
    assert!(
        headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("GitLab/17.")
    );
    assert_eq!(headers["x-gitlab-event-uuid"], delivery.event_uuid.as_str());
    assert_eq!(headers["idempotency-key"], delivery.event_uuid.as_str());

    // Exactly GitLab's fields, with git as the oracle for the shas and commits.
    let keys: BTreeSet<&str> = payload
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "object_kind",
        "event_name",
        "before",
        "after",
        "ref",
        "ref_protected",
        "checkout_sha",
        "message",
        "user_id",
        "user_name",
        "user_username",
        "user_email",
        "user_avatar",
        "project_id",
        "project",
        "commits",
        "total_commits_count",
        "push_options",
        "repository",
    ]
    .into();
    assert_eq!(keys, expected);
    assert_eq!(payload["object_kind"], "push");
    assert_eq!(payload["event_name"], "push");
    assert_eq!(payload["before"], old_head.as_str());
    assert_eq!(payload["after"], repo.head().as_str());
    assert_eq!(payload["checkout_sha"], repo.head().as_str());
    assert_eq!(payload["ref"], "refs/heads/main");
    assert_eq!(payload["ref_protected"], true);
    assert_eq!(payload["user_username"], "importer");
    assert_eq!(payload["project_id"], app);
    assert_eq!(payload["project"]["id"], app);
    assert_eq!(payload["project"]["default_branch"], "main");
    assert_eq!(payload["project"]["path_with_namespace"], "acme/app");
    assert_eq!(
        payload["project"]["web_url"],
        format!("{}acme/app", sim.base_url())
    );
    assert_eq!(
        payload["repository"]["homepage"],
        payload["project"]["web_url"]
    );
    let range = format!("{old_head}..{}", repo.head());
    let pushed_commits = repo.rev_list(&[&range]);
    assert_eq!(pushed_commits.len(), 23);
    assert_eq!(payload["total_commits_count"], 23);
    // The newest 20, oldest first.
    let mut newest: Vec<String> = pushed_commits[..20].to_vec();
    newest.reverse();
    assert_eq!(commit_ids(payload), newest);
    let last = &payload["commits"][19];
    assert_eq!(last["id"], repo.head().as_str());
    assert_eq!(last["title"], "add and change files");
    assert_eq!(last["message"], "add and change files");
    assert_eq!(
        last["author"],
        json!({"name": "Ada", "email": "ada@example.com"})
    );
    assert_eq!(last["timestamp"], "2023-11-14T22:30:00+00:00");
    assert_eq!(last["added"], json!(["docs/new.md"]));
    assert_eq!(last["modified"], json!(["history.txt"]));
    assert_eq!(last["removed"], json!([]));
    assert_eq!(
        last["url"],
        format!("{}acme/app/-/commit/{}", sim.base_url(), repo.head())
    );
    assert_eq!(payload["commits"][0]["title"], "change 3");
    assert_eq!(payload["commits"][0]["message"], "change 3\n\nbody 3");

    receiver.front.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn branch_creation_force_pushes_and_deletion_carry_their_refs_and_shas() {
    let repo = GitRepo::init("main");
    let base = repo.commit(CommitSpec::new("base", 1_700_000_000));
    let (sim, app) = start(&repo).await;
    let receiver = HookReceiver::start().await;
    sim.set_system_hook(&receiver.url(), HOOK_SECRET);

    // A new branch: before is zeros; only what main does not hold is listed.
    let created = sim
        .push(app, "feature", |_| {
            repo.checkout_new("feature", "main");
            repo.commit(CommitSpec::new("feature work", 1_700_000_100));
            repo.checkout("main");
        })
        .await;
    assert_eq!(created.before, "0".repeat(40));
    assert_eq!(created.after, repo.git(&["rev-parse", "feature"]).trim());

    // A force push: the new head is not a descendant of the old one; only the new commit is pushed.
    let second = repo.commit(CommitSpec::new("second", 1_700_000_200));
    let forced = sim
        .push(app, "main", |_| {
            repo.reset_hard(&base);
            repo.commit(CommitSpec::new("rewritten second", 1_700_000_300));
        })
        .await;
    assert_eq!(forced.before, second);
    assert_eq!(forced.after, repo.head());

    // Deleting the branch: after is zeros, no checkout sha.
    let deleted = sim
        .push(app, "feature", |_| {
            repo.git(&["branch", "-D", "feature"]);
        })
        .await;
    assert_eq!(deleted.after, "0".repeat(40));

    let deliveries = sim.settled_hook_deliveries(SETTLE).await;
    assert_eq!(deliveries.len(), 3);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter()
            .all(|(h, _)| h["x-gitlab-event"] == "System Hook")
    );
    let payloads: Vec<&Value> = seen.iter().map(|(_, p)| p).collect();
    // Deliveries run concurrently; match them by their `after`.
    let by_after = |sha: &str| {
        *payloads
            .iter()
            .find(|p| p["after"] == sha)
            .unwrap_or_else(|| panic!("no delivery with after {sha}"))
    };
    let c = by_after(&created.after);
    assert_eq!(c["ref"], "refs/heads/feature");
    assert_eq!(c["ref_protected"], false);
    assert_eq!(c["before"], "0".repeat(40));
    assert_eq!(c["project"]["default_branch"], "main");
    assert_eq!(c["total_commits_count"], 1);
    assert_eq!(commit_ids(c), [created.after.as_str()]);

    let f = by_after(&forced.after);
    assert_eq!(f["ref"], "refs/heads/main");
    assert_eq!(f["before"], second.as_str());
    assert_eq!(f["total_commits_count"], 1);
    assert_eq!(commit_ids(f), [forced.after.as_str()]);

    let d = by_after(&"0".repeat(40));
    assert_eq!(d["ref"], "refs/heads/feature");
    assert_eq!(d["before"], created.after.as_str());
    assert_eq!(d["checkout_sha"], Value::Null);
    assert_eq!(d["total_commits_count"], 0);
    assert_eq!(d["commits"], json!([]));

    receiver.front.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn no_hook_no_delivery_and_a_branch_that_did_not_move_sends_nothing() {
    let repo = GitRepo::init("main");
    repo.commit(CommitSpec::new("base", 1_700_000_000));
    let (sim, app) = start(&repo).await;
    let receiver = HookReceiver::start().await;

    let pushed = sim
        .push(app, "main", |_| {
            repo.commit(CommitSpec::new("unreported", 1_700_000_100));
        })
        .await;
    assert_eq!(pushed.after, repo.head());
    assert_eq!(pushed.delivery, None);

    sim.set_push_hook(&receiver.url(), HOOK_SECRET);
    let unmoved = sim.push(app, "main", |_| {}).await;
    assert_eq!(
        (unmoved.before.as_str(), unmoved.delivery),
        (repo.head().as_str(), None)
    );

    sim.clear_hook();
    let after_clear = sim
        .push(app, "main", |_| {
            repo.commit(CommitSpec::new("after clear", 1_700_000_200));
        })
        .await;
    assert_eq!(after_clear.delivery, None);

    // The only delivery: one made while the hook was set, so the receiver does get what is sent.
    sim.set_push_hook(&receiver.url(), HOOK_SECRET);
    let reported = sim
        .push(app, "main", |_| {
            repo.commit(CommitSpec::new("reported", 1_700_000_300));
        })
        .await;
    assert_eq!(reported.delivery, Some(0));
    assert_eq!(sim.settled_hook_deliveries(SETTLE).await.len(), 1);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1["after"], repo.head().as_str());

    receiver.front.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dead_hook_url_records_an_error_without_holding_up_the_push() {
    let repo = GitRepo::init("main");
    repo.commit(CommitSpec::new("base", 1_700_000_000));
    let (sim, app) = start(&repo).await;
    // A port that nothing listens on any more.
    let dead = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    sim.set_push_hook(&format!("http://{dead}/hook"), HOOK_SECRET);

    let started = Instant::now();
    let pushed = sim
        .push(app, "main", |_| {
            repo.commit(CommitSpec::new("into the void", 1_700_000_100));
        })
        .await;
    assert_eq!(pushed.delivery, Some(0));
    let deliveries = sim.settled_hook_deliveries(SETTLE).await;
    assert!(started.elapsed() < SETTLE, "{:?}", started.elapsed());
    match &deliveries[0].outcome {
        DeliveryOutcome::Failed { error, .. } => {
            assert!(error.to_lowercase().contains("refused"), "{error}");
            assert!(!error.contains(HOOK_SECRET));
        }
        other => panic!("expected a failed delivery, got {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "loopback address only")]
async fn hooks_go_to_loopback_only() {
    let (sim, _) = start(&GitRepo::init("main")).await;
    sim.set_push_hook("http://203.0.113.7/hook", HOOK_SECRET);
}
