//! The oracle API: single mappings with and without sub-ids, currencies, bulk registration
//! with per-item outcomes, input errors and an unavailable database.

use std::time::Instant;

use serde_json::json;

use crate::helpers::spawn_oracle;

#[tokio::test]
async fn unknown_party_is_an_empty_list() {
    let oracle = spawn_oracle().await;
    let answer = oracle
        .call("GET", "/participants/MSISDN/19012345401", None, 200)
        .await;
    assert_eq!(answer, json!({"partyList": []}));
    oracle.stop().await;
}

#[tokio::test]
async fn create_read_update_delete() {
    let oracle = spawn_oracle().await;
    let path = "/participants/MSISDN/19012345401";
    assert_eq!(
        oracle
            .call(
                "POST",
                path,
                Some(json!({"fspId": "dfsp1", "currency": "USD"})),
                201
            )
            .await,
        serde_json::Value::Null
    );
    assert_eq!(
        oracle.call("GET", path, None, 200).await,
        json!({"partyList": [{"fspId": "dfsp1"}]})
    );

    // The holder registering it again is a resend: 201, one mapping, the new currency.
    oracle
        .call(
            "POST",
            path,
            Some(json!({"fspId": "dfsp1", "currency": "EUR"})),
            201,
        )
        .await;
    oracle
        .call("POST", path, Some(json!({"fspId": "dfsp1"})), 201)
        .await;
    assert_eq!(
        oracle.call("GET", path, None, 200).await,
        json!({"partyList": [{"fspId": "dfsp1"}]})
    );
    assert_eq!(
        oracle
            .call("GET", &format!("{path}?currency=EUR"), None, 200)
            .await,
        json!({"partyList": [{"fspId": "dfsp1"}]})
    );
    assert_eq!(
        oracle
            .call("GET", &format!("{path}?currency=USD"), None, 200)
            .await,
        json!({"partyList": []})
    );
    // Another DFSP claiming it: 409 / 3003.
    let description = oracle
        .fails("POST", path, Some(json!({"fspId": "dfsp2"})), 409, "3003")
        .await;
    assert_eq!(
        description,
        "Add Party information error - Party already exists [id: 19012345401]"
    );

    let updated = oracle
        .call("PUT", path, Some(json!({"fspId": "dfsp2"})), 200)
        .await;
    assert_eq!(updated, json!({"partyList": [{"fspId": "dfsp2"}]}));
    assert_eq!(
        oracle.call("GET", path, None, 200).await,
        json!({"partyList": [{"fspId": "dfsp2"}]})
    );
    // The same values again still count as found.
    oracle
        .call("PUT", path, Some(json!({"fspId": "dfsp2"})), 200)
        .await;
    oracle
        .fails(
            "PUT",
            "/participants/MSISDN/19012345499",
            Some(json!({"fspId": "dfsp2"})),
            404,
            "3200",
        )
        .await;

    oracle.call("DELETE", path, None, 204).await;
    assert_eq!(
        oracle.call("GET", path, None, 200).await,
        json!({"partyList": []})
    );
    oracle.fails("DELETE", path, None, 404, "3200").await;
    oracle.stop().await;
}

#[tokio::test]
async fn sub_ids_and_currencies() {
    let oracle = spawn_oracle().await;
    let path = "/participants/MSISDN/19012345402";
    oracle
        .call(
            "POST",
            &format!("{path}/PASSPORT"),
            Some(json!({"fspId": "dfsp2"})),
            201,
        )
        .await;
    // The sub-id can also come in the body, as the ALS sends it.
    oracle
        .call(
            "POST",
            path,
            Some(json!({"fspId": "dfsp3", "partySubIdOrType": "WORK", "currency": "EUR"})),
            201,
        )
        .await;
    oracle
        .call(
            "POST",
            path,
            Some(json!({"fspId": "dfsp1", "currency": "USD"})),
            201,
        )
        .await;

    // Without a sub-id every mapping comes back, the one without a sub-id first.
    let all = oracle.call("GET", path, None, 200).await;
    assert_eq!(
        all,
        json!({"partyList": [
            {"fspId": "dfsp1"},
            {"fspId": "dfsp2", "partySubIdOrType": "PASSPORT"},
            {"fspId": "dfsp3", "partySubIdOrType": "WORK"}
        ]})
    );
    let by_query = oracle
        .call(
            "GET",
            &format!("{path}?partySubIdOrType=PASSPORT"),
            None,
            200,
        )
        .await;
    assert_eq!(
        by_query,
        json!({"partyList": [{"fspId": "dfsp2", "partySubIdOrType": "PASSPORT"}]})
    );
    let by_path = oracle.call("GET", &format!("{path}/WORK"), None, 200).await;
    assert_eq!(
        by_path,
        json!({"partyList": [{"fspId": "dfsp3", "partySubIdOrType": "WORK"}]})
    );
    // A currency keeps mappings for it and mappings without one.
    let usd = oracle
        .call("GET", &format!("{path}?currency=USD"), None, 200)
        .await;
    assert_eq!(
        usd,
        json!({"partyList": [{"fspId": "dfsp1"}, {"fspId": "dfsp2", "partySubIdOrType": "PASSPORT"}]})
    );
    let eur = oracle
        .call(
            "GET",
            &format!("{path}?currency=EUR&partySubIdOrType=WORK"),
            None,
            200,
        )
        .await;
    assert_eq!(
        eur,
        json!({"partyList": [{"fspId": "dfsp3", "partySubIdOrType": "WORK"}]})
    );

    // Deleting one sub-id leaves the others; deleting without one removes the rest.
    oracle
        .call("DELETE", &format!("{path}/PASSPORT"), None, 204)
        .await;
    assert_eq!(
        oracle.call("GET", path, None, 200).await["partyList"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    oracle.call("DELETE", path, None, 204).await;
    assert_eq!(
        oracle.call("GET", path, None, 200).await,
        json!({"partyList": []})
    );
    oracle.stop().await;
}

#[tokio::test]
async fn input_errors() {
    let oracle = spawn_oracle().await;
    let description = oracle
        .fails("GET", "/participants/EMAIL/a@b.example", None, 400, "3101")
        .await;
    assert_eq!(
        description,
        "Malformed syntax - This service supports only MSISDN ID types"
    );
    oracle
        .fails("GET", "/participants/MSISDN/%7BID%7D", None, 400, "3101")
        .await;
    oracle
        .fails(
            "POST",
            "/participants/MSISDN/1",
            Some(json!({})),
            400,
            "3102",
        )
        .await;
    oracle
        .fails(
            "POST",
            "/participants/MSISDN/1",
            Some(json!({"fspId": 5})),
            400,
            "3101",
        )
        .await;
    oracle
        .fails(
            "POST",
            "/participants/MSISDN/1",
            Some(json!({"fspId": "x".repeat(33)})),
            400,
            "3100",
        )
        .await;
    oracle
        .fails(
            "POST",
            "/participants/MSISDN/1",
            Some(json!({"fspId": "dfsp1", "currency": "ABC"})),
            400,
            "3100",
        )
        .await;
    oracle
        .fails(
            "GET",
            "/participants/MSISDN/1?currency=ABC",
            None,
            400,
            "3101",
        )
        .await;
    oracle
        .fails("GET", "/nothing/here", None, 404, "3002")
        .await;
    oracle
        .fails("PATCH", "/participants/MSISDN/1", None, 405, "3000")
        .await;
    oracle
        .fails(
            "POST",
            "/participants",
            Some(json!({"requestId": "not-a-uuid", "partyList": []})),
            400,
            "3100",
        )
        .await;
    oracle.stop().await;
}

#[tokio::test]
async fn bulk_registration_reports_each_item() {
    let oracle = spawn_oracle().await;
    oracle
        .call(
            "POST",
            "/participants/MSISDN/19012345500",
            Some(json!({"fspId": "dfsp1"})),
            201,
        )
        .await;
    let body = json!({
        "requestId": uuid::Uuid::new_v4().to_string(),
        "partyList": [
            {"partyIdType": "MSISDN", "partyIdentifier": "19012345501", "fspId": "dfsp1", "currency": "USD"},
            {"partyIdType": "MSISDN", "partyIdentifier": "19012345500", "fspId": "dfsp1"},
            {"partyIdType": "EMAIL", "partyIdentifier": "a@b.example", "fspId": "dfsp1"},
            {"partyIdType": "MSISDN", "partyIdentifier": "19012345502"},
            {"partyIdType": "MSISDN", "partyIdentifier": "19012345502", "partySubIdOrType": "WORK", "fspId": "dfsp2"},
            {"partyIdType": "MSISDN", "partyIdentifier": "19012345501", "fspId": "dfsp2"}
        ]
    });
    let answer = oracle.call("POST", "/participants", Some(body), 201).await;
    let list = answer["partyList"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 6, "{answer}");
    assert_eq!(
        list[0],
        json!({"partyId": {"partyIdType": "MSISDN", "partyIdentifier": "19012345501", "fspId": "dfsp1"}})
    );
    assert_eq!(list[1]["errorInformation"]["errorCode"], "3003");
    assert_eq!(
        list[1]["errorInformation"]["errorDescription"],
        "Add Party information error - Party already exists [id: 19012345500]"
    );
    assert_eq!(list[2]["errorInformation"]["errorCode"], "3003");
    assert!(list[3].get("errorInformation").is_none(), "{answer}");
    assert!(list[4].get("errorInformation").is_none(), "{answer}");
    assert_eq!(
        list[5]["errorInformation"]["errorCode"], "3003",
        "a key twice in one request"
    );

    // fspId defaulted to FSPIOP-Source (dfsp1); the currency was kept.
    let stored = oracle
        .call("GET", "/participants/MSISDN/19012345502", None, 200)
        .await;
    assert_eq!(
        stored,
        json!({"partyList": [{"fspId": "dfsp1"}, {"fspId": "dfsp2", "partySubIdOrType": "WORK"}]})
    );
    let usd = oracle
        .call(
            "GET",
            "/participants/MSISDN/19012345501?currency=EUR",
            None,
            200,
        )
        .await;
    assert_eq!(usd, json!({"partyList": []}));
    oracle.stop().await;
}

/// 8 DFSPs × 100 MSISDNs, in one bulk call per DFSP (as onboarding does) and concurrently.
#[tokio::test]
async fn registering_800_msisdns_takes_seconds() {
    let oracle = spawn_oracle().await;
    let started = Instant::now();
    let mut calls = Vec::new();
    for dfsp in 1..=8 {
        let party_list: Vec<_> = (0..100)
            .map(|n| json!({"partyIdType": "MSISDN", "partyIdentifier": format!("1901{dfsp:02}{n:05}"), "fspId": format!("dfsp{dfsp}")}))
            .collect();
        let body = json!({"requestId": uuid::Uuid::new_v4().to_string(), "partyList": party_list});
        let client = oracle.client.clone();
        let url = format!("{}/participants", oracle.base);
        calls.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .header("fspiop-source", format!("dfsp{dfsp}"))
                .json(&body)
                .send()
                .await;
            let response = response.unwrap_or_else(|e| panic!("bulk: {e}"));
            assert_eq!(response.status(), 201);
            let answer: serde_json::Value = response.json().await.unwrap_or_else(|e| panic!("{e}"));
            assert!(
                answer["partyList"].as_array().is_some_and(
                    |l| l.len() == 100 && l.iter().all(|i| i.get("errorInformation").is_none())
                ),
                "{answer}"
            );
        }));
    }
    for call in calls {
        call.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let elapsed = started.elapsed();
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM oracleMSISDN")
        .fetch_one(&oracle.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count, 800);
    eprintln!("registered 800 MSISDNs in {} ms", elapsed.as_millis());
    assert!(elapsed.as_secs() < 10, "800 registrations took {elapsed:?}");
    let answer = oracle
        .call("GET", "/participants/MSISDN/19010500042", None, 200)
        .await;
    assert_eq!(answer, json!({"partyList": [{"fspId": "dfsp5"}]}));
    oracle.stop().await;
}

#[tokio::test]
async fn health_and_an_unavailable_database() {
    let oracle = spawn_oracle().await;
    let health = oracle.call("GET", "/health", None, 200).await;
    assert_eq!(health["status"], "OK");
    assert_eq!(
        health["services"],
        json!([{"name": "datastore", "status": "OK"}])
    );
    let metrics = oracle
        .client
        .get(format!("{}/metrics", oracle.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(metrics
        .text()
        .await
        .unwrap_or_default()
        .contains("moja_oracle_http_requests_total"));

    // Closing the pool stands in for a database that cannot be reached.
    oracle.pool.close().await;
    let description = oracle
        .fails("GET", "/participants/MSISDN/19012345401", None, 503, "2003")
        .await;
    assert!(
        description.starts_with("Service currently unavailable"),
        "{description}"
    );
    let health = oracle.call("GET", "/health", None, 503).await;
    assert_eq!(health["status"], "DOWN");
    oracle.stop().await;
}
