//! Spawning the service on port 0 with a fresh database, and a client that asserts statuses.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use central_ledger::{Config, Handlers};
use fspiop::envelope::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
pub use test_support::{database_server_url, kafka_brokers};

pub struct TestApp {
    pub base: String,
    /// Prefix of this app's topics and groups.
    pub topic_prefix: String,
    pub client: reqwest::Client,
    pub database: String,
    pub pool: sqlx::MySqlPool,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Starts the admin API and the admin-transfer handler on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Handlers {
        admin: true,
        ..Handlers::default()
    })
    .await
}

/// Starts the admin API and the given handlers on a fresh database.
pub async fn spawn_app_with(handlers: Handlers) -> TestApp {
    spawn_app_configured(handlers, |_| {}).await
}

/// [`spawn_app_with`], with `adjust` applied to the test configuration before the start.
pub async fn spawn_app_configured(handlers: Handlers, adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(handlers, adjust, None, None).await
}

/// A test app's database and topic prefix, to start it again on them ([`TestApp::halt`]).
pub struct Resume {
    pub database: String,
    pub topic_prefix: String,
}

/// [`spawn_app_configured`] on `bus` (Kafka at KAFKA_BROKERS when `None`), on a fresh
/// database and topic prefix or, with `resume`, on an earlier app's.
pub async fn spawn_app_on(
    handlers: Handlers,
    adjust: impl FnOnce(&mut Config),
    bus: Option<bus::Bus>,
    resume: Option<Resume>,
) -> TestApp {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (database, topic_prefix) = match resume {
        Some(resume) => (resume.database, resume.topic_prefix),
        None => (format!("t_{id}"), format!("t{}-", &id[..12])),
    };
    let mut config = Config::defaults().unwrap_or_else(|e| panic!("defaults: {e}"));
    config.database.url = database_server_url();
    config.database.name = database.clone();
    config.database.pool_size_max = 10;
    config.kafka.brokers = kafka_brokers();
    config.kafka.topic_prefix = topic_prefix.clone();
    config.kafka.topic_partitions = 2;
    config.server.hostname_url = "http://central-ledger".to_string();
    config.transfers.timeout_interval_ms = 200;
    // These tests carry a fixed sample packet; the ILP check is exercised end to end with real
    // packets in services/mojaloop/tests/transfers.rs.
    config.transfers.ilp_check = false;
    adjust(&mut config);
    let store = central_ledger::connect_store(&config, true, true)
        .await
        .unwrap_or_else(|e| panic!("MySQL at {} (set DATABASE_URL): {e}", config.database.url));
    let pool = store.pool.clone();
    let (listener, base) = test_support::listener().await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.await;
        };
        let result = match bus {
            Some(bus) => {
                central_ledger::run_with_bus(config, bus, store, handlers, listener, shutdown).await
            }
            None => central_ledger::run(config, store, handlers, listener, shutdown).await,
        };
        if let Err(error) = result {
            panic!("central-ledger stopped with an error (is Kafka at KAFKA_BROKERS up?): {error}");
        }
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let app = TestApp {
        base,
        topic_prefix,
        client,
        database,
        pool,
        shutdown: Some(tx),
        task: Some(task),
    };
    app.wait_until_up().await;
    app
}

impl TestApp {
    async fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
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
        panic!("central-ledger did not answer /health within 30 s");
    }

    /// Sends a request and asserts the status; returns the JSON body (Null when empty).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let got = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(got, status, "{method} {path} {body:?}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"))
        }
    }

    /// Sends a request that must fail with `code` and `status`; returns the description.
    pub async fn fails(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        status: u16,
        code: &str,
    ) -> String {
        let answer = self.call(method, path, body, status).await;
        assert_eq!(
            answer["errorInformation"]["errorCode"], code,
            "{method} {path}: {answer}"
        );
        answer["errorInformation"]["errorDescription"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Hub accounts and the DEFERREDNET model for `currency`.
    pub async fn setup_hub(&self, currency: &str) {
        for account_type in ["HUB_MULTILATERAL_SETTLEMENT", "HUB_RECONCILIATION"] {
            self.call(
                "POST",
                "/participants/Hub/accounts",
                Some(json!({"currency": currency, "type": account_type})),
                201,
            )
            .await;
        }
        self.call("POST", "/settlementModels", Some(deferred_net(None)), 201)
            .await;
    }

    /// A participant with a NET_DEBIT_CAP and an initial position, accounts active.
    pub async fn onboard(&self, name: &str, currency: &str, limit: u64) {
        self.call(
            "POST",
            "/participants",
            Some(json!({"name": name, "currency": currency})),
            201,
        )
        .await;
        self.call(
            "POST",
            &format!("/participants/{name}/initialPositionAndLimits"),
            Some(json!({"currency": currency, "limit": {"type": "NET_DEBIT_CAP", "value": limit}, "initialPosition": 0})),
            201,
        )
        .await;
    }

    /// The id of the participant's account of a type in a currency.
    pub async fn account_id(&self, name: &str, currency: &str, account_type: &str) -> u64 {
        let participant = self
            .call("GET", &format!("/participants/{name}"), None, 200)
            .await;
        participant["accounts"]
            .as_array()
            .and_then(|accounts| {
                accounts
                    .iter()
                    .find(|a| a["currency"] == currency && a["ledgerAccountType"] == account_type)
            })
            .and_then(|a| a["id"].as_u64())
            .unwrap_or_else(|| {
                panic!("{name} has no {account_type} account in {currency}: {participant}")
            })
    }

    /// The value of an account's position, as a decimal string from the database.
    pub async fn position(&self, account_id: u64) -> String {
        let (value,): (String,) = sqlx::query_as(
            "SELECT CAST(value AS CHAR) FROM participantPosition WHERE participantCurrencyId = ?",
        )
        .bind(account_id)
        .fetch_one(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("position of {account_id}: {e}"));
        value
    }

    /// The latest state of a transfer, if it exists yet.
    pub async fn transfer_state(&self, transfer_id: &str) -> Option<String> {
        sqlx::query_as::<_, (String,)>(
            "SELECT transferStateId FROM transferStateChange WHERE transferId = ? ORDER BY transferStateChangeId DESC LIMIT 1",
        )
        .bind(transfer_id)
        .fetch_optional(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|(s,)| s)
    }

    /// The latest state of a conversion, if it exists yet.
    pub async fn fx_state(&self, commit_request_id: &str) -> Option<String> {
        sqlx::query_as::<_, (String,)>(
            "SELECT transferStateId FROM fxTransferStateChange WHERE commitRequestId = ? ORDER BY fxTransferStateChangeId DESC LIMIT 1",
        )
        .bind(commit_request_id)
        .fetch_optional(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|(s,)| s)
    }

    /// Waits (bounded) until the conversion reaches `state`.
    pub async fn wait_for_fx_state(&self, commit_request_id: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let current = self.fx_state(commit_request_id).await;
            if current.as_deref() == Some(state) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "fxTransfer {commit_request_id} is {current:?}, never reached {state}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (bounded) until the transfer reaches `state`.
    pub async fn wait_for_state(&self, transfer_id: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let current = self.transfer_state(transfer_id).await;
            if current.as_deref() == Some(state) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "transfer {transfer_id} is {current:?}, never reached {state}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether /health answers 200.
    pub async fn healthy(&self) -> bool {
        self.client
            .get(format!("{}/health", self.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    /// Stops the service and keeps its database, to start it again ([`spawn_app_on`]).
    pub async fn halt(mut self) -> Resume {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        self.pool.close().await;
        Resume {
            database: self.database.clone(),
            topic_prefix: self.topic_prefix.clone(),
        }
    }

    /// Stops the service and drops its database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        self.pool.close().await;
        let _ = store::drop_database_if_exists(&database_server_url(), &self.database).await;
    }
}

pub fn deferred_net(currency: Option<&str>) -> Value {
    json!({
        "name": "DEFERREDNET", "settlementGranularity": "NET", "settlementInterchange": "MULTILATERAL",
        "settlementDelay": "DEFERRED", "currency": currency, "requireLiquidityCheck": true,
        "ledgerAccountType": "POSITION", "autoPositionReset": true, "settlementAccountType": "SETTLEMENT"
    })
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn funds_in(transfer_id: &str, amount: &str, currency: &str) -> Value {
    json!({
        "transferId": transfer_id, "externalReference": "bank-ref-1", "action": "recordFundsIn",
        "reason": "deposit", "amount": {"amount": amount, "currency": currency},
        "extensionList": {"extension": [{"key": "channel", "value": "test"}]}
    })
}

pub fn funds_out(transfer_id: &str, amount: &str, currency: &str) -> Value {
    json!({
        "transferId": transfer_id, "externalReference": "bank-ref-2", "action": "recordFundsOutPrepareReserve",
        "reason": "withdrawal", "amount": {"amount": amount, "currency": currency}
    })
}

/// A prepare as the ML API Adapter puts it on `topic-transfer-prepare` (the exact body bytes in
/// a data URI, these headers set): its key and its bytes.
pub fn prepare_message(body: &Value, source: &str, set: &[(&str, &str)]) -> (String, Vec<u8>) {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut headers = BTreeMap::new();
    headers.insert(
        "content-type".to_string(),
        "application/vnd.interoperability.transfers+json;version=1.1".to_string(),
    );
    for (name, value) in set {
        headers.insert(name.to_string(), value.to_string());
    }
    headers.insert("fspiop-source".to_string(), source.to_string());
    headers.insert(
        "fspiop-destination".to_string(),
        body["payeeFsp"].as_str().unwrap_or("").to_string(),
    );
    headers.insert(
        "date".to_string(),
        "Tue, 15 Nov 1994 08:12:31 GMT".to_string(),
    );
    let id = body["transferId"].as_str().unwrap_or("");
    let message = Message::from_request(
        id,
        source,
        body["payeeFsp"].as_str().unwrap_or(""),
        headers,
        Some(&bytes),
        None,
        "prepare",
        "prepare",
        central_ledger::now_ms(),
    );
    (
        id.to_string(),
        serde_json::to_vec(&message).unwrap_or_default(),
    )
}

/// An `/fxTransfers` message for the `kind` topic as the ML API Adapter makes it: fxTransfers
/// media type, the exact body bytes; returns its key (prepares keyed by the initiator) and
/// value.
pub fn fx_message(
    kind: &str,
    id: &str,
    body: Option<&Value>,
    source: &str,
    destination: &str,
    action: &str,
) -> (String, Vec<u8>) {
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
    let mut headers = BTreeMap::new();
    headers.insert(
        "content-type".to_string(),
        "application/vnd.interoperability.fxTransfers+json;version=2.0".to_string(),
    );
    headers.insert("fspiop-source".to_string(), source.to_string());
    headers.insert("fspiop-destination".to_string(), destination.to_string());
    headers.insert(
        "date".to_string(),
        "Tue, 15 Nov 1994 08:12:31 GMT".to_string(),
    );
    let message = Message::from_request(
        id,
        source,
        destination,
        headers,
        bytes.as_deref(),
        Some(id),
        kind,
        action,
        central_ledger::now_ms(),
    );
    let key = if kind == "prepare" { source } else { id };
    (
        key.to_string(),
        serde_json::to_vec(&message).unwrap_or_default(),
    )
}

pub struct Bus {
    producer: FutureProducer,
    notifications: StreamConsumer,
    prepare_topic: String,
    pub seen: Vec<Message>,
    fulfil_topic: String,
    get_topic: String,
}

impl Bus {
    pub async fn new(app: &TestApp) -> Bus {
        let config = bus::BusConfig::new(kafka_brokers(), "test");
        let producer = bus::create_producer(&config).unwrap_or_else(|e| panic!("{e}"));
        let notifications =
            bus::create_consumer(&config, &format!("{}test-listener", app.topic_prefix))
                .unwrap_or_else(|e| panic!("{e}"));
        notifications
            .subscribe(&[format!("{}{}", app.topic_prefix, bus::TOPIC_NOTIFICATION_EVENT).as_str()])
            .unwrap_or_else(|e| panic!("{e}"));
        Bus {
            producer,
            notifications,
            prepare_topic: format!("{}{}", app.topic_prefix, bus::TOPIC_TRANSFER_PREPARE),
            fulfil_topic: format!("{}{}", app.topic_prefix, bus::TOPIC_TRANSFER_FULFIL),
            get_topic: format!("{}{}", app.topic_prefix, bus::TOPIC_TRANSFER_GET),
            seen: Vec::new(),
        }
    }

    /// Puts a prepare on the topic as the ML API Adapter does: the exact body bytes in a data URI.
    pub async fn prepare(&self, body: &Value, source: &str) {
        self.prepare_with(body, source, &[]).await
    }

    /// [`Bus::prepare`] with these headers set (`content-type`, `accept`, …).
    pub async fn prepare_with(&self, body: &Value, source: &str, set: &[(&str, &str)]) {
        let (id, value) = prepare_message(body, source, set);
        self.producer
            .send(
                FutureRecord::to(&self.prepare_topic)
                    .key(&id)
                    .payload(&value),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("{e}"));
    }

    /// Puts a `PUT /transfers/{id}` (action commit/reserve/reject) or `PUT …/error` (abort) on
    /// the fulfil topic as the ML API Adapter does.
    pub async fn fulfil(
        &self,
        id: &str,
        body: &Value,
        source: &str,
        destination: &str,
        action: &str,
    ) {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let mut headers = BTreeMap::new();
        headers.insert(
            "content-type".to_string(),
            "application/vnd.interoperability.transfers+json;version=1.1".to_string(),
        );
        headers.insert("fspiop-source".to_string(), source.to_string());
        headers.insert("fspiop-destination".to_string(), destination.to_string());
        headers.insert(
            "date".to_string(),
            "Tue, 15 Nov 1994 08:12:31 GMT".to_string(),
        );
        let message = Message::from_request(
            id,
            source,
            destination,
            headers,
            Some(&bytes),
            Some(id),
            "fulfil",
            action,
            central_ledger::now_ms(),
        );
        let value = serde_json::to_vec(&message).unwrap_or_default();
        self.producer
            .send(
                FutureRecord::to(&self.fulfil_topic).key(id).payload(&value),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("{e}"));
    }

    /// Puts an `/fxTransfers` message on the `kind` topic (`prepare`, `fulfil` or `get`) as the
    /// ML API Adapter does ([`fx_message`]).
    pub async fn fx(
        &self,
        kind: &str,
        id: &str,
        body: Option<&Value>,
        source: &str,
        destination: &str,
        action: &str,
    ) {
        let (key, value) = fx_message(kind, id, body, source, destination, action);
        let topic = match kind {
            "prepare" => &self.prepare_topic,
            "fulfil" => &self.fulfil_topic,
            _ => &self.get_topic,
        };
        self.producer
            .send(
                FutureRecord::to(topic).key(&key).payload(&value),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("{e}"));
    }

    /// Puts a `GET /transfers/{id}` from `source` on the get topic.
    pub async fn get(&self, id: &str, source: &str) {
        let mut headers = BTreeMap::new();
        headers.insert("fspiop-source".to_string(), source.to_string());
        headers.insert(
            "date".to_string(),
            "Tue, 15 Nov 1994 08:12:31 GMT".to_string(),
        );
        let message = Message::from_request(
            id,
            source,
            "Hub",
            headers,
            None,
            Some(id),
            "get",
            "get",
            central_ledger::now_ms(),
        );
        let value = serde_json::to_vec(&message).unwrap_or_default();
        self.producer
            .send(
                FutureRecord::to(&self.get_topic).key(id).payload(&value),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("{e}"));
    }

    /// Waits (bounded) for a notification about `id` with `action`.
    pub async fn notification(&mut self, id: &str, action: &str) -> Message {
        self.notification_where(&format!("{action} for {id}"), |m| {
            m.id == id && m.metadata.event.action == action
        })
        .await
    }

    /// Waits (bounded) for a notification that `wanted` accepts.
    pub async fn notification_where(
        &mut self,
        what: &str,
        wanted: impl Fn(&Message) -> bool,
    ) -> Message {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(found) = self.seen.iter().find(|m| wanted(m)) {
                return found.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no notification: {what}; seen {:?}",
                self.seen
                    .iter()
                    .map(|m| (&m.id, &m.metadata.event.action))
                    .collect::<Vec<_>>()
            );
            if let Ok(Ok(message)) = tokio::time::timeout(left, self.notifications.recv()).await {
                if let Some(Ok(parsed)) = message.payload().map(serde_json::from_slice::<Message>) {
                    self.seen.push(parsed);
                }
            }
        }
    }
}
