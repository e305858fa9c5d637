//! The switch under test (ALS + MSISDN oracle + a central ledger database) and DFSP test
//! servers that record every request they receive.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use account_lookup_service::Config;
use serde_json::{json, Value};
pub use test_support::database_server_url;

/// How long a test waits for a callback.
pub const CALLBACK_WAIT: Duration = Duration::from_secs(15);

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

// ---- DFSP test servers -----------------------------------------------------------------------

/// One request a DFSP test server received.
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
            .unwrap_or_else(|e| panic!("{} {}: body is not JSON ({e})", self.method, self.path))
    }

    pub fn error_code(&self) -> String {
        self.json()["errorInformation"]["errorCode"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A DFSP: a server on 127.0.0.1:0 that records requests and answers 202 to GET and `status`
/// (200 by default) to anything else.
#[derive(Clone)]
pub struct Dfsp {
    pub name: String,
    pub base: String,
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

pub async fn spawn_dfsp(name: &str) -> Dfsp {
    let received: Arc<Mutex<Vec<Received>>> = Arc::new(Mutex::new(Vec::new()));
    let status = Arc::new(AtomicU16::new(200));
    let (listener, base) = test_support::listener().await;
    let (log, answer) = (received.clone(), status.clone());
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let (log, answer) = (log.clone(), answer.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
                .await
                .unwrap_or_default();
            let headers = parts
                .headers
                .iter()
                .filter_map(|(k, v)| {
                    v.to_str()
                        .ok()
                        .map(|v| (k.as_str().to_string(), v.to_string()))
                })
                .collect();
            let path = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let method = parts.method.to_string();
            let status = if method == "GET" {
                202
            } else {
                answer.load(Ordering::SeqCst)
            };
            if let Ok(mut log) = log.lock() {
                log.push(Received {
                    method,
                    path,
                    headers,
                    body: body.to_vec(),
                });
            }
            axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK)
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Dfsp {
        name: name.to_string(),
        base,
        received,
        status,
    }
}

impl Dfsp {
    /// Answers `status` to everything but GET from now on.
    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .map(|log| log.clone())
            .unwrap_or_default()
    }

    /// Waits (bounded) for a request with `method` and `path`.
    pub async fn wait_for(&self, method: &str, path: &str) -> Received {
        self.wait_until(&format!("{method} {path}"), |r| {
            r.method == method && r.path == path
        })
        .await
    }

    /// Waits (bounded) for a request matching `matches`.
    pub async fn wait_until(&self, what: &str, matches: impl Fn(&Received) -> bool) -> Received {
        let deadline = Instant::now() + CALLBACK_WAIT;
        loop {
            if let Some(found) = self.received().into_iter().find(&matches) {
                return found;
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = self
                    .received()
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect();
                panic!("{} never received {what}; it received {seen:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits (bounded) until `count` requests matching `matches` arrived; returns them.
    pub async fn wait_count(
        &self,
        what: &str,
        count: usize,
        matches: impl Fn(&Received) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + CALLBACK_WAIT;
        loop {
            let found: Vec<Received> = self.received().into_iter().filter(&matches).collect();
            if found.len() >= count {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{} received {} of {count} {what}",
                self.name,
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The endpoint templates a DFSP registers, as Mojaloop's test harness registers them.
pub fn endpoint_templates(base: &str) -> Vec<(&'static str, String)> {
    let parties = format!("{base}/parties/{{{{partyIdType}}}}/{{{{partyIdentifier}}}}");
    let participants = format!("{base}/participants/{{{{partyIdType}}}}/{{{{partyIdentifier}}}}");
    vec![
        ("FSPIOP_CALLBACK_URL_PARTIES_GET", parties.clone()),
        (
            "FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_GET",
            format!("{parties}/{{{{partySubIdOrType}}}}"),
        ),
        ("FSPIOP_CALLBACK_URL_PARTIES_PUT", parties.clone()),
        (
            "FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_PUT",
            format!("{parties}/{{{{partySubIdOrType}}}}"),
        ),
        (
            "FSPIOP_CALLBACK_URL_PARTIES_PUT_ERROR",
            format!("{parties}/error"),
        ),
        (
            "FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_PUT_ERROR",
            format!("{parties}/{{{{partySubIdOrType}}}}/error"),
        ),
        ("FSPIOP_CALLBACK_URL_PARTICIPANT_PUT", participants.clone()),
        (
            "FSPIOP_CALLBACK_URL_PARTICIPANT_SUB_ID_PUT",
            format!("{participants}/{{{{partySubIdOrType}}}}"),
        ),
        (
            "FSPIOP_CALLBACK_URL_PARTICIPANT_PUT_ERROR",
            format!("{participants}/error"),
        ),
        (
            "FSPIOP_CALLBACK_URL_PARTICIPANT_SUB_ID_PUT_ERROR",
            format!("{participants}/{{{{partySubIdOrType}}}}/error"),
        ),
        (
            "FSPIOP_CALLBACK_URL_PARTICIPANT_BATCH_PUT",
            format!("{base}/participants/{{{{requestId}}}}"),
        ),
        (
            "FSPIOP_CALLBACK_URL_PARTICIPANT_BATCH_PUT_ERROR",
            format!("{base}/participants/{{{{requestId}}}}/error"),
        ),
    ]
}

/// A base URL where nothing listens.
pub async fn closed_base() -> String {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    drop(listener);
    format!("http://{address}")
}

// ---- the switch ------------------------------------------------------------------------------

/// ALS (API and admin) + MSISDN oracle + central ledger database.
pub struct Switch {
    pub api: String,
    pub admin: String,
    pub oracle: String,
    pub client: reqwest::Client,
    pub ledger: sqlx::MySqlPool,
    pub oracle_pool: sqlx::MySqlPool,
    databases: Vec<String>,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub async fn spawn_switch() -> Switch {
    spawn_switch_with(|_| {}).await
}

/// The switch with the ALS configuration adjusted by `adjust`; the MSISDN oracle is
/// registered as the MSISDN oracle.
pub async fn spawn_switch_with(adjust: impl FnOnce(&mut Config)) -> Switch {
    spawn_switch_inner(adjust, false).await
}

/// The switch with its MSISDN oracle called in-process, as `mojaloop up` does: the oracle is
/// registered under a URL where nothing listens, so a call that went over HTTP would fail.
pub async fn spawn_switch_local_oracle() -> Switch {
    spawn_switch_inner(|_| {}, true).await
}

async fn spawn_switch_inner(adjust: impl FnOnce(&mut Config), local_oracle: bool) -> Switch {
    let server = database_server_url();
    let (ledger_db, als_db, oracle_db) = (unique("t_cl"), unique("t_als"), unique("t_orc"));
    store::create_database_if_missing(&server, &ledger_db)
        .await
        .unwrap_or_else(|e| panic!("MySQL at {server} (set DATABASE_URL): {e}"));
    let ledger_url = store::database_url(&server, &ledger_db).unwrap_or_else(|e| panic!("{e}"));
    let ledger = store::connect(&ledger_url, 5, 10_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store::migrate_central_ledger(&ledger)
        .await
        .unwrap_or_else(|e| panic!("central ledger migrations: {e}"));

    let mut stops = Vec::new();
    let mut tasks = Vec::new();

    // The oracle.
    let mut oracle_config = msisdn_oracle::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    oracle_config.database.url = server.clone();
    oracle_config.database.name = oracle_db.clone();
    oracle_config.database.pool_size_max = 5;
    let oracle_store = msisdn_oracle::connect_store(&oracle_config, true, true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let oracle_pool = oracle_store.pool.clone();
    let prepared =
        msisdn_oracle::Prepared::new(oracle_config, oracle_store).unwrap_or_else(|e| panic!("{e}"));
    let (oracle, local) = if local_oracle {
        let oracle = closed_base().await;
        let local = account_lookup_service::oracle::LocalOracle::new(&oracle, prepared.app());
        (oracle, Some(local))
    } else {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let oracle = format!(
            "http://{}",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        stops.push(tx);
        tasks.push(tokio::spawn(async move {
            let stop = async move {
                let _ = rx.await;
            };
            if let Err(error) = prepared.serve(listener, stop).await {
                panic!("oracle stopped with an error: {error}");
            }
        }));
        (oracle, None)
    };

    // The ALS.
    let mut config = Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    config.database.url = server.clone();
    config.database.name = als_db.clone();
    config.database.pool_size_max = 5;
    config.directory.central_ledger_database_url = ledger_url;
    config.directory.pool_size_max = 5;
    config.callbacks.request_timeout_ms = 5000;
    config.oracle.request_timeout_ms = 5000;
    adjust(&mut config);
    let stores = account_lookup_service::connect(&config, true, true)
        .await
        .unwrap_or_else(|e| panic!("ALS databases: {e}"));
    let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = format!(
        "http://{}",
        api_listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let admin = format!(
        "http://{}",
        admin_listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    stops.push(tx);
    tasks.push(tokio::spawn(async move {
        let stop = async move {
            let _ = rx.await;
        };
        if let Err(error) = account_lookup_service::run_with_local_oracle(
            config,
            stores,
            api_listener,
            admin_listener,
            local,
            stop,
        )
        .await
        {
            panic!("ALS stopped with an error: {error}");
        }
    }));

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let switch = Switch {
        api,
        admin,
        oracle,
        client,
        ledger,
        oracle_pool,
        databases: vec![ledger_db, als_db, oracle_db],
        stops,
        tasks,
    };
    let oracle_base = switch.oracle.clone();
    switch
        .register_oracle("MSISDN", &oracle_base, None, true)
        .await;
    switch
}

/// Request headers as a DFSP sends them, for `resource` at version 1.1.
pub fn fspiop_headers(
    method: &str,
    resource: &str,
    source: &str,
    destination: Option<&str>,
) -> Vec<(String, String)> {
    let mut headers = vec![
        (
            "content-type".to_string(),
            format!("application/vnd.interoperability.{resource}+json;version=1.1"),
        ),
        (
            "date".to_string(),
            fspiop::datetime::format_http_date(now_ms()),
        ),
        ("fspiop-source".to_string(), source.to_string()),
    ];
    if matches!(method, "GET" | "POST" | "DELETE") {
        headers.push((
            "accept".to_string(),
            format!("application/vnd.interoperability.{resource}+json;version=1"),
        ));
    }
    if let Some(destination) = destination {
        headers.push(("fspiop-destination".to_string(), destination.to_string()));
    }
    headers
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The answer to a request: status and JSON body (Null when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["errorInformation"]["errorCode"]
            .as_str()
            .unwrap_or_default()
    }

    pub fn description(&self) -> &str {
        self.body["errorInformation"]["errorDescription"]
            .as_str()
            .unwrap_or_default()
    }
}

impl Switch {
    /// Inserts a participant (with a USD position account) and its callback endpoints into the
    /// central ledger database.
    pub async fn onboard(&self, dfsp: &Dfsp) {
        self.onboard_with(&dfsp.name, &endpoint_templates(&dfsp.base))
            .await;
    }

    pub async fn onboard_with(&self, name: &str, endpoints: &[(&str, String)]) {
        sqlx::query("INSERT INTO participant (name, description, createdBy) VALUES (?, 'test DFSP', 'test')")
            .bind(name)
            .execute(&self.ledger)
            .await
            .unwrap_or_else(|e| panic!("participant {name}: {e}"));
        sqlx::query(
            "INSERT INTO participantCurrency (participantId, currencyId, ledgerAccountTypeId, createdBy)
             SELECT participantId, 'USD', 1, 'test' FROM participant WHERE name = ?",
        )
        .bind(name)
        .execute(&self.ledger)
        .await
        .unwrap_or_else(|e| panic!("account of {name}: {e}"));
        for (endpoint_type, value) in endpoints {
            sqlx::query(
                "INSERT INTO participantEndpoint (participantId, endpointTypeId, value, createdBy)
                 SELECT p.participantId, et.endpointTypeId, ?, 'test' FROM participant p, endpointType et
                 WHERE p.name = ? AND et.name = ?",
            )
            .bind(value)
            .bind(name)
            .bind(endpoint_type)
            .execute(&self.ledger)
            .await
            .unwrap_or_else(|e| panic!("endpoint {endpoint_type} of {name}: {e}"));
        }
    }

    /// `POST /oracles` on the admin API.
    pub async fn register_oracle(
        &self,
        party_type: &str,
        base: &str,
        currency: Option<&str>,
        is_default: bool,
    ) {
        let mut body = json!({"oracleIdType": party_type, "endpoint": {"value": base, "endpointType": "URL"}, "isDefault": is_default});
        if let Some(currency) = currency {
            body["currency"] = json!(currency);
        }
        let answer = self.admin_call("POST", "/oracles", Some(body)).await;
        assert_eq!(answer.status, 201, "{answer:?}");
    }

    /// A request to the admin API.
    pub async fn admin_call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let headers = vec![
            (
                "accept".to_string(),
                "application/vnd.interoperability.participants+json;version=1".to_string(),
            ),
            (
                "content-type".to_string(),
                "application/vnd.interoperability.participants+json;version=1.0".to_string(),
            ),
            (
                "date".to_string(),
                fspiop::datetime::format_http_date(now_ms()),
            ),
        ];
        send(
            &self.client,
            method,
            &format!("{}{path}", self.admin),
            &headers,
            body.map(|b| b.to_string()),
        )
        .await
    }

    /// An FSPIOP request to the ALS API with the usual headers for its resource.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        source: &str,
        destination: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let resource = fspiop::headers::resource_of_path(path);
        let headers = fspiop_headers(method, resource, source, destination);
        self.call_with(method, path, &headers, body.map(|b| b.to_string()))
            .await
    }

    /// An FSPIOP request with exactly these headers and body text.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Option<String>,
    ) -> Answer {
        send(
            &self.client,
            method,
            &format!("{}{path}", self.api),
            headers,
            body,
        )
        .await
    }

    /// Registers `id` (of `party_type`) as held by `dfsp` through `POST /participants` and
    /// waits for the ALS's confirmation.
    pub async fn register_party(&self, dfsp: &Dfsp, party_type: &str, id: &str) {
        let path = format!("/participants/{party_type}/{id}");
        let answer = self
            .call(
                "POST",
                &path,
                &dfsp.name,
                None,
                Some(json!({"fspId": dfsp.name, "currency": "USD"})),
            )
            .await;
        assert_eq!(answer.status, 202, "{answer:?}");
        let confirmation = dfsp.wait_for("PUT", &path).await;
        assert_eq!(
            confirmation.json()["partyList"][0]["fspId"],
            dfsp.name.as_str()
        );
    }

    /// The oracle's mappings of `id`.
    pub async fn oracle_mappings(&self, id: &str) -> Vec<(String, String)> {
        sqlx::query_as("SELECT fspId, subId FROM oracleMSISDN WHERE id = ? ORDER BY subId")
            .bind(id)
            .fetch_all(&self.oracle_pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Stops the ALS and the oracle and drops the three databases.
    pub async fn stop(mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        self.ledger.close().await;
        self.oracle_pool.close().await;
        for database in &self.databases {
            let _ = store::drop_database_if_exists(&database_server_url(), database).await;
        }
    }
}

async fn send(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<String>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut request = client.request(method.clone(), url);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {url}: not JSON ({e}): {text}"))
    };
    Answer {
        status,
        body,
        headers,
    }
}

/// A request written by hand on a TCP connection, for header sets an HTTP client library
/// would change (reqwest always adds `Accept: */*` when there is none). Returns the status
/// and the JSON body.
pub async fn raw_request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .unwrap_or_else(|e| panic!("connect {address}: {e}"));
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: 0\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response))
        .await
        .unwrap_or_else(|_| panic!("no answer to {method} {path}"))
        .unwrap_or_else(|e| panic!("read: {e}"));
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Whether a PUT the switch sent carries no `Accept` (callbacks must not).
pub fn no_accept(received: &Received) -> bool {
    received.header("accept").is_none()
}

/// A party body as a payee DFSP sends it in `PUT /parties`.
pub fn party_body(party_type: &str, id: &str, fsp: &str) -> Value {
    json!({
        "party": {
            "partyIdInfo": {"partyIdType": party_type, "partyIdentifier": id, "fspId": fsp},
            "name": "Mats Hagman",
            "personalInfo": {"complexName": {"firstName": "Mats", "lastName": "Hagman"}, "dateOfBirth": "1983-10-25"}
        }
    })
}
