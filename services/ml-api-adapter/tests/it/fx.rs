//! FSPIOP 2.0 `/fxTransfers` at the ML API Adapter: each route's message on its topic (read
//! back from the broker), its header, body and id errors, `PATCH` → 501; and the notification
//! handler's fx callbacks to DFSP servers (method, path, headers, exact bodies), signed by the
//! hub when JWS is on.

use std::collections::BTreeMap;

use fspiop::envelope::{data_uri, EventState, Message};
use fspiop::jws::{self, VerifyOptions};
use serde_json::{json, Value};

use crate::helpers::{
    completed_timestamp, fspiop_headers, fx_headers, fx_transfer_body, http_date, new_id,
    spawn_app, transfer_body, with_header, Dfsp, Options, Recorded, TestApp, TestDb,
    FX_TRANSFERS_ACCEPT_V2, FX_TRANSFERS_V20, TRANSFERS_V11,
};
use crate::jws::{keys, public_keys, signing_key};
use crate::notification::{assert_headers, notification, only};

const FULFILMENT: &str = "UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA";
const PAYER_SIGNATURE: &str =
    r#"{"signature":"payer-sig","protectedHeader":"eyJhbGciOiJSUzI1NiJ9"}"#;
const FXP_SIGNATURE: &str = r#"{"signature":"fxp-sig","protectedHeader":"eyJhbGciOiJSUzI1NiJ9"}"#;

async fn app() -> TestApp {
    spawn_app(Options::default()).await
}

fn header_of<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn post_fx_transfer_puts_the_exact_bytes_on_the_prepare_topic_keyed_by_the_initiator() {
    let app = app().await;
    let id = new_id();
    let determining = new_id();
    // Odd spacing and member order: the envelope must carry these bytes.
    let body = format!(
        "{{ \"counterPartyFsp\":\"fxp\",  \"commitRequestId\" : \"{id}\", \"determiningTransferId\":\"{determining}\",\"initiatingFsp\":\"payerfsp\",\n\"sourceAmount\":{{\"currency\":\"BWP\",\"amount\":\"300\"}},\"targetAmount\":{{\"amount\":\"48000\",\"currency\":\"TZS\"}},\"condition\":\"f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA\",\"expiration\":\"2030-01-01T00:00:00.000Z\"}}"
    );
    let headers = with_header(
        fx_headers("POST", "payerfsp", Some("fxp")),
        "x-custom-header",
        Some("kept"),
    );
    app.send("POST", "/fxTransfers", &headers, Some(body.as_bytes()))
        .await
        .empty(202);
    // The same DFSP's transfer prepare, for the key comparison.
    let transfer_id = new_id();
    app.send_json(
        "POST",
        "/transfers",
        &fspiop_headers("POST", "payerfsp", Some("payeefsp")),
        &transfer_body(&transfer_id, "payerfsp", "payeefsp"),
    )
    .await
    .empty(202);

    let mut reader = app.reader(bus::TOPIC_TRANSFER_PREPARE);
    let read = reader.find(&id).await;
    let transfer = reader.find(&transfer_id).await;
    assert_eq!(read.key.as_deref(), Some("payerfsp"));
    assert_eq!(
        read.key, transfer.key,
        "an fx prepare shares its initiator's transfer prepares' key (and partition)"
    );
    let m = &read.message;
    assert_eq!(
        (m.from.as_str(), m.to.as_str(), m.kind.as_str()),
        ("payerfsp", "fxp", "application/json")
    );
    let uri = data_uri(FX_TRANSFERS_V20, body.as_bytes());
    assert_eq!(m.content.payload, Value::String(uri.clone()));
    assert_eq!(
        read.raw["content"]["context"]["originalRequestPayload"],
        uri.as_str()
    );
    assert!(read.raw["content"]["context"]["originalRequestId"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(
        m.content.uri_params.as_ref().map(|p| p.id.as_str()),
        Some(id.as_str())
    );
    assert_eq!(
        m.content.headers.get("content-type").map(String::as_str),
        Some(FX_TRANSFERS_V20)
    );
    assert_eq!(
        m.content.headers.get("accept").map(String::as_str),
        Some(FX_TRANSFERS_ACCEPT_V2)
    );
    assert_eq!(
        m.content.headers.get("x-custom-header").map(String::as_str),
        Some("kept")
    );
    assert_eq!(m.metadata.correlation_id, id);
    assert_eq!(
        (
            m.metadata.event.kind.as_str(),
            m.metadata.event.action.as_str()
        ),
        ("prepare", "fx-prepare")
    );
    assert_eq!(
        read.raw["metadata"]["event"]["state"],
        json!({"status": "success", "code": 0, "description": "action successful"})
    );
    assert_eq!(transfer.message.metadata.event.action, "prepare");
    app.stop().await;
}

#[tokio::test]
async fn put_error_and_get_fx_transfer_produce_their_fx_actions() {
    let app = app().await;
    let mut reader = app.reader(bus::TOPIC_TRANSFER_FULFIL);
    let headers = fx_headers("PUT", "fxp", Some("payerfsp"));
    for (state, action) in [
        ("COMMITTED", "fx-commit"),
        ("RECEIVED", "fx-commit"),
        ("RESERVED", "fx-reserve"),
        ("ABORTED", "fx-reject"),
    ] {
        let id = new_id();
        let body = if state == "ABORTED" {
            format!(
                r#"{{"conversionState":"{state}", "completedTimestamp":"{}"}}"#,
                completed_timestamp(-1000)
            )
        } else {
            format!(
                r#"{{"conversionState":"{state}","fulfilment":"{FULFILMENT}", "completedTimestamp":"{}"}}"#,
                completed_timestamp(-1000)
            )
        };
        app.send(
            "PUT",
            &format!("/fxTransfers/{id}"),
            &headers,
            Some(body.as_bytes()),
        )
        .await
        .empty(200);
        let read = reader.find(&id).await;
        assert_eq!(read.key.as_deref(), Some(id.as_str()), "{state}");
        let m = &read.message;
        assert_eq!(
            (
                m.metadata.event.kind.as_str(),
                m.metadata.event.action.as_str()
            ),
            ("fulfil", action),
            "{state}"
        );
        assert_eq!((m.from.as_str(), m.to.as_str()), ("fxp", "payerfsp"));
        assert_eq!(
            m.content.uri_params.as_ref().map(|p| p.id.as_str()),
            Some(id.as_str())
        );
        assert_eq!(
            m.content.payload,
            Value::String(data_uri(FX_TRANSFERS_V20, body.as_bytes()))
        );
        assert_eq!(
            read.raw["content"]["context"]["originalRequestPayload"],
            read.raw["content"]["payload"]
        );
    }

    // The error callback: fx-abort on the same topic, keyed by the id.
    let id = new_id();
    let body = br#"{"errorInformation":{"errorCode":"5100","errorDescription":"FXP rejected"}}"#;
    app.send(
        "PUT",
        &format!("/fxTransfers/{id}/error"),
        &headers,
        Some(body),
    )
    .await
    .empty(200);
    let read = reader.find(&id).await;
    assert_eq!(read.key.as_deref(), Some(id.as_str()));
    let m = &read.message;
    assert_eq!(
        (
            m.metadata.event.kind.as_str(),
            m.metadata.event.action.as_str(),
            m.from.as_str(),
            m.to.as_str()
        ),
        ("fulfil", "fx-abort", "fxp", "payerfsp")
    );
    assert_eq!(
        m.content.payload,
        Value::String(data_uri(FX_TRANSFERS_V20, body))
    );

    // GET: fx-get on the get topic, empty payload, no context.
    let id = new_id();
    app.send(
        "GET",
        &format!("/fxTransfers/{id}"),
        &fx_headers("GET", "payerfsp", None),
        None,
    )
    .await
    .empty(202);
    let read = app.reader(bus::TOPIC_TRANSFER_GET).find(&id).await;
    assert_eq!(read.key.as_deref(), Some(id.as_str()));
    let m = &read.message;
    assert_eq!(
        (
            m.metadata.event.kind.as_str(),
            m.metadata.event.action.as_str(),
            m.from.as_str(),
            m.to.as_str()
        ),
        ("get", "fx-get", "payerfsp", "")
    );
    assert_eq!(m.content.payload, json!({}));
    assert!(read.raw["content"].get("context").is_none());
    app.stop().await;
}

#[tokio::test]
async fn fx_header_errors() {
    let app = app().await;
    let id = new_id();
    let body = serde_json::to_vec(&fx_transfer_body(&id, "payerfsp", "fxp")).unwrap();
    let post = fx_headers("POST", "payerfsp", Some("fxp"));

    // The transfers media types are not the fxTransfers ones: malformed.
    let transfers = fspiop_headers("POST", "payerfsp", Some("fxp"));
    assert_eq!(
        app.send("POST", "/fxTransfers", &transfers, Some(&body))
            .await
            .error(400, "3101"),
        "Malformed syntax - Invalid accept header"
    );
    let transfers_content = with_header(post.clone(), "content-type", Some(TRANSFERS_V11));
    assert_eq!(
        app.send("POST", "/fxTransfers", &transfers_content, Some(&body))
            .await
            .error(400, "3101"),
        "Malformed syntax - Invalid content-type header"
    );
    let cases: Vec<(&str, Option<&str>, &str, &str)> = vec![
        (
            "accept",
            None,
            "3102",
            "Missing mandatory element - accept is required",
        ),
        (
            "date",
            None,
            "3102",
            "Missing mandatory element - Missing required date header",
        ),
        (
            "content-type",
            None,
            "3102",
            "Missing mandatory element - Content-type is required",
        ),
        (
            "fspiop-source",
            None,
            "3102",
            "Missing mandatory element - Missing required fspiop-source header",
        ),
        (
            "fspiop-destination",
            Some(""),
            "3101",
            "Malformed syntax - Invalid fspiop-destination header",
        ),
    ];
    for (name, value, code, description) in cases {
        let headers = with_header(post.clone(), name, value);
        let answer = app
            .send("POST", "/fxTransfers", &headers, Some(&body))
            .await;
        assert_eq!(answer.error(400, code), description, "{name}={value:?}");
    }

    // fxTransfers exist in FSPIOP 2.x only: another version is 406 / 3001 listing the 2.x.
    for (name, value) in [
        (
            "content-type",
            "application/vnd.interoperability.fxTransfers+json;version=1.1",
        ),
        (
            "accept",
            "application/vnd.interoperability.fxTransfers+json;version=1",
        ),
    ] {
        let headers = with_header(post.clone(), name, Some(value));
        let answer = app
            .send("POST", "/fxTransfers", &headers, Some(&body))
            .await;
        answer.error(406, "3001");
        assert_eq!(
            answer.body["errorInformation"]["extensionList"]["extension"],
            json!([{"key": "2", "value": "0"}]),
            "{value}"
        );
    }

    // PUT and GET check the fxTransfers headers too; PUT needs no Accept.
    let put = fx_headers("PUT", "fxp", Some("payerfsp"));
    let put_body = format!(
        r#"{{"conversionState":"RESERVED","fulfilment":"{FULFILMENT}","completedTimestamp":"{}"}}"#,
        completed_timestamp(0)
    );
    let path = format!("/fxTransfers/{id}");
    app.send(
        "PUT",
        &path,
        &with_header(put.clone(), "content-type", Some(TRANSFERS_V11)),
        Some(put_body.as_bytes()),
    )
    .await
    .error(400, "3101");
    app.send(
        "PUT",
        &format!("{path}/error"),
        &with_header(put.clone(), "content-type", Some(TRANSFERS_V11)),
        Some(br#"{"errorInformation":{"errorCode":"5100","errorDescription":"x"}}"#),
    )
    .await
    .error(400, "3101");
    let get = fx_headers("GET", "payerfsp", None);
    app.send(
        "GET",
        &path,
        &with_header(get.clone(), "accept", None),
        None,
    )
    .await
    .error(400, "3102");
    app.send(
        "GET",
        &path,
        &with_header(get, "content-type", Some(TRANSFERS_V11)),
        None,
    )
    .await
    .error(400, "3101");
    // And the fxTransfers types are no transfers ones.
    app.send_json(
        "POST",
        "/transfers",
        &with_header(
            fspiop_headers("POST", "payerfsp", Some("payeefsp")),
            "content-type",
            Some(FX_TRANSFERS_V20),
        ),
        &transfer_body(&new_id(), "payerfsp", "payeefsp"),
    )
    .await
    .error(400, "3101");

    app.send("PUT", &path, &put, Some(put_body.as_bytes()))
        .await
        .empty(200);
    app.send("POST", "/fxTransfers", &post, Some(&body))
        .await
        .empty(202);
    app.stop().await;
}

#[tokio::test]
async fn fx_body_and_id_errors() {
    let app = app().await;
    let post = fx_headers("POST", "payerfsp", Some("fxp"));
    let id = new_id();
    let body = |change: &dyn Fn(&mut Value)| {
        let mut body = fx_transfer_body(&id, "payerfsp", "fxp");
        change(&mut body);
        body
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            body(&|b| {
                b.as_object_mut().map(|o| o.remove("counterPartyFsp"));
            }),
            "3102",
            "Missing mandatory element - body must have required property 'counterPartyFsp'",
        ),
        (
            body(&|b| b["sourceAmount"]["amount"] = json!(300)),
            "3101",
            "Malformed syntax - /sourceAmount/amount must be string, not number",
        ),
        (
            body(&|b| b["targetAmount"]["amount"] = json!("1.12345")),
            "3100",
            "Generic validation error - /targetAmount/amount must be an Amount",
        ),
        (
            body(&|b| b["commitRequestId"] = json!("not-a-uuid")),
            "3100",
            "Generic validation error - /commitRequestId must be a UUID (lower case) or ULID",
        ),
        (
            body(&|b| b["condition"] = json!("short")),
            "3100",
            "Generic validation error - /condition",
        ),
        // What the API leaves optional but a conversion needs.
        (
            body(&|b| {
                b.as_object_mut().map(|o| o.remove("expiration"));
            }),
            "3102",
            "Missing mandatory element - body must have required property 'expiration'",
        ),
        (
            body(&|b| {
                b.as_object_mut().map(|o| o.remove("determiningTransferId"));
            }),
            "3102",
            "Missing mandatory element - body must have required property 'determiningTransferId'",
        ),
        (
            body(&|b| b["targetAmount"]["currency"] = json!("BWP")),
            "3100",
            "Generic validation error - sourceAmount and targetAmount must be in different currencies",
        ),
    ];
    for (body, code, description) in cases {
        let got = app
            .send_json("POST", "/fxTransfers", &post, &body)
            .await
            .error(400, code);
        assert!(got.starts_with(description), "{got} / {description}");
    }
    let got = app
        .send("POST", "/fxTransfers", &post, Some(b"{not json"))
        .await
        .error(400, "3101");
    assert!(
        got.starts_with("Malformed syntax - body is not valid JSON"),
        "{got}"
    );

    let put = fx_headers("PUT", "fxp", Some("payerfsp"));
    let path = format!("/fxTransfers/{id}");
    assert_eq!(
        app.send_json("PUT", &path, &put, &json!({"fulfilment": FULFILMENT}))
            .await
            .error(400, "3102"),
        "Missing mandatory element - body must have required property 'conversionState'"
    );
    app.send_json(
        "PUT",
        &path,
        &put,
        &json!({"conversionState": "DONE", "fulfilment": FULFILMENT}),
    )
    .await
    .error(400, "3100");
    app.send_json(
        "PUT",
        &path,
        &put,
        &json!({"conversionState": "RESERVED", "fulfilment": "short"}),
    )
    .await
    .error(400, "3100");
    assert_eq!(
        app.send_json("PUT", &path, &put, &json!({"conversionState": "RESERVED"}))
            .await
            .error(400, "3102"),
        "Missing mandatory element - body must have required property 'fulfilment' unless conversionState is ABORTED"
    );
    let error_path = format!("{path}/error");
    app.send_json(
        "PUT",
        &error_path,
        &put,
        &json!({"errorInformation": {"errorDescription": "x"}}),
    )
    .await
    .error(400, "3102");
    app.send_json(
        "PUT",
        &error_path,
        &put,
        &json!({"errorInformation": {"errorCode": "51", "errorDescription": "x"}}),
    )
    .await
    .error(400, "3100");

    // The completedTimestamp window, as on PUT /transfers/{ID}; not through a proxy.
    let timed = |offset_ms: i64| json!({"conversionState": "RESERVED", "fulfilment": FULFILMENT, "completedTimestamp": completed_timestamp(offset_ms)});
    assert_eq!(
        app.send_json("PUT", &path, &put, &timed(10_000))
            .await
            .error(400, "3100"),
        "Generic validation error - completedTimestamp fails because future timestamp was provided"
    );
    assert_eq!(
        app.send_json("PUT", &path, &put, &timed(-301_000)).await.error(400, "3100"),
        "Generic validation error - completedTimestamp fails because provided timestamp exceeded the maximum timeout duration"
    );
    let proxied = with_header(put.clone(), "fspiop-proxy", Some("proxy-a"));
    app.send_json("PUT", &path, &proxied, &timed(-3_600_000))
        .await
        .empty(200);

    // The path id is a UUID or ULID: 3101.
    let good_put = json!({"conversionState": "ABORTED"});
    assert_eq!(
        app.send_json("PUT", "/fxTransfers/abc", &put, &good_put)
            .await
            .error(400, "3101"),
        "Malformed syntax - ID \"abc\" is not a UUID or ULID"
    );
    let error = json!({"errorInformation": {"errorCode": "5100", "errorDescription": "x"}});
    app.send_json("PUT", "/fxTransfers/abc/error", &put, &error)
        .await
        .error(400, "3101");
    app.send(
        "GET",
        "/fxTransfers/ABC",
        &fx_headers("GET", "payerfsp", None),
        None,
    )
    .await
    .error(400, "3101");
    app.send_json(
        "PUT",
        "/fxTransfers/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        &put,
        &good_put,
    )
    .await
    .empty(200);
    app.stop().await;

    // Extra members: accepted by default (above), 3103 under the strict option.
    let strict = spawn_app(Options {
        reject_additional_properties: true,
        ..Options::default()
    })
    .await;
    let mut extra = fx_transfer_body(&new_id(), "payerfsp", "fxp");
    extra["amountType"] = json!("SEND");
    strict
        .send_json("POST", "/fxTransfers", &post, &extra)
        .await
        .error(400, "3103");
    strict.stop().await;
}

#[tokio::test]
async fn patch_fx_transfer_is_501_and_the_fx_routes_are_listed_and_measured() {
    let app = app().await;
    let id = new_id();
    let path = format!("/fxTransfers/{id}");
    let patch = fx_headers("PATCH", "fxp", Some("payerfsp"));
    let body =
        json!({"conversionState": "COMMITTED", "completedTimestamp": completed_timestamp(0)});
    assert_eq!(
        app.send_json("PATCH", &path, &patch, &body)
            .await
            .error(501, "2002"),
        "Not implemented"
    );
    app.send_json(
        "PATCH",
        &path,
        &with_header(patch.clone(), "date", None),
        &body,
    )
    .await
    .error(400, "3102");
    app.send_json(
        "PATCH",
        &path,
        &with_header(patch.clone(), "content-type", Some(TRANSFERS_V11)),
        &body,
    )
    .await
    .error(400, "3101");
    app.send_json("PATCH", "/fxTransfers/abc", &patch, &body)
        .await
        .error(400, "3101");
    assert_eq!(
        app.send("DELETE", "/fxTransfers", &patch, None)
            .await
            .error(405, "3000"),
        "Generic client error - Method Not Allowed"
    );

    let root = app.send("GET", "/", &[], None).await;
    assert_eq!(root.status, 200);
    for (name, url) in [
        ("FxTransfersPost", "/fxTransfers"),
        ("FxTransfersByIDGet", "/fxTransfers/:ID"),
        ("FxTransfersByIDPut", "/fxTransfers/:ID"),
        ("FxTransfersByIDPatch", "/fxTransfers/:ID"),
        ("FxTransfersByIDAndErrorPut", "/fxTransfers/:ID/error"),
    ] {
        assert_eq!(
            root.body["urls"][name],
            format!("http://ml-api-adapter:3000{url}"),
            "{name}"
        );
    }

    let post = fx_headers("POST", "payerfsp", Some("fxp"));
    app.send_json(
        "POST",
        "/fxTransfers",
        &post,
        &fx_transfer_body(&id, "payerfsp", "fxp"),
    )
    .await
    .empty(202);
    app.send("POST", "/fxTransfers", &post, Some(b"{}"))
        .await
        .error(400, "3102");
    app.send(
        "GET",
        &path,
        &fx_headers("GET", "payerfsp", Some("Hub")),
        None,
    )
    .await
    .empty(202);
    let metrics = app.metrics().await;
    for line in [
        "moja_ml_ml_fx_transfer_prepare_count{success=\"true\"} 1",
        "moja_ml_ml_fx_transfer_prepare_count{success=\"false\"} 1",
        "moja_ml_ml_fx_transfer_get_count{success=\"true\"} 1",
        "moja_ml_http_requests_total{method=\"PATCH\",path=\"/fxTransfers/{id}\",status_code=\"501\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
    assert!(
        !metrics.contains("moja_ml_ml_transfer_prepare_count{success=\"true\"}"),
        "fx requests are not counted as transfers:\n{metrics}"
    );
    app.stop().await;
}

/// An initiating DFSP and an FXP with transfer and fx endpoints, in a fresh database.
struct FxScheme {
    db: TestDb,
    payer: Dfsp,
    fxp: Dfsp,
}

async fn fx_scheme() -> FxScheme {
    let db = TestDb::new().await;
    let payer = Dfsp::start().await;
    let fxp = Dfsp::start().await;
    db.participant("payerfsp", Some(&payer.url)).await;
    db.participant("fxp", Some(&fxp.url)).await;
    db.fx_endpoints("payerfsp", &payer.url).await;
    db.fx_endpoints("fxp", &fxp.url).await;
    FxScheme { db, payer, fxp }
}

/// Headers as the ledger builds them for an fx message from the hub to `to`.
fn hub_fx_headers(to: &str) -> BTreeMap<String, String> {
    [
        ("content-type", FX_TRANSFERS_V20.to_string()),
        ("accept", FX_TRANSFERS_ACCEPT_V2.to_string()),
        ("date", http_date()),
        ("fspiop-source", "Hub".to_string()),
        ("fspiop-destination", to.to_string()),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), v))
    .collect()
}

fn hub_error(code: &str, description: &str) -> Value {
    json!({"errorInformation": {"errorCode": code, "errorDescription": description,
        "extensionList": {"extension": [{"key": "cause", "value": "a stack trace"}, {"key": "reason", "value": "r"}]}}})
}

/// The requests `dfsp` received about `id`, once the handler has finished `count` messages
/// of `action` (so none can still be on its way).
async fn settled(app: &TestApp, action: &str, count: u64, dfsp: &Dfsp, id: &str) -> Vec<Recorded> {
    app.wait_for_metric(
        &format!(
            "moja_ml_notification_event_process_msg_count{{success=\"true\",action=\"{action}\"}}"
        ),
        count,
    )
    .await;
    dfsp.requests()
        .into_iter()
        .filter(|r| r.path.contains(id) || r.body.windows(id.len()).any(|w| w == id.as_bytes()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fx_callbacks_through_the_api() {
    let s = fx_scheme().await;
    let app = spawn_app(Options {
        database: Some(&s.db),
        // On for transfers; fx callbacks still go to `to` only.
        send_transfer_confirmation_to_payee: true,
        ..Options::default()
    })
    .await;
    let notifier = app.notifier();
    let id = new_id();

    // The initiator's POST through the API onto the prepare topic, back as the ledger's
    // fx-prepare: the FXP gets the initiator's exact request, signature included.
    let body = serde_json::to_string_pretty(&fx_transfer_body(&id, "payerfsp", "fxp")).unwrap();
    let post = fx_headers("POST", "payerfsp", Some("fxp"));
    let post = with_header(post, "fspiop-signature", Some(PAYER_SIGNATURE));
    let post = with_header(post, "fspiop-uri", Some("/fxTransfers"));
    let post = with_header(post, "fspiop-http-method", Some("POST"));
    app.send("POST", "/fxTransfers", &post, Some(body.as_bytes()))
        .await
        .empty(202);
    let prepared = app
        .reader(bus::TOPIC_TRANSFER_PREPARE)
        .find(&id)
        .await
        .message;
    notifier
        .send(&prepared.forward(
            &new_id(),
            "notification",
            "fx-prepare",
            EventState::success(),
            ml_api_adapter::now_ms(),
        ))
        .await;
    let r = only(s.fxp.wait_for(&id, 1).await, "POST", "/fxTransfers");
    assert_eq!(r.body, body.as_bytes(), "exact bytes");
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("payerfsp")),
            ("fspiop-destination", Some("fxp")),
            ("fspiop-uri", Some("/fxTransfers")),
            ("fspiop-http-method", Some("POST")),
            ("fspiop-signature", Some(PAYER_SIGNATURE)),
            ("content-type", Some(FX_TRANSFERS_V20)),
            ("accept", Some(FX_TRANSFERS_ACCEPT_V2)),
            ("date", header_of(&post, "date")),
        ],
    );

    // The FXP's PUT (RESERVED, with its fulfilment) through the API, back as fx-reserve: the
    // initiator gets the FXP's exact bytes from the FXP.
    let fulfil = format!(
        "{{\"conversionState\": \"RESERVED\",  \"fulfilment\": \"{FULFILMENT}\", \"completedTimestamp\": \"{}\"}}",
        completed_timestamp(-10)
    );
    let put = with_header(
        fx_headers("PUT", "fxp", Some("payerfsp")),
        "fspiop-signature",
        Some(FXP_SIGNATURE),
    );
    app.send(
        "PUT",
        &format!("/fxTransfers/{id}"),
        &put,
        Some(fulfil.as_bytes()),
    )
    .await
    .empty(200);
    let fulfilled = app
        .reader(bus::TOPIC_TRANSFER_FULFIL)
        .find(&id)
        .await
        .message;
    assert_eq!(fulfilled.metadata.event.action, "fx-reserve");
    notifier
        .send(&fulfilled.forward(
            &new_id(),
            "notification",
            "fx-reserve",
            EventState::success(),
            ml_api_adapter::now_ms(),
        ))
        .await;
    let r = only(
        s.payer.wait_for(&id, 1).await,
        "PUT",
        &format!("/fxTransfers/{id}"),
    );
    assert_eq!(r.body, fulfil.as_bytes(), "exact bytes");
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("fxp")),
            ("fspiop-destination", Some("payerfsp")),
            ("fspiop-uri", Some(&format!("/fxTransfers/{id}"))),
            ("fspiop-http-method", Some("PUT")),
            ("fspiop-signature", Some(FXP_SIGNATURE)),
            ("content-type", Some(FX_TRANSFERS_V20)),
            ("accept", None),
        ],
    );

    // The commit of the dependent transfer: the ledger's fx-notify, a PATCH to the FXP from the
    // hub with the ledger's object, fulfilment removed, in the fxTransfers 2.0 media type.
    let ts = completed_timestamp(0);
    let mut ledger_headers = hub_fx_headers("fxp");
    ledger_headers.insert("fspiop-signature".into(), PAYER_SIGNATURE.into());
    notifier
        .send(&notification(
            &id,
            "Hub",
            "fxp",
            "fx-notify",
            EventState::success(),
            ledger_headers,
            json!({"conversionState": "COMMITTED", "fulfilment": FULFILMENT, "completedTimestamp": ts}),
        ))
        .await;
    let r = only(
        s.fxp.wait_for(&id, 2).await,
        "PATCH",
        &format!("/fxTransfers/{id}"),
    );
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        format!(r#"{{"conversionState":"COMMITTED","completedTimestamp":"{ts}"}}"#)
    );
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("Hub")),
            ("fspiop-destination", Some("fxp")),
            ("fspiop-uri", Some(&format!("/fxTransfers/{id}"))),
            ("fspiop-http-method", Some("PATCH")),
            ("fspiop-signature", None),
            ("content-type", Some(FX_TRANSFERS_V20)),
            ("accept", None),
        ],
    );

    // Each fx message made exactly one callback: the FXP got the POST and the PATCH, the
    // initiator the PUT, no confirmation to anyone.
    let fxp_got = settled(&app, "fx-notify", 1, &s.fxp, &id).await;
    assert_eq!(
        fxp_got
            .iter()
            .map(|r| r.method.as_str())
            .collect::<Vec<_>>(),
        vec!["POST", "PATCH"]
    );
    let payer_got = settled(&app, "fx-reserve", 1, &s.payer, &id).await;
    assert_eq!(payer_got.len(), 1, "{payer_got:?}");

    app.stop().await;
    s.db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fx_errors_aborts_and_gets() {
    let s = fx_scheme().await;
    let app = spawn_app(Options {
        database: Some(&s.db),
        ..Options::default()
    })
    .await;
    let notifier = app.notifier();

    // The hub's error about a prepare (a transfers content type in the ledger's headers does
    // not leak: the callback is an fxTransfers one).
    let id = new_id();
    let mut headers = hub_fx_headers("payerfsp");
    headers.insert("content-type".into(), TRANSFERS_V11.into());
    notifier
        .send(&notification(
            &id,
            "Hub",
            "payerfsp",
            "fx-prepare",
            EventState::error(4001, "Payer FSP insufficient liquidity"),
            headers,
            hub_error("4001", "Payer FSP insufficient liquidity"),
        ))
        .await;
    let r = only(
        s.payer.wait_for(&id, 1).await,
        "PUT",
        &format!("/fxTransfers/{id}/error"),
    );
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        r#"{"errorInformation":{"errorCode":"4001","errorDescription":"Payer FSP insufficient liquidity","extensionList":{"extension":[{"key":"reason","value":"r"}]}}}"#
    );
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("Hub")),
            ("fspiop-destination", Some("payerfsp")),
            ("fspiop-uri", Some(&format!("/fxTransfers/{id}/error"))),
            ("fspiop-http-method", Some("PUT")),
            ("content-type", Some(FX_TRANSFERS_V20)),
            ("accept", None),
        ],
    );

    // A timeout, to the FXP's error endpoint.
    let id = new_id();
    notifier
        .send(&notification(
            &id,
            "Hub",
            "fxp",
            "fx-timeout-reserved",
            EventState::error(3303, "Transfer expired"),
            hub_fx_headers("fxp"),
            json!({"errorInformation": {"errorCode": "3303", "errorDescription": "Transfer expired"}}),
        ))
        .await;
    let r = only(
        s.fxp.wait_for(&id, 1).await,
        "PUT",
        &format!("/fxTransfers/{id}/error"),
    );
    assert_eq!(
        r.json(),
        json!({"errorInformation": {"errorCode": "3303", "errorDescription": "Transfer expired"}})
    );
    assert_eq!(r.header("fspiop-source"), Some("Hub"));

    // The FXP's PUT …/error through the API, back as fx-abort: relayed to the initiator.
    let id = new_id();
    let abort =
        br#"{"errorInformation": {"errorCode": "5100", "errorDescription": "FXP rejected"}}"#;
    app.send(
        "PUT",
        &format!("/fxTransfers/{id}/error"),
        &with_header(
            fx_headers("PUT", "fxp", Some("payerfsp")),
            "fspiop-signature",
            Some(FXP_SIGNATURE),
        ),
        Some(abort),
    )
    .await
    .empty(200);
    let aborted = app
        .reader(bus::TOPIC_TRANSFER_FULFIL)
        .find(&id)
        .await
        .message;
    notifier
        .send(&aborted.forward(
            &new_id(),
            "notification",
            "fx-abort",
            EventState::success(),
            ml_api_adapter::now_ms(),
        ))
        .await;
    let r = only(
        s.payer.wait_for(&id, 1).await,
        "PUT",
        &format!("/fxTransfers/{id}/error"),
    );
    assert_eq!(r.body, abort.to_vec());
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("fxp")),
            ("fspiop-signature", Some(FXP_SIGNATURE)),
            ("content-type", Some(FX_TRANSFERS_V20)),
        ],
    );

    // The ledger's answer to a GET: PUT with the ledger's object from the hub.
    let id = new_id();
    let object = json!({"conversionState": "RESERVED", "completedTimestamp": completed_timestamp(0), "fulfilment": FULFILMENT});
    notifier
        .send(&notification(
            &id,
            "Hub",
            "payerfsp",
            "fx-get",
            EventState::success(),
            hub_fx_headers("payerfsp"),
            object.clone(),
        ))
        .await;
    let r = only(
        s.payer.wait_for(&id, 1).await,
        "PUT",
        &format!("/fxTransfers/{id}"),
    );
    assert_eq!(r.json(), object);
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("Hub")),
            ("content-type", Some(FX_TRANSFERS_V20)),
        ],
    );

    // A duplicate prepare: the same answer shape.
    let id = new_id();
    notifier
        .send(&notification(
            &id,
            "Hub",
            "payerfsp",
            "fx-prepare-duplicate",
            EventState::success(),
            hub_fx_headers("payerfsp"),
            object.clone(),
        ))
        .await;
    let r = only(
        s.payer.wait_for(&id, 1).await,
        "PUT",
        &format!("/fxTransfers/{id}"),
    );
    assert_eq!(r.json(), object);

    // No FX endpoint registered: counted as a failed delivery, nothing sent elsewhere.
    let id = new_id();
    s.db.participant("nofxfsp", Some(&s.payer.url)).await;
    notifier
        .send(&notification(
            &id,
            "Hub",
            "nofxfsp",
            "fx-get",
            EventState::success(),
            hub_fx_headers("nofxfsp"),
            object,
        ))
        .await;
    app.wait_for_metric(
        "moja_ml_notification_event_delivery_count{success=\"false\",from=\"Hub\",dest=\"nofxfsp\",action=\"fx-get\",status=\"1001\"}",
        1,
    )
    .await;
    assert!(s.payer.requests().iter().all(|r| !r.path.contains(&id)));

    app.stop().await;
    s.db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fx_hub_callbacks_are_signed() {
    let dir = keys(&["payerfsp", "fxp", "Hub"]);
    let s = fx_scheme().await;
    let app = spawn_app(Options {
        database: Some(&s.db),
        jws: Some(service_kit::jws::JwsConfig {
            validate: true,
            validate_put_parties: false,
            keys_directory: dir.display().to_string(),
            keys_reload_interval_ms: 0,
            sign: true,
            signing_key_path: dir.join("private/Hub.pem").display().to_string(),
        }),
        ..Options::default()
    })
    .await;
    let all_keys = public_keys(&dir);

    // Inbound fx requests need a signature like transfers do.
    let id = new_id();
    let body = serde_json::to_vec(&fx_transfer_body(&id, "payerfsp", "fxp")).unwrap();
    let headers = fx_headers("POST", "payerfsp", Some("fxp"));
    app.send("POST", "/fxTransfers", &headers, Some(&body))
        .await
        .error(400, "3105");
    let good = crate::jws::signed(
        &signing_key(&dir, "payerfsp"),
        "POST",
        "/fxTransfers",
        headers,
        &body,
    );
    app.send("POST", "/fxTransfers", &good, Some(&body))
        .await
        .empty(202);

    // The hub's PATCH and error callback carry the hub's signature over the fx path.
    let notifier = app.notifier();
    let ts = completed_timestamp(0);
    let notify: Message = notification(
        &id,
        "Hub",
        "fxp",
        "fx-notify",
        EventState::success(),
        hub_fx_headers("fxp"),
        json!({"conversionState": "COMMITTED", "completedTimestamp": ts, "fulfilment": FULFILMENT}),
    );
    notifier.send(&notify).await;
    notifier
        .send(&notification(
            &id,
            "Hub",
            "payerfsp",
            "fx-abort-validation",
            EventState::error(3100, "Generic validation error - invalid fulfilment"),
            hub_fx_headers("payerfsp"),
            json!({"errorInformation": {"errorCode": "3100", "errorDescription": "Generic validation error - invalid fulfilment"}}),
        ))
        .await;
    for (dfsp, method, path) in [
        (&s.fxp, "PATCH", format!("/fxTransfers/{id}")),
        (&s.payer, "PUT", format!("/fxTransfers/{id}/error")),
    ] {
        let r = only(dfsp.wait_for(&id, 1).await, method, &path);
        assert_eq!(r.header("fspiop-source"), Some("Hub"));
        assert_eq!(r.header("fspiop-uri"), Some(path.as_str()));
        assert_eq!(r.header("content-type"), Some(FX_TRANSFERS_V20));
        assert!(r.header("fspiop-signature").is_some(), "{r:?}");
        let view: Vec<(&str, &str)> = r
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            jws::verify(
                &all_keys,
                method,
                &r.path,
                view.as_slice(),
                &r.body,
                VerifyOptions::default()
            ),
            Ok(()),
            "{method} {path} verifies with the hub's key"
        );
    }

    app.stop().await;
    s.db.drop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_configured_without_2_0_refuses_fx_requests_and_still_calls_back_in_2_0() {
    let s = fx_scheme().await;
    let strings = |list: &[&str]| list.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    let app = spawn_app(Options {
        database: Some(&s.db),
        protocol_versions: Some(service_kit::config::ProtocolVersionsConfig {
            content_supported: strings(&["1.1", "1.0"]),
            accept_supported: strings(&["1", "1.0", "1.1"]),
            content_default: "1.1".into(),
            accept_default: "1".into(),
        }),
        ..Options::default()
    })
    .await;
    let id = new_id();
    let post = fx_headers("POST", "payerfsp", Some("fxp"));
    app.send_json(
        "POST",
        "/fxTransfers",
        &post,
        &fx_transfer_body(&id, "payerfsp", "fxp"),
    )
    .await
    .error(406, "3001");

    // The ledger's PATCH still goes out as fxTransfers 2.0, not in the hub's 1.1 default.
    app.notifier()
        .send(&notification(
            &id,
            "Hub",
            "fxp",
            "fx-notify",
            EventState::success(),
            hub_fx_headers("fxp"),
            json!({"conversionState": "ABORTED", "completedTimestamp": completed_timestamp(0)}),
        ))
        .await;
    let r = only(
        s.fxp.wait_for(&id, 1).await,
        "PATCH",
        &format!("/fxTransfers/{id}"),
    );
    assert_eq!(r.header("content-type"), Some(FX_TRANSFERS_V20));
    assert_eq!(r.json()["conversionState"], "ABORTED");
    app.stop().await;
    s.db.drop().await;
}
