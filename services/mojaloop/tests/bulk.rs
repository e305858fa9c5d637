//! Bulk transfers end to end in one process over the real broker and database: payer DFSPs
//! post `/bulkTransfers` to the ML API Adapter, the central ledger reserves each transfer, a
//! payee DFSP answers with fulfilments (or refuses some, or all, or never answers) and payer
//! and payee are told the results. Positions are checked against the committed sums.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use fspiop::ilp::{Ilp, IlpVersion};
use serde_json::{json, Value};
use test_support::{database_server_url, kafka_brokers, serve};

const BULK: &str = "application/vnd.interoperability.bulkTransfers+json;version=1.1";

fn now_ms() -> i64 {
    central_ledger::now_ms()
}

/// What a DFSP server received: method, path, body.
type Received = Arc<Mutex<Vec<(String, String, Value)>>>;

struct Switch {
    ledger: String,
    api: String,
    pool: sqlx::MySqlPool,
    database: String,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

async fn start_switch(handlers: central_ledger::Handlers) -> Switch {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let database = format!("t_{id}");
    let prefix = format!("t{}-", &id[..12]);
    let mut ledger_config = central_ledger::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    ledger_config.database.url = database_server_url();
    ledger_config.database.name = database.clone();
    ledger_config.kafka.brokers = kafka_brokers();
    ledger_config.kafka.topic_prefix = prefix.clone();
    ledger_config.kafka.topic_partitions = 2;
    ledger_config.transfers.timeout_interval_ms = 300;
    let store = central_ledger::connect_store(&ledger_config, true, true)
        .await
        .unwrap_or_else(|e| panic!("MySQL (DATABASE_URL): {e}"));
    let pool = store.pool.clone();
    let mut stops = Vec::new();
    let (listener, ledger) = test_support::listener().await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    stops.push(tx);
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.await;
        };
        if let Err(e) =
            central_ledger::run(ledger_config, store, handlers, listener, shutdown).await
        {
            panic!("central-ledger (Kafka at KAFKA_BROKERS?): {e}");
        }
    });
    let mut api_config = ml_api_adapter::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    api_config.kafka.brokers = kafka_brokers();
    api_config.kafka.topic_prefix = prefix;
    api_config.kafka.topic_partitions = 2;
    api_config.central_ledger_database.url = database_server_url();
    api_config.central_ledger_database.name = database.clone();
    let (listener, api) = test_support::listener().await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    stops.push(tx);
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.await;
        };
        if let Err(e) = ml_api_adapter::run(api_config, listener, shutdown).await {
            panic!("ml-api-adapter: {e}");
        }
    });
    for base in [&ledger, &api] {
        test_support::wait_healthy(&reqwest::Client::new(), base, Duration::from_secs(60)).await;
    }
    Switch {
        ledger,
        api,
        pool,
        database,
        stops,
    }
}

impl Switch {
    async fn admin(&self, path: &str, body: Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.ledger))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.text().await.unwrap_or_default()
        );
    }

    async fn position(&self, name: &str) -> String {
        let (value,): (String,) = sqlx::query_as(
            "SELECT CAST(pp.value AS CHAR) FROM participantPosition pp
             JOIN participantCurrency pc ON pc.participantCurrencyId = pp.participantCurrencyId
             JOIN participant p ON p.participantId = pc.participantId
             WHERE p.name = ? AND pc.ledgerAccountTypeId = 1",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        value
    }

    async fn setup_hub(&self) {
        for account_type in ["HUB_MULTILATERAL_SETTLEMENT", "HUB_RECONCILIATION"] {
            self.admin(
                "/participants/Hub/accounts",
                json!({"currency": "USD", "type": account_type}),
            )
            .await;
        }
        self.admin(
            "/settlementModels",
            json!({"name": "DEFERREDNET", "settlementGranularity": "NET", "settlementInterchange": "MULTILATERAL", "settlementDelay": "DEFERRED",
                   "requireLiquidityCheck": true, "ledgerAccountType": "POSITION", "autoPositionReset": true, "settlementAccountType": "SETTLEMENT"}),
        )
        .await;
    }

    /// A DFSP with a net debit cap of `limit` and `funds` deposited, whose bulk callbacks go to
    /// `base`.
    async fn onboard(&self, name: &str, base: &str, limit: u64, funds: u64) {
        self.admin("/participants", json!({"name": name, "currency": "USD"}))
            .await;
        self.admin(
            &format!("/participants/{name}/initialPositionAndLimits"),
            json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": limit}, "initialPosition": 0}),
        )
        .await;
        for (kind, value) in [
            (
                "FSPIOP_CALLBACK_URL_BULK_TRANSFER_POST",
                format!("{base}/bulkTransfers"),
            ),
            (
                "FSPIOP_CALLBACK_URL_BULK_TRANSFER_PUT",
                format!("{base}/bulkTransfers/{{{{id}}}}"),
            ),
            (
                "FSPIOP_CALLBACK_URL_BULK_TRANSFER_ERROR",
                format!("{base}/bulkTransfers/{{{{id}}}}/error"),
            ),
        ] {
            self.admin(
                &format!("/participants/{name}/endpoints"),
                json!({"type": kind, "value": value}),
            )
            .await;
        }
        if funds == 0 {
            return;
        }
        let (settlement,): (u32,) = sqlx::query_as(
            "SELECT pc.participantCurrencyId FROM participantCurrency pc JOIN participant p ON p.participantId = pc.participantId WHERE p.name = ? AND pc.ledgerAccountTypeId = 2",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let deposit = uuid::Uuid::new_v4().to_string();
        self.admin(
            &format!("/participants/{name}/accounts/{settlement}"),
            json!({"transferId": deposit, "externalReference": "r", "action": "recordFundsIn", "reason": "deposit", "amount": {"amount": funds.to_string(), "currency": "USD"}}),
        )
        .await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let state: Option<(String,)> = sqlx::query_as("SELECT transferStateId FROM transferStateChange WHERE transferId = ? ORDER BY transferStateChangeId DESC LIMIT 1")
                .bind(&deposit)
                .fetch_optional(&self.pool)
                .await
                .unwrap_or(None);
            if state.is_some_and(|(s,)| s == "COMMITTED") {
                break;
            }
            assert!(Instant::now() < deadline, "deposit not committed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends a request as `source` to `destination`; returns the status and body.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        source: &str,
        destination: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.api))
            .header("content-type", BULK)
            .header(
                "accept",
                "application/vnd.interoperability.bulkTransfers+json;version=1",
            )
            .header("date", fspiop::datetime::format_http_date(now_ms()))
            .header("fspiop-source", source)
            .header("fspiop-destination", destination);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        self.pool.close().await;
        let _ = store::drop_database_if_exists(&database_server_url(), &self.database).await;
    }
}

/// A DFSP server that records every request; as a payee it answers each `POST
/// /bulkTransfers` according to its transfers' amounts: 13 refused (5104), 15 a wrong
/// fulfilment, 16 no answer at all, 17 the whole bulk REJECTED, others fulfilled.
async fn dfsp(name: &str, api: &str, engine: &Ilp) -> (String, Received) {
    let received: Received = Arc::default();
    let router = {
        let received = received.clone();
        let engine = engine.clone();
        let api = api.to_string();
        let name = name.to_string();
        axum::Router::new().fallback(move |request: Request| {
            let received = received.clone();
            let engine = engine.clone();
            let api = api.clone();
            let name = name.clone();
            async move {
                let method = request.method().to_string();
                let path = request.uri().path().to_string();
                let body = axum::body::to_bytes(request.into_body(), 8 << 20)
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                received
                    .lock()
                    .map(|mut r| r.push((method.clone(), path.clone(), body.clone())))
                    .unwrap_or(());
                let refuses = body["individualTransfers"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["transferAmount"]["amount"] == "18"));
                if method == "POST" && path == "/bulkTransfers" && refuses {
                    // A payee that does not take the bulk (as a JWS payee refuses one whose
                    // signature is missing).
                    return (
                        StatusCode::BAD_REQUEST,
                        axum::Json(json!({"errorInformation": {"errorCode": "3105", "errorDescription": "Invalid signature"}})),
                    )
                        .into_response();
                }
                if method == "POST" && path == "/bulkTransfers" {
                    tokio::spawn(answer_bulk(api, name, engine, body));
                }
                StatusCode::ACCEPTED.into_response()
            }
        })
    };
    (serve(router).await, received)
}

async fn answer_bulk(api: String, payee: String, engine: Ilp, bulk: Value) {
    let transfers = bulk["individualTransfers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let amount = |t: &Value| {
        t["transferAmount"]["amount"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    if transfers.iter().any(|t| amount(t) == "16") {
        return;
    }
    let id = bulk["bulkTransferId"].as_str().unwrap_or("").to_string();
    let payer = bulk["payerFsp"].as_str().unwrap_or("").to_string();
    // 19: the payee commits that transfer alone first (`PUT /transfers/{ID}`), then answers
    // the bulk.
    for t in transfers.iter().filter(|t| amount(t) == "19") {
        let fulfilment = engine
            .fulfilment_for_packet(t["ilpPacket"].as_str().unwrap_or(""))
            .unwrap_or_default();
        let response = reqwest::Client::new()
            .put(format!("{api}/transfers/{}", t["transferId"].as_str().unwrap_or("")))
            .header("content-type", "application/vnd.interoperability.transfers+json;version=1.1")
            .header("date", fspiop::datetime::format_http_date(now_ms()))
            .header("fspiop-source", payee.clone())
            .header("fspiop-destination", payer.clone())
            .json(&json!({"fulfilment": fulfilment, "completedTimestamp": fspiop::datetime::format_date_time(now_ms()), "transferState": "COMMITTED"}))
            .send()
            .await;
        assert!(response.is_ok_and(|r| r.status().as_u16() == 200));
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let body = if transfers.iter().any(|t| amount(t) == "17") {
        json!({"bulkTransferState": "REJECTED"})
    } else {
        let results: Vec<Value> = transfers
            .iter()
            .map(|t| {
                let transfer_id = t["transferId"].clone();
                match amount(t).as_str() {
                    "13" => json!({"transferId": transfer_id, "errorInformation": {"errorCode": "5104", "errorDescription": "Payee rejected transaction"}}),
                    "15" => json!({"transferId": transfer_id, "fulfilment": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
                    _ => json!({"transferId": transfer_id, "fulfilment": engine.fulfilment_for_packet(t["ilpPacket"].as_str().unwrap_or("")).unwrap_or_default()}),
                }
            })
            .collect();
        json!({"bulkTransferState": "COMPLETED", "completedTimestamp": fspiop::datetime::format_date_time(now_ms()), "individualTransferResults": results})
    };
    let response = reqwest::Client::new()
        .put(format!("{api}/bulkTransfers/{id}"))
        .header("content-type", BULK)
        .header("date", fspiop::datetime::format_http_date(now_ms()))
        .header("fspiop-source", payee)
        .header("fspiop-destination", payer)
        .json(&body)
        .send()
        .await;
    assert!(
        response.is_ok_and(|r| r.status().as_u16() == 200),
        "the switch took the payee's answer"
    );
}

/// A bulk from `payer` to `payee` with one transfer per amount, expiring in `expires_in_ms`.
fn bulk(engine: &Ilp, payer: &str, payee: &str, amounts: &[&str], expires_in_ms: i64) -> Value {
    let expiration = fspiop::datetime::format_date_time(now_ms() + expires_in_ms);
    let transfers: Vec<Value> = amounts
        .iter()
        .enumerate()
        .map(|(i, amount)| {
            let quote = json!({"quoteId": uuid::Uuid::new_v4().to_string(), "transactionId": uuid::Uuid::new_v4().to_string(),
                "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19012345001", "fspId": payer}},
                "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": format!("1901234{:04}", i), "fspId": payee}},
                "amountType": "SEND", "amount": {"amount": amount, "currency": "USD"},
                "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"}});
            let terms = engine
                .quote_response_terms(&quote, &json!({"transferAmount": {"amount": amount, "currency": "USD"}, "expiration": expiration}))
                .unwrap_or_else(|e| panic!("{e}"));
            json!({"transferId": uuid::Uuid::new_v4().to_string(), "transferAmount": {"amount": amount, "currency": "USD"},
                   "ilpPacket": terms.ilp_packet, "condition": terms.condition})
        })
        .collect();
    json!({"bulkTransferId": uuid::Uuid::new_v4().to_string(), "bulkQuoteId": uuid::Uuid::new_v4().to_string(),
           "payerFsp": payer, "payeeFsp": payee, "individualTransfers": transfers, "expiration": expiration})
}

/// The first request `received` got on `path` with `method` (waits up to 60 s).
async fn wait_for(received: &Received, method: &str, path: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let hit = received.lock().ok().and_then(|r| {
            r.iter()
                .find(|(m, p, _)| m == method && p == path)
                .map(|(_, _, b)| b.clone())
        });
        if let Some(body) = hit {
            return body;
        }
        assert!(Instant::now() < deadline, "never received: {method} {path}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The latest `PUT /bulkTransfers/{id}` `received` got.
fn last_put(received: &Received, id: &str) -> Value {
    let path = format!("/bulkTransfers/{id}");
    received
        .lock()
        .ok()
        .and_then(|r| {
            r.iter()
                .rev()
                .find(|(m, p, _)| m == "PUT" && *p == path)
                .map(|(_, _, b)| b.clone())
        })
        .unwrap_or_default()
}

fn count(received: &Received, method: &str, path: &str) -> usize {
    received
        .lock()
        .map(|r| {
            r.iter()
                .filter(|(m, p, _)| m == method && p == path)
                .count()
        })
        .unwrap_or(0)
}

/// `individualTransferResults` by transfer id: the fulfilment, or the error code.
fn results(body: &Value) -> HashMap<String, Result<String, String>> {
    body["individualTransferResults"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let id = r["transferId"].as_str().unwrap_or("").to_string();
            let outcome = match r["fulfilment"].as_str() {
                Some(f) => Ok(f.to_string()),
                None => Err(r["errorInformation"]["errorCode"]
                    .as_str()
                    .unwrap_or("none")
                    .to_string()),
            };
            (id, outcome)
        })
        .collect()
}

fn ids(bulk: &Value) -> Vec<String> {
    bulk["individualTransfers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|t| t["transferId"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn post_bulk(switch: &Switch, bulk: &Value) {
    let payer = bulk["payerFsp"].as_str().unwrap_or("");
    let payee = bulk["payeeFsp"].as_str().unwrap_or("");
    let (status, body) = switch
        .send(
            reqwest::Method::POST,
            "/bulkTransfers",
            payer,
            payee,
            Some(bulk),
        )
        .await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulks_commit_refuse_limit_and_deduplicate() {
    service_kit::telemetry::init_for_tests("info,sqlx=warn,rdkafka=warn");
    let switch = start_switch(central_ledger::Handlers::all()).await;
    let engine = Ilp::new(IlpVersion::V1, "bulk-payee-secret");
    let (payer_url, payer) = dfsp("payer-a", &switch.api, &engine).await;
    let (payee_a_url, payee_a) = dfsp("payee-a", &switch.api, &engine).await;
    let (payee_b_url, payee_b) = dfsp("payee-b", &switch.api, &engine).await;
    let (capped_url, capped) = dfsp("payer-capped", &switch.api, &engine).await;
    let (poor_url, poor) = dfsp("payer-poor", &switch.api, &engine).await;
    switch.setup_hub().await;
    switch
        .onboard("payer-a", &payer_url, 1_000_000, 1_000_000)
        .await;
    switch.onboard("payee-a", &payee_a_url, 1_000_000, 0).await;
    switch.onboard("payee-b", &payee_b_url, 1_000_000, 0).await;
    switch
        .onboard("payer-capped", &capped_url, 1_000, 1_000_000)
        .await;
    switch
        .onboard("payer-poor", &poor_url, 1_000_000, 250)
        .await;

    // 1000 transfers to payee-a and 300 to payee-b at once, every one committed: each payee's
    // position is minus its sum, the payer's the sum of both.
    let amounts_a: Vec<String> = (0..1000).map(|i| format!("{}.5", 1 + i % 7)).collect();
    let amounts_b: Vec<String> = (0..300).map(|i| format!("{}", 10 + i % 3)).collect();
    let sum = |amounts: &[String]| {
        amounts
            .iter()
            .map(|a| a.parse::<f64>().unwrap_or(0.0) * 10.0)
            .sum::<f64>() as i64
    };
    let (sum_a, sum_b) = (sum(&amounts_a), sum(&amounts_b));
    let big = bulk(&engine, "payer-a", "payee-a", &refs(&amounts_a), 120_000);
    let other = bulk(&engine, "payer-a", "payee-b", &refs(&amounts_b), 120_000);
    let (big_id, other_id) = (
        big["bulkTransferId"].as_str().unwrap_or("").to_string(),
        other["bulkTransferId"].as_str().unwrap_or("").to_string(),
    );
    tokio::join!(post_bulk(&switch, &big), post_bulk(&switch, &other));
    let sent = wait_for(&payee_a, "POST", "/bulkTransfers").await;
    assert_eq!(
        sent["individualTransfers"].as_array().map(Vec::len),
        Some(1000)
    );
    let to_payer = wait_for(&payer, "PUT", &format!("/bulkTransfers/{big_id}")).await;
    assert_eq!(to_payer["bulkTransferState"], "COMPLETED", "{to_payer}");
    let outcome = results(&to_payer);
    assert_eq!(outcome.len(), 1000);
    assert!(
        outcome.values().all(Result::is_ok),
        "every transfer committed"
    );
    let to_payee = wait_for(&payee_a, "PUT", &format!("/bulkTransfers/{big_id}")).await;
    assert_eq!(results(&to_payee).len(), 1000);
    let to_payer = wait_for(&payer, "PUT", &format!("/bulkTransfers/{other_id}")).await;
    assert!(results(&to_payer).values().all(Result::is_ok));
    wait_for(&payee_b, "PUT", &format!("/bulkTransfers/{other_id}")).await;
    let units = |tenths: i64| format!("{}.{}000", tenths / 10, tenths % 10);
    assert_eq!(
        switch.position("payee-a").await,
        format!("-{}", units(sum_a))
    );
    assert_eq!(
        switch.position("payee-b").await,
        format!("-{}", units(sum_b))
    );
    assert_eq!(switch.position("payer-a").await, units(sum_a + sum_b));
    let committed: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM bulkTransferAssociation a JOIN transferFulfilment f ON f.transferId = a.transferId WHERE a.bulkTransferId IN (?, ?) AND a.bulkProcessingStateId = 'COMPLETED'",
    )
    .bind(&big_id)
    .bind(&other_id)
    .fetch_one(&switch.pool)
    .await
    .unwrap_or((0,));
    assert_eq!(committed.0, 1300);

    // Some payees refuse (13), one fulfilment is wrong (15): the rest commit, the failed ones
    // come back with their errors and their money stays with the payer.
    let before_payer = switch.position("payer-a").await;
    let mixed = bulk(
        &engine,
        "payer-a",
        "payee-b",
        &["1", "13", "2", "15", "3"],
        60_000,
    );
    let mixed_id = mixed["bulkTransferId"].as_str().unwrap_or("").to_string();
    post_bulk(&switch, &mixed).await;
    let to_payer_mixed = wait_for(&payer, "PUT", &format!("/bulkTransfers/{mixed_id}")).await;
    assert_eq!(to_payer_mixed["bulkTransferState"], "COMPLETED");
    let outcome = results(&to_payer_mixed);
    let transfer_ids = ids(&mixed);
    assert!(outcome[&transfer_ids[0]].is_ok());
    assert_eq!(outcome[&transfer_ids[1]], Err("5104".to_string()));
    assert!(outcome[&transfer_ids[2]].is_ok());
    assert_eq!(outcome[&transfer_ids[3]], Err("3100".to_string()));
    assert!(outcome[&transfer_ids[4]].is_ok());
    let to_payee = wait_for(&payee_b, "PUT", &format!("/bulkTransfers/{mixed_id}")).await;
    assert_eq!(
        results(&to_payee)[&transfer_ids[1]],
        Err("5104".to_string())
    );
    let moved = |before: &str, tenths: i64| units(fspiop_units(before) + tenths);
    assert_eq!(switch.position("payer-a").await, moved(&before_payer, 60));

    // Over the net debit cap (1000): the transfers past it are refused 4200, the rest commit.
    let capped_bulk = bulk(
        &engine,
        "payer-capped",
        "payee-b",
        &["300", "300", "300", "300", "50"],
        60_000,
    );
    let capped_id = capped_bulk["bulkTransferId"]
        .as_str()
        .unwrap_or("")
        .to_string();
    post_bulk(&switch, &capped_bulk).await;
    let to_payer = wait_for(&capped, "PUT", &format!("/bulkTransfers/{capped_id}")).await;
    let outcome = results(&to_payer);
    let transfer_ids = ids(&capped_bulk);
    assert!(
        outcome[&transfer_ids[0]].is_ok()
            && outcome[&transfer_ids[1]].is_ok()
            && outcome[&transfer_ids[2]].is_ok()
    );
    assert_eq!(outcome[&transfer_ids[3]], Err("4200".to_string()));
    assert!(
        outcome[&transfer_ids[4]].is_ok(),
        "a smaller one still fits"
    );
    assert_eq!(switch.position("payer-capped").await, "950.0000");
    let sent = wait_for(&payee_b, "POST", "/bulkTransfers").await;
    assert!(sent.is_object());

    // Beyond the payer's liquidity (250 deposited): 4001 for those past it.
    let poor_bulk = bulk(
        &engine,
        "payer-poor",
        "payee-b",
        &["100", "100", "100"],
        60_000,
    );
    let poor_id = poor_bulk["bulkTransferId"]
        .as_str()
        .unwrap_or("")
        .to_string();
    post_bulk(&switch, &poor_bulk).await;
    let outcome = results(&wait_for(&poor, "PUT", &format!("/bulkTransfers/{poor_id}")).await);
    let transfer_ids = ids(&poor_bulk);
    assert_eq!(outcome[&transfer_ids[2]], Err("4001".to_string()));
    assert_eq!(switch.position("payer-poor").await, "200.0000");

    // Nothing fits: REJECTED to the payer, nothing to the payee.
    let hopeless = bulk(&engine, "payer-poor", "payee-b", &["100", "100"], 60_000);
    let hopeless_id = hopeless["bulkTransferId"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let posts_before = count(&payee_b, "POST", "/bulkTransfers");
    post_bulk(&switch, &hopeless).await;
    let to_payer = wait_for(&poor, "PUT", &format!("/bulkTransfers/{hopeless_id}")).await;
    assert_eq!(to_payer["bulkTransferState"], "REJECTED");
    assert!(results(&to_payer)
        .values()
        .all(|r| *r == Err("4001".to_string())));
    assert_eq!(count(&payee_b, "POST", "/bulkTransfers"), posts_before);

    // The payee rejects a whole bulk (17): REJECTED, every reservation given back.
    let before = switch.position("payer-a").await;
    let rejected = bulk(&engine, "payer-a", "payee-b", &["17", "5"], 60_000);
    let rejected_id = rejected["bulkTransferId"]
        .as_str()
        .unwrap_or("")
        .to_string();
    post_bulk(&switch, &rejected).await;
    let to_payer = wait_for(&payer, "PUT", &format!("/bulkTransfers/{rejected_id}")).await;
    assert_eq!(to_payer["bulkTransferState"], "REJECTED");
    assert!(results(&to_payer).values().all(Result::is_err));
    assert_eq!(switch.position("payer-a").await, before);

    // Duplicates: the same bulk again is answered with its results (nothing moves twice); the
    // same id with other content is 3106; a transfer id used before is refused 3106 alone.
    let before = switch.position("payer-a").await;
    let puts = count(&payer, "PUT", &format!("/bulkTransfers/{mixed_id}"));
    post_bulk(&switch, &mixed).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&payer, "PUT", &format!("/bulkTransfers/{mixed_id}")) == puts {
        assert!(Instant::now() < deadline, "a resent bulk is answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(switch.position("payer-a").await, before);
    let mut changed = mixed.clone();
    changed["individualTransfers"][0]["transferAmount"]["amount"] = json!("9");
    post_bulk(&switch, &changed).await;
    let error = wait_for(&payer, "PUT", &format!("/bulkTransfers/{mixed_id}/error")).await;
    assert_eq!(error["errorInformation"]["errorCode"], "3106");
    let mut reused = bulk(&engine, "payer-a", "payee-b", &["1", "2"], 60_000);
    reused["individualTransfers"][0] = mixed["individualTransfers"][0].clone();
    let reused_id = reused["bulkTransferId"].as_str().unwrap_or("").to_string();
    post_bulk(&switch, &reused).await;
    let outcome = results(&wait_for(&payer, "PUT", &format!("/bulkTransfers/{reused_id}")).await);
    assert_eq!(outcome[&ids(&reused)[0]], Err("3106".to_string()));
    assert!(outcome[&ids(&reused)[1]].is_ok());

    // GET: the payer sees every result, the payee those it was sent, others 3210.
    let (status, _) = switch
        .send(
            reqwest::Method::GET,
            &format!("/bulkTransfers/{mixed_id}"),
            "payer-a",
            "payee-b",
            None,
        )
        .await;
    assert_eq!(status, 202);
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&payer, "PUT", &format!("/bulkTransfers/{mixed_id}")) < puts + 2 {
        assert!(Instant::now() < deadline, "GET answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = last_put(&payer, &mixed_id);
    assert_eq!(got["bulkTransferState"], "COMPLETED", "{got}");
    assert_eq!(results(&got), results(&to_payer_mixed));
    let (status, _) = switch
        .send(
            reqwest::Method::GET,
            &format!("/bulkTransfers/{mixed_id}"),
            "payee-b",
            "payer-a",
            None,
        )
        .await;
    assert_eq!(status, 202);
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&payee_b, "PUT", &format!("/bulkTransfers/{mixed_id}")) < 2 {
        assert!(Instant::now() < deadline, "the payee's GET answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(results(&last_put(&payee_b, &mixed_id)).len(), 5);
    switch
        .send(
            reqwest::Method::GET,
            &format!("/bulkTransfers/{hopeless_id}"),
            "payer-poor",
            "payee-b",
            None,
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&poor, "PUT", &format!("/bulkTransfers/{hopeless_id}")) < 2 {
        assert!(Instant::now() < deadline, "GET of a rejected bulk answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        last_put(&poor, &hopeless_id)["bulkTransferState"],
        "REJECTED"
    );
    switch
        .send(
            reqwest::Method::GET,
            &format!("/bulkTransfers/{mixed_id}"),
            "payer-poor",
            "payee-b",
            None,
        )
        .await;
    let error = wait_for(&poor, "PUT", &format!("/bulkTransfers/{mixed_id}/error")).await;
    assert_eq!(error["errorInformation"]["errorCode"], "3210");
    switch.stop().await;
}

fn refs(a: &[String]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

/// `"123.4000"` as tenths.
fn fspiop_units(value: &str) -> i64 {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, "0"));
    whole.parse::<i64>().unwrap_or(0) * 10
        + fraction
            .get(..1)
            .and_then(|d| d.parse::<i64>().ok())
            .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bulk_the_payee_never_answers_expires_and_get_shows_each_state() {
    service_kit::telemetry::init_for_tests("info,sqlx=warn,rdkafka=warn");
    let switch = start_switch(central_ledger::Handlers::all()).await;
    let engine = Ilp::new(IlpVersion::V4, "bulk-payee-secret");
    let (payer_url, payer) = dfsp("payer-a", &switch.api, &engine).await;
    let (payee_url, payee) = dfsp("payee-a", &switch.api, &engine).await;
    switch.setup_hub().await;
    switch
        .onboard("payer-a", &payer_url, 100_000, 100_000)
        .await;
    switch.onboard("payee-a", &payee_url, 100_000, 0).await;

    // Too many transfers, or a body without them: refused at once.
    let many: Vec<&str> = vec!["1"; 1001];
    let (status, body) = switch
        .send(
            reqwest::Method::POST,
            "/bulkTransfers",
            "payer-a",
            "payee-a",
            Some(&bulk(&engine, "payer-a", "payee-a", &many, 60_000)),
        )
        .await;
    assert_eq!(
        (status, body["errorInformation"]["errorCode"].as_str()),
        (400, Some("3100")),
        "{body}"
    );
    let mut missing = bulk(&engine, "payer-a", "payee-a", &["1"], 60_000);
    missing
        .as_object_mut()
        .map(|o| o.remove("individualTransfers"));
    let (status, body) = switch
        .send(
            reqwest::Method::POST,
            "/bulkTransfers",
            "payer-a",
            "payee-a",
            Some(&missing),
        )
        .await;
    assert_eq!(
        (status, body["errorInformation"]["errorCode"].as_str()),
        (400, Some("3102"))
    );

    // The payee never answers (16): while it waits, GET says PROCESSING; at the expiration every
    // transfer expires (3303), payer and payee are told once, and the payer has its money back.
    let silent = bulk(&engine, "payer-a", "payee-a", &["16", "20", "30"], 3_000);
    let id = silent["bulkTransferId"].as_str().unwrap_or("").to_string();
    post_bulk(&switch, &silent).await;
    wait_for(&payee, "POST", "/bulkTransfers").await;
    assert_eq!(switch.position("payer-a").await, "66.0000");
    switch
        .send(
            reqwest::Method::GET,
            &format!("/bulkTransfers/{id}"),
            "payer-a",
            "payee-a",
            None,
        )
        .await;
    let state = wait_for(&payer, "PUT", &format!("/bulkTransfers/{id}")).await;
    assert_eq!(state["bulkTransferState"], "PROCESSING", "{state}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&payer, "PUT", &format!("/bulkTransfers/{id}")) < 2 {
        assert!(Instant::now() < deadline, "the expired bulk was reported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = last_put(&payer, &id);
    assert_eq!(last["bulkTransferState"], "COMPLETED", "{last}");
    assert!(
        results(&last)
            .values()
            .all(|r| *r == Err("3303".to_string())),
        "{last}"
    );
    let to_payee = wait_for(&payee, "PUT", &format!("/bulkTransfers/{id}")).await;
    assert_eq!(results(&to_payee).len(), 3);
    assert_eq!(switch.position("payer-a").await, "0.0000");
    assert_eq!(switch.position("payee-a").await, "0.0000");
    // A payee that refuses the bulk itself: the hub aborts it at once (not at its expiration,
    // a minute away) and payer and payee hear the payee's error for every transfer.
    let refused = bulk(&engine, "payer-a", "payee-a", &["18", "7"], 60_000);
    let refused_id = refused["bulkTransferId"].as_str().unwrap_or("").to_string();
    let started = Instant::now();
    post_bulk(&switch, &refused).await;
    let to_payer = wait_for(&payer, "PUT", &format!("/bulkTransfers/{refused_id}")).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "aborted before the expiration"
    );
    assert_eq!(to_payer["bulkTransferState"], "REJECTED", "{to_payer}");
    assert!(
        results(&to_payer)
            .values()
            .all(|r| *r == Err("3105".to_string())),
        "{to_payer}"
    );
    assert_eq!(switch.position("payer-a").await, "0.0000");
    // The payee commits one transfer alone before answering the bulk: the bulk reports it
    // committed with the others instead of waiting for it.
    let apart = bulk(&engine, "payer-a", "payee-a", &["19", "4"], 60_000);
    let apart_id = apart["bulkTransferId"].as_str().unwrap_or("").to_string();
    post_bulk(&switch, &apart).await;
    let to_payer = wait_for(&payer, "PUT", &format!("/bulkTransfers/{apart_id}")).await;
    assert_eq!(to_payer["bulkTransferState"], "COMPLETED", "{to_payer}");
    assert!(results(&to_payer).values().all(Result::is_ok), "{to_payer}");
    assert_eq!(switch.position("payer-a").await, "23.0000");
    // No per-transfer notice for a bulk's transfers.
    assert_eq!(count(&payer, "PUT", "/transfers"), 0);
    let (state,): (String,) =
        sqlx::query_as("SELECT bulkTransferStateId FROM bulkTransfer WHERE bulkTransferId = ?")
            .bind(&id)
            .fetch_one(&switch.pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state, "EXPIRED");
    // A late answer from the payee is refused: the bulk is finished.
    let late = json!({"bulkTransferState": "COMPLETED", "individualTransferResults": []});
    let (status, _) = switch
        .send(
            reqwest::Method::PUT,
            &format!("/bulkTransfers/{id}"),
            "payee-a",
            "payer-a",
            Some(&late),
        )
        .await;
    assert_eq!(status, 200);
    let error = wait_for(&payee, "PUT", &format!("/bulkTransfers/{id}/error")).await;
    assert_eq!(error["errorInformation"]["errorCode"], "3100");
    switch.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bulk_not_yet_handled_is_received() {
    service_kit::telemetry::init_for_tests("info,sqlx=warn,rdkafka=warn");
    // No prepare handler: the bulk stays with the API.
    let switch = start_switch(central_ledger::Handlers {
        admin: true,
        get: true,
        ..central_ledger::Handlers::default()
    })
    .await;
    let engine = Ilp::new(IlpVersion::V4, "bulk-payee-secret");
    let (payer_url, payer) = dfsp("payer-a", &switch.api, &engine).await;
    let (payee_url, _payee) = dfsp("payee-a", &switch.api, &engine).await;
    switch.setup_hub().await;
    switch.onboard("payer-a", &payer_url, 100_000, 0).await;
    switch.onboard("payee-a", &payee_url, 100_000, 0).await;
    let waiting = bulk(&engine, "payer-a", "payee-a", &["1"], 60_000);
    let id = waiting["bulkTransferId"].as_str().unwrap_or("").to_string();
    post_bulk(&switch, &waiting).await;
    switch
        .send(
            reqwest::Method::GET,
            &format!("/bulkTransfers/{id}"),
            "payer-a",
            "payee-a",
            None,
        )
        .await;
    let state = wait_for(&payer, "PUT", &format!("/bulkTransfers/{id}")).await;
    assert_eq!(state["bulkTransferState"], "RECEIVED", "{state}");
    // An unknown bulk: 3210.
    let unknown = uuid::Uuid::new_v4().to_string();
    switch
        .send(
            reqwest::Method::GET,
            &format!("/bulkTransfers/{unknown}"),
            "payer-a",
            "payee-a",
            None,
        )
        .await;
    let error = wait_for(&payer, "PUT", &format!("/bulkTransfers/{unknown}/error")).await;
    assert_eq!(error["errorInformation"]["errorCode"], "3210");
    switch.stop().await;
}
