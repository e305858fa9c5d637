//! `/participants`: registration, lookup, update and deletion through the oracle with their
//! callbacks, batch registration with partial failures, and the 501 routes.

use std::time::Instant;

use serde_json::{json, Value};

use crate::helpers::{fspiop_headers, spawn_dfsp, spawn_switch, spawn_switch_with};

#[tokio::test]
async fn register_look_up_update_and_delete() {
    let switch = spawn_switch().await;
    let dfsp1 = spawn_dfsp("dfsp1").await;
    let dfsp2 = spawn_dfsp("dfsp2").await;
    switch.onboard(&dfsp1).await;
    switch.onboard(&dfsp2).await;
    let path = "/participants/MSISDN/19012345401";

    // Registration: 202, the oracle has it, the callback lists the party.
    let answer = switch
        .call(
            "POST",
            path,
            "dfsp1",
            None,
            Some(json!({"fspId": "dfsp1", "currency": "USD"})),
        )
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    let confirmation = dfsp1.wait_for("PUT", path).await;
    assert_eq!(
        confirmation.json(),
        json!({"partyList": [{"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": "dfsp1"}], "currency": "USD"})
    );
    assert_eq!(confirmation.header("fspiop-source"), Some("Hub"));
    assert_eq!(confirmation.header("fspiop-destination"), Some("dfsp1"));
    assert_eq!(
        confirmation.header("content-type"),
        Some("application/vnd.interoperability.participants+json;version=1.1")
    );
    assert_eq!(confirmation.header("fspiop-uri"), Some(path));
    assert_eq!(
        switch.oracle_mappings("19012345401").await,
        vec![("dfsp1".to_string(), String::new())]
    );

    // A second registration of the same party: the oracle's 3003, to the requester.
    switch
        .call("POST", path, "dfsp2", None, Some(json!({"fspId": "dfsp2"})))
        .await;
    let error = dfsp2.wait_for("PUT", &format!("{path}/error")).await;
    assert_eq!(
        error.json(),
        json!({"errorInformation": {"errorCode": "3003", "errorDescription": "Add Party information error - Party already exists [id: 19012345401]"}})
    );

    // Lookup: {fspId} to the requester.
    let answer = switch.call("GET", path, "dfsp2", None, None).await;
    assert_eq!(answer.status, 202);
    let found = dfsp2.wait_for("PUT", path).await;
    assert_eq!(found.json(), json!({"fspId": "dfsp1"}));
    switch
        .call(
            "GET",
            "/participants/MSISDN/19012349999",
            "dfsp2",
            None,
            None,
        )
        .await;
    let error = dfsp2
        .wait_for("PUT", "/participants/MSISDN/19012349999/error")
        .await;
    assert_eq!(
        error.json(),
        json!({"errorInformation": {"errorCode": "3204", "errorDescription": "Party not found"}})
    );

    // Update: 200, the oracle now says dfsp2, and dfsp2 is told.
    let answer = switch
        .call("PUT", path, "dfsp1", None, Some(json!({"fspId": "dfsp2"})))
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let updated = dfsp2
        .wait_until("the update", |r| {
            r.method == "PUT" && r.path == path && r.json().get("partyList").is_some()
        })
        .await;
    assert_eq!(
        updated.json(),
        json!({"partyList": [{"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": "dfsp2"}]})
    );
    assert_eq!(
        switch.oracle_mappings("19012345401").await,
        vec![("dfsp2".to_string(), String::new())]
    );
    // Updating a party nobody registered: the oracle's 3200, to the requester.
    switch
        .call(
            "PUT",
            "/participants/MSISDN/19012340000",
            "dfsp1",
            None,
            Some(json!({"fspId": "dfsp1"})),
        )
        .await;
    assert_eq!(
        dfsp1
            .wait_for("PUT", "/participants/MSISDN/19012340000/error")
            .await
            .error_code(),
        "3200"
    );

    // Deletion: 202, {fspId: source} to the requester, gone from the oracle.
    let answer = switch.call("DELETE", path, "dfsp2", None, None).await;
    assert_eq!(answer.status, 202);
    let deleted = dfsp2
        .wait_until("the deletion", |r| {
            r.method == "PUT" && r.path == path && r.json() == json!({"fspId": "dfsp2"})
        })
        .await;
    assert_eq!(deleted.header("fspiop-source"), Some("Hub"));
    assert!(switch.oracle_mappings("19012345401").await.is_empty());
    // Deleting it again: the oracle's 3200.
    switch.call("DELETE", path, "dfsp2", None, None).await;
    let error_path = format!("{path}/error");
    let errors = dfsp2
        .wait_count("error callbacks", 2, |r| r.path == error_path)
        .await;
    assert_eq!(errors[1].error_code(), "3200");
    switch.stop().await;
}

#[tokio::test]
async fn sub_ids_destinations_and_ownership() {
    let switch = spawn_switch_with(|config| config.oracle.delete_validation_enabled = true).await;
    let dfsp1 = spawn_dfsp("dfsp1").await;
    let dfsp2 = spawn_dfsp("dfsp2").await;
    switch.onboard(&dfsp1).await;
    switch.onboard(&dfsp2).await;

    // Registered by dfsp1 for dfsp2 with a destination: the confirmation goes to dfsp2.
    let path = "/participants/MSISDN/19012345401/PASSPORT";
    switch
        .call(
            "POST",
            path,
            "dfsp1",
            Some("dfsp2"),
            Some(json!({"fspId": "dfsp2"})),
        )
        .await;
    let confirmation = dfsp2.wait_for("PUT", path).await;
    assert_eq!(
        confirmation.json()["partyList"][0]["partySubIdOrType"],
        "PASSPORT"
    );
    assert_eq!(
        switch.oracle_mappings("19012345401").await,
        vec![("dfsp2".to_string(), "PASSPORT".to_string())]
    );

    // The sub-id lookup answers on the SUB_ID endpoint.
    switch.call("GET", path, "dfsp1", None, None).await;
    assert_eq!(
        dfsp1.wait_for("PUT", path).await.json(),
        json!({"fspId": "dfsp2"})
    );

    // Deletion checks ownership: dfsp1 does not own it.
    switch.call("DELETE", path, "dfsp1", None, None).await;
    let error = dfsp1.wait_for("PUT", &format!("{path}/error")).await;
    assert_eq!(
        error.json(),
        json!({"errorInformation": {"errorCode": "3040", "errorDescription": "Delete Party information error - The party MSISDN:19012345401 does not belong to the requesting FSP"}})
    );
    // The owner deletes only that sub-id.
    switch
        .call(
            "POST",
            "/participants/MSISDN/19012345401",
            "dfsp1",
            None,
            Some(json!({"fspId": "dfsp1"})),
        )
        .await;
    dfsp1
        .wait_for("PUT", "/participants/MSISDN/19012345401")
        .await;
    switch.call("DELETE", path, "dfsp2", None, None).await;
    dfsp2
        .wait_until("the deletion", |r| {
            r.path == path && r.json() == json!({"fspId": "dfsp2"})
        })
        .await;
    assert_eq!(
        switch.oracle_mappings("19012345401").await,
        vec![("dfsp1".to_string(), String::new())]
    );
    switch.stop().await;
}

#[tokio::test]
async fn batch_registration_with_partial_failures() {
    let switch = spawn_switch().await;
    let dfsp1 = spawn_dfsp("dfsp1").await;
    switch.onboard(&dfsp1).await;
    switch.register_party(&dfsp1, "MSISDN", "19012345400").await;

    let request_id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "requestId": request_id,
        "currency": "USD",
        "partyList": [
            {"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": "dfsp1"},
            {"partyIdType": "MSISDN", "partyIdentifier": "19012345402", "fspId": "dfsp9"},
            {"partyIdType": "MSISDN", "partyIdentifier": "19012345400", "fspId": "dfsp1"},
            {"partyIdType": "EMAIL", "partyIdentifier": "a@b.example", "fspId": "dfsp1"},
            {"partyIdType": "MSISDN", "partyIdentifier": "19012345403", "partySubIdOrType": "WORK", "fspId": "dfsp1"}
        ]
    });
    let answer = switch
        .call("POST", "/participants", "dfsp1", None, Some(body))
        .await;
    assert_eq!(
        answer.status, 200,
        "the batch answers 200, as Mojaloop does: {answer:?}"
    );
    let result = dfsp1
        .wait_for("PUT", &format!("/participants/{request_id}"))
        .await;
    assert_eq!(result.header("fspiop-source"), Some("Hub"));
    let result = result.json();
    assert_eq!(result["currency"], "USD");
    let list = result["partyList"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 5, "{result}");
    let by_id = |id: &str| -> Value {
        list.iter()
            .find(|item| item["partyId"]["partyIdentifier"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} missing: {result}"))
    };
    assert_eq!(
        by_id("19012345401"),
        json!({"partyId": {"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": "dfsp1"}})
    );
    assert_eq!(
        by_id("19012345402")["errorInformation"],
        json!({"errorCode": "3204", "errorDescription": "Party not found", "extensionList": {"extension": [{"key": "MSISDN", "value": "19012345402"}]}})
    );
    assert_eq!(
        by_id("19012345400")["errorInformation"]["errorCode"],
        "3003",
        "already registered"
    );
    assert_eq!(
        by_id("a@b.example")["errorInformation"],
        json!({"errorCode": "3003", "errorDescription": "Add Party information error - Oracle type:EMAIL not found", "extensionList": {"extension": [{"key": "EMAIL", "value": "a@b.example"}]}})
    );
    assert!(by_id("19012345403").get("errorInformation").is_none());
    assert_eq!(
        switch.oracle_mappings("19012345403").await,
        vec![("dfsp1".to_string(), "WORK".to_string())]
    );
    switch.stop().await;
}

/// Onboarding-sized registration: 8 DFSPs × 100 MSISDNs in one batch each, through the ALS.
#[tokio::test]
async fn registering_800_msisdns_takes_seconds() {
    let switch = spawn_switch().await;
    let mut dfsps = Vec::new();
    for n in 1..=8 {
        let dfsp = spawn_dfsp(&format!("perffsp-{n}")).await;
        switch.onboard(&dfsp).await;
        dfsps.push(dfsp);
    }
    let started = Instant::now();
    let mut request_ids = Vec::new();
    for (index, dfsp) in dfsps.iter().enumerate() {
        let party_list: Vec<Value> = (0..100)
            .map(|n| json!({"partyIdType": "MSISDN", "partyIdentifier": format!("1902{index:02}{n:05}"), "fspId": dfsp.name}))
            .collect();
        let request_id = uuid::Uuid::new_v4().to_string();
        let answer = switch
            .call(
                "POST",
                "/participants",
                &dfsp.name,
                None,
                Some(json!({"requestId": request_id, "partyList": party_list, "currency": "USD"})),
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        request_ids.push(request_id);
    }
    for (dfsp, request_id) in dfsps.iter().zip(&request_ids) {
        let result = dfsp
            .wait_for("PUT", &format!("/participants/{request_id}"))
            .await
            .json();
        let list = result["partyList"].as_array().cloned().unwrap_or_default();
        assert_eq!(list.len(), 100);
        assert!(
            list.iter()
                .all(|item| item.get("errorInformation").is_none()),
            "{result}"
        );
    }
    let elapsed = started.elapsed();
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM oracleMSISDN")
        .fetch_one(&switch.oracle_pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count, 800);
    eprintln!(
        "800 MSISDNs registered through the ALS in {} ms",
        elapsed.as_millis()
    );
    assert!(elapsed.as_secs() < 10, "took {elapsed:?}");
    switch.stop().await;
}

#[tokio::test]
async fn put_participants_id_is_not_implemented() {
    let switch = spawn_switch().await;
    let id = "/participants/0e1f2a3b-0000-4000-8000-000000000001";
    let callback = json!({"partyList": [{"partyId": {"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "fspId": "dfsp1"}}], "currency": "USD"});
    let error =
        json!({"errorInformation": {"errorCode": "3204", "errorDescription": "Party not found"}});
    for (path, body) in [(id.to_string(), &callback), (format!("{id}/error"), &error)] {
        let answer = switch
            .call("PUT", &path, "dfsp1", None, Some(body.clone()))
            .await;
        assert_eq!(answer.status, 501, "{answer:?}");
        assert_eq!(
            answer.body,
            json!({"errorInformation": {"errorCode": "2002", "errorDescription": "Not implemented"}})
        );
    }
    switch.stop().await;
}

/// Found by the API fuzzing (interop/apifuzz): the 501 routes answered 501 to any request;
/// a request the switch would refuse on any other route (a required header missing, a body
/// that is not the operation's) is refused here too, before the 501, as in Mojaloop.
#[tokio::test]
async fn put_participants_id_checks_headers_and_body_first() {
    let switch = spawn_switch().await;
    let id = "/participants/0e1f2a3b-0000-4000-8000-000000000001";
    for path in [id.to_string(), format!("{id}/error")] {
        for missing in ["date", "fspiop-source", "content-type"] {
            let headers: Vec<(String, String)> =
                fspiop_headers("PUT", "participants", "dfsp1", None)
                    .into_iter()
                    .filter(|(name, _)| name != missing)
                    .collect();
            let answer = switch
                .call_with(
                    "PUT",
                    &path,
                    &headers,
                    Some(json!({"partyList": []}).to_string()),
                )
                .await;
            assert_eq!(answer.status, 400, "without {missing}: {answer:?}");
            assert!(
                answer.code().starts_with('3'),
                "without {missing}: {answer:?}"
            );
        }
        let answer = switch
            .call("PUT", &path, "dfsp1", None, Some(json!({"partyList": 7})))
            .await;
        assert_eq!(answer.status, 400, "{answer:?}");
        assert!(answer.code().starts_with("31"), "{answer:?}");
    }
    switch.stop().await;
}

#[tokio::test]
async fn unknown_requester_is_refused_with_3200() {
    let switch = spawn_switch().await;
    for (method, path, body) in [
        ("GET", "/participants/MSISDN/19012345401", None),
        (
            "POST",
            "/participants/MSISDN/19012345401",
            Some(json!({"fspId": "ghostfsp"})),
        ),
        ("DELETE", "/participants/MSISDN/19012345401", None),
        (
            "PUT",
            "/parties/MSISDN/19012345401",
            Some(crate::helpers::party_body(
                "MSISDN",
                "19012345401",
                "ghostfsp",
            )),
        ),
        (
            "POST",
            "/participants",
            Some(
                json!({"requestId": uuid::Uuid::new_v4().to_string(), "partyList": [{"partyIdType": "MSISDN", "partyIdentifier": "1", "fspId": "ghostfsp"}]}),
            ),
        ),
    ] {
        let answer = switch
            .call(method, path, "ghostfsp", Some("payerfsp"), body)
            .await;
        assert_eq!(answer.status, 400, "{method} {path}: {answer:?}");
        assert_eq!(
            answer.body,
            json!({"errorInformation": {"errorCode": "3200", "errorDescription": "Generic ID not found - Requester FSP not found"}})
        );
    }
    switch.stop().await;
}
