//! The header rules at the ALS's edge (services.md §1.2–1.4): `Accept` and `Content-Type`
//! with version negotiation, `Date`, `FSPIOP-Source` (format and membership),
//! `FSPIOP-Destination`, path and body validation, routes; and what goes on the wire:
//! forwarded messages keep the sender's versions, hub messages carry the hub's.

use serde_json::json;

use crate::helpers::{fspiop_headers, party_body, raw_request, spawn_dfsp, spawn_switch, Switch};

const PATH: &str = "/parties/MSISDN/19012345401";

fn with(headers: &[(String, String)], name: &str, value: Option<&str>) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> =
        headers.iter().filter(|(n, _)| n != name).cloned().collect();
    if let Some(value) = value {
        headers.push((name.to_string(), value.to_string()));
    }
    headers
}

async fn expect(
    switch: &Switch,
    method: &str,
    headers: &[(String, String)],
    status: u16,
    code: &str,
    description: &str,
) {
    let body =
        (method == "PUT").then(|| party_body("MSISDN", "19012345401", "payeefsp").to_string());
    let answer = switch.call_with(method, PATH, headers, body).await;
    assert_eq!(
        (answer.status, answer.code()),
        (status, code),
        "{headers:?}: {answer:?}"
    );
    assert_eq!(answer.description(), description, "{headers:?}");
    assert_eq!(
        answer
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
}

#[tokio::test]
async fn header_rules_and_version_negotiation() {
    let switch = spawn_switch().await;
    let payer = spawn_dfsp("payerfsp").await;
    switch.onboard(&payer).await;
    let get = fspiop_headers("GET", "parties", "payerfsp", None);

    let (status, body) = raw_request(&switch.api, "GET", PATH, &with(&get, "accept", None)).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"errorInformation": {"errorCode": "3102", "errorDescription": "Missing mandatory element - accept is required"}})
    );
    let (status, _) = raw_request(&switch.api, "GET", PATH, &get).await;
    assert_eq!(
        status, 202,
        "the same request with its Accept header is accepted"
    );
    expect(
        &switch,
        "GET",
        &with(&get, "accept", Some("application/json")),
        400,
        "3101",
        "Malformed syntax - Invalid accept header",
    )
    .await;
    expect(
        &switch,
        "GET",
        &with(
            &get,
            "accept",
            Some("application/vnd.interoperability.participants+json;version=1"),
        ),
        400,
        "3101",
        "Malformed syntax - Invalid accept header",
    )
    .await;
    let unacceptable = switch
        .call_with(
            "GET",
            PATH,
            &with(
                &get,
                "accept",
                Some("application/vnd.interoperability.parties+json;version=9.9"),
            ),
            None,
        )
        .await;
    assert_eq!(unacceptable.status, 406);
    assert_eq!(
        unacceptable.body,
        json!({"errorInformation": {"errorCode": "3001", "errorDescription": "Unacceptable version requested - The Client requested an unsupported version, see extension list for supported version(s).", "extensionList": {"extension": [{"key": "1", "value": "0"}, {"key": "1", "value": "1"}, {"key": "2", "value": "0"}]}}})
    );
    expect(
        &switch,
        "GET",
        &with(&get, "content-type", Some("application/vnd.interoperability.parties+json;version=3.9")),
        406,
        "3001",
        "Unacceptable version requested - Client supplied a protocol version which is not supported by the server",
    )
    .await;
    expect(
        &switch,
        "GET",
        &with(&get, "content-type", None),
        400,
        "3102",
        "Missing mandatory element - Content-type is required",
    )
    .await;
    expect(
        &switch,
        "GET",
        &with(
            &get,
            "content-type",
            Some("application/vnd.interoperability.parties+json;version=1"),
        ),
        400,
        "3101",
        "Malformed syntax - Invalid content-type header",
    )
    .await;
    expect(
        &switch,
        "GET",
        &with(&get, "date", None),
        400,
        "3102",
        "Missing mandatory element - Missing required date header",
    )
    .await;
    expect(
        &switch,
        "GET",
        &with(&get, "date", Some("2024-01-01T00:00:00Z")),
        400,
        "3101",
        "Malformed syntax - Invalid date header",
    )
    .await;
    expect(
        &switch,
        "GET",
        &with(&get, "fspiop-source", None),
        400,
        "3102",
        "Missing mandatory element - Missing required fspiop-source header",
    )
    .await;
    expect(
        &switch,
        "GET",
        &with(&get, "fspiop-source", Some(&"x".repeat(33))),
        400,
        "3101",
        "Malformed syntax - Invalid fspiop-source header",
    )
    .await;
    expect(
        &switch,
        "GET",
        &with(&get, "fspiop-destination", Some("")),
        400,
        "3101",
        "Malformed syntax - Invalid fspiop-destination header",
    )
    .await;
    // A source that is not a participant (Mojaloop v17.16's check on GET /parties).
    expect(
        &switch,
        "GET",
        &with(&get, "fspiop-source", Some("ghostfsp")),
        400,
        "3101",
        "Malformed syntax - invalid fspiop-source header",
    )
    .await;

    // Callbacks must not carry Accept? They may; only its format is checked.
    let put = fspiop_headers("PUT", "parties", "payerfsp", Some("payerfsp"));
    expect(
        &switch,
        "PUT",
        &with(&put, "accept", Some("application/vnd.interoperability.parties+json;version=7")),
        406,
        "3001",
        "Unacceptable version requested - The Client requested an unsupported version, see extension list for supported version(s).",
    )
    .await;

    // Several Accept values: one supported is enough; "any version" too.
    for accept in [
        "application/vnd.interoperability.parties+json;version=9,application/vnd.interoperability.parties+json;version=2.0",
        "application/vnd.interoperability.parties+json",
    ] {
        let answer = switch.call_with("GET", PATH, &with(&get, "accept", Some(accept)), None).await;
        assert_eq!(answer.status, 202, "{accept}: {answer:?}");
    }
    switch.stop().await;
}

#[tokio::test]
async fn path_body_and_route_errors() {
    let switch = spawn_switch().await;
    let payer = spawn_dfsp("payerfsp").await;
    switch.onboard(&payer).await;

    let answer = switch
        .call("GET", "/parties/PHONE/19012345401", "payerfsp", None, None)
        .await;
    assert_eq!((answer.status, answer.code()), (400, "3100"), "{answer:?}");
    assert!(
        answer
            .description()
            .starts_with("Generic validation error - /Type must be a PartyIdType"),
        "{answer:?}"
    );
    let answer = switch
        .call("GET", "/parties/MSISDN/%7BID%7D", "payerfsp", None, None)
        .await;
    assert_eq!((answer.status, answer.code()), (400, "3100"), "{answer:?}");
    let answer = switch
        .call(
            "GET",
            &format!("/parties/MSISDN/{}", "1".repeat(129)),
            "payerfsp",
            None,
            None,
        )
        .await;
    assert_eq!((answer.status, answer.code()), (400, "3100"));
    let answer = switch
        .call(
            "GET",
            "/parties/MSISDN/19012345401?currency=ABC",
            "payerfsp",
            None,
            None,
        )
        .await;
    assert_eq!((answer.status, answer.code()), (400, "3100"));

    // Bodies: schema codes.
    let answer = switch
        .call("PUT", PATH, "payerfsp", Some("payerfsp"), Some(json!({})))
        .await;
    assert_eq!((answer.status, answer.code()), (400, "3102"), "{answer:?}");
    assert_eq!(
        answer.description(),
        "Missing mandatory element - body must have required property 'party'"
    );
    let answer = switch
        .call(
            "PUT",
            PATH,
            "payerfsp",
            Some("payerfsp"),
            Some(
                json!({"party": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": 5}}}),
            ),
        )
        .await;
    assert_eq!((answer.status, answer.code()), (400, "3101"), "{answer:?}");
    let headers = fspiop_headers("PUT", "parties", "payerfsp", Some("payerfsp"));
    let answer = switch
        .call_with("PUT", PATH, &headers, Some("{not json".to_string()))
        .await;
    assert_eq!((answer.status, answer.code()), (400, "3101"));
    let answer = switch
        .call(
            "PUT",
            &format!("{PATH}/error"),
            "payerfsp",
            Some("payerfsp"),
            Some(json!({"errorInformation": {"errorCode": "32a4", "errorDescription": "x"}})),
        )
        .await;
    assert_eq!((answer.status, answer.code()), (400, "3100"), "{answer:?}");
    let answer = switch
        .call(
            "POST",
            "/participants/MSISDN/19012345401",
            "payerfsp",
            None,
            Some(json!({"currency": "USD"})),
        )
        .await;
    assert_eq!((answer.status, answer.code()), (400, "3102"));
    let answer = switch
        .call(
            "POST",
            "/participants",
            "payerfsp",
            None,
            Some(json!({"requestId": "x", "partyList": []})),
        )
        .await;
    assert_eq!((answer.status, answer.code()), (400, "3100"));
    // Unknown body members are accepted at every version (refused only with the strict
    // option, see interop.rs).
    let mut v2 = fspiop_headers("PUT", "parties", "payerfsp", Some("payerfsp"));
    v2 = with(
        &v2,
        "content-type",
        Some("application/vnd.interoperability.parties+json;version=2.0"),
    );
    let mut body = party_body("MSISDN", "19012345401", "payerfsp");
    body["unexpected"] = json!(1);
    let answer = switch
        .call_with("PUT", PATH, &v2, Some(body.to_string()))
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");

    // Routes.
    let answer = switch
        .call("GET", "/nothing/here", "payerfsp", None, None)
        .await;
    assert_eq!((answer.status, answer.code()), (404, "3002"));
    let answer = switch
        .call("POST", PATH, "payerfsp", None, Some(json!({})))
        .await;
    assert_eq!((answer.status, answer.code()), (405, "3000"));
    assert_eq!(
        answer.description(),
        "Generic client error - Method Not Allowed"
    );
    let allow = answer
        .headers
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        allow.contains("GET") && allow.contains("PUT"),
        "Allow: {allow:?}"
    );
    switch.stop().await;
}

#[tokio::test]
async fn versions_pass_through_forwarded_messages_and_hub_messages_answer_in_the_requesters_version(
) {
    let switch = spawn_switch().await;
    let payer = spawn_dfsp("payerfsp").await;
    let payee = spawn_dfsp("payeefsp").await;
    switch.onboard(&payer).await;
    switch.onboard(&payee).await;
    switch.register_party(&payee, "MSISDN", "19012345401").await;

    let v2 = |method: &str, source: &str, destination: Option<&str>| {
        let mut headers = fspiop_headers(method, "parties", source, destination);
        headers = with(
            &headers,
            "content-type",
            Some("application/vnd.interoperability.parties+json;version=2.0"),
        );
        if method == "GET" {
            headers = with(
                &headers,
                "accept",
                Some("application/vnd.interoperability.parties+json;version=2"),
            );
        }
        headers
    };
    // A v2.0 lookup reaches the payee as v2.0.
    let answer = switch
        .call_with("GET", PATH, &v2("GET", "payerfsp", None), None)
        .await;
    assert_eq!(answer.status, 202);
    let get = payee.wait_for("GET", PATH).await;
    assert_eq!(
        get.header("content-type"),
        Some("application/vnd.interoperability.parties+json;version=2.0")
    );
    assert_eq!(
        get.header("accept"),
        Some("application/vnd.interoperability.parties+json;version=2")
    );
    let date = get.header("date").unwrap_or_default().to_string();
    assert!(fspiop::datetime::parse_http_date(&date).is_some(), "{date}");

    // A v2.0 lookup of an unknown party: the hub's error answers it in 2.0 (not the hub's
    // default, 1.1).
    switch
        .call_with(
            "GET",
            "/parties/MSISDN/19012340000",
            &v2("GET", "payerfsp", None),
            None,
        )
        .await;
    let error = payer
        .wait_for("PUT", "/parties/MSISDN/19012340000/error")
        .await;
    assert_eq!(
        error.header("content-type"),
        Some("application/vnd.interoperability.parties+json;version=2.0")
    );
    assert_eq!(error.header("fspiop-source"), Some("Hub"));
    assert_eq!(error.header("fspiop-signature"), None);
    switch.stop().await;
}
