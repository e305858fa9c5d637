//! The asynchronous half of every request: after the synchronous checks a handler answers
//! 202/200 and the work (oracle calls, forwarding, callbacks) runs in a spawned task.
//!
//! At most `async_tasks_max` tasks run at once: a request waits for a free slot before it is
//! accepted, so a flood slows clients down instead of growing memory without bound. On
//! shutdown, [`Tasks::drain`] waits (bounded) for the tasks in flight.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fspiop::{ErrorCode, FspiopError};
use tokio::sync::Semaphore;

use crate::Metrics;

/// The bounded set of in-flight tasks; clones share it.
#[derive(Clone)]
pub struct Tasks {
    slots: Arc<Semaphore>,
    slots_max: u32,
    metrics: Metrics,
}

impl Tasks {
    pub fn new(slots_max: u32, metrics: Metrics) -> Tasks {
        Tasks {
            slots: Arc::new(Semaphore::new(slots_max as usize)),
            slots_max,
            metrics,
        }
    }

    /// Waits for a free slot, then runs `work` in a task named `flow` (for the metrics). Fails
    /// only when the service is shutting down (2003).
    pub async fn spawn<F>(&self, flow: &'static str, work: F) -> Result<(), FspiopError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let slot = self.slots.clone().acquire_owned().await.map_err(|_| {
            FspiopError::with_detail(
                ErrorCode::ServiceCurrentlyUnavailable,
                "the service is shutting down",
            )
        })?;
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            work.await;
            metrics
                .task_duration
                .observe(&[flow], started.elapsed().as_secs_f64());
            drop(slot);
        });
        Ok(())
    }

    /// Tasks running now.
    pub fn in_flight(&self) -> usize {
        (self.slots_max as usize).saturating_sub(self.slots.available_permits())
    }

    /// Stops accepting work and waits up to `timeout_ms` for the tasks in flight.
    pub async fn drain(&self, timeout_ms: u64) {
        let all = tokio::time::timeout(
            Duration::from_millis(timeout_ms),
            self.slots.acquire_many(self.slots_max),
        )
        .await;
        match all {
            Ok(Ok(_permits)) => {}
            Ok(Err(_)) => {}
            Err(_) => tracing::warn!(
                in_flight = self.in_flight(),
                "shutdown: tasks still running after the drain timeout"
            ),
        }
        self.slots.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_set_makes_the_next_request_wait_and_drain_waits_for_the_rest() {
        let tasks = Tasks::new(1, Metrics::new());
        let (release_first, first_released) = tokio::sync::oneshot::channel::<()>();
        tasks
            .spawn("first", async move {
                let _ = first_released.await;
            })
            .await
            .unwrap();
        assert_eq!(tasks.in_flight(), 1);

        // The second request cannot get a slot while the first task runs.
        let (second_done, second_finished) = tokio::sync::oneshot::channel::<()>();
        let waiting = {
            let tasks = tasks.clone();
            tokio::spawn(async move {
                tasks
                    .spawn("second", async move {
                        let _ = second_done.send(());
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the second spawn waits for a slot");
        release_first.send(()).unwrap();
        waiting.await.unwrap().unwrap();
        second_finished.await.unwrap();

        tasks.drain(1000).await;
        assert_eq!(tasks.in_flight(), 0);
        let refused = tasks.spawn("late", async {}).await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::ServiceCurrentlyUnavailable);
    }
}
