//! The test world: a fresh central ledger database with participants, accounts and
//! endpoints inserted by SQL, DFSP test servers that record what they receive, and the
//! Quoting Service on port 0 (with its own fresh quotes database in persistent mode).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use fspiop::ilp::{Ilp, IlpVersion};
use quoting_service::{Config, Mode};
use serde_json::{json, Value};
pub use test_support::database_server_url;

pub const PAYER: &str = "payerfsp";
pub const PAYEE: &str = "payeefsp";
pub const HUB: &str = "Hub";
/// How long a test waits for something asynchronous before failing.
const WAIT_MAX: Duration = Duration::from_secs(20);

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

// ---- DFSP test servers ------------------------------------------------------------------

/// One request a DFSP server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} {} body is not JSON: {e}", self.method, self.path))
    }

    /// The `errorInformation.errorCode` of an error callback.
    pub fn error_code(&self) -> String {
        self.json()["errorInformation"]["errorCode"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn error_description(&self) -> String {
        self.json()["errorInformation"]["errorDescription"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

#[derive(Clone)]
struct DfspState {
    received: Arc<Mutex<Vec<Received>>>,
    /// 0: the FSPIOP default (202 for POST/GET, 200 for PUT).
    status: Arc<AtomicU16>,
}

/// A DFSP: an HTTP server on 127.0.0.1:0 that records every request and answers it.
pub struct Dfsp {
    pub name: String,
    pub base: String,
    state: DfspState,
    task: tokio::task::JoinHandle<()>,
}

async fn record(
    axum::extract::State(state): axum::extract::State<DfspState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let headers = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                value.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    state.received.lock().unwrap().push(Received {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers,
        body: body.to_vec(),
    });
    match state.status.load(Ordering::SeqCst) {
        0 if method == Method::PUT => StatusCode::OK,
        0 => StatusCode::ACCEPTED,
        code => StatusCode::from_u16(code).unwrap(),
    }
}

impl Dfsp {
    pub async fn start(name: &str) -> Dfsp {
        let state = DfspState {
            received: Arc::default(),
            status: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(record)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Dfsp {
            name: name.to_string(),
            base,
            state,
            task,
        }
    }

    /// Answers every request with `status` from now on.
    pub fn answer_with(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits (bounded) until `count` requests matching `method` and `path` have arrived;
    /// returns them.
    pub async fn wait_for_n(&self, method: &str, path: &str, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            let matching: Vec<Received> = self
                .received()
                .into_iter()
                .filter(|r| r.method == method && r.path == path)
                .collect();
            if matching.len() >= count {
                return matching;
            }
            assert!(
                Instant::now() < deadline,
                "{} received {} of {count} {method} {path}; all: {:?}",
                self.name,
                matching.len(),
                self.received()
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The first request matching `method` and `path` (waiting, bounded).
    pub async fn wait_for(&self, method: &str, path: &str) -> Received {
        self.wait_for_n(method, path, 1).await.remove(0)
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.received()
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }
}

impl Drop for Dfsp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---- the switch ---------------------------------------------------------------------------

/// How to start the service.
#[derive(Debug, Clone)]
pub struct Setup {
    pub mode: Mode,
    pub ilp_check: bool,
    /// The packet versions the switch accepts (its `quotes.ilp_versions`).
    pub ilp_versions: &'static [&'static str],
    /// The version the test payee makes its packets in.
    pub payee_ilp: &'static str,
    /// `[validation] reject_additional_properties`.
    pub reject_additional_properties: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            mode: Mode::Persistent,
            ilp_check: true,
            ilp_versions: &["v1", "v4"],
            payee_ilp: "v4",
            reject_additional_properties: false,
        }
    }
}

/// The service, its databases and the two DFSPs `payerfsp` and `payeefsp` (active, with active
/// USD POSITION and SETTLEMENT accounts and a quotes endpoint each).
pub struct World {
    pub api: Api,
    pub ledger: sqlx::MySqlPool,
    pub quotes: Option<sqlx::MySqlPool>,
    pub payer: Dfsp,
    pub payee: Dfsp,
    pub ilp: Ilp,
    databases: Vec<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub async fn world() -> World {
    world_with(Setup::default(), |_| async {}).await
}

/// A world whose central ledger is prepared further by `prepare` before the service starts.
pub async fn world_with<F, Fut>(setup: Setup, prepare: F) -> World
where
    F: FnOnce(sqlx::MySqlPool) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    quoting_service_init_tracing();
    let server = database_server_url();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let ledger_db = format!("tq_{}_cl", &id[..20]);
    let quotes_db = format!("tq_{}_q", &id[..20]);
    store::create_database_if_missing(&server, &ledger_db)
        .await
        .unwrap_or_else(|e| panic!("MySQL at {server} (set DATABASE_URL): {e}"));
    let ledger = store::connect(
        &store::database_url(&server, &ledger_db).unwrap(),
        4,
        10_000,
    )
    .await
    .unwrap();
    store::migrate_central_ledger(&ledger).await.unwrap();

    let payer = Dfsp::start(PAYER).await;
    let payee = Dfsp::start(PAYEE).await;
    add_participant(&ledger, PAYER, true, &[("USD", true)], Some(&payer.base)).await;
    add_participant(&ledger, PAYEE, true, &[("USD", true)], Some(&payee.base)).await;
    prepare(ledger.clone()).await;

    let mut config = Config::defaults().unwrap();
    config.quotes.mode = setup.mode;
    config.quotes.ilp_check = setup.ilp_check;
    config.quotes.ilp_versions = setup.ilp_versions.iter().map(|v| v.to_string()).collect();
    config.validation.reject_additional_properties = setup.reject_additional_properties;
    config.central_ledger_database.url = server.clone();
    config.central_ledger_database.name = ledger_db.clone();
    config.central_ledger_database.pool_size_max = 4;
    config.quotes_database.url = server.clone();
    config.quotes_database.name = quotes_db.clone();
    config.http_client.request_timeout_ms = 5000;
    let stores = quoting_service::connect(&config, true, true).await.unwrap();
    let quotes = stores.quotes.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.await;
        };
        if let Err(error) = quoting_service::run(config, stores, listener, shutdown).await {
            panic!("quoting-service stopped with an error: {error}");
        }
    });
    let version = IlpVersion::from_name(setup.payee_ilp).unwrap();
    let world = World {
        api: Api {
            base,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            raw: raw_client(),
        },
        ledger,
        quotes,
        payer,
        payee,
        ilp: Ilp::new(version, "payee-secret"),
        databases: vec![ledger_db, quotes_db],
        shutdown: Some(tx),
        task: Some(task),
    };
    world.wait_until_up().await;
    world
}

fn quoting_service_init_tracing() {
    service_kit::telemetry::init_for_tests("warn,quoting_service=debug");
}

/// Inserts a participant with POSITION and SETTLEMENT accounts in each `(currency, active)`
/// and, when given, its FSPIOP_CALLBACK_URL_QUOTES endpoint.
pub async fn add_participant(
    pool: &sqlx::MySqlPool,
    name: &str,
    active: bool,
    accounts: &[(&str, bool)],
    quotes_endpoint: Option<&str>,
) {
    let id =
        sqlx::query("INSERT INTO participant (name, isActive, createdBy) VALUES (?, ?, 'test')")
            .bind(name)
            .bind(active)
            .execute(pool)
            .await
            .unwrap()
            .last_insert_id();
    for (currency, account_active) in accounts {
        for account_type in [1u32, 2] {
            sqlx::query(
                "INSERT INTO participantCurrency (participantId, currencyId, ledgerAccountTypeId, isActive, createdBy) \
                 VALUES (?, ?, ?, ?, 'test')",
            )
            .bind(id)
            .bind(currency)
            .bind(account_type)
            .bind(account_active)
            .execute(pool)
            .await
            .unwrap();
        }
    }
    if let Some(url) = quotes_endpoint {
        sqlx::query(
            "INSERT INTO participantEndpoint (participantId, endpointTypeId, value, isActive, createdBy) \
             SELECT ?, endpointTypeId, ?, 1, 'test' FROM endpointType WHERE name = 'FSPIOP_CALLBACK_URL_QUOTES'",
        )
        .bind(id)
        .bind(url)
        .execute(pool)
        .await
        .unwrap();
    }
}

/// Registers `url` as `name`'s endpoint of type `endpoint_type` (a name of `endpointType`).
pub async fn add_endpoint(pool: &sqlx::MySqlPool, name: &str, endpoint_type: &str, url: &str) {
    sqlx::query(
        "INSERT INTO participantEndpoint (participantId, endpointTypeId, value, isActive, createdBy) \
         SELECT p.participantId, e.endpointTypeId, ?, 1, 'test' FROM participant p, endpointType e \
         WHERE p.name = ? AND e.name = ?",
    )
    .bind(url)
    .bind(name)
    .bind(endpoint_type)
    .execute(pool)
    .await
    .unwrap();
}

/// The FSPIOP headers a DFSP sends (`Accept` only on requests, as the API wants).
pub fn fspiop_headers(method: &str, source: &str, destination: &str) -> Vec<(String, String)> {
    let mut headers = vec![
        (
            "content-type".to_string(),
            "application/vnd.interoperability.quotes+json;version=1.1".to_string(),
        ),
        (
            "date".to_string(),
            fspiop::datetime::format_http_date(now_ms()),
        ),
        ("fspiop-source".to_string(), source.to_string()),
        ("fspiop-destination".to_string(), destination.to_string()),
    ];
    if method != "PUT" {
        headers.push((
            "accept".to_string(),
            "application/vnd.interoperability.quotes+json;version=1".to_string(),
        ));
    }
    headers
}

/// An HTTP client that sends exactly the headers it is given (reqwest adds `Accept: */*`,
/// which an FSPIOP callback must not carry).
pub type RawClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<Bytes>,
>;

pub fn raw_client() -> RawClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

/// The service's HTTP API (cheap to clone, for concurrent senders).
#[derive(Clone)]
pub struct Api {
    pub base: String,
    /// For plain calls (`/health`, `/metrics`, wrong methods).
    pub client: reqwest::Client,
    /// For FSPIOP requests.
    pub raw: RawClient,
}

impl Api {
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
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("quoting-service did not answer /health");
    }

    /// Sends a request with exactly `headers` and `body`; returns the status and the JSON body
    /// (Null when empty).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> (u16, Value) {
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(http_body_util::Full::new(Bytes::from(
                body.unwrap_or_default(),
            )))
            .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(30), self.raw.request(request))
            .await
            .unwrap_or_else(|_| panic!("{method} {path}: timed out"))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, json)
    }

    /// `POST /quotes` from `source` to `destination`, asserting `status`.
    pub async fn post_quote(
        &self,
        source: &str,
        destination: &str,
        body: &Value,
        status: u16,
    ) -> Value {
        let headers = fspiop_headers("POST", source, destination);
        let (got, answer) = self
            .send(
                "POST",
                "/quotes",
                &headers,
                Some(body.to_string().into_bytes()),
            )
            .await;
        assert_eq!(got, status, "POST /quotes: {answer}");
        answer
    }

    /// `PUT /quotes/{id}` from `source` to `destination`, asserting `status`.
    pub async fn put_quote(
        &self,
        id: &str,
        source: &str,
        destination: &str,
        body: &Value,
        status: u16,
    ) -> Value {
        let headers = fspiop_headers("PUT", source, destination);
        let (got, answer) = self
            .send(
                "PUT",
                &format!("/quotes/{id}"),
                &headers,
                Some(body.to_string().into_bytes()),
            )
            .await;
        assert_eq!(got, status, "PUT /quotes/{id}: {answer}");
        answer
    }

    /// The text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits (bounded) until `/metrics` has the sample line `line` (name, labels and value).
    pub async fn wait_for_metric(&self, line: &str) {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            let metrics = self.metrics().await;
            if metrics.lines().any(|l| l == line) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no `{line}` in /metrics:\n{metrics}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl std::ops::Deref for World {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl World {
    /// The payee's response to `request`: `transferAmount` `amount currency`, expiring in an
    /// hour, with the packet and condition the payee's ILP engine makes for it.
    pub fn response_for(&self, request: &Value, amount: &str, currency: &str) -> Value {
        let expiration = fspiop::datetime::format_date_time(now_ms() + 3_600_000);
        let mut response = json!({
            "transferAmount": {"amount": amount, "currency": currency},
            "payeeReceiveAmount": {"amount": amount, "currency": currency},
            "payeeFspFee": {"amount": "0", "currency": currency},
            "payeeFspCommission": {"amount": "0", "currency": currency},
            "expiration": expiration,
        });
        let terms = self.ilp.quote_response_terms(request, &response).unwrap();
        response["ilpPacket"] = json!(terms.ilp_packet);
        response["condition"] = json!(terms.condition);
        response
    }

    /// The name the quotes database has (or would have, in pass-through mode).
    pub fn quotes_database_name(&self) -> String {
        self.databases[1].clone()
    }

    pub fn quotes_pool(&self) -> &sqlx::MySqlPool {
        self.quotes.as_ref().expect("persistent mode")
    }

    /// Stops the service and drops its databases.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .unwrap()
                .unwrap();
        }
        self.ledger.close().await;
        if let Some(pool) = &self.quotes {
            pool.close().await;
        }
        for database in std::mem::take(&mut self.databases) {
            let _ = store::drop_database_if_exists(&database_server_url(), &database).await;
        }
    }
}

impl Drop for World {
    /// A test that failed before `stop` still drops its databases (on a thread of its own:
    /// the test's runtime may be unwinding).
    fn drop(&mut self) {
        let databases = std::mem::take(&mut self.databases);
        if databases.is_empty() {
            return;
        }
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                for database in databases {
                    let _ = store::drop_database_if_exists(&database_server_url(), &database).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A quote request from `payerfsp` to `payeefsp`.
pub fn quote_request(quote_id: &str, amount: &str, currency: &str) -> Value {
    json!({
        "quoteId": quote_id,
        "transactionId": new_id(),
        "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "27713803912", "fspId": PAYEE}},
        "payer": {
            "partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "27713803911", "fspId": PAYER},
            "name": "Zoë Payer"
        },
        "amountType": "SEND",
        "amount": {"amount": amount, "currency": currency},
        "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"},
        "note": "lunch",
        "expiration": fspiop::datetime::format_date_time(now_ms() + 600_000)
    })
}
