//! The validity gate: a run only counts if the switch did the right thing under load.
//!
//! - **Callbacks one for one**: every request the payers sent that the switch accepted got
//!   exactly one callback or timed out; no callback arrived that nobody waited for (from the
//!   simulator's counters, before and after the run).
//! - **Every transfer final**: no transfer created since the run started is still in a
//!   RECEIVED or RESERVED state once the run has drained.
//! - **The ledger agrees with the payers**: transfers the ledger COMMITTED since the start
//!   equal the payments the payers saw committed.
//! - **Positions add up**: each DFSP's position equals the sum of its committed transfers (payer
//!   legs plus, payee legs minus) and of its committed currency conversions' source-currency legs
//!   (initiator plus, FXP minus; the target-currency legs are the dependent transfers'), in
//!   every currency, and nothing stays reserved. Settlement transfers are ledger
//!   transfers with a DFSP_POSITION leg, so settled amounts are in that sum: committed ones, and
//!   a net recipient's reserved one (its position moves at reserve); gross-settled transfers
//!   (SETTLED) carry their reversing legs.

use std::time::{Duration, Instant};

use dfsp_sim::CallbackCounts;
use sqlx::MySqlPool;

use crate::report::{Gate, GateCheck};

/// Where the ledger's database is.
#[derive(Debug, Clone)]
pub struct LedgerDatabase {
    /// MySQL server URL, without a database.
    pub server_url: String,
    pub name: String,
}

/// What the payers saw, for the checks against the ledger.
#[derive(Debug, Clone, Copy)]
pub struct PayerView {
    /// Payments the payers saw COMMITTED.
    pub committed: u64,
    /// Whether the scenario sends transfers at all.
    pub transfers: bool,
}

fn check(name: &str, passed: bool, detail: String) -> GateCheck {
    GateCheck {
        name: name.to_string(),
        passed,
        detail,
    }
}

/// The callback check from the simulator's counters before and after.
pub fn callbacks(before: CallbackCounts, after: CallbackCounts) -> GateCheck {
    let awaited = after.awaited.saturating_sub(before.awaited);
    let matched = after.matched.saturating_sub(before.matched);
    let unmatched = after.unmatched.saturating_sub(before.unmatched);
    let timeouts = after.timeouts.saturating_sub(before.timeouts);
    let resent = after.resent.saturating_sub(before.resent);
    let answers_refused = after.answers_refused.saturating_sub(before.answers_refused);
    let mut detail = format!(
        "{awaited} requests accepted, {matched} answered by one callback, {timeouts} timed out, {unmatched} callbacks nobody waited for"
    );
    if resent > 0 {
        detail.push_str(&format!(
            ", {resent} transfers sent again after the switch could not confirm them"
        ));
    }
    let interim = after.interim.saturating_sub(before.interim);
    if interim > 0 {
        detail.push_str(&format!(
            ", {interim} interim RESERVED states (answers to a resend) waited past"
        ));
    }
    let repeated = after.repeated.saturating_sub(before.repeated);
    if repeated > 0 {
        detail.push_str(&format!(
            ", {repeated} callbacks repeated by at-least-once delivery"
        ));
    }
    if answers_refused > 0 {
        detail.push_str(&format!(
            ", {answers_refused} payee answers the switch could not take (told to the payee)"
        ));
    }
    check(
        "callbacks match requests one for one",
        matched + timeouts == awaited && unmatched == 0,
        detail,
    )
}

/// Transfers and currency conversions created at or after `since` (UTC) still in flight, by
/// state.
async fn in_flight(pool: &MySqlPool, since: &str) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT ts.transferStateId, COUNT(*) FROM transfer t
           JOIN transferStateChange ts ON ts.transferStateChangeId =
                (SELECT MAX(l.transferStateChangeId) FROM transferStateChange l WHERE l.transferId = t.transferId)
           JOIN transferState s ON s.transferStateId = ts.transferStateId
          WHERE t.createdDate >= ? AND s.enumeration IN ('RECEIVED', 'RESERVED')
          GROUP BY ts.transferStateId
         UNION ALL
         SELECT CONCAT('fx ', fs.transferStateId), COUNT(*) FROM fxTransfer f
           JOIN fxTransferStateChange fs ON fs.fxTransferStateChangeId =
                (SELECT MAX(l.fxTransferStateChangeId) FROM fxTransferStateChange l WHERE l.commitRequestId = f.commitRequestId)
           JOIN transferState s ON s.transferStateId = fs.transferStateId
          WHERE f.createdDate >= ? AND s.enumeration IN ('RECEIVED', 'RESERVED')
          GROUP BY fs.transferStateId",
    )
    .bind(since)
    .bind(since)
    .fetch_all(pool)
    .await
}

async fn committed_since(pool: &MySqlPool, since: &str) -> sqlx::Result<i64> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM transfer t
           JOIN transferStateChange ts ON ts.transferStateChangeId =
                (SELECT MAX(l.transferStateChangeId) FROM transferStateChange l WHERE l.transferId = t.transferId)
          WHERE t.createdDate >= ? AND ts.transferStateId = 'COMMITTED'",
    )
    .bind(since)
    .fetch_one(pool)
    .await?;
    Ok(count)
}

/// Per POSITION account: participant, currency, position minus committed legs, reserved.
async fn position_gaps(pool: &MySqlPool) -> sqlx::Result<Vec<(String, String, String, String)>> {
    sqlx::query_as(
        "SELECT p.name, pc.currencyId,
                CAST(pp.value - COALESCE(c.total, 0) AS CHAR), CAST(pp.reservedValue AS CHAR)
           FROM participantPosition pp
           JOIN participantCurrency pc ON pc.participantCurrencyId = pp.participantCurrencyId
           JOIN ledgerAccountType la ON la.ledgerAccountTypeId = pc.ledgerAccountTypeId AND la.name = 'POSITION'
           JOIN participant p ON p.participantId = pc.participantId
           LEFT JOIN (SELECT legs.participantCurrencyId, SUM(legs.amount) AS total FROM (
                        SELECT tp.participantCurrencyId, tp.amount
                          FROM transferParticipant tp
                          JOIN transferStateChange ts ON ts.transferStateChangeId =
                               (SELECT MAX(l.transferStateChangeId) FROM transferStateChange l WHERE l.transferId = tp.transferId)
                         WHERE ts.transferStateId IN ('COMMITTED', 'SETTLED')
                            OR (ts.transferStateId = 'RESERVED' AND tp.transferParticipantRoleTypeId = 5 AND tp.amount > 0)
                        UNION ALL
                        SELECT fp.participantCurrencyId, fp.amount
                          FROM fxTransferParticipant fp
                          JOIN fxTransferStateChange fs ON fs.fxTransferStateChangeId =
                               (SELECT MAX(l.fxTransferStateChangeId) FROM fxTransferStateChange l WHERE l.commitRequestId = fp.commitRequestId)
                         WHERE fs.transferStateId = 'COMMITTED'
                           AND (fp.fxParticipantCurrencyTypeId IS NULL OR fp.fxParticipantCurrencyTypeId = 1)
                       ) legs GROUP BY legs.participantCurrencyId) c ON c.participantCurrencyId = pp.participantCurrencyId
          ORDER BY p.name, pc.currencyId",
    )
    .fetch_all(pool)
    .await
}

fn is_zero(decimal: &str) -> bool {
    decimal
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
}

/// The ledger's checks. Waits up to `drain_timeout_ms` for transfers still in flight.
pub async fn ledger_checks(
    database: &LedgerDatabase,
    since_utc: &str,
    payers: PayerView,
    drain_timeout_ms: u64,
) -> Vec<GateCheck> {
    let url = match store::database_url(&database.server_url, &database.name) {
        Ok(url) => url,
        Err(error) => return vec![check("ledger readable", false, error.to_string())],
    };
    let pool = match store::connect(&url, 2, 10_000).await {
        Ok(pool) => pool,
        Err(error) => return vec![check("ledger readable", false, error.to_string())],
    };
    let mut checks = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(drain_timeout_ms);
    let pending = loop {
        match in_flight(&pool, since_utc).await {
            Ok(pending) if pending.is_empty() || Instant::now() >= deadline => break Ok(pending),
            Ok(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            Err(error) => break Err(error),
        }
    };
    checks.push(match pending {
        Ok(pending) if pending.is_empty() => check(
            "every transfer reached a final state",
            true,
            "none RECEIVED or RESERVED".into(),
        ),
        Ok(pending) => check(
            "every transfer reached a final state",
            false,
            pending
                .iter()
                .map(|(state, count)| format!("{count} {state}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Err(error) => check(
            "every transfer reached a final state",
            false,
            error.to_string(),
        ),
    });
    if payers.transfers {
        checks.push(match committed_since(&pool, since_utc).await {
            Ok(committed) => check(
                "the ledger committed what the payers saw committed",
                u64::try_from(committed).ok() == Some(payers.committed),
                format!(
                    "ledger {committed} COMMITTED, payers {} COMMITTED",
                    payers.committed
                ),
            ),
            Err(error) => check(
                "the ledger committed what the payers saw committed",
                false,
                error.to_string(),
            ),
        });
    }
    checks.push(match position_gaps(&pool).await {
        Ok(rows) => {
            let wrong: Vec<String> = rows
                .iter()
                .filter(|(_, _, gap, reserved)| !is_zero(gap) || !is_zero(reserved))
                .map(|(name, currency, gap, reserved)| {
                    format!("{name} {currency}: off by {gap}, reserved {reserved}")
                })
                .collect();
            check(
                "each position equals the sum of its committed transfers",
                wrong.is_empty(),
                if wrong.is_empty() {
                    format!("{} position accounts add up", rows.len())
                } else {
                    wrong.join("; ")
                },
            )
        }
        Err(error) => check(
            "each position equals the sum of its committed transfers",
            false,
            error.to_string(),
        ),
    });
    pool.close().await;
    checks
}

/// The ledger database's clock (UTC, as the services write it), to mark the start of a run.
pub async fn ledger_now(database: &LedgerDatabase) -> anyhow::Result<String> {
    let url = store::database_url(&database.server_url, &database.name)?;
    let pool = store::connect(&url, 1, 10_000).await?;
    let (now,): (String,) = sqlx::query_as("SELECT CAST(NOW(3) AS CHAR)")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(now)
}

/// The gate from its checks.
pub fn gate(checks: Vec<GateCheck>) -> Gate {
    Gate {
        passed: !checks.is_empty() && checks.iter().all(|c| c.passed),
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_must_match_one_for_one() {
        let before = CallbackCounts {
            awaited: 10,
            matched: 9,
            unmatched: 1,
            timeouts: 0,
            ..CallbackCounts::default()
        };
        let good = CallbackCounts {
            awaited: 40,
            matched: 38,
            unmatched: 1,
            timeouts: 1,
            resent: 3,
            answers_refused: 2,
            repeated: 4,
            interim: 1,
        };
        assert!(callbacks(before, good).passed);
        let stray = CallbackCounts {
            unmatched: 2,
            ..good
        };
        assert!(!callbacks(before, stray).passed);
        let missing = CallbackCounts {
            matched: 37,
            ..good
        };
        assert!(!callbacks(before, missing).passed);
    }

    #[test]
    fn decimal_zero() {
        assert!(is_zero("0.0000") && is_zero("-0.0000") && is_zero("0"));
        assert!(!is_zero("100.0000") && !is_zero("-0.0001"));
    }

    #[test]
    fn a_gate_passes_only_when_every_check_does() {
        assert!(!gate(Vec::new()).passed);
        assert!(gate(vec![check("a", true, String::new())]).passed);
        assert!(
            !gate(vec![
                check("a", true, String::new()),
                check("b", false, String::new())
            ])
            .passed
        );
    }
}
