//! Consuming a topic in batches: the bus's own helpers (`bus::batch`), named here for the
//! handlers.

pub use bus::batch::{commit, next_batch, BatchLimits};

use crate::error::Result;

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
