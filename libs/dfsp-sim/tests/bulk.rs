//! Bulk payments between simulated DFSPs, through a stand-in hub: an axum router that relays
//! `/bulkQuotes` as the quoting service does and plays the ML API adapter and ledger for
//! `/bulkTransfers` (forwards the transfers it "reserved" to the payee, checks each fulfilment
//! against its condition, then tells the payer and the payee the outcome with `FSPIOP-Source:
//! Hub`), after the switch's contract (`/work/notes/bulk-contract.md`, issue #20). No MySQL,
//! no Kafka: these tests are about the simulator's two roles.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use dfsp_sim::{
    BulkOptions, BulkPayee, DfspSpec, PaymentError, Phase, RemoteSimulator, SimConfig, Simulator,
    SwitchUrls,
};
use fspiop::ilp::{Ilp, IlpVersion};
use serde_json::{json, Value};

/// One request the hub received: method, path, `FSPIOP-Source`, `FSPIOP-Destination`, body.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    source: String,
    destination: String,
    content_type: String,
    body: Value,
}

/// A bulk transfer the hub took: its two DFSPs, and each transfer's condition.
#[derive(Debug, Clone)]
struct Taken {
    payer: String,
    payee: String,
    /// `(transferId, condition)`, in order.
    transfers: Vec<(String, String)>,
    /// Transfers the hub refused itself (4001), never sent to the payee.
    refused: HashSet<String>,
}

#[derive(Default)]
struct Hub {
    sim: Mutex<String>,
    seen: Mutex<Vec<Seen>>,
    bulks: Mutex<HashMap<String, Taken>>,
    /// Refuse the first transfer of every bulk transfer with 4001 (payer liquidity).
    refuse_first: AtomicBool,
    /// Refuse every transfer (the bulk REJECTED, only the payer told).
    refuse_all: AtomicBool,
    /// Never answer a bulk transfer (the payer's wait must time out).
    silent: AtomicBool,
    /// Fulfilments that matched their condition when the payee's answer came through.
    fulfilments_matched: Mutex<u64>,
    fulfilments_wrong: Mutex<u64>,
    client: reqwest::Client,
}

impl Hub {
    fn seen(&self, method: &str, prefix: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .map(|seen| {
                seen.iter()
                    .filter(|s| s.method == method && s.path.starts_with(prefix))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn base(&self) -> String {
        self.sim.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Sends `method path` to `dfsp` at the simulator.
    async fn deliver(
        &self,
        method: &str,
        dfsp: &str,
        path: &str,
        headers: &[(String, String)],
        body: &Value,
    ) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::PUT);
        let mut request = self
            .client
            .request(method, format!("{}/{dfsp}{path}", self.base()))
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        match request.send().await {
            Ok(response) => assert!(
                response.status().is_success(),
                "{dfsp}{path}: {}",
                response.status()
            ),
            Err(error) => panic!("hub to {dfsp}{path}: {error}"),
        }
    }

    /// The hub's own headers for a message to `destination`.
    fn hub_headers(resource: &str, destination: &str) -> Vec<(String, String)> {
        vec![
            (
                "content-type".into(),
                format!("application/vnd.interoperability.{resource}+json;version=1.1"),
            ),
            ("fspiop-source".into(), "Hub".into()),
            ("fspiop-destination".into(), destination.into()),
            ("date".into(), "Thu, 01 Jan 2026 00:00:00 GMT".into()),
        ]
    }

    /// The ML API adapter's side of `POST /bulkTransfers`: every transfer reserved except
    /// those refused; the reserved ones forwarded to the payee; or, none reserved, REJECTED
    /// to the payer alone.
    async fn take(&self, headers: Vec<(String, String)>, body: Value) {
        let id = body["bulkTransferId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let payer = body["payerFsp"].as_str().unwrap_or_default().to_string();
        let payee = body["payeeFsp"].as_str().unwrap_or_default().to_string();
        let transfers: Vec<(String, String)> = body["individualTransfers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                (
                    t["transferId"].as_str().unwrap_or_default().to_string(),
                    t["condition"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let mut refused = HashSet::new();
        if self.refuse_all.load(Ordering::Relaxed) {
            refused.extend(transfers.iter().map(|(id, _)| id.clone()));
        } else if self.refuse_first.load(Ordering::Relaxed) {
            refused.extend(transfers.first().map(|(id, _)| id.clone()));
        }
        if let Ok(mut bulks) = self.bulks.lock() {
            bulks.insert(
                id.clone(),
                Taken {
                    payer: payer.clone(),
                    payee: payee.clone(),
                    transfers: transfers.clone(),
                    refused: refused.clone(),
                },
            );
        }
        if self.silent.load(Ordering::Relaxed) {
            return;
        }
        if refused.len() == transfers.len() {
            let results: Vec<Value> = transfers
                .iter()
                .map(|(id, _)| json!({"transferId": id, "errorInformation": {"errorCode": "4001", "errorDescription": "Payer FSP insufficient liquidity"}}))
                .collect();
            let outcome =
                json!({"bulkTransferState": "REJECTED", "individualTransferResults": results});
            self.deliver(
                "PUT",
                &payer,
                &format!("/bulkTransfers/{id}"),
                &Hub::hub_headers("bulkTransfers", &payer),
                &outcome,
            )
            .await;
            return;
        }
        let mut forwarded = body.clone();
        if let Some(list) = forwarded["individualTransfers"].as_array_mut() {
            list.retain(|t| !refused.contains(t["transferId"].as_str().unwrap_or_default()));
        }
        self.deliver("POST", &payee, "/bulkTransfers", &headers, &forwarded)
            .await;
    }

    /// The payee's `PUT /bulkTransfers/{ID}`: each fulfilment checked against its condition,
    /// then the outcome to the payer (every transfer) and the payee (those it was sent).
    async fn complete(&self, id: &str, body: Value) {
        let Some(taken) = self.bulks.lock().ok().and_then(|b| b.get(id).cloned()) else {
            return;
        };
        let answered: HashMap<String, Value> = body["individualTransferResults"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["transferId"].as_str().unwrap_or_default().to_string(),
                    r.clone(),
                )
            })
            .collect();
        let mut for_payer = Vec::new();
        let mut for_payee = Vec::new();
        for (transfer_id, condition) in &taken.transfers {
            if taken.refused.contains(transfer_id) {
                for_payer.push(json!({"transferId": transfer_id, "errorInformation": {"errorCode": "4001", "errorDescription": "Payer FSP insufficient liquidity"}}));
                continue;
            }
            let result = match answered.get(transfer_id) {
                Some(result) if result["fulfilment"].is_string() => {
                    let fulfilment = result["fulfilment"].as_str().unwrap_or_default();
                    // sha256(fulfilment) = condition, computed here from the bytes.
                    let derived = fspiop::ilp::condition_from_fulfilment(fulfilment)
                        .unwrap_or_else(|e| panic!("{e}"));
                    if derived == *condition {
                        if let Ok(mut n) = self.fulfilments_matched.lock() {
                            *n += 1;
                        }
                        json!({"transferId": transfer_id, "fulfilment": fulfilment})
                    } else {
                        if let Ok(mut n) = self.fulfilments_wrong.lock() {
                            *n += 1;
                        }
                        json!({"transferId": transfer_id, "errorInformation": {"errorCode": "3100", "errorDescription": "Generic validation error - invalid fulfilment"}})
                    }
                }
                Some(result) => result.clone(),
                None => {
                    json!({"transferId": transfer_id, "errorInformation": {"errorCode": "3303", "errorDescription": "Transfer expired"}})
                }
            };
            for_payer.push(result.clone());
            for_payee.push(result);
        }
        let completed = "2026-01-01T00:00:00.000Z";
        for (dfsp, results) in [(&taken.payer, for_payer), (&taken.payee, for_payee)] {
            let outcome = json!({"bulkTransferState": "COMPLETED", "completedTimestamp": completed, "individualTransferResults": results});
            self.deliver(
                "PUT",
                dfsp,
                &format!("/bulkTransfers/{id}"),
                &Hub::hub_headers("bulkTransfers", dfsp),
                &outcome,
            )
            .await;
        }
    }
}

async fn handle(State(hub): State<Arc<Hub>>, request: Request) -> axum::response::Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            name.starts_with("fspiop-") || matches!(name, "content-type" | "accept" | "date")
        })
        .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.to_string(), v.to_string())))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (source, destination) = (header("fspiop-source"), header("fspiop-destination"));
    let Ok(bytes) = axum::body::to_bytes(request.into_body(), 8 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let body: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if let Ok(mut seen) = hub.seen.lock() {
        seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            source: source.clone(),
            destination: destination.clone(),
            content_type: header("content-type"),
            body: body.clone(),
        });
    }
    let hub2 = hub.clone();
    match (method.as_str(), path.as_str()) {
        // The quoting service relays bulk quotes both ways, headers and body untouched.
        ("POST", "/bulkQuotes") => {
            tokio::spawn(async move {
                hub2.deliver("POST", &destination, "/bulkQuotes", &headers, &body)
                    .await;
            });
            StatusCode::ACCEPTED.into_response()
        }
        ("PUT", p) if p.starts_with("/bulkQuotes/") => {
            let p = p.to_string();
            tokio::spawn(async move {
                hub2.deliver("PUT", &destination, &p, &headers, &body).await;
            });
            StatusCode::OK.into_response()
        }
        ("POST", "/bulkTransfers") => {
            tokio::spawn(async move { hub2.take(headers, body).await });
            StatusCode::ACCEPTED.into_response()
        }
        ("PUT", p) if p.starts_with("/bulkTransfers/") && !p.ends_with("/error") => {
            let id = p.trim_start_matches("/bulkTransfers/").to_string();
            tokio::spawn(async move { hub2.complete(&id, body).await });
            StatusCode::OK.into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Whether the switch's schema for `T` takes `body`, unknown members refused.
fn schema_ok<T: fspiop::types::Body>(body: &Value) {
    if let Err(error) = fspiop::types::parse_body::<T>(
        body.to_string().as_bytes(),
        fspiop::validate::UnknownFields::Reject,
    ) {
        panic!("{error:?}: {body}");
    }
}

const PAYER_SECRET: &str = "payer-secret";
const PAYEE_SECRETS: [&str; 2] = ["payee-5-secret", "payee-6-secret"];

async fn setup(callback_timeout_ms: u64) -> (Simulator, Arc<Hub>) {
    let hub = Arc::new(Hub::default());
    let router = axum::Router::new().fallback(handle).with_state(hub.clone());
    let hub_url = test_support::serve(router).await;
    let config = SimConfig {
        dfsps: vec![
            DfspSpec::with_range("bfsp-1", "1901234500", 10, PAYER_SECRET, "USD"),
            DfspSpec::with_range("bfsp-5", "1901234540", 10, PAYEE_SECRETS[0], "USD"),
            DfspSpec::with_range("bfsp-6", "1901234550", 10, PAYEE_SECRETS[1], "USD"),
        ],
        switch: SwitchUrls {
            als: hub_url.clone(),
            quotes: hub_url.clone(),
            transfers: hub_url.clone(),
            transaction_requests: hub_url,
        },
        request_timeout_ms: 5_000,
        callback_timeout_ms,
        jws: None,
        tls: None,
    };
    let (listener, _) = test_support::listener().await;
    let sim = Simulator::start(config, listener)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if let Ok(mut base) = hub.sim.lock() {
        *base = sim.base_url().to_string();
    }
    (sim, hub)
}

fn both_payees() -> BulkOptions {
    BulkOptions {
        payee_fsps: vec!["bfsp-5".into(), "bfsp-6".into()],
        ..BulkOptions::default()
    }
}

/// Waits until `ready` holds (the payee's answers are timed once the hub took them, which may
/// be just after the payer went on).
async fn eventually(ready: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !ready() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_pays_every_payee_with_fulfilments_that_match_the_quoted_conditions() {
    let (sim, hub) = setup(5_000).await;
    let report = sim
        .bulk("bfsp-1", 10, "12.5", &both_payees())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.payer_fsp, "bfsp-1");
    assert_eq!(report.payer_msisdn, "19012345000");
    assert_eq!(
        (report.amount.as_str(), report.currency.as_str()),
        ("12.5", "USD")
    );
    assert_eq!((report.committed(), report.failed()), (10, 0), "{report:?}");
    let payee_fsps: Vec<&str> = report.bulks.iter().map(|b| b.payee_fsp.as_str()).collect();
    assert_eq!(payee_fsps, ["bfsp-5", "bfsp-6"]);
    for bulk in &report.bulks {
        assert_eq!((bulk.payees, bulk.quoted, bulk.committed), (5, 5, 5));
        assert_eq!(bulk.bulk_transfer_state, "COMPLETED");
        assert!(bulk.error.is_none() && bulk.completed());
        assert!(!bulk.bulk_quote.is_zero() && !bulk.bulk_transfer.is_zero());
        assert_eq!(bulk.transfers.len(), 5);
        // Round robin: bfsp-5 gets payees 0, 2, 4, … of the pick, its customers in order.
        let prefix = if bulk.payee_fsp == "bfsp-5" {
            "1901234540"
        } else {
            "1901234550"
        };
        let msisdns: Vec<&str> = bulk.transfers.iter().map(|t| t.msisdn.as_str()).collect();
        let expected: Vec<String> = (0..5).map(|n| format!("{prefix}{n}")).collect();
        assert_eq!(msisdns, expected);
        assert!(bulk
            .transfers
            .iter()
            .all(|t| t.committed && !t.transfer_id.is_empty() && t.error_code.is_empty()));
    }

    // The bulk quotes, as the payer sent them and the payee answered them.
    let posted = hub.seen("POST", "/bulkQuotes");
    assert_eq!(posted.len(), 2);
    for request in &posted {
        assert_eq!(request.source, "bfsp-1");
        assert!(
            request
                .content_type
                .starts_with("application/vnd.interoperability.bulkQuotes+json;version=1"),
            "{}",
            request.content_type
        );
        let body = &request.body;
        assert_eq!(body["payer"]["partyIdInfo"]["fspId"], "bfsp-1");
        assert_eq!(
            body["payer"]["partyIdInfo"]["partyIdentifier"],
            "19012345000"
        );
        let quotes = body["individualQuotes"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"));
        assert_eq!(quotes.len(), 5);
        for quote in quotes {
            assert_eq!(
                quote["payee"]["partyIdInfo"]["fspId"],
                request.destination.as_str()
            );
            assert_eq!(quote["amountType"], "SEND");
            assert_eq!(
                quote["amount"],
                json!({"amount": "12.5", "currency": "USD"})
            );
        }
        // The switch's schema takes the payer's request.
        schema_ok::<fspiop::types::BulkQuotesPostRequest>(&request.body);
    }
    let answered = hub.seen("PUT", "/bulkQuotes/");
    assert_eq!(answered.len(), 2);
    let mut conditions = HashMap::new();
    for answer in &answered {
        assert_eq!(answer.destination, "bfsp-1");
        schema_ok::<fspiop::types::BulkQuotesIdPutResponse>(&answer.body);
        let results = answer.body["individualQuoteResults"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", answer.body));
        assert_eq!(results.len(), 5);
        for result in results {
            assert_eq!(
                result["transferAmount"],
                json!({"amount": "12.5", "currency": "USD"})
            );
            // The packet is the single quote's: a Transaction object naming both parties.
            let packet = fspiop::ilp::decode_packet(
                result["ilpPacket"].as_str().unwrap_or_default(),
                IlpVersion::V4,
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let transaction = packet
                .transaction_object()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(transaction["payer"]["partyIdInfo"]["fspId"], "bfsp-1");
            assert_eq!(
                transaction["payee"]["partyIdInfo"]["fspId"],
                answer.source.as_str()
            );
            assert_eq!(transaction["quoteId"], result["quoteId"]);
            assert_eq!(
                transaction["amount"],
                json!({"amount": "12.5", "currency": "USD"})
            );
            // … made with the payee's secret, as its single quote would be.
            let secret = if answer.source == "bfsp-5" {
                PAYEE_SECRETS[0]
            } else {
                PAYEE_SECRETS[1]
            };
            let terms = Ilp::new(IlpVersion::V4, secret)
                .terms_for_transaction(transaction)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(result["condition"], terms.condition.as_str());
            conditions.insert(
                result["quoteId"].as_str().unwrap_or_default().to_string(),
                terms.condition,
            );
        }
    }

    // The bulk transfers carry the quoted terms, and the payees' fulfilments match them.
    let transfers = hub.seen("POST", "/bulkTransfers");
    assert_eq!(transfers.len(), 2);
    for request in &transfers {
        schema_ok::<fspiop::types::BulkTransfersPostRequest>(&request.body);
        assert_eq!(request.body["payerFsp"], "bfsp-1");
        assert_eq!(request.body["payeeFsp"], request.destination.as_str());
        let ids: Vec<&str> = posted
            .iter()
            .map(|p| p.body["bulkQuoteId"].as_str().unwrap_or_default())
            .collect();
        assert!(ids.contains(&request.body["bulkQuoteId"].as_str().unwrap_or_default()));
        assert_eq!(
            request.body["individualTransfers"].as_array().map(Vec::len),
            Some(5)
        );
    }
    let fulfilled = hub.seen("PUT", "/bulkTransfers/");
    let by_payees: Vec<&Seen> = fulfilled.iter().filter(|s| s.source != "bfsp-1").collect();
    assert_eq!(by_payees.len(), 2);
    for answer in by_payees {
        assert_eq!(answer.destination, "bfsp-1");
        assert_eq!(answer.body["bulkTransferState"], "COMPLETED");
        schema_ok::<fspiop::types::BulkTransfersIdPutResponse>(&answer.body);
    }
    assert_eq!(hub.fulfilments_matched.lock().map(|n| *n).ok(), Some(10));
    assert_eq!(hub.fulfilments_wrong.lock().map(|n| *n).ok(), Some(0));
    assert_eq!(conditions.len(), 10);

    // Both roles' phases are timed; every request got its one callback, and the hub's
    // notifications to the payees were acknowledged without being taken for callbacks.
    // (A payee times its answer once the answer is sent: the hub may see it first.)
    let phases = [
        Phase::BulkQuote,
        Phase::AnswerBulkQuote,
        Phase::BulkTransfer,
        Phase::AnswerBulkTransfer,
    ];
    eventually(|| {
        let timings = sim.timings();
        sim.bulk_payee_notifications() == 2
            && phases
                .iter()
                .all(|phase| timings.get(phase).is_some_and(|s| s.count >= 2))
    })
    .await;
    let timings = sim.timings();
    for phase in phases {
        assert_eq!(
            timings.get(&phase).map(|s| (s.count, s.failures)),
            Some((2, 0)),
            "{phase:?}: {timings:?}"
        );
    }
    assert_eq!(sim.bulk_payee_notifications(), 2);
    let counts = sim.callback_counts();
    assert_eq!(
        (
            counts.awaited,
            counts.matched,
            counts.unmatched,
            counts.timeouts
        ),
        (4, 4, 0, 0),
        "{counts:?}"
    );

    // The same through the payer API (what the operator commands and the perf harness use).
    let remote = RemoteSimulator::new(sim.base_url(), 20_000).unwrap_or_else(|e| panic!("{e}"));
    let options = BulkOptions {
        payee_fsps: vec!["bfsp-6".into()],
        offset: 7,
        summary_only: true,
        ..BulkOptions::default()
    };
    let remote_report = remote
        .bulk("bfsp-1", 4, "3", &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(remote_report.bulks.len(), 1);
    let bulk = &remote_report.bulks[0];
    assert_eq!(
        (bulk.payee_fsp.as_str(), bulk.payees, bulk.committed),
        ("bfsp-6", 4, 4)
    );
    assert!(bulk.transfers.is_empty(), "summary only");
    assert!(!bulk.bulk_transfer.is_zero());
    // From the offset, wrapping round the DFSP's 10 customers.
    let last = hub
        .seen("POST", "/bulkQuotes")
        .pop()
        .unwrap_or_else(|| panic!("no bulk quote"));
    let msisdns: Vec<&str> = last.body["individualQuotes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            q["payee"]["partyIdInfo"]["partyIdentifier"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        msisdns,
        ["19012345507", "19012345508", "19012345509", "19012345500"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payee_refuses_customers_it_does_not_hold_and_they_are_not_transferred() {
    let (sim, hub) = setup(5_000).await;
    let options = BulkOptions {
        payees: vec![
            BulkPayee::new("19012345401", "bfsp-5"),
            BulkPayee::new("19099999999", "bfsp-5"),
            // One of bfsp-6's customers, sent to bfsp-5: not bfsp-5's.
            BulkPayee::new("19012345502", "bfsp-5"),
            BulkPayee::new("19012345403", "bfsp-5"),
        ],
        payer_msisdn: Some("19012345004".into()),
        ..BulkOptions::default()
    };
    let report = sim
        .bulk("bfsp-1", 0, "7", &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.payer_msisdn, "19012345004");
    assert_eq!(report.bulks.len(), 1);
    let bulk = &report.bulks[0];
    assert_eq!((bulk.payees, bulk.quoted, bulk.committed), (4, 2, 2));
    assert_eq!(bulk.errors_by_code.get("3204"), Some(&2));
    assert!(bulk.completed());
    let refused: Vec<&str> = bulk
        .transfers
        .iter()
        .filter(|t| !t.committed)
        .map(|t| t.msisdn.as_str())
        .collect();
    assert_eq!(refused, ["19099999999", "19012345502"]);
    assert!(bulk
        .transfers
        .iter()
        .filter(|t| !t.committed)
        .all(|t| t.transfer_id.is_empty() && t.error_code == "3204"));

    // The payee's answer: errorInformation for the strangers, terms for its customers.
    let answered = hub.seen("PUT", "/bulkQuotes/");
    assert_eq!(answered.len(), 1);
    let results = answered[0].body["individualQuoteResults"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 4);
    let errors: Vec<bool> = results
        .iter()
        .map(|r| r["errorInformation"]["errorCode"] == "3204")
        .collect();
    assert_eq!(errors, [false, true, true, false]);
    assert!(results
        .iter()
        .filter(|r| r["errorInformation"].is_null())
        .all(|r| r["condition"].is_string() && r["ilpPacket"].is_string()));
    assert!(results
        .iter()
        .filter(|r| !r["errorInformation"].is_null())
        .all(|r| r["condition"].is_null()));
    // Only the two quoted payees are in the bulk transfer.
    let transfers = hub.seen("POST", "/bulkTransfers");
    assert_eq!(transfers.len(), 1);
    assert_eq!(
        transfers[0].body["individualTransfers"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Nobody quoted: no bulk transfer at all.
    let strangers = BulkOptions {
        payees: vec![BulkPayee::new("19099999998", "bfsp-6")],
        ..BulkOptions::default()
    };
    let report = sim
        .bulk("bfsp-1", 0, "7", &strangers)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let bulk = &report.bulks[0];
    assert_eq!((bulk.quoted, bulk.committed, bulk.failed()), (0, 0, 1));
    assert!(bulk.bulk_transfer_id.is_empty() && bulk.bulk_transfer_state.is_empty());
    assert_eq!(hub.seen("POST", "/bulkTransfers").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payee_fulfils_only_the_packets_it_made() {
    let (sim, hub) = setup(5_000).await;
    // Terms as bfsp-5 quotes them, and terms made with another secret.
    let quote = |id: &str| {
        json!({
            "quoteId": id,
            "transactionId": uuid::Uuid::new_v4().to_string(),
            "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19012345000", "fspId": "bfsp-1"}},
            "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": "bfsp-5"}},
            "amountType": "SEND",
            "amount": {"amount": "5", "currency": "USD"},
            "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"},
        })
    };
    let response = json!({"transferAmount": {"amount": "5", "currency": "USD"}, "expiration": "2099-01-01T00:00:00.000Z"});
    let quote_id = uuid::Uuid::new_v4().to_string();
    let mine = Ilp::new(IlpVersion::V4, PAYEE_SECRETS[0])
        .quote_response_terms(&quote(&quote_id), &response)
        .unwrap_or_else(|e| panic!("{e}"));
    let theirs = Ilp::new(IlpVersion::V4, "someone-else")
        .quote_response_terms(&quote(&uuid::Uuid::new_v4().to_string()), &response)
        .unwrap_or_else(|e| panic!("{e}"));
    let (good, bad) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    let bulk_id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "bulkTransferId": bulk_id,
        "bulkQuoteId": uuid::Uuid::new_v4().to_string(),
        "payerFsp": "bfsp-1",
        "payeeFsp": "bfsp-5",
        "expiration": "2099-01-01T00:00:00.000Z",
        "individualTransfers": [
            {"transferId": good, "transferAmount": {"amount": "5", "currency": "USD"}, "ilpPacket": mine.ilp_packet, "condition": mine.condition},
            {"transferId": bad, "transferAmount": {"amount": "5", "currency": "USD"}, "ilpPacket": theirs.ilp_packet, "condition": theirs.condition},
        ],
    });
    let response = reqwest::Client::new()
        .post(format!("{}/bfsp-5/bulkTransfers", sim.base_url()))
        .header(
            "content-type",
            "application/vnd.interoperability.bulkTransfers+json;version=1.1",
        )
        .header("fspiop-source", "bfsp-1")
        .header("fspiop-destination", "bfsp-5")
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 202);
    eventually(|| {
        !hub.seen("PUT", &format!("/bulkTransfers/{bulk_id}"))
            .is_empty()
    })
    .await;
    let answered = hub.seen("PUT", &format!("/bulkTransfers/{bulk_id}"));
    assert_eq!(answered.len(), 1);
    let answer = &answered[0];
    assert_eq!(
        (answer.source.as_str(), answer.destination.as_str()),
        ("bfsp-5", "bfsp-1")
    );
    assert_eq!(answer.body["bulkTransferState"], "COMPLETED");
    let results = answer.body["individualTransferResults"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["transferId"], good.as_str());
    assert_eq!(results[0]["fulfilment"], mine.fulfilment.as_str());
    assert_eq!(
        fspiop::ilp::condition_from_fulfilment(
            results[0]["fulfilment"].as_str().unwrap_or_default()
        )
        .ok(),
        Some(mine.condition.clone())
    );
    assert_eq!(results[1]["transferId"], bad.as_str());
    assert!(results[1]["fulfilment"].is_null());
    assert_eq!(results[1]["errorInformation"]["errorCode"], "5105");

    // Missing ids are refused at once.
    let response = reqwest::Client::new()
        .post(format!("{}/bfsp-5/bulkQuotes", sim.base_url()))
        .header("fspiop-source", "bfsp-1")
        .body(json!({"individualQuotes": []}).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hubs_refusals_and_silence_are_counted_per_transfer() {
    let (sim, hub) = setup(800).await;

    // The hub refuses one transfer of each bulk (payer liquidity): the rest commit.
    hub.refuse_first.store(true, Ordering::Relaxed);
    let report = sim
        .bulk("bfsp-1", 6, "1", &both_payees())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.committed(), report.failed()), (4, 2), "{report:?}");
    assert_eq!(report.errors_by_code().get("4001"), Some(&2));
    for bulk in &report.bulks {
        assert_eq!(bulk.bulk_transfer_state, "COMPLETED");
        assert_eq!(bulk.transfers[0].error_code, "4001");
        assert!(!bulk.transfers[0].transfer_id.is_empty());
    }

    // Every transfer refused: REJECTED, told to the payer alone.
    hub.refuse_first.store(false, Ordering::Relaxed);
    hub.refuse_all.store(true, Ordering::Relaxed);
    // Both payees were told (after the payer, so perhaps only now).
    eventually(|| sim.bulk_payee_notifications() == 2).await;
    let notified = sim.bulk_payee_notifications();
    assert_eq!(notified, 2);
    let report = sim
        .bulk(
            "bfsp-1",
            3,
            "1",
            &BulkOptions {
                payee_fsps: vec!["bfsp-5".into()],
                ..BulkOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let bulk = &report.bulks[0];
    assert_eq!(bulk.bulk_transfer_state, "REJECTED");
    assert!(bulk.completed());
    assert_eq!(
        (bulk.committed, bulk.errors_by_code.get("4001")),
        (0, Some(&3))
    );

    // A hub that never answers: the payer's wait ends at its timeout, every transfer with it.
    hub.refuse_all.store(false, Ordering::Relaxed);
    hub.silent.store(true, Ordering::Relaxed);
    let report = sim
        .bulk(
            "bfsp-1",
            2,
            "1",
            &BulkOptions {
                payee_fsps: vec!["bfsp-6".into()],
                ..BulkOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let bulk = &report.bulks[0];
    assert!(
        matches!(
            bulk.error,
            Some(PaymentError::Timeout {
                phase: Phase::BulkTransfer,
                ..
            })
        ),
        "{bulk:?}"
    );
    assert_eq!(bulk.errors_by_code.get("timeout"), Some(&2));
    assert!(!bulk.completed());
    assert!(bulk.transfers.iter().all(|t| t.error_code == "timeout"));
    assert_eq!(sim.bulk_payee_notifications(), notified);

    let counts = sim.callback_counts();
    assert_eq!(counts.timeouts, 1, "{counts:?}");
    assert_eq!(
        counts.matched + counts.timeouts,
        counts.awaited,
        "{counts:?}"
    );
    assert_eq!(counts.unmatched, 0, "{counts:?}");

    // What cannot start is an error of its own.
    assert!(matches!(
        sim.bulk("nobody", 1, "1", &BulkOptions::default()).await,
        Err(PaymentError::UnknownPayer(_))
    ));
    let too_many = sim
        .bulk(
            "bfsp-1",
            1001,
            "1",
            &BulkOptions {
                payee_fsps: vec!["bfsp-5".into()],
                ..BulkOptions::default()
            },
        )
        .await;
    assert!(
        matches!(too_many, Err(PaymentError::Request { .. })),
        "{too_many:?}"
    );
    // A count from the payer API is checked before anything is picked.
    let remote = RemoteSimulator::new(sim.base_url(), 5_000).unwrap_or_else(|e| panic!("{e}"));
    let huge = remote
        .bulk(
            "bfsp-1",
            usize::MAX,
            "1",
            &BulkOptions {
                offset: usize::MAX,
                ..BulkOptions::default()
            },
        )
        .await;
    assert!(
        matches!(huge, Err(PaymentError::Request { .. })),
        "{huge:?}"
    );
    let unknown_payee = sim
        .bulk(
            "bfsp-1",
            1,
            "1",
            &BulkOptions {
                payee_fsps: vec!["elsewhere".into()],
                ..BulkOptions::default()
            },
        )
        .await;
    assert!(
        matches!(unknown_payee, Err(PaymentError::Request { .. })),
        "{unknown_payee:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_bulk_quote_a_bulk_transfers_the_terms_the_payee_would_quote() {
    let (sim, hub) = setup(5_000).await;
    let options = BulkOptions {
        payee_fsps: vec!["bfsp-5".into()],
        skip_bulk_quote: true,
        ..BulkOptions::default()
    };
    let report = sim
        .bulk("bfsp-1", 3, "2", &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let bulk = &report.bulks[0];
    assert_eq!(
        (bulk.quoted, bulk.committed, bulk.failed()),
        (3, 3, 0),
        "{bulk:?}"
    );
    assert!(bulk.bulk_quote.is_zero() && !bulk.bulk_transfer.is_zero());
    assert!(hub.seen("POST", "/bulkQuotes").is_empty());
    assert_eq!(hub.seen("POST", "/bulkTransfers").len(), 1);
    assert_eq!(hub.fulfilments_matched.lock().map(|n| *n).ok(), Some(3));
    assert!(!sim.timings().contains_key(&Phase::BulkQuote));
    let counts = sim.callback_counts();
    assert_eq!((counts.awaited, counts.matched), (1, 1), "{counts:?}");

    // The payee's secret is needed: a payee DFSP simulated elsewhere cannot be skipped.
    let elsewhere = BulkOptions {
        payees: vec![BulkPayee::new("19012349900", "elsewhere")],
        skip_bulk_quote: true,
        ..BulkOptions::default()
    };
    let report = sim
        .bulk("bfsp-1", 0, "2", &elsewhere)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        report.bulks[0].error,
        Some(PaymentError::InvalidCallback {
            phase: Phase::BulkQuote,
            ..
        })
    ));
    assert_eq!(report.failed(), 1);
}

#[test]
fn every_dfsp_registers_the_bulk_endpoints() {
    let endpoints: HashMap<String, String> = dfsp_sim::endpoints("http://sim:4100/", "perffsp-5")
        .into_iter()
        .collect();
    let get = |kind: &str| endpoints.get(kind).map(String::as_str);
    assert_eq!(
        get("FSPIOP_CALLBACK_URL_BULK_QUOTES"),
        Some("http://sim:4100/perffsp-5")
    );
    assert_eq!(
        get("FSPIOP_CALLBACK_URL_BULK_TRANSFER_POST"),
        Some("http://sim:4100/perffsp-5/bulkTransfers")
    );
    assert_eq!(
        get("FSPIOP_CALLBACK_URL_BULK_TRANSFER_PUT"),
        Some("http://sim:4100/perffsp-5/bulkTransfers/{{id}}")
    );
    assert_eq!(
        get("FSPIOP_CALLBACK_URL_BULK_TRANSFER_ERROR"),
        Some("http://sim:4100/perffsp-5/bulkTransfers/{{id}}/error")
    );
}
