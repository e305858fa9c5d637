//! The admin API (oracle registry), `/health`, `/metrics` and `DELETE /endpointcache`.

use serde_json::json;

use crate::helpers::spawn_switch;

#[tokio::test]
async fn oracle_registry_crud() {
    let switch = spawn_switch().await;
    // spawn_switch registered the MSISDN oracle.
    let listed = switch.admin_call("GET", "/oracles", None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.body,
        json!([{"oracleId": 1, "oracleIdType": "MSISDN", "endpoint": {"value": switch.oracle, "endpointType": "URL"}, "isDefault": true}])
    );

    let created = switch
        .admin_call("POST", "/oracles", Some(json!({"oracleIdType": "EMAIL", "endpoint": {"value": "http://email-oracle:3000", "endpointType": "URL"}, "currency": "USD"})))
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let emails = switch
        .admin_call("GET", "/oracles?type=EMAIL&currency=USD", None)
        .await;
    assert_eq!(
        emails.body,
        json!([{"oracleId": 2, "oracleIdType": "EMAIL", "endpoint": {"value": "http://email-oracle:3000", "endpointType": "URL"}, "currency": "USD", "isDefault": false}])
    );
    assert_eq!(
        switch
            .admin_call("GET", "/oracles?type=EMAIL&currency=EUR", None)
            .await
            .body,
        json!([])
    );

    // The same type, endpoint type and currency twice: refused as Mojaloop refuses it.
    let duplicate = switch
        .admin_call("POST", "/oracles", Some(json!({"oracleIdType": "EMAIL", "endpoint": {"value": "http://other:3000", "endpointType": "URL"}, "currency": "USD"})))
        .await;
    assert_eq!((duplicate.status, duplicate.code()), (500, "2001"));
    assert_eq!(duplicate.description(), "Internal server error - Active oracle with matching partyIdTypeId, endpointTypeId, currencyId already exists");

    // Update, including to the same values.
    let updated = switch
        .admin_call("PUT", "/oracles/2", Some(json!({"oracleIdType": "EMAIL", "endpoint": {"value": "http://email-oracle:4000", "endpointType": "URL"}, "currency": "EUR", "isDefault": true})))
        .await;
    assert_eq!(updated.status, 204, "{updated:?}");
    let emails = switch.admin_call("GET", "/oracles?type=EMAIL", None).await;
    assert_eq!(
        emails.body[0]["endpoint"]["value"],
        "http://email-oracle:4000"
    );
    assert_eq!(emails.body[0]["currency"], "EUR");
    assert_eq!(emails.body[0]["isDefault"], true);
    let same = switch
        .admin_call("PUT", "/oracles/2", Some(json!({"oracleIdType": "EMAIL", "endpoint": {"value": "http://email-oracle:4000", "endpointType": "URL"}, "currency": "EUR", "isDefault": true})))
        .await;
    assert_eq!(same.status, 204);
    // An update that would duplicate another active oracle (the MSISDN one, no currency):
    // the caller's mistake, 400 / 3100, not POST's 500 (found by the API fuzz).
    let twin = switch
        .admin_call("PUT", "/oracles/2", Some(json!({"oracleIdType": "MSISDN", "endpoint": {"value": "http://other:3000", "endpointType": "URL"}})))
        .await;
    assert_eq!(
        (twin.status, twin.code(), twin.description()),
        (
            400,
            "3100",
            "Generic validation error - Active oracle with matching partyIdTypeId, endpointTypeId, currencyId already exists"
        )
    );
    let emails = switch.admin_call("GET", "/oracles?type=EMAIL", None).await;
    assert_eq!(emails.body[0]["currency"], "EUR", "unchanged: {emails:?}");
    let missing = switch
        .admin_call("PUT", "/oracles/99", Some(json!({"oracleIdType": "EMAIL", "endpoint": {"value": "http://x:1", "endpointType": "URL"}})))
        .await;
    assert_eq!(
        (missing.status, missing.code(), missing.description()),
        (
            400,
            "3003",
            "Add Party information error - Oracle not found"
        )
    );

    // Bad input.
    for (body, code) in [
        (
            json!({"oracleIdType": "PHONE", "endpoint": {"value": "http://x:1", "endpointType": "URL"}}),
            "3100",
        ),
        (
            json!({"oracleIdType": "EMAIL", "endpoint": {"value": "http://x:1", "endpointType": "SMTP"}}),
            "3100",
        ),
        (
            json!({"oracleIdType": "EMAIL", "endpoint": {"value": "ftp://x", "endpointType": "URL"}}),
            "3100",
        ),
        (
            json!({"oracleIdType": "IBAN", "endpoint": {"value": "http://x:1", "endpointType": "URL"}, "currency": "ABC"}),
            "3100",
        ),
        (
            json!({"endpoint": {"value": "http://x:1", "endpointType": "URL"}}),
            "3102",
        ),
        (
            json!({"oracleIdType": "EMAIL", "endpoint": "http://x:1"}),
            "3101",
        ),
    ] {
        let answer = switch
            .admin_call("POST", "/oracles", Some(body.clone()))
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, code),
            "{body}: {answer:?}"
        );
    }

    // Delete (soft): gone from the list; deleting again is harmless.
    assert_eq!(
        switch.admin_call("DELETE", "/oracles/2", None).await.status,
        204
    );
    assert_eq!(
        switch
            .admin_call("GET", "/oracles?type=EMAIL", None)
            .await
            .body,
        json!([])
    );
    assert_eq!(
        switch.admin_call("DELETE", "/oracles/2", None).await.status,
        204
    );
    let answer = switch.admin_call("DELETE", "/oracles/abc", None).await;
    assert_eq!((answer.status, answer.code()), (400, "3101"));
    switch.stop().await;
}

#[tokio::test]
async fn health_metrics_and_cache_reset() {
    let switch = spawn_switch().await;
    for base in [&switch.api, &switch.admin] {
        let health: serde_json::Value = switch
            .client
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(health["status"], "OK", "{health}");
        assert_eq!(
            health["services"],
            json!([{"name": "datastore", "status": "OK"}, {"name": "participantEndpointService", "status": "OK"}])
        );
        assert!(
            health["uptime"].is_number()
                && health["startTime"].is_string()
                && health["versionNumber"].is_string()
        );
    }
    let answer = switch
        .call("GET", "/parties/MSISDN/19012345401", "ghostfsp", None, None)
        .await;
    assert_eq!(answer.status, 400);
    let metrics = switch
        .client
        .get(format!("{}/metrics", switch.api))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(metrics.contains(r#"moja_als_http_requests_total{method="GET",path="/parties/{type}/{id}",status_code="400"} 1"#), "{metrics}");

    let reset = switch
        .client
        .delete(format!("{}/endpointcache", switch.api))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reset.status(), 202);

    switch.stop().await;
}
