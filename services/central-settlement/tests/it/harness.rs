//! The central ledger (admin API, prepare, fulfil and admin handlers) and central settlement on
//! one fresh database and their own Kafka topics; transfers are put on the ledger's topics as
//! the ML API Adapter puts them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fspiop::envelope::Message;
use serde_json::{json, Value};
pub use test_support::{database_server_url, kafka_brokers};

/// A fulfilment and its condition, shared by every test transfer (the ILP check is off here;
/// the prepare's packet is checked end to end in services/mojaloop/tests/transfers.rs).
pub const FULFILMENT: &str = "UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA";
const ILP_PACKET: &str = "AYIBgQAAAAAAAASwNGxldmVsb25lLmRmc3AxLm1lci45T2RTOF81MDdqUUZERmZlakgyOVc4bXFmNEpLMHlGTFGCAUBQU0svMS4wCk5vbmNlOiB1SXlweUYzY3pYSXBFdzVVc05TYWh3CkVuY3J5cHRpb246IG5vbmUKUGF5bWVudC1JZDogMTMyMzZhM2ItOGZhOC00MTYzLTg0NDctNGMzZWQzZGE5OGE3CgpDb250ZW50LUxlbmd0aDogMTM1CkNvbnRlbnQtVHlwZTogYXBwbGljYXRpb24vanNvbgpTZW5kZXItSWRlbnRpZmllcjogOTI4MDYzOTEKCiJ7XCJmZWVcIjowLFwidHJhbnNmZXJDb2RlXCI6XCJpbnZvaWNlXCIsXCJkZWJpdE5hbWVcIjpcImFsaWNlIGNvb3BlclwiLFwiY3JlZGl0TmFtZVwiOlwibWVyIGNoYW50XCIsXCJkZWJpdElkZW50aWZpZXJcIjpcIjkyODA2MzkxXCJ9IgA";

pub struct Switch {
    pub ledger: String,
    pub settlement: String,
    pub client: reqwest::Client,
    pub pool: sqlx::MySqlPool,
    database: String,
    producer: bus::Producer,
    prepare_topic: String,
    fulfil_topic: String,
    shutdown: Vec<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Switch {
    /// Starts both services; `gross` runs the gross settlement handler too.
    pub async fn start(gross: bool) -> Switch {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("t_{id}");
        let prefix = format!("s{}-", &id[..12]);
        let mut ledger = central_ledger::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
        ledger.database.url = database_server_url();
        ledger.database.name = database.clone();
        ledger.database.pool_size_max = 10;
        ledger.kafka.brokers = kafka_brokers();
        ledger.kafka.topic_prefix = prefix.clone();
        ledger.kafka.topic_partitions = 2;
        ledger.transfers.ilp_check = false;
        let mut settlement =
            central_settlement::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
        settlement.database.url = database_server_url();
        settlement.database.name = database.clone();
        settlement.kafka.brokers = kafka_brokers();
        settlement.kafka.topic_prefix = prefix.clone();
        settlement.kafka.topic_partitions = 2;
        settlement.gross.enabled = gross;
        // The gross test creates its model just before paying.
        settlement.gross.models_cache_ms = 100;
        settlement.windows.close_retry_delay_ms = 200;
        let ledger_store = central_ledger::connect_store(&ledger, true, true)
            .await
            .unwrap_or_else(|e| panic!("MySQL at {} (set DATABASE_URL): {e}", ledger.database.url));
        let settlement_store = central_settlement::connect_store(&settlement, false)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let pool = ledger_store.pool.clone();
        let producer = bus::Bus::Kafka(ledger.bus())
            .producer()
            .unwrap_or_else(|e| panic!("{e}"));
        let (ledger_listener, ledger_base) = test_support::listener().await;
        let (settlement_listener, settlement_base) = test_support::listener().await;
        let (ledger_stop, ledger_rx) = tokio::sync::oneshot::channel::<()>();
        let (settlement_stop, settlement_rx) = tokio::sync::oneshot::channel::<()>();
        let handlers = central_ledger::Handlers {
            admin: true,
            prepare: true,
            fulfil: true,
            ..central_ledger::Handlers::default()
        };
        let ledger_task = tokio::spawn(async move {
            let stop = async move {
                let _ = ledger_rx.await;
            };
            if let Err(error) =
                central_ledger::run(ledger, ledger_store, handlers, ledger_listener, stop).await
            {
                panic!("central-ledger stopped (is Kafka at KAFKA_BROKERS up?): {error}");
            }
        });
        let settlement_task = tokio::spawn(async move {
            let stop = async move {
                let _ = settlement_rx.await;
            };
            if let Err(error) =
                central_settlement::run(settlement, settlement_store, settlement_listener, stop)
                    .await
            {
                panic!("central-settlement stopped: {error}");
            }
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let switch = Switch {
            ledger: ledger_base,
            settlement: format!("{settlement_base}/v2"),
            client,
            pool,
            database,
            producer,
            prepare_topic: format!("{prefix}{}", bus::TOPIC_TRANSFER_PREPARE),
            fulfil_topic: format!("{prefix}{}", bus::TOPIC_TRANSFER_FULFIL),
            shutdown: vec![ledger_stop, settlement_stop],
            tasks: vec![ledger_task, settlement_task],
        };
        for base in [&switch.ledger, &settlement_base] {
            switch.wait_healthy(base).await;
        }
        switch
    }

    async fn wait_healthy(&self, base: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(response) = self.client.get(format!("{base}/health")).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{base} did not answer /health within 30 s");
    }

    /// A request to `base` + `path`; asserts the status and returns the body.
    pub async fn call(
        &self,
        base: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = self.client.request(method.clone(), format!("{base}{path}"));
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
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
        }
    }

    /// A settlement API call.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        self.call(&self.settlement, method, path, body, status)
            .await
    }

    /// A settlement API call that must fail with `code`; returns the description.
    pub async fn refused(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        status: u16,
        code: &str,
    ) -> String {
        let answer = self.api(method, path, body, status).await;
        assert_eq!(
            answer["errorInformation"]["errorCode"], code,
            "{path}: {answer}"
        );
        answer["errorInformation"]["errorDescription"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Hub accounts and models: DEFERREDNET by default; `gross_currency` gets an IMMEDIATE GROSS
    /// model of its own.
    pub async fn setup_hub(&self, currencies: &[&str], gross_currency: Option<&str>) {
        for currency in currencies {
            for account_type in ["HUB_MULTILATERAL_SETTLEMENT", "HUB_RECONCILIATION"] {
                self.call(
                    &self.ledger,
                    "POST",
                    "/participants/Hub/accounts",
                    Some(json!({"currency": currency, "type": account_type})),
                    201,
                )
                .await;
            }
        }
        self.call(&self.ledger, "POST", "/settlementModels", Some(json!({
            "name": "DEFERREDNET", "settlementGranularity": "NET", "settlementInterchange": "MULTILATERAL",
            "settlementDelay": "DEFERRED", "requireLiquidityCheck": true, "ledgerAccountType": "POSITION",
            "autoPositionReset": true, "settlementAccountType": "SETTLEMENT"})), 201).await;
        if let Some(currency) = gross_currency {
            self.call(&self.ledger, "POST", "/settlementModels", Some(json!({
                "name": "GROSS", "settlementGranularity": "GROSS", "settlementInterchange": "BILATERAL",
                "settlementDelay": "IMMEDIATE", "currency": currency, "requireLiquidityCheck": true,
                "ledgerAccountType": "POSITION", "autoPositionReset": true, "settlementAccountType": "SETTLEMENT"})), 201).await;
        }
    }

    /// A DFSP with a net debit cap, and `deposit` paid into its settlement account.
    pub async fn onboard(&self, name: &str, currency: &str, limit: u64, deposit: &str) {
        self.call(
            &self.ledger,
            "POST",
            "/participants",
            Some(json!({"name": name, "currency": currency})),
            201,
        )
        .await;
        self.call(&self.ledger, "POST", &format!("/participants/{name}/initialPositionAndLimits"),
            Some(json!({"currency": currency, "limit": {"type": "NET_DEBIT_CAP", "value": limit}, "initialPosition": 0})), 201).await;
        let settlement = self.account(name, currency, "SETTLEMENT").await;
        let deposit_id = uuid::Uuid::new_v4().to_string();
        self.call(
            &self.ledger,
            "POST",
            &format!("/participants/{name}/accounts/{settlement}"),
            Some(json!({
            "transferId": deposit_id, "externalReference": "deposit", "action": "recordFundsIn",
            "reason": "deposit", "amount": {"amount": deposit, "currency": currency}})),
            202,
        )
        .await;
        self.wait_for_state(&deposit_id, "COMMITTED").await;
    }

    /// The id of a participant's account.
    pub async fn account(&self, name: &str, currency: &str, account_type: &str) -> u64 {
        let participant = self
            .call(
                &self.ledger,
                "GET",
                &format!("/participants/{name}"),
                None,
                200,
            )
            .await;
        participant["accounts"]
            .as_array()
            .and_then(|accounts| {
                accounts
                    .iter()
                    .find(|a| a["currency"] == currency && a["ledgerAccountType"] == account_type)
            })
            .and_then(|a| a["id"].as_u64())
            .unwrap_or_else(|| panic!("{name} has no {account_type} in {currency}: {participant}"))
    }

    /// The participant id behind an account.
    pub async fn participant_of(&self, account: u64) -> u64 {
        let (id,): (u32,) = sqlx::query_as(
            "SELECT participantId FROM participantCurrency WHERE participantCurrencyId = ?",
        )
        .bind(account)
        .fetch_one(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        u64::from(id)
    }

    /// An account's position value in units of 10^-4.
    pub async fn position(&self, account: u64) -> i64 {
        let (value,): (String,) = sqlx::query_as(
            "SELECT CAST(value AS CHAR) FROM participantPosition WHERE participantCurrencyId = ?",
        )
        .bind(account)
        .fetch_one(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("position of {account}: {e}"));
        units(&value)
    }

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

    /// Waits until a window's state is `state`.
    pub async fn wait_for_window(&self, window: u64, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let view = self
                .api("GET", &format!("/settlementWindows/{window}"), None, 200)
                .await;
            if view["state"] == state {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "window {window} never reached {state}: {view}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn put(&self, topic: &str, message: &Message, key: &str) {
        let value = serde_json::to_vec(message).unwrap_or_default();
        self.producer
            .send(topic, Some(key), &value, 10_000)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Puts an `/fxTransfers` message (`kind` prepare or fulfil) as the ML API Adapter does.
    pub async fn fx(
        &self,
        kind: &str,
        id: &str,
        body: &Value,
        source: &str,
        destination: &str,
        action: &str,
    ) {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let mut headers = headers(source, destination);
        headers.insert(
            "content-type".to_string(),
            "application/vnd.interoperability.fxTransfers+json;version=2.0".to_string(),
        );
        let message = Message::from_request(
            id,
            source,
            destination,
            headers,
            Some(&bytes),
            Some(id),
            kind,
            action,
            central_ledger::now_ms(),
        );
        let (topic, key) = if kind == "prepare" {
            (&self.prepare_topic, source)
        } else {
            (&self.fulfil_topic, id)
        };
        self.put(topic, &message, key).await;
    }

    /// Waits (bounded) until the conversion reaches `state`.
    pub async fn wait_for_fx_state(&self, id: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let current: Option<(String,)> = sqlx::query_as(
                "SELECT transferStateId FROM fxTransferStateChange WHERE commitRequestId = ? ORDER BY fxTransferStateChangeId DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            if current.as_ref().map(|(s,)| s.as_str()) == Some(state) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "fxTransfer {id} is {current:?}, never reached {state}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Puts a prepare from `payer` to `payee` on the prepare topic.
    pub async fn prepare(&self, id: &str, payer: &str, payee: &str, amount: &str, currency: &str) {
        let body = json!({
            "transferId": id, "payerFsp": payer, "payeeFsp": payee,
            "amount": {"amount": amount, "currency": currency},
            "ilpPacket": ILP_PACKET,
            "condition": fspiop::ilp::condition_from_fulfilment(FULFILMENT).unwrap_or_default(),
            "expiration": fspiop::datetime::format_date_time(central_ledger::now_ms() + 600_000),
        });
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let message = Message::from_request(
            id,
            payer,
            payee,
            headers(payer, payee),
            Some(&bytes),
            None,
            "prepare",
            "prepare",
            central_ledger::now_ms(),
        );
        self.put(&self.prepare_topic, &message, payer).await;
    }

    /// Puts the payee's answer: a commit (fulfilment) or an abort (error).
    pub async fn fulfil(&self, id: &str, payer: &str, payee: &str, commit: bool) {
        let (body, action) = if commit {
            (
                json!({"fulfilment": FULFILMENT, "completedTimestamp": fspiop::datetime::format_date_time(central_ledger::now_ms()), "transferState": "COMMITTED"}),
                "commit",
            )
        } else {
            (
                json!({"errorInformation": {"errorCode": "5105", "errorDescription": "Payee transaction limit reached"}}),
                "abort",
            )
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let message = Message::from_request(
            id,
            payee,
            payer,
            headers(payee, payer),
            Some(&bytes),
            Some(id),
            "fulfil",
            action,
            central_ledger::now_ms(),
        );
        self.put(&self.fulfil_topic, &message, id).await;
    }

    /// Prepares, waits for RESERVED, then commits (or aborts) and waits for the final state.
    pub async fn pay(
        &self,
        payer: &str,
        payee: &str,
        amount: &str,
        currency: &str,
        commit: bool,
    ) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.prepare(&id, payer, payee, amount, currency).await;
        self.wait_for_state(&id, "RESERVED").await;
        self.fulfil(&id, payer, payee, commit).await;
        self.wait_for_state(&id, if commit { "COMMITTED" } else { "ABORTED_ERROR" })
            .await;
        id
    }

    /// The window a transfer was bound to at commit.
    pub async fn window_of(&self, transfer_id: &str) -> Option<u64> {
        sqlx::query_as::<_, (Option<u64>,)>(
            "SELECT settlementWindowId FROM transferFulfilment WHERE transferId = ?",
        )
        .bind(transfer_id)
        .fetch_optional(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .and_then(|(w,)| w)
    }

    /// Stops both services and drops the database.
    pub async fn stop(mut self) {
        for stop in self.shutdown.drain(..) {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        self.pool.close().await;
        let _ = store::drop_database_if_exists(&database_server_url(), &self.database).await;
    }
}

fn headers(source: &str, destination: &str) -> BTreeMap<String, String> {
    let mut headers = BTreeMap::new();
    headers.insert(
        "content-type".to_string(),
        "application/vnd.interoperability.transfers+json;version=1.1".to_string(),
    );
    headers.insert("fspiop-source".to_string(), source.to_string());
    headers.insert("fspiop-destination".to_string(), destination.to_string());
    headers.insert(
        "date".to_string(),
        fspiop::datetime::format_http_date(central_ledger::now_ms()),
    );
    headers
}

/// A decimal amount (string or JSON number) in units of 10^-4.
pub fn units(text: &str) -> i64 {
    ledger::Money::parse(text.trim_matches('"'))
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .units()
}

/// The net amount of an account in a settlement body, in units.
pub fn net_of(settlement: &Value, account: u64) -> Option<i64> {
    settlement["participants"]
        .as_array()?
        .iter()
        .flat_map(|p| p["accounts"].as_array().into_iter().flatten())
        .find(|a| a["id"].as_u64() == Some(account))
        .map(|a| units(&a["netSettlementAmount"]["amount"].to_string()))
}

/// Every account of a settlement body: (participant, account, state).
pub fn accounts_of(settlement: &Value) -> Vec<(u64, u64, String)> {
    settlement["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| {
            let participant = p["id"].as_u64().unwrap_or(0);
            p["accounts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |a| {
                    (
                        participant,
                        a["id"].as_u64().unwrap_or(0),
                        a["state"].as_str().unwrap_or("").to_string(),
                    )
                })
        })
        .collect()
}

/// The body moving every account of a settlement to `state`.
pub fn all_to(settlement: &Value, state: &str) -> Value {
    let mut participants: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    for (participant, account, _) in accounts_of(settlement) {
        participants.entry(participant).or_default().push(
            json!({"id": account, "state": state, "reason": format!("to {state}"), "externalReference": "bank-42"}),
        );
    }
    json!({"participants": participants.into_iter().map(|(id, accounts)| json!({"id": id, "accounts": accounts})).collect::<Vec<_>>()})
}
