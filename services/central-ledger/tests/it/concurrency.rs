//! The ledger's lock order holds between its writers: timeout sweeps and prepare batches on
//! the same payers, run concurrently against the real MySQL, never deadlock (MySQL would roll
//! one back with error 1213, which fails this test) and leave positions equal to what is
//! reserved.

use std::time::{Duration, Instant};

use central_ledger::store::Store;
use central_ledger::transfers::notify::Notifier;
use central_ledger::transfers::{prepare, timeout};
use fspiop::envelope::Message;

use crate::helpers::{funds_in, new_id, prepare_message, spawn_app};
use crate::prepare::prepare_body_expiring;

const PAYERS: [&str; 4] = ["payer1", "payer2", "payer3", "payer4"];

fn incoming(id: &str, payer: &str, payee: &str, expires_in_ms: i64) -> prepare::Incoming {
    let body = prepare_body_expiring(id, payer, payee, "1", expires_in_ms);
    let (_, bytes) = prepare_message(&body, payer, &[]);
    let message: Message = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
    prepare::parse(message).unwrap_or_else(|e| panic!("{:?}", e.1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_sweeps_and_prepare_batches_on_the_same_payers_do_not_deadlock() {
    let app = spawn_app().await;
    app.setup_hub("USD").await;
    for name in PAYERS.iter().chain(&["payee1"]) {
        app.onboard(name, "USD", 1_000_000).await;
    }
    for payer in PAYERS {
        let settlement = app.account_id(payer, "USD", "SETTLEMENT").await;
        let deposit = new_id();
        app.call(
            "POST",
            &format!("/participants/{payer}/accounts/{settlement}"),
            Some(funds_in(&deposit, "1000000", "USD")),
            202,
        )
        .await;
        app.wait_for_state(&deposit, "COMMITTED").await;
    }
    let store = Store::new(app.pool.clone());
    let memory =
        bus::MemoryBus::new(bus::MemoryBusConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let notifier = Notifier {
        producer: bus::Producer::Memory(memory),
        topic: "notifications".into(),
        hub_name: "Hub".into(),
        versions: fspiop::headers::ProtocolVersions::default(),
        timeout_ms: 5_000,
        attempts_max: 1,
        retry_delay_ms: 1,
    };
    let config = prepare::PrepareConfig {
        on_us_allowed: false,
        ilp_check: None,
    };
    let sweeping = timeout::TimeoutConfig {
        interval_ms: 10,
        sweep_size_max: 50,
    };
    let run_for = Duration::from_secs(4);

    // Sweeper: expires whatever is due, as often as it can.
    let sweeper = {
        let (store, notifier) = (store.clone(), notifier.clone());
        tokio::spawn(async move {
            let start = Instant::now();
            let (mut sweeps, mut expired) = (0, 0);
            while start.elapsed() < run_for + Duration::from_millis(500) {
                let swept = timeout::sweep(&store, &notifier, sweeping, central_ledger::now_ms())
                    .await
                    .unwrap_or_else(|e| panic!("timeout sweep failed: {e}"));
                timeout::delivered(&store, &swept.messages)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                sweeps += 1;
                expired += swept.messages.len();
            }
            (sweeps, expired)
        })
    };
    // Two preparers: batches over every payer (each batch locks all four positions), expiring
    // within the run so the sweeper is busy on the same accounts (at least 250 ms out: a
    // loaded machine may stall a thread long enough for a shorter one to be expired at prepare,
    // which is INVALID, not what this test is about).
    let mut preparers = Vec::new();
    for lane in 0..2_usize {
        let (store, notifier, config) = (store.clone(), notifier.clone(), config.clone());
        preparers.push(tokio::spawn(async move {
            let start = Instant::now();
            let mut ids = Vec::new();
            let mut round = 0_usize;
            while start.elapsed() < run_for {
                let batch: Vec<prepare::Incoming> = (0..20)
                    .map(|i| {
                        let id = new_id();
                        ids.push(id.clone());
                        let payer = PAYERS[(i + lane + round) % PAYERS.len()];
                        incoming(&id, payer, "payee1", 250 + ((i * 37 + round) % 400) as i64)
                    })
                    .collect();
                let mut new_event_id = || uuid::Uuid::new_v4().to_string();
                prepare::handle(
                    &store,
                    &notifier,
                    &config,
                    batch,
                    central_ledger::now_ms(),
                    &mut new_event_id,
                )
                .await
                .unwrap_or_else(|e| panic!("prepare batch failed: {e}"));
                round += 1;
            }
            ids
        }));
    }
    let mut prepared = 0;
    for preparer in preparers {
        prepared += preparer.await.unwrap_or_else(|e| panic!("{e}")).len();
    }
    let (sweeps, expired) = sweeper.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        sweeps > 10 && expired > 0,
        "{sweeps} sweeps expired {expired}"
    );

    // Every transfer reserved or expired; each payer's position is what it still has reserved.
    let states: Vec<(String, i64)> = sqlx::query_as(
        "SELECT s.transferStateId, COUNT(*) FROM transfer t
           JOIN transferStateChange s ON s.transferStateChangeId =
                (SELECT MAX(l.transferStateChangeId) FROM transferStateChange l WHERE l.transferId = t.transferId)
          WHERE t.ilpCondition <> '0' GROUP BY s.transferStateId",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let total: i64 = states.iter().map(|(_, n)| n).sum();
    assert_eq!(total as usize, prepared, "{states:?}");
    assert!(
        states
            .iter()
            .all(|(s, _)| s == "RESERVED" || s == "EXPIRED_RESERVED"),
        "{states:?}"
    );
    for payer in PAYERS {
        let account = app.account_id(payer, "USD", "POSITION").await;
        let (reserved,): (String,) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(tp.amount), 0) AS CHAR) FROM transferParticipant tp
              WHERE tp.participantCurrencyId = ? AND tp.transferParticipantRoleTypeId = 1
                AND (SELECT l.transferStateId FROM transferStateChange l WHERE l.transferId = tp.transferId
                      ORDER BY l.transferStateChangeId DESC LIMIT 1) = 'RESERVED'",
        )
        .bind(account)
        .fetch_one(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let position = app.position(account).await;
        assert_eq!(
            ledger::Money::parse(&position).ok(),
            ledger::Money::parse(&reserved).ok(),
            "{payer}: position {position}, reserved {reserved}"
        );
    }
    app.stop().await;
}
