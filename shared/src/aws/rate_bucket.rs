//! The [`SlotStore`] port on the DynamoDB state table: a token's shared request timeline is one item,
//! `pk = CONN#<connection>`, `sk = RATE#<credential>`, holding `next_slot_us` (the next free slot, microseconds
//! since the Unix epoch) and `expires_at` (a day on, for the table's TTL: an idle timeline restarts anyway).
//!
//! A batch is one conditional `UpdateItem` when the token is busy (`next_slot_us` at or past the floor: add the
//! batch's span, atomically, whatever other processes did meanwhile), and two when it was idle (the first fails its
//! condition; the second restarts the timeline at the floor).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use futures::future::BoxFuture;

use super::condition_failed;
use super::keys::{connection_pk, rate_sk};
use crate::gitlab::shared_budget::{BucketKey, SlotRequest, SlotStore};
use crate::kernel::store::StoreError;

/// Rounds of (busy, idle) writes before giving up: each lost round means another process took slots meanwhile,
/// so the next busy write holds.
const MAX_ROUNDS: u32 = 4;

/// How long an untouched timeline is kept.
const RETENTION_SECONDS: i64 = 24 * 3600;

#[derive(Debug, Clone)]
pub struct DynamoSlotStore {
    client: Client,
    table: String,
}

impl DynamoSlotStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoSlotStore {
            client,
            table: table.into(),
        }
    }

    fn update(&self, key: &BucketKey, request: &SlotRequest) -> UpdateItemFluentBuilder {
        let expires_at = request.now_us / 1_000_000 + RETENTION_SECONDS;
        self.client
            .update_item()
            .table_name(&self.table)
            .key(
                "pk",
                AttributeValue::S(connection_pk(key.connection_id.as_str())),
            )
            .key("sk", AttributeValue::S(rate_sk(key.credential_id.as_str())))
            .expression_attribute_values(":floor", number(request.floor_us()))
            .expression_attribute_values(":expires", number(expires_at))
    }

    async fn take_slots(&self, key: &BucketKey, request: SlotRequest) -> Result<i64, StoreError> {
        let span = request.span_us();
        for _ in 0..MAX_ROUNDS {
            let busy = self
                .update(key, &request)
                .update_expression("SET next_slot_us = next_slot_us + :span, expires_at = :expires")
                .condition_expression("next_slot_us >= :floor")
                .expression_attribute_values(":span", number(span))
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match busy {
                Ok(output) => {
                    let next = output
                        .attributes
                        .as_ref()
                        .and_then(|a| a.get("next_slot_us"))
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse::<i64>().ok())
                        .ok_or_else(|| {
                            StoreError::unavailable("UpdateItem rate", "no next_slot_us returned")
                        })?;
                    return Ok(next.saturating_sub(span));
                }
                Err(error) if condition_failed(&error) => {}
                Err(error) => return Err(unavailable(&error)),
            }
            let idle = self
                .update(key, &request)
                .update_expression("SET next_slot_us = :restart, expires_at = :expires")
                .condition_expression("attribute_not_exists(next_slot_us) OR next_slot_us < :floor")
                .expression_attribute_values(
                    ":restart",
                    number(request.floor_us().saturating_add(span)),
                )
                .send()
                .await;
            match idle {
                Ok(_) => return Ok(request.floor_us()),
                Err(error) if condition_failed(&error) => {}
                Err(error) => return Err(unavailable(&error)),
            }
        }
        Err(StoreError::Conflict)
    }
}

impl SlotStore for DynamoSlotStore {
    fn take<'a>(
        &'a self,
        key: &'a BucketKey,
        request: SlotRequest,
    ) -> BoxFuture<'a, Result<i64, StoreError>> {
        Box::pin(self.take_slots(key, request))
    }
}

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unavailable(error: &SdkError<UpdateItemError>) -> StoreError {
    StoreError::unavailable("UpdateItem rate", DisplayErrorContext(error))
}
