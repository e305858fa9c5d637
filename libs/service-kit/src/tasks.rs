//! Background tasks that must run until shutdown (a service's handlers, sweeps, metric
//! readers). One that ends before the service stops — it returned, or it panicked — is
//! recorded by name, so `/health` reports the service DOWN instead of the task vanishing while
//! the service looks well.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The watched tasks of one service (cheap to clone).
#[derive(Clone, Default)]
pub struct TaskWatch {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Set when the service stops: tasks ending after it are not failures.
    stopping: AtomicBool,
    /// Names of the tasks that ended early, and how.
    ended: Mutex<Vec<String>>,
}

impl TaskWatch {
    /// Spawns `task` as `name`; the handle resolves when it ends (however it ends).
    pub fn spawn<F>(&self, name: &str, task: F) -> tokio::task::JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let inner = self.inner.clone();
        let name = name.to_string();
        let running = tokio::spawn(task);
        tokio::spawn(async move {
            let how = match running.await {
                Ok(()) => "stopped".to_string(),
                Err(error) if error.is_panic() => "panicked".to_string(),
                Err(error) => format!("ended: {error}"),
            };
            if inner.stopping.load(Ordering::SeqCst) {
                return;
            }
            tracing::error!(task = %name, how = %how, "a background task ended before the service stopped; /health reports DOWN");
            if let Ok(mut ended) = inner.ended.lock() {
                ended.push(format!("{name} {how}"));
            }
        })
    }

    /// Marks the service as stopping: tasks that end from now on are not failures.
    pub fn stopping(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
    }

    /// The tasks that ended early (`"<name> panicked"`, `"<name> stopped"`); empty while all
    /// run.
    pub fn ended(&self) -> Vec<String> {
        self.inner
            .ended
            .lock()
            .map(|ended| ended.clone())
            .unwrap_or_default()
    }

    /// Whether every task still runs.
    pub fn healthy(&self) -> bool {
        self.ended().is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic, reason = "test code: a task that panics on purpose")]
    use super::*;

    #[tokio::test]
    async fn a_task_that_ends_early_is_named_and_one_that_ends_at_stop_is_not() {
        let watch = TaskWatch::default();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let long = watch.spawn("sweep", async move {
            let _ = stop_rx.await;
        });
        let crashed = watch.spawn("metrics", async { panic!("a bug") });
        let returned = watch.spawn("lag", async {});
        let _ = crashed.await;
        let _ = returned.await;
        let mut ended = watch.ended();
        ended.sort();
        assert_eq!(ended, vec!["lag stopped", "metrics panicked"]);
        assert!(!watch.healthy());
        watch.stopping();
        let _ = stop_tx.send(());
        let _ = long.await;
        assert_eq!(watch.ended().len(), 2);
    }
}
