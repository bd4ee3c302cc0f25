//! `credentials.info` and `credentials.list`: metadata, status and sync summary, never the token.

use super::*;

#[tokio::test]
async fn info_and_list_show_metadata_status_and_sync_summary_never_the_token() {
    let env = env().await;
    let first = create(&env, GOOD).await;
    let second = create(&env, PROJECTS_ONLY).await;
    let first_id = first["id"].as_str().unwrap();

    let (status, reply) = send(&env.api, get(&format!("credentials.info/{first_id}"))).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["credential"], first);
    for field in [
        "id",
        "type",
        "label",
        "settings",
        "created_at",
        "disabled_at",
        "deleted_at",
        "expiration_date",
        "status",
        "last_verified_at",
        "token_fingerprint",
        "last_sync",
    ] {
        assert!(reply["credential"].get(field).is_some(), "{field}");
    }

    let listed = list_credentials(&env, "").await;
    let ids: Vec<_> = listed.iter().map(|c| c["id"].clone()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first["id"]) && ids.contains(&second["id"]));
    let shown = Value::from(listed).to_string();
    assert!(!shown.contains(GOOD) && !shown.contains(PROJECTS_ONLY));

    // The scheduler and the worker fill the sync summary through the store's own writes; counts add up.
    let store = DynamoCredentialStore::new(env.aws.dynamodb.clone(), env.aws.table("StateTable"));
    let connection = ConnectionId::parse(CONN).unwrap();
    let credential = CredentialId::parse(first_id).unwrap();
    let found = DiscoverySummary::Found {
        statuses: [("active", 10), ("forbidden", 2)].into(),
        at: "2026-11-24T20:00:00Z".into(),
    };
    store
        .record_discovery(&connection, &credential, &found)
        .await
        .unwrap();
    for (commits, commits_skipped, error) in [(3_000, 0, None), (456, 2, Some("forbidden"))] {
        let tally = SyncTally {
            succeeded: 4,
            commits,
            commits_skipped,
            last_error: error.map(str::to_owned),
        };
        store
            .record_syncs(&connection, &credential, &tally, "2026-11-24T20:05:00Z")
            .await
            .unwrap();
    }
    update_credential_item(&env, first_id)
        .update_expression("SET expiration_date = :d")
        .expression_attribute_values(":d", AttributeValue::S("2001-01-01".into()))
        .send()
        .await
        .unwrap();
    let expired = info(&env, first_id).await;
    assert_eq!(expired["status"], "expired");
    assert_eq!(
        expired["last_sync"],
        json!({
            "projects": 12,
            "project_statuses": {"active": 10, "forbidden": 2},
            "discovered_at": "2026-11-24T20:00:00Z",
            "commits": 3456,
            "commits_skipped": 2,
            "last_success_at": "2026-11-24T20:05:00Z",
            "last_error": "forbidden",
            "last_error_at": "2026-11-24T20:05:00Z"
        })
    );
    // An update by the API leaves the summary alone.
    let (status, updated) = send(
        &env.api,
        post(
            "credentials.update",
            &json!({"id": first_id, "label": "renamed", "expiration_date": null}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["credential"]["last_sync"]["commits"], 3456);
    let second_id = second["id"].as_str().unwrap();
    assert_eq!(info(&env, second_id).await["last_sync"], Value::Null);
}

#[tokio::test]
async fn unknown_connections_and_credentials_are_404() {
    let env = env().await;
    let missing_id = "cred_00000000000000000000000000";
    for req in [
        get("credentials.list"),
        get(&format!("credentials.info/{missing_id}")),
        post(
            "credentials.update",
            &json!({"id": missing_id, "label": "x"}),
        ),
        post("credentials.delete", &json!({"id": missing_id})),
    ] {
        refused(&env.api, req, 404, "connection_not_found").await;
    }
    create(&env, GOOD).await;
    for req in [
        get(&format!("credentials.info/{missing_id}")),
        get("credentials.info/..%2F..%2Fetc"),
        post(
            "credentials.update",
            &json!({"id": missing_id, "label": "x"}),
        ),
        post("credentials.delete", &json!({"id": missing_id})),
    ] {
        refused(&env.api, req, 404, "credential_not_found").await;
    }
    for path in [
        "/connections/has%20space/credentials.list",
        "/connections/a.b/credentials.list",
        &format!("/connections/{}/credentials.list", "x".repeat(65)),
    ] {
        let (status, reply) = send(&env.api, request("GET", path, None, None)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (404, Some("connection_not_found")),
            "{path}"
        );
    }
}
