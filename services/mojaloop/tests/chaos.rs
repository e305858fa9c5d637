//! Crash recovery: thousands of payments between four DFSPs while the process running the
//! ledger's prepare/position and fulfil/position handlers is killed (SIGKILL) and restarted
//! twice. Afterwards every transfer must be final, none applied twice, and each DFSP's position
//! must equal what it paid minus what it received in committed transfers.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::routing::post;
use fspiop::ilp::{Ilp, IlpVersion};
use serde_json::{json, Value};

const TRANSFERS: &str = "application/vnd.interoperability.transfers+json;version=1.1";
const DFSPS: [&str; 4] = ["chaos-1", "chaos-2", "chaos-3", "chaos-4"];
const PAYMENTS: usize = 2000;
const IN_FLIGHT_MAX: usize = 64;

fn database_server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string())
}

fn kafka_brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_string())
}

fn now_ms() -> i64 {
    central_ledger::now_ms()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let base = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// The ledger's transfer handlers as their own process, so they can be killed.
fn start_handlers(database: &str, prefix: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mojaloop"))
        .args([
            "serve",
            "central-ledger",
            "--handlers",
            "prepare,position,fulfil",
        ])
        .env("CENTRAL_LEDGER__DATABASE__URL", database_server_url())
        .env("CENTRAL_LEDGER__DATABASE__NAME", database)
        .env("CENTRAL_LEDGER__KAFKA__BROKERS", kafka_brokers())
        .env("CENTRAL_LEDGER__KAFKA__TOPIC_PREFIX", prefix)
        .env("CENTRAL_LEDGER__KAFKA__TOPIC_PARTITIONS", "2")
        .env("CENTRAL_LEDGER__SERVER__HOST", "127.0.0.1")
        .env("CENTRAL_LEDGER__SERVER__PORT", free_port().to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn admin(ledger: &str, method: reqwest::Method, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .request(method, format!("{ledger}{path}"))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_survive_handler_crashes() {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let database = format!("t_{id}");
    let prefix = format!("t{}-", &id[..12]);

    // The admin API, get and timeout handlers in this process.
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ledger = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let (stop_ledger, stopped_ledger) = tokio::sync::oneshot::channel::<()>();
    let handlers = central_ledger::Handlers {
        admin: true,
        get: true,
        timeout: true,
        ..central_ledger::Handlers::default()
    };
    tokio::spawn(async move {
        let _ = central_ledger::run(ledger_config, store, handlers, listener, async move {
            let _ = stopped_ledger.await;
        })
        .await;
    });
    // The ML API Adapter in this process.
    let mut api_config = ml_api_adapter::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    api_config.server.host = "127.0.0.1".into();
    api_config.kafka.brokers = kafka_brokers();
    api_config.kafka.topic_prefix = prefix.clone();
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
    let (stop_api, stopped_api) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = ml_api_adapter::run(api_config, listener, async move {
            let _ = stopped_api.await;
        })
        .await;
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(IN_FLIGHT_MAX)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    for base in [&ledger, &api] {
        while !client
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "{base} not healthy");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Every DFSP's server fulfils each prepare it receives.
    let engine = Ilp::new(IlpVersion::V4, "chaos-secret");
    let mut bases = HashMap::new();
    for name in DFSPS {
        let engine = engine.clone();
        let api = api.clone();
        let client = client.clone();
        let router = axum::Router::new()
            .route(
                "/transfers",
                post(move |request: Request| {
                    let engine = engine.clone();
                    let api = api.clone();
                    let client = client.clone();
                    async move {
                        let body = axum::body::to_bytes(request.into_body(), 1 << 20).await.map(|b| b.to_vec()).unwrap_or_default();
                        let transfer: Value = serde_json::from_slice(&body).unwrap_or_default();
                        tokio::spawn(async move {
                            let id = transfer["transferId"].as_str().unwrap_or("").to_string();
                            let fulfilment = engine.fulfilment_for_packet(transfer["ilpPacket"].as_str().unwrap_or("")).unwrap_or_default();
                            let _ = client
                                .put(format!("{api}/transfers/{id}"))
                                .header("content-type", TRANSFERS)
                                .header("date", fspiop::datetime::format_http_date(now_ms()))
                                .header("fspiop-source", transfer["payeeFsp"].as_str().unwrap_or(""))
                                .header("fspiop-destination", transfer["payerFsp"].as_str().unwrap_or(""))
                                .json(&json!({"fulfilment": fulfilment, "completedTimestamp": fspiop::datetime::format_date_time(now_ms()), "transferState": "COMMITTED"}))
                                .send()
                                .await;
                        });
                        StatusCode::ACCEPTED
                    }
                }),
            )
            .fallback(|| async { StatusCode::OK });
        bases.insert(name, serve(router).await);
    }

    // Onboarding: every DFSP funded with 1,000,000 and a cap as large.
    for account_type in ["HUB_MULTILATERAL_SETTLEMENT", "HUB_RECONCILIATION"] {
        admin(
            &ledger,
            reqwest::Method::POST,
            "/participants/Hub/accounts",
            json!({"currency": "USD", "type": account_type}),
        )
        .await;
    }
    admin(&ledger, reqwest::Method::POST, "/settlementModels", json!({"name": "DEFERREDNET", "settlementGranularity": "NET", "settlementInterchange": "MULTILATERAL",
        "settlementDelay": "DEFERRED", "requireLiquidityCheck": true, "ledgerAccountType": "POSITION", "autoPositionReset": true, "settlementAccountType": "SETTLEMENT"})).await;
    for name in DFSPS {
        admin(
            &ledger,
            reqwest::Method::POST,
            "/participants",
            json!({"name": name, "currency": "USD"}),
        )
        .await;
        admin(&ledger, reqwest::Method::POST, &format!("/participants/{name}/initialPositionAndLimits"),
            json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 1000000}, "initialPosition": 0})).await;
        let base = &bases[name];
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
            admin(
                &ledger,
                reqwest::Method::POST,
                &format!("/participants/{name}/endpoints"),
                json!({"type": kind, "value": value}),
            )
            .await;
        }
        let (settlement,): (u32,) = sqlx::query_as(
            "SELECT pc.participantCurrencyId FROM participantCurrency pc JOIN participant p ON p.participantId = pc.participantId WHERE p.name = ? AND pc.ledgerAccountTypeId = 2",
        )
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        admin(&ledger, reqwest::Method::POST, &format!("/participants/{name}/accounts/{settlement}"), json!({"transferId": uuid::Uuid::new_v4().to_string(),
            "externalReference": "r", "action": "recordFundsIn", "reason": "deposit", "amount": {"amount": "1000000", "currency": "USD"}})).await;
    }

    // The handlers in their own process; killed and restarted twice while payments flow.
    let mut handlers = start_handlers(&database, &prefix);
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let crasher = {
        let sent = sent.clone();
        let database = database.clone();
        let prefix = prefix.clone();
        tokio::spawn(async move {
            for threshold in [PAYMENTS / 3, 2 * PAYMENTS / 3] {
                while sent.load(std::sync::atomic::Ordering::Relaxed) < threshold {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let _ = handlers.kill();
                let _ = handlers.wait();
                tokio::time::sleep(Duration::from_millis(500)).await;
                handlers = start_handlers(&database, &prefix);
            }
            handlers
        })
    };

    let limiter = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT_MAX));
    let mut tasks = Vec::with_capacity(PAYMENTS);
    let mut ids = Vec::with_capacity(PAYMENTS);
    for i in 0..PAYMENTS {
        let payer = DFSPS[i % 4];
        let payee = DFSPS[(i + 1 + (i / 4) % 3) % 4];
        let amount = format!("{}", 1 + i % 9);
        let transfer_id = uuid::Uuid::new_v4().to_string();
        ids.push(transfer_id.clone());
        let quote = json!({"quoteId": uuid::Uuid::new_v4().to_string(), "transactionId": uuid::Uuid::new_v4().to_string(),
            "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "1", "fspId": payer}},
            "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "2", "fspId": payee}},
            "amountType": "SEND", "amount": {"amount": amount, "currency": "USD"},
            "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"}});
        let expiration = fspiop::datetime::format_date_time(now_ms() + 30_000);
        let terms = engine
            .quote_response_terms(&quote, &json!({"transferAmount": {"amount": amount, "currency": "USD"}, "expiration": expiration}))
            .unwrap_or_else(|e| panic!("{e}"));
        let body = json!({"transferId": transfer_id, "payerFsp": payer, "payeeFsp": payee, "amount": {"amount": amount, "currency": "USD"},
            "ilpPacket": terms.ilp_packet, "condition": terms.condition, "expiration": expiration});
        let permit = limiter
            .clone()
            .acquire_owned()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let client = client.clone();
        let api = api.clone();
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(format!("{api}/transfers"))
                .header(
                    "accept",
                    "application/vnd.interoperability.transfers+json;version=1",
                )
                .header("content-type", TRANSFERS)
                .header("date", fspiop::datetime::format_http_date(now_ms()))
                .header("fspiop-source", payer)
                .header("fspiop-destination", payee)
                .json(&body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(response.status().as_u16(), 202);
            sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            drop(permit);
        }));
    }
    for task in tasks {
        task.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let mut handlers = crasher.await.unwrap_or_else(|e| panic!("{e}"));

    // Every transfer reaches a final state (committed, or expired and given back).
    let final_states = "'COMMITTED','ABORTED_REJECTED','ABORTED_ERROR','EXPIRED_RESERVED','EXPIRED_PREPARED','INVALID'";
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (open,): (i64,) = sqlx::query_as(&format!(
            "SELECT COUNT(*) FROM transfer t WHERE t.ilpCondition <> '0' AND (SELECT tsc.transferStateId FROM transferStateChange tsc
               WHERE tsc.transferId = t.transferId ORDER BY tsc.transferStateChangeId DESC LIMIT 1) NOT IN ({final_states})"
        ))
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let (known,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM transfer WHERE ilpCondition <> '0'")
                .fetch_one(&pool)
                .await
                .unwrap_or((0,));
        if open == 0 && known == PAYMENTS as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} of {known} recorded transfers are not final ({PAYMENTS} sent)"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = handlers.kill();
    let _ = handlers.wait();

    // No transfer applied twice: one COMMITTED (or one reversal) each, and every position is the
    // sum of its journal.
    let (doubles,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM (SELECT transferId FROM transferStateChange WHERE transferStateId IN ('RESERVED','COMMITTED','ABORTED_ERROR','EXPIRED_RESERVED')
           GROUP BY transferId, transferStateId HAVING COUNT(*) > 1) d",
    )
    .fetch_one(&pool)
    .await
    .unwrap_or((-1,));
    assert_eq!(doubles, 0, "a transfer went through a state twice");
    let (journal_mismatch,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM participantPosition pp WHERE pp.value <> (SELECT COALESCE(SUM(ppc.`change`), 0) FROM participantPositionChange ppc
           WHERE ppc.participantPositionId = pp.participantPositionId)",
    )
    .fetch_one(&pool)
    .await
    .unwrap_or((-1,));
    assert_eq!(
        journal_mismatch, 0,
        "a position differs from the sum of its changes"
    );
    // Each DFSP's position is what it paid minus what it received, over committed transfers.
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT p.name, CAST(pp.value AS CHAR),
                CAST(COALESCE((SELECT SUM(tp.amount) FROM transferParticipant tp
                  JOIN transferStateChange tsc ON tsc.transferId = tp.transferId AND tsc.transferStateId = 'COMMITTED'
                  WHERE tp.participantCurrencyId = pc.participantCurrencyId), 0) AS CHAR)
         FROM participant p JOIN participantCurrency pc ON pc.participantId = p.participantId AND pc.ledgerAccountTypeId = 1
         JOIN participantPosition pp ON pp.participantCurrencyId = pc.participantCurrencyId WHERE p.name LIKE 'chaos-%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows.len(), 4);
    for (name, position, committed) in &rows {
        assert_eq!(
            ledger::Money::parse(position),
            ledger::Money::parse(committed),
            "{name}: position {position}, committed {committed}"
        );
    }
    let (committed,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM transferStateChange tsc JOIN transfer t ON t.transferId = tsc.transferId WHERE t.ilpCondition <> '0' AND tsc.transferStateId = 'COMMITTED'")
        .fetch_one(&pool)
        .await
        .unwrap_or((0,));
    println!("{PAYMENTS} payments, {committed} committed, the rest expired and given back, across two handler crashes");
    assert!(committed > 0);

    let _ = stop_api.send(());
    let _ = stop_ledger.send(());
    pool.close().await;
    let _ = store::drop_database_if_exists(&database_server_url(), &database).await;
}
