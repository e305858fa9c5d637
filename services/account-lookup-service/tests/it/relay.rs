//! Callbacks relayed between DFSPs and the errors about them: `PUT /parties/…/error` from the
//! payee to the payer, `PUT /participants/…/error` to its destination, unknown destinations
//! (3201 back to the sender), and a payer that cannot be reached (1001 back to the payee).

use serde_json::json;

use crate::helpers::{
    closed_base, endpoint_templates, fspiop_headers, party_body, spawn_dfsp, spawn_switch,
};

#[tokio::test]
async fn error_callbacks_are_relayed_both_ways() {
    let switch = spawn_switch().await;
    let payer = spawn_dfsp("payerfsp").await;
    let payee = spawn_dfsp("payeefsp").await;
    switch.onboard(&payer).await;
    switch.onboard(&payee).await;

    // Payee → payer: the payee's own error, verbatim, to PARTIES_PUT_ERROR.
    let body = r#"{"errorInformation":{"errorCode":"5100","errorDescription":"Payee rejected the lookup","extensionList":{"extension":[{"key":"reason","value":"blocked"}]}}}"#;
    let headers = fspiop_headers("PUT", "parties", "payeefsp", Some("payerfsp"));
    let answer = switch
        .call_with(
            "PUT",
            "/parties/MSISDN/19012345401/error",
            &headers,
            Some(body.to_string()),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let relayed = payer
        .wait_for("PUT", "/parties/MSISDN/19012345401/error")
        .await;
    assert_eq!(relayed.body, body.as_bytes());
    assert_eq!(relayed.header("fspiop-source"), Some("payeefsp"));
    assert_eq!(relayed.header("fspiop-destination"), Some("payerfsp"));

    // With a sub-id: to the SUB_ID variant.
    let headers = fspiop_headers("PUT", "parties", "payeefsp", Some("payerfsp"));
    switch
        .call_with(
            "PUT",
            "/parties/MSISDN/19012345401/PASSPORT/error",
            &headers,
            Some(body.to_string()),
        )
        .await;
    payer
        .wait_for("PUT", "/parties/MSISDN/19012345401/PASSPORT/error")
        .await;

    // Payer → payee on /participants: to PARTICIPANT_PUT_ERROR.
    let headers = fspiop_headers("PUT", "participants", "payerfsp", Some("payeefsp"));
    let answer = switch
        .call_with(
            "PUT",
            "/participants/MSISDN/19012345401/error",
            &headers,
            Some(body.to_string()),
        )
        .await;
    assert_eq!(answer.status, 200);
    let relayed = payee
        .wait_for("PUT", "/participants/MSISDN/19012345401/error")
        .await;
    assert_eq!(relayed.body, body.as_bytes());
    assert_eq!(relayed.header("fspiop-source"), Some("payerfsp"));
    switch.stop().await;
}

#[tokio::test]
async fn unknown_destination_gets_3201_to_the_sender() {
    let switch = spawn_switch().await;
    let payee = spawn_dfsp("payeefsp").await;
    switch.onboard(&payee).await;
    let answer = switch
        .call(
            "PUT",
            "/parties/MSISDN/19012345401",
            "payeefsp",
            Some("nobodyfsp"),
            Some(party_body("MSISDN", "19012345401", "payeefsp")),
        )
        .await;
    assert_eq!(answer.status, 200);
    let error = payee
        .wait_for("PUT", "/parties/MSISDN/19012345401/error")
        .await;
    assert_eq!(
        error.json(),
        json!({"errorInformation": {"errorCode": "3201", "errorDescription": "Destination FSP Error - Destination FSP not found"}})
    );
    assert_eq!(error.header("fspiop-source"), Some("Hub"));
    assert_eq!(error.header("fspiop-destination"), Some("payeefsp"));

    // No destination at all: the same.
    switch
        .call(
            "PUT",
            "/parties/MSISDN/19012345402",
            "payeefsp",
            None,
            Some(party_body("MSISDN", "19012345402", "payeefsp")),
        )
        .await;
    assert_eq!(
        payee
            .wait_for("PUT", "/parties/MSISDN/19012345402/error")
            .await
            .error_code(),
        "3201"
    );

    // An error callback to an unknown destination: 3201 back too.
    let body =
        json!({"errorInformation": {"errorCode": "3204", "errorDescription": "Party not found"}});
    switch
        .call(
            "PUT",
            "/parties/MSISDN/19012345403/error",
            "payeefsp",
            Some("nobodyfsp"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        payee
            .wait_for("PUT", "/parties/MSISDN/19012345403/error")
            .await
            .error_code(),
        "3201"
    );
    switch
        .call(
            "PUT",
            "/participants/MSISDN/19012345404/error",
            "payeefsp",
            Some("nobodyfsp"),
            Some(body),
        )
        .await;
    let error = payee
        .wait_for("PUT", "/participants/MSISDN/19012345404/error")
        .await;
    assert_eq!(error.error_code(), "3201");
    switch.stop().await;
}

#[tokio::test]
async fn unreachable_payer_gets_1001_back_to_the_payee() {
    let switch = spawn_switch().await;
    let payee = spawn_dfsp("payeefsp").await;
    switch.onboard(&payee).await;
    let closed = closed_base().await;
    switch
        .onboard_with("payerfsp", &endpoint_templates(&closed))
        .await;
    switch
        .call(
            "PUT",
            "/parties/MSISDN/19012345401",
            "payeefsp",
            Some("payerfsp"),
            Some(party_body("MSISDN", "19012345401", "payeefsp")),
        )
        .await;
    let error = payee
        .wait_for("PUT", "/parties/MSISDN/19012345401/error")
        .await;
    assert_eq!(error.error_code(), "1001");

    // A payer that refuses the callback (400, no errorInformation): 3000 goes back.
    let refusing = spawn_dfsp("refusingfsp").await;
    switch.onboard(&refusing).await;
    refusing.answer(400);
    switch
        .call(
            "PUT",
            "/parties/MSISDN/19012345402",
            "payeefsp",
            Some("refusingfsp"),
            Some(party_body("MSISDN", "19012345402", "payeefsp")),
        )
        .await;
    let error = payee
        .wait_for("PUT", "/parties/MSISDN/19012345402/error")
        .await;
    assert_eq!(error.error_code(), "3000");
    switch.stop().await;
}
