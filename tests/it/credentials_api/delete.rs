//! `credentials.delete`: a soft delete that schedules the secret's deletion.

use super::*;

#[tokio::test]
async fn delete_is_soft_schedules_the_secret_and_hides_the_credential_from_list() {
    let env = env().await;
    let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
    let kept = create(&env, ROTATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, reply) = send(&env.api, post("credentials.delete", &json!({"id": id}))).await;
    assert_eq!(status, 200, "{reply}");
    let deleted_at = reply["credential"]["deleted_at"]
        .as_str()
        .unwrap()
        .to_owned();

    let secrets = secrets(&env).await;
    assert_eq!(
        secrets[&format!("{}{CONN}/{id}", env.prefix)],
        (None, true),
        "scheduled"
    );
    assert!(!secrets[&format!("{}{CONN}/{kept}", env.prefix)].1);

    let listed = list_credentials(&env, "").await;
    let ids: Vec<_> = listed.iter().map(|c| c["id"].clone()).collect();
    assert_eq!(ids, vec![Value::from(kept.clone())]);
    assert_eq!(
        list_credentials(&env, "?include_deleted=true").await.len(),
        2
    );

    assert_eq!(info(&env, &id).await["deleted_at"], deleted_at.as_str());

    let relabel = post("credentials.update", &json!({"id": id, "label": "x"}));
    refused(&env.api, relabel, 409, "credential_deleted").await;

    // Deleting again completes an interrupted delete and changes nothing else.
    let (status, again) = send(&env.api, post("credentials.delete", &json!({"id": id}))).await;
    assert_eq!(status, 200);
    assert_eq!(again["credential"]["deleted_at"], deleted_at.as_str());
}
