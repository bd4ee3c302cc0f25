//! Every sample event in `events/` drives its route.

use super::push_hook_secret::{HOOK_URL, hook_secret};
use super::*;

#[tokio::test]
async fn every_sample_event_drives_its_route() {
    let env = env().await;
    let mut create_event = event("create");
    let mut body: Value = serde_json::from_str(create_event["body"].as_str().unwrap()).unwrap();
    body["settings"]["base_url"] = env.sim.base_url().into();
    body["secrets"]["api_token"] = GOOD.into();
    create_event["body"] = body.to_string().into();
    let (status, reply) = send(&env.api, into_request(&create_event)).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["credential"]["label"], "GitLab.com production");
    assert_eq!(reply["credential"]["expiration_date"], "2027-06-30");
    let id = reply["credential"]["id"].as_str().unwrap().to_owned();
    let sample_id = "cred_0123456789abcdefghjkmnpqrs";

    let mut update = event("update");
    let mut body: Value = serde_json::from_str(update["body"].as_str().unwrap()).unwrap();
    body["id"] = id.clone().into();
    body["secrets"]["api_token"] = ROTATED.into();
    update["body"] = body.to_string().into();
    let (status, reply) = send(&env.api, into_request(&update)).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["credential"]["label"],
        "GitLab.com production (rotated)"
    );

    let info = event("info").to_string().replace(sample_id, &id);
    let (status, reply) = send(
        &env.api,
        into_request(&serde_json::from_str(&info).unwrap()),
    )
    .await;
    assert_eq!(
        (status, reply["credential"]["id"].as_str()),
        (200, Some(id.as_str()))
    );

    let (status, reply) = send(&env.api, into_request(&event("list"))).await;
    assert_eq!(status, 200);
    assert_eq!(reply["credentials"].as_array().unwrap().len(), 1);

    let (status, reply) = send(&env.api, into_request(&event("hooks-rotate"))).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["push_hook"]["url"], HOOK_URL);
    assert_eq!(
        hook_secret(&env).await,
        Some((
            reply["push_hook"]["secret"].as_str().map(str::to_owned),
            false
        ))
    );

    let delete = event("delete").to_string().replace(sample_id, &id);
    let (status, reply) = send(
        &env.api,
        into_request(&serde_json::from_str(&delete).unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    assert!(reply["credential"]["deleted_at"].is_string());

    // As shipped (sample ids), the events reach the handler and name a credential that does not exist.
    for name in ["info", "update", "delete"] {
        let mut e = event(name);
        if name == "update" {
            let mut body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
            body.as_object_mut().unwrap().remove("secrets");
            e["body"] = body.to_string().into();
        }
        let (status, reply) = send(&env.api, into_request(&e)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (404, Some("credential_not_found")),
            "{name}"
        );
    }
}

/// The operator routes' samples (`events/apigw-projects-*.json`) on a connection no tick has scheduled yet.
#[tokio::test]
async fn the_operator_sample_events_drive_their_routes() {
    let env = env().await;
    create(&env, GOOD).await;
    let sample = |name: &str| -> Value {
        let path = format!("{}/../events/apigw-{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).unwrap()
    };
    let list = sample("projects-list");
    assert_eq!(list["queryStringParameters"]["status"], "failing");
    let (status, reply) = send(&env.api, into_request(&list)).await;
    assert_eq!((status, &reply["projects"]), (200, &json!([])), "{reply}");
    let (status, reply) = send(&env.api, into_request(&sample("projects-sync"))).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (404, Some("project_not_found")),
        "{reply}"
    );
}
