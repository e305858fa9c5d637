//! Quotes per second through the running service, end to end: a payer sends `POST /quotes`,
//! the switch validates, stores (persistent mode) and forwards it to the payee, the payee
//! answers `PUT /quotes/{ID}` with a real ILPv4 packet and condition, the switch checks the
//! packet, stores the response and relays it to the payer. A quote counts when the payer has
//! the response. Everything runs on this machine: MySQL, the service, both DFSPs (local HTTP
//! servers) and the load generator, in one tokio runtime.
//!
//! ```sh
//! cargo bench -p quoting-service --bench throughput
//! # QS_BENCH_SECONDS (default 10), QS_BENCH_CONCURRENCY (default 64: quotes in flight),
//! # QS_BENCH_MODES (default "persistent,pass-through"), DATABASE_URL
//! ```
//!
//! Closed loop: each of the concurrent payers sends its next quote when its previous one is
//! answered, so the figure is the service's sustained rate at that concurrency, bounded in
//! time. The databases are created fresh and dropped afterwards.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "benchmark harness: a failed setup aborts the run"
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{post, put};
use fspiop::ilp::{Ilp, IlpVersion};
use quoting_service::{Config, Mode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

const PAYER: &str = "benchpayer";
const PAYEE: &str = "benchpayee";
const CONTENT_TYPE: &str = "application/vnd.interoperability.quotes+json;version=1.1";
const ACCEPT: &str = "application/vnd.interoperability.quotes+json;version=1";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn date() -> String {
    fspiop::datetime::format_http_date(now_ms())
}

/// An HTTP client that sends exactly the headers given (reqwest would add `Accept: */*`,
/// which a callback must not carry).
type RawClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<Bytes>,
>;

/// Sends a request; the status, or `None` on a network failure.
async fn send(
    client: &RawClient,
    method: &str,
    url: String,
    headers: &[(&str, &str)],
    body: String,
) -> Option<u16> {
    let mut request = axum::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(http_body_util::Full::new(Bytes::from(body)))
        .ok()?;
    let response = client.request(request).await.ok()?;
    let status = response.status().as_u16();
    // Read the (empty) body so the connection is reused.
    let _ = http_body_util::BodyExt::collect(response.into_body()).await;
    Some(status)
}

/// The payee: answers 202, then sends the quote response to the switch.
#[derive(Clone)]
struct Payee {
    switch: String,
    client: RawClient,
    ilp: Ilp,
}

async fn payee_post(State(payee): State<Payee>, body: Bytes) -> StatusCode {
    tokio::spawn(async move {
        let request: Value = serde_json::from_slice(&body).unwrap();
        let id = request["quoteId"].as_str().unwrap().to_string();
        let mut response = json!({
            "transferAmount": request["amount"].clone(),
            "payeeReceiveAmount": request["amount"].clone(),
            "expiration": fspiop::datetime::format_date_time(now_ms() + 60_000),
        });
        let terms = payee.ilp.quote_response_terms(&request, &response).unwrap();
        response["ilpPacket"] = json!(terms.ilp_packet);
        response["condition"] = json!(terms.condition);
        let date = date();
        let headers = [
            ("content-type", CONTENT_TYPE),
            ("date", date.as_str()),
            ("fspiop-source", PAYEE),
            ("fspiop-destination", PAYER),
        ];
        let url = format!("{}/quotes/{id}", payee.switch);
        if send(&payee.client, "PUT", url, &headers, response.to_string()).await != Some(200) {
            eprintln!("payee PUT for {id} failed");
        }
    });
    StatusCode::ACCEPTED
}

/// The payer: completes the waiting quote when its response (or an error) arrives.
#[derive(Clone, Default)]
struct Payer {
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<bool>>>>,
    errors: Arc<AtomicU64>,
}

async fn payer_put(State(payer): State<Payer>, Path(id): Path<String>) -> StatusCode {
    if let Some(done) = payer.waiting.lock().unwrap().remove(&id) {
        let _ = done.send(true);
    }
    StatusCode::OK
}

async fn payer_error(
    State(payer): State<Payer>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    payer.errors.fetch_add(1, Ordering::Relaxed);
    if payer.errors.load(Ordering::Relaxed) <= 3 {
        eprintln!(
            "error callback for {id}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    if let Some(done) = payer.waiting.lock().unwrap().remove(&id) {
        let _ = done.send(false);
    }
    StatusCode::OK
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn quote_request(id: &str) -> String {
    json!({
        "quoteId": id,
        "transactionId": uuid::Uuid::new_v4().to_string(),
        "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "27713803912", "fspId": PAYEE}},
        "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "27713803911", "fspId": PAYER}},
        "amountType": "SEND",
        "amount": {"amount": "100", "currency": "USD"},
        "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"}
    })
    .to_string()
}

struct Figures {
    quotes: u64,
    seconds: f64,
    errors: u64,
    latencies_ms: Vec<f64>,
}

async fn run_mode(mode: Mode, seconds: u64, concurrency: usize) -> Figures {
    let server =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (ledger_db, quotes_db) = (
        format!("qsbench_{}_cl", &id[..12]),
        format!("qsbench_{}_q", &id[..12]),
    );
    store::create_database_if_missing(&server, &ledger_db)
        .await
        .unwrap();
    let ledger = store::connect(
        &store::database_url(&server, &ledger_db).unwrap(),
        2,
        10_000,
    )
    .await
    .unwrap();
    store::migrate_central_ledger(&ledger).await.unwrap();

    let switch_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let switch = format!("http://{}", switch_listener.local_addr().unwrap());
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    let client: RawClient =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector);
    let payee = Payee {
        switch: switch.clone(),
        client: client.clone(),
        ilp: Ilp::new(IlpVersion::V4, "bench"),
    };
    let payee_base = serve(
        axum::Router::new()
            .route("/quotes", post(payee_post))
            .with_state(payee),
    )
    .await;
    let payer = Payer::default();
    let payer_base = serve(
        axum::Router::new()
            .route("/quotes/{id}", put(payer_put))
            .route("/quotes/{id}/error", put(payer_error))
            .with_state(payer.clone()),
    )
    .await;
    for (name, base) in [(PAYER, &payer_base), (PAYEE, &payee_base)] {
        let participant =
            sqlx::query("INSERT INTO participant (name, createdBy) VALUES (?, 'bench')")
                .bind(name)
                .execute(&ledger)
                .await
                .unwrap()
                .last_insert_id();
        sqlx::query("INSERT INTO participantCurrency (participantId, currencyId, ledgerAccountTypeId, createdBy) VALUES (?, 'USD', 1, 'bench')")
            .bind(participant)
            .execute(&ledger)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO participantEndpoint (participantId, endpointTypeId, value, createdBy) \
             SELECT ?, endpointTypeId, ?, 'bench' FROM endpointType WHERE name = 'FSPIOP_CALLBACK_URL_QUOTES'",
        )
        .bind(participant)
        .bind(base)
        .execute(&ledger)
        .await
        .unwrap();
    }

    let mut config = Config::defaults().unwrap();
    config.quotes.mode = mode;
    config.central_ledger_database.url = server.clone();
    config.central_ledger_database.name = ledger_db.clone();
    config.quotes_database.url = server.clone();
    config.quotes_database.name = quotes_db.clone();
    let stores = quoting_service::connect(&config, true, true).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let service = tokio::spawn(quoting_service::run(
        config,
        stores,
        switch_listener,
        async move {
            let _ = stopped.await;
        },
    ));

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let completed = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, switch, payer, completed) = (
            client.clone(),
            switch.clone(),
            payer.clone(),
            completed.clone(),
        );
        workers.spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let id = uuid::Uuid::new_v4().to_string();
                let (done, answered) = oneshot::channel();
                payer.waiting.lock().unwrap().insert(id.clone(), done);
                let sent_at = Instant::now();
                let date = date();
                let headers = [
                    ("content-type", CONTENT_TYPE),
                    ("accept", ACCEPT),
                    ("date", date.as_str()),
                    ("fspiop-source", PAYER),
                    ("fspiop-destination", PAYEE),
                ];
                let status = send(
                    &client,
                    "POST",
                    format!("{switch}/quotes"),
                    &headers,
                    quote_request(&id),
                )
                .await;
                let accepted = status == Some(202);
                if !accepted {
                    payer.waiting.lock().unwrap().remove(&id);
                    continue;
                }
                if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_secs(30), answered).await
                {
                    completed.fetch_add(1, Ordering::Relaxed);
                    latencies.push(sent_at.elapsed().as_secs_f64() * 1000.0);
                }
            }
            latencies
        });
    }
    let mut latencies_ms: Vec<f64> = workers.join_all().await.into_iter().flatten().collect();
    let elapsed = started.elapsed().as_secs_f64();
    latencies_ms.sort_by(f64::total_cmp);

    let _ = stop.send(());
    let _ = service.await;
    ledger.close().await;
    for database in [ledger_db, quotes_db] {
        let _ = store::drop_database_if_exists(&server, &database).await;
    }
    Figures {
        quotes: completed.load(Ordering::Relaxed),
        seconds: elapsed,
        errors: payer.errors.load(Ordering::Relaxed),
        latencies_ms,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that is not ours skips the run.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "throughput".contains(a.as_str())) {
        return;
    }
    let seconds = env_or("QS_BENCH_SECONDS", 10u64);
    let concurrency = env_or("QS_BENCH_CONCURRENCY", 64usize);
    let modes =
        std::env::var("QS_BENCH_MODES").unwrap_or_else(|_| "persistent,pass-through".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for mode in modes.split(',') {
        let mode = match mode.trim() {
            "persistent" => Mode::Persistent,
            "pass-through" => Mode::PassThrough,
            other => panic!("unknown mode {other:?}"),
        };
        let figures = runtime.block_on(run_mode(mode, seconds, concurrency));
        println!(
            "{mode:?}: {} quotes in {:.1} s = {:.0} quotes/s (concurrency {concurrency}; latency p50 {:.1} ms, p99 {:.1} ms; {} error callbacks)",
            figures.quotes,
            figures.seconds,
            figures.quotes as f64 / figures.seconds,
            percentile(&figures.latencies_ms, 0.5),
            percentile(&figures.latencies_ms, 0.99),
            figures.errors,
        );
    }
}
