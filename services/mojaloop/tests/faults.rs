//! Infrastructure faults under load: every service its own process over Kafka
//! (`common::split`), `mojaloop perf run` sending end-to-end payments (lookup, quote, transfer)
//! at 100/s from the simulated DFSPs, and while it runs:
//!
//! - the database server shut down for 10 s and started again;
//! - every database connection killed, twice (a failover, a network cut);
//! - the Kafka broker unreachable for 10 s (connections cut, port closed) and back.
//!
//! Each time: while the fault lasts the services refuse what they cannot keep (503 / 2003) and
//! say so on `/health`; afterwards they recover by themselves (every `/health` 200 again,
//! payments succeed again), every transfer is final, none applied twice, positions equal the
//! committed sums (the harness's validity gate), and every payer was told the outcome of every
//! payment (no payment timed out waiting for a callback).

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation panics"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::split::{tail, Split};
use serde_json::{json, Value};

/// One deployment at a time: each is a dozen processes and a load of 100 payments/s.
static SERIAL: Mutex<()> = Mutex::new(());

const RATE: &str = "100";
/// When the fault starts, seconds into the run.
const FAULT_AT_S: u64 = 12;
/// How long it lasts.
const FAULT_S: u64 = 10;
/// Seconds of load: the fault, then long enough after it to see payments succeed again.
const DURATION_S: u64 = 40;

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `mojaloop perf run` against the deployment, in the background; its report under `out`.
fn start_load(split: &Split, out: &Path) -> Child {
    let log = std::fs::File::create(split.dir.join("perf.log")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_mojaloop"))
        .args([
            "perf",
            "run",
            "--rate",
            RATE,
            "--duration-s",
            &DURATION_S.to_string(),
            "--warmup-s",
            "0",
            "--payment-timeout-ms",
            "100000",
            "--drain-timeout-ms",
            "90000",
            "--quiet",
            "--bus",
            "kafka",
            "--out",
            out.to_str().unwrap(),
        ])
        .envs(split.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Waits for the load to end (bounded) and checks its report: the gate passed (every transfer
/// final, positions equal the committed sums, callbacks one for one), no payer timed out, and
/// payments succeeded again after the fault.
fn finish_load(split: &mut Split, mut load: Child, out: &Path, fault: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(DURATION_S + 300);
    let status = loop {
        if let Some(status) = load.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = load.kill();
            panic!(
                "{fault}: the load did not finish:\n{}\n{}",
                tail(&split.dir.join("perf.log"), 30),
                split.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json")).unwrap_or_else(|e| {
            panic!(
                "{fault}: no report ({e}, exit {status}):\n{}",
                tail(&split.dir.join("perf.log"), 30)
            )
        }),
    )
    .unwrap();
    let counts = &report["counts"];
    eprintln!(
        "{fault}: counts {counts}, errors {}, gate {}",
        report["errors_by_code"], report["gate"]
    );
    split.assert_running();
    assert_eq!(
        report["gate"]["passed"],
        true,
        "{fault}: the validity gate failed: {}\n{}",
        report["gate"],
        split.logs()
    );
    assert_eq!(
        counts["timed_out"],
        0,
        "{fault}: payers never told the outcome of their payment: {counts}\n{}",
        split.logs()
    );
    assert_eq!(counts["dropped"], 0, "{fault}: {counts}");
    let sent = counts["sent"].as_u64().unwrap();
    assert!(sent >= 3_000, "{fault}: only {sent} payments sent");
    // Recovered by themselves: payments started in the last ten seconds succeed.
    let timeline = report["timeline"].as_array().unwrap();
    let last: u64 = timeline[timeline.len().saturating_sub(10)..]
        .iter()
        .map(|second| second["completed"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        last > 500,
        "{fault}: {last} payments completed in the last ten seconds: not recovered\n{}",
        split.logs()
    );
    report
}

/// Polls every service's `/health` for `window`, returning the services seen answering
/// something other than 200 at least once.
fn unhealthy_during(split: &Split, window: Duration) -> Vec<String> {
    let deadline = Instant::now() + window;
    let mut seen: Vec<String> = Vec::new();
    while Instant::now() < deadline {
        for (name, status) in split.health() {
            if status != 200 && !seen.contains(&name) {
                seen.push(name);
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    seen
}

fn out_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("faults-{name}-{}", uuid::Uuid::new_v4().simple()))
}

#[test]
fn database_shut_down_and_started_again_under_load() {
    let _serial = serial();
    let mut split = Split::start(8);
    let out = out_dir("database");
    let load = start_load(&split, &out);
    std::thread::sleep(Duration::from_secs(FAULT_AT_S));

    split.db.stop();
    let unhealthy = unhealthy_during(&split, Duration::from_secs(FAULT_S));
    split.db.start();

    // Every service that needs the database said so while it was away. The adapter's API alone
    // does not: it puts transfers on the bus, where they wait for the ledger (only a bulk's
    // body goes to the database, and a bulk is refused with 2003 while it is away).
    let services: Vec<String> = split.health().into_iter().map(|(name, _)| name).collect();
    let healthy_throughout: Vec<&String> = services
        .iter()
        .filter(|s| !unhealthy.contains(s) && s.as_str() != "ml-api-adapter")
        .collect();
    assert!(
        healthy_throughout.is_empty(),
        "/health said healthy with the database away: {healthy_throughout:?}"
    );
    finish_load(&mut split, load, &out, "database restart");
    split.wait_healthy();
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn database_connections_killed_under_load() {
    let _serial = serial();
    let mut split = Split::start(8);
    let out = out_dir("connections");
    let load = start_load(&split, &out);
    std::thread::sleep(Duration::from_secs(FAULT_AT_S));
    let runtime = common::runtime();
    let first = runtime.block_on(split.db.kill_connections());
    std::thread::sleep(Duration::from_secs(FAULT_S));
    let second = runtime.block_on(split.db.kill_connections());
    eprintln!("killed {first} and then {second} connections");
    assert!(first > 10 && second > 10, "{first}, {second}");
    finish_load(&mut split, load, &out, "connections killed");
    split.wait_healthy();
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn broker_away_and_back_under_load() {
    let _serial = serial();
    let mut split = Split::start(8);
    let out = out_dir("broker");
    let load = start_load(&split, &out);
    std::thread::sleep(Duration::from_secs(FAULT_AT_S));

    split.broker.proxy.set_up(false);
    let away = Instant::now();
    // A transfer the adapter cannot put on the bus is refused (503, 2003), not accepted with a
    // 202 for a message it cannot keep.
    let (status, body) = common::runtime().block_on(send_prepare(&split));
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["errorInformation"]["errorCode"], "2003", "{body}");
    std::thread::sleep(Duration::from_secs(FAULT_S).saturating_sub(away.elapsed()));
    split.broker.proxy.set_up(true);

    finish_load(&mut split, load, &out, "broker away");
    split.wait_healthy();
    let _ = std::fs::remove_dir_all(&out);
}

/// A valid prepare from perffsp-1 to perffsp-5 straight to the ML API Adapter: status and body.
async fn send_prepare(split: &Split) -> (u16, Value) {
    let api = split
        .env
        .iter()
        .find(|(k, _)| k == "MOJALOOP_ML_API_ADAPTER_URL")
        .map(|(_, v)| v.clone())
        .unwrap();
    let engine = fspiop::ilp::Ilp::new(fspiop::ilp::IlpVersion::V4, "faults-secret");
    let now = central_ledger::now_ms();
    let transfer_id = uuid::Uuid::new_v4().to_string();
    let quote = json!({"quoteId": uuid::Uuid::new_v4().to_string(), "transactionId": transfer_id,
        "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": "perffsp-5"}},
        "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19012345001", "fspId": "perffsp-1"}},
        "amountType": "SEND", "amount": {"amount": "1", "currency": "USD"},
        "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"}});
    let expiration = fspiop::datetime::format_date_time(now + 30_000);
    let terms = engine
        .quote_response_terms(
            &quote,
            &json!({"transferAmount": {"amount": "1", "currency": "USD"}, "expiration": expiration}),
        )
        .unwrap();
    let body = json!({"transferId": transfer_id, "payerFsp": "perffsp-1", "payeeFsp": "perffsp-5",
        "amount": {"amount": "1", "currency": "USD"}, "ilpPacket": terms.ilp_packet,
        "condition": terms.condition, "expiration": expiration});
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .post(format!("{api}/transfers"))
        .header(
            "content-type",
            "application/vnd.interoperability.transfers+json;version=1.1",
        )
        .header(
            "accept",
            "application/vnd.interoperability.transfers+json;version=1.1",
        )
        .header("date", fspiop::datetime::format_http_date(now))
        .header("fspiop-source", "perffsp-1")
        .header("fspiop-destination", "perffsp-5")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// `mojaloop migrate` (the compose `migrate` job) closes every connection before it exits: the
/// server counts no aborted client and logs no "Aborted connection" warning.
#[test]
fn migrate_closes_its_connections() {
    let dir = out_dir("migrate");
    std::fs::create_dir_all(&dir).unwrap();
    let db = common::split::Mariadb::new(&dir);
    let output = Command::new(env!("CARGO_BIN_EXE_mojaloop"))
        .args(["migrate", "--database-url", &db.url()])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "central_ledger: migrated",
        "quotes: migrated",
        "transaction_requests: migrated",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in {stdout}");
    }
    let aborted: (String, String) = common::runtime().block_on(async {
        let pool = store::connect(&db.url(), 1, 10_000).await.unwrap();
        let row = sqlx::query_as("SHOW GLOBAL STATUS LIKE 'Aborted_clients'")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        row
    });
    assert_eq!(aborted.1, "0", "aborted clients after migrate");
    // (The harness's own readiness probe, a TCP connect without a login, is logged too.)
    let log = std::fs::read_to_string(dir.join("mariadb.log")).unwrap();
    let aborted: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Aborted connection") && l.contains("user: 'root'"))
        .collect();
    assert!(aborted.is_empty(), "{aborted:#?}");
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
