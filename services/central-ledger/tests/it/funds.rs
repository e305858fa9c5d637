//! Concurrent funds movements on one account end with the exact balance and an unbroken
//! position history: no lost update.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{funds_in, funds_out, new_id, spawn_app};

/// Runs the futures concurrently, each on its own task, and waits for all of them.
async fn join_all<F: std::future::Future + Send + 'static>(futures: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.unwrap_or_else(|e| panic!("task: {e}")));
    }
    outputs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_funds_movements_on_one_account() {
    let app = std::sync::Arc::new(spawn_app().await);
    app.setup_hub("USD").await;
    app.onboard("dfsp1", "USD", 1000).await;
    let settlement = app.account_id("dfsp1", "USD", "SETTLEMENT").await;
    let hub = app.account_id("Hub", "USD", "HUB_RECONCILIATION").await;
    let path = format!("/participants/dfsp1/accounts/{settlement}");

    // A starting balance large enough that every funds out fits whatever the order.
    let opening = new_id();
    app.call("POST", &path, Some(funds_in(&opening, "1000", "USD")), 202)
        .await;
    app.wait_for_state(&opening, "COMMITTED").await;

    // 100 funds in of 10.01 and 100 funds out of 5.5, all at once.
    let ins: Vec<String> = (0..100).map(|_| new_id()).collect();
    let outs: Vec<String> = (0..100).map(|_| new_id()).collect();
    let mut requests = Vec::new();
    for (i, id) in ins.iter().chain(outs.iter()).enumerate() {
        let app = app.clone();
        let body = if i < 100 {
            funds_in(id, "10.01", "USD")
        } else {
            funds_out(id, "5.5", "USD")
        };
        let path = path.clone();
        requests.push(async move { app.call("POST", &path, Some(body), 202).await });
    }
    join_all(requests).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    for id in &ins {
        app.wait_for_state(id, "COMMITTED").await;
    }
    for id in &outs {
        app.wait_for_state(id, "RESERVED").await;
    }
    assert!(Instant::now() < deadline);
    assert_eq!(
        app.position(settlement).await,
        "-1451.0000",
        "1000 + 100 × 10.01 − 100 × 5.5"
    );

    // Commit every funds out at once.
    let mut commits = Vec::new();
    for id in &outs {
        let app = app.clone();
        let path = format!("{path}/transfers/{id}");
        commits.push(async move {
            app.call(
                "PUT",
                &path,
                Some(json!({"action": "recordFundsOutCommit", "reason": "paid"})),
                202,
            )
            .await
        });
    }
    join_all(commits).await;
    for id in &outs {
        app.wait_for_state(id, "COMMITTED").await;
    }
    assert_eq!(app.position(settlement).await, "-1451.0000");
    assert_eq!(
        app.position(hub).await,
        "1451.0000",
        "the hub mirrors the DFSP's funds"
    );

    // The history: one change per movement, each applied to the value before it.
    for (account, changes) in [(settlement, 201), (hub, 201)] {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT CAST(value AS CHAR), CAST(`change` AS CHAR) FROM participantPositionChange
             WHERE participantCurrencyId = ? ORDER BY participantPositionChangeId",
        )
        .bind(account)
        .fetch_all(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), changes, "account {account}");
        let mut running = ledger::Money::ZERO;
        for (value, change) in rows {
            let change = ledger::Money::parse(&change).unwrap_or_else(|e| panic!("{e}"));
            running = running.try_add(change).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                ledger::Money::parse(&value),
                Ok(running),
                "account {account}: a change was applied to a stale value"
            );
        }
    }
    match std::sync::Arc::try_unwrap(app) {
        Ok(app) => app.stop().await,
        Err(_) => panic!("app still shared"),
    }
}
