//! The local AWS stand-in works through the Rust SDK the way the functions will use it.

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use testkit::aws_local::AwsStandIn;

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

#[tokio::test]
async fn creates_every_table_and_queue_the_template_declares() {
    let aws = AwsStandIn::provision().await.expect("stand-in");
    let (tables, queues) = aws.declared();
    assert_eq!(tables, ["CommitsTable", "StateTable"]);
    assert_eq!(
        queues,
        [
            "ScheduleDeadLetterQueue",
            "SyncDeadLetterQueue",
            "SyncQueue",
            "TurnRequestDeadLetterQueue",
            "TurnRequestQueue"
        ]
    );

    let commits = aws
        .dynamodb
        .describe_table()
        .table_name(aws.table("CommitsTable"))
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let index_names: Vec<_> = commits
        .global_secondary_indexes()
        .iter()
        .filter_map(|index| index.index_name())
        .collect();
    assert_eq!(index_names, ["by_committed_at", "by_changed_at"]);

    // The redrive policy from the template points the sync queue at this test's dead-letter queue.
    let attributes = aws
        .sqs
        .get_queue_attributes()
        .queue_url(&aws.queue("SyncQueue").url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let redrive = &attributes[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy];
    assert!(
        redrive.contains(&aws.queue("SyncDeadLetterQueue").arn),
        "{redrive}"
    );
    assert_eq!(
        attributes[&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout],
        "5400"
    );
    aws.teardown().await;
}

#[tokio::test]
async fn table_write_and_read_with_a_condition() {
    let aws = AwsStandIn::provision().await.expect("stand-in");
    let table = aws.table("StateTable");
    let put_once = || {
        aws.dynamodb
            .put_item()
            .table_name(table)
            .item("pk", s("CONN#c1"))
            .item("sk", s("PROJ#42"))
            .item("last_head", s("abc"))
            .condition_expression("attribute_not_exists(pk)")
            .send()
    };
    put_once().await.expect("first conditional put");
    let second = put_once()
        .await
        .expect_err("second put must fail its condition");
    assert!(
        second
            .as_service_error()
            .is_some_and(|e| e.is_conditional_check_failed_exception()),
        "{second:?}"
    );

    // A conditional update that only moves last_head forward from the value we read.
    aws.dynamodb
        .update_item()
        .table_name(table)
        .key("pk", s("CONN#c1"))
        .key("sk", s("PROJ#42"))
        .update_expression("SET last_head = :new")
        .condition_expression("last_head = :old")
        .expression_attribute_values(":new", s("def"))
        .expression_attribute_values(":old", s("abc"))
        .send()
        .await
        .expect("update from the expected head");
    let item = aws
        .dynamodb
        .get_item()
        .table_name(table)
        .key("pk", s("CONN#c1"))
        .key("sk", s("PROJ#42"))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["last_head"], s("def"));

    // Batch writes of 25 (AWS's limit), then the GSI answers a time-range query.
    let commits = aws.table("CommitsTable");
    let writes: Vec<WriteRequest> = (0..25)
        .map(|i| {
            let put = PutRequest::builder()
                .item("project_key", s("c1#42"))
                .item("sha", s(&format!("{i:040x}")))
                .item(
                    "committed_at",
                    s(&format!("2024-01-{:02}T00:00:00Z", i + 1)),
                )
                .build()
                .unwrap();
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    let out = aws
        .dynamodb
        .batch_write_item()
        .request_items(commits, writes)
        .send()
        .await
        .unwrap();
    assert!(out.unprocessed_items.unwrap_or_default().is_empty());
    let in_range = aws
        .dynamodb
        .query()
        .table_name(commits)
        .index_name("by_committed_at")
        .key_condition_expression("project_key = :p AND committed_at BETWEEN :a AND :b")
        .expression_attribute_values(":p", s("c1#42"))
        .expression_attribute_values(":a", s("2024-01-10T00:00:00Z"))
        .expression_attribute_values(":b", s("2024-01-14T23:59:59Z"))
        .send()
        .await
        .unwrap();
    assert_eq!(in_range.count, 5);

    let delete = DeleteRequest::builder()
        .key("project_key", s("c1#42"))
        .key("sha", s(&format!("{:040x}", 0)))
        .build()
        .unwrap();
    aws.dynamodb
        .batch_write_item()
        .request_items(
            commits,
            vec![WriteRequest::builder().delete_request(delete).build()],
        )
        .send()
        .await
        .unwrap();
    let remaining = aws
        .dynamodb
        .query()
        .table_name(commits)
        .key_condition_expression("project_key = :p")
        .expression_attribute_values(":p", s("c1#42"))
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(remaining.count, 24);
    aws.teardown().await;
}

#[tokio::test]
async fn queue_send_receive_delete_in_batches() {
    let aws = AwsStandIn::provision().await.expect("stand-in");
    let queue = &aws.queue("SyncQueue").url;
    let entries: Vec<_> = (0..10)
        .map(|i| {
            SendMessageBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .message_body(format!(r#"{{"project_id":{i}}}"#))
                .build()
                .unwrap()
        })
        .collect();
    let sent = aws
        .sqs
        .send_message_batch()
        .queue_url(queue)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.successful().len(), 10);
    assert!(sent.failed().is_empty());

    let mut bodies = Vec::new();
    // Bounded: SQS may hand out fewer than asked per receive.
    for _ in 0..10 {
        // Received and deleted in one batch each, the deletes checked.
        let messages = aws.take_messages("SyncQueue").await;
        if messages.is_empty() {
            break;
        }
        bodies.extend(messages.into_iter().filter_map(|m| m.body));
    }
    bodies.sort();
    let mut expected: Vec<_> = (0..10)
        .map(|i| format!(r#"{{"project_id":{i}}}"#))
        .collect();
    expected.sort();
    assert_eq!(bodies, expected);
    aws.teardown().await;
}

#[tokio::test]
async fn secret_create_read_delete() {
    let aws = AwsStandIn::provision().await.expect("stand-in");
    let name = format!("gitlab-importer/test-{}", std::process::id());
    let created = aws
        .secrets
        .create_secret()
        .name(&name)
        .secret_string("glpat-not-a-real-token")
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("connection_id")
                .value("c1")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = created.arn.unwrap();
    let value = aws
        .secrets
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(value.secret_string(), Some("glpat-not-a-real-token"));

    aws.secrets
        .delete_secret()
        .secret_id(&arn)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    let described = aws
        .secrets
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    assert!(
        described.deleted_date.is_some(),
        "scheduled for deletion, not gone at once"
    );
    let read_after = aws.secrets.get_secret_value().secret_id(&arn).send().await;
    assert!(
        read_after.is_err(),
        "a secret scheduled for deletion cannot be read"
    );
    aws.teardown().await;
}

/// DynamoDB applies each request atomically; moto's server alone does not (its DynamoDB backend has no lock, and
/// it answers on several threads), so `scripts/moto_server.py` serialises its DynamoDB requests. Tests that race
/// conditional writes (leases, credential versions) or count stored commits rely on this.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writes_keep_dynamodb_guarantees() {
    const RACERS: usize = 8;
    let aws = AwsStandIn::provision().await.expect("stand-in");
    let (state, commits) = (aws.table("StateTable"), aws.table("CommitsTable"));
    let mut double_winners = 0;
    let mut lost = 0;
    for round in 0..40 {
        let takes = (0..RACERS).map(|racer| {
            aws.dynamodb
                .update_item()
                .table_name(state)
                .key("pk", s("LEASE"))
                .key("sk", s(&round.to_string()))
                .update_expression("SET holder = :h")
                .condition_expression("attribute_not_exists(pk)")
                .expression_attribute_values(":h", s(&racer.to_string()))
                .send()
        });
        let winners = futures::future::join_all(takes)
            .await
            .into_iter()
            .filter(Result::is_ok)
            .count();
        double_winners += usize::from(winners != 1);

        // Batches that open a new partition at once.
        let partition = format!("race#{round}");
        let batches = (0..RACERS).map(|racer| {
            let writes: Vec<WriteRequest> = (0..25)
                .map(|i| {
                    let put = PutRequest::builder()
                        .item("project_key", s(&partition))
                        .item("sha", s(&format!("{racer:02}{i:038x}")))
                        .build()
                        .unwrap();
                    WriteRequest::builder().put_request(put).build()
                })
                .collect();
            aws.dynamodb
                .batch_write_item()
                .request_items(commits, writes)
                .send()
        });
        for written in futures::future::join_all(batches).await {
            assert!(
                written
                    .unwrap()
                    .unprocessed_items
                    .unwrap_or_default()
                    .is_empty()
            );
        }
        let stored = aws
            .dynamodb
            .query()
            .table_name(commits)
            .key_condition_expression("project_key = :p")
            .expression_attribute_values(":p", s(&partition))
            .select(aws_sdk_dynamodb::types::Select::Count)
            .send()
            .await
            .unwrap()
            .count;
        lost += RACERS * 25 - usize::try_from(stored).unwrap();
    }
    assert_eq!(
        (double_winners, lost),
        (0, 0),
        "rounds whose conditional update did not have exactly one winner, and items lost"
    );
    aws.teardown().await;
}
