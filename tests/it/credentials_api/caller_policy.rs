//! Who may call what: the caller policy opens one connection and no other.

use super::*;

/// Whether IAM's wildcard `pattern` matches `value`: `*` is any run of characters (`/` too), `?` any one.
fn iam_matches(pattern: &str, value: &str) -> bool {
    let (pattern, value): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), value.chars().collect());
    // Classic glob matching, remembering the last `*` to backtrack to: linear in practice, no recursion.
    let (mut p, mut v, mut star, mut resume) = (0, 0, None, 0);
    while v < value.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == value[v]) {
            p += 1;
            v += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            resume = v;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            resume += 1;
            v = resume;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[test]
fn iam_wildcards_match_as_iam_matches_them() {
    assert!(iam_matches("a/*/c", "a/b/x/c"), "* crosses /");
    assert!(iam_matches("a?c", "abc") && !iam_matches("a?c", "abbc"));
    assert!(iam_matches("*", "") && iam_matches("a*", "a"));
    assert!(!iam_matches("a/*/c", "a/b/cd") && !iam_matches("abc", "abC"));
}

pub(super) const REGION: &str = "eu-west-1";
pub(super) const ACCOUNT: &str = "123456789012";
const API_ID: &str = "a1b2c3d4e5";

/// The README's caller policy for `connection`: its Allow resources, placeholders filled in.
fn caller_policy(connection: &str) -> Vec<String> {
    let path = format!(
        "{}/../docs/caller-policy-one-connection.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let policy: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "one statement, nothing else granted");
    let statement = &statements[0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], "execute-api:Invoke");
    let resources = match &statement["Resource"] {
        Value::Array(list) => list
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect(),
        one => vec![one.as_str().unwrap().to_owned()],
    };
    resources
        .into_iter()
        .map(|r| {
            r.replace("REGION", REGION)
                .replace("ACCOUNT_ID", ACCOUNT)
                .replace("API_ID", API_ID)
                .replace("CONNECTION_ID", connection)
        })
        .collect()
}

/// The ARN IAM checks for a request: `arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`.
fn invoke_arn(method: &str, path: &str) -> String {
    format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/$default/{method}{path}")
}

fn allowed(policy: &[String], method: &str, path: &str) -> bool {
    let arn = invoke_arn(method, path);
    policy.iter().any(|resource| iam_matches(resource, &arn))
}

/// Each route's path for `connection`, with its method.
fn route_paths(connection: &str) -> Vec<(&'static str, String)> {
    shared::entrypoints::credentials_api::Route::ALL
        .iter()
        .map(|(_, name, method, takes_id)| {
            let id = if *takes_id {
                "/cred_0123456789abcdefghjkmnpqrs"
            } else {
                ""
            };
            (*method, format!("/connections/{connection}/{name}{id}"))
        })
        .collect()
}

/// The policy lets a caller use every route of its own connection and nothing of another's, look-alikes
/// included (`acme` must not open `acme-2`: `*` crosses `/`, so the `/` after the id is what holds).
#[test]
fn the_caller_policy_opens_one_connection_and_no_other() {
    let policy = caller_policy("acme");
    for (method, path) in route_paths("acme") {
        assert!(allowed(&policy, method, &path), "{method} {path}");
    }
    for other in [
        "acme-2",
        "acme2",
        "acm",
        "xacme",
        "ACME",
        "acme_",
        "a",
        "acme-prod",
    ] {
        for (method, path) in route_paths(other) {
            assert!(
                !allowed(&policy, method, &path),
                "{method} {path} is open to acme's caller"
            );
        }
    }
    // The same policy for acme-2 opens acme-2 and not acme.
    let other = caller_policy("acme-2");
    assert!(
        route_paths("acme-2")
            .iter()
            .all(|(m, p)| allowed(&other, m, p))
    );
    assert!(
        !route_paths("acme")
            .iter()
            .any(|(m, p)| allowed(&other, m, p))
    );
}

/// Whatever path a caller makes up, a request the policy lets through reaches no connection but its own: every
/// path of up to five segments from a small alphabet, through the handler's own router.
#[test]
fn no_path_the_policy_lets_through_reaches_another_connection() {
    use shared::entrypoints::credentials_api::match_route;
    let policy = caller_policy("acme");
    let alphabet = [
        "connections",
        "acme",
        "acme-2",
        "credentials.list",
        "credentials.info",
        "cred_1",
        "$default",
        "",
    ];
    let (mut paths, mut let_through, mut routed_to_own) = (0, 0, 0);
    for length in 1..=5_u32 {
        for mut n in 0..alphabet.len().pow(length) {
            let mut path = String::new();
            for _ in 0..length {
                path.push('/');
                path.push_str(alphabet[n % alphabet.len()]);
                n /= alphabet.len();
            }
            paths += 1;
            for method in ["GET", "POST"] {
                if !allowed(&policy, method, &path) {
                    continue;
                }
                let_through += 1;
                if let Some((_, connection, _)) = match_route(&path) {
                    assert_eq!(connection, "acme", "{method} {path}");
                    routed_to_own += 1;
                }
            }
        }
    }
    assert!(paths > 30_000, "{paths}");
    assert!(
        let_through > 1_000 && routed_to_own > 10,
        "{let_through} {routed_to_own}"
    );
}
