//! ML API Adapter: the FSPIOP transfers API of the switch (port 3000) and its notification
//! handler (services spec §5).
//!
//! - [`api`]: `POST /transfers`, `PUT /transfers/{ID}`, `PUT /transfers/{ID}/error`,
//!   `GET /transfers/{ID}` (and `PATCH` → 501), the same for FSPIOP 2.0 `/fxTransfers`,
//!   checked synchronously and put on `topic-transfer-prepare` / `-fulfil` / `-get` in
//!   Mojaloop's envelope ([`messages`]) before they are answered; `/health`, `/metrics`,
//!   `DELETE /endpointcache`, `GET /`.
//! - [`notification`]: consumes `topic-notification-event` and makes the callbacks of the
//!   action matrix ([`callbacks`]) to the participants' endpoints, read from the central
//!   ledger's database (`fspiop_edge::Directory`) and sent with Mojaloop's outbound header
//!   rules (`fspiop_edge::Forwarder`).
//!
//! Entry point: [`run`], which takes its configuration, a bound listener and a shutdown future,
//! so tests drive it on port 0.

pub mod api;
pub mod bulk;
pub mod callbacks;
pub mod config;
pub mod error;
pub mod messages;
pub mod notification;
pub mod offsets;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fspiop::headers::{ProtocolVersions, Version};
use fspiop_edge::{Directory, Forwarder, ForwarderConfig};
use service_kit::metrics::{
    ConsumerLagMetrics, Histogram, HttpMetrics, Registry, DEFAULT_BUCKETS_SECONDS,
};
use sqlx::MySqlPool;
use tokio::net::TcpListener;

pub use config::Config;
pub use error::{Error, Result};
pub use service_kit::edge::now_ms;

/// The service's metrics (prefix `moja_ml_`, as Mojaloop's adapter).
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub http: HttpMetrics,
    /// `POST /transfers` answered, by `success`.
    pub transfer_prepare: Histogram,
    /// `PUT /transfers/{ID}` answered.
    pub transfer_fulfil: Histogram,
    /// `PUT /transfers/{ID}/error` answered.
    pub transfer_fulfil_error: Histogram,
    /// `GET /transfers/{ID}` answered.
    pub transfer_get: Histogram,
    /// `POST /fxTransfers` answered.
    pub fx_transfer_prepare: Histogram,
    /// `PUT /fxTransfers/{ID}` answered.
    pub fx_transfer_fulfil: Histogram,
    /// `PUT /fxTransfers/{ID}/error` answered.
    pub fx_transfer_fulfil_error: Histogram,
    /// `GET /fxTransfers/{ID}` answered.
    pub fx_transfer_get: Histogram,
    /// `/bulkTransfers` requests answered (staged and produced).
    pub bulk_transfer: Histogram,
    /// Notification messages handled, by `success` and `action`.
    pub notification_process: Histogram,
    /// Callbacks attempted, by `success`, `from`, `dest`, `action` and `status` (`ok` or the
    /// FSPIOP error code of the failure).
    pub notification_delivery: Histogram,
    /// `consumer_lag_messages{topic,partition,group}` of the notification handler.
    pub consumer_lag: ConsumerLagMetrics,
    /// `bus_message_wait_seconds{consumer}`: each notification's time in the bus before the
    /// notification handler received it.
    pub bus_wait: Histogram,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new("moja_ml_");
        let http = service_kit::metrics::http_request_metrics(&registry);
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            registry.histogram(name, help, labels, &DEFAULT_BUCKETS_SECONDS)
        };
        Metrics {
            transfer_prepare: histogram(
                "ml_transfer_prepare",
                "Produce a transfer prepare message to the prepare topic",
                &["success"],
            ),
            transfer_fulfil: histogram(
                "ml_transfer_fulfil",
                "Produce a transfer fulfil message to the fulfil topic",
                &["success"],
            ),
            transfer_fulfil_error: histogram(
                "ml_transfer_fulfil_error",
                "Produce a transfer error message to the fulfil topic",
                &["success"],
            ),
            transfer_get: histogram(
                "ml_transfer_get",
                "Produce a transfer get message to the get topic",
                &["success"],
            ),
            fx_transfer_prepare: histogram(
                "ml_fx_transfer_prepare",
                "Produce an fxTransfer prepare message to the prepare topic",
                &["success"],
            ),
            fx_transfer_fulfil: histogram(
                "ml_fx_transfer_fulfil",
                "Produce an fxTransfer fulfil message to the fulfil topic",
                &["success"],
            ),
            fx_transfer_fulfil_error: histogram(
                "ml_fx_transfer_fulfil_error",
                "Produce an fxTransfer error message to the fulfil topic",
                &["success"],
            ),
            fx_transfer_get: histogram(
                "ml_fx_transfer_get",
                "Produce an fxTransfer get message to the get topic",
                &["success"],
            ),
            bulk_transfer: histogram(
                "ml_bulk_transfer",
                "Stage a bulk transfer request's body and produce its message to a bulk topic",
                &["success"],
            ),
            notification_process: histogram(
                "notification_event_process_msg",
                "Consume a notification message from the kafka topic and process it accordingly",
                &["success", "action"],
            ),
            notification_delivery: histogram(
                "notification_event_delivery",
                "Sending notification requests to FSPs",
                &["success", "from", "dest", "action", "status"],
            ),
            consumer_lag: service_kit::metrics::consumer_lag_metrics(&registry),
            bus_wait: service_kit::metrics::bus_wait_histogram(&registry),
            http,
            registry,
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// What the request handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    versions: ProtocolVersions,
    /// `versions` restricted to FSPIOP 2.x: the `/fxTransfers` routes' ([`api::fx_versions`]).
    fx_versions: ProtocolVersions,
    producer: bus::Producer,
    topic_prepare: String,
    topic_fulfil: String,
    topic_get: String,
    topic_bulk_prepare: String,
    topic_bulk_fulfil: String,
    topic_bulk_get: String,
    /// The central ledger's database, where bulk bodies are staged (connected on first use when
    /// the notification handler does not run here).
    bulk_pool: MySqlPool,
    /// Present when the notification handler runs here.
    handler: Option<HandlerState>,
    metrics: Metrics,
    started: SystemTime,
    requests: AtomicU64,
}

struct HandlerState {
    directory: Directory,
    pool: MySqlPool,
    running: Arc<AtomicBool>,
}

/// How long a health probe waits for the broker or the database.
const HEALTH_PROBE_TIMEOUT_MS: u64 = 2000;
/// Longest wait for queued messages to leave at shutdown.
const PRODUCER_FLUSH_TIMEOUT_MS: u64 = 5000;

impl AppState {
    fn new(
        config: Config,
        versions: ProtocolVersions,
        producer: bus::Producer,
        handler: Option<HandlerState>,
        bulk_pool: MySqlPool,
        metrics: Metrics,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                topic_bulk_prepare: config.topic(bus::TOPIC_BULK_PREPARE),
                topic_bulk_fulfil: config.topic(bus::TOPIC_BULK_FULFIL),
                topic_bulk_get: config.topic(bus::TOPIC_BULK_GET),
                bulk_pool,
                topic_prepare: config.topic(bus::TOPIC_TRANSFER_PREPARE),
                topic_fulfil: config.topic(bus::TOPIC_TRANSFER_FULFIL),
                topic_get: config.topic(bus::TOPIC_TRANSFER_GET),
                config,
                fx_versions: api::fx_versions(&versions),
                versions,
                producer,
                handler,
                metrics,
                started: SystemTime::now(),
                requests: AtomicU64::new(0),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn versions(&self) -> &ProtocolVersions {
        &self.inner.versions
    }

    /// The versions the `/fxTransfers` routes accept (the configured ones of FSPIOP 2.x).
    pub fn fx_versions(&self) -> &ProtocolVersions {
        &self.inner.fx_versions
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The central ledger's database, for staging bulk bodies.
    pub fn bulk_pool(&self) -> &MySqlPool {
        &self.inner.bulk_pool
    }

    pub fn started(&self) -> SystemTime {
        self.inner.started
    }

    /// An id for `content.context.originalRequestId`, unique in this process (the shape of
    /// Hapi's request ids: `<ms>:<host>:<pid>:<counter>`).
    pub fn next_request_id(&self) -> String {
        let n = self.inner.requests.fetch_add(1, Ordering::Relaxed);
        format!(
            "{}:{}:{}:{n}",
            now_ms(),
            self.inner.config.kafka.client_id,
            std::process::id()
        )
    }

    /// Puts `outbound` on its topic and waits for the broker's acknowledgement, at most
    /// `kafka.produce_timeout_ms` (plus a few seconds' grace for librdkafka's own delivery report).
    pub async fn produce(&self, outbound: &messages::Outbound) -> Result<()> {
        let topic = match outbound.topic {
            messages::Topic::Prepare => &self.inner.topic_prepare,
            messages::Topic::Fulfil => &self.inner.topic_fulfil,
            messages::Topic::Get => &self.inner.topic_get,
            messages::Topic::BulkPrepare => &self.inner.topic_bulk_prepare,
            messages::Topic::BulkFulfil => &self.inner.topic_bulk_fulfil,
            messages::Topic::BulkGet => &self.inner.topic_bulk_get,
        };
        let value = serde_json::to_vec(&outbound.message).map_err(Error::Json)?;
        let timeout_ms = u64::from(self.inner.config.kafka.produce_timeout_ms);
        let sent = self
            .inner
            .producer
            .send(topic, Some(&outbound.key), &value, timeout_ms)
            .await;
        sent.map_err(|error| {
            tracing::error!(%topic, transfer_id = %outbound.key, error.message = %error, "produce failed");
            Error::Bus(error)
        })
    }

    /// The broker answers a metadata request in time, and the notification handler (when it
    /// runs here) is consuming.
    pub async fn broker_healthy(&self) -> bool {
        let handler_ok = self
            .inner
            .handler
            .as_ref()
            .is_none_or(|h| h.running.load(Ordering::SeqCst));
        let broker_ok = self.inner.producer.healthy(HEALTH_PROBE_TIMEOUT_MS).await;
        handler_ok && broker_ok
    }

    /// Whether the endpoint database answers (`None` when the handler does not run here).
    pub async fn directory_healthy(&self) -> Option<bool> {
        let handler = self.inner.handler.as_ref()?;
        let probe = sqlx::query("SELECT 1").execute(&handler.pool);
        Some(matches!(
            tokio::time::timeout(Duration::from_millis(HEALTH_PROBE_TIMEOUT_MS), probe).await,
            Ok(Ok(_))
        ))
    }

    /// Empties the endpoint cache (`DELETE /endpointcache`).
    pub fn invalidate_endpoints(&self) {
        if let Some(handler) = &self.inner.handler {
            handler.directory.invalidate();
        }
    }
}

/// The HTTP application: routes, FSPIOP fallbacks, metrics and the request timeout.
pub fn app(state: AppState) -> axum::Router {
    app_with(state, None)
}

/// [`app`] with inbound `FSPIOP-Signature` validation when `jws` is set.
pub fn app_with(state: AppState, jws: Option<Arc<service_kit::jws::Validation>>) -> axum::Router {
    let metrics = state.metrics().http.clone();
    let service = state.config().telemetry.service_name.clone();
    let timeout_ms = state.config().server.request_timeout_ms;
    let router = service_kit::jws::with_validation(api::router(state), jws);
    service_kit::edge::with_edges(router, metrics, timeout_ms, &service)
}

/// Whether the hub's default content version has `PATCH /transfers/{ID}` (1.1 and later).
fn patch_supported(version: Version) -> bool {
    (version.major, version.minor.unwrap_or(0)) >= (1, 1)
}

/// Runs the API on `listener` (and the notification handler when `notification.enabled`)
/// until `shutdown` resolves; then stops taking requests, lets the handler finish the
/// callbacks in flight, flushes the producer and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let bus = bus::Bus::Kafka(config.bus());
    run_with_bus(config, bus, listener, shutdown).await
}

/// [`run`] over the given bus (Kafka, or the embedded bus of `mojaloop up`).
pub async fn run_with_bus(
    config: Config,
    bus: bus::Bus,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    config.validate()?;
    let versions = config.protocol_versions().map_err(Error::Internal)?;
    let jws_validation = service_kit::jws::validation(&config.jws)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    let jws_signer = service_kit::jws::signing_key(&config.jws)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    let tls_error = |e: service_kit::tls::TlsError| Error::Internal(format!("TLS: {e}"));
    let tls = config.tls.server().map_err(tls_error)?;
    let bus_error = Error::Bus;
    let topic_prepare = config.topic(bus::TOPIC_TRANSFER_PREPARE);
    let topic_fulfil = config.topic(bus::TOPIC_TRANSFER_FULFIL);
    let topic_get = config.topic(bus::TOPIC_TRANSFER_GET);
    let topic_notification = config.topic(bus::TOPIC_NOTIFICATION_EVENT);
    let topic_bulk_prepare = config.topic(bus::TOPIC_BULK_PREPARE);
    let topic_bulk_fulfil = config.topic(bus::TOPIC_BULK_FULFIL);
    let topic_bulk_get = config.topic(bus::TOPIC_BULK_GET);
    let partitions = config.kafka.topic_partitions;
    let topics = [
        (topic_bulk_prepare.as_str(), partitions),
        (topic_bulk_fulfil.as_str(), partitions),
        (topic_bulk_get.as_str(), partitions),
        (topic_prepare.as_str(), partitions),
        (topic_fulfil.as_str(), partitions),
        (topic_get.as_str(), partitions),
        (topic_notification.as_str(), partitions),
    ];
    bus.ensure_topics(&topics, config.kafka.topic_create_timeout_ms)
        .await
        .map_err(bus_error)?;
    let producer = bus.producer().map_err(bus_error)?;
    let metrics = Metrics::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

    let mut handler_task = None;
    let mut lag_task = None;
    let handler = if config.notification.enabled {
        let db = &config.central_ledger_database;
        let pool = store::connect(
            &config.central_ledger_database_url()?,
            db.pool_size_max,
            db.acquire_timeout_ms,
        )
        .await?;
        let directory = Directory::new(pool.clone(), db.cache_ttl_ms);
        let client_tls = config.tls.client().map_err(tls_error)?;
        let refusals = fspiop_edge::refusals_counter(&metrics.registry);
        let forwarder_with = |versions: ProtocolVersions| {
            Forwarder::new(
                ForwarderConfig::new(
                    config.http_client.request_timeout_ms,
                    config.http_client.idle_connections_per_host_max,
                    &config.hub.name,
                    versions,
                )
                .with_tls(client_tls.clone()),
            )
            .map(|forwarder| {
                forwarder
                    .with_signer(jws_signer.clone())
                    .with_refusals(refusals.clone())
            })
            .map_err(|e| Error::Internal(e.to_string()))
        };
        let forwarder = forwarder_with(versions.clone())?;
        let fx_forwarder = forwarder_with(api::fx_versions(&versions))?;
        let rules = callbacks::Rules {
            hub_name: config.hub.name.clone(),
            send_transfer_confirmation_to_payee: config
                .transfers
                .send_transfer_confirmation_to_payee,
            patch_supported: patch_supported(versions.content_default),
        };
        let consumer = bus
            .consumer(
                &config.topic(notification::GROUP_NOTIFICATION_EVENT),
                &topic_notification,
            )
            .map_err(bus_error)?
            .with_wait_observer(service_kit::metrics::bus_wait_observer(
                &metrics.bus_wait,
                "notification",
            ));
        let deliverer = Arc::new(notification::Deliverer::new(
            directory.clone(),
            forwarder,
            fx_forwarder,
            rules,
            metrics.clone(),
            notification::CallbackLimits::new(
                config.notification.callback_concurrency_max,
                config.notification.callback_per_dfsp_max,
            ),
            pool.clone(),
            Some(notification::BulkAbort {
                producer: producer.clone(),
                topic: topic_bulk_fulfil.clone(),
                timeout_ms: u64::from(config.kafka.produce_timeout_ms),
            }),
        ));
        let running = Arc::new(AtomicBool::new(true));
        lag_task = Some(tokio::spawn(service_kit::metrics::run_consumer_lag(
            vec![consumer.lag_probe()],
            config.metrics.consumer_lag_interval_ms,
            stop_rx.clone(),
            metrics.consumer_lag.clone(),
        )));
        handler_task = Some(tokio::spawn(notification::run_handler(
            consumer,
            deliverer,
            config.notification.in_flight_max,
            config.notification.drain_timeout_ms,
            stop_rx.clone(),
            running.clone(),
        )));
        Some(HandlerState {
            directory,
            pool,
            running,
        })
    } else {
        None
    };

    let pool = handler.as_ref().map(|h| h.pool.clone());
    let bulk_pool = match &pool {
        Some(pool) => pool.clone(),
        None => {
            let db = &config.central_ledger_database;
            store::connect_lazy(
                &config.central_ledger_database_url()?,
                db.pool_size_max,
                db.acquire_timeout_ms,
            )?
        }
    };
    let state = AppState::new(
        config,
        versions,
        producer.clone(),
        handler,
        bulk_pool,
        metrics,
    );
    let served =
        service_kit::tls::serve(listener, app_with(state, jws_validation), tls, shutdown).await;
    let _ = stop_tx.send(true);
    if let Some(task) = handler_task {
        if let Err(error) = task.await {
            tracing::error!(error.message = %error, "notification handler task failed");
        }
    }
    if let Some(task) = lag_task {
        let _ = task.await;
    }
    if let Err(error) = producer.flush(PRODUCER_FLUSH_TIMEOUT_MS).await {
        tracing::warn!(error.message = %error, "producer flush incomplete");
    }
    if let Some(pool) = pool {
        pool.close().await;
    }
    served.map_err(|e| Error::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    /// The API without a reachable broker: nothing listens on port 1 of the loopback.
    async fn app_without_broker() -> String {
        let mut config = Config::defaults().unwrap();
        config.kafka.brokers = "127.0.0.1:1".to_string();
        config.kafka.produce_timeout_ms = 300;
        config.notification.enabled = false;
        let versions = config.protocol_versions().unwrap();
        let producer = bus::Bus::Kafka(config.bus()).producer().unwrap();
        let bulk_pool =
            store::connect_lazy(&config.central_ledger_database_url().unwrap(), 1, 300).unwrap();
        let state = AppState::new(config, versions, producer, None, bulk_pool, Metrics::new());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app(state)).await });
        base
    }

    #[tokio::test]
    async fn an_unacknowledged_request_is_503_and_health_is_502() {
        let base = app_without_broker().await;
        let client = reqwest::Client::new();
        let id = "b51ec534-ee48-4575-b6a9-ead2955b8069";
        let body = serde_json::json!({
            "transferId": id, "payerFsp": "payerfsp", "payeeFsp": "payeefsp",
            "amount": {"amount": "1", "currency": "USD"}, "ilpPacket": "AYIBgQAAAAAAAASw",
            "condition": "f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA", "expiration": "2030-01-01T00:00:00.000Z"
        });
        let started = std::time::Instant::now();
        let response = client
            .post(format!("{base}/transfers"))
            .header(
                "accept",
                "application/vnd.interoperability.transfers+json;version=1",
            )
            .header(
                "content-type",
                "application/vnd.interoperability.transfers+json;version=1.1",
            )
            .header("date", fspiop::datetime::format_http_date(now_ms()))
            .header("fspiop-source", "payerfsp")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bounded by produce_timeout_ms"
        );
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(answer["errorInformation"]["errorCode"], "2003");
        assert_eq!(
            answer["errorInformation"]["errorDescription"],
            "Service currently unavailable - message bus unavailable"
        );

        let health = client.get(format!("{base}/health")).send().await.unwrap();
        assert_eq!(health.status(), 502);
        let report: serde_json::Value = health.json().await.unwrap();
        assert_eq!(
            report["services"],
            serde_json::json!([{"name": "broker", "status": "DOWN"}])
        );
        let metrics = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("moja_ml_ml_transfer_prepare_count{success=\"false\"} 1"),
            "{metrics}"
        );
    }

    #[test]
    fn patch_needs_version_one_one() {
        assert!(patch_supported(Version::new(1, 1)));
        assert!(patch_supported(Version::new(2, 0)));
        assert!(!patch_supported(Version::new(1, 0)));
    }
}
