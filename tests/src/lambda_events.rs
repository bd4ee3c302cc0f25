//! The events AWS sends the functions, and what an SQS event source mapping does with the answers: shared by the
//! local run (handlers in process) and the artifact run (the built binaries behind a runtime API).
//! - [`credentials_api_event`]: API Gateway's HTTP API payload 2.0 for a credentials API route, with the IAM
//!   identity its authorizer adds (the sample in `events/`, re-aimed);
//! - [`scheduled_event`]: what EventBridge Scheduler delivers for a schedule of the template;
//! - [`sqs_event`] and [`SqsSource`]: a batch of received messages as the Lambda SQS event, then deleting what
//!   succeeded and handing back what the function reported as batch item failures.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::local_run::{LocalRunError, aws_failure};

/// One API call as API Gateway delivers it to the credentials API function with an IAM identity; `route` may end
/// in a query string (`projects.list?limit=2`).
pub fn credentials_api_event(
    connection: &str,
    method: &str,
    route: &str,
    body: Option<&Value>,
) -> Value {
    let mut event: Value =
        serde_json::from_str(include_str!("../../events/apigw-credentials-create.json"))
            .expect("the sample event is JSON");
    let (route, query) = route.split_once('?').unwrap_or((route, ""));
    let path = format!("/connections/{connection}/{route}");
    event["rawPath"] = path.clone().into();
    event["requestContext"]["http"]["path"] = path.into();
    event["requestContext"]["http"]["method"] = method.into();
    event["pathParameters"]["connection_id"] = connection.into();
    event["pathParameters"]["proxy"] = route.into();
    // As API Gateway gives a query string (the tests' values need no decoding): raw, and the first of each name.
    event["rawQueryString"] = query.into();
    let mut parameters = serde_json::Map::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        parameters.entry(name).or_insert_with(|| value.into());
    }
    if !parameters.is_empty() {
        event["queryStringParameters"] = parameters.into();
    }
    match body {
        Some(body) => {
            let body = body.to_string();
            event["headers"]["content-length"] = body.len().to_string().into();
            event["body"] = body.into();
        }
        None => {
            if let Some(headers) = event["headers"].as_object_mut() {
                headers.remove("content-length");
                headers.remove("content-type");
            }
            event["body"] = Value::Null;
        }
    }
    event
}

/// What EventBridge Scheduler delivers at `now`: the schedule's `Input` with its context attributes filled in, or
/// without one, EventBridge's scheduled event.
pub fn scheduled_event(
    input: Option<&str>,
    schedule_arn: &str,
    region: &str,
    account_id: &str,
) -> Value {
    let now = OffsetDateTime::now_utc();
    let time = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .expect("formats");
    let execution_id = crate::gitlab_sim::hooks::uuid();
    match input {
        Some(input) => {
            let filled = input
                .replace("<aws.scheduler.scheduled-time>", &time)
                .replace("<aws.scheduler.execution-id>", &execution_id)
                .replace("<aws.scheduler.schedule-arn>", schedule_arn)
                .replace("<aws.scheduler.attempt-number>", "0");
            serde_json::from_str(&filled).unwrap_or(Value::String(filled))
        }
        None => json!({
            "version": "0",
            "id": execution_id,
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "account": account_id,
            "time": time,
            "region": region,
            "resources": [schedule_arn],
            "detail": {},
        }),
    }
}

/// The Lambda SQS event of received `messages` of the queue `queue_arn`.
pub fn sqs_event(messages: &[Message], queue_arn: &str, region: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: BTreeMap<String, String> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// One queue as an event source mapping polls it.
#[derive(Debug, Clone, Copy)]
pub struct SqsSource<'a> {
    pub sqs: &'a aws_sdk_sqs::Client,
    pub url: &'a str,
}

impl SqsSource<'_> {
    /// Up to `batch_size` messages, waiting at most a second for the first.
    pub async fn receive(&self, batch_size: i32) -> Result<Vec<Message>, LocalRunError> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(self.url)
            .max_number_of_messages(batch_size)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(aws_failure("ReceiveMessage"))?;
        Ok(received.messages.unwrap_or_default())
    }

    /// Deletes the messages the function handled, and makes the ones it reported failed (`failed`: their
    /// message ids) visible again after `redelivery` (the deployed queue waits its visibility timeout).
    pub async fn settle_batch(
        &self,
        messages: &[Message],
        failed: &[&str],
        redelivery: Duration,
    ) -> Result<(), LocalRunError> {
        let (retry, done): (Vec<&Message>, Vec<&Message>) = messages
            .iter()
            .partition(|m| failed.contains(&m.message_id().unwrap_or_default()));
        if !done.is_empty() {
            let entries = done
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .set_receipt_handle(m.receipt_handle.clone())
                        .build()
                        .expect("id and receipt handle are set")
                })
                .collect();
            self.sqs
                .delete_message_batch()
                .queue_url(self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(aws_failure("DeleteMessageBatch"))?;
        }
        for message in retry {
            self.sqs
                .change_message_visibility()
                .queue_url(self.url)
                .set_receipt_handle(message.receipt_handle.clone())
                .visibility_timeout(redelivery.as_secs() as i32)
                .send()
                .await
                .map_err(aws_failure("ChangeMessageVisibility"))?;
        }
        Ok(())
    }

    /// Nothing visible, in flight or held back (another invocation may still be working and enqueue more; a push
    /// hook's message waits out its coalescing window).
    pub async fn is_settled(&self) -> Result<bool, LocalRunError> {
        let (visible, in_flight, delayed) = self.counts().await?;
        Ok(visible + in_flight + delayed == 0)
    }

    /// (visible, in flight, delayed) messages.
    pub async fn counts(&self) -> Result<(u64, u64, u64), LocalRunError> {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(aws_failure("GetQueueAttributes"))?
            .attributes
            .unwrap_or_default();
        let count = |name: &QueueAttributeName| {
            attributes
                .get(name)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok((
            count(&QueueAttributeName::ApproximateNumberOfMessages),
            count(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            count(&QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        ))
    }
}
