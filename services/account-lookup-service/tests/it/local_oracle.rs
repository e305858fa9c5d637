//! The oracle called in-process (`mojaloop up`): the same registrations, lookups and errors as
//! over HTTP, with the oracle's URL closed so that nothing could have gone over a socket.

use serde_json::json;

use crate::helpers::{party_body, spawn_dfsp, spawn_switch_local_oracle};

#[tokio::test]
async fn registrations_lookups_and_errors_through_the_in_process_oracle() {
    let switch = spawn_switch_local_oracle().await;
    let payer = spawn_dfsp("payerfsp").await;
    let payee = spawn_dfsp("payeefsp").await;
    switch.onboard(&payer).await;
    switch.onboard(&payee).await;
    let path = "/participants/MSISDN/19012345401";

    // Registration goes to the oracle (POST through its router).
    let answer = switch
        .call(
            "POST",
            path,
            "payeefsp",
            None,
            Some(json!({"fspId": "payeefsp", "currency": "USD"})),
        )
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    let confirmation = payee.wait_for("PUT", path).await;
    assert_eq!(
        confirmation.json()["partyList"][0]["fspId"],
        json!("payeefsp")
    );
    assert_eq!(
        switch.oracle_mappings("19012345401").await,
        vec![("payeefsp".to_string(), String::new())]
    );
    // The oracle's own refusal (3003, a second registration) comes back verbatim.
    switch
        .call(
            "POST",
            path,
            "payerfsp",
            None,
            Some(json!({"fspId": "payerfsp"})),
        )
        .await;
    let error = payer.wait_for("PUT", &format!("{path}/error")).await;
    assert_eq!(
        error.json(),
        json!({"errorInformation": {"errorCode": "3003", "errorDescription": "Add Party information error - Party already exists [id: 19012345401]"}})
    );

    // A party lookup: the payee gets the payer's GET, the payer the payee's answer.
    let answer = switch
        .call("GET", "/parties/MSISDN/19012345401", "payerfsp", None, None)
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    let get = payee.wait_for("GET", "/parties/MSISDN/19012345401").await;
    assert_eq!(get.header("fspiop-destination"), Some("payeefsp"));
    let body = party_body("MSISDN", "19012345401", "payeefsp");
    let answer = switch
        .call(
            "PUT",
            "/parties/MSISDN/19012345401",
            "payeefsp",
            Some("payerfsp"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let found = payer.wait_for("PUT", "/parties/MSISDN/19012345401").await;
    assert_eq!(found.json(), body);

    // An unknown party: the oracle's 404 is the hub's 3204.
    switch
        .call("GET", "/parties/MSISDN/19012349999", "payerfsp", None, None)
        .await;
    let error = payer
        .wait_for("PUT", "/parties/MSISDN/19012349999/error")
        .await;
    assert_eq!(error.error_code(), "3204");

    // Deletion through the oracle; deleting again is the oracle's 3200.
    let answer = switch.call("DELETE", path, "payeefsp", None, None).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    payee
        .wait_until("the deletion", |r| {
            r.method == "PUT" && r.path == path && r.json() == json!({"fspId": "payeefsp"})
        })
        .await;
    assert!(switch.oracle_mappings("19012345401").await.is_empty());
    switch.call("DELETE", path, "payeefsp", None, None).await;
    let error = payee.wait_for("PUT", &format!("{path}/error")).await;
    assert_eq!(error.error_code(), "3200");
    switch.stop().await;
}
