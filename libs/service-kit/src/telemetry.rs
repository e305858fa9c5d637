//! Logging and distributed tracing.
//!
//! Logs: human-readable lines on stderr, filtered by `RUST_LOG` when it is set and valid, else
//! by the service's default directives (for example `"info,central_ledger=debug,sqlx=warn"`).
//!
//! Tracing: every hop of a message through the switch is a span — the inbound request at a
//! service's edge, a message taken off the bus, a ledger batch, a request or callback sent to
//! a participant — made with [`Hop`]. A hop's parent is the W3C trace context it came with
//! (`traceparent`/`tracestate` of a request, `metadata.trace` of a Kafka message); a hop
//! without one starts a new trace. What a hop sends on carries the hop's own context, so one
//! payment is one trace however many services, topics and DFSPs it crosses.
//!
//! The spans go to OpenTelemetry through `tracing-opentelemetry` and, when
//! `[telemetry] otlp_endpoint` is set, are exported over OTLP/HTTP (protobuf) by a batch
//! processor on its own thread: a bounded queue (`export_queue_spans_max`, spans beyond it are
//! dropped, never waited for), a batch size, an interval and a timeout on every export. With no
//! endpoint OpenTelemetry is not installed at all: a hop makes its own span id (and a trace id
//! when it starts a trace), so the context sent on is still its own, unsampled, and nothing is
//! recorded (the OpenTelemetry layer cost about 4 % of the switch's CPU with nothing to export).
//! Only hop spans reach OpenTelemetry; log lines never do.

use std::cell::Cell;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::OnceLock;
use std::time::Duration;

use fspiop::trace_context::{TraceContext, TraceParent};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use serde::Deserialize;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer as _;

/// Directives used when both `RUST_LOG` and the service's defaults are unusable.
const FALLBACK_DIRECTIVES: &str = "info";

/// The `tracing` target of hop spans: the only spans OpenTelemetry sees, and left out of the
/// log lines.
pub const HOP_TARGET: &str = "mojaloop::hop";

/// The path OTLP/HTTP collectors take traces on, added to `otlp_endpoint` unless it ends so.
pub const OTLP_TRACES_PATH: &str = "/v1/traces";

/// The `[telemetry]` section every service's configuration has.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// The OTLP/HTTP collector's base URL (`http://jaeger:4318`; `/v1/traces` is added);
    /// empty: spans are not exported.
    pub otlp_endpoint: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Share of new traces recorded, 0 to 1; a request that arrives with a `traceparent`
    /// follows its sender's sampled flag.
    pub sample_ratio: f64,
    /// Most finished spans waiting for export; more are dropped.
    pub export_queue_spans_max: usize,
    /// Most spans in one export request.
    pub export_batch_spans_max: usize,
    /// Longest time a finished span waits before its batch is sent.
    pub export_interval_ms: u64,
    /// Longest time one export request may take.
    pub export_timeout_ms: u64,
}

impl TelemetryConfig {
    /// Off, with the defaults every service ships.
    pub fn off(service_name: &str) -> TelemetryConfig {
        TelemetryConfig {
            otlp_endpoint: String::new(),
            service_name: service_name.to_string(),
            sample_ratio: 1.0,
            export_queue_spans_max: 2048,
            export_batch_spans_max: 512,
            export_interval_ms: 2000,
            export_timeout_ms: 10_000,
        }
    }

    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        !self.otlp_endpoint.trim().is_empty()
    }

    /// The URL spans are posted to.
    pub fn traces_url(&self) -> String {
        let base = self.otlp_endpoint.trim().trim_end_matches('/');
        if base.ends_with(OTLP_TRACES_PATH) {
            base.to_string()
        } else {
            format!("{base}{OTLP_TRACES_PATH}")
        }
    }

    /// Every problem with the section, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.exporting() {
            let url = self.otlp_endpoint.trim();
            let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
            if !scheme_ok || url.parse::<axum::http::Uri>().is_err() {
                problems.push(format!(
                    "telemetry.otlp_endpoint must be an http:// or https:// URL (got {url:?})"
                ));
            }
        }
        if self.service_name.trim().is_empty() {
            problems.push("telemetry.service_name must not be empty".to_string());
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            problems.push("telemetry.sample_ratio must be 0 to 1".to_string());
        }
        if self.export_queue_spans_max == 0 {
            problems.push("telemetry.export_queue_spans_max must be positive".to_string());
        }
        if self.export_batch_spans_max == 0
            || self.export_batch_spans_max > self.export_queue_spans_max
        {
            problems.push(
                "telemetry.export_batch_spans_max must be positive and at most export_queue_spans_max"
                    .to_string(),
            );
        }
        if self.export_interval_ms == 0 {
            problems.push("telemetry.export_interval_ms must be positive".to_string());
        }
        if self.export_timeout_ms == 0 {
            problems.push("telemetry.export_timeout_ms must be positive".to_string());
        }
        problems
    }
}

/// The `[telemetry]` section `mojaloop up` reads (environment `MOJALOOP__TELEMETRY__<KEY>`):
/// the whole switch is one process, so one exporter.
pub const UP_DEFAULTS_TOML: &str = r#"
[telemetry]
otlp_endpoint = ""
service_name = "mojaloop"
sample_ratio = 1.0
export_queue_spans_max = 2048
export_batch_spans_max = 512
export_interval_ms = 2000
export_timeout_ms = 10000
"#;

/// What holds the span exporter; [`Telemetry::shutdown`] sends what is still queued.
#[must_use = "keep it until the service stops, then call shutdown"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports what is queued (bounded by the export timeout) and stops the exporter. It
    /// blocks: call it after the async runtime has finished, never on one of its threads.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(error) = provider.shutdown() {
                eprintln!("telemetry: the last spans were not exported: {error}");
            }
        }
    }
}

/// Installs the global subscriber, writing to stderr, without span export. Calling it again
/// (another test, a second init in one process) does nothing.
pub fn init(default_directives: &str) {
    let _ = install(default_directives, None, Output::Stderr);
}

/// [`init`] with the service's `[telemetry]` section: spans exported when `otlp_endpoint` is
/// set. An exporter that cannot be built is an error (the configuration was checked first).
pub fn init_with(default_directives: &str, config: &TelemetryConfig) -> Result<Telemetry, String> {
    install(default_directives, Some(config), Output::Stderr)
}

/// [`init`] for tests: output goes through the test harness's capture, so it shows only for
/// failing tests. Hops get span ids (nothing is exported).
pub fn init_for_tests(default_directives: &str) {
    let _ = install(default_directives, None, Output::TestWriter);
}

enum Output {
    Stderr,
    TestWriter,
}

fn install(
    default_directives: &str,
    config: Option<&TelemetryConfig>,
    output: Output,
) -> Result<Telemetry, String> {
    let (filter, rejected) = filter(default_directives);
    let fallback;
    let config = match config {
        Some(config) => config,
        None => {
            fallback = TelemetryConfig::off("mojaloop");
            &fallback
        }
    };
    let provider = provider(config)?;
    let exporting = config.exporting();
    // Only when spans go somewhere: with nothing exported, hops make their own ids.
    let otel = exporting.then(|| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("mojaloop"))
            .with_threads(false)
            .with_location(false)
            .with_filter(filter_fn(|metadata| metadata.target() == HOP_TARGET))
    });
    let not_hops = filter_fn(|metadata| metadata.target() != HOP_TARGET);
    let fmt = match output {
        Output::Stderr => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            // Colour only on a terminal: piped to a file or a log collector, lines stay plain.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(filter)
            .with_filter(not_hops)
            .boxed(),
        Output::TestWriter => tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(filter)
            .with_filter(not_hops)
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init()
        .is_ok();
    if installed {
        let _ = HOP_IDS.set(if exporting {
            HopIds::OpenTelemetry
        } else {
            HopIds::Own
        });
    }
    report(installed, rejected);
    if installed && exporting {
        tracing::info!(
            endpoint = %config.traces_url(),
            service = %config.service_name,
            sample_ratio = config.sample_ratio,
            "exporting spans over OTLP/HTTP"
        );
    }
    Ok(Telemetry {
        provider: installed.then_some(provider),
    })
}

/// Where hops get their span ids, set by the first subscriber installed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HopIds {
    /// From the OpenTelemetry layer, which records and exports the spans.
    OpenTelemetry,
    /// Made by the hop itself: nothing is exported.
    Own,
}

static HOP_IDS: OnceLock<HopIds> = OnceLock::new();

thread_local! {
    /// SplitMix64 state for span and trace ids, seeded per thread from std's random hasher keys.
    static ID_STATE: Cell<u64> = Cell::new({
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        hasher.finish()
    });
}

/// A non-zero random 64-bit value (SplitMix64: ids need to be unique, not secret).
fn random_id() -> u64 {
    ID_STATE.with(|state| loop {
        let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        if z != 0 {
            return z;
        }
    })
}

/// The context a hop sends on when it makes its own ids: the parent's trace (a new one
/// without a parent), a new span id, not sampled (nothing is recorded), the parent's
/// `tracestate`.
fn own_context(parent: Option<&TraceContext>) -> TraceContext {
    let trace_id = match parent {
        Some(parent) => parent.parent.trace_id,
        None => {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&random_id().to_be_bytes());
            id[8..].copy_from_slice(&random_id().to_be_bytes());
            id
        }
    };
    TraceContext {
        parent: TraceParent {
            trace_id,
            parent_id: random_id().to_be_bytes(),
            flags: 0,
        },
        state: parent.and_then(|p| p.state.clone()),
    }
}

/// The tracer provider: sampled and exported when `otlp_endpoint` is set, else ids only.
fn provider(config: &TelemetryConfig) -> Result<SdkTracerProvider, String> {
    let resource = opentelemetry_sdk::Resource::builder_empty()
        .with_service_name(config.service_name.clone())
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    if !config.exporting() {
        return Ok(builder.with_sampler(Sampler::AlwaysOff).build());
    }
    let timeout = Duration::from_millis(config.export_timeout_ms);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(OtlpClient::new(timeout)?)
        .with_endpoint(config.traces_url())
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_timeout(timeout)
        .build()
        .map_err(|e| format!("telemetry: the OTLP exporter: {e}"))?;
    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(config.export_queue_spans_max)
        .with_max_export_batch_size(config.export_batch_spans_max)
        .with_scheduled_delay(Duration::from_millis(config.export_interval_ms))
        .build();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch)
        .build();
    Ok(builder
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sample_ratio,
        ))))
        .with_span_processor(processor)
        .build())
}

/// The exporter's HTTP client: the workspace's reqwest, blocking. The batch processor exports
/// on its own thread, so the blocking call never holds an async worker; every request is
/// bounded by the export timeout.
#[derive(Debug)]
struct OtlpClient {
    client: reqwest::blocking::Client,
}

/// Longest collector answer read.
const OTLP_RESPONSE_LEN_MAX_BYTES: u64 = 1 << 20;

impl OtlpClient {
    fn new(timeout: Duration) -> Result<OtlpClient, String> {
        // reqwest's blocking client runs its own runtime: built on a plain thread, so it may be
        // made from anywhere.
        std::thread::Builder::new()
            .name("otlp-client".to_string())
            .spawn(move || {
                reqwest::blocking::Client::builder()
                    .timeout(timeout)
                    .connect_timeout(timeout)
                    .build()
            })
            .map_err(|e| format!("telemetry: {e}"))?
            .join()
            .map_err(|_| "telemetry: building the OTLP client failed".to_string())?
            .map(|client| OtlpClient { client })
            .map_err(|e| format!("telemetry: the OTLP client: {e}"))
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpClient {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<
        opentelemetry_http::Response<opentelemetry_http::Bytes>,
        opentelemetry_http::HttpError,
    > {
        let (parts, body) = request.into_parts();
        let mut builder = self
            .client
            .request(parts.method, parts.uri.to_string())
            .body(body.to_vec());
        for (name, value) in &parts.headers {
            builder = builder.header(name, value);
        }
        let response = builder.send()?;
        let status = response.status();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(response, OTLP_RESPONSE_LEN_MAX_BYTES),
            &mut bytes,
        )?;
        Ok(opentelemetry_http::Response::builder()
            .status(status)
            .body(opentelemetry_http::Bytes::from(bytes))?)
    }
}

/// The part a hop plays, OpenTelemetry's span kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopKind {
    /// A request received at a service's edge (`edge`).
    Edge,
    /// A message taken off the bus (`bus`).
    Bus,
    /// A batch of messages handled by the ledger, one span per message (`ledger-batch`).
    LedgerBatch,
    /// A request forwarded to a participant (`forward`).
    Forward,
    /// A callback to a participant (`callback`).
    Callback,
}

impl HopKind {
    /// The `mojaloop.hop` attribute.
    pub fn name(self) -> &'static str {
        match self {
            HopKind::Edge => "edge",
            HopKind::Bus => "bus",
            HopKind::LedgerBatch => "ledger-batch",
            HopKind::Forward => "forward",
            HopKind::Callback => "callback",
        }
    }

    fn otel_kind(self) -> &'static str {
        match self {
            HopKind::Edge => "server",
            HopKind::Bus | HopKind::LedgerBatch => "consumer",
            HopKind::Forward | HopKind::Callback => "client",
        }
    }
}

/// One hop of a message through the switch: a span, and the trace context what it sends on
/// carries. Dropping it ends the span.
#[derive(Debug)]
pub struct Hop {
    span: tracing::Span,
    context: Option<TraceContext>,
}

impl Hop {
    /// Starts a hop named `name` (`POST /transfers`) of `service`, the child of `parent` (a new
    /// trace without one).
    pub fn start(kind: HopKind, name: &str, service: &str, parent: Option<&TraceContext>) -> Hop {
        let span = tracing::span!(
            target: HOP_TARGET,
            parent: None,
            tracing::Level::INFO,
            "hop",
            otel.name = %name,
            otel.kind = kind.otel_kind(),
            otel.status_code = tracing::field::Empty,
            mojaloop.hop = kind.name(),
            mojaloop.service = %service,
            http.response.status_code = tracing::field::Empty,
            messaging.batch.message_count = tracing::field::Empty,
            server.address = tracing::field::Empty,
        );
        if HOP_IDS.get() == Some(&HopIds::Own) {
            return Hop {
                span,
                context: Some(own_context(parent)),
            };
        }
        if let Some(parent) = parent {
            // Fails only without the OpenTelemetry layer (a process that did not `init`).
            let _ = span.set_parent(otel_context(parent));
        }
        let own = span.context().span().span_context().clone();
        let context = if own.is_valid() {
            let state = own.trace_state().header();
            // A `tracestate` OpenTelemetry's stricter parser refused still goes on as received.
            let state = if state.is_empty() {
                parent.and_then(|p| p.state.clone())
            } else {
                Some(state)
            };
            Some(TraceContext {
                parent: TraceParent {
                    trace_id: own.trace_id().to_bytes(),
                    parent_id: own.span_id().to_bytes(),
                    flags: u8::from(own.is_sampled()),
                },
                state,
            })
        } else {
            // No OpenTelemetry here: the context passes through unchanged.
            parent.cloned()
        };
        Hop { span, context }
    }

    /// The span, to instrument the hop's work with.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The trace context to send on: this hop's own (its span id as the parent), or the one
    /// it came with when spans are not made.
    pub fn context(&self) -> Option<&TraceContext> {
        self.context.as_ref()
    }

    /// Records the HTTP status of the request or answer; 5xx marks the span an error.
    pub fn record_status(&self, status: u16) {
        self.span.record("http.response.status_code", status);
        if status >= 500 {
            self.span.record("otel.status_code", "ERROR");
        }
    }

    /// Marks the hop failed.
    pub fn record_error(&self) {
        self.span.record("otel.status_code", "ERROR");
    }

    /// Records how many messages the hop's batch held.
    pub fn record_batch_size(&self, messages: usize) {
        self.span
            .record("messaging.batch.message_count", messages as u64);
    }

    /// Records the peer a forward or callback went to.
    pub fn record_peer(&self, peer: &str) {
        self.span.record("server.address", peer);
    }
}

/// An OpenTelemetry context whose remote parent is `parent`.
fn otel_context(parent: &TraceContext) -> opentelemetry::Context {
    let state = parent
        .state
        .as_deref()
        .and_then(|s| s.parse::<TraceState>().ok())
        .unwrap_or_default();
    let span_context = SpanContext::new(
        TraceId::from_bytes(parent.parent.trace_id),
        SpanId::from_bytes(parent.parent.parent_id),
        TraceFlags::new(parent.parent.flags),
        true,
        state,
    );
    opentelemetry::Context::new().with_remote_span_context(span_context)
}

/// The filter, and the directives that were rejected on the way (`RUST_LOG` or defaults).
fn filter(default_directives: &str) -> (EnvFilter, Option<String>) {
    let mut rejected = None;
    if let Ok(from_env) = std::env::var(EnvFilter::DEFAULT_ENV) {
        match EnvFilter::try_new(&from_env) {
            Ok(filter) => return (filter, None),
            Err(_) => rejected = Some(format!("{}={from_env}", EnvFilter::DEFAULT_ENV)),
        }
    }
    match EnvFilter::try_new(default_directives) {
        Ok(filter) => (filter, rejected),
        Err(_) => (
            EnvFilter::new(FALLBACK_DIRECTIVES),
            Some(default_directives.to_string()),
        ),
    }
}

fn report(installed: bool, rejected: Option<String>) {
    if let (true, Some(directives)) = (installed, rejected) {
        tracing::warn!(%directives, "invalid log directives ignored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_is_idempotent() {
        init_for_tests("info");
        init("debug");
        init_for_tests("not a [valid directive");
        tracing::info!("still logging");
    }

    #[test]
    fn invalid_defaults_fall_back() {
        // RUST_LOG is not set by `cargo test`; if a developer sets it, it decides.
        if std::env::var(EnvFilter::DEFAULT_ENV).is_err() {
            let (filter, rejected) = filter("[[");
            assert_eq!(filter.to_string(), FALLBACK_DIRECTIVES);
            assert_eq!(rejected.as_deref(), Some("[["));
            let (filter, rejected) = filter_ok("warn,service_kit=debug");
            assert!(filter.contains("service_kit=debug"), "{filter}");
            assert!(rejected.is_none());
        }
    }

    fn filter_ok(directives: &str) -> (String, Option<String>) {
        let (filter, rejected) = filter(directives);
        (filter.to_string(), rejected)
    }

    #[test]
    fn hops_continue_the_trace_they_came_with() {
        init_for_tests("info");
        let parent = TraceContext::from_headers([
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("tracestate", "rojo=00f067aa0ba902b7"),
        ])
        .unwrap_or_else(|| panic!("valid"));
        let hop = Hop::start(HopKind::Edge, "POST /transfers", "test", Some(&parent));
        let own = hop
            .context()
            .cloned()
            .unwrap_or_else(|| panic!("a context"));
        assert_eq!(own.parent.trace_id, parent.parent.trace_id);
        assert_ne!(own.parent.parent_id, parent.parent.parent_id);
        assert_eq!(own.state.as_deref(), Some("rojo=00f067aa0ba902b7"));
        // Not exporting: not sampled.
        assert!(!own.parent.sampled());
        let child = Hop::start(HopKind::Callback, "PUT /transfers", "test", Some(&own));
        assert_eq!(
            child.context().map(|c| c.parent.trace_id),
            Some(parent.parent.trace_id)
        );
        // No parent: a new trace.
        let root = Hop::start(HopKind::Edge, "GET /parties", "test", None);
        let root = root
            .context()
            .cloned()
            .unwrap_or_else(|| panic!("a context"));
        assert_ne!(root.parent.trace_id, parent.parent.trace_id);
    }

    #[test]
    fn configuration_problems_name_their_keys() {
        let mut config = TelemetryConfig::off("svc");
        assert!(config.problems().is_empty());
        assert!(!config.exporting());
        config.otlp_endpoint = "jaeger:4318".to_string();
        config.sample_ratio = 1.5;
        config.export_queue_spans_max = 0;
        config.export_timeout_ms = 0;
        let problems = config.problems().join("; ");
        for key in [
            "otlp_endpoint",
            "sample_ratio",
            "export_queue_spans_max",
            "export_batch_spans_max",
            "export_timeout_ms",
        ] {
            assert!(problems.contains(key), "{key}: {problems}");
        }
        config.otlp_endpoint = "http://jaeger:4318/".to_string();
        assert_eq!(config.traces_url(), "http://jaeger:4318/v1/traces");
        config.otlp_endpoint = "https://collector/v1/traces".to_string();
        assert_eq!(config.traces_url(), "https://collector/v1/traces");
    }

    #[test]
    fn up_defaults_parse() {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Up {
            telemetry: TelemetryConfig,
        }
        let up: Up = crate::config::load_from_env_map(
            UP_DEFAULTS_TOML,
            None,
            "MOJALOOP",
            [(
                "MOJALOOP__TELEMETRY__OTLP_ENDPOINT".to_string(),
                "http://127.0.0.1:4318".to_string(),
            )],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(up.telemetry.exporting());
        assert!(up.telemetry.problems().is_empty());
        assert_eq!(
            TelemetryConfig {
                otlp_endpoint: String::new(),
                ..up.telemetry
            },
            TelemetryConfig::off("mojaloop")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spans_are_exported_as_otlp_protobuf() {
        use opentelemetry::trace::{Span as _, Tracer as _};
        use prost::Message as _;
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = received.clone();
        let router = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| async move {
                let request = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(body)
                    .unwrap_or_default();
                for resource in request.resource_spans {
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            if let Ok(mut names) = sink.lock() {
                                names.push(span.name);
                            }
                        }
                    }
                }
                axum::http::StatusCode::OK
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        let mut config = TelemetryConfig::off("svc");
        config.otlp_endpoint = format!("http://{address}");
        let names = tokio::task::spawn_blocking(move || {
            let provider = provider(&config).unwrap_or_else(|e| panic!("{e}"));
            let mut span = provider.tracer("t").start("exported");
            span.end();
            let _ = provider.force_flush();
            let _ = provider.shutdown();
        })
        .await;
        assert!(names.is_ok());
        let names = received.lock().map(|n| n.clone()).unwrap_or_default();
        assert_eq!(names, vec!["exported".to_string()]);
    }
}
