//! The notification handler against DFSP servers: ledger-style messages on the (prefixed)
//! notification topic, and the callbacks each DFSP receives (method, path, FSPIOP headers,
//! Content-Type version, body bytes).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fspiop::envelope::{data_uri, EventState, Message};
use rdkafka::consumer::Consumer;
use rdkafka::TopicPartitionList;
use serde_json::{json, Value};

use crate::helpers::{
    completed_timestamp, fspiop_headers, http_date, new_id, spawn_app, transfer_body, with_header,
    Dfsp, Options, Recorded, TestDb, TOPIC_PARTITIONS, TRANSFERS_V11, WAIT_MAX,
};

const TRANSFERS_V10: &str = "application/vnd.interoperability.transfers+json;version=1.0";
const PAYER_SIGNATURE: &str =
    r#"{"signature":"payer-sig","protectedHeader":"eyJhbGciOiJSUzI1NiJ9"}"#;
const PAYEE_SIGNATURE: &str =
    r#"{"signature":"payee-sig","protectedHeader":"eyJhbGciOiJSUzI1NiJ9"}"#;

/// Two DFSPs with endpoints, in a fresh database.
struct Scheme {
    db: TestDb,
    payer: Dfsp,
    payee: Dfsp,
}

async fn scheme() -> Scheme {
    let db = TestDb::new().await;
    let payer = Dfsp::start().await;
    let payee = Dfsp::start().await;
    db.participant("payerfsp", Some(&payer.url)).await;
    db.participant("payeefsp", Some(&payee.url)).await;
    Scheme { db, payer, payee }
}

/// Headers as the ledger builds them for a message from the hub to `to`.
fn hub_headers(to: &str) -> BTreeMap<String, String> {
    [
        ("content-type", TRANSFERS_V11.to_string()),
        ("date", http_date()),
        ("fspiop-source", "Hub".to_string()),
        ("fspiop-destination", to.to_string()),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), v))
    .collect()
}

/// A notification as the ledger produces it.
pub(crate) fn notification(
    id: &str,
    from: &str,
    to: &str,
    action: &str,
    state: EventState,
    headers: BTreeMap<String, String>,
    payload: Value,
) -> Message {
    let mut message = Message::from_request(
        id,
        from,
        to,
        headers,
        None,
        Some(id),
        "notification",
        action,
        ml_api_adapter::now_ms(),
    );
    message.content.payload = payload;
    message.metadata.event.state = state;
    message.metadata.event.id = Some(new_id());
    message
}

pub(crate) fn error_payload(code: &str, description: &str) -> Value {
    json!({"errorInformation": {"errorCode": code, "errorDescription": description}})
}

pub(crate) fn assert_headers(r: &Recorded, expected: &[(&str, Option<&str>)]) {
    for (name, value) in expected {
        assert_eq!(
            r.header(name),
            *value,
            "{name} of {} {}: {:?}",
            r.method,
            r.path,
            r.headers
        );
    }
}

pub(crate) fn only(requests: Vec<Recorded>, method: &str, path: &str) -> Recorded {
    let matching: Vec<Recorded> = requests
        .into_iter()
        .filter(|r| r.method == method && r.path == path)
        .collect();
    assert_eq!(matching.len(), 1, "{method} {path}: {matching:?}");
    matching
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("none"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_and_commit_through_the_api() {
    let s = scheme().await;
    let app = spawn_app(Options {
        database: Some(&s.db),
        send_transfer_confirmation_to_payee: true,
        ..Options::default()
    })
    .await;
    let notifier = app.notifier();
    let id = new_id();

    // The payer's POST, through the API onto the prepare topic…
    let body = serde_json::to_string_pretty(&transfer_body(&id, "payerfsp", "payeefsp"))
        .unwrap_or_default();
    let post = fspiop_headers("POST", "payerfsp", Some("payeefsp"));
    let post = with_header(post, "fspiop-signature", Some(PAYER_SIGNATURE));
    let post = with_header(post, "fspiop-uri", Some("/transfers"));
    let post = with_header(post, "fspiop-http-method", Some("POST"));
    let post = with_header(post, "x-forwarded-for", Some("10.1.2.3"));
    app.send("POST", "/transfers", &post, Some(body.as_bytes()))
        .await
        .empty(202);
    let prepared = app
        .reader(bus::TOPIC_TRANSFER_PREPARE)
        .find(&id)
        .await
        .message;

    // …and back as the ledger's prepare notification: the payee gets the payer's exact request.
    notifier
        .send(&prepared.forward(
            &new_id(),
            "notification",
            "prepare",
            EventState::success(),
            ml_api_adapter::now_ms(),
        ))
        .await;
    let r = only(s.payee.wait_for(&id, 1).await, "POST", "/transfers");
    assert_eq!(r.body, body.as_bytes(), "exact bytes");
    let date = post
        .iter()
        .find(|(n, _)| n == "date")
        .map(|(_, v)| v.as_str());
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("payerfsp")),
            ("fspiop-destination", Some("payeefsp")),
            ("fspiop-uri", Some("/transfers")),
            ("fspiop-http-method", Some("POST")),
            ("fspiop-signature", Some(PAYER_SIGNATURE)),
            ("content-type", Some(TRANSFERS_V11)),
            (
                "accept",
                Some("application/vnd.interoperability.transfers+json;version=1"),
            ),
            ("date", date),
            ("x-forwarded-for", Some("10.1.2.3")),
        ],
    );
    assert_eq!(
        r.header("content-length"),
        Some(body.len().to_string().as_str())
    );

    // The payee's fulfil (version 1.0, signed), through the API…
    let fulfil = format!(
        "{{\"transferState\": \"COMMITTED\", \"fulfilment\": \"UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA\", \"completedTimestamp\": \"{}\"}}",
        completed_timestamp(-10)
    );
    let put = with_header(
        fspiop_headers("PUT", "payeefsp", Some("payerfsp")),
        "content-type",
        Some(TRANSFERS_V10),
    );
    let put = with_header(put, "fspiop-signature", Some(PAYEE_SIGNATURE));
    app.send(
        "PUT",
        &format!("/transfers/{id}"),
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

    // …and back as the ledger's commit: the payer gets the payee's request, the payee a
    // confirmation from the hub.
    notifier
        .send(&fulfilled.forward(
            &new_id(),
            "notification",
            "commit",
            EventState::success(),
            ml_api_adapter::now_ms(),
        ))
        .await;
    let r = only(
        s.payer.wait_for(&id, 1).await,
        "PUT",
        &format!("/transfers/{id}"),
    );
    assert_eq!(r.body, fulfil.as_bytes());
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("payeefsp")),
            ("fspiop-destination", Some("payerfsp")),
            ("fspiop-uri", Some(&format!("/transfers/{id}"))),
            ("fspiop-http-method", Some("PUT")),
            ("fspiop-signature", Some(PAYEE_SIGNATURE)),
            ("content-type", Some(TRANSFERS_V10)),
        ],
    );
    // No FSPIOP Accept on a PUT. (reqwest, under fspiop_edge::Forwarder, adds its default
    // `Accept: */*` to every request without one; reported to be fixed in fspiop-edge.)
    assert!(
        r.header("accept").is_none_or(|accept| accept == "*/*"),
        "{:?}",
        r.header("accept")
    );
    let confirmations: Vec<Recorded> = s
        .payee
        .wait_for(&id, 2)
        .await
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(confirmations.len(), 1, "{confirmations:?}");
    let r = &confirmations[0];
    assert_eq!(r.path, format!("/transfers/{id}"));
    assert_eq!(r.body, fulfil.as_bytes());
    assert_headers(
        r,
        &[
            ("fspiop-source", Some("Hub")),
            ("fspiop-destination", Some("payeefsp")),
            ("fspiop-uri", Some(&format!("/transfers/{id}"))),
            ("fspiop-http-method", Some("PUT")),
            ("fspiop-signature", None),
            // The hub answers the payee's 1.0 request in 1.0, not in its default 1.1.
            ("content-type", Some(TRANSFERS_V10)),
        ],
    );
    app.stop().await;
    s.db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserve_abort_and_timeouts() {
    let s = scheme().await;
    let app = spawn_app(Options {
        database: Some(&s.db),
        ..Options::default()
    })
    .await;
    let notifier = app.notifier();

    // reserve: PUT to the payer from the hub with the ledger's object, PATCH to the payee.
    let id = new_id();
    let mut payee_headers: BTreeMap<String, String> =
        fspiop_headers("PUT", "payeefsp", Some("payerfsp"))
            .into_iter()
            .collect();
    payee_headers.insert("fspiop-signature".into(), PAYEE_SIGNATURE.into());
    let ts = completed_timestamp(0);
    let object = json!({"completedTimestamp": ts, "transferState": "COMMITTED", "fulfilment": "UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA"});
    notifier
        .send(&notification(
            &id,
            "payeefsp",
            "payerfsp",
            "reserve",
            EventState::success(),
            payee_headers.clone(),
            object.clone(),
        ))
        .await;
    let r = only(
        s.payer.wait_for(&id, 1).await,
        "PUT",
        &format!("/transfers/{id}"),
    );
    assert_eq!(r.json(), object);
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("Hub")),
            ("fspiop-destination", Some("payerfsp")),
            ("fspiop-http-method", Some("PUT")),
            ("fspiop-uri", Some(&format!("/transfers/{id}"))),
            ("fspiop-signature", None),
            ("content-type", Some(TRANSFERS_V11)),
        ],
    );
    let r = only(
        s.payee.wait_for(&id, 1).await,
        "PATCH",
        &format!("/transfers/{id}"),
    );
    assert_eq!(
        r.json(),
        json!({"completedTimestamp": ts, "transferState": "COMMITTED"})
    );
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("Hub")),
            ("fspiop-destination", Some("payeefsp")),
            ("fspiop-http-method", Some("PATCH")),
            ("fspiop-uri", Some(&format!("/transfers/{id}"))),
            ("fspiop-signature", None),
            ("content-type", Some(TRANSFERS_V11)),
        ],
    );

    // abort: the payee's error, exactly, to the payer's error endpoint; nothing back to the
    // payee (confirmation off).
    let id = new_id();
    let error_bytes = br#"{"errorInformation": {"errorCode": "5100", "errorDescription": "Generic Payee rejection"}}"#;
    let uri = Value::String(data_uri(TRANSFERS_V11, error_bytes));
    let mut message = notification(
        &id,
        "payeefsp",
        "payerfsp",
        "abort",
        EventState::error(5100, "rejected"),
        payee_headers.clone(),
        uri.clone(),
    );
    message.content.context =
        Some(json!({"originalRequestPayload": uri, "originalRequestId": "r1"}));
    notifier.send(&message).await;
    let r = only(
        s.payer.wait_for(&id, 1).await,
        "PUT",
        &format!("/transfers/{id}/error"),
    );
    assert_eq!(r.body, error_bytes.to_vec());
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("payeefsp")),
            ("fspiop-destination", Some("payerfsp")),
            ("fspiop-uri", Some(&format!("/transfers/{id}/error"))),
            ("fspiop-http-method", Some("PUT")),
            ("fspiop-signature", Some(PAYEE_SIGNATURE)),
        ],
    );
    app.wait_for_metric(
        "moja_ml_notification_event_process_msg_count{success=\"true\",action=\"abort\"}",
        1,
    )
    .await;
    assert!(
        s.payee.requests().iter().all(|r| !r.path.contains(&id)),
        "no confirmation to the payee"
    );

    // abort-validation: from the hub, the error re-rendered without its cause.
    let id = new_id();
    let payload = json!({"errorInformation": {"errorCode": "3100", "errorDescription": "Generic validation error - invalid fulfilment",
        "extensionList": {"extension": [{"key": "cause", "value": "FSPIOPError at fulfil handler"}]}}});
    notifier
        .send(&notification(
            &id,
            "Hub",
            "payeefsp",
            "abort-validation",
            EventState::error(3100, "invalid fulfilment"),
            hub_headers("payeefsp"),
            payload,
        ))
        .await;
    let r = only(
        s.payee.wait_for(&id, 1).await,
        "PUT",
        &format!("/transfers/{id}/error"),
    );
    assert_eq!(r.body, br#"{"errorInformation":{"errorCode":"3100","errorDescription":"Generic validation error - invalid fulfilment"}}"#.to_vec());
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("Hub")),
            ("fspiop-destination", Some("payeefsp")),
            ("content-type", Some(TRANSFERS_V11)),
        ],
    );

    // timeout-reserved: both parties get 3303 from the hub (context.payer / context.payee).
    let id = new_id();
    let mut message = notification(
        &id,
        "Hub",
        "payerfsp",
        "timeout-reserved",
        EventState::error(3303, "Transfer expired"),
        hub_headers("payerfsp"),
        error_payload("3303", "Transfer expired"),
    );
    message.content.context = Some(json!({"payer": "payerfsp", "payee": "payeefsp"}));
    notifier.send(&message).await;
    for dfsp in [&s.payer, &s.payee] {
        let r = only(
            dfsp.wait_for(&id, 1).await,
            "PUT",
            &format!("/transfers/{id}/error"),
        );
        assert_eq!(r.json(), error_payload("3303", "Transfer expired"));
        assert_eq!(r.header("fspiop-source"), Some("Hub"));
        assert_eq!(r.header("fspiop-http-method"), Some("PUT"));
    }
    let destinations: Vec<Option<String>> = [&s.payer, &s.payee]
        .iter()
        .map(|d| {
            d.requests()
                .into_iter()
                .find(|r| r.path.contains(&id))
                .and_then(|r| r.header("fspiop-destination").map(str::to_string))
        })
        .collect();
    assert_eq!(
        destinations,
        vec![Some("payerfsp".to_string()), Some("payeefsp".to_string())]
    );

    // timeout-received: the payer only.
    let id = new_id();
    notifier
        .send(&notification(
            &id,
            "Hub",
            "payerfsp",
            "timeout-received",
            EventState::error(3303, "Transfer expired"),
            hub_headers("payerfsp"),
            error_payload("3303", "Transfer expired"),
        ))
        .await;
    let r = only(
        s.payer.wait_for(&id, 1).await,
        "PUT",
        &format!("/transfers/{id}/error"),
    );
    assert_eq!(r.json()["errorInformation"]["errorCode"], "3303");
    app.stop().await;
    s.db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_get_and_reserved_aborted() {
    let s = scheme().await;
    let app = spawn_app(Options {
        database: Some(&s.db),
        ..Options::default()
    })
    .await;
    let notifier = app.notifier();

    // prepare-duplicate: the transfer's state, from the hub, on the payer's PUT endpoint.
    let id = new_id();
    let state = json!({"transferState": "COMMITTED", "completedTimestamp": completed_timestamp(0), "fulfilment": "UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA"});
    notifier
        .send(&notification(
            &id,
            "Hub",
            "payerfsp",
            "prepare-duplicate",
            EventState::success(),
            hub_headers("payerfsp"),
            state.clone(),
        ))
        .await;
    let r = only(
        s.payer.wait_for(&id, 1).await,
        "PUT",
        &format!("/transfers/{id}"),
    );
    assert_eq!(r.json(), state);
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("Hub")),
            ("fspiop-destination", Some("payerfsp")),
            ("fspiop-uri", Some(&format!("/transfers/{id}"))),
        ],
    );

    // prepare error (e.g. 3106 modified request): PUT …/error to the payer from the hub.
    let id = new_id();
    notifier
        .send(&notification(
            &id,
            "Hub",
            "payerfsp",
            "prepare",
            EventState::error(3106, "Modified request"),
            hub_headers("payerfsp"),
            error_payload("3106", "Modified request"),
        ))
        .await;
    let r = only(
        s.payer.wait_for(&id, 1).await,
        "PUT",
        &format!("/transfers/{id}/error"),
    );
    assert_eq!(r.json(), error_payload("3106", "Modified request"));

    // get: the state to the requester, or the error.
    let id = new_id();
    let state = json!({"transferState": "RESERVED", "completedTimestamp": completed_timestamp(0)});
    notifier
        .send(&notification(
            &id,
            "Hub",
            "payerfsp",
            "get",
            EventState::success(),
            hub_headers("payerfsp"),
            state.clone(),
        ))
        .await;
    let r = only(
        s.payer.wait_for(&id, 1).await,
        "PUT",
        &format!("/transfers/{id}"),
    );
    assert_eq!(r.json(), state);
    assert_headers(
        &r,
        &[
            ("fspiop-source", Some("Hub")),
            ("fspiop-http-method", Some("PUT")),
            ("content-type", Some(TRANSFERS_V11)),
        ],
    );
    let id = new_id();
    notifier
        .send(&notification(
            &id,
            "Hub",
            "payeefsp",
            "get",
            EventState::error(3208, "Transfer ID not found"),
            hub_headers("payeefsp"),
            error_payload("3208", "Transfer ID not found"),
        ))
        .await;
    let r = only(
        s.payee.wait_for(&id, 1).await,
        "PUT",
        &format!("/transfers/{id}/error"),
    );
    assert_eq!(r.json(), error_payload("3208", "Transfer ID not found"));

    // reserved-aborted: PATCH with ABORTED to the payee.
    let id = new_id();
    let object = json!({"transferId": id, "completedTimestamp": completed_timestamp(0), "transferState": "ABORTED",
        "extensionList": {"extension": [{"key": "cause", "value": "3100: Generic validation error - invalid fulfilment"}]}});
    notifier
        .send(&notification(
            &id,
            "Hub",
            "payeefsp",
            "reserved-aborted",
            EventState::success(),
            hub_headers("payeefsp"),
            object.clone(),
        ))
        .await;
    let r = only(
        s.payee.wait_for(&id, 1).await,
        "PATCH",
        &format!("/transfers/{id}"),
    );
    assert_eq!(r.json(), object);
    assert_eq!(r.header("fspiop-http-method"), Some("PATCH"));
    app.stop().await;
    s.db.drop().await;
}

/// The consumer group's committed offsets on the notification topic, summed over partitions.
fn committed_total(app: &crate::helpers::TestApp) -> i64 {
    let group = app.topic(ml_api_adapter::notification::GROUP_NOTIFICATION_EVENT);
    let consumer = bus::create_consumer(
        &bus::BusConfig::new(crate::helpers::kafka_brokers(), "committed-probe"),
        &group,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut list = TopicPartitionList::new();
    for partition in 0..TOPIC_PARTITIONS {
        list.add_partition(&app.topic(bus::TOPIC_NOTIFICATION_EVENT), partition);
    }
    consumer
        .committed_offsets(list, Duration::from_secs(10))
        .map(|l| {
            l.elements()
                .iter()
                .filter_map(|e| e.offset().to_raw())
                .filter(|o| *o > 0)
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_failures_are_counted_and_do_not_stall_the_handler() {
    let s = scheme().await;
    s.db.participant("ghostfsp", None).await;
    let broken = format!("{}/fail", s.payee.url);
    s.db.participant("brokenfsp", Some(&broken)).await;
    let app = spawn_app(Options {
        database: Some(&s.db),
        ..Options::default()
    })
    .await;
    let notifier = app.notifier();
    let prepare = |id: &str, to: &str| {
        let bytes = serde_json::to_vec(&transfer_body(id, "payerfsp", to)).unwrap_or_default();
        let headers: BTreeMap<String, String> = fspiop_headers("POST", "payerfsp", Some(to))
            .into_iter()
            .collect();
        let uri = Value::String(data_uri(TRANSFERS_V11, &bytes));
        let mut m = notification(
            id,
            "payerfsp",
            to,
            "prepare",
            EventState::success(),
            headers,
            uri.clone(),
        );
        m.content.context = Some(json!({"originalRequestPayload": uri}));
        m
    };

    // No endpoint registered, an unknown participant, a DFSP answering 500: 1001 each.
    notifier.send(&prepare(&new_id(), "ghostfsp")).await;
    notifier.send(&prepare(&new_id(), "nobodyfsp")).await;
    notifier.send(&prepare(&new_id(), "brokenfsp")).await;
    // Garbage and an action nobody handles.
    notifier.send_bytes(b"not json at all").await;
    notifier
        .send(&notification(
            &new_id(),
            "Hub",
            "payerfsp",
            "no-such-action",
            EventState::success(),
            hub_headers("payerfsp"),
            json!({"currency": "USD"}),
        ))
        .await;
    // A good message is still delivered.
    let id = new_id();
    notifier.send(&prepare(&id, "payeefsp")).await;
    only(s.payee.wait_for(&id, 1).await, "POST", "/transfers");

    for dest in ["ghostfsp", "nobodyfsp", "brokenfsp"] {
        let line = format!("moja_ml_notification_event_delivery_count{{success=\"false\",from=\"payerfsp\",dest=\"{dest}\",action=\"prepare\",status=\"1001\"}}");
        app.wait_for_metric(&line, 1).await;
    }
    assert!(
        s.payee
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/fail"))
            .count()
            == 1,
        "the broken DFSP was called once, no retry"
    );
    app.wait_for_metric(
        "moja_ml_notification_event_process_msg_count{success=\"false\",action=\"invalid\"}",
        1,
    )
    .await;
    app.wait_for_metric(
        "moja_ml_notification_event_process_msg_count{success=\"false\",action=\"unknown\"}",
        1,
    )
    .await;
    app.wait_for_metric("moja_ml_notification_event_delivery_count{success=\"true\",from=\"payerfsp\",dest=\"payeefsp\",action=\"prepare\",status=\"ok\"}", 1).await;

    // The endpoint cache: ghostfsp registers an endpoint; after DELETE /endpointcache it is used.
    sqlx::query(
        "INSERT INTO participantEndpoint (participantId, endpointTypeId, value, createdBy)
         SELECT p.participantId, e.endpointTypeId, ?, 'test' FROM participant p, endpointType e
         WHERE p.name = 'ghostfsp' AND e.name = 'FSPIOP_CALLBACK_URL_TRANSFER_POST'",
    )
    .bind(format!("{}/ghost/transfers", s.payee.url))
    .execute(&s.db.pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    app.send("DELETE", "/endpointcache", &[], None)
        .await
        .empty(202);
    let id = new_id();
    notifier.send(&prepare(&id, "ghostfsp")).await;
    let r = only(s.payee.wait_for(&id, 1).await, "POST", "/ghost/transfers");
    assert_eq!(r.header("fspiop-destination"), Some("ghostfsp"));

    // Every message's offset is committed once its callbacks were attempted: 7 messages.
    let deadline = Instant::now() + WAIT_MAX;
    loop {
        let committed = committed_total(&app);
        if committed == 7 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "committed offsets sum to {committed}, expected 7"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // … so the handler's consumer lag (read every 200 ms in these tests) is 0 on every
    // partition it holds.
    let topic = app.topic(bus::TOPIC_NOTIFICATION_EVENT);
    let group = app.topic(ml_api_adapter::notification::GROUP_NOTIFICATION_EVENT);
    for partition in 0..TOPIC_PARTITIONS {
        app.wait_for_metric_line(&format!(
            "moja_ml_consumer_lag_messages{{topic=\"{topic}\",partition=\"{partition}\",group=\"{group}\"}} 0"
        ))
        .await;
    }

    let health = app.send("GET", "/health", &[], None).await;
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(
        health.body["services"],
        json!([{"name": "broker", "status": "OK"}, {"name": "participantEndpointService", "status": "OK"}])
    );
    app.stop().await;
    s.db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_run_concurrently_up_to_the_bound() {
    const CONCURRENCY_MAX: usize = 4;
    const MESSAGES: usize = 12;
    let s = scheme().await;
    let slow = format!("{}/slow", s.payee.url);
    s.db.participant("slowfsp", Some(&slow)).await;
    let app = spawn_app(Options {
        database: Some(&s.db),
        callback_concurrency_max: Some(CONCURRENCY_MAX),
        ..Options::default()
    })
    .await;
    let notifier = app.notifier();
    let ids: Vec<String> = (0..MESSAGES).map(|_| new_id()).collect();
    for id in &ids {
        let mut headers = hub_headers("slowfsp");
        headers.insert("fspiop-source".into(), "payerfsp".into());
        let payload = transfer_body(id, "payerfsp", "slowfsp");
        notifier
            .send(&notification(
                id,
                "payerfsp",
                "slowfsp",
                "prepare",
                EventState::success(),
                headers,
                payload,
            ))
            .await;
    }
    for id in &ids {
        s.payee.wait_for(id, 1).await;
    }
    // Each answer takes SLOW_ANSWER and the messages are waiting together: the DFSP sees as
    // many callbacks at once as the bound allows, and never more.
    assert_eq!(
        s.payee.concurrency_max(),
        CONCURRENCY_MAX,
        "callbacks in flight at once"
    );
    app.wait_for_metric(
        "moja_ml_notification_event_process_msg_count{success=\"true\",action=\"prepare\"}",
        MESSAGES as u64,
    )
    .await;
    app.stop().await;
    s.db.drop().await;
}
