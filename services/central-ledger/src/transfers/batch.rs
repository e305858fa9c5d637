//! Consuming a topic in batches: wait for one message, then take what else arrives within
//! `batch_wait_ms`, up to `batch_size_max`; hand the batch over; commit the offsets only
//! after it was handled (at-least-once; the handlers' duplicate checks make a replay safe).

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Message as _, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};

/// How big a batch may get and how long to wait for it to fill.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub batch_size_max: usize,
    pub batch_wait_ms: u64,
}

/// Waits for the next batch; `None` when `stop` fired.
pub async fn next_batch(
    consumer: &StreamConsumer,
    batch_size_max: usize,
    batch_wait_ms: u64,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<Vec<OwnedMessage>> {
    let mut batch = Vec::new();
    loop {
        let first = tokio::select! {
            _ = stop.changed() => return None,
            received = consumer.recv() => received,
        };
        match first {
            Ok(message) => {
                batch.push(message.detach());
                break;
            }
            Err(error) => tracing::warn!(%error, "consumer error"),
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(batch_wait_ms);
    while batch.len() < batch_size_max {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(message)) => batch.push(message.detach()),
            Ok(Err(error)) => tracing::warn!(%error, "consumer error"),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// Commits the position after the last message of each partition in `batch`.
pub fn commit(consumer: &StreamConsumer, batch: &[OwnedMessage]) {
    let mut last: HashMap<(String, i32), i64> = HashMap::new();
    for message in batch {
        let key = (message.topic().to_string(), message.partition());
        let offset = last.entry(key).or_insert(message.offset());
        *offset = (*offset).max(message.offset());
    }
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in last {
        if let Err(error) = list.add_partition_offset(&topic, partition, Offset::Offset(offset + 1))
        {
            tracing::warn!(%error, "offset list");
        }
    }
    if let Err(error) = consumer.commit(&list, CommitMode::Async) {
        tracing::warn!(%error, "offset commit failed");
    }
}
