//! `GET /parties` and the payee's `PUT /parties` back to the payer: the lookup through the
//! oracle, sub-ids, the destination short-cut, and every error the lookup can end in.

use serde_json::json;

use crate::helpers::{
    closed_base, endpoint_templates, party_body, spawn_dfsp, spawn_switch, spawn_switch_with, Dfsp,
    Switch,
};

/// The payer and payee DFSPs onboarded, the payee holding `msisdn`.
async fn payer_and_payee(switch: &Switch, msisdn: &str) -> (Dfsp, Dfsp) {
    let payer = spawn_dfsp("payerfsp").await;
    let payee = spawn_dfsp("payeefsp").await;
    switch.onboard(&payer).await;
    switch.onboard(&payee).await;
    switch.register_party(&payee, "MSISDN", msisdn).await;
    (payer, payee)
}

#[tokio::test]
async fn lookup_returns_the_payees_party_to_the_payer() {
    let switch = spawn_switch().await;
    let (payer, payee) = payer_and_payee(&switch, "19012345401").await;

    let mut headers = crate::helpers::fspiop_headers("GET", "parties", "payerfsp", None);
    headers.push((
        "fspiop-signature".into(),
        r#"{"signature":"sig","protectedHeader":"hdr"}"#.into(),
    ));
    headers.push(("fspiop-uri".into(), "/parties/MSISDN/19012345401".into()));
    headers.push(("fspiop-http-method".into(), "GET".into()));
    headers.push(("x-forwarded-for".into(), "10.1.2.3".into()));
    let answer = switch
        .call_with("GET", "/parties/MSISDN/19012345401", &headers, None)
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(
        answer.body,
        serde_json::Value::Null,
        "202 has an empty body"
    );

    // The payee gets the payer's GET, headers intact, destination filled in.
    let get = payee.wait_for("GET", "/parties/MSISDN/19012345401").await;
    assert_eq!(get.header("fspiop-source"), Some("payerfsp"));
    assert_eq!(get.header("fspiop-destination"), Some("payeefsp"));
    assert_eq!(
        get.header("accept"),
        Some("application/vnd.interoperability.parties+json;version=1")
    );
    assert_eq!(
        get.header("content-type"),
        Some("application/vnd.interoperability.parties+json;version=1.1")
    );
    assert_eq!(
        get.header("fspiop-signature"),
        Some(r#"{"signature":"sig","protectedHeader":"hdr"}"#)
    );
    assert_eq!(
        get.header("fspiop-uri"),
        Some("/parties/MSISDN/19012345401")
    );
    assert_eq!(get.header("fspiop-http-method"), Some("GET"));
    assert_eq!(get.header("x-forwarded-for"), Some("10.1.2.3"));
    assert!(get.body.is_empty());

    // The payee answers; the payer gets exactly those bytes.
    let body = party_body("MSISDN", "19012345401", "payeefsp")
        .to_string()
        .replace(',', ", ");
    let mut headers =
        crate::helpers::fspiop_headers("PUT", "parties", "payeefsp", Some("payerfsp"));
    headers.push((
        "fspiop-signature".into(),
        r#"{"signature":"payee","protectedHeader":"p"}"#.into(),
    ));
    let answer = switch
        .call_with(
            "PUT",
            "/parties/MSISDN/19012345401",
            &headers,
            Some(body.clone()),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let put = payer.wait_for("PUT", "/parties/MSISDN/19012345401").await;
    assert_eq!(
        put.body,
        body.as_bytes(),
        "the body is relayed byte for byte"
    );
    assert_eq!(put.header("fspiop-source"), Some("payeefsp"));
    assert_eq!(put.header("fspiop-destination"), Some("payerfsp"));
    assert_eq!(
        put.header("fspiop-signature"),
        Some(r#"{"signature":"payee","protectedHeader":"p"}"#)
    );
    assert_eq!(
        put.header("content-type"),
        Some("application/vnd.interoperability.parties+json;version=1.1")
    );
    assert!(
        crate::helpers::no_accept(&put),
        "{:?}",
        put.header("accept")
    );
    assert_eq!(put.json()["party"]["name"], "Mats Hagman");
    switch.stop().await;
}

#[tokio::test]
async fn unknown_party_gets_3204_from_the_hub() {
    let switch = spawn_switch().await;
    let (payer, _payee) = payer_and_payee(&switch, "19012345401").await;
    let answer = switch
        .call("GET", "/parties/MSISDN/19012349999", "payerfsp", None, None)
        .await;
    assert_eq!(answer.status, 202);
    let error = payer
        .wait_for("PUT", "/parties/MSISDN/19012349999/error")
        .await;
    assert_eq!(
        error.json(),
        json!({"errorInformation": {"errorCode": "3204", "errorDescription": "Party not found - No proxy found to start inter-scheme discovery flow"}})
    );
    assert_eq!(error.header("fspiop-source"), Some("Hub"));
    assert_eq!(error.header("fspiop-destination"), Some("payerfsp"));
    assert_eq!(
        error.header("content-type"),
        Some("application/vnd.interoperability.parties+json;version=1.1")
    );
    assert_eq!(
        error.header("fspiop-uri"),
        Some("/parties/MSISDN/19012349999/error")
    );
    assert_eq!(error.header("fspiop-http-method"), Some("PUT"));
    assert!(
        crate::helpers::no_accept(&error),
        "{:?}",
        error.header("accept")
    );
    switch.stop().await;
}

#[tokio::test]
async fn sub_id_lookups() {
    let switch = spawn_switch().await;
    let (payer, payee) = payer_and_payee(&switch, "19012345401").await;
    let other = spawn_dfsp("otherfsp").await;
    switch.onboard(&other).await;
    // otherfsp holds the PASSPORT sub-id of the same number.
    let answer = switch
        .call(
            "POST",
            "/participants/MSISDN/19012345401/PASSPORT",
            "otherfsp",
            None,
            Some(json!({"fspId": "otherfsp"})),
        )
        .await;
    assert_eq!(answer.status, 202);
    let confirmation = other
        .wait_for("PUT", "/participants/MSISDN/19012345401/PASSPORT")
        .await;
    assert_eq!(
        confirmation.json(),
        json!({"partyList": [{"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": "otherfsp", "partySubIdOrType": "PASSPORT"}]})
    );

    // With the sub-id the lookup goes to otherfsp's SUB_ID_GET endpoint...
    switch
        .call(
            "GET",
            "/parties/MSISDN/19012345401/PASSPORT",
            "payerfsp",
            None,
            None,
        )
        .await;
    let get = other
        .wait_for("GET", "/parties/MSISDN/19012345401/PASSPORT")
        .await;
    assert_eq!(get.header("fspiop-destination"), Some("otherfsp"));
    // ... and without it to payeefsp, whose mapping has no sub-id.
    switch
        .call("GET", "/parties/MSISDN/19012345401", "payerfsp", None, None)
        .await;
    payee.wait_for("GET", "/parties/MSISDN/19012345401").await;
    assert!(other
        .received()
        .iter()
        .all(|r| r.path != "/parties/MSISDN/19012345401"));

    // otherfsp answers on the sub-id path: the payer gets it on its SUB_ID_PUT endpoint.
    let answer = switch
        .call(
            "PUT",
            "/parties/MSISDN/19012345401/PASSPORT",
            "otherfsp",
            Some("payerfsp"),
            Some(party_body("MSISDN", "19012345401", "otherfsp")),
        )
        .await;
    assert_eq!(answer.status, 200);
    payer
        .wait_for("PUT", "/parties/MSISDN/19012345401/PASSPORT")
        .await;

    // A sub-id nobody registered: the oracle knows the number, but not with this sub-id.
    switch.register_party(&payee, "MSISDN", "19012345402").await;
    switch
        .call(
            "GET",
            "/parties/MSISDN/19012345402/DRIVING_LICENSE",
            "payerfsp",
            None,
            None,
        )
        .await;
    let error = payer
        .wait_for("PUT", "/parties/MSISDN/19012345402/DRIVING_LICENSE/error")
        .await;
    assert_eq!(error.error_code(), "3204", "{:?}", error.json());

    // Only a sub-id mapping exists: a lookup without the sub-id finds nothing to send to.
    switch
        .call(
            "POST",
            "/participants/MSISDN/19012345403/WORK",
            "otherfsp",
            None,
            Some(json!({"fspId": "otherfsp"})),
        )
        .await;
    other
        .wait_for("PUT", "/participants/MSISDN/19012345403/WORK")
        .await;
    switch
        .call("GET", "/parties/MSISDN/19012345403", "payerfsp", None, None)
        .await;
    let error = payer
        .wait_for("PUT", "/parties/MSISDN/19012345403/error")
        .await;
    assert_eq!(
        error.json()["errorInformation"]["errorDescription"],
        "Generic ID not found - Empty oracle partyList, filtered based on callbackEndpointType"
    );
    assert_eq!(error.error_code(), "3200");
    switch.stop().await;
}

#[tokio::test]
async fn a_destination_header_bypasses_the_oracle() {
    let switch = spawn_switch().await;
    let (payer, payee) = payer_and_payee(&switch, "19012345401").await;
    // Not registered anywhere, but the payer names the payee's DFSP.
    switch
        .call(
            "GET",
            "/parties/MSISDN/19012340000",
            "payerfsp",
            Some("payeefsp"),
            None,
        )
        .await;
    let get = payee.wait_for("GET", "/parties/MSISDN/19012340000").await;
    assert_eq!(get.header("fspiop-destination"), Some("payeefsp"));
    // A destination that is not a participant: 3204.
    switch
        .call(
            "GET",
            "/parties/MSISDN/19012345401",
            "payerfsp",
            Some("nobodyfsp"),
            None,
        )
        .await;
    let error = payer
        .wait_for("PUT", "/parties/MSISDN/19012345401/error")
        .await;
    assert_eq!(error.error_code(), "3204");
    switch.stop().await;
}

#[tokio::test]
async fn unreachable_payee_gets_1001_to_the_payer() {
    let switch = spawn_switch().await;
    let payer = spawn_dfsp("payerfsp").await;
    switch.onboard(&payer).await;
    // payeefsp registered its party, but its GET endpoint points nowhere.
    let payee = spawn_dfsp("payeefsp").await;
    let closed = closed_base().await;
    let endpoints: Vec<(&str, String)> = endpoint_templates(&payee.base)
        .into_iter()
        .map(|(kind, value)| {
            if kind == "FSPIOP_CALLBACK_URL_PARTIES_GET" {
                (kind, value.replace(&payee.base, &closed))
            } else {
                (kind, value)
            }
        })
        .collect();
    switch.onboard_with("payeefsp", &endpoints).await;
    switch.register_party(&payee, "MSISDN", "19012345401").await;
    // nopartiesfsp has no PARTIES_GET endpoint at all.
    let silent = spawn_dfsp("nopartiesfsp").await;
    let endpoints: Vec<(&str, String)> = endpoint_templates(&silent.base)
        .into_iter()
        .filter(|(kind, _)| !kind.starts_with("FSPIOP_CALLBACK_URL_PARTIES"))
        .collect();
    switch.onboard_with("nopartiesfsp", &endpoints).await;
    switch
        .register_party(&silent, "MSISDN", "19012345402")
        .await;

    switch
        .call("GET", "/parties/MSISDN/19012345401", "payerfsp", None, None)
        .await;
    let error = payer
        .wait_for("PUT", "/parties/MSISDN/19012345401/error")
        .await;
    assert_eq!(
        error.json(),
        json!({"errorInformation": {"errorCode": "1001", "errorDescription": "Destination communication error - Failed to send HTTP request to host"}})
    );
    switch
        .call("GET", "/parties/MSISDN/19012345402", "payerfsp", None, None)
        .await;
    let error = payer
        .wait_for("PUT", "/parties/MSISDN/19012345402/error")
        .await;
    assert_eq!(error.error_code(), "1001");
    assert_eq!(
        error.json()["errorInformation"]["errorDescription"],
        "Destination communication error - no FSPIOP_CALLBACK_URL_PARTIES_GET endpoint for DFSP nopartiesfsp"
    );
    switch.stop().await;
}

#[tokio::test]
async fn invalid_identifier_gets_3101() {
    let switch = spawn_switch().await;
    let (payer, _payee) = payer_and_payee(&switch, "19012345401").await;
    switch
        .call("GET", "/parties/MSISDN/1901abc", "payerfsp", None, None)
        .await;
    let error = payer.wait_for("PUT", "/parties/MSISDN/1901abc/error").await;
    assert_eq!(error.json()["errorInformation"]["errorCode"], "3101");
    assert_eq!(
        error.json()["errorInformation"]["errorDescription"],
        "Malformed syntax - invalid MSISDN party identifier"
    );
    switch
        .call("GET", "/parties/EMAIL/not-an-email", "payerfsp", None, None)
        .await;
    let error = payer
        .wait_for("PUT", "/parties/EMAIL/not-an-email/error")
        .await;
    assert_eq!(error.error_code(), "3101");
    switch.stop().await;
}

#[tokio::test]
async fn oracle_down_gets_2003_and_a_missing_oracle_3003() {
    let switch = spawn_switch().await;
    let (payer, _payee) = payer_and_payee(&switch, "19012345401").await;
    // EMAIL has no oracle.
    switch
        .call(
            "GET",
            "/parties/EMAIL/someone@example.com",
            "payerfsp",
            None,
            None,
        )
        .await;
    let error = payer
        .wait_for("PUT", "/parties/EMAIL/someone@example.com/error")
        .await;
    assert_eq!(
        error.json(),
        json!({"errorInformation": {"errorCode": "3003", "errorDescription": "Add Party information error - Oracle type:EMAIL not found"}})
    );
    // ACCOUNT_ID's oracle is registered but down.
    switch
        .register_oracle("ACCOUNT_ID", &closed_base().await, None, true)
        .await;
    switch
        .call("GET", "/parties/ACCOUNT_ID/1234567", "payerfsp", None, None)
        .await;
    let error = payer
        .wait_for("PUT", "/parties/ACCOUNT_ID/1234567/error")
        .await;
    assert_eq!(
        error.json(),
        json!({"errorInformation": {"errorCode": "2003", "errorDescription": "Service currently unavailable - oracle unreachable"}})
    );
    switch.stop().await;
}

#[tokio::test]
async fn per_currency_oracles_and_the_lookup_cache() {
    let switch = spawn_switch_with(|config| {
        config.oracle.lookup_cache_enabled = true;
        config.oracle.lookup_cache_ttl_ms = 60_000;
    })
    .await;
    let (payer, payee) = payer_and_payee(&switch, "19012345401").await;
    // A EUR oracle that is down: lookups naming EUR go there; lookups naming a currency
    // without an oracle of its own go to the type's oracle without a currency.
    switch
        .register_oracle("MSISDN", &closed_base().await, Some("EUR"), false)
        .await;
    switch
        .call(
            "GET",
            "/parties/MSISDN/19012345401?currency=EUR",
            "payerfsp",
            None,
            None,
        )
        .await;
    let error = payer
        .wait_for("PUT", "/parties/MSISDN/19012345401/error")
        .await;
    assert_eq!(error.error_code(), "2003");
    switch
        .call(
            "GET",
            "/parties/MSISDN/19012345401?currency=USD",
            "payerfsp",
            None,
            None,
        )
        .await;
    payee.wait_for("GET", "/parties/MSISDN/19012345401").await;

    // The answer is cached: removing the mapping behind the ALS's back does not change it...
    sqlx::query("DELETE FROM oracleMSISDN")
        .execute(&switch.oracle_pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    switch
        .call(
            "GET",
            "/parties/MSISDN/19012345401?currency=USD",
            "payerfsp",
            None,
            None,
        )
        .await;
    payee.wait_count("lookups", 2, |r| r.method == "GET").await;
    // ... but a registration through the ALS drops the party's entries.
    let other = spawn_dfsp("otherfsp").await;
    switch.onboard(&other).await;
    switch.register_party(&other, "MSISDN", "19012345401").await;
    switch
        .call(
            "GET",
            "/parties/MSISDN/19012345401?currency=USD",
            "payerfsp",
            None,
            None,
        )
        .await;
    other.wait_for("GET", "/parties/MSISDN/19012345401").await;
    switch.stop().await;
}
