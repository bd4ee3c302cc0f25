//! Sending sync messages with `SendMessageBatch`: at most ten a call, ids unique within the call, failed entries
//! (and calls that failed as a whole) retried a bounded number of times with jittered backoff. Whatever still
//! failed is reported by index, never dropped silently.

use std::time::Duration;

use futures::StreamExt;

use super::ports::{BatchEntry, BatchQueue};
use crate::backoff::jittered;
use crate::kernel::sync_message::SyncMessage;

/// How hard sending tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPolicy {
    /// Rounds per message (the first send included).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Batch calls in flight at once.
    pub concurrency: usize,
}

impl Default for SendPolicy {
    fn default() -> Self {
        SendPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            concurrency: 8,
        }
    }
}

/// What a send achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FanOut {
    pub sent: usize,
    /// Indexes (into the messages given) that could not be sent, with the last reason.
    pub failed: Vec<(usize, String)>,
    /// `SendMessageBatch` calls made.
    pub calls: u64,
}

/// Sends every message, in batches of [`BatchQueue::MAX_BATCH`].
pub async fn send_all<Q: BatchQueue>(
    queue: &Q,
    messages: &[SyncMessage],
    policy: SendPolicy,
) -> FanOut {
    let mut report = FanOut::default();
    let mut pending: Vec<usize> = (0..messages.len()).collect();
    let mut last_reason: Vec<(usize, String)> = Vec::new();
    let mut attempt = 0;
    while !pending.is_empty() && attempt < policy.max_attempts.max(1) {
        attempt += 1;
        if attempt > 1 {
            tokio::time::sleep(jittered(policy.base_delay, policy.max_delay, attempt - 1)).await;
        }
        let chunks: Vec<Vec<usize>> = pending
            .chunks(Q::MAX_BATCH)
            .map(<[usize]>::to_vec)
            .collect();
        let results: Vec<ChunkResult> = futures::stream::iter(chunks)
            .map(|chunk| send_chunk(queue, messages, chunk))
            .buffer_unordered(policy.concurrency.max(1))
            .collect()
            .await;
        report.calls += results.len() as u64;
        pending.clear();
        last_reason.clear();
        for (sent, failed) in results {
            report.sent += sent.len();
            for (index, reason, sender_fault) in failed {
                if sender_fault {
                    // The message itself is refused: another attempt cannot help.
                    report.failed.push((index, reason));
                } else {
                    pending.push(index);
                    last_reason.push((index, reason));
                }
            }
        }
        pending.sort_unstable();
    }
    report.failed.extend(last_reason);
    report.failed.sort_unstable();
    report
}

/// What one call did: the indexes sent, and those that failed with reason and sender fault.
type ChunkResult = (Vec<usize>, Vec<(usize, String, bool)>);

/// One `SendMessageBatch` call.
async fn send_chunk<Q: BatchQueue>(
    queue: &Q,
    messages: &[SyncMessage],
    chunk: Vec<usize>,
) -> ChunkResult {
    let ids: Vec<String> = chunk.iter().map(usize::to_string).collect();
    let entries: Vec<BatchEntry<'_>> = chunk
        .iter()
        .zip(&ids)
        .map(|(index, id)| BatchEntry {
            id,
            message: &messages[*index],
        })
        .collect();
    match queue.send_batch(&entries).await {
        Ok(failed) => {
            let mut failures = Vec::new();
            for entry in failed {
                if let Some(index) = entry.id.parse::<usize>().ok().filter(|i| chunk.contains(i)) {
                    failures.push((index, entry.code, entry.sender_fault));
                }
            }
            let sent = chunk
                .iter()
                .copied()
                .filter(|i| !failures.iter().any(|(f, _, _)| f == i))
                .collect();
            (sent, failures)
        }
        Err(error) => {
            tracing::warn!(error = %error, entries = chunk.len(), "SendMessageBatch failed");
            let reason = error.to_string();
            let failures = chunk.iter().map(|i| (*i, reason.clone(), false)).collect();
            (Vec::new(), failures)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::ids::{ConnectionId, CredentialId};
    use crate::testing::MemoryQueue;

    fn messages(n: u64) -> Vec<SyncMessage> {
        (1..=n)
            .map(|id| {
                SyncMessage::new(
                    ConnectionId::parse("c").unwrap(),
                    CredentialId::parse("k").unwrap(),
                    id,
                    format!("g/p{id}"),
                    "main",
                )
                .unwrap()
            })
            .collect()
    }

    fn quick() -> SendPolicy {
        SendPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            concurrency: 3,
        }
    }

    #[tokio::test]
    async fn sends_ten_a_call_and_retries_failed_entries() {
        let queue = MemoryQueue::default();
        for (project, times) in [(3, 1), (17, 2), (25, 1)] {
            queue.fail_project(project, times);
        }
        let all = messages(25);
        let report = send_all(&queue, &all, quick()).await;
        assert_eq!(report.sent, 25);
        assert!(report.failed.is_empty());
        let mut sent: Vec<u64> = queue.sent().iter().map(SyncMessage::project_id).collect();
        sent.sort_unstable();
        assert_eq!(
            sent,
            (1..=25).collect::<Vec<_>>(),
            "each message exactly once"
        );
        // 3 calls (10, 10, 5), then one retry call of 3 entries, then one of 1.
        assert_eq!(report.calls, 5);
        let mut sizes = queue.calls();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![1, 3, 5, 10, 10]);
    }

    #[tokio::test]
    async fn what_never_goes_through_is_reported_not_lost() {
        let queue = MemoryQueue::default();
        queue.fail_project(2, MemoryQueue::ALWAYS);
        queue.fail_project(4, 10);
        queue.fail_calls(1);
        let all = messages(12);
        let report = send_all(&queue, &all, quick()).await;
        assert_eq!(report.sent, 10);
        let failed: Vec<usize> = report.failed.iter().map(|(i, _)| *i).collect();
        // Indexes of projects 2 (refused at once, never retried) and 4 (still failing after 3 attempts).
        assert_eq!(failed, vec![1, 3]);
        assert_eq!(report.failed[0].1, "InvalidMessageContents");
    }
}
