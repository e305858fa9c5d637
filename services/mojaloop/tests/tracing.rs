//! Distributed tracing end to end: `mojaloop up` over Kafka exports its spans over OTLP/HTTP
//! to a fake collector served here; a payer DFSP served here (`tracefsp`) pays a simulated
//! payee (lookup, quote, transfer) with its own `traceparent`. Every hop of the payment — the
//! edges, the ledger batches, the bus, the forwarded requests and the callbacks — is a span of
//! the payer's one trace, chained parent to child, and the callbacks the payer receives carry
//! that trace with the hub's callback hop as their parent.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation panics"
)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fspiop::trace_context::TraceParent;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use prost::Message as _;
use serde_json::{json, Value};

const PORT_OFFSET: u16 = 2300;
/// The payer's trace.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PAYER: &str = "tracefsp";
const PAYEE: &str = "perffsp-5";
const WAIT: Duration = Duration::from_secs(30);

/// A span as the collector received it.
#[derive(Debug, Clone)]
struct Seen {
    service: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    hop: String,
    peer: String,
}

type Spans = Arc<Mutex<Vec<Seen>>>;
/// What the payer DFSP received: method, path, headers, body.
type Received = Arc<Mutex<Vec<(String, String, HashMap<String, String>, Value)>>>;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fake OTLP/HTTP collector: protobuf `ExportTraceServiceRequest`s on `/v1/traces`.
fn collector(spans: Spans) -> axum::Router {
    axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let spans = spans.clone();
            async move {
                let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                    return axum::http::StatusCode::BAD_REQUEST;
                };
                let string =
                    |value: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>| match value
                        .as_ref()
                        .and_then(|v| v.value.as_ref())
                    {
                        Some(any_value::Value::StringValue(s)) => s.clone(),
                        _ => String::new(),
                    };
                let mut seen = Vec::new();
                for resource in request.resource_spans {
                    let service = resource
                        .resource
                        .iter()
                        .flat_map(|r| r.attributes.iter())
                        .find(|a| a.key == "service.name")
                        .map(|a| string(&a.value))
                        .unwrap_or_default();
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            let attribute = |key: &str| {
                                span.attributes
                                    .iter()
                                    .find(|a| a.key == key)
                                    .map(|a| string(&a.value))
                                    .unwrap_or_default()
                            };
                            seen.push(Seen {
                                service: service.clone(),
                                trace_id: hex(&span.trace_id),
                                span_id: hex(&span.span_id),
                                parent_span_id: hex(&span.parent_span_id),
                                name: span.name.clone(),
                                hop: attribute("mojaloop.hop"),
                                peer: attribute("server.address"),
                            });
                        }
                    }
                }
                spans.lock().unwrap().extend(seen);
                axum::http::StatusCode::OK
            }
        }),
    )
}

/// The payer DFSP: records every request and answers 200.
fn payer_dfsp(received: Received) -> axum::Router {
    axum::Router::new().fallback(move |request: axum::extract::Request| {
        let received = received.clone();
        async move {
            let method = request.method().to_string();
            let path = request.uri().path().to_string();
            let headers = request
                .headers()
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect();
            let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            received.lock().unwrap().push((method, path, headers, body));
            axum::http::StatusCode::OK
        }
    })
}

/// A `traceparent` of the payer's trace with a new span of the payer's.
fn payer_traceparent(span: u8) -> String {
    format!("00-{TRACE_ID}-00000000000000{span:02x}-01")
}

fn fspiop_headers(
    resource: &str,
    traceparent: &str,
    destination: Option<&str>,
) -> Vec<(String, String)> {
    let mut headers = vec![
        (
            "content-type".to_string(),
            format!("application/vnd.interoperability.{resource}+json;version=1.1"),
        ),
        (
            "accept".to_string(),
            format!("application/vnd.interoperability.{resource}+json;version=1"),
        ),
        (
            "date".to_string(),
            fspiop::datetime::format_http_date(service_kit::edge::now_ms()),
        ),
        ("fspiop-source".to_string(), PAYER.to_string()),
        ("traceparent".to_string(), traceparent.to_string()),
        ("tracestate".to_string(), "payer=tracefsp".to_string()),
    ];
    if let Some(destination) = destination {
        headers.push(("fspiop-destination".to_string(), destination.to_string()));
    }
    headers
}

async fn send(
    method: reqwest::Method,
    url: &str,
    headers: Vec<(String, String)>,
    body: Option<&Value>,
) {
    let client = reqwest::Client::new();
    let mut request = client.request(method.clone(), url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    assert_eq!(
        response.status().as_u16(),
        202,
        "{method} {url}: {}",
        response.text().await.unwrap_or_default()
    );
}

/// Waits for the payer's callback on `path`.
async fn callback(received: &Received, path: &str) -> (HashMap<String, String>, Value) {
    let deadline = Instant::now() + WAIT;
    loop {
        let found = received
            .lock()
            .unwrap()
            .iter()
            .find(|(method, p, _, _)| method == "PUT" && p == path)
            .map(|(_, _, headers, body)| (headers.clone(), body.clone()));
        if let Some(found) = found {
            return found;
        }
        let seen: Vec<String> = received
            .lock()
            .unwrap()
            .iter()
            .map(|(m, p, _, b)| format!("{m} {p} {b}"))
            .collect();
        assert!(
            Instant::now() < deadline,
            "no PUT {path}; received {seen:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The callback's `traceparent`: the payer's trace, parented by a span of the hub.
fn traced(headers: &HashMap<String, String>, what: &str) -> TraceParent {
    let parent = headers
        .get("traceparent")
        .and_then(|v| TraceParent::parse(v))
        .unwrap_or_else(|| panic!("{what}: no valid traceparent in {headers:?}"));
    assert_eq!(parent.trace_id_hex(), TRACE_ID, "{what}");
    assert_eq!(
        headers.get("tracestate").map(String::as_str),
        Some("payer=tracefsp"),
        "{what}: tracestate carried through"
    );
    parent
}

#[test]
fn one_payment_is_one_trace_across_edges_bus_ledger_and_callbacks() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let spans: Spans = Arc::default();
    let received: Received = Arc::default();
    let collector_url = runtime.block_on(test_support::serve(collector(spans.clone())));
    let dfsp_url = runtime.block_on(test_support::serve(payer_dfsp(received.clone())));
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string());
    let run = common::start_at(
        true,
        PORT_OFFSET,
        &[],
        &database_url,
        &[
            ("MOJALOOP__TELEMETRY__OTLP_ENDPOINT", collector_url.as_str()),
            ("MOJALOOP__TELEMETRY__EXPORT_INTERVAL_MS", "200"),
        ],
    );
    let url = |base: u16| format!("http://127.0.0.1:{}", base + PORT_OFFSET);
    let payee_msisdn = dfsp_sim::layout::test_msisdn(5);

    let (transfer_id, callbacks) = runtime.block_on(async {
        let urls = dfsp_sim::provision::AdminUrls {
            ledger: url(3001),
            oracle: url(4003),
        };
        let plan = dfsp_sim::provision::DfspPlan::new(PAYER, "USD", "100000", Some("100000"), Vec::new());
        dfsp_sim::provision::provision(&urls, &dfsp_url, &[plan])
            .await
            .unwrap_or_else(|e| panic!("provisioning {PAYER}: {e}"));

        // Lookup (no FSPIOP-Destination: the ALS asks the oracle).
        send(
            reqwest::Method::GET,
            &format!("{}/parties/MSISDN/{payee_msisdn}", url(4002)),
            fspiop_headers("parties", &payer_traceparent(1), None),
            None,
        )
        .await;
        let (party_headers, party) =
            callback(&received, &format!("/{PAYER}/parties/MSISDN/{payee_msisdn}")).await;
        assert_eq!(party["party"]["partyIdInfo"]["fspId"], PAYEE, "{party}");

        // Quote.
        let quote_id = uuid::Uuid::new_v4().to_string();
        let quote_request = json!({
            "quoteId": quote_id,
            "transactionId": uuid::Uuid::new_v4().to_string(),
            "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19999999999", "fspId": PAYER}},
            "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": payee_msisdn, "fspId": PAYEE}},
            "amountType": "SEND",
            "amount": {"amount": "25", "currency": "USD"},
            "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"},
        });
        send(
            reqwest::Method::POST,
            &format!("{}/quotes", url(3002)),
            fspiop_headers("quotes", &payer_traceparent(2), Some(PAYEE)),
            Some(&quote_request),
        )
        .await;
        let (quote_headers, quote) =
            callback(&received, &format!("/{PAYER}/quotes/{quote_id}")).await;
        assert!(quote["condition"].is_string(), "{quote}");

        // Transfer.
        let transfer_id = uuid::Uuid::new_v4().to_string();
        let prepare = json!({
            "transferId": transfer_id,
            "payerFsp": PAYER,
            "payeeFsp": PAYEE,
            "amount": quote["transferAmount"],
            "ilpPacket": quote["ilpPacket"],
            "condition": quote["condition"],
            "expiration": quote["expiration"],
        });
        send(
            reqwest::Method::POST,
            &format!("{}/transfers", url(3000)),
            fspiop_headers("transfers", &payer_traceparent(3), Some(PAYEE)),
            Some(&prepare),
        )
        .await;
        let (transfer_headers, fulfilled) =
            callback(&received, &format!("/{PAYER}/transfers/{transfer_id}")).await;
        assert_eq!(fulfilled["transferState"], "COMMITTED", "{fulfilled}");
        (
            transfer_id,
            [
                ("PUT /parties", traced(&party_headers, "PUT /parties")),
                ("PUT /quotes", traced(&quote_headers, "PUT /quotes")),
                ("PUT /transfers", traced(&transfer_headers, "PUT /transfers")),
            ],
        )
    });

    // The spans arrive within a few export intervals.
    let deadline = Instant::now() + WAIT;
    let trace = loop {
        let trace: Vec<Seen> = spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == TRACE_ID)
            .cloned()
            .collect();
        let ids: Vec<&str> = trace.iter().map(|s| s.span_id.as_str()).collect();
        let complete = callbacks
            .iter()
            .all(|(_, p)| ids.contains(&p.parent_id_hex().as_str()))
            && trace.iter().filter(|s| s.hop == "ledger-batch").count() >= 2
            && trace.iter().filter(|s| s.hop == "edge").count() >= 6;
        if complete {
            break trace;
        }
        assert!(
            Instant::now() < deadline,
            "the payment's spans did not all arrive: {trace:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "transfer {transfer_id}: {} spans in trace {TRACE_ID}",
        trace.len()
    );
    for span in &trace {
        eprintln!(
            "  {:<12} {:<40} {} <- {} {}",
            span.hop, span.name, span.span_id, span.parent_span_id, span.peer
        );
    }
    assert!(trace.iter().all(|s| s.service == "mojaloop"), "{trace:#?}");
    let by_id: HashMap<&str, &Seen> = trace.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let parent_of = |span: &Seen| by_id.get(span.parent_span_id.as_str()).copied();
    let find = |what: &str, test: &dyn Fn(&Seen) -> bool| -> Seen {
        trace
            .iter()
            .find(|s| test(s))
            .cloned()
            .unwrap_or_else(|| panic!("no {what} span in {trace:#?}"))
    };

    // Every hop kind of the issue is in the one trace.
    for hop in ["edge", "bus", "ledger-batch", "forward", "callback"] {
        assert!(
            trace.iter().any(|s| s.hop == hop),
            "no {hop} hop in {trace:#?}"
        );
    }

    // Each request of the payer is an edge span whose parent is the payer's span.
    for (span, route) in [
        (1u8, "GET /parties"),
        (2, "POST /quotes"),
        (3, "POST /transfers"),
    ] {
        let edge = find(route, &|s| s.hop == "edge" && s.name.starts_with(route));
        assert_eq!(
            edge.parent_span_id,
            format!("00000000000000{span:02x}"),
            "{route}: {edge:?}"
        );
    }

    // The prepare: edge → ledger batch → bus (notification) → forward to the payee.
    let edge = find("POST /transfers edge", &|s| {
        s.hop == "edge" && s.name.starts_with("POST /transfers")
    });
    let prepare = find("prepare batch", &|s| {
        s.hop == "ledger-batch" && s.name == "prepare batch" && s.parent_span_id == edge.span_id
    });
    let bus = find("prepare notification", &|s| {
        s.hop == "bus" && s.parent_span_id == prepare.span_id
    });
    find("forward of the prepare", &|s| {
        s.hop == "forward"
            && s.name == "POST /transfers"
            && s.peer == PAYEE
            && s.parent_span_id == bus.span_id
    });

    // The payee answered in the same trace; its fulfil: edge → ledger batch → bus → callback
    // to the payer, whose traceparent names that callback span.
    let (_, transfer_callback) = &callbacks[2];
    let callback_span = by_id
        .get(transfer_callback.parent_id_hex().as_str())
        .copied()
        .unwrap_or_else(|| panic!("the payer's PUT /transfers parent is not a span"));
    assert_eq!(callback_span.hop, "callback");
    assert_eq!(callback_span.peer, PAYER);
    let bus = parent_of(callback_span).unwrap_or_else(|| panic!("{callback_span:?}"));
    assert_eq!(bus.hop, "bus", "{bus:?}");
    let fulfil = parent_of(bus).unwrap_or_else(|| panic!("{bus:?}"));
    assert_eq!(
        (fulfil.hop.as_str(), fulfil.name.as_str()),
        ("ledger-batch", "fulfil batch")
    );
    let payee_edge = parent_of(fulfil).unwrap_or_else(|| panic!("{fulfil:?}"));
    assert_eq!(payee_edge.hop, "edge");
    assert!(
        payee_edge.name.starts_with("PUT /transfers"),
        "{payee_edge:?}"
    );

    // The lookup's and the quote's callbacks too are the hub's callback spans of this trace.
    for (what, parent) in &callbacks[..2] {
        let span = by_id
            .get(parent.parent_id_hex().as_str())
            .copied()
            .unwrap_or_else(|| panic!("{what}: parent is not a span of the trace"));
        assert_eq!(span.hop, "callback", "{what}: {span:?}");
        assert_eq!(span.name, *what);
    }

    run.stop();
}
