//! Central settlement: settlement windows, deferred net settlements and their position reset,
//! and immediate gross settlement, on the central ledger's database (spec central-ledger.md §6),
//! served as Mojaloop's central-settlement API (port 3007, base path `/v2`).
//!
//! Entry point: [`run`] (over Kafka) or [`run_with_bus`]; both take a bound listener and a
//! shutdown future, so tests drive it on port 0.

pub mod api;
pub mod config;
pub mod error;
pub mod gross;
pub mod settlements;
pub mod windows;

/// Small input helpers shared by the API.
pub(crate) mod error_helpers {
    use fspiop::ErrorCode;

    use crate::Error;

    pub fn bad(code: ErrorCode, detail: impl Into<String>) -> Error {
        Error::client(code, detail)
    }

    /// A path id: a positive integer.
    pub fn id_of(text: &str, what: &str) -> Result<u64, Error> {
        text.parse::<u64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| {
                bad(
                    ErrorCode::MalformedSyntax,
                    format!("{what} {text:?} is not a positive integer"),
                )
            })
    }
}

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fspiop::envelope::Message;
use service_kit::metrics::{Counter, HttpMetrics, Registry};
use tokio::net::TcpListener;

pub use config::Config;
pub use error::{Error, Result};

/// The settlement service's handle on the central ledger's database.
#[derive(Clone, Debug)]
pub struct Store {
    pub pool: sqlx::MySqlPool,
}

impl Store {
    pub fn new(pool: sqlx::MySqlPool) -> Store {
        Store { pool }
    }

    /// Whether the database answers (for `/health`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// The service's metrics.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub http: HttpMetrics,
    /// Windows closed (phase two done), by outcome.
    pub windows: Counter,
    /// `consumer_lag_messages{topic,partition,group}` of the close and gross handlers.
    pub consumer_lag: service_kit::metrics::ConsumerLagMetrics,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new("moja_cs_");
        let http = service_kit::metrics::http_request_metrics(&registry);
        let windows = registry.counter(
            "window_aggregation_total",
            "Settlement windows aggregated after a close",
            &["outcome"],
        );
        let consumer_lag = service_kit::metrics::consumer_lag_metrics(&registry);
        Metrics {
            registry,
            http,
            windows,
            consumer_lag,
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub producer: bus::Producer,
    pub config: Arc<Config>,
    pub metrics: Metrics,
    pub started: SystemTime,
    /// The close handler, the sweep, the gross handler and the lag reader; one that ended
    /// early makes `/health` DOWN.
    pub tasks: service_kit::tasks::TaskWatch,
}

/// Longest wait for queued messages to leave at shutdown.
const PRODUCER_FLUSH_TIMEOUT_MS: u64 = 5_000;
/// How long a health probe waits for the broker.
const BROKER_PROBE_TIMEOUT_MS: u64 = 2_000;

impl AppState {
    pub async fn broker_healthy(&self) -> bool {
        self.producer.healthy(BROKER_PROBE_TIMEOUT_MS).await
    }

    /// Puts the close of `window` on `topic-deferredsettlement-close` for the close handler.
    /// If the bus refuses it the window stays PROCESSING and the sweep aggregates it later.
    pub async fn announce_close(&self, window: u64, reason: &str) {
        let message = close_message(window, reason, &self.config.hub.name);
        let Ok(value) = serde_json::to_vec(&message) else {
            return;
        };
        let topic = self.config.topic(bus::TOPIC_DEFERREDSETTLEMENT_CLOSE);
        let key = window.to_string();
        if let Err(error) = self
            .producer
            .send(
                &topic,
                Some(&key),
                &value,
                self.config.server.request_timeout_ms,
            )
            .await
        {
            tracing::warn!(%error, window, "close message not sent; the sweep will aggregate the window");
        }
    }
}

/// The `deferredsettlement`/`close` message Mojaloop's handler reads.
pub fn close_message(window: u64, reason: &str, hub: &str) -> Message {
    let now = now_ms();
    let id = uuid::Uuid::new_v4().to_string();
    let mut message = Message::from_request(
        &id,
        hub,
        hub,
        Default::default(),
        None,
        None,
        "deferredsettlement",
        "close",
        now,
    );
    message.content.payload = serde_json::json!({ "settlementWindowId": window, "reason": reason });
    message
}

/// The window a close message is about.
pub fn closed_window(message: &Message) -> Option<u64> {
    let payload = fspiop::envelope::decode_payload(&message.content.payload)
        .ok()
        .and_then(|p| p.to_json().ok())
        .unwrap_or_else(|| message.content.payload.clone());
    let id = payload.get("settlementWindowId")?;
    id.as_u64()
        .or_else(|| id.as_str().and_then(|s| s.parse().ok()))
}

pub use service_kit::edge::now_ms;

/// The HTTP application (for tests that want to call it without a socket).
pub fn app(state: AppState) -> axum::Router {
    let metrics = state.metrics.http.clone();
    let service = state.config.telemetry.service_name.clone();
    let timeout_ms = state.config.server.request_timeout_ms;
    service_kit::edge::with_edges(api::router(state), metrics, timeout_ms, &service)
}

/// Connects to the central ledger's database (creating and migrating it when asked, as
/// `serve central-ledger --migrate` does).
pub async fn connect_store(config: &Config, migrate: bool) -> Result<Store> {
    if migrate {
        store::create_database_if_missing(&config.database.url, &config.database.name).await?;
    }
    let url = config.database_url()?;
    let pool = ::store::connect(
        &url,
        config.database.pool_size_max,
        config.database.acquire_timeout_ms,
    )
    .await?;
    if migrate {
        ::store::migrate_central_ledger(&pool).await?;
    }
    Ok(Store::new(pool))
}

/// Runs the settlement API, the close handler, the PROCESSING sweep and (when enabled) the
/// gross settlement handler over Kafka until `shutdown` resolves.
pub async fn run(
    config: Config,
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let bus = bus::Bus::Kafka(config.bus());
    run_with_bus(config, bus, store, listener, shutdown).await
}

/// [`run`] over the given bus.
pub async fn run_with_bus(
    config: Config,
    bus: bus::Bus,
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    // Whoever built the configuration, it is checked before anything starts.
    config
        .validate()
        .map_err(|invalid| Error::Internal(invalid.to_string()))?;
    let tls = config
        .tls
        .server()
        .map_err(|e| Error::Internal(format!("TLS: {e}")))?;
    let close_topic = config.topic(bus::TOPIC_DEFERREDSETTLEMENT_CLOSE);
    let notification_topic = config.topic(bus::TOPIC_NOTIFICATION_EVENT);
    bus.ensure_topics(
        &[
            (close_topic.as_str(), config.kafka.topic_partitions),
            (notification_topic.as_str(), config.kafka.topic_partitions),
        ],
        config.kafka.topic_create_timeout_ms,
    )
    .await
    .map_err(Error::Bus)?;
    let producer = bus.producer().map_err(Error::Bus)?;
    let metrics = Metrics::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    let watch = service_kit::tasks::TaskWatch::default();
    let consumer = bus
        .consumer(
            &config.topic(bus::GROUP_DEFERREDSETTLEMENT_CLOSE),
            &close_topic,
        )
        .map_err(Error::Bus)?;
    let mut lag_probes = vec![consumer.lag_probe()];
    tasks.push(watch.spawn(
        "close handler",
        run_close_handler(
            store.clone(),
            consumer,
            config.windows.clone(),
            metrics.clone(),
            stop_rx.clone(),
        ),
    ));
    tasks.push(watch.spawn(
        "processing sweep",
        run_processing_sweep(
            store.clone(),
            config.windows.clone(),
            metrics.clone(),
            stop_rx.clone(),
        ),
    ));
    if config.gross.enabled {
        let consumer = bus
            .consumer(
                &config.topic(bus::GROUP_SETTLEMENT_NOTIFICATION_EVENT),
                &notification_topic,
            )
            .map_err(Error::Bus)?;
        lag_probes.push(consumer.lag_probe());
        tasks.push(watch.spawn(
            "gross settlement handler",
            gross::run_handler(
                store.clone(),
                consumer,
                bus::batch::BatchLimits {
                    batch_size_max: config.gross.batch_size_max,
                    batch_wait_ms: config.gross.batch_wait_ms,
                },
                config.gross.models_cache_ms,
                stop_rx.clone(),
            ),
        ));
    }
    // Only with consumers to watch: a reader with nothing to read ends at once, and a watched
    // task that ended marks the process DOWN.
    if !lag_probes.is_empty() && config.metrics.consumer_lag_interval_ms > 0 {
        tasks.push(watch.spawn(
            "consumer lag reader",
            service_kit::metrics::run_consumer_lag(
                lag_probes,
                config.metrics.consumer_lag_interval_ms,
                stop_rx.clone(),
                metrics.consumer_lag.clone(),
            ),
        ));
    }
    let state = AppState {
        store,
        producer: producer.clone(),
        config: Arc::new(config),
        metrics,
        started: SystemTime::now(),
        tasks: watch.clone(),
    };
    let served = service_kit::tls::serve(listener, app(state), tls, shutdown).await;
    watch.stopping();
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    if let Err(error) = producer.flush(PRODUCER_FLUSH_TIMEOUT_MS).await {
        tracing::warn!(%error, "producer flush incomplete");
    }
    served.map_err(|e| Error::Internal(e.to_string()))
}

/// Aggregates one closed window, counting the outcome.
async fn aggregate_counted(
    store: &Store,
    window: u64,
    config: &config::WindowsConfig,
    metrics: &Metrics,
) {
    match windows::aggregate_with_retry(
        store,
        window,
        config.close_attempts_max,
        config.close_retry_delay_ms,
    )
    .await
    {
        Ok(windows::Aggregated::Closed(contents)) => {
            metrics.windows.inc(&["closed"]);
            tracing::info!(window, contents, "settlement window closed");
        }
        Ok(windows::Aggregated::Skipped(state)) => {
            metrics.windows.inc(&["skipped"]);
            tracing::debug!(
                window,
                ?state,
                "window not PROCESSING; nothing to aggregate"
            );
        }
        Err(error) => {
            metrics.windows.inc(&["failed"]);
            tracing::error!(%error, window, "window aggregation failed; it stays PROCESSING");
        }
    }
}

/// The deferred-settlement close handler: phase two of every close on the topic.
pub async fn run_close_handler(
    store: Store,
    consumer: bus::Consumer,
    config: config::WindowsConfig,
    metrics: Metrics,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // One close at a time: closes are rare and each is one transaction.
    while let Some(records) = bus::batch::next_batch(&consumer, 1, 0, &mut stop).await {
        for record in &records {
            let window = record
                .payload
                .as_deref()
                .and_then(|p| serde_json::from_slice::<Message>(p).ok())
                .filter(|m| m.metadata.event.action == "close")
                .and_then(|m| closed_window(&m));
            match window {
                Some(window) => aggregate_counted(&store, window, &config, &metrics).await,
                None => tracing::warn!(
                    offset = record.offset,
                    "close message without a window id; skipped"
                ),
            }
        }
        bus::batch::commit(&consumer, &records);
    }
}

/// Every `processing_sweep_interval_ms`, aggregates windows left PROCESSING for longer than
/// `processing_age_min_ms` (a close whose message never reached the handler).
pub async fn run_processing_sweep(
    store: Store,
    config: config::WindowsConfig,
    metrics: Metrics,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let interval = Duration::from_millis(config.processing_sweep_interval_ms.max(1));
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        match windows::stale_processing(&store, config.processing_age_min_ms).await {
            Ok(stale) => {
                for window in stale {
                    tracing::warn!(window, "window left PROCESSING; aggregating it now");
                    aggregate_counted(&store, window, &config, &metrics).await;
                }
            }
            Err(error) => tracing::warn!(%error, "sweep for PROCESSING windows failed"),
        }
    }
}
