//! Rotation through secret versions, create and update under failures, repair of a missing secret.

use shared::credentials::CredentialStatus;
use shared::testing::credentials::{create_input, rotation, update_input};

use super::*;

/// Where a planned failure strikes: the first call of `operation` fails, before it reaches AWS or after it
/// landed; with `crash`, every later call fails too (the process died there, so no undo runs).
fn failing_at(operation: &'static str, after_landing: bool, crash: bool) -> Arc<FaultPlan> {
    let mut fault = faults::Fault::fail(operation);
    if after_landing {
        fault = fault.after_landing();
    }
    if crash {
        fault = fault.crash();
    }
    FaultPlan::with(fault)
}

fn conn() -> ConnectionId {
    ConnectionId::parse(CONN).unwrap()
}

/// This test's token secrets that are not scheduled for deletion, by the credential id they are tagged with.
async fn live_secrets(env: &Env) -> BTreeMap<String, String> {
    let mut live = BTreeMap::new();
    for entry in listed_secrets(env).await {
        let name = entry.name().unwrap_or_default();
        if entry.deleted_date().is_some() || name.ends_with(&format!("/{HOOK_SECRET_SUFFIX}")) {
            continue;
        }
        let tagged = entry
            .tags()
            .iter()
            .find(|t| t.key() == Some("credential_id"))
            .and_then(|t| t.value())
            .expect("every secret is tagged with its credential");
        live.insert(tagged.to_owned(), name.to_owned());
    }
    live
}

/// The fingerprint of the token readers (`connect.rs`: the version the record names) get for a record.
async fn read_for(env: &Env, record: &CredentialRecord) -> Result<String, VaultError> {
    SecretsManagerVault::new(env.aws.secrets.clone())
        .read(&record.secret_name, record.secret_version_id.as_deref())
        .await
        .map(|token| token.fingerprint())
}

/// The fingerprint of the secret's `AWSCURRENT` value.
async fn current_of(env: &Env, record: &CredentialRecord) -> String {
    SecretsManagerVault::new(env.aws.secrets.clone())
        .read(&record.secret_name, None)
        .await
        .expect("current value")
        .fingerprint()
}

/// No live token without a record a caller sees (not deleted); an active record's token is the one it names;
/// a provisioning one is never synced. Returns the records a caller sees.
async fn assert_consistent(env: &Env, case: &str) -> Vec<CredentialRecord> {
    let records = domain(env).store.list(&conn()).await.unwrap();
    let visible: Vec<_> = records
        .into_iter()
        .filter(|r| r.deleted_at.is_none())
        .collect();
    for credential in live_secrets(env).await.keys() {
        assert!(
            visible
                .iter()
                .any(|r| r.credential_id.as_str() == credential),
            "{case}: orphan secret of {credential}"
        );
    }
    let today = time::OffsetDateTime::now_utc().date();
    for record in &visible {
        match record.status {
            CredentialStatus::Active => assert_eq!(
                read_for(env, record).await.as_deref(),
                Ok(record.token_fingerprint.as_str()),
                "{case}: record and token disagree"
            ),
            CredentialStatus::Provisioning => {
                assert!(!record.is_live(today), "{case}")
            }
            other => panic!("{case}: unexpected status {other:?}"),
        }
    }
    visible
}

/// Every credential a caller sees can be brought to an active, agreeing pair by an update with a token.
async fn assert_repairable(env: &Env, case: &str) {
    let healthy = domain(env);
    for record in assert_consistent(env, case).await {
        let repaired = healthy
            .update(&conn(), rotation(&record.credential_id, ROTATED))
            .await
            .unwrap_or_else(|e| panic!("{case}: repair failed: {e}"));
        assert_eq!(repaired.status, CredentialStatus::Active, "{case}");
        assert_eq!(
            read_for(env, &repaired).await.as_deref(),
            Ok(SecretString::new(ROTATED).fingerprint().as_str()),
            "{case}"
        );
        assert_eq!(
            current_of(env, &repaired).await,
            repaired.token_fingerprint,
            "{case}"
        );
    }
    assert_consistent(env, case).await;
}

#[tokio::test]
async fn the_vault_stages_promotes_and_reads_by_version_and_tells_a_scheduled_deletion() {
    let env = env().await;
    let vault = SecretsManagerVault::new(env.aws.secrets.clone());
    let name = format!("{}probe", env.prefix);
    let (v1, v2) = ("1".repeat(32), "2".repeat(32));
    vault
        .create(
            &name,
            &SecretString::new(GOOD),
            &v1,
            &[("credential_id", "probe")],
        )
        .await
        .unwrap();
    vault
        .stage(&name, &SecretString::new(ROTATED), &v2)
        .await
        .unwrap();
    let read = async |version: Option<&str>| {
        vault
            .read(&name, version)
            .await
            .unwrap()
            .expose()
            .to_owned()
    };
    assert_eq!(read(None).await, GOOD, "staging leaves the current version");
    assert_eq!(read(Some(&v2)).await, ROTATED);
    vault.promote(&name, &v2).await.unwrap();
    vault.promote(&name, &v2).await.unwrap();
    assert_eq!(read(None).await, ROTATED);
    assert_eq!(
        read(Some(&v1)).await,
        GOOD,
        "the old version stays readable"
    );
    assert!(matches!(
        vault.read(&name, Some(&"3".repeat(32))).await,
        Err(VaultError::NotFound { .. })
    ));

    vault.schedule_deletion(&name, 7).await.unwrap();
    assert!(matches!(
        vault.read(&name, Some(&v2)).await,
        Err(VaultError::ScheduledForDeletion { .. })
    ));
    assert!(matches!(
        vault.promote(&name, &v1).await,
        Err(VaultError::ScheduledForDeletion { .. })
    ));
    vault.restore(&name).await.unwrap();
    assert_eq!(read(Some(&v2)).await, ROTATED);
    vault.delete_now(&name).await.unwrap();
    assert!(matches!(
        vault.stage(&name, &SecretString::new(GOOD), &v1).await,
        Err(VaultError::NotFound { .. })
    ));
}

#[tokio::test]
async fn concurrent_rotations_leave_the_record_and_the_token_read_for_it_in_agreement() {
    let env = env().await;
    let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
    let rotation = |token: &str| rotate(&id, token);
    let store = domain(&env).store;
    let cid = CredentialId::parse(&id).unwrap();
    let mut winners = BTreeMap::<&str, u32>::new();
    for round in 0..6 {
        let (a, b) = if round % 2 == 0 {
            (GOOD, ROTATED)
        } else {
            (ROTATED, GOOD)
        };
        let ((status_a, reply_a), (status_b, reply_b)) =
            tokio::join!(send(&env.api, rotation(a)), send(&env.api, rotation(b)));
        for (status, reply, token) in [(status_a, &reply_a, a), (status_b, &reply_b, b)] {
            match status {
                200 => *winners.entry(token).or_default() += 1,
                409 => assert_eq!(reply["error"], "conflict", "{reply}"),
                other => panic!("round {round}: {other} {reply}"),
            }
        }
        let record = store.get(&conn(), &cid).await.unwrap().unwrap();
        assert_eq!(
            read_for(&env, &record).await.as_deref(),
            Ok(record.token_fingerprint.as_str()),
            "round {round}: the token readers get is the one the record describes"
        );
        assert_eq!(
            current_of(&env, &record).await,
            record.token_fingerprint,
            "round {round}: AWSCURRENT follows the record"
        );
    }
    assert!(winners.values().sum::<u32>() >= 6, "{winners:?}");
}

#[tokio::test]
async fn a_failure_between_any_two_steps_of_create_leaves_no_orphan_and_no_mismatch() {
    let env = env().await;
    let steps = [
        "store.bind_connection",
        "store.insert",
        "vault.create",
        "store.replace",
        "store.get",
    ];
    for operation in steps {
        for after_landing in [false, true] {
            for crash in [false, true] {
                let case = format!("create, {operation}, landed {after_landing}, crash {crash}");
                let plan = failing_at(operation, after_landing, crash);
                let before = assert_consistent(&env, &case).await.len();
                let result = faulty_domain(&env, &plan)
                    .create(&conn(), create_input(GOOD))
                    .await;
                let after = assert_consistent(&env, &case).await.len();
                match &result {
                    Ok(record) => {
                        assert_eq!(record.status, CredentialStatus::Active, "{case}");
                        assert_eq!(after, before + 1, "{case}");
                    }
                    // Undone, unless the process "died" after the record was written.
                    Err(_) if !crash => assert_eq!(after, before, "{case}"),
                    Err(_) => assert!(after <= before + 1, "{case}"),
                }
                if !crash && after_landing && matches!(operation, "store.insert" | "store.replace")
                {
                    assert!(
                        result.is_ok(),
                        "{case}: a write whose answer was lost landed"
                    );
                }
            }
        }
    }
    assert_repairable(&env, "after every create").await;
    // Bounded leftovers: the failures left at most one visible credential per crashed step.
    let visible = assert_consistent(&env, "end").await;
    assert!(
        !visible.is_empty() && visible.len() <= steps.len() * 4,
        "{}",
        visible.len()
    );
}

#[tokio::test]
async fn a_failure_between_any_two_steps_of_a_rotation_leaves_no_mismatch() {
    let env = env().await;
    let id = CredentialId::parse(create(&env, GOOD).await["id"].as_str().unwrap()).unwrap();
    let mut token = GOOD;
    for operation in [
        "store.get",
        "store.bind_connection",
        "vault.stage",
        "store.replace",
        "vault.promote",
    ] {
        for after_landing in [false, true] {
            for crash in [false, true] {
                let case = format!("update, {operation}, landed {after_landing}, crash {crash}");
                token = if token == GOOD { ROTATED } else { GOOD };
                let plan = failing_at(operation, after_landing, crash);
                let before = domain(&env).store.get(&conn(), &id).await.unwrap().unwrap();
                let result = faulty_domain(&env, &plan)
                    .update(&conn(), rotation(&id, token))
                    .await;
                let after = domain(&env).store.get(&conn(), &id).await.unwrap().unwrap();
                match &result {
                    Ok(updated) => {
                        assert_eq!(after.version, updated.version, "{case}");
                        assert_eq!(
                            after.token_fingerprint,
                            SecretString::new(token).fingerprint(),
                            "{case}"
                        );
                    }
                    // Either nothing changed, or the write landed and only its answer was lost.
                    Err(_) => assert!(
                        after.version == before.version
                            || (after.version == before.version + 1
                                && after.token_fingerprint
                                    == SecretString::new(token).fingerprint()),
                        "{case}"
                    ),
                }
                assert_eq!(assert_consistent(&env, &case).await.len(), 1, "{case}");
                assert_eq!(live_secrets(&env).await.len(), 1, "{case}");
            }
        }
    }
    // A promotion cut short is caught up by the next update, with or without a token.
    let plan = failing_at("vault.promote", false, true);
    let rotated = faulty_domain(&env, &plan)
        .update(&conn(), rotation(&id, ROTATED))
        .await
        .unwrap();
    assert_eq!(
        read_for(&env, &rotated).await.as_deref(),
        Ok(SecretString::new(ROTATED).fingerprint().as_str())
    );
    let relabelled = domain(&env)
        .update(&conn(), update_input(&id))
        .await
        .unwrap();
    assert_eq!(
        current_of(&env, &relabelled).await,
        relabelled.token_fingerprint
    );
    assert_repairable(&env, "after every rotation").await;
}

#[tokio::test]
async fn an_update_with_a_token_repairs_a_credential_whose_secret_is_gone() {
    let env = env().await;
    let id = create(&env, GOOD).await["id"].as_str().unwrap().to_owned();
    let secret_name = format!("{}{CONN}/{id}", env.prefix);
    let cid = CredentialId::parse(&id).unwrap();
    let relabel = json!({"id": id, "label": "Renamed"});
    let repair = json!({"id": id, "secrets": {"api_token": ROTATED}});

    for scheduled in [false, true] {
        let deletion = env.aws.secrets.delete_secret().secret_id(&secret_name);
        let deletion = if scheduled {
            deletion.recovery_window_in_days(7)
        } else {
            deletion.force_delete_without_recovery(true)
        };
        deletion.send().await.expect("out-of-band deletion");

        let (status, reply) = send(&env.api, post("credentials.update", &relabel)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (409, Some("secret_missing")),
            "scheduled {scheduled}: {reply}"
        );
        assert!(reply["message"].as_str().unwrap().contains("api_token"));

        let (status, reply) = send(&env.api, post("credentials.update", &repair)).await;
        assert_eq!(status, 200, "scheduled {scheduled}: {reply}");
        let record = domain(&env)
            .store
            .get(&conn(), &cid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            read_for(&env, &record).await.as_deref(),
            Ok(SecretString::new(ROTATED).fingerprint().as_str()),
            "scheduled {scheduled}"
        );
        assert_eq!(
            token_secrets(&env).await,
            BTreeMap::from([(secret_name.clone(), (Some(ROTATED.to_owned()), false))]),
            "scheduled {scheduled}: the secret is back and current"
        );
        let (status, reply) = send(&env.api, post("credentials.update", &relabel)).await;
        assert_eq!(status, 200, "scheduled {scheduled}: {reply}");
    }
}
