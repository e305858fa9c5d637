//! The service's Prometheus metrics, prefixed `moja_qs_` as Mojaloop's Quoting Service does.
//!
//! - `http_requests_total`, `http_request_duration_seconds`: every answered request.
//! - `quotes_total{action, outcome}`: processed requests by action (`post`, `put`, `error`,
//!   `get`) and outcome (`forwarded`, `rejected`: an error callback went to the requester,
//!   `failed`: not even the error callback could be sent).
//! - `forward_duration_seconds{action}`: the outbound call to the other DFSP.
//! - `error_callbacks_total{code}`: hub-originated error callbacks by error code.
//! - `store_write_seconds`, `store_write_rows_total`: the persistent writer's batches.

use service_kit::metrics::{Counter, Histogram, HttpMetrics, Registry, DEFAULT_BUCKETS_SECONDS};

/// Buckets for database batches, in seconds.
const WRITE_BUCKETS_SECONDS: [f64; 8] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5];

/// The metrics handles (cheap to clone).
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub http: HttpMetrics,
    quotes: Counter,
    forward_seconds: Histogram,
    error_callbacks: Counter,
    write_seconds: Histogram,
    write_rows: Counter,
}

impl Metrics {
    /// Registers the metrics in a new registry.
    pub fn new() -> Metrics {
        let registry = Registry::new("moja_qs_");
        let http = service_kit::metrics::http_request_metrics(&registry);
        Metrics {
            quotes: registry.counter(
                "quotes_total",
                "Quote requests and callbacks processed, by action and outcome",
                &["action", "outcome"],
            ),
            forward_seconds: registry.histogram(
                "forward_duration_seconds",
                "Time to deliver a request or callback to the other DFSP in seconds",
                &["action"],
                &DEFAULT_BUCKETS_SECONDS,
            ),
            error_callbacks: registry.counter(
                "error_callbacks_total",
                "Error callbacks the hub originated, by error code",
                &["code"],
            ),
            write_seconds: registry.histogram(
                "store_write_seconds",
                "Time to write one batch to the quotes database in seconds",
                &[],
                &WRITE_BUCKETS_SECONDS,
            ),
            write_rows: registry.counter(
                "store_write_rows_total",
                "Rows handed to the quotes database writer",
                &[],
            ),
            registry,
            http,
        }
    }

    /// One processed request.
    pub fn record_quote(&self, action: &str, outcome: &str) {
        self.quotes.inc(&[action, outcome]);
    }

    /// One outbound delivery.
    pub fn record_forward(&self, action: &str, seconds: f64) {
        self.forward_seconds.observe(&[action], seconds);
    }

    /// One hub-originated error callback.
    pub fn record_error_callback(&self, code: &str) {
        self.error_callbacks.inc(&[code]);
    }

    /// One writer batch.
    pub fn record_write(&self, rows: usize, seconds: f64) {
        self.write_seconds.observe(&[], seconds);
        self.write_rows
            .inc_by(&[], u64::try_from(rows).unwrap_or(u64::MAX));
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
