//! The use cases against in-memory fakes of the three ports: given / when / then.

use super::*;
use crate::credentials::verify::Verified;
use crate::testing::MemoryVault;
use crate::testing::credentials::{MemoryCredentialStore, create_input, rotation, update_input};
use crate::testing::faults::{Fault, FaultPlan, Faulty};

/// Accepts the tokens that start with `good`; refuses the others.
struct FakeVerifier;

impl Verifier for FakeVerifier {
    async fn verify(
        &self,
        settings: &StoredSettings,
        token: &SecretString,
    ) -> Result<Verified, VerifyError> {
        if token.expose().starts_with("good") {
            Ok(Verified {
                base_url: settings.base_url.clone(),
                token_expires_at: None,
                scopes: vec!["read_api".into()],
            })
        } else {
            Err(VerifyError::InvalidCredentials("refused".into()))
        }
    }
}

type Service = Credentials<Faulty<MemoryCredentialStore>, MemoryVault, FakeVerifier>;

/// The use cases over memory ports; faults are added to the store's plan as a test goes.
fn service() -> Service {
    Credentials {
        store: Faulty::new(MemoryCredentialStore::default(), &FaultPlan::new()),
        vault: MemoryVault::default(),
        verifier: FakeVerifier,
        secret_name_prefix: "p/".into(),
        default_base_url: InstanceUrl::parse("https://gitlab.example.com/").unwrap(),
    }
}

/// A created credential of `token`.
async fn a_credential(credentials: &Service, token: &str) -> CredentialRecord {
    let labelled = CreateInput {
        label: Some("L".into()),
        ..create_input(token)
    };
    credentials.create(&conn(), labelled).await.unwrap()
}

/// The use cases with one created credential, of `good-1`.
async fn with_a_credential() -> (Service, CredentialRecord) {
    let credentials = service();
    let created = a_credential(&credentials, "good-1").await;
    (credentials, created)
}

/// Asserts that readers of credential `id` get `token`, the one its record's fingerprint names.
async fn assert_readers_get(credentials: &Service, id: &CredentialId, token: &str) {
    let (read, recorded) = read_pair(credentials, id).await;
    assert_eq!(read, recorded);
    assert_eq!(read, SecretString::new(token).fingerprint());
}

/// Asserts that an update of `record` without a token says its secret is missing, and that one with `token`
/// repairs it, `token` then current; returns the repaired record.
async fn assert_missing_then_repaired(
    credentials: &Service,
    record: &CredentialRecord,
    token: &str,
) -> CredentialRecord {
    let id = &record.credential_id;
    assert!(matches!(
        credentials.update(&conn(), update_input(id)).await,
        Err(CredentialsError::SecretMissing)
    ));
    let repaired = credentials
        .update(&conn(), rotation(id, token))
        .await
        .unwrap();
    assert_eq!(
        credentials.vault.current(&record.secret_name).as_deref(),
        Some(token)
    );
    repaired
}

/// Before the next replacement of a record (or every one), another writer changes the connection's records.
fn before_replace(credentials: &Service, edit: fn(&mut CredentialRecord)) -> Fault {
    let memory = credentials.store.inner().clone();
    Fault::run("store.replace", move || {
        memory.change(&conn(), edit);
        async {}
    })
}

/// A delete that commits meanwhile.
fn deleted_meanwhile(record: &mut CredentialRecord) {
    record.deleted_at = Some("2026-11-30T00:00:00Z".into());
    record.version += 1;
}

fn conn() -> ConnectionId {
    ConnectionId::parse("acme").unwrap()
}

#[tokio::test]
async fn create_stores_the_pair_or_nothing() {
    // given a working store, when a good token is created, then secret and record exist
    let credentials = service();
    let record = a_credential(&credentials, "good-1").await;
    assert_eq!(
        record.settings.base_url.as_str(),
        "https://gitlab.example.com/"
    );
    assert_eq!(
        record.secret_name,
        format!("p/acme/{}", record.credential_id)
    );
    assert_eq!(record.status, CredentialStatus::Active);
    assert_eq!(
        credentials.vault.current(&record.secret_name).as_deref(),
        Some("good-1")
    );
    // when a refused token is created, then nothing more is stored
    let refused = credentials.create(&conn(), create_input("bad")).await;
    assert!(matches!(refused, Err(CredentialsError::Verification(_))));
    assert_eq!(credentials.vault.secrets.lock().unwrap().len(), 1);
    assert_eq!(credentials.store.inner().records().len(), 1);

    // given a store whose writes fail, then nothing is stored
    let failing = service();
    failing
        .store
        .plan()
        .add(Fault::fail("store.insert").every());
    failing
        .store
        .plan()
        .add(Fault::fail("store.replace").every());
    let error = failing
        .create(&conn(), create_input("good-2"))
        .await
        .unwrap_err();
    assert!(matches!(error, CredentialsError::Store(_)));
    assert!(failing.vault.secrets.lock().unwrap().is_empty());
}

/// The token readers get for the stored record, and the record's fingerprint of its token.
async fn read_pair(credentials: &Service, id: &CredentialId) -> (String, String) {
    let record = credentials.info(&conn(), id).await.unwrap();
    let token = credentials
        .vault
        .read(&record.secret_name, record.secret_version_id.as_deref())
        .await
        .unwrap();
    (token.fingerprint(), record.token_fingerprint)
}

#[tokio::test]
async fn update_keeps_what_is_omitted_and_a_lost_race_changes_nothing_readers_see() {
    let (credentials, created) = with_a_credential().await;
    let id = created.credential_id.clone();

    let updated = credentials
        .update(&conn(), rotation(&id, "good-2"))
        .await
        .unwrap();
    assert_eq!(updated.label, created.label);
    assert_eq!(updated.version, created.version + 1);
    assert_eq!(
        updated.token_fingerprint,
        SecretString::new("good-2").fingerprint()
    );

    let refused = UpdateInput {
        label: Patch::Clear,
        ..rotation(&id, "bad")
    };
    assert!(credentials.update(&conn(), refused).await.is_err());
    let stored = credentials.info(&conn(), &id).await.unwrap();
    assert_eq!(stored, updated, "a refused update changes nothing");

    assert_eq!(
        credentials.vault.current(&created.secret_name).as_deref(),
        Some("good-2"),
        "the winner's version is current"
    );

    // A lost race: the record moved on; the loser's staged version is neither named nor current.
    let plan = credentials.store.plan();
    plan.add(before_replace(&credentials, |r| r.version += 1).every());
    assert!(matches!(
        credentials.update(&conn(), rotation(&id, "good-3")).await,
        Err(CredentialsError::Conflict)
    ));
    assert_eq!(
        credentials.vault.current(&created.secret_name).as_deref(),
        Some("good-2")
    );
    assert_readers_get(&credentials, &id, "good-2").await;
}

#[tokio::test]
async fn a_create_that_stops_after_its_record_leaves_no_live_token_and_a_visible_credential() {
    // when the secret cannot be written, then the record is marked deleted and no secret exists
    let credentials = service();
    *credentials.vault.fail_next.lock().unwrap() = vec!["create"];
    let error = credentials
        .create(&conn(), create_input("good-1"))
        .await
        .unwrap_err();
    assert!(matches!(error, CredentialsError::Vault(_)), "{error}");
    assert!(credentials.vault.secrets.lock().unwrap().is_empty());
    let records = credentials.list(&conn(), true).await.unwrap();
    assert_eq!(records.len(), 1);
    assert!(records[0].deleted_at.is_some());
    assert!(credentials.list(&conn(), false).await.unwrap().is_empty());

    // when the undo fails too, then a provisioning credential stays visible and is never synced; an
    // update without a token says the secret is missing, one with a token completes it
    *credentials.vault.fail_next.lock().unwrap() = vec!["create"];
    let plan = credentials.store.plan();
    plan.add(Fault::fail("store.replace").every());
    assert!(
        credentials
            .create(&conn(), create_input("good-2"))
            .await
            .is_err()
    );
    plan.clear();
    let listed = credentials.list(&conn(), false).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, CredentialStatus::Provisioning);
    let today = OffsetDateTime::now_utc().date();
    assert!(!listed[0].is_live(today));
    let repaired = assert_missing_then_repaired(&credentials, &listed[0], "good-3").await;
    assert_eq!(repaired.status, CredentialStatus::Active);
    assert_readers_get(&credentials, &repaired.credential_id, "good-3").await;
}

#[tokio::test]
async fn a_rotation_that_loses_to_a_delete_leaves_the_secret_scheduled_for_deletion() {
    // given a credential, when a delete commits while a rotation is between its read and its write (the
    // delete scheduled the secret's deletion, the rotation restored it to stage its token)
    let (credentials, created) = with_a_credential().await;
    let order = std::sync::atomic::Ordering::Relaxed;
    credentials.vault.delete_before_stage.store(true, order);
    let plan = credentials.store.plan();
    plan.add(before_replace(&credentials, deleted_meanwhile));
    let rotate = rotation(&created.credential_id, "good-2");
    let lost = credentials.update(&conn(), rotate).await;

    // then the update lost, and the deleted credential's secret is scheduled for deletion again
    assert!(matches!(lost, Err(CredentialsError::Conflict)), "{lost:?}");
    let secrets = credentials.vault.secrets.lock().unwrap();
    assert!(secrets[&created.secret_name].scheduled);
}

#[tokio::test]
async fn a_create_that_loses_to_a_delete_leaves_no_secret() {
    // when a delete of the provisioning record commits before the create activates it
    let credentials = service();
    let plan = credentials.store.plan();
    plan.add(before_replace(&credentials, deleted_meanwhile));
    let lost = credentials.create(&conn(), create_input("good-1")).await;

    // then the create fails, its record stays deleted and the secret it wrote is gone
    assert!(matches!(lost, Err(CredentialsError::Conflict)), "{lost:?}");
    let records = credentials.list(&conn(), true).await.unwrap();
    assert_eq!(records.len(), 1);
    assert!(records[0].deleted_at.is_some());
    assert!(credentials.vault.secrets.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_update_with_a_token_repairs_a_secret_deleted_or_scheduled_out_of_band() {
    let (credentials, created) = with_a_credential().await;
    let id = created.credential_id.clone();

    credentials
        .vault
        .secrets
        .lock()
        .unwrap()
        .remove(&created.secret_name);
    assert_missing_then_repaired(&credentials, &created, "good-2").await;

    credentials
        .vault
        .schedule_deletion(&created.secret_name, 7)
        .await
        .unwrap();
    assert_missing_then_repaired(&credentials, &created, "good-3").await;
    let (read, recorded) = read_pair(&credentials, &id).await;
    assert_eq!(read, recorded);

    // settings only: verified with the token the record names, which stays current
    let relabel = UpdateInput {
        label: Patch::Set("again".into()),
        ..update_input(&id)
    };
    let relabelled = credentials.update(&conn(), relabel).await.unwrap();
    assert_eq!(relabelled.token_fingerprint, recorded);
}

#[tokio::test]
async fn delete_is_soft_idempotent_and_blocks_updates() {
    let (credentials, created) = with_a_credential().await;
    let id = created.credential_id.clone();
    let deleted = credentials.delete(&conn(), &id).await.unwrap();
    assert!(deleted.deleted_at.is_some());
    assert!(credentials.vault.secrets.lock().unwrap()[&created.secret_name].scheduled);
    let again = credentials.delete(&conn(), &id).await.unwrap();
    assert_eq!(again, deleted);
    assert!(credentials.list(&conn(), false).await.unwrap().is_empty());
    assert_eq!(credentials.list(&conn(), true).await.unwrap().len(), 1);
    assert!(matches!(
        credentials.update(&conn(), update_input(&id)).await,
        Err(CredentialsError::CredentialDeleted)
    ));
    let other = ConnectionId::parse("other").unwrap();
    assert!(matches!(
        credentials.list(&other, false).await,
        Err(CredentialsError::ConnectionNotFound)
    ));
}

/// The connection's push hook secret: its current value unless scheduled for deletion, and whether it is.
fn hook_secret(credentials: &Service) -> (Option<String>, bool) {
    let name = credentials.hook_secret_name(&conn());
    let scheduled = credentials
        .vault
        .secrets
        .lock()
        .unwrap()
        .get(&name)
        .map(|s| s.scheduled);
    assert!(scheduled.is_some(), "no hook secret {name}");
    (credentials.vault.current(&name), scheduled == Some(true))
}

/// Asserts that the connection's push hook secret is live with the current value `value`.
#[track_caller]
fn assert_hook_secret_is(credentials: &Service, value: &str) {
    assert_eq!(hook_secret(credentials), (Some(value.to_owned()), false));
}

/// The push hook secret the connection's first credential shows (opened now, or again after a retirement).
async fn shown_hook_secret(credentials: &Service) -> String {
    let shown = credentials.open_hook_secret(&conn()).await.unwrap();
    shown.expect("the hook secret is shown").expose().to_owned()
}

#[tokio::test]
async fn the_hook_secret_is_made_once_per_connection_and_rotation_replaces_its_value() {
    // given a connection's first credential, when its hook secret is opened, then it is made and shown
    let credentials = service();
    a_credential(&credentials, "good-1").await;
    let first = shown_hook_secret(&credentials).await;
    assert_eq!(first.len(), 64);
    assert_eq!(credentials.hook_secret_name(&conn()), "p/acme/push-hook");
    assert_hook_secret_is(&credentials, &first);

    // when a second credential is created, then the secret is kept and not shown
    a_credential(&credentials, "good-2").await;
    assert!(
        credentials
            .open_hook_secret(&conn())
            .await
            .unwrap()
            .is_none()
    );
    assert_hook_secret_is(&credentials, &first);

    // when it is rotated, then the new value is current and the old one is not
    let rotated = credentials.rotate_hook_secret(&conn()).await.unwrap();
    assert_ne!(rotated.expose(), first);
    assert_hook_secret_is(&credentials, rotated.expose());

    // a connection without credentials has nothing to rotate, and gets no secret
    let other = ConnectionId::parse("other").unwrap();
    assert!(matches!(
        credentials.rotate_hook_secret(&other).await,
        Err(CredentialsError::ConnectionNotFound)
    ));
    assert!(
        !credentials
            .vault
            .secrets
            .lock()
            .unwrap()
            .contains_key("p/other/push-hook")
    );
}

#[tokio::test]
async fn rotation_makes_a_missing_hook_secret() {
    // given a connection whose credential predates hook secrets
    let credentials = service();
    a_credential(&credentials, "good-1").await;
    // when the hook secret is rotated, then it is made with the value shown
    let made = credentials.rotate_hook_secret(&conn()).await.unwrap();
    assert_hook_secret_is(&credentials, made.expose());
}

#[tokio::test]
async fn deleting_the_last_credential_retires_the_hook_secret_and_a_create_brings_a_new_value() {
    let credentials = service();
    let one = a_credential(&credentials, "good-1").await;
    let two = a_credential(&credentials, "good-2").await;
    let first = shown_hook_secret(&credentials).await;

    // when one of two credentials is deleted, then the hook secret stays
    credentials
        .delete(&conn(), &one.credential_id)
        .await
        .unwrap();
    assert_hook_secret_is(&credentials, &first);

    // when the last one is deleted, then it is scheduled for deletion, and rotation finds no connection
    credentials
        .delete(&conn(), &two.credential_id)
        .await
        .unwrap();
    assert_eq!(hook_secret(&credentials), (None, true));
    assert!(matches!(
        credentials.rotate_hook_secret(&conn()).await,
        Err(CredentialsError::ConnectionNotFound)
    ));

    // when a credential is created again, then the secret is restored with a new value, shown once
    a_credential(&credentials, "good-3").await;
    let renewed = shown_hook_secret(&credentials).await;
    assert_ne!(renewed, first);
    assert_hook_secret_is(&credentials, &renewed);
}

#[tokio::test]
async fn a_vault_that_fails_the_hook_secret_leaves_the_credential_and_rotation_repairs_it() {
    // given a created credential, when the vault fails to make the hook secret
    let (credentials, created) = with_a_credential().await;
    *credentials.vault.fail_next.lock().unwrap() = vec!["create"];
    let failed = credentials.open_hook_secret(&conn()).await;

    // then that is an error of ours, and the credential is active with its token
    assert!(
        matches!(failed, Err(CredentialsError::Vault(_))),
        "{failed:?}"
    );
    let stored = credentials
        .info(&conn(), &created.credential_id)
        .await
        .unwrap();
    assert_eq!(stored.status, CredentialStatus::Active);
    assert_eq!(
        credentials.vault.current(&created.secret_name).as_deref(),
        Some("good-1")
    );
    // and a failed promotion of a rotation is an error too, never a value that does not work
    let working = credentials.rotate_hook_secret(&conn()).await.unwrap();
    *credentials.vault.fail_next.lock().unwrap() = vec!["promote"];
    assert!(credentials.rotate_hook_secret(&conn()).await.is_err());
    assert_hook_secret_is(&credentials, working.expose());
    // when rotated later, then the secret exists with the value shown
    let made = credentials.rotate_hook_secret(&conn()).await.unwrap();
    assert_hook_secret_is(&credentials, made.expose());
}

#[tokio::test]
async fn a_create_racing_with_the_last_delete_keeps_the_hook_secret() {
    // given one credential with its hook secret
    let (credentials, only) = with_a_credential().await;
    let secret = shown_hook_secret(&credentials).await;

    // when a create lands just after the delete found no credential left (and found the secret live)
    let racing = CredentialRecord {
        credential_id: CredentialId::generate(),
        ..only.clone()
    };
    let memory = credentials.store.inner().clone();
    let insert = move || {
        memory.put(racing.clone());
        async {}
    };
    // the delete lists the credentials, finds none, retires the secret and lists again
    credentials
        .store
        .plan()
        .add(Fault::run("store.list", insert).nth(2));
    credentials
        .delete(&conn(), &only.credential_id)
        .await
        .unwrap();

    // then the delete looks again and restores the secret for the new credential, with its value
    assert_hook_secret_is(&credentials, &secret);
}
