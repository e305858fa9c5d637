//! Offsets only after every effect: when the bus refuses a batch's notifications the prepare
//! handler retries them (bounded), and when it cannot deliver them it stops without
//! committing the batch and /health says so; started again, it tells every DFSP. No callback
//! is lost and no money moves twice. The broker here is the embedded bus, told to refuse
//! (`MemoryBus::refuse_sends`); the database is the real MySQL.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use central_ledger::Handlers;
use fspiop::envelope::Message;

use crate::helpers::{funds_in, new_id, prepare_message, spawn_app_on, TestApp};
use crate::prepare::prepare_body;

fn handlers() -> Handlers {
    Handlers {
        admin: true,
        prepare: true,
        ..Handlers::default()
    }
}

fn adjust(config: &mut central_ledger::Config) {
    config.transfers.notify_attempts_max = 3;
    config.transfers.notify_retry_delay_ms = 20;
}

async fn send_prepares(memory: &bus::MemoryBus, app: &TestApp, ids: &[String]) {
    let topic = format!("{}{}", app.topic_prefix, bus::TOPIC_TRANSFER_PREPARE);
    for id in ids {
        let (key, value) = prepare_message(
            &prepare_body(id, "payerfsp", "payeefsp", "10"),
            "payerfsp",
            &[],
        );
        memory
            .send(&topic, Some(key.as_bytes()), &value, 5_000)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Reads notifications until every id of `ids` was forwarded to the payee (action
/// `prepare`); bounded.
async fn payees_told(listener: &bus::memory::MemoryConsumer, ids: &[String]) -> Vec<Message> {
    let mut waiting: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !waiting.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let record = tokio::time::timeout(left, listener.recv())
            .await
            .unwrap_or_else(|_| panic!("payees never told of {waiting:?}"))
            .unwrap_or_else(|e| panic!("{e}"));
        let message: Message = serde_json::from_slice(record.payload.as_deref().unwrap_or(&[]))
            .unwrap_or_else(|e| panic!("not an envelope: {e}"));
        if message.metadata.event.action == "prepare" && message.to == "payeefsp" {
            waiting.remove(message.id.as_str());
        }
        seen.push(message);
    }
    seen
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_refusal_while_notifying_loses_no_callback() {
    let memory =
        bus::MemoryBus::new(bus::MemoryBusConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_app_on(
        handlers(),
        adjust,
        Some(bus::Bus::Memory(memory.clone())),
        None,
    )
    .await;
    let notifications = format!("{}{}", app.topic_prefix, bus::TOPIC_NOTIFICATION_EVENT);
    let listener = memory
        .consumer("test-listener", &notifications)
        .unwrap_or_else(|e| panic!("{e}"));
    app.setup_hub("USD").await;
    app.onboard("payerfsp", "USD", 10_000).await;
    app.onboard("payeefsp", "USD", 10_000).await;
    let settlement = app.account_id("payerfsp", "USD", "SETTLEMENT").await;
    let position = app.account_id("payerfsp", "USD", "POSITION").await;
    let deposit = new_id();
    app.call(
        "POST",
        &format!("/participants/payerfsp/accounts/{settlement}"),
        Some(funds_in(&deposit, "1000", "USD")),
        202,
    )
    .await;
    app.wait_for_state(&deposit, "COMMITTED").await;

    // A refusal mid-batch that a retry gets past: the first notification goes, the next two
    // are refused, the third attempt delivers them all.
    memory.refuse_sends(&notifications, 1, 2);
    let first: Vec<String> = (0..5).map(|_| new_id()).collect();
    send_prepares(&memory, &app, &first).await;
    payees_told(&listener, &first).await;
    assert!(
        app.healthy().await,
        "a delivered retry leaves the service healthy"
    );

    // A refusal that outlasts the retries: the handler stops, uncommitted, and /health says so.
    memory.refuse_sends(&notifications, 1, 1_000_000);
    let second: Vec<String> = (0..3).map(|_| new_id()).collect();
    send_prepares(&memory, &app, &second).await;
    wait_until("/health reports the stopped handler", async || {
        !app.healthy().await
    })
    .await;
    for id in &second {
        // The money moved (the transaction committed before the notifications)…
        assert_eq!(app.transfer_state(id).await.as_deref(), Some("RESERVED"));
    }
    // …and the batch was not committed: restarted (the broker accepting again), the handler
    // takes it again and tells each payee, answering from the ledger's state.
    memory.refuse_sends(&notifications, 0, 0);
    let resume = app.halt().await;
    let app = spawn_app_on(
        handlers(),
        adjust,
        Some(bus::Bus::Memory(memory.clone())),
        Some(resume),
    )
    .await;
    let seen = payees_told(&listener, &second).await;
    for id in &second {
        assert!(
            seen.iter().any(|m| m.id == *id && m.to == "payerfsp"),
            "payer of {id} told the state again: {seen:?}"
        );
    }
    assert!(app.healthy().await);
    // Each transfer reserved once: 8 × 10.
    assert_eq!(app.position(position).await, "80.0000");
    app.stop().await;
}
