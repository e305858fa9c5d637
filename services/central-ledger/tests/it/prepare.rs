//! The prepare handler end to end through Kafka: a prepare as the ML API Adapter puts it on
//! `topic-transfer-prepare`, the ledger's state and positions, and the notifications it
//! produces for the adapter.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use central_ledger::Handlers;
use fspiop::envelope::{self, Message};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};

use crate::helpers::{funds_in, kafka_brokers, new_id, spawn_app_with, TestApp};

const CONDITION: &str = "GRzLaTP7DJ9t4P-a_BA0WA9wzzlsugf00-Tn6kESAfM";

fn prepare_body(id: &str, payer: &str, payee: &str, amount: &str) -> Value {
    json!({
        "transferId": id, "payerFsp": payer, "payeeFsp": payee,
        "amount": {"amount": amount, "currency": "USD"},
        "ilpPacket": "AYIBgQAAAAAAAASwNGxldmVsb25lLmRmc3AxLm1lci45T2RTOF81MDdqUUZERmZlakgyOVc4bXFmNEpLMHlGTFGCAUBQU0svMS4wCk5vbmNlOiB1SXlweUYzY3pYSXBFdzVVc05TYWh3CkVuY3J5cHRpb246IG5vbmUKUGF5bWVudC1JZDogMTMyMzZhM2ItOGZhOC00MTYzLTg0NDctNGMzZWQzZGE5OGE3CgpDb250ZW50LUxlbmd0aDogMTM1CkNvbnRlbnQtVHlwZTogYXBwbGljYXRpb24vanNvbgpTZW5kZXItSWRlbnRpZmllcjogOTI4MDYzOTEKCiJ7XCJmZWVcIjowLFwidHJhbnNmZXJDb2RlXCI6XCJpbnZvaWNlXCIsXCJkZWJpdE5hbWVcIjpcImFsaWNlIGNvb3BlclwiLFwiY3JlZGl0TmFtZVwiOlwibWVyIGNoYW50XCIsXCJkZWJpdElkZW50aWZpZXJcIjpcIjkyODA2MzkxXCJ9IgA",
        "condition": CONDITION,
        "expiration": fspiop::datetime::format_date_time(central_ledger::now_ms() + 600_000),
        "extensionList": {"extension": [{"key": "k", "value": "v"}]}
    })
}

struct Bus {
    producer: FutureProducer,
    notifications: StreamConsumer,
    prepare_topic: String,
    seen: Vec<Message>,
}

impl Bus {
    async fn new(app: &TestApp) -> Bus {
        let config = bus::BusConfig::new(kafka_brokers(), "test");
        let producer = bus::create_producer(&config).unwrap_or_else(|e| panic!("{e}"));
        let notifications = bus::create_consumer(&config, &format!("{}test-listener", app.topic_prefix)).unwrap_or_else(|e| panic!("{e}"));
        notifications
            .subscribe(&[format!("{}{}", app.topic_prefix, bus::TOPIC_NOTIFICATION_EVENT).as_str()])
            .unwrap_or_else(|e| panic!("{e}"));
        Bus { producer, notifications, prepare_topic: format!("{}{}", app.topic_prefix, bus::TOPIC_TRANSFER_PREPARE), seen: Vec::new() }
    }

    /// Puts a prepare on the topic as the ML API Adapter does: the exact body bytes in a data URI.
    async fn prepare(&self, body: &Value, source: &str) {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let mut headers = BTreeMap::new();
        headers.insert("content-type".to_string(), "application/vnd.interoperability.transfers+json;version=1.1".to_string());
        headers.insert("fspiop-source".to_string(), source.to_string());
        headers.insert("fspiop-destination".to_string(), body["payeeFsp"].as_str().unwrap_or("").to_string());
        headers.insert("date".to_string(), "Tue, 15 Nov 1994 08:12:31 GMT".to_string());
        let id = body["transferId"].as_str().unwrap_or("");
        let message = Message::from_request(id, source, body["payeeFsp"].as_str().unwrap_or(""), headers, Some(&bytes), None, "prepare", "prepare", central_ledger::now_ms());
        let value = serde_json::to_vec(&message).unwrap_or_default();
        self.producer
            .send(FutureRecord::to(&self.prepare_topic).key(id).payload(&value), Duration::from_secs(10))
            .await
            .unwrap_or_else(|(e, _)| panic!("{e}"));
    }

    /// Waits (bounded) for a notification about `id` with `action`.
    async fn notification(&mut self, id: &str, action: &str) -> Message {
        self.notification_where(&format!("{action} for {id}"), |m| m.id == id && m.metadata.event.action == action).await
    }

    /// Waits (bounded) for a notification that `wanted` accepts.
    async fn notification_where(&mut self, what: &str, wanted: impl Fn(&Message) -> bool) -> Message {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(found) = self.seen.iter().find(|m| wanted(m)) {
                return found.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no notification: {what}; seen {:?}", self.seen.iter().map(|m| (&m.id, &m.metadata.event.action)).collect::<Vec<_>>());
            if let Ok(Ok(message)) = tokio::time::timeout(left, self.notifications.recv()).await {
                if let Some(Ok(parsed)) = message.payload().map(serde_json::from_slice::<Message>) {
                    self.seen.push(parsed);
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepares_are_reserved_rejected_and_deduplicated() {
    let app = spawn_app_with(Handlers { admin: true, prepare: true }).await;
    app.setup_hub("USD").await;
    app.onboard("payerfsp", "USD", 1000).await;
    app.onboard("payeefsp", "USD", 1000).await;
    let settlement = app.account_id("payerfsp", "USD", "SETTLEMENT").await;
    let position = app.account_id("payerfsp", "USD", "POSITION").await;
    let deposit = new_id();
    app.call("POST", &format!("/participants/payerfsp/accounts/{settlement}"), Some(funds_in(&deposit, "500", "USD")), 202).await;
    app.wait_for_state(&deposit, "COMMITTED").await;
    let mut bus = Bus::new(&app).await;

    // Reserved: the payer's position moves and the payee is sent the original prepare.
    let first = new_id();
    let body = prepare_body(&first, "payerfsp", "payeefsp", "100");
    bus.prepare(&body, "payerfsp").await;
    app.wait_for_state(&first, "RESERVED").await;
    assert_eq!(app.position(position).await, "100.0000");
    let forwarded = bus.notification(&first, "prepare").await;
    assert_eq!((forwarded.from.as_str(), forwarded.to.as_str()), ("payerfsp", "payeefsp"));
    assert!(forwarded.metadata.event.state.is_success());
    let original = envelope::decode_payload(&forwarded.content.payload).map(|p| p.to_bytes()).unwrap_or_default();
    assert_eq!(original, serde_json::to_vec(&body).unwrap_or_default(), "the payee gets the exact bytes");

    // More than the funds left (500 − 100 = 400): 4001, nothing reserved.
    let too_much = new_id();
    bus.prepare(&prepare_body(&too_much, "payerfsp", "payeefsp", "450"), "payerfsp").await;
    app.wait_for_state(&too_much, "ABORTED_REJECTED").await;
    let refused = bus.notification(&too_much, "prepare").await;
    assert_eq!((refused.from.as_str(), refused.to.as_str()), ("Hub", "payerfsp"));
    assert_eq!(refused.metadata.event.state.code, 4001);
    assert_eq!(refused.content.payload["errorInformation"]["errorCode"], "4001");
    assert_eq!(app.position(position).await, "100.0000");

    // Over the net debit cap (150 after an adjustment): 4200.
    app.call("PUT", "/participants/payerfsp/limits", Some(json!({"currency": "USD", "limit": {"type": "NET_DEBIT_CAP", "value": 150, "alarmPercentage": 10}})), 200).await;
    let over_cap = new_id();
    bus.prepare(&prepare_body(&over_cap, "payerfsp", "payeefsp", "60"), "payerfsp").await;
    app.wait_for_state(&over_cap, "ABORTED_REJECTED").await;
    assert_eq!(bus.notification(&over_cap, "prepare").await.metadata.event.state.code, 4200);

    // Invalid: the payer pays itself; the source is not the payer; an unknown payee.
    for (body, source, reason) in [
        (prepare_body(&new_id(), "payerfsp", "payerfsp", "1"), "payerfsp", "Payer FSP and Payee FSP should be different"),
        (prepare_body(&new_id(), "payerfsp", "payeefsp", "1"), "payeefsp", "FSPIOP-Source header should match Payer"),
        (prepare_body(&new_id(), "payerfsp", "nobody", "1"), "payerfsp", "Participant nobody not found"),
    ] {
        let id = body["transferId"].as_str().unwrap_or("").to_string();
        bus.prepare(&body, source).await;
        app.wait_for_state(&id, "INVALID").await;
        let error = bus.notification(&id, "prepare").await;
        assert_eq!(error.to, source);
        assert_eq!(error.content.payload["errorInformation"]["errorCode"], "3100");
        let description = error.content.payload["errorInformation"]["errorDescription"].as_str().unwrap_or("").to_string();
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
        .notification_where("3106 for the modified resend", |m| m.id == first && m.content.payload["errorInformation"]["errorCode"] == "3106")
        .await;
    assert_eq!((modified.from.as_str(), modified.to.as_str()), ("Hub", "payerfsp"));
    assert_eq!(app.position(position).await, "100.0000", "duplicates move nothing");

    // A burst that is batched: 40 prepares of 1 all fit under the cap of 150.
    let burst: Vec<String> = (0..40).map(|_| new_id()).collect();
    for id in &burst {
        bus.prepare(&prepare_body(id, "payerfsp", "payeefsp", "1"), "payerfsp").await;
    }
    for id in &burst {
        app.wait_for_state(id, "RESERVED").await;
    }
    assert_eq!(app.position(position).await, "140.0000");
    let (changes,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM participantPositionChange WHERE participantCurrencyId = ?")
        .bind(position)
        .fetch_one(&app.pool)
        .await
        .unwrap_or((0,));
    assert_eq!(changes, 41);
    app.stop().await;
}
