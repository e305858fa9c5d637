//! The prepare handler end to end through Kafka: a prepare as the ML API Adapter puts it on
//! `topic-transfer-prepare`, the ledger's state and positions, and the notifications it
//! produces for the adapter.

use central_ledger::Handlers;
use fspiop::envelope;
use serde_json::{json, Value};

use crate::helpers::{funds_in, new_id, spawn_app_with, Bus};

pub const FULFILMENT: &str = "UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA";

pub fn condition() -> String {
    fspiop::ilp::condition_from_fulfilment(FULFILMENT).unwrap_or_default()
}

pub fn prepare_body(id: &str, payer: &str, payee: &str, amount: &str) -> Value {
    prepare_body_expiring(id, payer, payee, amount, 600_000)
}

pub fn prepare_body_expiring(
    id: &str,
    payer: &str,
    payee: &str,
    amount: &str,
    expires_in_ms: i64,
) -> Value {
    json!({
        "transferId": id, "payerFsp": payer, "payeeFsp": payee,
        "amount": {"amount": amount, "currency": "USD"},
        "ilpPacket": "AYIBgQAAAAAAAASwNGxldmVsb25lLmRmc3AxLm1lci45T2RTOF81MDdqUUZERmZlakgyOVc4bXFmNEpLMHlGTFGCAUBQU0svMS4wCk5vbmNlOiB1SXlweUYzY3pYSXBFdzVVc05TYWh3CkVuY3J5cHRpb246IG5vbmUKUGF5bWVudC1JZDogMTMyMzZhM2ItOGZhOC00MTYzLTg0NDctNGMzZWQzZGE5OGE3CgpDb250ZW50LUxlbmd0aDogMTM1CkNvbnRlbnQtVHlwZTogYXBwbGljYXRpb24vanNvbgpTZW5kZXItSWRlbnRpZmllcjogOTI4MDYzOTEKCiJ7XCJmZWVcIjowLFwidHJhbnNmZXJDb2RlXCI6XCJpbnZvaWNlXCIsXCJkZWJpdE5hbWVcIjpcImFsaWNlIGNvb3BlclwiLFwiY3JlZGl0TmFtZVwiOlwibWVyIGNoYW50XCIsXCJkZWJpdElkZW50aWZpZXJcIjpcIjkyODA2MzkxXCJ9IgA",
        "condition": condition(),
        "expiration": fspiop::datetime::format_date_time(central_ledger::now_ms() + expires_in_ms),
        "extensionList": {"extension": [{"key": "k", "value": "v"}]}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepares_are_reserved_rejected_and_deduplicated() {
    let app = spawn_app_with(Handlers {
        admin: true,
        prepare: true,
        ..Handlers::default()
    })
    .await;
    app.setup_hub("USD").await;
    app.onboard("payerfsp", "USD", 1000).await;
    app.onboard("payeefsp", "USD", 1000).await;
    let settlement = app.account_id("payerfsp", "USD", "SETTLEMENT").await;
    let position = app.account_id("payerfsp", "USD", "POSITION").await;
    let deposit = new_id();
    app.call(
        "POST",
        &format!("/participants/payerfsp/accounts/{settlement}"),
        Some(funds_in(&deposit, "500", "USD")),
        202,
    )
    .await;
    app.wait_for_state(&deposit, "COMMITTED").await;
    let mut bus = Bus::new(&app).await;

    // Reserved: the payer's position moves and the payee is sent the original prepare.
    let first = new_id();
    let body = prepare_body(&first, "payerfsp", "payeefsp", "100");
    bus.prepare(&body, "payerfsp").await;
    app.wait_for_state(&first, "RESERVED").await;
    assert_eq!(app.position(position).await, "100.0000");
    let forwarded = bus.notification(&first, "prepare").await;
    assert_eq!(
        (forwarded.from.as_str(), forwarded.to.as_str()),
        ("payerfsp", "payeefsp")
    );
    assert!(forwarded.metadata.event.state.is_success());
    let original = envelope::decode_payload(&forwarded.content.payload)
        .map(|p| p.to_bytes())
        .unwrap_or_default();
    assert_eq!(
        original,
        serde_json::to_vec(&body).unwrap_or_default(),
        "the payee gets the exact bytes"
    );

    // More than the funds left (500 − 100 = 400): 4001, nothing reserved. The payer sent
    // FSPIOP 2.0: the hub's answer carries its version headers, so it is answered in 2.0.
    let too_much = new_id();
    let v2 = "application/vnd.interoperability.transfers+json;version=2.0";
    let accept_v2 = "application/vnd.interoperability.transfers+json;version=2";
    bus.prepare_with(
        &prepare_body(&too_much, "payerfsp", "payeefsp", "450"),
        "payerfsp",
        &[("content-type", v2), ("accept", accept_v2)],
    )
    .await;
    app.wait_for_state(&too_much, "ABORTED_REJECTED").await;
    let refused = bus.notification(&too_much, "prepare").await;
    assert_eq!(
        (refused.from.as_str(), refused.to.as_str()),
        ("Hub", "payerfsp")
    );
    assert_eq!(refused.metadata.event.state.code, 4001);
    assert_eq!(
        refused
            .content
            .headers
            .get("content-type")
            .map(String::as_str),
        Some(v2)
    );
    assert_eq!(
        refused.content.headers.get("accept").map(String::as_str),
        Some(accept_v2)
    );
    assert_eq!(
        refused
            .content
            .headers
            .get("fspiop-source")
            .map(String::as_str),
        Some("Hub")
    );
    assert_eq!(
        refused.content.payload["errorInformation"]["errorCode"],
        "4001"
    );
    assert_eq!(app.position(position).await, "100.0000");

    // Over the net debit cap (150 after an adjustment): 4200.
    app.call("PUT", "/participants/payerfsp/limits", Some(json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 150, "alarmPercentage": 10}})), 200).await;
    let over_cap = new_id();
    bus.prepare(
        &prepare_body(&over_cap, "payerfsp", "payeefsp", "60"),
        "payerfsp",
    )
    .await;
    app.wait_for_state(&over_cap, "ABORTED_REJECTED").await;
    assert_eq!(
        bus.notification(&over_cap, "prepare")
            .await
            .metadata
            .event
            .state
            .code,
        4200
    );

    // Invalid: the payer pays itself; the source is not the payer; an unknown payee.
    for (body, source, reason) in [
        (
            prepare_body(&new_id(), "payerfsp", "payerfsp", "1"),
            "payerfsp",
            "Payer FSP and Payee FSP should be different",
        ),
        (
            prepare_body(&new_id(), "payerfsp", "payeefsp", "1"),
            "payeefsp",
            "FSPIOP-Source header should match Payer",
        ),
        (
            prepare_body(&new_id(), "payerfsp", "nobody", "1"),
            "payerfsp",
            "Participant nobody not found",
        ),
    ] {
        let id = body["transferId"].as_str().unwrap_or("").to_string();
        bus.prepare(&body, source).await;
        app.wait_for_state(&id, "INVALID").await;
        let error = bus.notification(&id, "prepare").await;
        assert_eq!(error.to, source);
        assert_eq!(
            error.content.payload["errorInformation"]["errorCode"],
            "3100"
        );
        let description = error.content.payload["errorInformation"]["errorDescription"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(description.contains(reason), "{description}");
    }

    // The same prepare again: answered with its state; changed: 3106.
    bus.prepare(&body, "payerfsp").await;
    let duplicate = bus.notification(&first, "prepare-duplicate").await;
    assert_eq!(duplicate.content.payload["transferState"], "RESERVED");
    let mut changed = body.clone();
    changed["amount"]["amount"] = json!("101");
    bus.prepare(&changed, "payerfsp").await;
    let modified = bus
        .notification_where("3106 for the modified resend", |m| {
            m.id == first && m.content.payload["errorInformation"]["errorCode"] == "3106"
        })
        .await;
    assert_eq!(
        (modified.from.as_str(), modified.to.as_str()),
        ("Hub", "payerfsp")
    );
    assert_eq!(
        app.position(position).await,
        "100.0000",
        "duplicates move nothing"
    );

    // A burst that is batched: 40 prepares of 1 all fit under the cap of 150.
    let burst: Vec<String> = (0..40).map(|_| new_id()).collect();
    for id in &burst {
        bus.prepare(&prepare_body(id, "payerfsp", "payeefsp", "1"), "payerfsp")
            .await;
    }
    for id in &burst {
        app.wait_for_state(id, "RESERVED").await;
    }
    assert_eq!(app.position(position).await, "140.0000");
    let (changes,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM participantPositionChange WHERE participantCurrencyId = ?",
    )
    .bind(position)
    .fetch_one(&app.pool)
    .await
    .unwrap_or((0,));
    assert_eq!(changes, 41);
    app.stop().await;
}
