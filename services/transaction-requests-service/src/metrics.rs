//! The service's Prometheus metrics, prefixed `moja_trs_` as Mojaloop's transaction requests
//! service's are.
//!
//! - `http_requests_total`, `http_request_duration_seconds`: every answered request.
//! - `messages_total{action, outcome}`: processed requests by action (`request`,
//!   `request-put`, `request-error`, `request-get`, `authorization-get`, `authorization-put`,
//!   `authorization-error`) and outcome (`forwarded`, `rejected`: an error callback went to
//!   the sender, `failed`: not even the error callback could be sent).
//! - `forward_duration_seconds{action}`: the outbound call to the other DFSP.
//! - `error_callbacks_total{code}`: hub-originated error callbacks by error code.

use service_kit::metrics::{Counter, Histogram, HttpMetrics, Registry, DEFAULT_BUCKETS_SECONDS};

/// The metrics handles (cheap to clone).
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub http: HttpMetrics,
    messages: Counter,
    forward_seconds: Histogram,
    error_callbacks: Counter,
}

impl Metrics {
    /// Registers the metrics in a new registry.
    pub fn new() -> Metrics {
        let registry = Registry::new("moja_trs_");
        let http = service_kit::metrics::http_request_metrics(&registry);
        Metrics {
            messages: registry.counter(
                "messages_total",
                "Transaction request and authorization messages processed, by action and outcome",
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
            registry,
            http,
        }
    }

    /// One processed message.
    pub fn record_message(&self, action: &str, outcome: &str) {
        self.messages.inc(&[action, outcome]);
    }

    /// One outbound delivery.
    pub fn record_forward(&self, action: &str, seconds: f64) {
        self.forward_seconds.observe(&[action], seconds);
    }

    /// One hub-originated error callback.
    pub fn record_error_callback(&self, code: &str) {
        self.error_callbacks.inc(&[code]);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
