//! Transfers end to end in one process: a payer DFSP posts a transfer to the ML API Adapter,
//! the central ledger reserves, the payee DFSP is called and answers with the fulfilment, the
//! ledger commits and the payer is called back, all through the real broker and database.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::routing::post;
use fspiop::ilp::{Ilp, IlpVersion};
use serde_json::{json, Value};
use test_support::{database_server_url, kafka_brokers, serve};

const TRANSFERS: &str = "application/vnd.interoperability.transfers+json;version=1.1";
const TRANSFERS_V10: &str = "application/vnd.interoperability.transfers+json;version=1.0";

fn now_ms() -> i64 {
    central_ledger::now_ms()
}

/// What a DFSP server received: method, path, headers, body.
type Received = Arc<Mutex<Vec<(String, String, Vec<(String, String)>, Vec<u8>)>>>;

struct Switch {
    ledger: String,
    api: String,
    pool: sqlx::MySqlPool,
    database: String,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

async fn start_switch() -> Switch {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let database = format!("t_{id}");
    let prefix = format!("t{}-", &id[..12]);
    let mut ledger_config = central_ledger::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    ledger_config.database.url = database_server_url();
    ledger_config.database.name = database.clone();
    ledger_config.kafka.brokers = kafka_brokers();
    ledger_config.kafka.topic_prefix = prefix.clone();
    ledger_config.kafka.topic_partitions = 2;
    ledger_config.transfers.timeout_interval_ms = 500;
    let store = central_ledger::connect_store(&ledger_config, true, true)
        .await
        .unwrap_or_else(|e| panic!("MySQL (DATABASE_URL): {e}"));
    let pool = store.pool.clone();
    let mut stops = Vec::new();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ledger = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    stops.push(tx);
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.await;
        };
        if let Err(e) = central_ledger::run(
            ledger_config,
            store,
            central_ledger::Handlers::all(),
            listener,
            shutdown,
        )
        .await
        {
            panic!("central-ledger (Kafka at KAFKA_BROKERS?): {e}");
        }
    });

    let mut api_config = ml_api_adapter::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    api_config.server.host = "127.0.0.1".into();
    api_config.kafka.brokers = kafka_brokers();
    api_config.kafka.topic_prefix = prefix;
    api_config.kafka.topic_partitions = 2;
    api_config.central_ledger_database.url = database_server_url();
    api_config.central_ledger_database.name = database.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
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
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for base in [&ledger, &api] {
        while !client
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "{base} not healthy within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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
    async fn admin(&self, method: reqwest::Method, path: &str, body: Value) {
        let response = reqwest::Client::new()
            .request(method, format!("{}{path}", self.ledger))
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

    async fn state(&self, transfer_id: &str) -> Option<String> {
        sqlx::query_as::<_, (String,)>("SELECT transferStateId FROM transferStateChange WHERE transferId = ? ORDER BY transferStateChangeId DESC LIMIT 1")
            .bind(transfer_id)
            .fetch_optional(&self.pool)
            .await
            .ok()
            .flatten()
            .map(|(s,)| s)
    }

    async fn onboard(&self, name: &str, base: &str) {
        self.admin(
            reqwest::Method::POST,
            "/participants",
            json!({"name": name, "currency": "USD"}),
        )
        .await;
        self.admin(
            reqwest::Method::POST,
            &format!("/participants/{name}/initialPositionAndLimits"),
            json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 10000}, "initialPosition": 0}),
        )
        .await;
        for (kind, value) in [
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
            self.admin(
                reqwest::Method::POST,
                &format!("/participants/{name}/endpoints"),
                json!({"type": kind, "value": value}),
            )
            .await;
        }
    }

    async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        self.pool.close().await;
        let _ = store::drop_database_if_exists(&database_server_url(), &self.database).await;
    }
}

fn recorder(
    received: Received,
) -> impl Fn(Request) -> std::pin::Pin<Box<dyn std::future::Future<Output = StatusCode> + Send>> + Clone
{
    move |request: Request| {
        let received = received.clone();
        Box::pin(async move {
            let method = request.method().to_string();
            let path = request.uri().path().to_string();
            let headers = request
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default();
            received
                .lock()
                .map(|mut r| r.push((method, path, headers, body)))
                .unwrap_or(());
            StatusCode::OK
        })
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn wait_for(
    received: &Received,
    what: &str,
    found: impl Fn(&(String, String, Vec<(String, String)>, Vec<u8>)) -> bool,
) -> (String, String, Vec<(String, String)>, Vec<u8>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(hit) = received
            .lock()
            .ok()
            .and_then(|r| r.iter().find(|x| found(x)).cloned())
        {
            return hit;
        }
        assert!(Instant::now() < deadline, "never received: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_end_to_end_in_every_outcome() {
    service_kit::telemetry::init_for_tests("info,sqlx=warn,rdkafka=warn");
    let switch = start_switch().await;
    let switch_api = switch.api.clone();

    // The payer's server records callbacks; the payee's records and answers each prepare with
    // its fulfilment (or, for amounts of 13, an error).
    let payer_received: Received = Arc::default();
    let payer = serve(axum::Router::new().fallback(recorder(payer_received.clone()))).await;
    let payee_received: Received = Arc::default();
    let engine = Ilp::new(IlpVersion::V4, "payee-secret");
    let payee_router = {
        let received = payee_received.clone();
        let engine = engine.clone();
        axum::Router::new()
            .route(
                "/transfers",
                post(move |request: Request| {
                    let received = received.clone();
                    let engine = engine.clone();
                    let api = switch_api.clone();
                    async move {
                        let headers: Vec<(String, String)> = request.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
                        let body = axum::body::to_bytes(request.into_body(), 1 << 20).await.map(|b| b.to_vec()).unwrap_or_default();
                        received.lock().map(|mut r| r.push(("POST".into(), "/transfers".into(), headers, body.clone()))).unwrap_or(());
                        let transfer: Value = serde_json::from_slice(&body).unwrap_or_default();
                        let id = transfer["transferId"].as_str().unwrap_or("").to_string();
                        tokio::spawn(async move {
                            // The amount says how this payee behaves: 13 refuses, 14 answers
                            // RESERVED, 15 sends a wrong fulfilment, 16 never answers, 17
                            // answers RESERVED in FSPIOP 1.0 (which has no RESERVED fulfil).
                            let amount = transfer["amount"]["amount"].as_str().unwrap_or("").to_string();
                            let fulfilment = engine.fulfilment_for_packet(transfer["ilpPacket"].as_str().unwrap_or("")).unwrap_or_default();
                            let completed = fspiop::datetime::format_date_time(now_ms());
                            let (path, body) = match amount.as_str() {
                                "13" => (format!("/transfers/{id}/error"), json!({"errorInformation": {"errorCode": "5104", "errorDescription": "Payee rejected transaction"}})),
                                "14" => (format!("/transfers/{id}"), json!({"fulfilment": fulfilment, "completedTimestamp": completed, "transferState": "RESERVED"})),
                                "15" => (format!("/transfers/{id}"), json!({"fulfilment": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "completedTimestamp": completed, "transferState": "COMMITTED"})),
                                "16" => return,
                                "17" => (format!("/transfers/{id}"), json!({"fulfilment": fulfilment, "completedTimestamp": completed, "transferState": "RESERVED"})),
                                _ => (format!("/transfers/{id}"), json!({"fulfilment": fulfilment, "completedTimestamp": completed, "transferState": "COMMITTED"})),
                            };
                            let content_type = if amount == "17" { TRANSFERS_V10 } else { TRANSFERS };
                            let answer = reqwest::Client::new()
                                .put(format!("{api}{path}"))
                                .header("content-type", content_type)
                                .header("date", fspiop::datetime::format_http_date(now_ms()))
                                .header("fspiop-source", "payee-dfsp")
                                .header("fspiop-destination", "payer-dfsp")
                                .json(&body)
                                .send()
                                .await;
                            // What the switch answered the payee, for the test to read.
                            if let Ok(answer) = answer {
                                let status = answer.status().as_u16().to_string();
                                let bytes = answer.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                                received.lock().map(|mut r| r.push(("ANSWERED".into(), path.clone(), vec![("status".into(), status)], bytes))).unwrap_or(());
                            }
                        });
                        StatusCode::ACCEPTED
                    }
                }),
            )
            .fallback(recorder(payee_received.clone()))
    };
    let payee = serve(payee_router).await;

    // Onboarding: hub accounts, a settlement model, two DFSPs, the payer funded with 1000.
    for account_type in ["HUB_MULTILATERAL_SETTLEMENT", "HUB_RECONCILIATION"] {
        switch
            .admin(
                reqwest::Method::POST,
                "/participants/Hub/accounts",
                json!({"currency": "USD", "type": account_type}),
            )
            .await;
    }
    switch
        .admin(
            reqwest::Method::POST,
            "/settlementModels",
            json!({"name": "DEFERREDNET", "settlementGranularity": "NET", "settlementInterchange": "MULTILATERAL", "settlementDelay": "DEFERRED",
                   "requireLiquidityCheck": true, "ledgerAccountType": "POSITION", "autoPositionReset": true, "settlementAccountType": "SETTLEMENT"}),
        )
        .await;
    switch.onboard("payer-dfsp", &payer).await;
    switch.onboard("payee-dfsp", &payee).await;
    let (settlement,): (u32,) = sqlx::query_as(
        "SELECT pc.participantCurrencyId FROM participantCurrency pc JOIN participant p ON p.participantId = pc.participantId WHERE p.name = 'payer-dfsp' AND pc.ledgerAccountTypeId = 2",
    )
    .fetch_one(&switch.pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let deposit = uuid::Uuid::new_v4().to_string();
    switch
        .admin(
            reqwest::Method::POST,
            &format!("/participants/payer-dfsp/accounts/{settlement}"),
            json!({"transferId": deposit, "externalReference": "r", "action": "recordFundsIn", "reason": "deposit", "amount": {"amount": "1000", "currency": "USD"}}),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while switch.state(&deposit).await.as_deref() != Some("COMMITTED") {
        assert!(Instant::now() < deadline, "deposit not committed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let send_expiring = |id: &str, payer: &str, payee: &str, amount: &str, expires_in_ms: i64| {
        let quote = json!({"quoteId": uuid::Uuid::new_v4().to_string(), "transactionId": uuid::Uuid::new_v4().to_string(),
            "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19012345001", "fspId": "payer-dfsp"}},
            "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": "payee-dfsp"}},
            "amountType": "SEND", "amount": {"amount": amount, "currency": "USD"},
            "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"}});
        let expiration = fspiop::datetime::format_date_time(now_ms() + expires_in_ms);
        let terms = engine
            .quote_response_terms(&quote, &json!({"transferAmount": {"amount": amount, "currency": "USD"}, "expiration": expiration}))
            .unwrap_or_else(|e| panic!("{e}"));
        let body = json!({"transferId": id, "payerFsp": payer, "payeeFsp": payee, "amount": {"amount": amount, "currency": "USD"},
            "ilpPacket": terms.ilp_packet, "condition": terms.condition, "expiration": expiration});
        let api = switch.api.clone();
        let payee = payee.to_string();
        async move {
            let response = reqwest::Client::new()
                .post(format!("{api}/transfers"))
                .header(
                    "accept",
                    "application/vnd.interoperability.transfers+json;version=1",
                )
                .header("content-type", TRANSFERS)
                .header("date", fspiop::datetime::format_http_date(now_ms()))
                .header("fspiop-source", "payer-dfsp")
                .header("fspiop-destination", payee)
                .json(&body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                response.status().as_u16(),
                202,
                "{}",
                response.text().await.unwrap_or_default()
            );
            body
        }
    };
    let send =
        |id: &str, amount: &str| send_expiring(id, "payer-dfsp", "payee-dfsp", amount, 60_000);
    let resend = |body: Value| {
        let api = switch.api.clone();
        async move {
            let response = reqwest::Client::new()
                .post(format!("{api}/transfers"))
                .header(
                    "accept",
                    "application/vnd.interoperability.transfers+json;version=1",
                )
                .header("content-type", TRANSFERS)
                .header("date", fspiop::datetime::format_http_date(now_ms()))
                .header("fspiop-source", "payer-dfsp")
                .header("fspiop-destination", "payee-dfsp")
                .json(&body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(response.status().as_u16(), 202);
        }
    };
    let callback_to = |received: &Received, path: String| {
        let received = received.clone();
        async move {
            wait_for(&received, &path.clone(), move |(m, p, _, _)| {
                m == "PUT" && *p == path
            })
            .await
        }
    };
    let error_code = |body: &[u8]| {
        serde_json::from_slice::<Value>(body).unwrap_or_default()["errorInformation"]["errorCode"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };

    // A payment of 100: the payer is told COMMITTED with the payee's own PUT body.
    let paid = uuid::Uuid::new_v4().to_string();
    let paid_body = send(&paid, "100").await;
    let (_, _, headers, body) = wait_for(
        &payer_received,
        "PUT /transfers/{id} to the payer",
        |(m, p, _, _)| m == "PUT" && *p == format!("/transfers/{paid}"),
    )
    .await;
    let callback: Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(callback["transferState"], "COMMITTED");
    assert_eq!(header(&headers, "fspiop-source"), Some("payee-dfsp"));
    assert_eq!(header(&headers, "fspiop-destination"), Some("payer-dfsp"));
    assert_eq!(header(&headers, "accept"), None);
    assert_eq!(switch.state(&paid).await.as_deref(), Some("COMMITTED"));
    assert_eq!(switch.position("payer-dfsp").await, "100.0000");
    assert_eq!(switch.position("payee-dfsp").await, "-100.0000");
    let (_, _, prepare_headers, _) = wait_for(
        &payee_received,
        "the prepare at the payee",
        |(_, _, h, b)| {
            header(h, "fspiop-source") == Some("payer-dfsp")
                && String::from_utf8_lossy(b).contains(&paid)
        },
    )
    .await;
    assert_eq!(
        header(&prepare_headers, "fspiop-destination"),
        Some("payee-dfsp")
    );

    // The payee refuses 13: the payer gets the payee's error and its reservation back.
    let refused = uuid::Uuid::new_v4().to_string();
    send(&refused, "13").await;
    let (_, _, _, body) = wait_for(
        &payer_received,
        "the payee's error at the payer",
        |(m, p, _, _)| m == "PUT" && *p == format!("/transfers/{refused}/error"),
    )
    .await;
    let error: Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(error["errorInformation"]["errorCode"], "5104");
    assert_eq!(
        switch.state(&refused).await.as_deref(),
        Some("ABORTED_ERROR")
    );
    assert_eq!(switch.position("payer-dfsp").await, "100.0000");

    // More than the payer holds (1000 − 100): the hub answers 4001 and nothing moves.
    let too_much = uuid::Uuid::new_v4().to_string();
    send(&too_much, "950").await;
    let (_, _, headers, body) = wait_for(&payer_received, "4001 at the payer", |(m, p, _, _)| {
        m == "PUT" && *p == format!("/transfers/{too_much}/error")
    })
    .await;
    let error: Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(error["errorInformation"]["errorCode"], "4001");
    assert_eq!(header(&headers, "fspiop-source"), Some("Hub"));
    assert_eq!(switch.position("payer-dfsp").await, "100.0000");
    assert_eq!(switch.position("payee-dfsp").await, "-100.0000");

    // RESERVED from the payee: the payer gets COMMITTED with the fulfilment, the payee a PATCH.
    let reserved = uuid::Uuid::new_v4().to_string();
    send(&reserved, "14").await;
    let (_, _, _, body) = callback_to(&payer_received, format!("/transfers/{reserved}")).await;
    let callback: Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(callback["transferState"], "COMMITTED");
    assert!(callback["fulfilment"].is_string());
    let (_, _, _, patch) = wait_for(&payee_received, "PATCH to the payee", |(m, p, _, _)| {
        m == "PATCH" && *p == format!("/transfers/{reserved}")
    })
    .await;
    let patch: Value = serde_json::from_slice(&patch).unwrap_or_default();
    assert_eq!(patch["transferState"], "COMMITTED");
    assert!(patch.get("fulfilment").is_none());
    assert_eq!(switch.position("payee-dfsp").await, "-114.0000");

    // A wrong fulfilment: the payer is told 3100 and gets its reservation back.
    let wrong = uuid::Uuid::new_v4().to_string();
    send(&wrong, "15").await;
    let (_, _, _, body) = callback_to(&payer_received, format!("/transfers/{wrong}/error")).await;
    assert_eq!(error_code(&body), "3100");
    assert_eq!(switch.state(&wrong).await.as_deref(), Some("ABORTED_ERROR"));
    assert_eq!(switch.position("payer-dfsp").await, "114.0000");

    // The payee never answers: at expiry both sides are told 3303 and the payer is made whole.
    let late = uuid::Uuid::new_v4().to_string();
    send_expiring(&late, "payer-dfsp", "payee-dfsp", "16", 1500).await;
    let (_, _, _, body) = callback_to(&payer_received, format!("/transfers/{late}/error")).await;
    assert_eq!(error_code(&body), "3303");
    let (_, _, _, body) = callback_to(&payee_received, format!("/transfers/{late}/error")).await;
    assert_eq!(error_code(&body), "3303");
    assert_eq!(
        switch.state(&late).await.as_deref(),
        Some("EXPIRED_RESERVED")
    );
    assert_eq!(switch.position("payer-dfsp").await, "114.0000");

    // FSPIOP 1.0 has no RESERVED fulfil: the payee's 1.0 RESERVED is refused (3100) and
    // commits nothing; the transfer stays RESERVED, expires as any reserved transfer does, and
    // GET reports it ABORTED with the cause.
    let old = uuid::Uuid::new_v4().to_string();
    send_expiring(&old, "payer-dfsp", "payee-dfsp", "17", 2500).await;
    let (_, _, answer_headers, answer) = wait_for(
        &payee_received,
        "the switch's answer to the 1.0 RESERVED",
        |(m, p, _, _)| m == "ANSWERED" && *p == format!("/transfers/{old}"),
    )
    .await;
    assert_eq!(header(&answer_headers, "status"), Some("400"));
    assert_eq!(error_code(&answer), "3100");
    assert_eq!(switch.state(&old).await.as_deref(), Some("RESERVED"));
    assert_eq!(switch.position("payer-dfsp").await, "131.0000");
    let (_, _, _, body) = callback_to(&payer_received, format!("/transfers/{old}/error")).await;
    assert_eq!(error_code(&body), "3303");
    assert_eq!(
        switch.state(&old).await.as_deref(),
        Some("EXPIRED_RESERVED")
    );
    assert_eq!(switch.position("payer-dfsp").await, "114.0000");

    // The first payment sent again: the payer gets its outcome again; changed: 3106.
    let before = payer_received.lock().map(|r| r.len()).unwrap_or(0);
    resend(paid_body.clone()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let again = payer_received
            .lock()
            .map(|r| {
                r.iter().skip(before).any(|(m, p, _, b)| {
                    m == "PUT"
                        && *p == format!("/transfers/{paid}")
                        && serde_json::from_slice::<Value>(b).unwrap_or_default()["transferState"]
                            == "COMMITTED"
                })
            })
            .unwrap_or(false);
        if again {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the resent prepare got no answer"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut changed = paid_body.clone();
    changed["amount"]["amount"] = json!("101");
    resend(changed).await;
    let (_, _, _, body) = callback_to(&payer_received, format!("/transfers/{paid}/error")).await;
    assert_eq!(error_code(&body), "3106");
    assert_eq!(
        switch.position("payee-dfsp").await,
        "-114.0000",
        "nothing is applied twice"
    );

    // A transfer that does not agree with its ILP packet: 3100 from the hub, nothing reserved.
    let mismatched = uuid::Uuid::new_v4().to_string();
    let mut body = paid_body.clone();
    body["transferId"] = json!(mismatched);
    body["amount"]["amount"] = json!("101");
    resend(body).await;
    let (_, _, _, body) =
        callback_to(&payer_received, format!("/transfers/{mismatched}/error")).await;
    assert_eq!(error_code(&body), "3100");
    assert!(
        String::from_utf8_lossy(&body).contains("ILP packet amount"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(switch.state(&mismatched).await.as_deref(), Some("INVALID"));

    // A packet whose terms have lapsed (the transfer itself expires later): 3100, nothing
    // reserved.
    let lapsed = uuid::Uuid::new_v4().to_string();
    let quote = json!({"quoteId": uuid::Uuid::new_v4().to_string(), "transactionId": uuid::Uuid::new_v4().to_string(),
        "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19012345001", "fspId": "payer-dfsp"}},
        "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": "payee-dfsp"}},
        "amountType": "SEND", "amount": {"amount": "5", "currency": "USD"},
        "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"}});
    let terms = engine
        .quote_response_terms(
            &quote,
            &json!({"transferAmount": {"amount": "5", "currency": "USD"},
            "expiration": fspiop::datetime::format_date_time(now_ms() - 1_000)}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let mut body = paid_body.clone();
    body["transferId"] = json!(lapsed);
    body["amount"]["amount"] = json!("5");
    body["ilpPacket"] = json!(terms.ilp_packet);
    body["condition"] = json!(terms.condition);
    body["expiration"] = json!(fspiop::datetime::format_date_time(now_ms() + 60_000));
    resend(body).await;
    let (_, _, _, body) = callback_to(&payer_received, format!("/transfers/{lapsed}/error")).await;
    assert_eq!(error_code(&body), "3100");
    assert!(
        String::from_utf8_lossy(&body).contains("ILP packet expired"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(switch.state(&lapsed).await.as_deref(), Some("INVALID"));

    // GET of a committed and of aborted transfers (the 1.0 RESERVED one expired: its cause).
    for (id, state) in [
        (&paid, "COMMITTED"),
        (&refused, "ABORTED"),
        (&old, "ABORTED"),
    ] {
        let before = payer_received.lock().map(|r| r.len()).unwrap_or(0);
        let response = reqwest::Client::new()
            .get(format!("{}/transfers/{id}", switch.api))
            .header(
                "accept",
                "application/vnd.interoperability.transfers+json;version=1",
            )
            .header("content-type", TRANSFERS)
            .header("date", fspiop::datetime::format_http_date(now_ms()))
            .header("fspiop-source", "payer-dfsp")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status().as_u16(), 202);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answered = payer_received
                .lock()
                .map(|r| {
                    r.iter().skip(before).any(|(m, p, _, b)| {
                        let answer = serde_json::from_slice::<Value>(b).unwrap_or_default();
                        let cause_ok = id != &old
                            || answer["extensionList"]["extension"].as_array().is_some_and(
                                |list| {
                                    list.iter().any(|e| {
                                        e["key"] == "cause"
                                            && e["value"]
                                                .as_str()
                                                .is_some_and(|v| v.starts_with("3303"))
                                    })
                                },
                            );
                        m == "PUT"
                            && *p == format!("/transfers/{id}")
                            && answer["transferState"] == state
                            && cause_ok
                    })
                })
                .unwrap_or(false);
            if answered {
                break;
            }
            assert!(Instant::now() < deadline, "GET {id} got no {state} answer");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Already expired when it arrives: refused (3100), nothing reserved.
    let expired = uuid::Uuid::new_v4().to_string();
    send_expiring(&expired, "payer-dfsp", "payee-dfsp", "1", -1000).await;
    let (_, _, _, body) = callback_to(&payer_received, format!("/transfers/{expired}/error")).await;
    assert_eq!(error_code(&body), "3100");
    assert!(String::from_utf8_lossy(&body).contains("already in the past"));

    // Over the net debit cap (lowered to 150 with 114 used): 4200 from the hub.
    switch
        .admin(reqwest::Method::PUT, "/participants/payer-dfsp/limits", json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 150, "alarmPercentage": 10}}))
        .await;
    let capped = uuid::Uuid::new_v4().to_string();
    send(&capped, "40").await;
    let (_, _, _, body) = callback_to(&payer_received, format!("/transfers/{capped}/error")).await;
    assert_eq!(error_code(&body), "4200");
    assert_eq!(switch.position("payer-dfsp").await, "114.0000");
    switch
        .admin(reqwest::Method::PUT, "/participants/payer-dfsp/limits", json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 10000, "alarmPercentage": 10}}))
        .await;

    // An unknown payee, and an inactive one: 3100 from the hub.
    let unknown = uuid::Uuid::new_v4().to_string();
    send_expiring(&unknown, "payer-dfsp", "nobody-dfsp", "1", 60_000).await;
    let (_, _, headers, body) =
        callback_to(&payer_received, format!("/transfers/{unknown}/error")).await;
    assert_eq!(error_code(&body), "3100");
    assert_eq!(header(&headers, "fspiop-source"), Some("Hub"));
    switch
        .admin(
            reqwest::Method::PUT,
            "/participants/payee-dfsp",
            json!({"isActive": false}),
        )
        .await;
    let inactive = uuid::Uuid::new_v4().to_string();
    send(&inactive, "1").await;
    let (_, _, _, body) =
        callback_to(&payer_received, format!("/transfers/{inactive}/error")).await;
    assert_eq!(error_code(&body), "3100");
    assert!(String::from_utf8_lossy(&body).contains("inactive"));
    assert_eq!(switch.position("payer-dfsp").await, "114.0000");
    switch
        .admin(
            reqwest::Method::PUT,
            "/participants/payee-dfsp",
            json!({"isActive": true}),
        )
        .await;

    // Statements and commits per transfer, counted by the server (its general log, filtered to
    // the connections of this test's database): a burst of payments, each to COMMITTED with the
    // payer called back.
    const BURST: usize = 200;
    sqlx::query("TRUNCATE TABLE mysql.general_log")
        .execute(&switch.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("SET GLOBAL log_output = 'TABLE'")
        .execute(&switch.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("SET GLOBAL general_log = 1")
        .execute(&switch.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Connections opened before the log was on are named by their thread ids.
    let (threads_before,): (String,) = sqlx::query_as(
        "SELECT COALESCE(GROUP_CONCAT(ID), '') FROM information_schema.PROCESSLIST WHERE DB = ?",
    )
    .bind(&switch.database)
    .fetch_one(&switch.pool)
    .await
    .unwrap_or_default();
    let ids: Vec<String> = (0..BURST)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let sends: Vec<_> = ids.iter().map(|id| tokio::spawn(send(id, "1"))).collect();
    for sent in sends {
        sent.await.unwrap_or_else(|e| panic!("{e}"));
    }
    for id in &ids {
        callback_to(&payer_received, format!("/transfers/{id}")).await;
    }
    sqlx::query("SET GLOBAL general_log = 0")
        .execute(&switch.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (statements, commits, writes): (i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT COUNT(*),
                CAST(COALESCE(SUM(UPPER(LEFT(TRIM(CONVERT(argument USING utf8mb4)), 6)) = 'COMMIT'), 0) AS SIGNED),
                CAST(COALESCE(SUM(UPPER(LEFT(TRIM(CONVERT(argument USING utf8mb4)), 6)) IN ('INSERT', 'UPDATE', 'DELETE')), 0) AS SIGNED)
         FROM mysql.general_log
         WHERE command_type IN ('Query', 'Execute')
           AND (thread_id IN ({}) OR thread_id IN (SELECT thread_id FROM mysql.general_log
                WHERE command_type = 'Connect' AND CONVERT(argument USING utf8mb4) LIKE ?))",
        if threads_before.is_empty() { "0".to_string() } else { threads_before }
    ))
    .bind(format!("% on {}%", switch.database))
    .fetch_one(&switch.pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("SET GLOBAL log_output = 'FILE'")
        .execute(&switch.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("TRUNCATE TABLE mysql.general_log")
        .execute(&switch.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let per = |n: i64| n as f64 / BURST as f64;
    println!(
        "per transfer, ledger and adapter together: {:.2} statements, {:.2} writes, {:.3} commits ({} transfers)",
        per(statements),
        per(writes),
        per(commits),
        BURST
    );
    // Prepare and fulfil are one transaction per batch each: never more than two commits a transfer.
    assert!(
        per(commits) <= 2.0,
        "{} commits for {BURST} transfers",
        commits
    );
    assert!(
        commits > 0,
        "the general log saw no commit: the count is not measuring anything"
    );
    switch.stop().await;
}
