//! Central settlement against the real ledger handlers, MySQL and Kafka: windows, deferred net
//! settlements walked to SETTLED with positions reset, abort, invalid transitions, a close
//! racing commits, and immediate gross settlement. Each test has its own database and topics.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

mod harness;

use std::collections::BTreeMap;

use harness::{accounts_of, all_to, net_of, units, Switch, FULFILMENT};
use serde_json::json;

const DFSPS: usize = 8;

fn dfsp(i: usize) -> String {
    format!("perffsp-{i}")
}

/// A deterministic mix of payments among the DFSPs: (payer, payee, amount, commit?).
fn mix(count: usize, seed: usize) -> Vec<(usize, usize, String, bool)> {
    (0..count)
        .map(|k| {
            let payer = (k * 5 + seed) % DFSPS + 1;
            let payee = (payer + 1 + (k * 3 + seed) % (DFSPS - 1) - 1) % DFSPS + 1;
            let payee = if payee == payer {
                payer % DFSPS + 1
            } else {
                payee
            };
            let amount = format!("{}.{:02}", (k * 37 + seed * 11) % 400 + 1, (k * 13) % 100);
            // FSPIOP amounts carry no trailing zeros.
            let amount = ledger::Money::parse(&amount)
                .map(|m| m.to_string())
                .unwrap_or(amount);
            // Every seventh payment is refused by its payee: it must not be settled.
            (payer, payee, amount, k % 7 != 3)
        })
        .collect()
}

/// Runs the payments (eight in flight at a time) and returns each DFSP's committed payments
/// minus receipts, in units.
async fn run_mix(
    switch: &Switch,
    payments: &[(usize, usize, String, bool)],
) -> BTreeMap<usize, i64> {
    let mut expected: BTreeMap<usize, i64> = BTreeMap::new();
    for chunk in payments.chunks(8) {
        let ids: Vec<String> = chunk
            .iter()
            .map(|_| uuid::Uuid::new_v4().to_string())
            .collect();
        for (id, (payer, payee, amount, _)) in ids.iter().zip(chunk) {
            switch
                .prepare(id, &dfsp(*payer), &dfsp(*payee), amount, "USD")
                .await;
        }
        for id in &ids {
            switch.wait_for_state(id, "RESERVED").await;
        }
        for (id, (payer, payee, _, commit)) in ids.iter().zip(chunk) {
            switch
                .fulfil(id, &dfsp(*payer), &dfsp(*payee), *commit)
                .await;
        }
        for (id, (payer, payee, amount, commit)) in ids.iter().zip(chunk) {
            switch
                .wait_for_state(
                    id,
                    if *commit {
                        "COMMITTED"
                    } else {
                        "ABORTED_ERROR"
                    },
                )
                .await;
            if *commit {
                *expected.entry(*payer).or_default() += units(amount);
                *expected.entry(*payee).or_default() -= units(amount);
            }
        }
    }
    expected
}

async fn positions_of(switch: &Switch, accounts: &BTreeMap<usize, u64>) -> Vec<i64> {
    let mut values = Vec::with_capacity(accounts.len());
    for account in accounts.values() {
        values.push(switch.position(*account).await);
    }
    values
}

async fn onboard_all(switch: &Switch) -> BTreeMap<usize, u64> {
    switch.setup_hub(&["USD"], None).await;
    let mut positions = BTreeMap::new();
    for i in 1..=DFSPS {
        switch.onboard(&dfsp(i), "USD", 1_000_000, "1000000").await;
        positions.insert(i, switch.account(&dfsp(i), "USD", "POSITION").await);
    }
    positions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_among_eight_dfsps_settles_and_positions_reset() {
    let switch = Switch::start(false).await;
    let positions = onboard_all(&switch).await;
    let hub = switch
        .account("Hub", "USD", "HUB_MULTILATERAL_SETTLEMENT")
        .await;

    // Window 1: a mix of payments, some refused by their payee.
    let first = run_mix(&switch, &mix(40, 1)).await;
    for (i, account) in &positions {
        assert_eq!(
            switch.position(*account).await,
            first.get(i).copied().unwrap_or(0),
            "{}",
            dfsp(*i)
        );
    }
    // Closing: window 2 opens at once; window 1 is aggregated by the close handler.
    let next = switch
        .api(
            "POST",
            "/settlementWindows/1",
            Some(json!({"state": "CLOSED", "reason": "end of day"})),
            200,
        )
        .await;
    assert_eq!(next["settlementWindowId"], 2);
    assert_eq!(next["state"], "OPEN");
    let closed = switch.wait_for_window(1, "CLOSED").await;
    assert_eq!(
        closed["content"].as_array().map(Vec::len),
        Some(1),
        "{closed}"
    );
    assert_eq!(closed["content"][0]["ledgerAccountType"], "POSITION");
    assert_eq!(closed["content"][0]["currencyId"], "USD");

    // Closing again, or an unknown window: the spec's errors.
    let again = switch
        .refused(
            "POST",
            "/settlementWindows/1",
            Some(json!({"state": "CLOSED", "reason": "x"})),
            400,
            "3100",
        )
        .await;
    assert_eq!(again, "Generic validation error - Window 1 is not open");
    switch
        .refused(
            "POST",
            "/settlementWindows/99",
            Some(json!({"state": "CLOSED", "reason": "x"})),
            400,
            "3100",
        )
        .await;
    let empty = switch
        .refused(
            "POST",
            "/settlementWindows/2",
            Some(json!({"state": "CLOSED", "reason": "x"})),
            400,
            "3100",
        )
        .await;
    assert!(empty.ends_with("Window 2 is empty"), "{empty}");

    // Window 2: more payments; the settlement of window 1 must not touch them.
    let second = run_mix(&switch, &mix(16, 2)).await;

    // A settlement of window 1: each DFSP's net amount is its payments minus its receipts in
    // that window (positive: it owes), and they sum to zero.
    let settlement = switch
        .api("POST", "/settlements", Some(json!({"settlementModel": "DEFERREDNET", "reason": "daily", "settlementWindows": [{"id": 1}]})), 200)
        .await;
    assert_eq!(settlement["state"], "PENDING_SETTLEMENT");
    let id = settlement["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("{settlement}"));
    let mut sum = 0;
    for (i, account) in &positions {
        let net = net_of(&settlement, *account).unwrap_or(0);
        assert_eq!(
            net,
            first.get(i).copied().unwrap_or(0),
            "net of {}",
            dfsp(*i)
        );
        sum += net;
    }
    assert_eq!(sum, 0, "net amounts sum to zero: {settlement}");
    let window = switch.api("GET", "/settlementWindows/1", None, 200).await;
    assert_eq!(window["state"], "PENDING_SETTLEMENT");

    // Invalid requests.
    let inapplicable = switch
        .refused("POST", "/settlements", Some(json!({"settlementModel": "DEFERREDNET", "reason": "x", "settlementWindows": [{"id": 1}, {"id": 2}]})), 400, "3100")
        .await;
    assert!(
        inapplicable.ends_with("Inapplicable windows 1, 2"),
        "{inapplicable}"
    );
    switch
        .refused(
            "POST",
            "/settlements",
            Some(
                json!({"settlementModel": "NOPE", "reason": "x", "settlementWindows": [{"id": 1}]}),
            ),
            400,
            "3100",
        )
        .await;
    switch
        .refused("GET", "/settlements/999", None, 400, "3100")
        .await;
    switch
        .refused(
            "PUT",
            &format!("/settlements/{id}"),
            Some(json!({"state": "ABORTED"})),
            400,
            "3102",
        )
        .await;
    switch
        .refused(
            "PUT",
            &format!("/settlements/{id}"),
            Some(json!({"state": "ABORTED", "reason": "x", "participants": []})),
            400,
            "3100",
        )
        .await;
    // Skipping a step is refused per account, and nothing changes.
    let skip = switch
        .api(
            "PUT",
            &format!("/settlements/{id}"),
            Some(all_to(&settlement, "PS_TRANSFERS_RESERVED")),
            200,
        )
        .await;
    for participant in skip["participants"].as_array().into_iter().flatten() {
        for account in participant["accounts"].as_array().into_iter().flatten() {
            assert_eq!(account["errorInformation"]["errorCode"], "3000", "{skip}");
            assert_eq!(
                account["errorInformation"]["errorDescription"],
                "State change not allowed"
            );
        }
    }
    assert_eq!(skip["state"], "PENDING_SETTLEMENT");

    // Walk every account to SETTLED.
    let before: BTreeMap<usize, i64> = {
        let mut map = BTreeMap::new();
        for (i, account) in &positions {
            map.insert(*i, switch.position(*account).await);
        }
        map
    };
    for (step, state) in [
        "PS_TRANSFERS_RECORDED",
        "PS_TRANSFERS_RESERVED",
        "PS_TRANSFERS_COMMITTED",
        "SETTLED",
    ]
    .into_iter()
    .enumerate()
    {
        let current = switch
            .api("GET", &format!("/settlements/{id}"), None, 200)
            .await;
        let answer = switch
            .api(
                "PUT",
                &format!("/settlements/{id}"),
                Some(all_to(&current, state)),
                200,
            )
            .await;
        assert_eq!(answer["state"], state, "step {step}: {answer}");
        for (_, _, account_state) in accounts_of(&answer) {
            assert_eq!(account_state, state);
        }
        for (i, account) in &positions {
            let net = first.get(i).copied().unwrap_or(0);
            let now = switch.position(*account).await;
            let expected = match state {
                // Recipients get their position back when their transfer is reserved; senders
                // when theirs is committed.
                "PS_TRANSFERS_RESERVED" if net < 0 => before[i] - net,
                "PS_TRANSFERS_RECORDED" | "PS_TRANSFERS_RESERVED" => before[i],
                _ => before[i] - net,
            };
            assert_eq!(now, expected, "{} after {state}", dfsp(*i));
        }
    }
    // Positions now hold only window 2's payments; the hub's multilateral account is back to 0.
    for (i, account) in &positions {
        assert_eq!(
            switch.position(*account).await,
            second.get(i).copied().unwrap_or(0),
            "{}",
            dfsp(*i)
        );
    }
    assert_eq!(switch.position(hub).await, 0);
    let settled = switch
        .api("GET", &format!("/settlements/{id}"), None, 200)
        .await;
    assert_eq!(settled["state"], "SETTLED");
    assert_eq!(settled["settlementWindows"][0]["state"], "SETTLED");
    assert_eq!(
        switch.api("GET", "/settlementWindows/1", None, 200).await["state"],
        "SETTLED"
    );
    assert_eq!(
        switch.api("GET", "/settlementWindows/2", None, 200).await["state"],
        "OPEN"
    );
    // A settled settlement can not be aborted, and its accounts can not move.
    switch
        .refused(
            "PUT",
            &format!("/settlements/{id}"),
            Some(json!({"state": "ABORTED", "reason": "late"})),
            400,
            "3100",
        )
        .await;
    // The settlement transfers are recorded as ledger transfers, committed.
    let (committed,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM settlementParticipantCurrency spc
         JOIN transferStateChange tsc ON tsc.transferId = spc.settlementTransferId AND tsc.transferStateId = 'COMMITTED'
         WHERE spc.settlementId = ?",
    )
    .bind(id)
    .fetch_one(&switch.pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(committed, positions.len() as i64);
    // Lists and the participant views.
    let listed = switch
        .api("GET", "/settlements?state=SETTLED", None, 200)
        .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let participant = switch.participant_of(positions[&1]).await;
    let view = switch
        .api(
            "GET",
            &format!("/settlements/{id}/participants/{participant}"),
            None,
            200,
        )
        .await;
    assert_eq!(accounts_of(&view).len(), 1);
    switch
        .refused("GET", "/settlementWindows", None, 400, "3100")
        .await;
    let open = switch
        .api("GET", "/settlementWindows?state=OPEN", None, 200)
        .await;
    assert_eq!(open[0]["settlementWindowId"], 2);
    switch.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_gives_positions_back_and_the_window_settles_again() {
    let switch = Switch::start(false).await;
    switch.setup_hub(&["USD"], None).await;
    let mut positions = BTreeMap::new();
    for i in 1..=3 {
        switch.onboard(&dfsp(i), "USD", 100_000, "100000").await;
        positions.insert(i, switch.account(&dfsp(i), "USD", "POSITION").await);
    }
    switch.pay(&dfsp(1), &dfsp(2), "300", "USD", true).await;
    switch.pay(&dfsp(2), &dfsp(3), "120.5", "USD", true).await;
    switch.pay(&dfsp(3), &dfsp(1), "20", "USD", true).await;
    switch
        .api(
            "POST",
            "/settlementWindows/1",
            Some(json!({"state": "CLOSED", "reason": "eod"})),
            200,
        )
        .await;
    switch.wait_for_window(1, "CLOSED").await;
    let before: Vec<i64> = positions_of(&switch, &positions).await;
    let settlement = switch
        .api("POST", "/settlements", Some(json!({"settlementModel": "DEFERREDNET", "reason": "r", "settlementWindows": [{"id": 1}]})), 200)
        .await;
    let id = settlement["id"].as_u64().unwrap_or(0);
    for state in ["PS_TRANSFERS_RECORDED", "PS_TRANSFERS_RESERVED"] {
        let current = switch
            .api("GET", &format!("/settlements/{id}"), None, 200)
            .await;
        switch
            .api(
                "PUT",
                &format!("/settlements/{id}"),
                Some(all_to(&current, state)),
                200,
            )
            .await;
    }
    // The net recipients (perffsp-2: -179.5, perffsp-3: -100.5) got their positions back.
    let moved: Vec<i64> = positions_of(&switch, &positions).await;
    assert_ne!(moved, before, "reserving moved the recipients' positions");
    let aborted = switch
        .api(
            "PUT",
            &format!("/settlements/{id}"),
            Some(json!({"state": "ABORTED", "reason": "bank holiday"})),
            200,
        )
        .await;
    assert_eq!(aborted["state"], "ABORTED");
    for (_, _, state) in accounts_of(&aborted) {
        assert_eq!(state, "ABORTED");
    }
    let after: Vec<i64> = positions_of(&switch, &positions).await;
    assert_eq!(after, before, "abort restores every position");
    assert_eq!(
        switch.api("GET", "/settlementWindows/1", None, 200).await["state"],
        "ABORTED"
    );
    let (aborted_transfers,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM settlementParticipantCurrency spc
         JOIN transferStateChange tsc ON tsc.transferId = spc.settlementTransferId AND tsc.transferStateId = 'ABORTED_REJECTED'
         WHERE spc.settlementId = ?",
    )
    .bind(id)
    .fetch_one(&switch.pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(aborted_transfers, 3);
    // Aborting again only records the reason; moving an aborted settlement is refused.
    switch
        .api(
            "PUT",
            &format!("/settlements/{id}"),
            Some(json!({"state": "ABORTED", "reason": "again"})),
            200,
        )
        .await;
    let refused = switch
        .api(
            "PUT",
            &format!("/settlements/{id}"),
            Some(all_to(&aborted, "PS_TRANSFERS_RECORDED")),
            200,
        )
        .await;
    assert_eq!(
        refused["participants"][0]["accounts"][0]["errorInformation"]["errorCode"],
        "3000"
    );

    // The window can be settled again, with the same net amounts.
    let again = switch
        .api("POST", "/settlements", Some(json!({"settlementModel": "DEFERREDNET", "reason": "retry", "settlementWindows": [{"id": 1}]})), 200)
        .await;
    let again_id = again["id"].as_u64().unwrap_or(0);
    for account in positions.values() {
        assert_eq!(net_of(&again, *account), net_of(&settlement, *account));
    }
    for state in [
        "PS_TRANSFERS_RECORDED",
        "PS_TRANSFERS_RESERVED",
        "PS_TRANSFERS_COMMITTED",
    ] {
        let current = switch
            .api("GET", &format!("/settlements/{again_id}"), None, 200)
            .await;
        switch
            .api(
                "PUT",
                &format!("/settlements/{again_id}"),
                Some(all_to(&current, state)),
                200,
            )
            .await;
    }
    // Committed: abort is refused.
    let refused = switch
        .refused(
            "PUT",
            &format!("/settlements/{again_id}"),
            Some(json!({"state": "ABORTED", "reason": "too late"})),
            400,
            "3100",
        )
        .await;
    assert!(refused.contains("not allowed"), "{refused}");
    for account in positions.values() {
        assert_eq!(switch.position(*account).await, 0);
    }
    switch.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_windows_while_transfers_commit_puts_each_in_exactly_one_window() {
    let switch = std::sync::Arc::new(Switch::start(false).await);
    switch.setup_hub(&["USD"], None).await;
    for i in 1..=4 {
        switch
            .onboard(&dfsp(i), "USD", 10_000_000, "10000000")
            .await;
    }
    // Prepares first (all reserved), then the fulfils stream in while windows close.
    let payments: Vec<(String, usize, usize)> = (0..400)
        .map(|k| {
            (
                uuid::Uuid::new_v4().to_string(),
                k % 4 + 1,
                (k + 1 + k / 4) % 4 + 1,
            )
        })
        .map(|(id, payer, payee)| {
            (
                id,
                payer,
                if payee == payer { payer % 4 + 1 } else { payee },
            )
        })
        .collect();
    for (id, payer, payee) in &payments {
        switch
            .prepare(id, &dfsp(*payer), &dfsp(*payee), "1.25", "USD")
            .await;
    }
    for (id, _, _) in &payments {
        switch.wait_for_state(id, "RESERVED").await;
    }
    let sender = {
        let switch = switch.clone();
        let payments = payments.clone();
        tokio::spawn(async move {
            for (id, payer, payee) in &payments {
                switch.fulfil(id, &dfsp(*payer), &dfsp(*payee), true).await;
                tokio::task::yield_now().await;
            }
        })
    };
    // Close the open window three times while the commits arrive.
    let mut closed = Vec::new();
    for _ in 0..3 {
        loop {
            let open = switch
                .api("GET", "/settlementWindows?state=OPEN", None, 200)
                .await;
            let window = open[0]["settlementWindowId"].as_u64().unwrap_or(0);
            let response = switch
                .client
                .post(format!("{}/settlementWindows/{window}", switch.settlement))
                .json(&json!({"state": "CLOSED", "reason": "race"}))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            if response.status().is_success() {
                closed.push(window);
                break;
            }
            // Empty so far: wait for commits to land.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    }
    let _ = sender.await;
    for (id, _, _) in &payments {
        switch.wait_for_state(id, "COMMITTED").await;
    }
    for window in &closed {
        switch.wait_for_window(*window, "CLOSED").await;
    }
    // Every transfer is in exactly one window.
    let mut per_window: BTreeMap<u64, usize> = BTreeMap::new();
    for (id, _, _) in &payments {
        let window = switch
            .window_of(id)
            .await
            .unwrap_or_else(|| panic!("{id} has no window"));
        *per_window.entry(window).or_default() += 1;
    }
    assert_eq!(per_window.values().sum::<usize>(), payments.len());
    assert!(
        per_window.len() >= 2,
        "the closes split the commits: {per_window:?}"
    );
    // And each closed window's aggregation holds exactly its transfers: nothing committed into
    // a window after its close was aggregated.
    for window in &closed {
        let (aggregated,): (Option<String>,) = sqlx::query_as(
            "SELECT CAST(SUM(sca.amount) AS CHAR) FROM settlementContentAggregation sca
             JOIN settlementWindowContent swc ON swc.settlementWindowContentId = sca.settlementWindowContentId
             WHERE swc.settlementWindowId = ? AND sca.transferParticipantRoleTypeId = 1",
        )
        .bind(window)
        .fetch_one(&switch.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let count = per_window.get(window).copied().unwrap_or(0) as i64;
        assert_eq!(
            aggregated.map(|a| units(&a)).unwrap_or(0),
            count * units("1.25"),
            "window {window} aggregated what was committed in it ({count} transfers)"
        );
    }
    if let Ok(switch) = std::sync::Arc::try_unwrap(switch) {
        switch.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immediate_gross_settles_each_transfer_on_commit() {
    let switch = Switch::start(true).await;
    switch.setup_hub(&["USD", "EUR"], Some("EUR")).await;
    for i in 1..=2 {
        switch.onboard(&dfsp(i), "EUR", 100_000, "1000").await;
    }
    let payer = switch.account(&dfsp(1), "EUR", "POSITION").await;
    let payee = switch.account(&dfsp(2), "EUR", "POSITION").await;
    let payer_settlement = switch.account(&dfsp(1), "EUR", "SETTLEMENT").await;
    let payee_settlement = switch.account(&dfsp(2), "EUR", "SETTLEMENT").await;
    let id = uuid::Uuid::new_v4().to_string();
    switch.prepare(&id, &dfsp(1), &dfsp(2), "75.5", "EUR").await;
    switch.wait_for_state(&id, "RESERVED").await;
    switch.fulfil(&id, &dfsp(1), &dfsp(2), true).await;
    switch.wait_for_state(&id, "SETTLED").await;
    // Positions back to zero; the money moved between the settlement accounts (negative is
    // funds held).
    assert_eq!(switch.position(payer).await, 0);
    assert_eq!(switch.position(payee).await, 0);
    assert_eq!(switch.position(payer_settlement).await, units("-924.5"));
    assert_eq!(switch.position(payee_settlement).await, units("-1075.5"));
    // Not settled through windows: closing the window gives no EUR content, and a deferred
    // net settlement finds nothing to settle.
    switch
        .api(
            "POST",
            "/settlementWindows/1",
            Some(json!({"state": "CLOSED", "reason": "eod"})),
            200,
        )
        .await;
    let closed = switch.wait_for_window(1, "CLOSED").await;
    assert_eq!(
        closed["content"].as_array().map(Vec::len),
        Some(0),
        "{closed}"
    );
    switch
        .refused("POST", "/settlements", Some(json!({"settlementModel": "GROSS", "reason": "x", "settlementWindows": [{"id": 1}]})), 400, "3100")
        .await;
    switch.stop().await;
}

/// A currency conversion (USD payer, EUR payee, an FXP holding both) settles in both
/// currencies: the window's contents are per currency and the FXP is a net receiver in USD
/// and a net payer in EUR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_fx_payment_settles_in_both_currencies() {
    let switch = Switch::start(false).await;
    switch.setup_hub(&["USD", "EUR"], None).await;
    switch.onboard("payer", "USD", 10_000, "5000").await;
    switch.onboard("payee", "EUR", 10_000, "1").await;
    switch.onboard("fxp", "USD", 10_000, "1").await;
    switch.onboard("fxp", "EUR", 10_000, "5000").await;
    let (fx, transfer) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    let condition = fspiop::ilp::condition_from_fulfilment(FULFILMENT).unwrap_or_default();
    switch
        .fx(
            "prepare",
            &fx,
            &json!({
                "commitRequestId": fx, "determiningTransferId": transfer,
                "initiatingFsp": "payer", "counterPartyFsp": "fxp",
                "sourceAmount": {"amount": "100", "currency": "USD"},
                "targetAmount": {"amount": "90", "currency": "EUR"},
                "condition": condition,
                "expiration": fspiop::datetime::format_date_time(central_ledger::now_ms() + 600_000),
            }),
            "payer",
            "fxp",
            "fx-prepare",
        )
        .await;
    switch.wait_for_fx_state(&fx, "RESERVED").await;
    switch
        .fx(
            "fulfil",
            &fx,
            &json!({"conversionState": "RESERVED", "fulfilment": FULFILMENT,
                    "completedTimestamp": fspiop::datetime::format_date_time(central_ledger::now_ms())}),
            "fxp",
            "payer",
            "fx-reserve",
        )
        .await;
    switch
        .wait_for_fx_state(&fx, "RECEIVED_FULFIL_DEPENDENT")
        .await;
    switch
        .prepare(&transfer, "payer", "payee", "90", "EUR")
        .await;
    switch.wait_for_state(&transfer, "RESERVED").await;
    switch.fulfil(&transfer, "payer", "payee", true).await;
    switch.wait_for_state(&transfer, "COMMITTED").await;
    switch.wait_for_fx_state(&fx, "COMMITTED").await;

    switch
        .api(
            "POST",
            "/settlementWindows/1",
            Some(json!({"state": "CLOSED", "reason": "end of day"})),
            200,
        )
        .await;
    let closed = switch.wait_for_window(1, "CLOSED").await;
    let mut currencies: Vec<String> = closed["content"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["currencyId"].as_str().unwrap_or_default().to_string())
        .collect();
    currencies.sort();
    assert_eq!(currencies, ["EUR", "USD"], "{closed}");
    let settlement = switch
        .api("POST", "/settlements", Some(json!({"settlementModel": "DEFERREDNET", "reason": "daily", "settlementWindows": [{"id": 1}]})), 200)
        .await;
    for (name, currency, net) in [
        ("payer", "USD", "100"),
        ("fxp", "USD", "-100"),
        ("fxp", "EUR", "90"),
        ("payee", "EUR", "-90"),
    ] {
        let account = switch.account(name, currency, "POSITION").await;
        assert_eq!(
            net_of(&settlement, account),
            Some(units(net)),
            "{name} {currency}: {settlement}"
        );
    }
    switch.stop().await;
}
