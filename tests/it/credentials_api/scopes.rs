//! Token scopes: recorded on the credential, shown by every reply, warned of.

use super::*;

/// Scopes beyond reading are accepted, recorded on the credential item, shown by every reply as `excess_scopes`
/// and logged (never the token) at each create and update.
#[tokio::test]
async fn scopes_and_excess_scopes_are_recorded_shown_and_warned_of() {
    let logs = captured_logs();
    let env = env().await;
    let reader = create(&env, GOOD).await;
    let writer = create(&env, ROTATED).await;
    assert_eq!(
        (&reader["scopes"], &reader["excess_scopes"]),
        (&json!(["read_api"]), &json!([]))
    );
    assert_eq!(
        (&writer["scopes"], &writer["excess_scopes"]),
        (&json!(["api"]), &json!(["api"]))
    );
    let writer_id = writer["id"].as_str().unwrap().to_owned();
    let reader_id = reader["id"].as_str().unwrap().to_owned();
    assert_eq!(
        info(&env, &writer_id).await["excess_scopes"],
        json!(["api"])
    );
    let list = list_credentials(&env, "").await;
    let listed: BTreeMap<&str, &Value> = list
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), &c["excess_scopes"]))
        .collect();
    assert_eq!(listed[writer_id.as_str()], &json!(["api"]));
    assert_eq!(listed[reader_id.as_str()], &json!([]));
    // A top-level attribute of the credential item.
    let item = env
        .aws
        .state_item(&format!("CONN#{CONN}"), &format!("CRED#{writer_id}"))
        .await;
    assert_eq!(
        item["scopes"].as_l().unwrap(),
        &[AttributeValue::S("api".into())]
    );

    // Rotating the reader to the `api` token shows the excess; rotating back clears it.
    for (token, excess) in [(ROTATED, json!(["api"])), (GOOD, json!([]))] {
        let (status, updated) = send(&env.api, rotate(&reader_id, token)).await;
        assert_eq!(status, 200, "{updated}");
        assert_eq!(updated["credential"]["excess_scopes"], excess);
    }

    // The warning names the credential and the scopes, at WARN: at every level the template allows but ERROR.
    for (level, captured) in &logs.by_level {
        let text = captured.text();
        let warned = |id: &str| {
            text.lines()
                .filter(|l| l.contains("scopes beyond reading") && l.contains(id))
                .count()
        };
        let expected = usize::from(level != "ERROR");
        assert_eq!(warned(&writer_id), expected, "{level}: {text}");
        assert_eq!(
            warned(&reader_id),
            expected,
            "{level}: only the update to `api`"
        );
        assert!(!text.contains(ROTATED), "{level}");
    }
    assert!(logs.by_level.iter().any(|(level, _)| level == "WARN"));

    // A credential verified before scopes were recorded shows neither, until its next update.
    update_credential_item(&env, &writer_id)
        .update_expression("REMOVE scopes")
        .send()
        .await
        .unwrap();
    let unscoped = info(&env, &writer_id).await;
    assert_eq!(
        (&unscoped["scopes"], &unscoped["excess_scopes"]),
        (&Value::Null, &Value::Null)
    );
}
