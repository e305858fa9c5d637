//! Slow and hostile peers under load. Beside `mojaloop up --dfsps 8` carrying end-to-end
//! payments between its simulated DFSPs (`mojaloop perf run`, 40/s), four more DFSPs are
//! onboarded whose endpoints misbehave: one never answers (the connection stays open), one
//! answers after 15 s, one answers 500, one resets the connection. A payer of the test's own
//! sends lookups, quotes and transfers to them, 8 per second each, all along.
//!
//! The switch must keep the others' payments moving (every payment of the load succeeds, none
//! waits for a hostile peer), tell the payer of every request to a peer that refused it or
//! never answered (an error callback for a lookup or quote once the peer failed or its request
//! timed out; every transfer to them finished and its payer told), keep its memory bounded,
//! and keep the ledger exact (the harness's gate: every transfer final, positions equal the
//! committed sums).

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation panics"
)]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PORT_OFFSET: u16 = 900;
const PAYER: &str = "peer-payer";
const HANG: &str = "peer-hang";
const SLOW: &str = "peer-slow";
const FAILING: &str = "peer-500";
const RESET: &str = "peer-reset";
/// How long the hostile traffic lasts.
const HOSTILE_S: u64 = 20;
/// Transfers to the hostile peers expire after this.
const EXPIRY_MS: i64 = 10_000;

/// Paths the test payer's endpoints were called on.
type Heard = Arc<Mutex<HashSet<String>>>;

/// The hostile peers' server: raw HTTP/1.1, behaviour by the DFSP named in the path.
async fn hostile(listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut chunk = [0_u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&chunk[..n]),
                }
                if head.len() > 65_536 {
                    return;
                }
            }
            let text = String::from_utf8_lossy(&head).to_string();
            let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
            if path.starts_with(&format!("/{HANG}/")) {
                // Never answers; holds the connection until the switch gives up.
                while matches!(stream.read(&mut chunk).await, Ok(n) if n > 0) {}
            } else if path.starts_with(&format!("/{SLOW}/")) {
                tokio::time::sleep(Duration::from_secs(15)).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            } else if path.starts_with(&format!("/{FAILING}/")) {
                let _ = stream
                    .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ncontent-length: 4\r\nconnection: close\r\n\r\noops")
                    .await;
            } else {
                // Reset: close with SO_LINGER 0, so the peer sees RST.
                #[allow(
                    deprecated,
                    reason = "a zero linger does not block: the close is a reset"
                )]
                let _ = stream.set_linger(Some(Duration::ZERO));
                drop(stream);
            }
        });
    }
}

/// The test payer's server: records every path it is called on and answers 200.
async fn observer(listener: tokio::net::TcpListener, heard: Heard) {
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let heard = heard.clone();
        async move {
            heard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(request.uri().path().to_string());
            axum::http::StatusCode::OK
        }
    });
    let _ = axum::serve(listener, app).await;
}

fn url(base: u16) -> String {
    format!("http://127.0.0.1:{}", base + PORT_OFFSET)
}

fn headers(resource: &str, destination: &str) -> reqwest::header::HeaderMap {
    let mut map = reqwest::header::HeaderMap::new();
    let content = format!("application/vnd.interoperability.{resource}+json;version=1.1");
    map.insert("content-type", content.parse().unwrap());
    map.insert("accept", content.parse().unwrap());
    map.insert(
        "date",
        fspiop::datetime::format_http_date(central_ledger::now_ms())
            .parse()
            .unwrap(),
    );
    map.insert("fspiop-source", PAYER.parse().unwrap());
    map.insert("fspiop-destination", destination.parse().unwrap());
    map
}

/// What the test payer sent to one peer, by kind: the ids whose answer it waits for.
#[derive(Default)]
struct Sent {
    lookups: Vec<String>,
    quotes: Vec<String>,
    transfers: Vec<String>,
}

async fn send_to(client: &reqwest::Client, peer: &str, n: usize, sent: &mut Sent) {
    // A lookup straight to the peer (FSPIOP-Destination: no oracle).
    let msisdn = format!("7{}{n:06}", peer.len());
    let response = client
        .get(format!("{}/parties/MSISDN/{msisdn}", url(4002)))
        .headers(headers("parties", peer))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202, "lookup to {peer}");
    sent.lookups.push(msisdn);

    let quote_id = uuid::Uuid::new_v4().to_string();
    let quote = json!({"quoteId": quote_id, "transactionId": uuid::Uuid::new_v4().to_string(),
        "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "123456", "fspId": peer}},
        "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "654321", "fspId": PAYER}},
        "amountType": "SEND", "amount": {"amount": "1", "currency": "USD"},
        "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"}});
    let response = client
        .post(format!("{}/quotes", url(3002)))
        .headers(headers("quotes", peer))
        .json(&quote)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202, "quote to {peer}");
    sent.quotes.push(quote_id);

    let engine = fspiop::ilp::Ilp::new(fspiop::ilp::IlpVersion::V4, "slow-peers");
    let transfer_id = uuid::Uuid::new_v4().to_string();
    let expiration = fspiop::datetime::format_date_time(central_ledger::now_ms() + EXPIRY_MS);
    let terms = engine
        .quote_response_terms(
            &quote,
            &json!({"transferAmount": {"amount": "1", "currency": "USD"}, "expiration": expiration}),
        )
        .unwrap();
    let transfer = json!({"transferId": transfer_id, "payerFsp": PAYER, "payeeFsp": peer,
        "amount": {"amount": "1", "currency": "USD"}, "ilpPacket": terms.ilp_packet,
        "condition": terms.condition, "expiration": expiration});
    let response = client
        .post(format!("{}/transfers", url(3000)))
        .headers(headers("transfers", peer))
        .json(&transfer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202, "transfer to {peer}");
    sent.transfers.push(transfer_id);
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn hostile_peers_do_not_hold_up_the_others() {
    let run = common::start(false, PORT_OFFSET);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let heard: Heard = Arc::default();
    let (hostile_base, observer_base) = runtime.block_on(async {
        let (hostile_listener, hostile_base) = test_support::listener().await;
        let (observer_listener, observer_base) = test_support::listener().await;
        tokio::spawn(hostile(hostile_listener));
        tokio::spawn(observer(observer_listener, heard.clone()));
        (hostile_base, observer_base)
    });
    runtime.block_on(async {
        let urls = dfsp_sim::provision::AdminUrls {
            ledger: url(3001),
            oracle: url(4003),
        };
        let peers: Vec<dfsp_sim::provision::DfspPlan> = [HANG, SLOW, FAILING, RESET]
            .iter()
            .map(|name| dfsp_sim::provision::DfspPlan::new(name, "USD", "1000", None, vec![]))
            .collect();
        dfsp_sim::provision::provision(&urls, &hostile_base, &peers)
            .await
            .unwrap();
        let payer = [dfsp_sim::provision::DfspPlan::new(
            PAYER,
            "USD",
            "100000",
            Some("100000"),
            vec![],
        )];
        dfsp_sim::provision::provision(&urls, &observer_base, &payer)
            .await
            .unwrap();
    });

    // The others' load, in the background.
    let out = std::env::temp_dir().join(format!("slow-peers-{}", uuid::Uuid::new_v4().simple()));
    let out_arg = out.to_str().unwrap().to_string();
    let mut load = run.spawn(
        &[
            "perf",
            "run",
            "--rate",
            "40",
            "--duration-s",
            &(HOSTILE_S + 10).to_string(),
            "--warmup-s",
            "0",
            "--payment-timeout-ms",
            "30000",
            "--quiet",
            "--bus",
            "embedded",
            "--out",
            &out_arg,
        ],
        &[],
    );

    // The hostile traffic, 8 rounds a second, and the switch's memory meanwhile.
    let pid = run.switch.0.id();
    let rss_start = rss_kib(pid);
    let mut rss_max = rss_start;
    let mut sent: Vec<(String, Sent)> = [HANG, SLOW, FAILING, RESET]
        .iter()
        .map(|peer| (peer.to_string(), Sent::default()))
        .collect();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed() < Duration::from_secs(HOSTILE_S) {
            for (peer, sent) in &mut sent {
                send_to(&client, peer, n, sent).await;
            }
            n += 1;
            rss_max = rss_max.max(rss_kib(pid));
            tokio::time::sleep(Duration::from_millis(125)).await;
        }
    });

    // Every request to a peer that failed or never answered is answered to the payer: lookups
    // and quotes with an error callback, transfers with their end.
    let told = |path: &str| {
        heard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(path)
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let missing = loop {
        rss_max = rss_max.max(rss_kib(pid));
        let mut missing = Vec::new();
        for (peer, sent) in &sent {
            let relayed = peer == SLOW;
            if !relayed {
                for msisdn in &sent.lookups {
                    let path = format!("/{PAYER}/parties/MSISDN/{msisdn}/error");
                    if !told(&path) {
                        missing.push(path);
                    }
                }
                for quote in &sent.quotes {
                    let path = format!("/{PAYER}/quotes/{quote}/error");
                    if !told(&path) {
                        missing.push(path);
                    }
                }
            }
            for transfer in &sent.transfers {
                let error = format!("/{PAYER}/transfers/{transfer}/error");
                let put = format!("/{PAYER}/transfers/{transfer}");
                if !told(&error) && !told(&put) {
                    missing.push(format!("{peer}: {error}"));
                }
            }
        }
        if missing.is_empty() || Instant::now() > deadline {
            break missing;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let counts: Vec<String> = sent
        .iter()
        .map(|(peer, s)| {
            format!(
                "{peer}: {} lookups, {} quotes, {} transfers",
                s.lookups.len(),
                s.quotes.len(),
                s.transfers.len()
            )
        })
        .collect();
    eprintln!("sent {counts:?}; switch RSS {rss_start} KiB at start, {rss_max} KiB at most");
    assert!(
        missing.is_empty(),
        "{} requests to hostile peers never answered to the payer, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );

    // The others' payments went on as if nothing happened.
    let deadline = Instant::now() + Duration::from_secs(180);
    while load.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the load did not finish");
        std::thread::sleep(Duration::from_millis(500));
    }
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    eprintln!(
        "load: {} errors {} gate {}",
        report["counts"], report["errors_by_code"], report["gate"]
    );
    assert_eq!(report["gate"]["passed"], true, "{}", report["gate"]);
    let sent_load = report["counts"]["sent"].as_u64().unwrap();
    assert!(sent_load > 1000, "{}", report["counts"]);
    assert_eq!(
        report["counts"]["succeeded"].as_u64(),
        Some(sent_load),
        "every payment between well-behaved DFSPs succeeds: {}",
        report["counts"]
    );
    for phase in ["lookup", "quote", "transfer"] {
        let p99 = report["phases"][phase]["p99_ms"].as_f64().unwrap();
        // Far under the 15-20 s a hostile peer holds a request: nobody waited behind one.
        assert!(p99 < 5_000.0, "{phase} p99 {p99} ms");
    }
    // Bounded memory: held requests cost little, and are let go.
    assert!(rss_max < 1_024 * 1_024, "switch RSS reached {rss_max} KiB");
    let _ = std::fs::remove_dir_all(&out);
    run.stop();
}
