//! Central ledger: the operator's admin API (participants, hub and DFSP accounts, limits and
//! initial positions, callback endpoints, settlement models, funds in and out) and the
//! admin-transfer handler that applies funds movements from `topic-admin-transfer`.
//!
//! Entry point: [`run`], which takes its configuration, a bound listener and a shutdown
//! future, so tests drive it on port 0.

pub mod api;
pub mod config;
pub mod error;
pub mod funds;
pub mod metrics;
pub mod store;
pub mod transfers;

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use service_kit::metrics::{Counter, HttpMetrics, Registry};
use tokio::net::TcpListener;

pub use config::Config;
pub use error::{Error, Result};
use store::Store;

/// Which handlers a process runs besides the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Handlers {
    /// The admin-transfer handler (funds in and out).
    pub admin: bool,
    /// The prepare handler (with the payer's position reservation).
    pub prepare: bool,
    /// The fulfil handler (with the commit or reversal of positions).
    pub fulfil: bool,
    /// The get handler.
    pub get: bool,
    /// The timeout handler.
    pub timeout: bool,
}

impl Handlers {
    /// Every handler.
    pub fn all() -> Handlers {
        Handlers {
            admin: true,
            prepare: true,
            fulfil: true,
            get: true,
            timeout: true,
        }
    }
}

impl Handlers {
    /// Parses `admin` (and, as they are built, the transfer handlers) from a comma list.
    pub fn parse(list: &str) -> std::result::Result<Handlers, String> {
        let mut handlers = Handlers::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "admin" => handlers.admin = true,
                "prepare" => handlers.prepare = true,
                "fulfil" => handlers.fulfil = true,
                "get" => handlers.get = true,
                "timeout" => handlers.timeout = true,
                // Mojaloop's separate position handler is folded into prepare and fulfil.
                "position" | "none" => {}
                other => return Err(format!("unknown handler {other:?}; the handlers are admin, prepare, position, fulfil, get, timeout")),
            }
        }
        Ok(handlers)
    }
}

/// The service's metrics.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub http: HttpMetrics,
    /// Funds commands handled, by outcome and resulting state.
    pub funds: Counter,
    /// Transfers handled, by phase and outcome.
    pub transfers: Counter,
    /// Positions, consumer lag and handler batches.
    pub ledger: metrics::LedgerMetrics,
    /// `invariant_breaks_total{handler}`: batches rolled back because a ledger invariant would
    /// have been broken (`ledger_book::invariant!`). Anything but 0 is a bug to investigate.
    pub invariant_breaks: Counter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new("moja_cl_");
        let http = service_kit::metrics::http_request_metrics(&registry);
        let funds = registry.counter(
            "admin_transfer_total",
            "Funds commands handled",
            &["outcome", "state"],
        );
        let transfers =
            registry.counter("transfer_total", "Transfers handled", &["phase", "outcome"]);
        let ledger = metrics::LedgerMetrics::new(&registry);
        let invariant_breaks = registry.counter(
            "invariant_breaks_total",
            "Batches rolled back because a ledger invariant would have been broken",
            &["handler"],
        );
        Metrics {
            registry,
            http,
            funds,
            transfers,
            ledger,
            invariant_breaks,
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
    /// The handlers and background readers; one that ended early makes `/health` DOWN.
    pub tasks: service_kit::tasks::TaskWatch,
}

/// Longest wait for queued messages to leave at shutdown.
const PRODUCER_FLUSH_TIMEOUT_MS: u64 = 5_000;

/// How long a health probe waits for the broker.
const BROKER_PROBE_TIMEOUT_MS: u64 = 2000;

impl AppState {
    /// Whether the broker answers a metadata request in time.
    pub async fn broker_healthy(&self) -> bool {
        self.producer.healthy(BROKER_PROBE_TIMEOUT_MS).await
    }

    pub async fn produce_funds(
        &self,
        command: &funds::FundsCommand,
        body: serde_json::Value,
    ) -> Result<()> {
        let timeout_ms = self.config.server.request_timeout_ms;
        let topic = self.config.topic(bus::TOPIC_ADMIN_TRANSFER);
        funds::produce(&self.producer, &topic, command, body, timeout_ms, now_ms()).await
    }

    /// Tells listeners (the notification handler) that a limit changed. Best effort: the
    /// limit is already stored, so a bus failure is logged, not returned.
    pub async fn notify_limit_adjustment(
        &self,
        participant: &str,
        currency: &str,
        value: ledger::Money,
    ) {
        let id = format!("limit-{participant}-{currency}-{}", now_ms());
        let mut message = fspiop::envelope::Message::from_request(
            &id,
            fspiop::envelope::HUB_NAME,
            participant,
            Default::default(),
            None,
            None,
            fspiop::envelope::event_type::NOTIFICATION,
            "limit-adjustment",
            now_ms(),
        );
        message.content.payload = serde_json::json!({
            "currency": currency,
            "limit": { "type": store::LIMIT_TYPE_NET_DEBIT_CAP, "value": value.to_string() },
        });
        let Ok(value) = serde_json::to_vec(&message) else {
            return;
        };
        let sent = self
            .producer
            .send(
                &self.config.topic(bus::TOPIC_NOTIFICATION_EVENT),
                None,
                &value,
                self.config.server.request_timeout_ms,
            )
            .await;
        if let Err(error) = sent {
            tracing::warn!(%error, "limit-adjustment notification not sent");
        }
    }
}

pub use service_kit::edge::now_ms;

/// The HTTP application (for tests that want to call it without a socket).
pub fn app(state: AppState) -> axum::Router {
    let metrics = state.metrics.http.clone();
    let service = state.config.telemetry.service_name.clone();
    let timeout_ms = state.config.server.request_timeout_ms;
    service_kit::edge::with_edges(api::router(state), metrics, timeout_ms, &service)
}

/// Connects to MySQL (creating the database when `create_database` is set and migrating when
/// `migrate` is set).
pub async fn connect_store(config: &Config, create_database: bool, migrate: bool) -> Result<Store> {
    if create_database {
        store::create_database_if_missing_for(config).await?;
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

/// Runs the admin API on `listener` (and the chosen handlers) over Kafka until `shutdown`
/// resolves; then stops taking requests, lets the handler finish the message in hand and
/// returns.
pub async fn run(
    config: Config,
    store: Store,
    handlers: Handlers,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let bus = bus::Bus::Kafka(config.bus());
    run_with_bus(config, bus, store, handlers, listener, shutdown).await
}

/// [`run`] over the given bus (Kafka, or the embedded bus of `mojaloop up`).
pub async fn run_with_bus(
    config: Config,
    bus: bus::Bus,
    store: Store,
    handlers: Handlers,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    // Whoever built the configuration (a file, the environment, `mojaloop up`, a test), it is
    // checked before anything starts.
    config
        .validate()
        .map_err(|invalid| Error::Internal(invalid.to_string()))?;
    let tls = config
        .tls
        .server()
        .map_err(|e| Error::Internal(format!("TLS: {e}")))?;
    let admin_topic = config.topic(bus::TOPIC_ADMIN_TRANSFER);
    let notification_topic = config.topic(bus::TOPIC_NOTIFICATION_EVENT);
    let prepare_topic = config.topic(bus::TOPIC_TRANSFER_PREPARE);
    let fulfil_topic = config.topic(bus::TOPIC_TRANSFER_FULFIL);
    let get_topic = config.topic(bus::TOPIC_TRANSFER_GET);
    let bulk_topics = [
        (
            handlers.prepare,
            bus::TOPIC_BULK_PREPARE,
            bus::GROUP_BULK_PREPARE,
            "bulk prepare handler",
        ),
        (
            handlers.fulfil,
            bus::TOPIC_BULK_FULFIL,
            bus::GROUP_BULK_FULFIL,
            "bulk fulfil handler",
        ),
        (
            handlers.get,
            bus::TOPIC_BULK_GET,
            bus::GROUP_BULK_GET,
            "bulk get handler",
        ),
    ]
    .map(|(on, topic, group, name)| (on, config.topic(topic), config.topic(group), name));
    let topics = [
        (bulk_topics[0].1.as_str(), config.kafka.topic_partitions),
        (bulk_topics[1].1.as_str(), config.kafka.topic_partitions),
        (bulk_topics[2].1.as_str(), config.kafka.topic_partitions),
        (get_topic.as_str(), config.kafka.topic_partitions),
        (admin_topic.as_str(), config.kafka.topic_partitions),
        (notification_topic.as_str(), config.kafka.topic_partitions),
        (prepare_topic.as_str(), config.kafka.topic_partitions),
        (fulfil_topic.as_str(), config.kafka.topic_partitions),
    ];
    bus.ensure_topics(&topics, config.kafka.topic_create_timeout_ms)
        .await
        .map_err(Error::Bus)?;
    let producer = bus.producer().map_err(Error::Bus)?;
    let metrics = Metrics::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut handler_tasks = Vec::new();
    // A handler that ends before shutdown makes /health DOWN, naming it.
    let tasks = service_kit::tasks::TaskWatch::default();
    let mut lag_probes = Vec::new();
    if handlers.admin {
        let consumer = bus
            .consumer(&config.topic(bus::GROUP_TRANSFER_ADMIN), &admin_topic)
            .map_err(Error::Bus)?;
        lag_probes.push(consumer.lag_probe());
        handler_tasks.push(tasks.spawn(
            "admin handler",
            funds::run_handler(
                store.clone(),
                consumer,
                config.funds.transfer_validity_s,
                stop_rx.clone(),
                metrics.clone(),
            ),
        ));
    }
    let notifier = transfers::notify::Notifier {
        producer: producer.clone(),
        topic: notification_topic.clone(),
        hub_name: config.hub.name.clone(),
        versions: fspiop::headers::ProtocolVersions::default(),
        timeout_ms: config.server.request_timeout_ms,
        attempts_max: config.transfers.notify_attempts_max,
        retry_delay_ms: config.transfers.notify_retry_delay_ms,
    };
    let limits = transfers::batch::BatchLimits {
        batch_size_max: config.transfers.batch_size_max,
        batch_wait_ms: config.transfers.batch_wait_ms,
    };
    let ilp_versions = fspiop::ilp::IlpVersions::from_names(&config.transfers.ilp_versions)
        .map_err(|problem| Error::Internal(format!("transfers.ilp_versions: {problem}")))?;
    let prepare_config = transfers::prepare::PrepareConfig {
        on_us_allowed: config.transfers.on_us_allowed,
        ilp_check: if config.transfers.ilp_check {
            Some(ilp_versions)
        } else {
            None
        },
    };
    if handlers.prepare {
        let consumer = bus
            .consumer(&config.topic(bus::GROUP_TRANSFER_PREPARE), &prepare_topic)
            .map_err(Error::Bus)?
            .with_batch_observer(metrics.ledger.batch_observer("prepare"))
            .with_wait_observer(metrics.ledger.wait_observer("prepare"));
        lag_probes.push(consumer.lag_probe());
        handler_tasks.push(tasks.spawn(
            "prepare handler",
            transfers::prepare::run_handler(
                store.clone(),
                consumer,
                notifier.clone(),
                prepare_config.clone(),
                limits,
                stop_rx.clone(),
                metrics.clone(),
            ),
        ));
    }
    // The bulk handlers run beside the transfer handlers of the same phase (a deployment that
    // runs prepare handlers also handles bulk prepares, and so on).
    for (on, topic, group, name) in &bulk_topics {
        if !*on {
            continue;
        }
        let consumer = bus
            .consumer(group, topic)
            .map_err(Error::Bus)?
            .with_batch_observer(metrics.ledger.batch_observer(name))
            .with_wait_observer(metrics.ledger.wait_observer(name));
        lag_probes.push(consumer.lag_probe());
        handler_tasks.push(tasks.spawn(
            name,
            transfers::bulk::run_handler(
                store.clone(),
                consumer,
                notifier.clone(),
                prepare_config.clone(),
                transfers::batch::BatchLimits {
                    batch_size_max: config.transfers.bulk_batch_size_max,
                    batch_wait_ms: config.transfers.batch_wait_ms,
                },
                stop_rx.clone(),
                metrics.clone(),
            ),
        ));
    }
    if handlers.fulfil {
        let consumer = bus
            .consumer(&config.topic(bus::GROUP_TRANSFER_FULFIL), &fulfil_topic)
            .map_err(Error::Bus)?
            .with_batch_observer(metrics.ledger.batch_observer("fulfil"))
            .with_wait_observer(metrics.ledger.wait_observer("fulfil"));
        lag_probes.push(consumer.lag_probe());
        handler_tasks.push(tasks.spawn(
            "fulfil handler",
            transfers::fulfil::run_handler(
                store.clone(),
                consumer,
                notifier.clone(),
                limits,
                stop_rx.clone(),
                metrics.clone(),
            ),
        ));
    }
    if handlers.get {
        let consumer = bus
            .consumer(&config.topic(bus::GROUP_TRANSFER_GET), &get_topic)
            .map_err(Error::Bus)?
            .with_batch_observer(metrics.ledger.batch_observer("get"))
            .with_wait_observer(metrics.ledger.wait_observer("get"));
        lag_probes.push(consumer.lag_probe());
        handler_tasks.push(tasks.spawn(
            "get handler",
            transfers::get::run_handler(
                store.clone(),
                consumer,
                notifier.clone(),
                limits,
                stop_rx.clone(),
            ),
        ));
    }
    if handlers.timeout {
        let timeout = transfers::timeout::TimeoutConfig {
            interval_ms: config.transfers.timeout_interval_ms,
            sweep_size_max: config.transfers.timeout_sweep_size_max,
        };
        handler_tasks.push(tasks.spawn(
            "timeout handler",
            transfers::timeout::run_handler(
                store.clone(),
                notifier.clone(),
                timeout,
                stop_rx.clone(),
                metrics.clone(),
            ),
        ));
    }
    // Only with consumers to watch: a reader with nothing to read ends at once, and a watched
    // task that ended marks the process DOWN (a timeout-only or admin-only process has none).
    if !lag_probes.is_empty() && config.metrics.consumer_lag_interval_ms > 0 {
        handler_tasks.push(tasks.spawn(
            "consumer lag reader",
            metrics::run_consumer_lag(
                lag_probes,
                config.metrics.consumer_lag_interval_ms,
                stop_rx.clone(),
                metrics.ledger.consumer_lag.clone(),
            ),
        ));
    }
    if handlers.admin {
        handler_tasks.push(tasks.spawn(
            "positions reader",
            metrics::run_positions(
                store.clone(),
                metrics.ledger.clone(),
                config.metrics.positions_interval_ms,
                stop_rx.clone(),
            ),
        ));
    }
    let state = AppState {
        store,
        producer: producer.clone(),
        config: Arc::new(config),
        metrics,
        started: SystemTime::now(),
        tasks: tasks.clone(),
    };
    let served = service_kit::tls::serve(listener, app(state), tls, shutdown).await;
    tasks.stopping();
    let _ = stop_tx.send(true);
    for task in handler_tasks {
        let _ = task.await;
    }
    if let Err(error) = producer.flush(PRODUCER_FLUSH_TIMEOUT_MS).await {
        tracing::warn!(%error, "producer flush incomplete");
    }
    served.map_err(|e| Error::Internal(e.to_string()))
}
