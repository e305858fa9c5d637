//! The process's stop signal: a future that resolves on SIGINT (ctrl-c) or SIGTERM (what
//! Kubernetes and docker send), for `axum::serve(..).with_graceful_shutdown(..)` and for
//! consumers that finish their batch before exiting.

/// Resolves when the process receives SIGINT or SIGTERM, logging which. The handlers are
/// installed when the future is first polled. If a handler cannot be installed this is
/// logged and only the other signal is awaited. The future is `Send + 'static`, as
/// `with_graceful_shutdown` needs.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(error.message = %error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!(signal = "SIGINT", "shutting down"),
        () = terminate() => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}

#[cfg(unix)]
async fn terminate() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut stream) => {
            stream.recv().await;
        }
        Err(error) => {
            tracing::warn!(error.message = %error, "cannot listen for SIGTERM");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::Poll;
    use std::time::Duration;

    fn assert_send_static<F: Future<Output = ()> + Send + 'static>(_: &F) {}

    #[test]
    fn future_is_send_and_static() {
        assert_send_static(&shutdown_signal());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn resolves_on_sigterm() {
        let mut signal = pin!(shutdown_signal());
        // The first poll installs the handlers, so the SIGTERM below cannot end the test
        // process.
        let pending =
            std::future::poll_fn(|cx| Poll::Ready(signal.as_mut().poll(cx).is_pending())).await;
        assert!(pending, "no signal has been sent yet");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(30), signal)
            .await
            .unwrap();
    }
}
