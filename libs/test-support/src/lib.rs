//! What the services' integration tests share, so each suite does not write it again: where
//! the real MySQL and Kafka are (`DATABASE_URL`, `KAFKA_BROKERS`), a fresh database name and
//! topic prefix per test, a free port, an axum router served as a fake DFSP, and waiting for a
//! service's `/health`. Used only as a dev-dependency.

#![allow(clippy::panic, reason = "test support: a failed expectation panics")]

use std::time::{Duration, Instant};

/// The MySQL server the tests use (`DATABASE_URL`, default `mysql://root@127.0.0.1:3306`).
pub fn database_server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string())
}

/// The Kafka brokers the tests use (`KAFKA_BROKERS`, default `127.0.0.1:9092`).
pub fn kafka_brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_string())
}

/// A test's own database name and topic prefix, so suites run in parallel.
#[derive(Debug, Clone)]
pub struct Isolation {
    /// `t_<32 hex>`.
    pub database: String,
    /// `t<12 hex>-`.
    pub topic_prefix: String,
}

/// A fresh [`Isolation`].
pub fn isolation() -> Isolation {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let short: String = id.chars().take(12).collect();
    Isolation {
        database: format!("t_{id}"),
        topic_prefix: format!("t{short}-"),
    }
}

/// Drops a test's database (errors ignored: the test is over).
pub async fn drop_database(name: &str) {
    let _ = store::drop_database_if_exists(&database_server_url(), name).await;
}

/// A port nobody listens on now, and one no outgoing connection will take before a child
/// process binds it: it comes from below the kernel's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`), where a port the kernel hands out for `:0`
/// would be (a busy test's outgoing connections took such a port between the hand-out and a
/// spawned service's bind: "Address already in use"). Never the same port twice in one process.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    if ephemeral_low <= LOW + 1_000 {
        return kernel_port();
    }
    let span = ephemeral_low - LOW;
    // Test binaries may run side by side: each starts at its own place in the span.
    let _ = NEXT.compare_exchange(
        0,
        1 + (std::process::id().wrapping_mul(7_919)) % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let candidate = LOW + NEXT.fetch_add(1, Ordering::SeqCst) % span;
        let Ok(port) = u16::try_from(candidate) else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    kernel_port()
}

fn kernel_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A listener on a port of its own and its base URL (`http://127.0.0.1:<port>`).
pub async fn listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let base = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    (listener, base)
}

/// Serves `router` (a fake DFSP, a callback catcher) on a port of its own; its base URL.
pub async fn serve(router: axum::Router) -> String {
    let (listener, base) = listener().await;
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// Waits until `base/health` answers 2xx, at most `timeout`; panics naming `base` otherwise.
pub async fn wait_healthy(client: &reqwest::Client, base: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !client
        .get(format!("{base}/health"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            Instant::now() < deadline,
            "{base} not healthy within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
