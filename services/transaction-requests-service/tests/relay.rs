//! Integration tests of the Transaction Requests Service against a real MySQL, with DFSP test
//! servers: each test creates its own central ledger database (participants and endpoints
//! inserted by SQL) and its own transaction requests database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{json, Value};
use transaction_requests_service::Config;

const PAYER: &str = "payerfsp";
const PAYEE: &str = "payeefsp";
const STRANGER: &str = "otherfsp";
const WAIT_MAX: Duration = Duration::from_secs(20);

/// One request a DFSP server received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn error_code(&self) -> String {
        self.json()["errorInformation"]["errorCode"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A DFSP that records every request and answers 202 (200 to a PUT).
struct Dfsp {
    base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Dfsp {
    async fn start() -> Dfsp {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let sink = received.clone();
        let router = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let sink = sink.clone();
                async move {
                    sink.lock().unwrap().push(Received {
                        method: method.to_string(),
                        path: uri.path().to_string(),
                        query: uri.query().map(str::to_string),
                        headers,
                        body: body.to_vec(),
                    });
                    if method == Method::PUT {
                        StatusCode::OK
                    } else {
                        StatusCode::ACCEPTED
                    }
                }
            },
        );
        Dfsp {
            base: test_support::serve(router).await,
            received,
        }
    }

    fn matching(&self, method: &str, path: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .cloned()
            .collect()
    }

    /// Waits (bounded) for `count` requests `method path`.
    async fn wait_for_n(&self, method: &str, path: &str, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            let found = self.matching(method, path);
            if found.len() >= count {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{count} {method} {path} not received; got {:?}",
                self.received
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn wait_for(&self, method: &str, path: &str) -> Received {
        self.wait_for_n(method, path, 1).await.remove(0)
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

struct World {
    base: String,
    client: reqwest::Client,
    record: sqlx::MySqlPool,
    ledger: sqlx::MySqlPool,
    payer: Dfsp,
    payee: Dfsp,
    stranger: Dfsp,
    databases: Vec<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl World {
    async fn start() -> World {
        service_kit::telemetry::init_for_tests("warn,transaction_requests_service=debug");
        let server = test_support::database_server_url();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let ledger_db = format!("ttr_{}_cl", &id[..20]);
        let record_db = format!("ttr_{}_tr", &id[..20]);
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
        let payer = Dfsp::start().await;
        let payee = Dfsp::start().await;
        let stranger = Dfsp::start().await;
        for (name, dfsp) in [(PAYER, &payer), (PAYEE, &payee), (STRANGER, &stranger)] {
            add_participant(&ledger, name, true, Some(&dfsp.base)).await;
        }
        let mut config = Config::defaults().unwrap();
        config.central_ledger_database.url = server.clone();
        config.central_ledger_database.name = ledger_db.clone();
        config.transaction_requests_database.url = server.clone();
        config.transaction_requests_database.name = record_db.clone();
        config.http_client.request_timeout_ms = 5000;
        let stores = transaction_requests_service::connect(&config, true, true)
            .await
            .unwrap();
        let record = stores.transaction_requests.clone();
        let (listener, base) = test_support::listener().await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            transaction_requests_service::run(config, stores, listener, shutdown)
                .await
                .unwrap();
        });
        let client = reqwest::Client::new();
        test_support::wait_healthy(&client, &base, WAIT_MAX).await;
        World {
            base,
            client,
            record,
            ledger,
            payer,
            payee,
            stranger,
            databases: vec![ledger_db, record_db],
            stop: Some(stop),
        }
    }

    /// Sends an FSPIOP message; the HTTP status and body.
    async fn send(
        &self,
        method: &str,
        path: &str,
        source: &str,
        destination: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let resource = path
            .trim_start_matches('/')
            .split(['/', '?'])
            .next()
            .unwrap();
        let mut headers = vec![
            (
                "content-type".to_string(),
                format!("application/vnd.interoperability.{resource}+json;version=1.1"),
            ),
            (
                "date".to_string(),
                "Mon, 07 Dec 2026 10:00:00 GMT".to_string(),
            ),
            ("fspiop-source".to_string(), source.to_string()),
            ("fspiop-destination".to_string(), destination.to_string()),
        ];
        if method != "PUT" {
            headers.push((
                "accept".to_string(),
                format!("application/vnd.interoperability.{resource}+json;version=1"),
            ));
        }
        self.send_raw(method, path, &headers, body.map(Value::to_string))
            .await
    }

    async fn send_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Option<String>,
    ) -> (u16, Value) {
        let mut request = self.client.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.base),
        );
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn recorded(
        &self,
        id: &str,
    ) -> Option<(
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    )> {
        sqlx::query_as(
            "SELECT payeeFsp, payerFsp, state, transactionId, authorizationResponse
             FROM transactionRequest WHERE transactionRequestId = ?",
        )
        .bind(id)
        .fetch_optional(&self.record)
        .await
        .unwrap()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for database in &self.databases {
            test_support::drop_database(database).await;
        }
    }
}

/// A participant with a USD account pair and, when given, both endpoints of this service.
async fn add_participant(pool: &sqlx::MySqlPool, name: &str, active: bool, base: Option<&str>) {
    let id =
        sqlx::query("INSERT INTO participant (name, isActive, createdBy) VALUES (?, ?, 'test')")
            .bind(name)
            .bind(active)
            .execute(pool)
            .await
            .unwrap()
            .last_insert_id();
    for account_type in [1u32, 2] {
        sqlx::query(
            "INSERT INTO participantCurrency (participantId, currencyId, ledgerAccountTypeId, isActive, createdBy) \
             VALUES (?, 'USD', ?, 1, 'test')",
        )
        .bind(id)
        .bind(account_type)
        .execute(pool)
        .await
        .unwrap();
    }
    if let Some(base) = base {
        sqlx::query(
            "INSERT INTO participantEndpoint (participantId, endpointTypeId, value, isActive, createdBy) \
             SELECT ?, endpointTypeId, ?, 1, 'test' FROM endpointType \
             WHERE name IN ('FSPIOP_CALLBACK_URL_TRX_REQ_SERVICE', 'FSPIOP_CALLBACK_URL_AUTHORIZATIONS')",
        )
        .bind(id)
        .bind(base)
        .execute(pool)
        .await
        .unwrap();
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn request_body(id: &str, amount: &str) -> Value {
    json!({
        "transactionRequestId": id,
        "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19012345001", "fspId": PAYEE}},
        "payer": {"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": PAYER},
        "amount": {"amount": amount, "currency": "USD"},
        "transactionType": {"scenario": "PAYMENT", "initiator": "PAYEE", "initiatorType": "BUSINESS"},
        "authenticationType": "OTP",
        "note": "coffee"
    })
}

#[tokio::test]
async fn a_request_is_relayed_answered_and_authorized() {
    let world = World::start().await;
    let id = new_id();
    let request = request_body(&id, "100.25");
    let (status, _) = world
        .send("POST", "/transactionRequests", PAYEE, PAYER, Some(&request))
        .await;
    assert_eq!(status, 202);
    let forwarded = world.payer.wait_for("POST", "/transactionRequests").await;
    assert_eq!(forwarded.json(), request, "the body travels as sent");
    assert_eq!(forwarded.header("fspiop-source"), PAYEE);
    assert_eq!(forwarded.header("fspiop-destination"), PAYER);
    assert_eq!(
        world.recorded(&id).await,
        Some((PAYEE.into(), PAYER.into(), None, None, None))
    );

    // The payer's DFSP has it: RECEIVED, with the transaction it opens.
    let transaction_id = new_id();
    let answer = json!({"transactionId": transaction_id, "transactionRequestState": "RECEIVED"});
    let path = format!("/transactionRequests/{id}");
    let (status, _) = world.send("PUT", &path, PAYER, PAYEE, Some(&answer)).await;
    assert_eq!(status, 200);
    assert_eq!(world.payee.wait_for("PUT", &path).await.json(), answer);

    // The payer's DFSP asks the payee's device for the OTP; the payee answers.
    let auth_path = format!("/authorizations/{id}");
    let query = "authenticationType=OTP&retriesLeft=2&amount=100.25&currency=USD";
    let (status, _) = world
        .send("GET", &format!("{auth_path}?{query}"), PAYER, PAYEE, None)
        .await;
    assert_eq!(status, 202);
    let asked = world.payee.wait_for("GET", &auth_path).await;
    assert_eq!(asked.query.as_deref(), Some(query));
    let entered = json!({
        "authenticationInfo": {"authentication": "OTP", "authenticationValue": "123456"},
        "responseType": "ENTERED"
    });
    let (status, _) = world
        .send("PUT", &auth_path, PAYEE, PAYER, Some(&entered))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        world.payer.wait_for("PUT", &auth_path).await.json(),
        entered
    );

    // Accepted in the end; the record holds the latest answers.
    let accepted = json!({"transactionId": transaction_id, "transactionRequestState": "ACCEPTED"});
    world
        .send("PUT", &path, PAYER, PAYEE, Some(&accepted))
        .await;
    world.payee.wait_for_n("PUT", &path, 2).await;
    assert_eq!(
        world.recorded(&id).await,
        Some((
            PAYEE.into(),
            PAYER.into(),
            Some("ACCEPTED".into()),
            Some(transaction_id),
            Some("ENTERED".into())
        ))
    );
    // A GET goes to the side it names.
    let (status, _) = world.send("GET", &path, PAYEE, PAYER, None).await;
    assert_eq!(status, 202);
    world.payer.wait_for("GET", &path).await;
    world.stop().await;
}

#[tokio::test]
async fn a_rejection_reaches_the_payee() {
    let world = World::start().await;
    let id = new_id();
    world
        .send(
            "POST",
            "/transactionRequests",
            PAYEE,
            PAYER,
            Some(&request_body(&id, "5")),
        )
        .await;
    world.payer.wait_for("POST", "/transactionRequests").await;
    let path = format!("/transactionRequests/{id}");
    let rejected = json!({"transactionRequestState": "REJECTED"});
    world
        .send("PUT", &path, PAYER, PAYEE, Some(&rejected))
        .await;
    assert_eq!(
        world.payee.wait_for("PUT", &path).await.json()["transactionRequestState"],
        "REJECTED"
    );
    // The payer's error reaches the payee too.
    let error_path = format!("/transactionRequests/{id}/error");
    let error =
        json!({"errorInformation": {"errorCode": "4101", "errorDescription": "Payer rejected"}});
    let (status, _) = world
        .send("PUT", &error_path, PAYER, PAYEE, Some(&error))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        world.payee.wait_for("PUT", &error_path).await.error_code(),
        "4101"
    );
    let state: (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT state, errorCode FROM transactionRequest WHERE transactionRequestId = ?",
    )
    .bind(&id)
    .fetch_one(&world.record)
    .await
    .unwrap();
    assert_eq!(state, (Some("REJECTED".into()), Some("4101".into())));
    world.stop().await;
}

#[tokio::test]
async fn an_unknown_payer_dfsp_is_refused_3201() {
    let world = World::start().await;
    let id = new_id();
    let (status, _) = world
        .send(
            "POST",
            "/transactionRequests",
            PAYEE,
            "nosuchfsp",
            Some(&request_body(&id, "5")),
        )
        .await;
    assert_eq!(
        status, 202,
        "the destination is judged after the 202, as Mojaloop does"
    );
    let error = world
        .payee
        .wait_for("PUT", &format!("/transactionRequests/{id}/error"))
        .await;
    assert_eq!(error.error_code(), "3201");
    assert_eq!(error.header("fspiop-source"), "Hub");
    assert_eq!(error.header("fspiop-destination"), PAYEE);
    assert_eq!(world.recorded(&id).await, None, "nothing recorded");

    // A payer without the endpoint: 3201 as well; an inactive one too.
    add_participant(&world.ledger, "noendpoint", true, None).await;
    add_participant(&world.ledger, "inactive", false, Some(&world.stranger.base)).await;
    for payer in ["noendpoint", "inactive"] {
        let id = new_id();
        world
            .send(
                "POST",
                "/transactionRequests",
                PAYEE,
                payer,
                Some(&request_body(&id, "5")),
            )
            .await;
        let error = world
            .payee
            .wait_for("PUT", &format!("/transactionRequests/{id}/error"))
            .await;
        assert_eq!(error.error_code(), "3201", "{payer}");
    }
    assert_eq!(world.payer.count() + world.stranger.count(), 0);
    world.stop().await;
}

#[tokio::test]
async fn bad_headers_query_and_bodies_are_refused_at_once() {
    let world = World::start().await;
    let id = new_id();
    let body = request_body(&id, "5");
    let headers = |drop: &str, content_type: &str| -> Vec<(String, String)> {
        [
            ("content-type", content_type),
            (
                "accept",
                "application/vnd.interoperability.transactionRequests+json;version=1",
            ),
            ("date", "Mon, 07 Dec 2026 10:00:00 GMT"),
            ("fspiop-source", PAYEE),
            ("fspiop-destination", PAYER),
        ]
        .into_iter()
        .filter(|(name, _)| *name != drop)
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
    };
    let good_type = "application/vnd.interoperability.transactionRequests+json;version=1.1";
    let cases = [
        (headers("fspiop-destination", good_type), "3102"),
        (headers("fspiop-source", good_type), "3102"),
        (headers("date", good_type), "3102"),
        (headers("", "application/json"), "3101"),
        (
            headers(
                "",
                "application/vnd.interoperability.transactionRequests+json;version=9.0",
            ),
            "3001",
        ),
    ];
    for (headers, code) in cases {
        let (status, answer) = world
            .send_raw(
                "POST",
                "/transactionRequests",
                &headers,
                Some(body.to_string()),
            )
            .await;
        assert_eq!(
            answer["errorInformation"]["errorCode"], code,
            "{headers:?} → {status} {answer}"
        );
        assert!(status == 400 || status == 406, "{status}");
    }
    let mut missing_payer = request_body(&id, "5");
    missing_payer.as_object_mut().unwrap().remove("payer");
    let mut bad_scenario = request_body(&id, "5");
    bad_scenario["transactionType"]["scenario"] = json!("GIFT");
    let mut bad_auth = request_body(&id, "5");
    bad_auth["authenticationType"] = json!("PIN");
    for (body, code) in [
        (missing_payer, "3102"),
        (request_body(&id, "-5"), "3100"),
        (request_body(&id, "5.001"), "3100"),
        (bad_scenario, "3100"),
        (bad_auth, "3100"),
        (request_body("not-an-id", "5"), "3100"),
    ] {
        let (status, answer) = world
            .send("POST", "/transactionRequests", PAYEE, PAYER, Some(&body))
            .await;
        assert_eq!(
            (status, answer["errorInformation"]["errorCode"].clone()),
            (400, json!(code)),
            "{body}"
        );
    }
    let (status, answer) = world
        .send_raw(
            "POST",
            "/transactionRequests",
            &headers("", good_type),
            Some("{not json".into()),
        )
        .await;
    assert_eq!(
        (status, answer["errorInformation"]["errorCode"].clone()),
        (400, json!("3101"))
    );

    // PUT bodies and the authorization query.
    let path = format!("/transactionRequests/{id}");
    let (status, answer) = world
        .send(
            "PUT",
            &path,
            PAYER,
            PAYEE,
            Some(&json!({"transactionRequestState": "MAYBE"})),
        )
        .await;
    assert_eq!(
        (status, answer["errorInformation"]["errorCode"].clone()),
        (400, json!("3100"))
    );
    let (_, answer) = world
        .send(
            "PUT",
            &format!("/authorizations/{id}"),
            PAYEE,
            PAYER,
            Some(&json!({})),
        )
        .await;
    assert_eq!(answer["errorInformation"]["errorCode"], "3102");
    let (status, answer) = world
        .send(
            "GET",
            &format!("/authorizations/{id}?authenticationType=OTP"),
            PAYER,
            PAYEE,
            None,
        )
        .await;
    assert_eq!(
        (status, answer["errorInformation"]["errorCode"].clone()),
        (400, json!("3102"))
    );
    let (_, answer) = world
        .send("GET", "/transactionRequests/not-an-id", PAYER, PAYEE, None)
        .await;
    assert_eq!(answer["errorInformation"]["errorCode"], "3100");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        world.payer.count() + world.payee.count(),
        0,
        "nothing relayed"
    );
    world.stop().await;
}

#[tokio::test]
async fn resends_are_relayed_again_and_changed_resends_refused() {
    let world = World::start().await;
    let id = new_id();
    let request = request_body(&id, "7");
    for _ in 0..2 {
        let (status, _) = world
            .send("POST", "/transactionRequests", PAYEE, PAYER, Some(&request))
            .await;
        assert_eq!(status, 202);
    }
    world
        .payer
        .wait_for_n("POST", "/transactionRequests", 2)
        .await;
    let changed = request_body(&id, "8");
    world
        .send("POST", "/transactionRequests", PAYEE, PAYER, Some(&changed))
        .await;
    let error = world
        .payee
        .wait_for("PUT", &format!("/transactionRequests/{id}/error"))
        .await;
    assert_eq!(error.error_code(), "3106");
    assert_eq!(
        world.payer.matching("POST", "/transactionRequests").len(),
        2,
        "the changed request is not relayed"
    );
    let amount: String =
        sqlx::query_scalar("SELECT amount FROM transactionRequest WHERE transactionRequestId = ?")
            .bind(&id)
            .fetch_one(&world.record)
            .await
            .unwrap();
    assert_eq!(amount, "7", "the first request stays on record");
    world.stop().await;
}

#[tokio::test]
async fn only_the_requests_parties_may_answer_it() {
    let world = World::start().await;
    let id = new_id();
    world
        .send(
            "POST",
            "/transactionRequests",
            PAYEE,
            PAYER,
            Some(&request_body(&id, "5")),
        )
        .await;
    world.payer.wait_for("POST", "/transactionRequests").await;
    let path = format!("/transactionRequests/{id}");
    // A third DFSP answering for the payer.
    world
        .send(
            "PUT",
            &path,
            STRANGER,
            PAYEE,
            Some(&json!({"transactionRequestState": "ACCEPTED"})),
        )
        .await;
    let error = world
        .stranger
        .wait_for("PUT", &format!("{path}/error"))
        .await;
    assert_eq!(error.error_code(), "3100");
    // The payee answering its own request, and sending an authorization the payer must ask for.
    world
        .send(
            "PUT",
            &path,
            PAYEE,
            PAYER,
            Some(&json!({"transactionRequestState": "ACCEPTED"})),
        )
        .await;
    world.payee.wait_for("PUT", &format!("{path}/error")).await;
    let auth = format!("/authorizations/{id}");
    world
        .send(
            "GET",
            &format!("{auth}?authenticationType=OTP&retriesLeft=1&amount=5&currency=USD"),
            PAYEE,
            PAYER,
            None,
        )
        .await;
    let error = world.payee.wait_for("PUT", &format!("{auth}/error")).await;
    assert_eq!(error.error_code(), "3100");
    assert!(world.payee.matching("PUT", &path).is_empty());
    assert!(world.payer.matching("GET", &auth).is_empty());
    assert_eq!(
        world.recorded(&id).await.unwrap().2,
        None,
        "no state recorded"
    );
    world.stop().await;
}

#[tokio::test]
async fn an_expired_request_is_refused_3301() {
    let world = World::start().await;
    let id = new_id();
    let mut request = request_body(&id, "5");
    request["expiration"] = json!("2020-01-01T00:00:00.000Z");
    world
        .send("POST", "/transactionRequests", PAYEE, PAYER, Some(&request))
        .await;
    let error = world
        .payee
        .wait_for("PUT", &format!("/transactionRequests/{id}/error"))
        .await;
    assert_eq!(error.error_code(), "3301");
    assert_eq!(world.payer.count(), 0);
    world.stop().await;
}
