//! Every error case of the admin API with its exact FSPIOP code and HTTP status.

use serde_json::json;

use crate::helpers::{deferred_net, funds_in, funds_out, new_id, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_and_bodies() {
    let app = spawn_app().await;
    app.fails("GET", "/nowhere", None, 404, "3002").await;
    app.fails("DELETE", "/participants", None, 405, "3000")
        .await;
    app.fails("GET", "/participants/nobody", None, 400, "3200")
        .await;
    app.fails(
        "PUT",
        "/participants/nobody",
        Some(json!({"isActive": true})),
        400,
        "3200",
    )
    .await;
    app.fails("GET", "/participants/nobody/accounts", None, 400, "3200")
        .await;
    app.fails("GET", "/participants/nobody/limits", None, 400, "3200")
        .await;
    app.fails("GET", "/participants/nobody/endpoints", None, 400, "3200")
        .await;
    app.fails("GET", "/settlementModels/NOPE", None, 400, "3200")
        .await;
    // A query that does not deserialize (a parameter twice) is an FSPIOP 3101, not axum's
    // plain-text 400 (found by the API fuzz).
    for path in [
        "/participants/limits?currency=USD&currency=USD",
        "/participants/nobody/limits?currency=USD&currency=EUR",
        "/participants/nobody/positions?currency=USD&currency=USD",
        "/participants/nobody/endpoints?type=A&type=B",
        "/participants?isProxy=true&isProxy=false",
    ] {
        let detail = app.fails("GET", path, None, 400, "3101").await;
        assert!(detail.contains("duplicate field"), "{path}: {detail}");
    }
    // A currency outside the API's list in the query is refused, as Mojaloop's route
    // validation refuses it (was an empty answer; found by the API fuzz).
    for path in [
        "/participants/limits?currency=AAA",
        "/participants/nobody/limits?currency=AAA",
        "/participants/nobody/positions?currency=AAA",
    ] {
        let detail = app.fails("GET", path, None, 400, "3101").await;
        assert!(detail.contains("AAA"), "{path}: {detail}");
    }
    // Body problems: missing member 3102, wrong type 3101, unknown member 3103, not JSON 3101.
    let missing = app
        .fails(
            "POST",
            "/participants",
            Some(json!({"name": "dfsp1"})),
            400,
            "3102",
        )
        .await;
    assert!(missing.contains("currency"), "{missing}");
    app.fails(
        "POST",
        "/participants",
        Some(json!({"name": 5, "currency": "USD"})),
        400,
        "3101",
    )
    .await;
    let extra = app
        .fails(
            "POST",
            "/participants",
            Some(json!({"name": "dfsp1", "currency": "USD", "colour": "red"})),
            400,
            "3103",
        )
        .await;
    assert!(extra.contains("colour"), "{extra}");
    let response = app
        .client
        .post(format!("{}/participants", app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    assert_eq!(body["errorInformation"]["errorCode"], "3101");
    // Field formats.
    app.fails(
        "POST",
        "/participants",
        Some(json!({"name": "x", "currency": "USD"})),
        400,
        "3101",
    )
    .await;
    app.fails(
        "POST",
        "/participants",
        Some(json!({"name": "has space", "currency": "USD"})),
        400,
        "3101",
    )
    .await;
    app.fails(
        "POST",
        "/participants",
        Some(json!({"name": "dfsp1", "currency": "usd"})),
        400,
        "3101",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_rules() {
    let app = spawn_app().await;
    // No hub accounts yet.
    let description = app
        .fails(
            "POST",
            "/participants",
            Some(json!({"name": "dfsp1", "currency": "USD"})),
            400,
            "3003",
        )
        .await;
    assert!(
        description.contains("Hub reconciliation account"),
        "{description}"
    );
    app.call(
        "POST",
        "/participants/Hub/accounts",
        Some(json!({"currency": "USD", "type": "HUB_RECONCILIATION"})),
        201,
    )
    .await;
    let description = app
        .fails(
            "POST",
            "/participants",
            Some(json!({"name": "dfsp1", "currency": "USD"})),
            400,
            "3003",
        )
        .await;
    assert!(description.contains("multilateral"), "{description}");
    app.call(
        "POST",
        "/participants/Hub/accounts",
        Some(json!({"currency": "USD", "type": "HUB_MULTILATERAL_SETTLEMENT"})),
        201,
    )
    .await;
    // Hub account rules.
    app.fails(
        "POST",
        "/participants/Hub/accounts",
        Some(json!({"currency": "USD", "type": "HUB_RECONCILIATION"})),
        400,
        "3003",
    )
    .await;
    app.fails(
        "POST",
        "/participants/Hub/accounts",
        Some(json!({"currency": "USD", "type": "NOT_A_TYPE"})),
        400,
        "3003",
    )
    .await;
    app.fails(
        "POST",
        "/participants/Hub/accounts",
        Some(json!({"currency": "USD", "type": "POSITION"})),
        400,
        "3003",
    )
    .await;
    app.fails(
        "POST",
        "/participants/nobody/accounts",
        Some(json!({"currency": "USD", "type": "HUB_RECONCILIATION"})),
        400,
        "3003",
    )
    .await;
    // No settlement model yet.
    app.fails(
        "POST",
        "/participants",
        Some(json!({"name": "dfsp1", "currency": "USD"})),
        400,
        "6000",
    )
    .await;
    // Settlement model rules.
    let mut bad = deferred_net(None);
    bad["settlementDelay"] = json!("IMMEDIATE");
    app.fails("POST", "/settlementModels", Some(bad), 400, "3000")
        .await;
    let mut bad = deferred_net(None);
    bad["settlementGranularity"] = json!("SOMETIMES");
    app.fails("POST", "/settlementModels", Some(bad), 400, "3000")
        .await;
    let mut bad = deferred_net(None);
    bad["ledgerAccountType"] = json!("NOT_A_TYPE");
    app.fails("POST", "/settlementModels", Some(bad), 400, "3003")
        .await;
    app.call("POST", "/settlementModels", Some(deferred_net(None)), 201)
        .await;
    app.fails(
        "POST",
        "/settlementModels",
        Some(deferred_net(None)),
        400,
        "3000",
    )
    .await;
    let mut same_scope = deferred_net(None);
    same_scope["name"] = json!("OTHERNET");
    app.fails("POST", "/settlementModels", Some(same_scope), 400, "3000")
        .await;
    // Duplicate participant in the same currency.
    app.call(
        "POST",
        "/participants",
        Some(json!({"name": "dfsp1", "currency": "USD"})),
        201,
    )
    .await;
    let description = app
        .fails(
            "POST",
            "/participants",
            Some(json!({"name": "dfsp1", "currency": "USD"})),
            400,
            "3000",
        )
        .await;
    assert!(
        description.contains("already been registered"),
        "{description}"
    );
    app.fails(
        "POST",
        "/participants/dfsp1/accounts",
        Some(json!({"currency": "USD", "type": "HUB_RECONCILIATION"})),
        400,
        "3003",
    )
    .await;
    // Limits and initial position.
    let ipl = |value: serde_json::Value| json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": value}, "initialPosition": 0});
    app.fails(
        "POST",
        "/participants/dfsp1/initialPositionAndLimits",
        Some(ipl(json!(-1))),
        400,
        "3100",
    )
    .await;
    app.fails(
        "POST",
        "/participants/dfsp1/initialPositionAndLimits",
        Some(ipl(json!("1.23456"))),
        400,
        "3101",
    )
    .await;
    app.fails(
        "POST",
        "/participants/dfsp1/initialPositionAndLimits",
        Some(ipl(json!("lots"))),
        400,
        "3101",
    )
    .await;
    let mut wrong_type = ipl(json!(100));
    wrong_type["limit"]["type"] = json!("DAILY");
    app.fails(
        "POST",
        "/participants/dfsp1/initialPositionAndLimits",
        Some(wrong_type),
        400,
        "3100",
    )
    .await;
    let mut no_accounts = ipl(json!(100));
    no_accounts["currency"] = json!("EUR");
    app.fails(
        "POST",
        "/participants/dfsp1/initialPositionAndLimits",
        Some(no_accounts),
        400,
        "3200",
    )
    .await;
    app.fails("PUT", "/participants/dfsp1/limits", Some(json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 5, "alarmPercentage": 10}})), 400, "3200").await;
    app.call(
        "POST",
        "/participants/dfsp1/initialPositionAndLimits",
        Some(ipl(json!(100))),
        201,
    )
    .await;
    app.fails(
        "POST",
        "/participants/dfsp1/initialPositionAndLimits",
        Some(ipl(json!(100))),
        400,
        "3000",
    )
    .await;
    app.fails(
        "PUT",
        "/participants/dfsp1/limits",
        Some(json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 5}})),
        400,
        "3102",
    )
    .await;
    app.fails("PUT", "/participants/dfsp1/limits", Some(json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 5, "alarmPercentage": 150}})), 400, "3100").await;
    // Endpoints.
    app.fails(
        "POST",
        "/participants/dfsp1/endpoints",
        Some(json!({"type": "FSPIOP_CALLBACK_URL_NOPE", "value": "http://x"})),
        400,
        "3100",
    )
    .await;
    app.fails(
        "POST",
        "/participants/dfsp1/endpoints",
        Some(json!({"type": "FSPIOP_CALLBACK_URL_QUOTES", "value": ""})),
        400,
        "3100",
    )
    .await;
    app.fails(
        "POST",
        "/participants/nobody/endpoints",
        Some(json!({"type": "FSPIOP_CALLBACK_URL_QUOTES", "value": "http://x"})),
        400,
        "3200",
    )
    .await;
    // Account updates.
    let settlement = app.account_id("dfsp1", "USD", "SETTLEMENT").await;
    app.fails(
        "PUT",
        &format!("/participants/dfsp1/accounts/{settlement}"),
        Some(json!({"isActive": false})),
        400,
        "3100",
    )
    .await;
    app.fails(
        "PUT",
        "/participants/dfsp1/accounts/999999",
        Some(json!({"isActive": false})),
        400,
        "3200",
    )
    .await;
    app.fails(
        "PUT",
        "/participants/dfsp1/accounts/abc",
        Some(json!({"isActive": false})),
        400,
        "3101",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funds_rules() {
    let app = spawn_app().await;
    app.setup_hub("USD").await;
    app.onboard("dfsp1", "USD", 1000).await;
    app.onboard("dfsp2", "USD", 1000).await;
    let settlement = app.account_id("dfsp1", "USD", "SETTLEMENT").await;
    let position = app.account_id("dfsp1", "USD", "POSITION").await;
    let other = app.account_id("dfsp2", "USD", "SETTLEMENT").await;
    let path = format!("/participants/dfsp1/accounts/{settlement}");

    app.fails(
        "POST",
        "/participants/nobody/accounts/1",
        Some(funds_in(&new_id(), "10", "USD")),
        400,
        "3200",
    )
    .await;
    app.fails(
        "POST",
        &format!("/participants/dfsp1/accounts/{position}"),
        Some(funds_in(&new_id(), "10", "USD")),
        400,
        "3100",
    )
    .await;
    app.fails(
        "POST",
        &format!("/participants/dfsp1/accounts/{other}"),
        Some(funds_in(&new_id(), "10", "USD")),
        400,
        "3200",
    )
    .await;
    app.fails(
        "POST",
        &path,
        Some(funds_in(&new_id(), "0", "USD")),
        400,
        "3100",
    )
    .await;
    app.fails(
        "POST",
        &path,
        Some(funds_in(&new_id(), "-5", "USD")),
        400,
        "3100",
    )
    .await;
    app.fails(
        "POST",
        &path,
        Some(funds_in(&new_id(), "1.00001", "USD")),
        400,
        "3101",
    )
    .await;
    app.fails(
        "POST",
        &path,
        Some(funds_in(&new_id(), "10", "EUR")),
        400,
        "3100",
    )
    .await;
    app.fails(
        "POST",
        &path,
        Some(funds_in("not-a-uuid", "10", "USD")),
        400,
        "3101",
    )
    .await;
    let mut wrong_action = funds_in(&new_id(), "10", "USD");
    wrong_action["action"] = json!("recordFundsOutCommit");
    app.fails("POST", &path, Some(wrong_action), 400, "3100")
        .await;
    let mut missing = funds_in(&new_id(), "10", "USD");
    missing
        .as_object_mut()
        .map(|m| m.remove("externalReference"));
    app.fails("POST", &path, Some(missing), 400, "3102").await;

    // Funds out beyond the settlement balance, before and after a deposit.
    let description = app
        .fails(
            "POST",
            &path,
            Some(funds_out(&new_id(), "1", "USD")),
            400,
            "4001",
        )
        .await;
    assert!(description.contains("exceeds"), "{description}");
    let deposit = new_id();
    app.call("POST", &path, Some(funds_in(&deposit, "100", "USD")), 202)
        .await;
    app.wait_for_state(&deposit, "COMMITTED").await;
    app.fails(
        "POST",
        &path,
        Some(funds_out(&new_id(), "100.01", "USD")),
        400,
        "4001",
    )
    .await;

    // The same transfer id: identical resend accepted, changed content refused.
    app.call("POST", &path, Some(funds_in(&deposit, "100", "USD")), 202)
        .await;
    app.fails(
        "POST",
        &path,
        Some(funds_in(&deposit, "101", "USD")),
        400,
        "3106",
    )
    .await;

    // Commit and abort rules.
    let finish = |action: &str| json!({"action": action, "reason": "r"});
    app.fails(
        "PUT",
        &format!("{path}/transfers/{}", new_id()),
        Some(finish("recordFundsOutCommit")),
        400,
        "3208",
    )
    .await;
    app.fails(
        "PUT",
        &format!("{path}/transfers/{deposit}"),
        Some(finish("recordFundsIn")),
        400,
        "3100",
    )
    .await;
    app.fails(
        "PUT",
        &format!("{path}/transfers/{deposit}"),
        Some(finish("recordFundsOutCommit")),
        400,
        "3000",
    )
    .await;
    let withdrawal = new_id();
    app.call(
        "POST",
        &path,
        Some(funds_out(&withdrawal, "60", "USD")),
        202,
    )
    .await;
    app.wait_for_state(&withdrawal, "RESERVED").await;
    // The reservation counts against what is available.
    app.fails(
        "POST",
        &path,
        Some(funds_out(&new_id(), "50", "USD")),
        400,
        "4001",
    )
    .await;
    app.fails(
        "PUT",
        &format!("/participants/dfsp2/accounts/{other}/transfers/{withdrawal}"),
        Some(finish("recordFundsOutCommit")),
        400,
        "3200",
    )
    .await;
    app.call(
        "PUT",
        &format!("{path}/transfers/{withdrawal}"),
        Some(finish("recordFundsOutCommit")),
        202,
    )
    .await;
    app.wait_for_state(&withdrawal, "COMMITTED").await;
    // Committing again is a no-op; aborting a committed transfer is refused.
    app.call(
        "PUT",
        &format!("{path}/transfers/{withdrawal}"),
        Some(finish("recordFundsOutCommit")),
        202,
    )
    .await;
    app.fails(
        "PUT",
        &format!("{path}/transfers/{withdrawal}"),
        Some(finish("recordFundsOutAbort")),
        400,
        "3000",
    )
    .await;
    assert_eq!(app.position(settlement).await, "-40.0000");

    // Inactive participant and inactive account.
    app.call(
        "PUT",
        "/participants/dfsp1",
        Some(json!({"isActive": false})),
        200,
    )
    .await;
    let description = app
        .fails(
            "POST",
            &path,
            Some(funds_in(&new_id(), "10", "USD")),
            400,
            "3000",
        )
        .await;
    assert!(description.contains("inactive"), "{description}");
    app.call(
        "PUT",
        "/participants/dfsp1",
        Some(json!({"isActive": true})),
        200,
    )
    .await;
    sqlx::query("UPDATE participantCurrency SET isActive = 0 WHERE participantCurrencyId = ?")
        .bind(settlement)
        .execute(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let description = app
        .fails(
            "POST",
            &path,
            Some(funds_in(&new_id(), "10", "USD")),
            400,
            "3000",
        )
        .await;
    assert!(
        description.contains("Account is currently set inactive"),
        "{description}"
    );
    app.stop().await;
}
