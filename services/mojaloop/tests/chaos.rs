//! Crash recovery over Kafka with every service as its own process (`mojaloop serve …`): while
//! thousands of payments flow between four DFSPs, the central ledger (admin API and every
//! handler) is killed with SIGKILL and restarted, and then, separately, the ML API Adapter.
//! The DFSPs behave as real ones do: a request that got no answer is sent again, the payee
//! resends its fulfilment until the switch takes it. Afterwards every transfer must be final,
//! none applied twice, each DFSP's position must equal what it paid minus what it received in
//! committed transfers, and every payer must have been told its transfer's outcome.

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
use test_support::{database_server_url, free_port, kafka_brokers, serve};

const TRANSFERS: &str = "application/vnd.interoperability.transfers+json;version=1.1";
const DFSPS: [&str; 4] = ["chaos-1", "chaos-2", "chaos-3", "chaos-4"];
const PAYMENTS: usize = 3000;
const IN_FLIGHT_MAX: usize = 64;

fn now_ms() -> i64 {
    central_ledger::now_ms()
}

/// The central ledger as its own process: the admin API and every handler.
fn start_ledger(database: &str, prefix: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mojaloop"))
        .args([
            "serve",
            "central-ledger",
            "--handlers",
            "admin,prepare,position,fulfil,get,timeout",
        ])
        .env("CENTRAL_LEDGER__DATABASE__URL", database_server_url())
        .env("CENTRAL_LEDGER__DATABASE__NAME", database)
        .env("CENTRAL_LEDGER__KAFKA__BROKERS", kafka_brokers())
        .env("CENTRAL_LEDGER__KAFKA__TOPIC_PREFIX", prefix)
        .env("CENTRAL_LEDGER__KAFKA__TOPIC_PARTITIONS", "2")
        .env("CENTRAL_LEDGER__SERVER__HOST", "127.0.0.1")
        .env("CENTRAL_LEDGER__SERVER__PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The ML API Adapter as its own process: the FSPIOP API and the notification handler.
fn start_api(database: &str, prefix: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mojaloop"))
        .args(["serve", "ml-api-adapter"])
        .env(
            "ML_API_ADAPTER__CENTRAL_LEDGER_DATABASE__URL",
            database_server_url(),
        )
        .env("ML_API_ADAPTER__CENTRAL_LEDGER_DATABASE__NAME", database)
        .env("ML_API_ADAPTER__KAFKA__BROKERS", kafka_brokers())
        .env("ML_API_ADAPTER__KAFKA__TOPIC_PREFIX", prefix)
        .env("ML_API_ADAPTER__KAFKA__TOPIC_PARTITIONS", "2")
        .env("ML_API_ADAPTER__SERVER__HOST", "127.0.0.1")
        .env("ML_API_ADAPTER__SERVER__PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    test_support::wait_healthy(client, base, Duration::from_secs(60)).await;
}

/// What the DFSPs' servers heard: per transfer, `(dfsp, kind, transferState)` for every
/// `PUT /transfers/{id}` (kind `put`) and `PUT /transfers/{id}/error` (kind `error`).
type Heard = Arc<std::sync::Mutex<HashMap<String, Vec<(String, &'static str, String)>>>>;

fn heard(heard: &Heard, id: &str, dfsp: &str, kind: &'static str, state: &str) {
    heard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(id.to_string())
        .or_default()
        .push((dfsp.to_string(), kind, state.to_string()));
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
async fn payments_survive_ledger_and_adapter_crashes() {
    let test_support::Isolation {
        database,
        topic_prefix: prefix,
    } = test_support::isolation();

    // The database, made and migrated here; the services in their own processes.
    let mut ledger_config = central_ledger::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    ledger_config.database.url = database_server_url();
    ledger_config.database.name = database.clone();
    let store = central_ledger::connect_store(&ledger_config, true, true)
        .await
        .unwrap_or_else(|e| panic!("MySQL (DATABASE_URL): {e}"));
    let pool = store.pool.clone();
    let (ledger_port, api_port) = (free_port(), free_port());
    let ledger = format!("http://127.0.0.1:{ledger_port}");
    let api = format!("http://127.0.0.1:{api_port}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(IN_FLIGHT_MAX)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut ledger_process = start_ledger(&database, &prefix, ledger_port);
    wait_healthy(&client, &ledger).await;
    let mut api_process = start_api(&database, &prefix, api_port);
    wait_healthy(&client, &api).await;
    let heard_by_dfsps: Heard = Arc::default();

    // Every DFSP's server fulfils each prepare it receives (as a payee, sending the same
    // fulfilment again until the switch answers it) and records what it is told (as a payer).
    let engine = Ilp::new(IlpVersion::V4, "chaos-secret");
    let mut bases = HashMap::new();
    for name in DFSPS {
        let engine = engine.clone();
        let api = api.clone();
        let client = client.clone();
        let (on_put, on_error) = (heard_by_dfsps.clone(), heard_by_dfsps.clone());
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
                            let answer = json!({"fulfilment": fulfilment, "completedTimestamp": fspiop::datetime::format_date_time(now_ms()), "transferState": "COMMITTED"});
                            for _ in 0..240 {
                                let sent = client
                                    .put(format!("{api}/transfers/{id}"))
                                    .header("content-type", TRANSFERS)
                                    .header("date", fspiop::datetime::format_http_date(now_ms()))
                                    .header("fspiop-source", transfer["payeeFsp"].as_str().unwrap_or(""))
                                    .header("fspiop-destination", transfer["payerFsp"].as_str().unwrap_or(""))
                                    .json(&answer)
                                    .send()
                                    .await;
                                if sent.is_ok_and(|r| r.status().is_success()) {
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(250)).await;
                            }
                        });
                        StatusCode::ACCEPTED
                    }
                }),
            )
            .route(
                "/transfers/{id}",
                axum::routing::put(move |axum::extract::Path(id): axum::extract::Path<String>, body: axum::body::Bytes| {
                    let on_put = on_put.clone();
                    async move {
                        let value: Value = serde_json::from_slice(&body).unwrap_or_default();
                        heard(&on_put, &id, name, "put", value["transferState"].as_str().unwrap_or(""));
                        StatusCode::OK
                    }
                }),
            )
            .route(
                "/transfers/{id}/error",
                axum::routing::put(move |axum::extract::Path(id): axum::extract::Path<String>, body: axum::body::Bytes| {
                    let on_error = on_error.clone();
                    async move {
                        let value: Value = serde_json::from_slice(&body).unwrap_or_default();
                        heard(&on_error, &id, name, "error", value["errorInformation"]["errorCode"].as_str().unwrap_or(""));
                        StatusCode::OK
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

    // The ledger killed and restarted a third of the way in, the adapter two thirds in.
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let crasher = {
        let sent = sent.clone();
        let (database, prefix, client) = (database.clone(), prefix.clone(), client.clone());
        let (ledger, api) = (ledger.clone(), api.clone());
        tokio::spawn(async move {
            while sent.load(std::sync::atomic::Ordering::Relaxed) < PAYMENTS / 3 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = ledger_process.kill();
            let _ = ledger_process.wait();
            tokio::time::sleep(Duration::from_millis(500)).await;
            ledger_process = start_ledger(&database, &prefix, ledger_port);
            wait_healthy(&client, &ledger).await;
            while sent.load(std::sync::atomic::Ordering::Relaxed) < 2 * PAYMENTS / 3 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = api_process.kill();
            let _ = api_process.wait();
            tokio::time::sleep(Duration::from_millis(500)).await;
            api_process = start_api(&database, &prefix, api_port);
            wait_healthy(&client, &api).await;
            (ledger_process, api_process)
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
        ids.push((transfer_id.clone(), payer));
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
            // As a DFSP does: a request without an answer (the adapter is down) is sent again,
            // the same request, until the switch takes it.
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
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
                    .await;
                match response {
                    Ok(r) if r.status().as_u16() == 202 => break,
                    Ok(r) if r.status().is_client_error() => {
                        panic!("refused: {}", r.text().await.unwrap_or_default())
                    }
                    _ => {
                        assert!(Instant::now() < deadline, "the switch never took a payment");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
            sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            drop(permit);
        }));
    }
    for task in tasks {
        task.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let (mut ledger_process, mut api_process) = crasher.await.unwrap_or_else(|e| panic!("{e}"));

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
    assert!(committed > 0);

    // Every payer told: the payer of a committed transfer got its PUT with COMMITTED, the payer
    // of any other an error callback (or a PUT saying ABORTED).
    let finals: HashMap<String, String> = sqlx::query_as::<_, (String, String)>(
        "SELECT t.transferId, (SELECT tsc.transferStateId FROM transferStateChange tsc WHERE tsc.transferId = t.transferId
            ORDER BY tsc.transferStateChangeId DESC LIMIT 1) FROM transfer t WHERE t.ilpCondition <> '0'",
    )
    .fetch_all(&pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .into_iter()
    .collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let untold: Vec<(&String, &str, &String)> = {
            let heard = heard_by_dfsps
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            ids.iter()
                .filter_map(|(id, payer)| {
                    let state = finals.get(id)?;
                    let told = heard.get(id).is_some_and(|h| {
                        h.iter().any(|(dfsp, kind, said)| {
                            dfsp == payer
                                && match state.as_str() {
                                    "COMMITTED" => *kind == "put" && said == "COMMITTED",
                                    _ => *kind == "error" || said == "ABORTED",
                                }
                        })
                    });
                    (!told).then_some((id, *payer, state))
                })
                .collect()
        };
        if untold.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} payers never told, e.g. {:?}",
            untold.len(),
            untold.iter().take(5).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("{PAYMENTS} payments, {committed} committed, the rest expired and given back, every payer told, across a ledger crash and an adapter crash");

    let _ = ledger_process.kill();
    let _ = ledger_process.wait();
    let _ = api_process.kill();
    let _ = api_process.wait();
    pool.close().await;
    let _ = store::drop_database_if_exists(&database_server_url(), &database).await;
}
