//! Request to pay between two simulated DFSPs, through a stand-in switch: a relay that forwards
//! every FSPIOP request to the DFSP its `FSPIOP-Destination` names (a lookup to the owner of the
//! MSISDN), and answers a request to a DFSP it does not know with the hub's error callback, as
//! the switch does. No MySQL, no Kafka: these tests are about the simulator's two roles. The
//! same flow through the real switch is in `services/mojaloop/tests`.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use dfsp_sim::{
    otp, DfspSpec, PayOptions, PaymentError, Phase, RemoteSimulator, RequestOptions, Scenario,
    SimConfig, Simulator, SwitchUrls,
};
use serde_json::{json, Value};

/// One request the relay forwarded: method, path and query, source, body.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    source: String,
    body: Value,
}

#[derive(Default)]
struct Relay {
    sim: Mutex<String>,
    /// MSISDN → DFSP, for lookups.
    owners: Mutex<Vec<(String, String)>>,
    seen: Mutex<Vec<Seen>>,
    /// Answer the payee's `PUT /authorizations/{ID}` with the hub's error instead of relaying.
    refuse_authorizations: AtomicBool,
    client: reqwest::Client,
}

impl Relay {
    fn seen(&self, method: &str, prefix: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .map(|seen| {
                seen.iter()
                    .filter(|s| s.method == method && s.target.starts_with(prefix))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends `method path` to `dfsp` at the simulator, with `headers` and `body`.
    async fn deliver(
        &self,
        method: &str,
        dfsp: &str,
        target: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) {
        let base = self.sim.lock().map(|s| s.clone()).unwrap_or_default();
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = self
            .client
            .request(method, format!("{base}/{dfsp}{target}"))
            .body(body);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Err(error) = request.send().await {
            panic!("relay to {dfsp}{target}: {error}");
        }
    }

    /// The hub's error callback to `source`.
    async fn error_to(&self, source: &str, path: &str, code: &str, description: &str) {
        let resource = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let headers = vec![
            (
                "content-type".to_string(),
                format!("application/vnd.interoperability.{resource}+json;version=1.1"),
            ),
            ("fspiop-source".to_string(), "Hub".to_string()),
            ("fspiop-destination".to_string(), source.to_string()),
            (
                "date".to_string(),
                "Thu, 01 Jan 2026 00:00:00 GMT".to_string(),
            ),
        ];
        let body =
            json!({"errorInformation": {"errorCode": code, "errorDescription": description}});
        self.deliver(
            "PUT",
            source,
            &format!("{path}/error"),
            &headers,
            body.to_string().into_bytes(),
        )
        .await;
    }
}

async fn forward(State(relay): State<Arc<Relay>>, request: Request) -> axum::response::Response {
    let method = request.method().as_str().to_string();
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
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
    let (source, mut destination) = (header("fspiop-source"), header("fspiop-destination"));
    let Ok(body) = axum::body::to_bytes(request.into_body(), 1 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let json: Value = serde_json::from_slice(&body).unwrap_or_default();
    if let Ok(mut seen) = relay.seen.lock() {
        seen.push(Seen {
            method: method.clone(),
            target: target.clone(),
            source: source.clone(),
            body: json.clone(),
        });
    }
    if destination.is_empty() && method == "GET" && path.starts_with("/parties/MSISDN/") {
        let msisdn = path.trim_start_matches("/parties/MSISDN/");
        destination = relay
            .owners
            .lock()
            .ok()
            .and_then(|owners| {
                owners
                    .iter()
                    .find(|(m, _)| m == msisdn)
                    .map(|(_, d)| d.clone())
            })
            .unwrap_or_default();
    }
    let known = relay
        .owners
        .lock()
        .is_ok_and(|owners| owners.iter().any(|(_, d)| *d == destination));
    let refused = method == "PUT"
        && path.starts_with("/authorizations/")
        && relay.refuse_authorizations.load(Ordering::Relaxed);
    let status = if method == "PUT" {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let relay2 = relay.clone();
    tokio::spawn(async move {
        if refused {
            relay2
                .error_to(
                    &source,
                    &path,
                    "2001",
                    "Internal server error - refused by the test",
                )
                .await;
        } else if known {
            relay2
                .deliver(&method, &destination, &target, &headers, body.to_vec())
                .await;
        } else if method == "POST" && path == "/transactionRequests" {
            let id = json["transactionRequestId"].as_str().unwrap_or_default();
            relay2
                .error_to(
                    &source,
                    &format!("/transactionRequests/{id}"),
                    "3201",
                    "Destination FSP Error - unknown destination",
                )
                .await;
        }
    });
    status.into_response()
}

struct Setup {
    sim: Simulator,
    relay: Arc<Relay>,
}

async fn setup(callback_timeout_ms: u64) -> Setup {
    let relay = Arc::new(Relay::default());
    let router = axum::Router::new()
        .fallback(forward)
        .with_state(relay.clone());
    let relay_url = test_support::serve(router).await;
    let payer = DfspSpec::with_range("rtpfsp-1", "1901234500", 10, "payer-secret", "USD");
    let payee = DfspSpec::with_range("rtpfsp-5", "1901234540", 10, "payee-secret", "USD");
    if let Ok(mut owners) = relay.owners.lock() {
        for spec in [&payer, &payee] {
            for msisdn in &spec.msisdns {
                owners.push((msisdn.clone(), spec.name.clone()));
            }
        }
    }
    let config = SimConfig {
        dfsps: vec![payer, payee],
        switch: SwitchUrls {
            als: relay_url.clone(),
            quotes: relay_url.clone(),
            transfers: relay_url.clone(),
            transaction_requests: relay_url,
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
    if let Ok(mut base) = relay.sim.lock() {
        *base = sim.base_url().to_string();
    }
    Setup { sim, relay }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payee_asks_the_payer_approves_with_the_otp_and_the_money_moves() {
    let Setup { sim, relay } = setup(5_000).await;
    let report = sim
        .request_to_pay("rtpfsp-5", "19012345003", "100", &RequestOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.payer_fsp, "rtpfsp-1");
    assert_eq!(report.payee_fsp, "rtpfsp-5");
    assert_eq!(report.transfer_state, "COMMITTED");
    assert_eq!(
        (report.transfer_amount.as_str(), report.currency.as_str()),
        ("100", "USD")
    );
    assert!(report.requested() && !report.transaction_id.is_empty());
    for (phase, took) in [
        ("lookup", report.lookup),
        ("transaction request", report.transaction_request),
        ("quote", report.quote),
        ("authorization", report.authorization),
        ("transfer", report.transfer),
    ] {
        assert!(!took.is_zero(), "{phase} timed");
    }
    let id = report.transaction_request_id.clone();

    // What went over the wire.
    let posted = relay.seen("POST", "/transactionRequests");
    assert_eq!(posted.len(), 1);
    let request = &posted[0].body;
    assert_eq!(posted[0].source, "rtpfsp-5");
    assert_eq!(request["payer"]["partyIdentifier"], "19012345003");
    assert_eq!(request["payer"]["fspId"], "rtpfsp-1");
    assert_eq!(
        request["payee"]["partyIdInfo"]["partyIdentifier"],
        "19012345400"
    );
    assert_eq!(request["transactionType"]["initiator"], "PAYEE");
    assert_eq!(request["authenticationType"], "OTP");
    let answered = relay.seen("PUT", &format!("/transactionRequests/{id}"));
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].body["transactionRequestState"], "RECEIVED");
    assert_eq!(
        answered[0].body["transactionId"],
        report.transaction_id.as_str()
    );
    let quotes = relay.seen("POST", "/quotes");
    assert_eq!(quotes.len(), 1);
    let quote = &quotes[0].body;
    assert_eq!(quotes[0].source, "rtpfsp-1", "the payer quotes");
    assert_eq!(quote["transactionRequestId"], id.as_str());
    assert_eq!(quote["transactionId"], report.transaction_id.as_str());
    assert_eq!(quote["amountType"], "RECEIVE");
    assert_eq!(quote["transactionType"]["initiator"], "PAYEE");
    let asked = relay.seen("GET", &format!("/authorizations/{id}?"));
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0].target.contains("authenticationType=OTP")
            && asked[0].target.contains("amount=100")
            && asked[0].target.contains("currency=USD")
            && asked[0].target.contains("retriesLeft="),
        "{}",
        asked[0].target
    );
    let entered = relay.seen("PUT", &format!("/authorizations/{id}"));
    assert_eq!(entered.len(), 1);
    assert_eq!(entered[0].body["responseType"], "ENTERED");
    assert_eq!(
        entered[0].body["authenticationInfo"]["authenticationValue"],
        otp(&id).as_str()
    );
    let transfers = relay.seen("POST", "/transfers");
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0].body["payerFsp"], "rtpfsp-1");
    assert_eq!(transfers[0].body["payeeFsp"], "rtpfsp-5");

    // Both roles' phases are timed (an answer once the switch took it, which may be just after
    // the payer went on); every request got its one callback.
    // Waits for each of these phases (not for a count: the payee's answer to the lookup is
    // timed too, so a count could be reached while an answer's timing is still on its way).
    let phases = [
        Phase::Lookup,
        Phase::TransactionRequest,
        Phase::AnswerTransactionRequest,
        Phase::Quote,
        Phase::AnswerQuote,
        Phase::Authorization,
        Phase::AnswerAuthorization,
        Phase::Transfer,
        Phase::AnswerTransfer,
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !phases.iter().all(|p| sim.timings().contains_key(p))
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let timings = sim.timings();
    for phase in phases {
        assert_eq!(
            timings.get(&phase).map(|s| s.count),
            Some(1),
            "{phase:?}: {timings:?}"
        );
    }
    let counts = sim.callback_counts();
    assert_eq!(counts.awaited, 5, "{counts:?}");
    assert_eq!(
        (counts.matched, counts.unmatched, counts.timeouts),
        (5, 0, 0)
    );

    // The same through the payer API, without an OTP, and as the perf scenario.
    let remote = RemoteSimulator::new(sim.base_url(), 20_000).unwrap_or_else(|e| panic!("{e}"));
    let options = RequestOptions {
        payer_fsp: Some("rtpfsp-1".into()),
        payee_msisdn: Some("19012345407".into()),
        without_otp: true,
        ..RequestOptions::default()
    };
    let quick = remote
        .request_to_pay("rtpfsp-5", "19012345004", "2.5", &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(quick.transfer_state, "COMMITTED");
    assert!(quick.lookup.is_zero() && quick.authorization.is_zero());
    assert_eq!(quick.transfer_amount, "2.5");
    assert!(relay
        .seen(
            "GET",
            &format!("/authorizations/{}", quick.transaction_request_id)
        )
        .is_empty());
    let by_scenario = remote
        .pay(
            "rtpfsp-1",
            "19012345405",
            "7",
            &PayOptions {
                payer_msisdn: Some("19012345005".into()),
                scenario: Scenario::RequestToPay,
                ..PayOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(by_scenario.payee_fsp, "rtpfsp-5");
    assert_eq!(by_scenario.payer_fsp, "rtpfsp-1");
    assert_eq!(by_scenario.transfer_state, "COMMITTED");
    assert!(!by_scenario.authorization.is_zero());
    let counts = sim.callback_counts();
    assert_eq!(counts.awaited, counts.matched, "{counts:?}");
    assert_eq!(counts.unmatched, 0, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_errors_end_the_request() {
    let Setup { sim, relay } = setup(2_000).await;

    // The payer declines a customer it does not hold: nothing else happens.
    let declined = sim
        .request_to_pay(
            "rtpfsp-5",
            "19099999999",
            "100",
            &RequestOptions {
                payer_fsp: Some("rtpfsp-1".into()),
                ..RequestOptions::default()
            },
        )
        .await;
    match declined {
        Err(PaymentError::Rejected { phase, .. }) => assert_eq!(phase, Phase::TransactionRequest),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(relay.seen("POST", "/quotes").is_empty(), "no quote");

    // A wrong OTP: the payer stops before the transfer and tells the payee REJECTED.
    let wrong = sim
        .request_to_pay(
            "rtpfsp-5",
            "19012345001",
            "100",
            &RequestOptions {
                wrong_otp: true,
                ..RequestOptions::default()
            },
        )
        .await;
    match wrong {
        Err(PaymentError::Rejected { phase, .. }) => assert_eq!(phase, Phase::Authorization),
        other => panic!("expected a refused authorization, got {other:?}"),
    }
    assert_eq!(relay.seen("POST", "/quotes").len(), 1);
    assert!(relay.seen("POST", "/transfers").is_empty(), "no transfer");
    let states: Vec<Value> = relay
        .seen("PUT", "/transactionRequests/")
        .into_iter()
        .filter(|s| s.source == "rtpfsp-1")
        .map(|s| s.body["transactionRequestState"].clone())
        .collect();
    assert_eq!(
        states,
        vec![json!("REJECTED"), json!("RECEIVED"), json!("REJECTED")]
    );

    // A payer DFSP the switch does not know: the hub's PUT /transactionRequests/{ID}/error.
    let unknown = sim
        .request_to_pay(
            "rtpfsp-5",
            "19012345001",
            "100",
            &RequestOptions {
                payer_fsp: Some("nosuchfsp".into()),
                ..RequestOptions::default()
            },
        )
        .await;
    match unknown {
        Err(PaymentError::Fspiop { phase, code, .. }) => {
            assert_eq!((phase, code.as_str()), (Phase::TransactionRequest, "3201"))
        }
        other => panic!("expected the hub's error, got {other:?}"),
    }

    // The hub refuses the payee's authorization answer: PUT /authorizations/{ID}/error ends
    // the payee's request (the payer's own wait times out).
    relay.refuse_authorizations.store(true, Ordering::Relaxed);
    let refused = sim
        .request_to_pay("rtpfsp-5", "19012345002", "100", &RequestOptions::default())
        .await;
    match refused {
        Err(PaymentError::Fspiop { phase, code, .. }) => {
            assert_eq!((phase, code.as_str()), (Phase::Authorization, "2001"))
        }
        other => panic!("expected the authorization's error, got {other:?}"),
    }
    relay.refuse_authorizations.store(false, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let counts = sim.callback_counts();
    assert_eq!(counts.unmatched, 0, "{counts:?}");
    assert_eq!(counts.timeouts, 1, "the payer's authorization: {counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_request_gets_the_same_answer_and_starts_nothing_twice() {
    let Setup { sim, relay } = setup(2_000).await;
    let id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "transactionRequestId": id,
        "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19012345400", "fspId": "rtpfsp-5"}},
        "payer": {"partyIdType": "MSISDN", "partyIdentifier": "19012345001", "fspId": "rtpfsp-1"},
        "amount": {"amount": "10", "currency": "USD"},
        "transactionType": {"scenario": "PAYMENT", "initiator": "PAYEE", "initiatorType": "BUSINESS"},
        "authenticationType": "OTP",
    });
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let response = client
            .post(format!("{}/rtpfsp-1/transactionRequests", sim.base_url()))
            .header(
                "content-type",
                "application/vnd.interoperability.transactionRequests+json;version=1.1",
            )
            .header("fspiop-source", "rtpfsp-5")
            .header("fspiop-destination", "rtpfsp-1")
            .header("date", "Thu, 01 Jan 2026 00:00:00 GMT")
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status().as_u16(), 202);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // GET /transactionRequests/{ID} answers the same again.
    let response = client
        .get(format!(
            "{}/rtpfsp-1/transactionRequests/{id}",
            sim.base_url()
        ))
        .header("fspiop-source", "rtpfsp-5")
        .header("date", "Thu, 01 Jan 2026 00:00:00 GMT")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 202);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answers: Vec<Value> = relay
        .seen("PUT", &format!("/transactionRequests/{id}"))
        .into_iter()
        .map(|s| s.body)
        .collect();
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert_eq!(answers[0]["transactionRequestState"], "RECEIVED");
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    let quotes: Vec<Seen> = relay
        .seen("POST", "/quotes")
        .into_iter()
        .filter(|s| s.body["transactionRequestId"] == id.as_str())
        .collect();
    assert_eq!(quotes.len(), 1, "one quote for the request");
    // The payee here did not ask: its point of sale answers the authorization with an error.
    let errors = relay.seen("PUT", &format!("/authorizations/{id}/error"));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].body["errorInformation"]["errorCode"], "3200");
    assert_eq!(relay.seen("POST", "/transfers").len(), 0);
    assert_eq!(otp(&id).len(), 6);
    assert_eq!(otp(&id), otp(&id));
}
