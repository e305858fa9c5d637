//! Consuming a topic in batches: wait for one message, then take what else arrives within
//! `batch_wait_ms`, up to `batch_size_max`; hand the batch over; commit the offsets only
//! after it was handled (at-least-once; the handlers' duplicate checks make a replay safe).

use std::time::Duration;

use crate::{Consumer, Record};

/// How big a batch may get and how long to wait for it to fill.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub batch_size_max: usize,
    pub batch_wait_ms: u64,
}

/// Pause after a consumer error (a broker that is down reports one per attempt).
const CONSUMER_ERROR_PAUSE_MS: u64 = 100;

/// Waits for the next batch; `None` when `stop` fired.
pub async fn next_batch(
    consumer: &Consumer,
    batch_size_max: usize,
    batch_wait_ms: u64,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<Vec<Record>> {
    let mut batch = Vec::new();
    loop {
        let first = tokio::select! {
            _ = stop.changed() => return None,
            received = consumer.recv() => received,
        };
        match first {
            Ok(message) => {
                batch.push(message);
                break;
            }
            Err(error) => {
                tracing::warn!(%error, "consumer error");
                tokio::time::sleep(Duration::from_millis(CONSUMER_ERROR_PAUSE_MS)).await;
            }
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(batch_wait_ms);
    while batch.len() < batch_size_max {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(message)) => batch.push(message),
            Ok(Err(error)) => tracing::warn!(%error, "consumer error"),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// Commits the position after the last message of each partition in `batch`.
pub fn commit(consumer: &Consumer, batch: &[Record]) {
    if let Err(error) = consumer.commit_records(batch) {
        tracing::warn!(%error, "offset commit failed");
    }
}
