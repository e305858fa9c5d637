//! The API's synchronous answers: every route's success and error codes, and the envelope each
//! accepted request puts on its topic (read back from the broker).

use fspiop::envelope::data_uri;
use serde_json::{json, Value};

use crate::helpers::{
    completed_timestamp, fspiop_headers, new_id, spawn_app, transfer_body, with_header, Options,
    TestApp, TRANSFERS_V11,
};

async fn app() -> TestApp {
    spawn_app(Options::default()).await
}

#[tokio::test]
async fn post_transfer_puts_the_exact_bytes_on_the_prepare_topic() {
    let app = app().await;
    let id = new_id();
    // Odd spacing and member order: the envelope must carry these bytes, not a re-serialisation.
    let body = format!(
        "{{ \"payeeFsp\":\"payeefsp\",  \"transferId\" : \"{id}\", \"payerFsp\":\"payerfsp\",\"amount\":{{\"currency\":\"USD\",\"amount\":\"100.5\"}},\n\"ilpPacket\":\"AYIBgQAAAAAAAASw\",\"condition\":\"f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA\",\"expiration\":\"2030-01-01T00:00:00.000Z\",\"unknownMember\":\"é\"}}"
    );
    let headers = with_header(
        fspiop_headers("POST", "payerfsp", Some("payeefsp")),
        "X-Custom-Header",
        Some("kept"),
    );
    app.send("POST", "/transfers", &headers, Some(body.as_bytes()))
        .await
        .empty(202);

    let read = app.reader(bus::TOPIC_TRANSFER_PREPARE).find(&id).await;
    assert_eq!(
        read.key.as_deref(),
        Some("payerfsp"),
        "prepares are keyed by the payer"
    );
    let m = &read.message;
    assert_eq!(
        (m.from.as_str(), m.to.as_str(), m.kind.as_str()),
        ("payerfsp", "payeefsp", "application/json")
    );
    let uri = data_uri(TRANSFERS_V11, body.as_bytes());
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
        m.content.headers.get("fspiop-source").map(String::as_str),
        Some("payerfsp")
    );
    assert_eq!(
        m.content
            .headers
            .get("fspiop-destination")
            .map(String::as_str),
        Some("payeefsp")
    );
    assert_eq!(
        m.content.headers.get("content-type").map(String::as_str),
        Some(TRANSFERS_V11)
    );
    assert_eq!(
        m.content.headers.get("x-custom-header").map(String::as_str),
        Some("kept")
    );
    assert!(m.content.headers.contains_key("date") && m.content.headers.contains_key("accept"));
    assert_eq!(m.metadata.correlation_id, id);
    assert_eq!(
        (
            m.metadata.event.kind.as_str(),
            m.metadata.event.action.as_str()
        ),
        ("prepare", "prepare")
    );
    assert_eq!(
        read.raw["metadata"]["event"]["state"],
        json!({"status": "success", "code": 0, "description": "action successful"})
    );
    assert!(fspiop::datetime::parse_date_time(&m.metadata.event.created_at).is_some());
    app.stop().await;
}

#[tokio::test]
async fn put_transfer_produces_commit_reserve_or_reject() {
    let app = app().await;
    let mut reader = app.reader(bus::TOPIC_TRANSFER_FULFIL);
    let headers = fspiop_headers("PUT", "payeefsp", Some("payerfsp"));
    for (state, action) in [
        ("COMMITTED", "commit"),
        ("RECEIVED", "commit"),
        ("RESERVED", "reserve"),
        ("ABORTED", "reject"),
    ] {
        let id = new_id();
        let body = format!(
            r#"{{"transferState":"{state}","fulfilment":"UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA","completedTimestamp":"{}"}}"#,
            completed_timestamp(-1000)
        );
        app.send(
            "PUT",
            &format!("/transfers/{id}"),
            &headers,
            Some(body.as_bytes()),
        )
        .await
        .empty(200);
        let read = reader.find(&id).await;
        assert_eq!(read.key.as_deref(), Some(id.as_str()));
        let m = &read.message;
        assert_eq!(
            (
                m.metadata.event.kind.as_str(),
                m.metadata.event.action.as_str()
            ),
            ("fulfil", action),
            "{state}"
        );
        assert_eq!((m.from.as_str(), m.to.as_str()), ("payeefsp", "payerfsp"));
        assert_eq!(
            m.content.uri_params.as_ref().map(|p| p.id.as_str()),
            Some(id.as_str())
        );
        assert_eq!(
            m.content.payload,
            Value::String(data_uri(TRANSFERS_V11, body.as_bytes()))
        );
        assert_eq!(
            read.raw["content"]["context"]["originalRequestPayload"],
            read.raw["content"]["payload"]
        );
    }

    // FSPIOP 1.0 has no RESERVED fulfil: refused (3100), nothing reaches the ledger, so the
    // transfer stays RESERVED until it is committed or expires. COMMITTED under 1.0 is fine.
    let v10 = with_header(
        headers.clone(),
        "content-type",
        Some("application/vnd.interoperability.transfers+json;version=1.0"),
    );
    let reserved_10 = new_id();
    let body = format!(
        r#"{{"transferState":"RESERVED","fulfilment":"UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA","completedTimestamp":"{}"}}"#,
        completed_timestamp(-1000)
    );
    let description = app
        .send(
            "PUT",
            &format!("/transfers/{reserved_10}"),
            &v10,
            Some(body.as_bytes()),
        )
        .await
        .error(400, "3100");
    assert!(
        description.contains("RESERVED is not part of FSPIOP 1.0"),
        "{description}"
    );
    let committed_10 = new_id();
    app.send(
        "PUT",
        &format!("/transfers/{committed_10}"),
        &v10,
        Some(body.replace("RESERVED", "COMMITTED").as_bytes()),
    )
    .await
    .empty(200);
    // A message is produced only for an accepted request; the refused one is not among those
    // read up to the 1.0 commit.
    let read = reader.find(&committed_10).await;
    assert_eq!(read.message.metadata.event.action, "commit");
    assert!(!reader.has_seen(&reserved_10));

    // The error callback: action abort, same topic.
    let id = new_id();
    let body =
        br#"{"errorInformation":{"errorCode":"5101","errorDescription":"Payee rejected quote"}}"#;
    app.send(
        "PUT",
        &format!("/transfers/{id}/error"),
        &headers,
        Some(body),
    )
    .await
    .empty(200);
    let read = reader.find(&id).await;
    assert_eq!(
        (
            read.message.metadata.event.kind.as_str(),
            read.message.metadata.event.action.as_str()
        ),
        ("fulfil", "abort")
    );
    assert_eq!(
        read.message.content.payload,
        Value::String(data_uri(TRANSFERS_V11, body))
    );
    assert_eq!(read.key.as_deref(), Some(id.as_str()));
    app.stop().await;
}

#[tokio::test]
async fn get_transfer_produces_a_get_without_payload() {
    let app = app().await;
    let id = new_id();
    app.send(
        "GET",
        &format!("/transfers/{id}"),
        &fspiop_headers("GET", "payerfsp", None),
        None,
    )
    .await
    .empty(202);
    let read = app.reader(bus::TOPIC_TRANSFER_GET).find(&id).await;
    let m = &read.message;
    assert_eq!(
        (
            m.metadata.event.kind.as_str(),
            m.metadata.event.action.as_str()
        ),
        ("get", "get")
    );
    assert_eq!((m.from.as_str(), m.to.as_str()), ("payerfsp", ""));
    assert_eq!(m.content.payload, json!({}));
    assert!(read.raw["content"].get("context").is_none());
    assert_eq!(read.key.as_deref(), Some(id.as_str()));
    app.stop().await;
}

#[tokio::test]
async fn header_errors() {
    let app = app().await;
    let id = new_id();
    let body = serde_json::to_vec(&transfer_body(&id, "payerfsp", "payeefsp")).unwrap_or_default();
    let post = fspiop_headers("POST", "payerfsp", Some("payeefsp"));
    let cases: Vec<(&str, Option<&str>, u16, &str, &str)> = vec![
        (
            "accept",
            None,
            400,
            "3102",
            "Missing mandatory element - accept is required",
        ),
        (
            "accept",
            Some("application/json"),
            400,
            "3101",
            "Malformed syntax - Invalid accept header",
        ),
        (
            "date",
            None,
            400,
            "3102",
            "Missing mandatory element - Missing required date header",
        ),
        (
            "date",
            Some("2024-01-01T00:00:00Z"),
            400,
            "3101",
            "Malformed syntax - Invalid date header",
        ),
        (
            "content-type",
            None,
            400,
            "3102",
            "Missing mandatory element - Content-type is required",
        ),
        (
            "content-type",
            Some("application/json"),
            400,
            "3101",
            "Malformed syntax - Invalid content-type header",
        ),
        (
            "content-type",
            Some("application/vnd.interoperability.parties+json;version=1.1"),
            400,
            "3101",
            "Malformed syntax - Invalid content-type header",
        ),
        (
            "fspiop-source",
            None,
            400,
            "3102",
            "Missing mandatory element - Missing required fspiop-source header",
        ),
        (
            "fspiop-destination",
            Some(""),
            400,
            "3101",
            "Malformed syntax - Invalid fspiop-destination header",
        ),
    ];
    for (name, value, status, code, description) in cases {
        let headers = with_header(post.clone(), name, value);
        let answer = app.send("POST", "/transfers", &headers, Some(&body)).await;
        assert_eq!(answer.error(status, code), description, "{name}={value:?}");
    }

    // Versions: 406 / 3001 with the supported versions listed.
    let headers = with_header(
        post.clone(),
        "accept",
        Some("application/vnd.interoperability.transfers+json;version=9.9"),
    );
    let answer = app.send("POST", "/transfers", &headers, Some(&body)).await;
    assert!(answer
        .error(406, "3001")
        .starts_with("Unacceptable version requested"));
    assert_eq!(
        answer.body["errorInformation"]["extensionList"]["extension"],
        json!([{"key": "1", "value": "0"}, {"key": "1", "value": "1"}, {"key": "2", "value": "0"}])
    );
    let headers = with_header(
        post.clone(),
        "content-type",
        Some("application/vnd.interoperability.transfers+json;version=3.9"),
    );
    app.send("POST", "/transfers", &headers, Some(&body))
        .await
        .error(406, "3001");
    let v2 = with_header(
        post.clone(),
        "content-type",
        Some("application/vnd.interoperability.transfers+json;version=2.0"),
    );
    app.send("POST", "/transfers", &v2, Some(&body))
        .await
        .empty(202);

    // GET needs Accept and Content-Type too; PUT must not need Accept but checks one sent.
    let get = fspiop_headers("GET", "payerfsp", None);
    app.send(
        "GET",
        &format!("/transfers/{id}"),
        &with_header(get.clone(), "content-type", None),
        None,
    )
    .await
    .error(400, "3102");
    app.send(
        "GET",
        &format!("/transfers/{id}"),
        &with_header(get, "accept", None),
        None,
    )
    .await
    .error(400, "3102");
    let put = fspiop_headers("PUT", "payeefsp", Some("payerfsp"));
    let put_body = format!(
        r#"{{"transferState":"COMMITTED","completedTimestamp":"{}"}}"#,
        completed_timestamp(0)
    );
    let with_bad_accept = with_header(put.clone(), "accept", Some("text/html"));
    app.send(
        "PUT",
        &format!("/transfers/{id}"),
        &with_bad_accept,
        Some(put_body.as_bytes()),
    )
    .await
    .error(400, "3101");
    app.send(
        "PUT",
        &format!("/transfers/{id}"),
        &put,
        Some(put_body.as_bytes()),
    )
    .await
    .empty(200);
    app.stop().await;
}

#[tokio::test]
async fn body_and_id_errors() {
    let app = app().await;
    let post = fspiop_headers("POST", "payerfsp", Some("payeefsp"));
    let id = new_id();
    let mut cases: Vec<(Value, &str, &str)> = Vec::new();
    let mut missing = transfer_body(&id, "payerfsp", "payeefsp");
    missing.as_object_mut().map(|o| o.remove("payeeFsp"));
    cases.push((
        missing,
        "3102",
        "Missing mandatory element - body must have required property 'payeeFsp'",
    ));
    let mut wrong_type = transfer_body(&id, "payerfsp", "payeefsp");
    wrong_type["amount"]["amount"] = json!(100);
    cases.push((
        wrong_type,
        "3101",
        "Malformed syntax - /amount/amount must be string, not number",
    ));
    let mut bad_amount = transfer_body(&id, "payerfsp", "payeefsp");
    bad_amount["amount"]["amount"] = json!("100.12345");
    cases.push((
        bad_amount,
        "3100",
        "Generic validation error - /amount/amount must be an Amount",
    ));
    let mut bad_id = transfer_body(&id, "payerfsp", "payeefsp");
    bad_id["transferId"] = json!("not-a-uuid");
    cases.push((
        bad_id,
        "3100",
        "Generic validation error - /transferId must be a UUID (lower case) or ULID",
    ));
    let mut bad_currency = transfer_body(&id, "payerfsp", "payeefsp");
    bad_currency["amount"]["currency"] = json!("ABC");
    cases.push((
        bad_currency,
        "3100",
        "Generic validation error - /amount/currency must be a supported ISO 4217 currency code",
    ));
    for (body, code, description) in cases {
        let got = app
            .send_json("POST", "/transfers", &post, &body)
            .await
            .error(400, code);
        assert!(got.starts_with(description), "{got} / {description}");
    }
    let got = app
        .send("POST", "/transfers", &post, Some(b"{not json"))
        .await
        .error(400, "3101");
    assert!(
        got.starts_with("Malformed syntax - body is not valid JSON"),
        "{got}"
    );
    app.send("POST", "/transfers", &post, None)
        .await
        .error(400, "3101");

    let put = fspiop_headers("PUT", "payeefsp", Some("payerfsp"));
    let path = format!("/transfers/{id}");
    let got = app
        .send_json(
            "PUT",
            &path,
            &put,
            &json!({"completedTimestamp": completed_timestamp(0)}),
        )
        .await
        .error(400, "3102");
    assert_eq!(
        got,
        "Missing mandatory element - body must have required property 'transferState'"
    );
    app.send_json("PUT", &path, &put, &json!({"transferState": "DONE"}))
        .await
        .error(400, "3100");
    app.send_json(
        "PUT",
        &path,
        &put,
        &json!({"transferState": "COMMITTED", "fulfilment": "short"}),
    )
    .await
    .error(400, "3100");
    app.send_json(
        "PUT",
        &path,
        &put,
        &json!({"transferState": "COMMITTED", "completedTimestamp": "yesterday"}),
    )
    .await
    .error(400, "3100");
    let error_path = format!("/transfers/{id}/error");
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
    app.send_json("PUT", &error_path, &put, &json!({"error": "x"}))
        .await
        .error(400, "3102");

    // The path id must be a UUID or ULID: 3101.
    let good_put = json!({"transferState": "COMMITTED"});
    let got = app
        .send_json("PUT", "/transfers/abc", &put, &good_put)
        .await
        .error(400, "3101");
    assert_eq!(got, "Malformed syntax - ID \"abc\" is not a UUID or ULID");
    let error = json!({"errorInformation": {"errorCode": "5100", "errorDescription": "x"}});
    app.send_json("PUT", "/transfers/abc/error", &put, &error)
        .await
        .error(400, "3101");
    app.send(
        "GET",
        "/transfers/ABC",
        &fspiop_headers("GET", "payerfsp", None),
        None,
    )
    .await
    .error(400, "3101");
    app.send_json(
        "PUT",
        "/transfers/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        &put,
        &good_put,
    )
    .await
    .empty(200);
    app.send_json(
        "PUT",
        "/transfers/01ARZ3NDEKTSV4RRFFQ69G5FAV/error",
        &put,
        &error,
    )
    .await
    .empty(200);
    app.stop().await;
}

#[tokio::test]
async fn completed_timestamp_window() {
    let app = app().await;
    let put = fspiop_headers("PUT", "payeefsp", Some("payerfsp"));
    let body = |offset_ms: i64| json!({"transferState": "COMMITTED", "completedTimestamp": completed_timestamp(offset_ms)});
    let path = format!("/transfers/{}", new_id());
    assert_eq!(
        app.send_json("PUT", &path, &put, &body(10_000))
            .await
            .error(400, "3100"),
        "Generic validation error - completedTimestamp fails because future timestamp was provided"
    );
    assert_eq!(
        app.send_json("PUT", &path, &put, &body(-301_000)).await.error(400, "3100"),
        "Generic validation error - completedTimestamp fails because provided timestamp exceeded the maximum timeout duration"
    );
    app.send_json("PUT", &path, &put, &body(-299_000))
        .await
        .empty(200);
    app.send_json("PUT", &path, &put, &body(100))
        .await
        .empty(200);
    app.send_json("PUT", &path, &put, &json!({"transferState": "COMMITTED"}))
        .await
        .empty(200);
    // Through a proxy the window is not checked.
    let proxied = with_header(put.clone(), "fspiop-proxy", Some("proxy-a"));
    app.send_json("PUT", &path, &proxied, &body(-3_600_000))
        .await
        .empty(200);
    // Not checked on the error callback either.
    let error = json!({"errorInformation": {"errorCode": "5100", "errorDescription": "x"}});
    app.send_json("PUT", &format!("{path}/error"), &put, &error)
        .await
        .empty(200);
    app.stop().await;
}

#[tokio::test]
async fn patch_unknown_routes_and_operations() {
    let app = app().await;
    let id = new_id();
    let patch = fspiop_headers("PATCH", "payeefsp", Some("payerfsp"));
    let body = json!({"transferState": "COMMITTED", "completedTimestamp": completed_timestamp(0)});
    assert_eq!(
        app.send_json("PATCH", &format!("/transfers/{id}"), &patch, &body)
            .await
            .error(501, "2002"),
        "Not implemented"
    );
    app.send_json(
        "PATCH",
        &format!("/transfers/{id}"),
        &with_header(patch, "date", None),
        &body,
    )
    .await
    .error(400, "3102");

    let post = fspiop_headers("POST", "payerfsp", Some("payeefsp"));
    assert_eq!(
        app.send("GET", "/nothing/here", &post, None)
            .await
            .error(404, "3002"),
        "Unknown URI"
    );
    app.send("POST", "/fxQuotes", &post, Some(b"{}"))
        .await
        .error(404, "3002");
    assert_eq!(
        app.send("DELETE", "/transfers", &post, None)
            .await
            .error(405, "3000"),
        "Generic client error - Method Not Allowed"
    );
    app.send("POST", &format!("/transfers/{id}"), &post, Some(b"{}"))
        .await
        .error(405, "3000");

    let health = app.send("GET", "/health", &[], None).await;
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(health.body["status"], "OK");
    assert_eq!(
        health.body["services"],
        json!([{"name": "broker", "status": "OK"}])
    );
    app.send("DELETE", "/endpointcache", &[], None)
        .await
        .empty(202);
    let root = app.send("GET", "/", &[], None).await;
    assert_eq!(root.status, 200);
    assert_eq!(
        root.body["urls"]["transfers"],
        "http://ml-api-adapter:3000/transfers"
    );

    app.send_json(
        "POST",
        "/transfers",
        &fspiop_headers("POST", "payerfsp", Some("payeefsp")),
        &transfer_body(&id, "payerfsp", "payeefsp"),
    )
    .await
    .empty(202);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("moja_ml_ml_transfer_prepare_count{success=\"true\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("moja_ml_http_requests_total{method=\"PATCH\",path=\"/transfers/{id}\",status_code=\"501\"} 1"), "{metrics}");
    app.stop().await;
}
