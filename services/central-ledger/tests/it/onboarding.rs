//! The hub operator's happy path: hub accounts, a settlement model, two DFSPs with limits,
//! endpoints and funds, and every read route.

use serde_json::json;

use crate::helpers::{deferred_net, funds_in, funds_out, new_id, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_a_hub_and_two_dfsps() {
    let app = spawn_app().await;
    let health = app.call("GET", "/health", None, 200).await;
    assert_eq!(health["status"], "OK");
    assert_eq!(
        health["services"],
        json!([{"name": "datastore", "status": "OK"}, {"name": "broker", "status": "OK"}])
    );

    // The hub's accounts, one per type.
    let hub = app
        .call(
            "POST",
            "/participants/Hub/accounts",
            Some(json!({"currency": "USD", "type": "HUB_MULTILATERAL_SETTLEMENT"})),
            201,
        )
        .await;
    assert_eq!(hub["name"], "Hub");
    assert_eq!(
        hub["accounts"][0]["ledgerAccountType"],
        "HUB_MULTILATERAL_SETTLEMENT"
    );
    assert_eq!(hub["accounts"][0]["isActive"], 1);
    app.call(
        "POST",
        "/participants/Hub/accounts",
        Some(json!({"currency": "USD", "type": "HUB_RECONCILIATION"})),
        201,
    )
    .await;

    // A settlement model, readable and switchable.
    app.call("POST", "/settlementModels", Some(deferred_net(None)), 201)
        .await;
    let model = app
        .call("GET", "/settlementModels/DEFERREDNET", None, 200)
        .await;
    assert_eq!(model["settlementGranularity"], "NET");
    assert_eq!(model["settlementInterchange"], "MULTILATERAL");
    assert_eq!(model["settlementDelay"], "DEFERRED");
    assert_eq!(model["ledgerAccountTypeId"], "POSITION");
    assert_eq!(model["isActive"], true);
    let models = app.call("GET", "/settlementModels", None, 200).await;
    assert_eq!(models.as_array().map(Vec::len), Some(1));

    // Two DFSPs: accounts are created inactive, activated by initialPositionAndLimits.
    let payer = app
        .call(
            "POST",
            "/participants",
            Some(json!({"name": "perffsp-1", "currency": "USD"})),
            201,
        )
        .await;
    assert_eq!(payer["id"], "http://central-ledger/participants/perffsp-1");
    assert_eq!(
        payer["links"]["self"],
        "http://central-ledger/participants/perffsp-1"
    );
    assert_eq!(payer["isActive"], 1);
    let types: Vec<_> = payer["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| (a["ledgerAccountType"].clone(), a["isActive"].clone()))
        .collect();
    assert_eq!(
        types,
        vec![
            (json!("POSITION"), json!(0)),
            (json!("SETTLEMENT"), json!(0))
        ]
    );
    app.call(
        "POST",
        "/participants",
        Some(json!({"name": "perffsp-5", "currency": "USD", "isProxy": false})),
        201,
    )
    .await;
    app.call(
        "POST",
        "/participants/perffsp-1/initialPositionAndLimits",
        Some(json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 1000000}, "initialPosition": 0})),
        201,
    )
    .await;
    app.call(
        "POST",
        "/participants/perffsp-5/initialPositionAndLimits",
        Some(json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": "500.25"}})),
        201,
    )
    .await;
    let payer = app.call("GET", "/participants/perffsp-1", None, 200).await;
    assert!(
        payer["accounts"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|a| a["isActive"] == 1),
        "{payer}"
    );

    let list = app.call("GET", "/participants", None, 200).await;
    let names: Vec<_> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(
        names,
        vec![json!("Hub"), json!("perffsp-1"), json!("perffsp-5")]
    );
    assert_eq!(
        app.call("GET", "/participants?isProxy=true", None, 200)
            .await,
        json!([])
    );

    // Limits: one participant's, everyone's, and an adjustment that keeps history.
    let limits = app
        .call("GET", "/participants/perffsp-1/limits", None, 200)
        .await;
    assert_eq!(
        limits,
        json!([{"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 1000000, "alarmPercentage": 10}}])
    );
    let adjusted = app
        .call(
            "PUT",
            "/participants/perffsp-1/limits",
            Some(json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 2000000, "alarmPercentage": 25}})),
            200,
        )
        .await;
    assert_eq!(
        adjusted,
        json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 2000000, "alarmPercentage": 25}})
    );
    let all = app
        .call("GET", "/participants/limits?currency=USD", None, 200)
        .await;
    assert_eq!(
        all,
        json!([
            {"name": "perffsp-1", "currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 2000000, "alarmPercentage": 25}},
            {"name": "perffsp-5", "currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 500.25, "alarmPercentage": 10}}
        ])
    );
    let (history,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM participantLimit")
        .fetch_one(&app.pool)
        .await
        .unwrap_or((0,));
    assert_eq!(
        history, 3,
        "an adjustment deactivates the old row and inserts a new one"
    );

    // Endpoints: set, replace, read all and one.
    for (kind, value) in [
        (
            "FSPIOP_CALLBACK_URL_TRANSFER_POST",
            "http://perffsp-1/transfers",
        ),
        (
            "FSPIOP_CALLBACK_URL_TRANSFER_PUT",
            "http://old/transfers/{{transferId}}",
        ),
        (
            "FSPIOP_CALLBACK_URL_TRANSFER_PUT",
            "http://perffsp-1/transfers/{{transferId}}",
        ),
        (
            "FSPIOP_CALLBACK_URL_PARTIES_GET",
            "http://perffsp-1/parties/{{partyIdType}}/{{partyIdentifier}}",
        ),
    ] {
        app.call(
            "POST",
            "/participants/perffsp-1/endpoints",
            Some(json!({"type": kind, "value": value})),
            201,
        )
        .await;
    }
    let endpoints = app
        .call("GET", "/participants/perffsp-1/endpoints", None, 200)
        .await;
    assert_eq!(
        endpoints,
        json!([
            {"type": "FSPIOP_CALLBACK_URL_PARTIES_GET", "value": "http://perffsp-1/parties/{{partyIdType}}/{{partyIdentifier}}"},
            {"type": "FSPIOP_CALLBACK_URL_TRANSFER_POST", "value": "http://perffsp-1/transfers"},
            {"type": "FSPIOP_CALLBACK_URL_TRANSFER_PUT", "value": "http://perffsp-1/transfers/{{transferId}}"}
        ])
    );
    let one = app
        .call(
            "GET",
            "/participants/perffsp-1/endpoints?type=FSPIOP_CALLBACK_URL_TRANSFER_POST",
            None,
            200,
        )
        .await;
    assert_eq!(
        one,
        json!({"type": "FSPIOP_CALLBACK_URL_TRANSFER_POST", "value": "http://perffsp-1/transfers"})
    );
    assert_eq!(
        app.call(
            "GET",
            "/participants/perffsp-5/endpoints?type=FSPIOP_CALLBACK_URL_QUOTES",
            None,
            200
        )
        .await,
        json!({})
    );

    // Funds in 5000.50, then funds out 1000 reserved and committed, then 500 reserved and aborted.
    let settlement = app.account_id("perffsp-1", "USD", "SETTLEMENT").await;
    let hub_reconciliation = app.account_id("Hub", "USD", "HUB_RECONCILIATION").await;
    let deposit = new_id();
    app.call(
        "POST",
        &format!("/participants/perffsp-1/accounts/{settlement}"),
        Some(funds_in(&deposit, "5000.5", "USD")),
        202,
    )
    .await;
    app.wait_for_state(&deposit, "COMMITTED").await;
    assert_eq!(app.position(settlement).await, "-5000.5000");
    assert_eq!(app.position(hub_reconciliation).await, "5000.5000");
    let withdrawal = new_id();
    app.call(
        "POST",
        &format!("/participants/perffsp-1/accounts/{settlement}"),
        Some(funds_out(&withdrawal, "1000", "USD")),
        202,
    )
    .await;
    app.wait_for_state(&withdrawal, "RESERVED").await;
    assert_eq!(app.position(settlement).await, "-4000.5000");
    app.call(
        "PUT",
        &format!("/participants/perffsp-1/accounts/{settlement}/transfers/{withdrawal}"),
        Some(json!({"action": "recordFundsOutCommit", "reason": "paid out"})),
        202,
    )
    .await;
    app.wait_for_state(&withdrawal, "COMMITTED").await;
    assert_eq!(app.position(hub_reconciliation).await, "4000.5000");
    let cancelled = new_id();
    app.call(
        "POST",
        &format!("/participants/perffsp-1/accounts/{settlement}"),
        Some(funds_out(&cancelled, "500", "USD")),
        202,
    )
    .await;
    app.wait_for_state(&cancelled, "RESERVED").await;
    app.call(
        "PUT",
        &format!("/participants/perffsp-1/accounts/{settlement}/transfers/{cancelled}"),
        Some(json!({"action": "recordFundsOutAbort", "reason": "bank refused"})),
        202,
    )
    .await;
    app.wait_for_state(&cancelled, "ABORTED_REJECTED").await;
    assert_eq!(app.position(settlement).await, "-4000.5000");

    // The legs of the deposit sum to zero and carry the external reference.
    let (sum,): (String,) = sqlx::query_as(
        "SELECT CAST(SUM(amount) AS CHAR) FROM transferParticipant WHERE transferId = ?",
    )
    .bind(&deposit)
    .fetch_one(&app.pool)
    .await
    .unwrap_or_default();
    assert_eq!(sum, "0.0000");
    let (reference,): (String,) = sqlx::query_as(
        "SELECT value FROM transferExtension WHERE transferId = ? AND `key` = 'externalReference'",
    )
    .bind(&deposit)
    .fetch_one(&app.pool)
    .await
    .unwrap_or_default();
    assert_eq!(reference, "bank-ref-1");

    // Accounts and positions as the API reports them.
    let accounts = app
        .call("GET", "/participants/perffsp-1/accounts", None, 200)
        .await;
    let values: Vec<_> = accounts
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["ledgerAccountType"].clone(),
                a["value"].clone(),
                a["reservedValue"].clone(),
            )
        })
        .collect();
    assert_eq!(
        values,
        vec![
            (json!("POSITION"), json!(0), json!(0)),
            (json!("SETTLEMENT"), json!(-4000.5), json!(0))
        ]
    );
    assert_eq!(
        app.call(
            "GET",
            "/participants/perffsp-1/positions?currency=USD",
            None,
            200
        )
        .await["value"],
        0
    );
    assert_eq!(
        app.call("GET", "/participants/perffsp-1/positions", None, 200)
            .await
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        app.call(
            "GET",
            "/participants/perffsp-1/positions?currency=EUR",
            None,
            200
        )
        .await,
        json!({})
    );

    // Deactivating the position account and the participant, and back.
    let position_account = app.account_id("perffsp-1", "USD", "POSITION").await;
    app.call(
        "PUT",
        &format!("/participants/perffsp-1/accounts/{position_account}"),
        Some(json!({"isActive": false})),
        200,
    )
    .await;
    assert_eq!(
        app.call("GET", "/participants/perffsp-1/positions", None, 200)
            .await,
        json!([])
    );
    app.call(
        "PUT",
        &format!("/participants/perffsp-1/accounts/{position_account}"),
        Some(json!({"isActive": true})),
        200,
    )
    .await;
    let inactive = app
        .call(
            "PUT",
            "/participants/perffsp-5",
            Some(json!({"isActive": false})),
            200,
        )
        .await;
    assert_eq!(inactive["isActive"], 0);
    let active = app
        .call(
            "PUT",
            "/participants/perffsp-5",
            Some(json!({"isActive": true})),
            200,
        )
        .await;
    assert_eq!(active["isActive"], 1);

    // A second currency for an existing participant, and reference data.
    app.call(
        "POST",
        "/participants/Hub/accounts",
        Some(json!({"currency": "KES", "type": "HUB_RECONCILIATION"})),
        201,
    )
    .await;
    app.call(
        "POST",
        "/participants/Hub/accounts",
        Some(json!({"currency": "KES", "type": "HUB_MULTILATERAL_SETTLEMENT"})),
        201,
    )
    .await;
    let both = app
        .call(
            "POST",
            "/participants",
            Some(json!({"name": "perffsp-1", "currency": "KES"})),
            201,
        )
        .await;
    assert_eq!(both["accounts"].as_array().map(Vec::len), Some(4));
    let types = app.call("GET", "/ledgerAccountTypes", None, 200).await;
    assert_eq!(types[0]["name"], "POSITION");
    app.call("POST", "/ledgerAccountTypes", Some(json!({"name": "EXTRA_FEES", "description": "fees", "isActive": true, "isSettleable": true})), 201).await;
    app.call(
        "PUT",
        "/settlementModels/DEFERREDNET",
        Some(json!({"isActive": false})),
        200,
    )
    .await;
    assert_eq!(
        app.call("GET", "/settlementModels/DEFERREDNET", None, 200)
            .await["isActive"],
        false
    );

    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = metrics.text().await.unwrap_or_default();
    assert!(
        text.contains("moja_cl_admin_transfer_total{outcome=\"applied\",state=\"COMMITTED\"}"),
        "{text}"
    );
    assert!(text.contains("http_requests_total"), "{text}");
    app.stop().await;
}
