//! Currency conversion (`/fxTransfers`, payer conversion) end to end through Kafka and MySQL:
//! the conversion and its dependent transfer commit together (positions in both currencies),
//! an invalid fulfilment, an FXP's error and a payee's error unwind both, each side's expiry
//! expires both, duplicates, GET of each state, a callback from the wrong party, and a restart
//! between the FXP's fulfilment and the dependent transfer.

use central_ledger::Handlers;
use fspiop::envelope::Message;
use serde_json::{json, Value};

use crate::helpers::{
    funds_in, fx_message, new_id, prepare_message, spawn_app_on, Bus, Resume, TestApp,
};
use crate::prepare::{condition, prepare_body_expiring, FULFILMENT};

const HANDLERS: Handlers = Handlers {
    admin: true,
    prepare: true,
    fulfil: true,
    get: true,
    timeout: true,
};

/// Account ids of the four positions an FX payment moves.
struct Accounts {
    payer_usd: u64,
    fxp_usd: u64,
    fxp_eur: u64,
    payee_eur: u64,
}

impl Accounts {
    async fn positions(&self, app: &TestApp) -> [String; 4] {
        [
            app.position(self.payer_usd).await,
            app.position(self.fxp_usd).await,
            app.position(self.fxp_eur).await,
            app.position(self.payee_eur).await,
        ]
    }
}

fn zero() -> [String; 4] {
    ["0.0000", "0.0000", "0.0000", "0.0000"].map(str::to_string)
}

async fn deposit(app: &TestApp, name: &str, currency: &str, amount: &str) {
    let account = app.account_id(name, currency, "SETTLEMENT").await;
    let id = new_id();
    app.call(
        "POST",
        &format!("/participants/{name}/accounts/{account}"),
        Some(funds_in(&id, amount, currency)),
        202,
    )
    .await;
    app.wait_for_state(&id, "COMMITTED").await;
}

/// A ledger with a USD payer, an EUR payee and an FXP holding both, funded.
async fn setup(resume: Option<Resume>) -> (TestApp, Accounts) {
    setup_on(None, resume).await
}

/// [`setup`] on `bus` (Kafka when `None`).
async fn setup_on(bus: Option<bus::Bus>, resume: Option<Resume>) -> (TestApp, Accounts) {
    let fresh = resume.is_none();
    let adjust = |config: &mut central_ledger::Config| {
        config.transfers.notify_attempts_max = 2;
        config.transfers.notify_retry_delay_ms = 20;
    };
    let app = spawn_app_on(HANDLERS, adjust, bus, resume).await;
    if fresh {
        app.setup_hub("USD").await;
        for account_type in ["HUB_MULTILATERAL_SETTLEMENT", "HUB_RECONCILIATION"] {
            app.call(
                "POST",
                "/participants/Hub/accounts",
                Some(json!({"currency": "EUR", "type": account_type})),
                201,
            )
            .await;
        }
        app.onboard("payerfsp", "USD", 10_000).await;
        app.onboard("payeefsp", "EUR", 10_000).await;
        app.onboard("fxp", "USD", 10_000).await;
        app.onboard("fxp", "EUR", 10_000).await;
        deposit(&app, "payerfsp", "USD", "5000").await;
        deposit(&app, "fxp", "EUR", "5000").await;
    }
    let accounts = Accounts {
        payer_usd: app.account_id("payerfsp", "USD", "POSITION").await,
        fxp_usd: app.account_id("fxp", "USD", "POSITION").await,
        fxp_eur: app.account_id("fxp", "EUR", "POSITION").await,
        payee_eur: app.account_id("payeefsp", "EUR", "POSITION").await,
    };
    (app, accounts)
}

fn fx_body(commit_request_id: &str, determining: &str, expires_in_ms: i64) -> Value {
    json!({
        "commitRequestId": commit_request_id,
        "determiningTransferId": determining,
        "initiatingFsp": "payerfsp",
        "counterPartyFsp": "fxp",
        "sourceAmount": {"amount": "100", "currency": "USD"},
        "targetAmount": {"amount": "90", "currency": "EUR"},
        "condition": condition(),
        "expiration": fspiop::datetime::format_date_time(central_ledger::now_ms() + expires_in_ms),
    })
}

fn fx_fulfil_body(fulfilment: &str) -> Value {
    json!({
        "conversionState": "RESERVED",
        "fulfilment": fulfilment,
        "completedTimestamp": fspiop::datetime::format_date_time(central_ledger::now_ms()),
    })
}

fn dependent_body(transfer_id: &str, payer: &str, expires_in_ms: i64) -> Value {
    let mut body = prepare_body_expiring(transfer_id, payer, "payeefsp", "90", expires_in_ms);
    body["amount"]["currency"] = json!("EUR");
    body
}

fn commit_body() -> Value {
    json!({"fulfilment": FULFILMENT, "completedTimestamp": fspiop::datetime::format_date_time(central_ledger::now_ms()), "transferState": "COMMITTED"})
}

fn error_code(message: &Message) -> String {
    message.content.payload["errorInformation"]["errorCode"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A conversion prepared and reserved (and, with `fulfil`, fulfilled by the FXP).
async fn conversion(
    app: &TestApp,
    bus: &mut Bus,
    expires_in_ms: i64,
    fulfil: bool,
) -> (String, String) {
    let (fx, transfer, _) = conversion_of(app, bus, expires_in_ms, fulfil).await;
    (fx, transfer)
}

/// [`conversion`], with the body the fx prepare was sent with.
async fn conversion_of(
    app: &TestApp,
    bus: &mut Bus,
    expires_in_ms: i64,
    fulfil: bool,
) -> (String, String, Value) {
    let (fx, transfer) = (new_id(), new_id());
    let body = fx_body(&fx, &transfer, expires_in_ms);
    bus.fx("prepare", &fx, Some(&body), "payerfsp", "fxp", "fx-prepare")
        .await;
    app.wait_for_fx_state(&fx, "RESERVED").await;
    let forwarded = bus.notification(&fx, "fx-prepare").await;
    assert_eq!(
        (forwarded.from.as_str(), forwarded.to.as_str()),
        ("payerfsp", "fxp")
    );
    if fulfil {
        bus.fx(
            "fulfil",
            &fx,
            Some(&fx_fulfil_body(FULFILMENT)),
            "fxp",
            "payerfsp",
            "fx-reserve",
        )
        .await;
        app.wait_for_fx_state(&fx, "RECEIVED_FULFIL_DEPENDENT")
            .await;
        let relayed = bus.notification(&fx, "fx-reserve").await;
        assert_eq!(
            (relayed.from.as_str(), relayed.to.as_str()),
            ("fxp", "payerfsp")
        );
    }
    (fx, transfer, body)
}

/// What `GET /fxTransfers/{fx}` by `requester` is answered with (an answer not seen before).
async fn get(bus: &mut Bus, fx: &str, requester: &str) -> Message {
    let before: std::collections::HashSet<Option<String>> = bus
        .seen
        .iter()
        .map(|m| m.metadata.event.id.clone())
        .collect();
    bus.fx("get", fx, None, requester, "Hub", "fx-get").await;
    bus.notification_where("a new fx-get answer", |m| {
        m.id == fx && m.metadata.event.action == "fx-get" && !before.contains(&m.metadata.event.id)
    })
    .await
}

/// Each account's journal sums to its position.
async fn journal_matches_positions(app: &TestApp) {
    let rows: Vec<(u64, String, String)> = sqlx::query_as(
        "SELECT pp.participantCurrencyId, CAST(pp.value AS CHAR), CAST(COALESCE(SUM(ppc.`change`), 0) AS CHAR)
         FROM participantPosition pp LEFT JOIN participantPositionChange ppc ON ppc.participantPositionId = pp.participantPositionId
         GROUP BY pp.participantPositionId, pp.participantCurrencyId, pp.value",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    for (account, value, sum) in rows {
        assert_eq!(
            ledger::Money::parse(&value).ok(),
            ledger::Money::parse(&sum).ok(),
            "account {account}: position {value}, journal {sum}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_fx_payment_commits_both_sides_together() {
    let (app, accounts) = setup(None).await;
    let mut bus = Bus::new(&app).await;
    let (fx, transfer, body) = conversion_of(&app, &mut bus, 600_000, false).await;
    // The initiator's USD position holds the source amount; GET shows RESERVED.
    assert_eq!(
        accounts.positions(&app).await,
        ["100.0000", "0.0000", "0.0000", "0.0000"].map(str::to_string)
    );
    let answer = get(&mut bus, &fx, "payerfsp").await;
    assert_eq!(answer.content.payload["conversionState"], "RESERVED");
    assert_eq!(answer.to, "payerfsp");

    // The FXP fulfils: RECEIVED_FULFIL_DEPENDENT (still RESERVED outside), nothing moves.
    bus.fx(
        "fulfil",
        &fx,
        Some(&fx_fulfil_body(FULFILMENT)),
        "fxp",
        "payerfsp",
        "fx-reserve",
    )
    .await;
    app.wait_for_fx_state(&fx, "RECEIVED_FULFIL_DEPENDENT")
        .await;
    let relayed = bus.notification(&fx, "fx-reserve").await;
    assert_eq!(relayed.to, "payerfsp");
    let answer = get(&mut bus, &fx, "fxp").await;
    assert_eq!(answer.content.payload["conversionState"], "RESERVED");
    assert_eq!(answer.content.payload["fulfilment"], FULFILMENT);

    // The dependent transfer reserves the FXP's EUR position, not the payer's.
    bus.prepare(&dependent_body(&transfer, "payerfsp", 600_000), "payerfsp")
        .await;
    app.wait_for_state(&transfer, "RESERVED").await;
    assert_eq!(
        accounts.positions(&app).await,
        ["100.0000", "0.0000", "90.0000", "0.0000"].map(str::to_string)
    );

    // The payee commits: both commit, in each currency the moves sum to zero.
    bus.fulfil(&transfer, &commit_body(), "payeefsp", "payerfsp", "commit")
        .await;
    app.wait_for_state(&transfer, "COMMITTED").await;
    assert_eq!(app.fx_state(&fx).await.as_deref(), Some("COMMITTED"));
    assert_eq!(
        accounts.positions(&app).await,
        ["100.0000", "-100.0000", "90.0000", "-90.0000"].map(str::to_string)
    );
    let patch = bus.notification(&fx, "fx-notify").await;
    assert_eq!(patch.to, "fxp");
    assert_eq!(patch.content.payload["conversionState"], "COMMITTED");
    assert_eq!(
        patch
            .content
            .headers
            .get("content-type")
            .map(String::as_str),
        Some("application/vnd.interoperability.fxTransfers+json;version=2.0")
    );
    let commit = bus.notification(&transfer, "commit").await;
    assert_eq!(commit.to, "payerfsp");
    let (window,): (Option<u64>,) = sqlx::query_as(
        "SELECT settlementWindowId FROM fxTransferFulfilment WHERE commitRequestId = ?",
    )
    .bind(&fx)
    .fetch_one(&app.pool)
    .await
    .unwrap_or((None,));
    assert_eq!(
        window,
        Some(1),
        "the conversion settles in its transfer's window"
    );
    let answer = get(&mut bus, &fx, "payerfsp").await;
    assert_eq!(answer.content.payload["conversionState"], "COMMITTED");

    // A resend of the fx prepare is answered with the state; a changed one is 3106.
    bus.fx("prepare", &fx, Some(&body), "payerfsp", "fxp", "fx-prepare")
        .await;
    let resent = bus.notification(&fx, "fx-prepare-duplicate").await;
    assert_eq!(resent.content.payload["conversionState"], "COMMITTED");
    assert_eq!(resent.to, "payerfsp");
    let mut changed = body.clone();
    changed["expiration"] = json!("2099-01-01T00:00:00.000Z");
    bus.fx(
        "prepare",
        &fx,
        Some(&changed),
        "payerfsp",
        "fxp",
        "fx-prepare",
    )
    .await;
    let modified = bus
        .notification_where("3106", |m| {
            m.id == fx
                && m.metadata.event.action == "fx-prepare-duplicate"
                && m.content.payload["errorInformation"]["errorCode"] == "3106"
        })
        .await;
    assert_eq!(modified.to, "payerfsp");
    // The FXP's fulfilment again: answered with the state, nothing moves.
    bus.fx(
        "fulfil",
        &fx,
        Some(&fx_fulfil_body(FULFILMENT)),
        "fxp",
        "payerfsp",
        "fx-reserve",
    )
    .await;
    let again = bus.notification(&fx, "fx-fulfil-duplicate").await;
    assert_eq!(again.to, "fxp");
    // A GET from a DFSP that is not a party: 3000. Of an unknown id: 3208.
    let answer = get(&mut bus, &fx, "payeefsp").await;
    assert_eq!(error_code(&answer), "3000");
    let unknown = new_id();
    bus.fx("get", &unknown, None, "payerfsp", "Hub", "fx-get")
        .await;
    let answer = bus.notification(&unknown, "fx-get").await;
    assert_eq!(error_code(&answer), "3208");
    journal_matches_positions(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_fulfilment_an_fxp_error_or_a_stranger_changes_what_it_should() {
    let (app, accounts) = setup(None).await;
    let mut bus = Bus::new(&app).await;

    // A wrong fulfilment aborts the conversion: reservation back, both sides told 3100.
    let (bad, _) = conversion(&app, &mut bus, 600_000, false).await;
    bus.fx(
        "fulfil",
        &bad,
        Some(&fx_fulfil_body(
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )),
        "fxp",
        "payerfsp",
        "fx-reserve",
    )
    .await;
    app.wait_for_fx_state(&bad, "ABORTED_ERROR").await;
    for to in ["payerfsp", "fxp"] {
        let told = bus
            .notification_where(&format!("fx-abort-validation to {to}"), |m| {
                m.id == bad && m.metadata.event.action == "fx-abort-validation" && m.to == to
            })
            .await;
        assert_eq!(error_code(&told), "3100");
    }
    assert_eq!(accounts.positions(&app).await, zero());

    // A callback from a DFSP that is not the FXP is refused to its sender; nothing changes.
    let (fx, _) = conversion(&app, &mut bus, 600_000, false).await;
    bus.fx(
        "fulfil",
        &fx,
        Some(&fx_fulfil_body(FULFILMENT)),
        "payeefsp",
        "payerfsp",
        "fx-reserve",
    )
    .await;
    let refused = bus
        .notification_where("refusal to payeefsp", |m| m.id == fx && m.to == "payeefsp")
        .await;
    assert_eq!(error_code(&refused), "3100");
    assert_eq!(app.fx_state(&fx).await.as_deref(), Some("RESERVED"));

    // The FXP's error: aborted, the reservation back, the error relayed to the initiator.
    let error = json!({"errorInformation": {"errorCode": "5100", "errorDescription": "rate no longer available"}});
    bus.fx("fulfil", &fx, Some(&error), "fxp", "payerfsp", "fx-abort")
        .await;
    app.wait_for_fx_state(&fx, "ABORTED_ERROR").await;
    let relayed = bus.notification(&fx, "fx-abort").await;
    assert_eq!(
        (relayed.from.as_str(), relayed.to.as_str()),
        ("fxp", "payerfsp")
    );
    assert_eq!(accounts.positions(&app).await, zero());

    // The FXP answers conversionState ABORTED: aborted, the initiator told 5100 by the hub, the
    // FXP (which knows) not.
    let (rejected, _) = conversion(&app, &mut bus, 600_000, false).await;
    let refusal = json!({"conversionState": "ABORTED", "completedTimestamp": fspiop::datetime::format_date_time(central_ledger::now_ms())});
    bus.fx(
        "fulfil",
        &rejected,
        Some(&refusal),
        "fxp",
        "payerfsp",
        "fx-reject",
    )
    .await;
    app.wait_for_fx_state(&rejected, "ABORTED_ERROR").await;
    let told = bus
        .notification_where("the refusal to the initiator", |m| {
            m.id == rejected && m.metadata.event.action == "fx-abort-validation"
        })
        .await;
    assert_eq!(
        (told.to.as_str(), error_code(&told).as_str()),
        ("payerfsp", "5100")
    );
    assert!(
        !bus.seen.iter().any(|m| m.id == rejected
            && m.to == "fxp"
            && m.metadata.event.action == "fx-abort-validation"),
        "the FXP is not told of its own refusal"
    );
    assert_eq!(accounts.positions(&app).await, zero());

    // A transfer naming a conversion the FXP has not fulfilled is invalid (3100).
    let (open, transfer) = conversion(&app, &mut bus, 600_000, false).await;
    bus.prepare(&dependent_body(&transfer, "payerfsp", 600_000), "payerfsp")
        .await;
    app.wait_for_state(&transfer, "INVALID").await;
    let answer = bus.notification(&transfer, "prepare").await;
    assert_eq!(error_code(&answer), "3100");
    assert_eq!(app.fx_state(&open).await.as_deref(), Some("RESERVED"));
    // One from another payer, for a fulfilled conversion, is invalid too.
    let (fulfilled, transfer) = conversion(&app, &mut bus, 600_000, true).await;
    bus.prepare(&dependent_body(&transfer, "payeefsp", 600_000), "payeefsp")
        .await;
    app.wait_for_state(&transfer, "INVALID").await;
    assert_eq!(
        app.fx_state(&fulfilled).await.as_deref(),
        Some("RECEIVED_FULFIL_DEPENDENT")
    );
    journal_matches_positions(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payees_error_unwinds_both_and_the_fxp_is_told() {
    let (app, accounts) = setup(None).await;
    let mut bus = Bus::new(&app).await;
    let (fx, transfer) = conversion(&app, &mut bus, 600_000, true).await;
    bus.prepare(&dependent_body(&transfer, "payerfsp", 600_000), "payerfsp")
        .await;
    app.wait_for_state(&transfer, "RESERVED").await;
    let error =
        json!({"errorInformation": {"errorCode": "5101", "errorDescription": "payee refused"}});
    bus.fulfil(&transfer, &error, "payeefsp", "payerfsp", "abort")
        .await;
    app.wait_for_state(&transfer, "ABORTED_ERROR").await;
    assert_eq!(app.fx_state(&fx).await.as_deref(), Some("ABORTED_ERROR"));
    assert_eq!(accounts.positions(&app).await, zero());
    let patch = bus.notification(&fx, "fx-notify").await;
    assert_eq!(
        (patch.to.as_str(), &patch.content.payload["conversionState"]),
        ("fxp", &json!("ABORTED"))
    );
    let answer = get(&mut bus, &fx, "fxp").await;
    assert_eq!(answer.content.payload["conversionState"], "ABORTED");
    journal_matches_positions(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_side_expires_with_the_other() {
    let (app, accounts) = setup(None).await;
    let mut bus = Bus::new(&app).await;
    // The conversion expires before the FXP answers: 3303 to the initiator and the FXP.
    let (alone, _) = conversion(&app, &mut bus, 1500, false).await;
    app.wait_for_fx_state(&alone, "EXPIRED_RESERVED").await;
    for to in ["payerfsp", "fxp"] {
        let told = bus
            .notification_where(&format!("fx-timeout-reserved to {to}"), |m| {
                m.id == alone && m.metadata.event.action == "fx-timeout-reserved" && m.to == to
            })
            .await;
        assert_eq!(error_code(&told), "3303");
    }
    assert_eq!(accounts.positions(&app).await, zero());
    let answer = get(&mut bus, &alone, "payerfsp").await;
    assert_eq!(answer.content.payload["conversionState"], "ABORTED");
    // Delivered, the notices are forgotten.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM fxTransferExpiryNotice")
            .fetch_one(&app.pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{left} fx expiry notices kept"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The dependent transfer expires: the conversion expires with it.
    let (fx, transfer) = conversion(&app, &mut bus, 600_000, true).await;
    bus.prepare(&dependent_body(&transfer, "payerfsp", 1500), "payerfsp")
        .await;
    app.wait_for_state(&transfer, "EXPIRED_RESERVED").await;
    assert_eq!(app.fx_state(&fx).await.as_deref(), Some("EXPIRED_RESERVED"));
    assert_eq!(accounts.positions(&app).await, zero());
    bus.notification(&transfer, "timeout-reserved").await;

    // The conversion expires while its dependent transfer is reserved: both expire.
    let (fx, transfer) = conversion(&app, &mut bus, 3000, true).await;
    bus.prepare(&dependent_body(&transfer, "payerfsp", 600_000), "payerfsp")
        .await;
    app.wait_for_state(&transfer, "RESERVED").await;
    app.wait_for_fx_state(&fx, "EXPIRED_RESERVED").await;
    assert_eq!(
        app.transfer_state(&transfer).await.as_deref(),
        Some("EXPIRED_RESERVED")
    );
    assert_eq!(accounts.positions(&app).await, zero());
    bus.notification(&transfer, "timeout-reserved").await;
    // And the payee's late commit is refused: nothing moves.
    bus.fulfil(&transfer, &commit_body(), "payeefsp", "payerfsp", "commit")
        .await;
    let refused = bus
        .notification_where("late commit refused", |m| {
            m.id == transfer && m.to == "payeefsp" && m.metadata.event.action == "commit"
        })
        .await;
    assert_eq!(error_code(&refused), "3100");
    assert_eq!(accounts.positions(&app).await, zero());
    journal_matches_positions(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_the_fxp_fulfilment_and_the_commit_keeps_both_sides() {
    let (app, accounts) = setup(None).await;
    let mut bus = Bus::new(&app).await;
    let (fx, transfer) = conversion(&app, &mut bus, 600_000, true).await;
    drop(bus);
    let resume = app.halt().await;
    let (app, _) = setup(Some(resume)).await;
    let bus = Bus::new(&app).await;
    bus.prepare(&dependent_body(&transfer, "payerfsp", 600_000), "payerfsp")
        .await;
    app.wait_for_state(&transfer, "RESERVED").await;
    bus.fulfil(&transfer, &commit_body(), "payeefsp", "payerfsp", "commit")
        .await;
    app.wait_for_state(&transfer, "COMMITTED").await;
    assert_eq!(app.fx_state(&fx).await.as_deref(), Some("COMMITTED"));
    assert_eq!(
        accounts.positions(&app).await,
        ["100.0000", "-100.0000", "90.0000", "-90.0000"].map(str::to_string)
    );
    journal_matches_positions(&app).await;
    app.stop().await;
}

/// Sends a message to a topic of the embedded bus.
async fn send(memory: &bus::MemoryBus, app: &TestApp, topic: &str, key: &str, value: &[u8]) {
    memory
        .send(
            &format!("{}{topic}", app.topic_prefix),
            Some(key.as_bytes()),
            value,
            5_000,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Waits (bounded) for a notification `wanted` accepts on the embedded bus.
async fn told(
    listener: &bus::memory::MemoryConsumer,
    what: &str,
    wanted: impl Fn(&Message) -> bool,
) -> Message {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let record = tokio::time::timeout(left, listener.recv())
            .await
            .unwrap_or_else(|_| panic!("never told: {what}"))
            .unwrap_or_else(|e| panic!("{e}"));
        let message: Message = serde_json::from_slice(record.payload.as_deref().unwrap_or(&[]))
            .unwrap_or_else(|e| panic!("not an envelope: {e}"));
        if wanted(&message) {
            return message;
        }
    }
}

/// The ledger records the FXP's fulfilment and then cannot tell the initiator (the bus refuses
/// past the retries): the fulfil handler stops without committing. Started again, it reads the
/// same message, finds the fulfilment recorded and tells the initiator (nothing recorded
/// twice); the dependent transfer then commits both sides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_fxp_fulfilment_is_recorded_loses_nothing() {
    let memory =
        bus::MemoryBus::new(bus::MemoryBusConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let (app, accounts) = setup_on(Some(bus::Bus::Memory(memory.clone())), None).await;
    let notifications = format!("{}{}", app.topic_prefix, bus::TOPIC_NOTIFICATION_EVENT);
    let listener = memory
        .consumer("test-listener", &notifications)
        .unwrap_or_else(|e| panic!("{e}"));
    let (fx, transfer) = (new_id(), new_id());
    let (key, value) = fx_message(
        "prepare",
        &fx,
        Some(&fx_body(&fx, &transfer, 600_000)),
        "payerfsp",
        "fxp",
        "fx-prepare",
    );
    send(&memory, &app, bus::TOPIC_TRANSFER_PREPARE, &key, &value).await;
    told(&listener, "the FXP gets the fxTransfer", |m| {
        m.id == fx && m.metadata.event.action == "fx-prepare" && m.to == "fxp"
    })
    .await;

    memory.refuse_sends(&notifications, 0, 1_000_000);
    let (key, value) = fx_message(
        "fulfil",
        &fx,
        Some(&fx_fulfil_body(FULFILMENT)),
        "fxp",
        "payerfsp",
        "fx-reserve",
    );
    send(&memory, &app, bus::TOPIC_TRANSFER_FULFIL, &key, &value).await;
    app.wait_for_fx_state(&fx, "RECEIVED_FULFIL_DEPENDENT")
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.healthy().await {
        assert!(
            std::time::Instant::now() < deadline,
            "the fulfil handler never stopped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    memory.refuse_sends(&notifications, 0, 0);
    let resume = app.halt().await;
    let (app, _) = setup_on(Some(bus::Bus::Memory(memory.clone())), Some(resume)).await;
    let relayed = told(&listener, "the initiator gets the FXP's fulfilment", |m| {
        m.id == fx && m.metadata.event.action == "fx-reserve" && m.to == "payerfsp"
    })
    .await;
    assert_eq!(relayed.from, "fxp");
    let (changes,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM fxTransferStateChange WHERE commitRequestId = ? AND transferStateId = 'RECEIVED_FULFIL_DEPENDENT'",
    )
    .bind(&fx)
    .fetch_one(&app.pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(changes, 1, "the fulfilment is recorded once");

    let (key, value) = prepare_message(
        &dependent_body(&transfer, "payerfsp", 600_000),
        "payerfsp",
        &[],
    );
    send(&memory, &app, bus::TOPIC_TRANSFER_PREPARE, &key, &value).await;
    app.wait_for_state(&transfer, "RESERVED").await;
    let commit = serde_json::to_vec(&commit_body()).unwrap_or_default();
    let mut headers = std::collections::BTreeMap::new();
    headers.insert(
        "content-type".to_string(),
        "application/vnd.interoperability.transfers+json;version=1.1".to_string(),
    );
    headers.insert("fspiop-source".to_string(), "payeefsp".to_string());
    headers.insert("fspiop-destination".to_string(), "payerfsp".to_string());
    let message = Message::from_request(
        &transfer,
        "payeefsp",
        "payerfsp",
        headers,
        Some(&commit),
        Some(&transfer),
        "fulfil",
        "commit",
        central_ledger::now_ms(),
    );
    let value = serde_json::to_vec(&message).unwrap_or_default();
    send(&memory, &app, bus::TOPIC_TRANSFER_FULFIL, &transfer, &value).await;
    app.wait_for_state(&transfer, "COMMITTED").await;
    assert_eq!(app.fx_state(&fx).await.as_deref(), Some("COMMITTED"));
    told(&listener, "the FXP gets PATCH COMMITTED", |m| {
        m.id == fx && m.metadata.event.action == "fx-notify" && m.to == "fxp"
    })
    .await;
    assert_eq!(
        accounts.positions(&app).await,
        ["100.0000", "-100.0000", "90.0000", "-90.0000"].map(str::to_string)
    );
    journal_matches_positions(&app).await;
    app.stop().await;
}

/// The dependent transfer refused for the FXP's liquidity (4001): its id is spent, so the
/// conversion ends with it at once (not at its expiry): the initiator's reservation is given
/// back and the FXP is told with PATCH ABORTED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_dependent_transfer_ends_its_conversion_at_once() {
    let (app, accounts) = setup(None).await;
    let mut bus = Bus::new(&app).await;
    let (fx, transfer) = (new_id(), new_id());
    let mut body = fx_body(&fx, &transfer, 600_000);
    // More EUR than the FXP holds (5000).
    body["targetAmount"]["amount"] = json!("6000");
    bus.fx("prepare", &fx, Some(&body), "payerfsp", "fxp", "fx-prepare")
        .await;
    app.wait_for_fx_state(&fx, "RESERVED").await;
    bus.fx(
        "fulfil",
        &fx,
        Some(&fx_fulfil_body(FULFILMENT)),
        "fxp",
        "payerfsp",
        "fx-reserve",
    )
    .await;
    app.wait_for_fx_state(&fx, "RECEIVED_FULFIL_DEPENDENT")
        .await;
    let mut dependent = dependent_body(&transfer, "payerfsp", 600_000);
    dependent["amount"]["amount"] = json!("6000");
    bus.prepare(&dependent, "payerfsp").await;
    app.wait_for_state(&transfer, "ABORTED_REJECTED").await;
    let refused = bus.notification(&transfer, "prepare").await;
    assert_eq!(error_code(&refused), "4001");
    assert_eq!(app.fx_state(&fx).await.as_deref(), Some("ABORTED_ERROR"));
    assert_eq!(accounts.positions(&app).await, zero());
    let patch = bus.notification(&fx, "fx-notify").await;
    assert_eq!(
        (patch.to.as_str(), &patch.content.payload["conversionState"]),
        ("fxp", &json!("ABORTED"))
    );
    journal_matches_positions(&app).await;
    app.stop().await;
}
