//! Consuming a topic in batches: the bus's own helpers (`bus::batch`), named here for the
//! handlers.

pub use bus::batch::{commit, next_batch, BatchLimits};

use std::collections::HashMap;

use fspiop::envelope::Message;
use service_kit::telemetry::{Hop, HopKind};

use crate::error::Result;

/// The `ledger-batch` hops of one batch: a span per message, in the trace the message
/// carries (a batch mixes many payments, so it cannot be one span of one trace). The
/// notifications the batch produces carry the hop of the message they answer (matched by
/// transfer id), so the trace continues from the ledger to the callbacks. The spans end when
/// this is dropped, after the batch's notifications are on the bus.
pub struct BatchHops {
    handler: &'static str,
    hops: HashMap<String, Hop>,
    messages: usize,
}

impl BatchHops {
    pub fn new(handler: &'static str) -> BatchHops {
        BatchHops {
            handler,
            hops: HashMap::new(),
            messages: 0,
        }
    }

    /// Starts the hop of one message of the batch.
    pub fn add(&mut self, message: &Message) {
        self.messages += 1;
        let handler = self.handler;
        self.hops.entry(message.id.clone()).or_insert_with(|| {
            Hop::start(
                HopKind::LedgerBatch,
                &format!("{handler} batch"),
                "central-ledger",
                message.trace_context().as_ref(),
            )
        });
    }

    /// Gives each outgoing message the context of the hop of its transfer, when it has one.
    pub fn stamp(&self, outgoing: &mut [Message]) {
        for hop in self.hops.values() {
            hop.record_batch_size(self.messages);
        }
        for message in outgoing {
            if let Some(context) = self.hops.get(&message.id).and_then(Hop::context) {
                message.set_trace_context(context);
            }
        }
    }
}

/// Attempts at a batch before its senders are told 2001.
pub const ATTEMPTS_MAX: u32 = 3;
/// Pause before the second attempt; each later one waits this much longer.
const RETRY_DELAY_MS: u64 = 200;

/// Runs one batch's `attempt` until it succeeds, breaks an invariant (never retried) or has
/// failed [`ATTEMPTS_MAX`] times; returns the last outcome. A broken invariant is counted under
/// `handler` (`moja_cl_invariant_breaks_total`).
pub async fn retrying<T, F, Fut>(
    handler: &str,
    metrics: &crate::Metrics,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut n: u32 = 1;
    loop {
        match attempt().await {
            Err(error) if n < ATTEMPTS_MAX && !error.is_invariant() => {
                tracing::warn!(%error, attempt = n, handler, "batch failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(
                    RETRY_DELAY_MS * u64::from(n),
                ))
                .await;
                n += 1;
            }
            Err(error) => {
                if error.is_invariant() {
                    metrics.invariant_breaks.inc(&[handler]);
                }
                return Err(error);
            }
            ok => return ok,
        }
    }
}
