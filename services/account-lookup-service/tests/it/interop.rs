//! What Mojaloop's own tools send and expect (issue 16): optional headers filled with any text
//! are carried, not judged; body members the API definition does not name are accepted and
//! relayed byte for byte (refused with 3103 only under `[validation]
//! reject_additional_properties`); a party registered again by the DFSP that holds it is a
//! resend, not an error; an oracle's 404 is "Party not found".

use serde_json::{json, Value};

use crate::helpers::{fspiop_headers, spawn_dfsp, spawn_switch, spawn_switch_with, Dfsp, Switch};

/// The optional headers as Mojaloop's Testing Toolkit fills them when it plays a payee: text a
/// JSON-schema faker made from the API definition, which gives them no format.
pub const FAKER_HEADERS: &[(&str, &str)] = &[
    ("fspiop-http-method", "laboris proident labore"),
    ("fspiop-uri", "in dolor sint"),
    ("fspiop-signature", "ex sit veniam"),
    ("fspiop-encryption", "ullamco aliqua"),
    ("x-forwarded-for", "Ut aute"),
];

/// A `PUT /parties` body with members the API definition does not name, at the top and
/// inside `party`, written with unusual spacing so that a re-serialised body would show.
const PARTY_WITH_EXTRAS: &str = r#"{"party": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": "payeefsp"}, "name": "Mats Hagman",  "esse_1": "dolore"}, "esse_1": {"nisi": [1, 2.50, true]}}"#;

async fn payer_and_payee(switch: &Switch) -> (Dfsp, Dfsp) {
    let payer = spawn_dfsp("payerfsp").await;
    let payee = spawn_dfsp("payeefsp").await;
    switch.onboard(&payer).await;
    switch.onboard(&payee).await;
    (payer, payee)
}

/// The payee's `PUT /parties` headers at `version`, with the faker's optional headers.
fn payee_put_headers(version: &str) -> Vec<(String, String)> {
    let mut headers = fspiop_headers("PUT", "parties", "payeefsp", Some("payerfsp"));
    for (name, value) in &mut headers {
        if name == "content-type" {
            *value = format!("application/vnd.interoperability.parties+json;version={version}");
        }
    }
    headers.extend(
        FAKER_HEADERS
            .iter()
            .map(|(name, value)| ((*name).to_string(), (*value).to_string())),
    );
    headers
}

#[tokio::test]
async fn faker_headers_and_extra_members_are_relayed_untouched() {
    let switch = spawn_switch().await;
    let (payer, _payee) = payer_and_payee(&switch).await;
    for (version, id) in [
        ("2.0", "19012345401"),
        ("1.1", "19012345402"),
        ("1.0", "19012345403"),
    ] {
        let path = format!("/parties/MSISDN/{id}");
        let body = PARTY_WITH_EXTRAS.replace("19012345401", id);
        let answer = switch
            .call_with(
                "PUT",
                &path,
                &payee_put_headers(version),
                Some(body.clone()),
            )
            .await;
        assert_eq!(answer.status, 200, "version {version}: {answer:?}");
        let relayed = payer.wait_for("PUT", &path).await;
        assert_eq!(
            String::from_utf8_lossy(&relayed.body),
            body,
            "version {version}: the body is relayed byte for byte"
        );
        for (name, value) in FAKER_HEADERS {
            let expected = if *name == "fspiop-http-method" {
                // Set to the method of the relayed request, as Mojaloop does.
                "PUT"
            } else {
                value
            };
            assert_eq!(
                relayed.header(name),
                Some(expected),
                "version {version}: {name}"
            );
        }
        assert_eq!(
            relayed.header("content-type"),
            Some(
                format!("application/vnd.interoperability.parties+json;version={version}").as_str()
            )
        );
    }
    // The same headers on a payer's GET /parties and on its error callback are no reason to
    // refuse either.
    let mut get = fspiop_headers("GET", "parties", "payerfsp", None);
    get.extend(
        FAKER_HEADERS
            .iter()
            .map(|(name, value)| ((*name).to_string(), (*value).to_string())),
    );
    let answer = switch
        .call_with("GET", "/parties/MSISDN/19012349999", &get, None)
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    let error = payer
        .wait_for("PUT", "/parties/MSISDN/19012349999/error")
        .await;
    assert_eq!(error.error_code(), "3204", "{:?}", error.json());
    switch.stop().await;
}

#[tokio::test]
async fn extra_members_are_accepted_on_participants_requests() {
    let switch = spawn_switch().await;
    let dfsp = spawn_dfsp("dfsp1").await;
    switch.onboard(&dfsp).await;
    let path = "/participants/MSISDN/19012345401";
    let answer = switch
        .call(
            "POST",
            path,
            "dfsp1",
            None,
            Some(json!({"fspId": "dfsp1", "currency": "USD", "commodo": "laborum"})),
        )
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    let confirmation = dfsp.wait_for("PUT", path).await;
    assert_eq!(confirmation.json()["partyList"][0]["fspId"], "dfsp1");
    switch.stop().await;
}

#[tokio::test]
async fn the_strict_option_refuses_extra_members_with_3103() {
    let switch = spawn_switch_with(|config| {
        config.validation.reject_additional_properties = true;
    })
    .await;
    let (payer, _payee) = payer_and_payee(&switch).await;
    for version in ["2.0", "1.1"] {
        let answer = switch
            .call_with(
                "PUT",
                "/parties/MSISDN/19012345401",
                &payee_put_headers(version),
                Some(PARTY_WITH_EXTRAS.to_string()),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code(), answer.description()),
            (
                400,
                "3103",
                "Too many elements - body must NOT have additional property 'esse_1'"
            ),
            "version {version}"
        );
    }
    // Strictness is about bodies: the faker's headers with a body the API names pass.
    let body = json!({"party": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": "payeefsp"}}});
    let answer = switch
        .call_with(
            "PUT",
            "/parties/MSISDN/19012345401",
            &payee_put_headers("2.0"),
            Some(body.to_string()),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    payer.wait_for("PUT", "/parties/MSISDN/19012345401").await;
    switch.stop().await;
}

#[tokio::test]
async fn registering_again_is_a_resend_for_the_holder_and_3003_for_another_dfsp() {
    let switch = spawn_switch().await;
    let dfsp1 = spawn_dfsp("dfsp1").await;
    let dfsp2 = spawn_dfsp("dfsp2").await;
    switch.onboard(&dfsp1).await;
    switch.onboard(&dfsp2).await;
    let path = "/participants/MSISDN/19012345401";
    let register = |source: &'static str| {
        let switch = &switch;
        async move {
            let answer = switch
                .call(
                    "POST",
                    path,
                    source,
                    None,
                    Some(json!({"fspId": source, "currency": "USD"})),
                )
                .await;
            assert_eq!(answer.status, 202, "{answer:?}");
        }
    };
    register("dfsp1").await;
    register("dfsp1").await;
    let confirmations = dfsp1
        .wait_count("confirmations", 2, |r| r.method == "PUT" && r.path == path)
        .await;
    for confirmation in confirmations {
        assert_eq!(
            confirmation.json(),
            json!({"partyList": [{"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": "dfsp1"}], "currency": "USD"})
        );
    }
    // Another DFSP claiming the party: 3003, and the holder keeps it.
    register("dfsp2").await;
    let error = dfsp2.wait_for("PUT", &format!("{path}/error")).await;
    assert_eq!(
        error.json(),
        json!({"errorInformation": {"errorCode": "3003", "errorDescription": "Add Party information error - Party already exists [id: 19012345401]"}})
    );
    assert_eq!(
        switch.oracle_mappings("19012345401").await,
        vec![("dfsp1".to_string(), String::new())]
    );
    assert!(
        dfsp1.received().iter().all(|r| !r.path.ends_with("/error")),
        "the holder got no error"
    );
    switch.stop().await;
}

/// An oracle that answers every request 404, with `body` (or nothing).
async fn spawn_404_oracle(body: Option<Value>) -> String {
    let (listener, base) = test_support::listener().await;
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move {
            let mut response = axum::response::IntoResponse::into_response(
                body.map(|b| b.to_string()).unwrap_or_default(),
            );
            *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
            response
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

#[tokio::test]
async fn an_oracle_404_is_party_not_found() {
    let switch = spawn_switch().await;
    let (payer, _payee) = payer_and_payee(&switch).await;
    let bare = spawn_404_oracle(None).await;
    let with_body = spawn_404_oracle(Some(
        json!({"errorInformation": {"errorCode": "3200", "errorDescription": "Generic ID not found - party unknown"}}),
    ))
    .await;
    switch.register_oracle("ALIAS", &bare, None, true).await;
    switch
        .register_oracle("PERSONAL_ID", &with_body, None, true)
        .await;
    for (party_type, id) in [("ALIAS", "abc1"), ("PERSONAL_ID", "12345")] {
        for resource in ["parties", "participants"] {
            let path = format!("/{resource}/{party_type}/{id}");
            let answer = switch.call("GET", &path, "payerfsp", None, None).await;
            assert_eq!(answer.status, 202, "{path}: {answer:?}");
            let error = payer.wait_for("PUT", &format!("{path}/error")).await;
            // As when the oracle answers an empty partyList.
            let description = if resource == "parties" {
                "Party not found - No proxy found to start inter-scheme discovery flow"
            } else {
                "Party not found"
            };
            assert_eq!(
                error.json(),
                json!({"errorInformation": {"errorCode": "3204", "errorDescription": description}}),
                "{path}"
            );
        }
    }
    switch.stop().await;
}

/// An oracle that answers every registration 400 / 3003 "Party already exists" and every
/// lookup with `holder` as the party's DFSP.
async fn spawn_refusing_oracle(holder: &'static str) -> String {
    let (listener, base) = test_support::listener().await;
    let app = axum::Router::new().fallback(move |method: axum::http::Method| async move {
        let (status, body) = if method == axum::http::Method::GET {
            (200, json!({"partyList": [{"fspId": holder}]}))
        } else {
            (
                400,
                json!({"errorInformation": {"errorCode": "3003", "errorDescription": "Add Party information error - Party already exists"}}),
            )
        };
        let mut response = axum::response::IntoResponse::into_response(body.to_string());
        *response.status_mut() =
            axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
        response
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

#[tokio::test]
async fn an_oracle_that_refuses_every_existing_party_still_lets_the_holder_resend() {
    let switch = spawn_switch().await;
    let dfsp1 = spawn_dfsp("dfsp1").await;
    let dfsp2 = spawn_dfsp("dfsp2").await;
    switch.onboard(&dfsp1).await;
    switch.onboard(&dfsp2).await;
    let oracle = spawn_refusing_oracle("dfsp1").await;
    switch.register_oracle("ALIAS", &oracle, None, true).await;
    let path = "/participants/ALIAS/abc1";
    for source in ["dfsp1", "dfsp2"] {
        let answer = switch
            .call(
                "POST",
                path,
                source,
                None,
                Some(json!({"fspId": source, "currency": "USD"})),
            )
            .await;
        assert_eq!(answer.status, 202, "{answer:?}");
    }
    let confirmation = dfsp1.wait_for("PUT", path).await;
    assert_eq!(
        confirmation.json(),
        json!({"partyList": [{"partyIdType": "ALIAS", "partyIdentifier": "abc1", "fspId": "dfsp1"}], "currency": "USD"})
    );
    let error = dfsp2.wait_for("PUT", &format!("{path}/error")).await;
    assert_eq!(
        error.json(),
        json!({"errorInformation": {"errorCode": "3003", "errorDescription": "Add Party information error - Party already exists"}})
    );
    assert!(dfsp1.received().iter().all(|r| !r.path.ends_with("/error")));
    switch.stop().await;
}

#[tokio::test]
async fn an_answer_is_relayed_in_a_version_the_payers_lookup_accepted() {
    let switch = spawn_switch().await;
    let (payer, payee) = payer_and_payee(&switch).await;
    let media =
        |version: &str| format!("application/vnd.interoperability.parties+json;version={version}");
    // (the payer's Accept, the payee's Content-Type, what the payer gets)
    let cases = [
        ("19012345401", media("1.1"), media("2.0"), media("1.1")),
        ("19012345402", media("1"), media("2.0"), media("1.1")),
        ("19012345403", media("2.0"), media("2.0"), media("2.0")),
        ("19012345404", media("1.1"), media("1.0"), media("1.1")),
        (
            "19012345405",
            "application/vnd.interoperability.parties+json".to_string(),
            media("2.0"),
            media("2.0"),
        ),
    ];
    for (id, accept, answered, relayed_as) in &cases {
        switch.register_party(&payee, "MSISDN", id).await;
        let path = format!("/parties/MSISDN/{id}");
        let mut get = fspiop_headers("GET", "parties", "payerfsp", None);
        for (name, value) in &mut get {
            if name == "accept" {
                *value = accept.clone();
            }
        }
        let answer = switch.call_with("GET", &path, &get, None).await;
        assert_eq!(answer.status, 202, "{answer:?}");
        payee.wait_for("GET", &path).await;
        let mut put = fspiop_headers("PUT", "parties", "payeefsp", Some("payerfsp"));
        for (name, value) in &mut put {
            if name == "content-type" {
                *value = answered.clone();
            }
        }
        let body = PARTY_WITH_EXTRAS.replace("19012345401", id);
        let answer = switch
            .call_with("PUT", &path, &put, Some(body.clone()))
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let relayed = payer.wait_for("PUT", &path).await;
        assert_eq!(
            relayed.header("content-type"),
            Some(relayed_as.as_str()),
            "Accept {accept}, answered {answered}"
        );
        assert_eq!(String::from_utf8_lossy(&relayed.body), body);
    }
    // The payee's error, too.
    let (id, _, answered, relayed_as) = &cases[0];
    let error_path = format!("/parties/MSISDN/{id}/error");
    let mut put = fspiop_headers("PUT", "parties", "payeefsp", Some("payerfsp"));
    for (name, value) in &mut put {
        if name == "content-type" {
            *value = answered.clone();
        }
    }
    let error = r#"{"errorInformation":{"errorCode":"5100","errorDescription":"x"}}"#;
    switch
        .call_with("PUT", &error_path, &put, Some(error.to_string()))
        .await;
    let relayed = payer.wait_for("PUT", &error_path).await;
    assert_eq!(relayed.header("content-type"), Some(relayed_as.as_str()));
    switch.stop().await;
}

/// A payee's party answer the switch refuses (400 to the payee) is reported to the payer named
/// in its `FSPIOP-Destination` at once, in the version of the answer, rather than leaving the
/// payer to wait out its lookup.
#[tokio::test]
async fn the_payer_is_told_when_its_payees_answer_is_refused() {
    let switch = spawn_switch().await;
    let (payer, payee) = payer_and_payee(&switch).await;
    let id = "19012345409";
    switch.register_party(&payee, "MSISDN", id).await;
    let path = format!("/parties/MSISDN/{id}");
    let mut put = fspiop_headers("PUT", "parties", "payeefsp", Some("payerfsp"));
    for (name, value) in &mut put {
        if name == "content-type" {
            *value = "application/vnd.interoperability.parties+json;version=2.0".to_string();
        }
    }
    let answer = switch
        .call_with(
            "PUT",
            &path,
            &put,
            Some(r#"{"notAParty": true}"#.to_string()),
        )
        .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    let told = payer.wait_for("PUT", &format!("{path}/error")).await;
    let error = told.json();
    assert_eq!(error["errorInformation"]["errorCode"], "3102", "{error}");
    let description = error["errorInformation"]["errorDescription"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        description.contains("party answer of payeefsp refused by the switch"),
        "{description}"
    );
    assert_eq!(
        told.header("content-type"),
        Some("application/vnd.interoperability.parties+json;version=2.0")
    );
    assert_eq!(told.header("fspiop-source"), Some("Hub"));
    // Nothing was relayed as an answer.
    assert!(payer.received().iter().all(|r| r.path != path));
    // A sender that is not a participant makes the hub send nothing.
    let mut stranger = put.clone();
    for (name, value) in &mut stranger {
        if name == "fspiop-source" {
            *value = "strangerfsp".to_string();
        }
    }
    let other = "/parties/MSISDN/19012345408".to_string();
    let answer = switch
        .call_with("PUT", &other, &stranger, Some("{}".to_string()))
        .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(payer.received().iter().all(|r| !r.path.starts_with(&other)));
    switch.stop().await;
}
