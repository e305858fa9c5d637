//! The service on port 0 with its own topic prefix (and, for the notification handler, its own
//! central ledger database), DFSP servers that record what they receive, FSPIOP request
//! headers, and a reader and a writer for the service's topics.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use fspiop::envelope::Message;
use ml_api_adapter::Config;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
pub use test_support::{database_server_url, kafka_brokers};

/// Partitions of the topics a test app creates.
pub const TOPIC_PARTITIONS: i32 = 2;
/// Longest wait for anything asynchronous (group joins on the test broker take seconds).
pub const WAIT_MAX: Duration = Duration::from_secs(60);
pub const TRANSFERS_V11: &str = "application/vnd.interoperability.transfers+json;version=1.1";
pub const FX_TRANSFERS_V20: &str = "application/vnd.interoperability.fxTransfers+json;version=2.0";
pub const FX_TRANSFERS_ACCEPT_V2: &str =
    "application/vnd.interoperability.fxTransfers+json;version=2";

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An HTTP date for now.
pub fn http_date() -> String {
    fspiop::datetime::format_http_date(ml_api_adapter::now_ms())
}

/// A fresh central ledger database with participants and their transfer endpoints.
pub struct TestDb {
    pub name: String,
    pub pool: sqlx::MySqlPool,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        store::create_database_if_missing(&database_server_url(), &name)
            .await
            .unwrap_or_else(|e| {
                panic!("MySQL at {} (set DATABASE_URL): {e}", database_server_url())
            });
        let url =
            store::database_url(&database_server_url(), &name).unwrap_or_else(|e| panic!("{e}"));
        let pool = store::connect(&url, 4, 5000)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        store::CENTRAL_LEDGER_MIGRATIONS
            .run(&pool)
            .await
            .unwrap_or_else(|e| panic!("migrations: {e}"));
        TestDb { name, pool }
    }

    /// A participant; with `base_url`, its TRANSFER_POST, _PUT and _ERROR endpoints under it.
    pub async fn participant(&self, name: &str, base_url: Option<&str>) {
        let inserted = sqlx::query("INSERT INTO participant (name, createdBy) VALUES (?, 'test')")
            .bind(name)
            .execute(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("participant {name}: {e}"));
        let id = inserted.last_insert_id();
        let Some(base) = base_url else { return };
        for (endpoint_type, value) in [
            (
                "FSPIOP_CALLBACK_URL_TRANSFER_POST",
                format!("{base}/transfers"),
            ),
            (
                "FSPIOP_CALLBACK_URL_TRANSFER_PUT",
                format!("{base}/transfers/{{{{transferId}}}}"),
            ),
            (
                "FSPIOP_CALLBACK_URL_TRANSFER_ERROR",
                format!("{base}/transfers/{{{{transferId}}}}/error"),
            ),
        ] {
            sqlx::query(
                "INSERT INTO participantEndpoint (participantId, endpointTypeId, value, createdBy)
                 SELECT ?, endpointTypeId, ?, 'test' FROM endpointType WHERE name = ?",
            )
            .bind(id)
            .bind(value)
            .bind(endpoint_type)
            .execute(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("endpoint {endpoint_type} of {name}: {e}"));
        }
    }

    /// One more endpoint of participant `name`.
    pub async fn endpoint(&self, name: &str, endpoint_type: &str, value: &str) {
        sqlx::query(
            "INSERT INTO participantEndpoint (participantId, endpointTypeId, value, createdBy)
             SELECT p.participantId, t.endpointTypeId, ?, 'test'
             FROM participant p JOIN endpointType t ON t.name = ?
             WHERE p.name = ?",
        )
        .bind(value)
        .bind(endpoint_type)
        .bind(name)
        .execute(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("endpoint {endpoint_type} of {name}: {e}"));
    }

    /// The FX_TRANSFER_POST, _PUT and _ERROR endpoints of participant `name` under `base`;
    /// the PUT template uses Mojaloop's `{{commitRequestId}}`, the error one `{{transferId}}`.
    pub async fn fx_endpoints(&self, name: &str, base: &str) {
        for (endpoint_type, value) in [
            (
                "FSPIOP_CALLBACK_URL_FX_TRANSFER_POST",
                format!("{base}/fxTransfers"),
            ),
            (
                "FSPIOP_CALLBACK_URL_FX_TRANSFER_PUT",
                format!("{base}/fxTransfers/{{{{commitRequestId}}}}"),
            ),
            (
                "FSPIOP_CALLBACK_URL_FX_TRANSFER_ERROR",
                format!("{base}/fxTransfers/{{{{transferId}}}}/error"),
            ),
        ] {
            self.endpoint(name, endpoint_type, &value).await;
        }
    }

    pub async fn drop(self) {
        self.pool.close().await;
        let _ = store::drop_database_if_exists(&database_server_url(), &self.name).await;
    }
}

/// One request a DFSP server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} {}: body is not JSON ({e})", self.method, self.path))
    }
}

/// A DFSP's HTTP server: records every request; answers 500 under `/fail`, takes
/// [`SLOW_ANSWER`] under `/slow`, else answers at once 200 (202 for POST and GET).
pub struct Dfsp {
    pub url: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
    concurrency: Arc<Concurrency>,
}

/// How long the `/slow` paths take to answer.
pub const SLOW_ANSWER: Duration = Duration::from_millis(400);

#[derive(Default)]
struct Concurrency {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Dfsp {
    pub async fn start() -> Dfsp {
        let seen: Arc<Mutex<Vec<Recorded>>> = Arc::new(Mutex::new(Vec::new()));
        let concurrency = Arc::new(Concurrency::default());
        let recorded = seen.clone();
        let counted = concurrency.clone();
        let app = axum::Router::new().fallback(move |request: Request| {
            let recorded = recorded.clone();
            let counted = counted.clone();
            async move {
                let now = counted.now.fetch_add(1, Ordering::SeqCst) + 1;
                counted.max.fetch_max(now, Ordering::SeqCst);
                if request.uri().path().starts_with("/slow") {
                    tokio::time::sleep(SLOW_ANSWER).await;
                }
                counted.now.fetch_sub(1, Ordering::SeqCst);
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                let headers = parts
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                    .collect();
                let path = parts.uri.path().to_string();
                let method = parts.method.to_string();
                let status = if path.starts_with("/fail") {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else if matches!(method.as_str(), "POST" | "GET") {
                    StatusCode::ACCEPTED
                } else {
                    StatusCode::OK
                };
                if let Ok(mut seen) = recorded.lock() {
                    seen.push(Recorded {
                        method,
                        path,
                        headers,
                        body,
                    });
                }
                status
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let url = format!(
            "http://{}",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Dfsp {
            url,
            seen,
            concurrency,
        }
    }

    /// The most requests this server was answering at once.
    pub fn concurrency_max(&self) -> usize {
        self.concurrency.max.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The requests about `transfer_id` (its id in the path), waiting (bounded) for `count`.
    pub async fn wait_for(&self, transfer_id: &str, count: usize) -> Vec<Recorded> {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            let found: Vec<Recorded> = self
                .requests()
                .into_iter()
                .filter(|r| {
                    r.path.contains(transfer_id)
                        || r.body
                            .windows(transfer_id.len())
                            .any(|w| w == transfer_id.as_bytes())
                })
                .collect();
            if found.len() >= count {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{} got {} requests for {transfer_id}, expected {count}: {found:?}",
                self.url,
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Options of a test app.
#[derive(Default)]
pub struct Options<'a> {
    /// Run the notification handler against this database.
    pub database: Option<&'a TestDb>,
    pub send_transfer_confirmation_to_payee: bool,
    /// `notification.callback_concurrency_max`, when not the default.
    pub callback_concurrency_max: Option<usize>,
    /// The `[jws]` settings, when not the default (off).
    pub jws: Option<service_kit::jws::JwsConfig>,
    /// `[validation] reject_additional_properties`.
    pub reject_additional_properties: bool,
    /// The `[protocol_versions]` settings, when not the default.
    pub protocol_versions: Option<service_kit::config::ProtocolVersionsConfig>,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub config: Config,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Starts the service on port 0 with a fresh topic prefix.
pub async fn spawn_app(options: Options<'_>) -> TestApp {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut config = Config::defaults().unwrap_or_else(|e| panic!("defaults: {e}"));
    config.server.host = "127.0.0.1".to_string();
    config.kafka.brokers = kafka_brokers();
    config.kafka.topic_prefix = format!("t{}-", id.get(..12).unwrap_or("x"));
    config.kafka.topic_partitions = TOPIC_PARTITIONS;
    config.http_client.request_timeout_ms = 5000;
    config.notification.drain_timeout_ms = 2000;
    config.metrics.consumer_lag_interval_ms = 200;
    config.transfers.send_transfer_confirmation_to_payee =
        options.send_transfer_confirmation_to_payee;
    if let Some(max) = options.callback_concurrency_max {
        config.notification.callback_concurrency_max = max;
    }
    if let Some(jws) = options.jws.clone() {
        config.jws = jws;
    }
    config.validation.reject_additional_properties = options.reject_additional_properties;
    if let Some(versions) = options.protocol_versions.clone() {
        config.protocol_versions = versions;
    }
    match options.database {
        Some(db) => {
            config.central_ledger_database.url = database_server_url();
            config.central_ledger_database.name = db.name.clone();
            config.central_ledger_database.pool_size_max = 4;
        }
        None => config.notification.enabled = false,
    }
    let (listener, base) = test_support::listener().await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let run_config = config.clone();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.await;
        };
        if let Err(error) = ml_api_adapter::run(run_config, listener, shutdown).await {
            panic!("ml-api-adapter stopped with an error (is Kafka at KAFKA_BROKERS up?): {error}");
        }
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let app = TestApp {
        base,
        client,
        config,
        shutdown: Some(tx),
        task: Some(task),
    };
    app.wait_until_up().await;
    app
}

/// The FSPIOP headers of a request from `source` to `destination`.
pub fn fspiop_headers(
    method: &str,
    source: &str,
    destination: Option<&str>,
) -> Vec<(String, String)> {
    let mut headers = vec![
        ("content-type".to_string(), TRANSFERS_V11.to_string()),
        ("date".to_string(), http_date()),
        ("fspiop-source".to_string(), source.to_string()),
    ];
    if matches!(method, "POST" | "GET") {
        headers.push((
            "accept".to_string(),
            "application/vnd.interoperability.transfers+json;version=1".to_string(),
        ));
    }
    if let Some(destination) = destination {
        headers.push(("fspiop-destination".to_string(), destination.to_string()));
    }
    headers
}

/// The FSPIOP 2.0 headers of an `/fxTransfers` request from `source` to `destination`.
pub fn fx_headers(method: &str, source: &str, destination: Option<&str>) -> Vec<(String, String)> {
    let mut headers = with_header(
        fspiop_headers(method, source, destination),
        "content-type",
        Some(FX_TRANSFERS_V20),
    );
    if matches!(method, "POST" | "GET") {
        headers = with_header(headers, "accept", Some(FX_TRANSFERS_ACCEPT_V2));
    }
    headers
}

/// A `POST /fxTransfers` body: `initiating` converts 300 BWP into 48000 TZS with FXP `fxp`.
pub fn fx_transfer_body(commit_request_id: &str, initiating: &str, fxp: &str) -> Value {
    serde_json::json!({
        "commitRequestId": commit_request_id,
        "determiningTransferId": new_id(),
        "initiatingFsp": initiating,
        "counterPartyFsp": fxp,
        "sourceAmount": {"amount": "300", "currency": "BWP"},
        "targetAmount": {"amount": "48000", "currency": "TZS"},
        "condition": "f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA",
        "expiration": "2030-01-01T00:00:00.000Z"
    })
}

/// `headers` with `name` replaced by `value` (removed when `None`).
pub fn with_header(
    mut headers: Vec<(String, String)>,
    name: &str,
    value: Option<&str>,
) -> Vec<(String, String)> {
    headers.retain(|(n, _)| n != name);
    if let Some(value) = value {
        headers.push((name.to_string(), value.to_string()));
    }
    headers
}

/// A `POST /transfers` body.
pub fn transfer_body(transfer_id: &str, payer: &str, payee: &str) -> Value {
    serde_json::json!({
        "transferId": transfer_id,
        "payerFsp": payer,
        "payeeFsp": payee,
        "amount": {"amount": "100.5", "currency": "USD"},
        "ilpPacket": "AYIBgQAAAAAAAASwNGxldmVsb25lLmRmc3AxLm1lci45T2RTOF81MDdqUUZERmZlakgyOVc4bXFmNEpLMHlGTFGCAUBQU0svMS4wCk5vbmNlOiB1SXlweUYzY3pYSXBFdzVVc05TYWh3CkVuY3J5cHRpb246IG5vbmUKUGF5bWVudC1JZDogMTMyMzZhM2ItOGZhOC00MTYzLTg0NDctNGMzZWQzZGE5OGE3",
        "condition": "f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA",
        "expiration": "2030-01-01T00:00:00.000Z",
        "extensionList": {"extension": [{"key": "note", "value": "test"}]}
    })
}

/// A `completedTimestamp` `offset_ms` from now.
pub fn completed_timestamp(offset_ms: i64) -> String {
    fspiop::datetime::format_date_time(ml_api_adapter::now_ms() + offset_ms)
}

/// An answer: status and body (JSON, or Null when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// Asserts an FSPIOP error with `status` and `code`; returns the description.
    pub fn error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.body["errorInformation"]["errorCode"], code, "{self:?}");
        self.body["errorInformation"]["errorDescription"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn empty(&self, status: u16) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.body, Value::Null, "{self:?}");
    }
}

impl TestApp {
    async fn wait_until_up(&self) {
        let deadline = Instant::now() + WAIT_MAX;
        while Instant::now() < deadline {
            if let Ok(response) = self
                .client
                .get(format!("{}/health", self.base))
                .send()
                .await
            {
                if response.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("ml-api-adapter did not answer /health with 200 in time");
    }

    /// Sends raw body bytes with exactly the given headers (plus `Host`, `Content-Length` and
    /// `Connection: close`), over a plain HTTP/1.1 connection: an HTTP client library would
    /// add an `Accept: */*` that an FSPIOP callback must not carry.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Answer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.base.trim_start_matches("http://").to_string();
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let body = body.unwrap_or_default();
        let mut request = format!("{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        stream
            .write_all(&bytes)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let mut response = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response))
            .await
            .unwrap_or_else(|_| panic!("{method} {path}: no answer"))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let text = String::from_utf8_lossy(&response).into_owned();
        let (head, content) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("{method} {path}: bad answer {text:?}"));
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line: {head}"));
        let chunked = head.lines().any(|l| {
            l.to_ascii_lowercase()
                .starts_with("transfer-encoding: chunked")
        });
        let content = if chunked {
            dechunk(content)
        } else {
            content.to_string()
        };
        let body = if content.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&content).unwrap_or(Value::String(content))
        };
        Answer { status, body }
    }

    /// Sends a JSON body.
    pub async fn send_json(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &Value,
    ) -> Answer {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.send(method, path, headers, Some(&bytes)).await
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        response.text().await.unwrap_or_default()
    }

    /// Waits (bounded) until `/metrics` has a line starting with `line_start` whose value is at
    /// least `count`.
    pub async fn wait_for_metric(&self, line_start: &str, count: u64) {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            let text = self.metrics().await;
            let value = text
                .lines()
                .find(|l| l.starts_with(line_start))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            if value >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "metric {line_start} never reached {count}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (bounded) until `/metrics` has exactly this line.
    pub async fn wait_for_metric_line(&self, line: &str) {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            let text = self.metrics().await;
            if text.lines().any(|l| l == line) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "metrics never showed {line}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A topic name with this app's prefix.
    pub fn topic(&self, name: &str) -> String {
        self.config.topic(name)
    }

    fn bus(&self) -> bus::BusConfig {
        bus::BusConfig::new(kafka_brokers(), "ml-api-adapter-test")
    }

    /// A reader of one of this app's topics, from its beginning.
    pub fn reader(&self, topic: &str) -> TopicReader {
        let group = format!("test-{}", uuid::Uuid::new_v4().simple());
        let consumer = bus::create_consumer(&self.bus(), &group).unwrap_or_else(|e| panic!("{e}"));
        let mut list = TopicPartitionList::new();
        for partition in 0..TOPIC_PARTITIONS {
            list.add_partition_offset(&self.topic(topic), partition, Offset::Beginning)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        consumer.assign(&list).unwrap_or_else(|e| panic!("{e}"));
        TopicReader {
            consumer,
            seen: Vec::new(),
        }
    }

    /// A producer onto this app's notification topic.
    pub fn notifier(&self) -> Notifier {
        let producer = bus::create_producer(&self.bus()).unwrap_or_else(|e| panic!("{e}"));
        Notifier {
            producer,
            topic: self.topic(bus::TOPIC_NOTIFICATION_EVENT),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
    }
}

/// The body of a chunked answer.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(after.get(..size).unwrap_or(after));
        rest = after.get(size + 2..).unwrap_or("");
    }
    out
}

/// One message read back from a topic: its key and its envelope.
#[derive(Debug, Clone)]
pub struct Read {
    pub key: Option<String>,
    pub message: Message,
    pub raw: Value,
}

pub struct TopicReader {
    consumer: StreamConsumer,
    seen: Vec<Read>,
}

impl TopicReader {
    /// Whether a message with envelope id `id` was read so far (no waiting).
    pub fn has_seen(&self, id: &str) -> bool {
        self.seen.iter().any(|r| r.message.id == id)
    }

    /// The message with envelope id `id` (waiting, bounded).
    pub async fn find(&mut self, id: &str) -> Read {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            if let Some(found) = self.seen.iter().find(|r| r.message.id == id) {
                return found.clone();
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            assert!(!remaining.is_zero(), "no message {id} on the topic");
            if let Ok(Ok(message)) = tokio::time::timeout(remaining, self.consumer.recv()).await {
                let bytes = message.payload().unwrap_or_default();
                let raw: Value =
                    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("not JSON: {e}"));
                let envelope: Message = serde_json::from_value(raw.clone())
                    .unwrap_or_else(|e| panic!("not an envelope: {e}: {raw}"));
                let key = message
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned());
                self.seen.push(Read {
                    key,
                    message: envelope,
                    raw,
                });
            }
        }
    }
}

pub struct Notifier {
    producer: FutureProducer,
    topic: String,
}

impl Notifier {
    /// Produces `message` (or raw bytes) onto the notification topic.
    pub async fn send(&self, message: &Message) {
        let bytes = serde_json::to_vec(message).unwrap_or_default();
        self.send_bytes(&bytes).await;
    }

    pub async fn send_bytes(&self, bytes: &[u8]) {
        self.producer
            .send(
                FutureRecord::<(), _>::to(&self.topic).payload(bytes),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("produce: {e}"));
    }
}
