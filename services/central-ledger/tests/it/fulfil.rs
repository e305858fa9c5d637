//! The fulfil handler end to end through Kafka: commit, reserve, abort, a wrong fulfilment, a
//! callback from the wrong participant, duplicates, an unknown and an expired transfer.

use std::time::Duration;

use central_ledger::Handlers;
use serde_json::json;

use crate::helpers::{funds_in, new_id, spawn_app_configured, spawn_app_with, Bus, TestApp};
use crate::prepare::{prepare_body, prepare_body_expiring, FULFILMENT};

fn commit_body(state: &str) -> serde_json::Value {
    json!({"fulfilment": FULFILMENT, "completedTimestamp": fspiop::datetime::format_date_time(central_ledger::now_ms()), "transferState": state})
}

async fn reserved(app: &TestApp, bus: &mut Bus, amount: &str) -> String {
    let id = new_id();
    bus.prepare(
        &prepare_body(&id, "payerfsp", "payeefsp", amount),
        "payerfsp",
    )
    .await;
    app.wait_for_state(&id, "RESERVED").await;
    bus.notification(&id, "prepare").await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_reserves_and_aborts() {
    let app = spawn_app_with(Handlers {
        admin: true,
        prepare: true,
        fulfil: true,
        ..Handlers::default()
    })
    .await;
    app.setup_hub("USD").await;
    app.onboard("payerfsp", "USD", 10_000).await;
    app.onboard("payeefsp", "USD", 10_000).await;
    let settlement = app.account_id("payerfsp", "USD", "SETTLEMENT").await;
    let payer = app.account_id("payerfsp", "USD", "POSITION").await;
    let payee = app.account_id("payeefsp", "USD", "POSITION").await;
    let deposit = new_id();
    app.call(
        "POST",
        &format!("/participants/payerfsp/accounts/{settlement}"),
        Some(funds_in(&deposit, "5000", "USD")),
        202,
    )
    .await;
    app.wait_for_state(&deposit, "COMMITTED").await;
    let mut bus = Bus::new(&app).await;

    // Commit: the payee's position goes down by the amount, the payer gets the payee's PUT.
    let committed = reserved(&app, &mut bus, "100").await;
    let body = commit_body("COMMITTED");
    bus.fulfil(&committed, &body, "payeefsp", "payerfsp", "commit")
        .await;
    app.wait_for_state(&committed, "COMMITTED").await;
    assert_eq!(app.position(payer).await, "100.0000");
    assert_eq!(app.position(payee).await, "-100.0000");
    let notice = bus.notification(&committed, "commit").await;
    assert_eq!(
        (notice.from.as_str(), notice.to.as_str()),
        ("payeefsp", "payerfsp")
    );
    let bytes = fspiop::envelope::decode_payload(&notice.content.payload)
        .map(|p| p.to_bytes())
        .unwrap_or_default();
    assert_eq!(bytes, serde_json::to_vec(&body).unwrap_or_default());
    let (window,): (Option<u64>,) =
        sqlx::query_as("SELECT settlementWindowId FROM transferFulfilment WHERE transferId = ?")
            .bind(&committed)
            .fetch_one(&app.pool)
            .await
            .unwrap_or((None,));
    assert_eq!(window, Some(1), "committed into the open window");

    // The same commit again: fulfil-duplicate with the state; a changed one: 3106.
    bus.fulfil(&committed, &body, "payeefsp", "payerfsp", "commit")
        .await;
    let duplicate = bus.notification(&committed, "fulfil-duplicate").await;
    assert_eq!(duplicate.content.payload["transferState"], "COMMITTED");
    assert_eq!(duplicate.content.payload["fulfilment"], FULFILMENT);
    bus.fulfil(
        &committed,
        &commit_body("RESERVED"),
        "payeefsp",
        "payerfsp",
        "reserve",
    )
    .await;
    let modified = bus
        .notification_where("3106", |m| {
            m.id == committed && m.content.payload["errorInformation"]["errorCode"] == "3106"
        })
        .await;
    assert_eq!(modified.to, "payeefsp");

    // Reserve: committed, the payer gets COMMITTED with the fulfilment (and the payee a PATCH).
    let reserve = reserved(&app, &mut bus, "50").await;
    bus.fulfil(
        &reserve,
        &commit_body("RESERVED"),
        "payeefsp",
        "payerfsp",
        "reserve",
    )
    .await;
    app.wait_for_state(&reserve, "COMMITTED").await;
    let notice = bus.notification(&reserve, "reserve").await;
    assert_eq!(
        (notice.from.as_str(), notice.to.as_str()),
        ("payeefsp", "payerfsp")
    );
    assert_eq!(notice.content.payload["transferState"], "COMMITTED");
    assert_eq!(notice.content.payload["fulfilment"], FULFILMENT);
    assert_eq!(app.position(payee).await, "-150.0000");

    // Abort by the payee: the payer's reservation is given back.
    let aborted = reserved(&app, &mut bus, "70").await;
    assert_eq!(app.position(payer).await, "220.0000");
    let error = json!({"errorInformation": {"errorCode": "5101", "errorDescription": "Payee rejected quote"}});
    bus.fulfil(&aborted, &error, "payeefsp", "payerfsp", "abort")
        .await;
    app.wait_for_state(&aborted, "ABORTED_ERROR").await;
    assert_eq!(app.position(payer).await, "150.0000");
    let notice = bus.notification(&aborted, "abort").await;
    assert_eq!(notice.to, "payerfsp");
    let (code, description): (u32, String) = sqlx::query_as(
        "SELECT errorCode, errorDescription FROM transferError WHERE transferId = ?",
    )
    .bind(&aborted)
    .fetch_one(&app.pool)
    .await
    .unwrap_or_default();
    assert_eq!((code, description.as_str()), (5101, "Payee rejected quote"));

    // A wrong fulfilment aborts too, and the payer is told 3100.
    let wrong = reserved(&app, &mut bus, "30").await;
    let mut bad = commit_body("COMMITTED");
    bad["fulfilment"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    bus.fulfil(&wrong, &bad, "payeefsp", "payerfsp", "commit")
        .await;
    app.wait_for_state(&wrong, "ABORTED_ERROR").await;
    let notice = bus.notification(&wrong, "abort-validation").await;
    assert_eq!(
        (notice.from.as_str(), notice.to.as_str()),
        ("payeefsp", "payerfsp")
    );
    assert_eq!(
        notice.content.payload["errorInformation"]["errorCode"],
        "3100"
    );
    assert_eq!(app.position(payer).await, "150.0000");

    // A callback from someone who is not the payee is refused and changes nothing.
    let guarded = reserved(&app, &mut bus, "10").await;
    bus.fulfil(
        &guarded,
        &commit_body("COMMITTED"),
        "payerfsp",
        "payerfsp",
        "commit",
    )
    .await;
    let refused = bus
        .notification_where("refusal", |m| {
            m.id == guarded && m.content.payload["errorInformation"]["errorCode"] == "3100"
        })
        .await;
    assert_eq!(refused.to, "payerfsp");
    assert_eq!(
        app.transfer_state(&guarded).await.as_deref(),
        Some("RESERVED")
    );

    // An unknown transfer: 3208 to the sender.
    let unknown = new_id();
    bus.fulfil(
        &unknown,
        &commit_body("COMMITTED"),
        "payeefsp",
        "payerfsp",
        "commit",
    )
    .await;
    let notice = bus.notification_where("3208", |m| m.id == unknown).await;
    assert_eq!(
        notice.content.payload["errorInformation"]["errorCode"],
        "3208"
    );

    // An expired transfer: 3303 to the payee, the transfer stays for the timeout handler.
    let late = new_id();
    bus.prepare(
        &prepare_body_expiring(&late, "payerfsp", "payeefsp", "5", 1500),
        "payerfsp",
    )
    .await;
    app.wait_for_state(&late, "RESERVED").await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    bus.fulfil(
        &late,
        &commit_body("COMMITTED"),
        "payeefsp",
        "payerfsp",
        "commit",
    )
    .await;
    let notice = bus
        .notification_where("3303", |m| {
            m.id == late && m.metadata.event.action == "commit"
        })
        .await;
    assert_eq!(
        notice.content.payload["errorInformation"]["errorCode"],
        "3303"
    );
    assert_eq!(app.transfer_state(&late).await.as_deref(), Some("RESERVED"));

    // A resent prepare of a SETTLED transfer is answered with an FSPIOP state: SETTLED is the
    // hub's step after COMMITTED (gross settlement, here through the book as central
    // settlement does it), and DFSPs are shown COMMITTED.
    let id = new_id();
    let prepare = prepare_body(&id, "payerfsp", "payeefsp", "7");
    bus.prepare(&prepare, "payerfsp").await;
    app.wait_for_state(&id, "RESERVED").await;
    bus.fulfil(
        &id,
        &commit_body("COMMITTED"),
        "payeefsp",
        "payerfsp",
        "commit",
    )
    .await;
    app.wait_for_state(&id, "COMMITTED").await;
    let mut tx = app.pool.begin().await.unwrap_or_else(|e| panic!("{e}"));
    ledger_book::lock_transfers(&mut tx, std::slice::from_ref(&id))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut journal = ledger_book::Journal::new();
    journal.transition(
        &id,
        Some(ledger::transfer::State::Committed),
        ledger::transfer::State::Settled,
        Some("test"),
    );
    journal
        .write(&mut tx, &mut ledger_book::Positions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    app.wait_for_state(&id, "SETTLED").await;
    bus.prepare(&prepare, "payerfsp").await;
    let answer = bus.notification(&id, "prepare-duplicate").await;
    assert_eq!(answer.to, "payerfsp");
    assert_eq!(
        answer.content.payload["transferState"], "COMMITTED",
        "{answer:?}"
    );
    assert_eq!(answer.content.payload["fulfilment"], FULFILMENT);

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gets_and_timeouts() {
    let app = spawn_app_with(Handlers::all()).await;
    app.setup_hub("USD").await;
    app.onboard("payerfsp", "USD", 10_000).await;
    app.onboard("payeefsp", "USD", 10_000).await;
    app.onboard("otherfsp", "USD", 10_000).await;
    let settlement = app.account_id("payerfsp", "USD", "SETTLEMENT").await;
    let payer = app.account_id("payerfsp", "USD", "POSITION").await;
    let deposit = new_id();
    app.call(
        "POST",
        &format!("/participants/payerfsp/accounts/{settlement}"),
        Some(funds_in(&deposit, "5000", "USD")),
        202,
    )
    .await;
    app.wait_for_state(&deposit, "COMMITTED").await;
    let mut bus = Bus::new(&app).await;

    // GET: the state for a participant, 3000 for anyone else, 3208 for an unknown id.
    let id = reserved(&app, &mut bus, "25").await;
    bus.get(&id, "payerfsp").await;
    let answer = bus
        .notification_where("get answer", |m| {
            m.id == id && m.metadata.event.action == "get"
        })
        .await;
    assert_eq!(answer.to, "payerfsp");
    assert_eq!(answer.content.payload["transferState"], "RESERVED");
    assert_eq!(
        answer.content.payload["extensionList"]["extension"][0]["key"],
        "k"
    );
    bus.get(&id, "otherfsp").await;
    let refused = bus
        .notification_where("3000", |m| m.id == id && m.to == "otherfsp")
        .await;
    assert_eq!(
        refused.content.payload["errorInformation"]["errorCode"],
        "3000"
    );
    let unknown = new_id();
    bus.get(&unknown, "payerfsp").await;
    let missing = bus.notification_where("3208", |m| m.id == unknown).await;
    assert_eq!(
        missing.content.payload["errorInformation"]["errorCode"],
        "3208"
    );

    // Timeout: an expired reservation is given back and both sides are told 3303.
    let late = new_id();
    bus.prepare(
        &prepare_body_expiring(&late, "payerfsp", "payeefsp", "40", 1000),
        "payerfsp",
    )
    .await;
    app.wait_for_state(&late, "RESERVED").await;
    assert_eq!(app.position(payer).await, "65.0000");
    app.wait_for_state(&late, "EXPIRED_RESERVED").await;
    assert_eq!(app.position(payer).await, "25.0000");
    let notice = bus.notification(&late, "timeout-reserved").await;
    assert_eq!(
        (notice.from.as_str(), notice.to.as_str()),
        ("payeefsp", "payerfsp")
    );
    assert_eq!(
        notice.content.context,
        Some(json!({"payer": "payerfsp", "payee": "payeefsp"}))
    );
    assert_eq!(
        notice.content.payload["errorInformation"]["errorCode"],
        "3303"
    );
    bus.get(&late, "payeefsp").await;
    let answer = bus
        .notification_where("get of the expired", |m| {
            m.id == late && m.metadata.event.action == "get"
        })
        .await;
    assert_eq!(answer.content.payload["transferState"], "ABORTED");
    let cause = answer.content.payload["extensionList"]["extension"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(cause["key"], "cause");
    assert!(
        cause["value"].as_str().unwrap_or("").starts_with("3303"),
        "{cause}"
    );
    app.stop().await;
}

/// With the default `timeout_interval_ms`, a transfer that expires 2 s after its prepare is
/// reported (3303 to payer and payee, position given back) within 3 s, even while another
/// reservation with a long expiry is watched (the handler does not sleep until that one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_is_reported_on_time_with_the_default_interval() {
    let defaults = central_ledger::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_app_configured(Handlers::all(), |config| {
        config.transfers.timeout_interval_ms = defaults.transfers.timeout_interval_ms;
    })
    .await;
    app.setup_hub("USD").await;
    app.onboard("payerfsp", "USD", 10_000).await;
    app.onboard("payeefsp", "USD", 10_000).await;
    let settlement = app.account_id("payerfsp", "USD", "SETTLEMENT").await;
    let payer = app.account_id("payerfsp", "USD", "POSITION").await;
    let deposit = new_id();
    app.call(
        "POST",
        &format!("/participants/payerfsp/accounts/{settlement}"),
        Some(funds_in(&deposit, "5000", "USD")),
        202,
    )
    .await;
    app.wait_for_state(&deposit, "COMMITTED").await;
    let mut bus = Bus::new(&app).await;
    let long = reserved(&app, &mut bus, "10").await;
    // Let the handler settle into its longest sleep.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let short = new_id();
    let sent = std::time::Instant::now();
    bus.prepare(
        &prepare_body_expiring(&short, "payerfsp", "payeefsp", "40", 2000),
        "payerfsp",
    )
    .await;
    let notice = bus.notification(&short, "timeout-reserved").await;
    let waited = sent.elapsed();
    assert!(
        waited < Duration::from_millis(3000),
        "a 2 s expiry was reported after {waited:?}"
    );
    assert!(waited >= Duration::from_millis(1900), "{waited:?}");
    assert_eq!(
        notice.content.payload["errorInformation"]["errorCode"],
        "3303"
    );
    app.wait_for_state(&short, "EXPIRED_RESERVED").await;
    assert_eq!(app.position(payer).await, "10.0000");
    assert_eq!(app.transfer_state(&long).await.as_deref(), Some("RESERVED"));
    app.stop().await;
}
