//! `/metrics` shows what the dashboards chart: positions and net debit caps after funds in and
//! a prepare, the handlers' consumer lag, and the transfer handlers' batch sizes and timings.

use std::time::{Duration, Instant};

use central_ledger::Handlers;

use crate::helpers::{funds_in, new_id, spawn_app_configured, Bus, TestApp};
use crate::prepare::prepare_body;

async fn metrics(app: &TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /metrics: {e}"));
    assert_eq!(response.status(), 200);
    response.text().await.unwrap_or_default()
}

/// Waits (bounded) until `/metrics` has every one of `lines`; returns the last page.
async fn wait_for_lines(app: &TestApp, lines: &[String]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = metrics(app).await;
        let missing: Vec<&String> = lines
            .iter()
            .filter(|line| !page.lines().any(|have| have == line.as_str()))
            .collect();
        if missing.is_empty() {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "/metrics never showed {missing:?}:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_positions_net_debit_caps_consumer_lag_and_batches() {
    let app = spawn_app_configured(
        Handlers {
            admin: true,
            prepare: true,
            ..Handlers::default()
        },
        |config| {
            config.metrics.consumer_lag_interval_ms = 200;
            config.metrics.positions_interval_ms = 200;
        },
    )
    .await;
    app.setup_hub("USD").await;
    app.onboard("payerfsp", "USD", 1000).await;
    app.onboard("payeefsp", "USD", 2500).await;
    let settlement = app.account_id("payerfsp", "USD", "SETTLEMENT").await;
    let deposit = new_id();
    app.call(
        "POST",
        &format!("/participants/payerfsp/accounts/{settlement}"),
        Some(funds_in(&deposit, "500.25", "USD")),
        202,
    )
    .await;
    app.wait_for_state(&deposit, "COMMITTED").await;

    // After the funds in: the payer holds 500.25 (a SETTLEMENT position of -500.25) and both
    // net debit caps show.
    let position = |participant: &str, account_type: &str, value: &str| {
        format!("moja_cl_participant_position{{participant=\"{participant}\",currency=\"USD\",account_type=\"{account_type}\"}} {value}")
    };
    wait_for_lines(
        &app,
        &[
            position("payerfsp", "SETTLEMENT", "-500.25"),
            position("payerfsp", "POSITION", "0"),
            "moja_cl_participant_position_reserved{participant=\"payerfsp\",currency=\"USD\",account_type=\"POSITION\"} 0".to_string(),
            "moja_cl_participant_net_debit_cap{participant=\"payerfsp\",currency=\"USD\"} 1000".to_string(),
            "moja_cl_participant_net_debit_cap{participant=\"payeefsp\",currency=\"USD\"} 2500".to_string(),
        ],
    )
    .await;

    // A prepare moves the payer's position; the prepare handler reports its batch.
    let bus = Bus::new(&app).await;
    let transfer = new_id();
    bus.prepare(
        &prepare_body(&transfer, "payerfsp", "payeefsp", "100"),
        "payerfsp",
    )
    .await;
    app.wait_for_state(&transfer, "RESERVED").await;

    // Every message handled and committed: each partition of both handlers' topics shows a
    // lag of 0 for its group (two partitions per topic in these tests).
    let prefix = &app.topic_prefix;
    let mut lines = vec![position("payerfsp", "POSITION", "100")];
    for (topic, group) in [
        (bus::TOPIC_ADMIN_TRANSFER, bus::GROUP_TRANSFER_ADMIN),
        (bus::TOPIC_TRANSFER_PREPARE, bus::GROUP_TRANSFER_PREPARE),
    ] {
        for partition in 0..2 {
            lines.push(format!(
                "moja_cl_consumer_lag_messages{{topic=\"{prefix}{topic}\",partition=\"{partition}\",group=\"{prefix}{group}\"}} 0"
            ));
        }
    }
    lines.push("moja_cl_handler_batch_messages_count{handler=\"prepare\"} 1".to_string());
    let page = wait_for_lines(&app, &lines).await;
    assert!(page.contains("# TYPE moja_cl_consumer_lag_messages gauge\n"));
    assert!(page.contains("# TYPE moja_cl_participant_position gauge\n"));
    for histogram in [
        "handler_batch_processing_seconds",
        "handler_batch_latency_seconds",
    ] {
        assert!(
            page.contains(&format!(
                "moja_cl_{histogram}_count{{handler=\"prepare\"}} 1\n"
            )),
            "{histogram}:\n{page}"
        );
    }
    app.stop().await;
}
