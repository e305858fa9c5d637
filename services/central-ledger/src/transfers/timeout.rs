//! The timeout handler: expires reserved transfers whose expiration has passed —
//! RESERVED_TIMEOUT, the payer's reservation given back, EXPIRED_RESERVED with error 3303 — in
//! one transaction per sweep, then tells payer and payee.
//!
//! On time: after each sweep it reads the earliest watched expiration (one indexed `MIN`) and
//! sleeps until then, but never longer than `interval_ms`, so a transfer prepared meanwhile
//! with a short expiry is seen within `interval_ms` and expired at its expiration, not at the
//! next fixed tick. A sweep that filled `sweep_size_max` is followed at once by another.
//!
//! Prepare and reservation happen in one transaction here, so a transfer is never left in
//! RECEIVED_PREPARE and only reserved transfers are watched (`transferTimeout`). Rows are
//! claimed with `FOR UPDATE SKIP LOCKED`, so several handlers can sweep at once. The payers'
//! positions are locked in account-id order, as the prepare and fulfil handlers lock them.

use std::time::Duration;

use fspiop::envelope::Message;
use fspiop::{ErrorCode, FspiopError};
use ledger::transfer::{ReservedTransfer, State};
use ledger::Money;
use ledger_book::Journal;
use serde_json::json;

use super::notify::{Body, Notifier};
use crate::error::{Error, Result};
use crate::store::{Store, Tx};
use sqlx::{MySql, QueryBuilder};

/// Settings of the timeout handler.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutConfig {
    /// The longest the handler sleeps between two looks (it also wakes at the earliest
    /// watched expiration).
    pub interval_ms: u64,
    /// Most transfers expired in one sweep (the rest follow at once in another).
    pub sweep_size_max: u32,
}

/// What one sweep did.
#[derive(Debug, Default)]
pub struct Swept {
    /// The notifications to send.
    pub messages: Vec<Message>,
    /// Due rows claimed (expired or no longer reserved); `sweep_size_max` means there may be
    /// more.
    pub claimed: usize,
}

/// A reserved transfer to expire.
struct Expiring {
    id: String,
    amount: Money,
    payer: String,
    payer_account: u32,
    payee: String,
    payee_account: u32,
}

/// One sweep: expires what is due at `now_ms`.
pub async fn sweep(
    store: &Store,
    notifier: &Notifier,
    config: TimeoutConfig,
    now_ms: i64,
) -> Result<Swept> {
    // READ COMMITTED: the sweep locks every row it acts on (the due rows, the transfers, the
    // positions), so it needs no gap locks; under REPEATABLE READ its DELETE of the due rows
    // took next-key locks on `transferTimeout`, which a prepare batch holding payer positions
    // waits on to insert its own rows while this sweep waited on those positions: a deadlock
    // (tests/it/concurrency.rs found it).
    let mut connection = store.pool.acquire().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .execute(&mut *connection)
        .await?;
    let mut tx = sqlx::Acquire::begin(&mut *connection).await?;
    let due: Vec<(String,)> = sqlx::query_as(
        "SELECT transferId FROM transferTimeout WHERE expirationDate <= ? ORDER BY expirationDate LIMIT ? FOR UPDATE SKIP LOCKED",
    )
    .bind(super::DbTime(now_ms).to_string())
    .bind(config.sweep_size_max)
    .fetch_all(&mut *tx)
    .await?;
    if due.is_empty() {
        tx.commit().await?;
        return Ok(Swept::default());
    }
    // Every due transfer is locked before anything is read (a fulfil holding one finishes
    // first); the reads below then see the states those fulfils committed. Dependent
    // transfers' conversions are locked before them (the ledger's lock order).
    let ids: Vec<String> = due.iter().map(|(id,)| id.clone()).collect();
    let links = super::fx::dependents(&mut *tx, super::fx::By::DeterminingTransferId, &ids).await?;
    let fx_ids: Vec<String> = links.iter().map(|(_, fx)| fx.clone()).collect();
    ledger_book::lock_fx_transfers(&mut tx, &fx_ids).await?;
    ledger_book::lock_transfers(&mut tx, &ids).await?;
    let mut expiring = load_reserved(&mut tx, &ids).await?;
    // Bulks of the due transfers: locked after the transfers, before the positions.
    let bulk_members = super::bulk::expiry::lock_members(&mut tx, &ids).await?;
    let in_bulk = super::bulk::expiry::member_ids(&bulk_members);
    // A dependent transfer expires with its conversion (`super::fx::expire_all`).
    let conversions = super::fx::load(&mut *tx, super::fx::By::CommitRequestId, &fx_ids).await?;
    let mut dependent_of = std::collections::HashMap::new();
    for (transfer_id, fx_id) in &links {
        if let Some(t) = expiring.iter().find(|t| t.id == *transfer_id) {
            dependent_of.insert(
                fx_id.clone(),
                super::fx::Dependent {
                    id: t.id.clone(),
                    state: State::Reserved,
                    payer: t.payer.clone(),
                    payee: t.payee.clone(),
                    payee_account: t.payee_account,
                },
            );
        }
    }
    let linked: Vec<super::fx::FxRow> = conversions
        .into_iter()
        .filter(|fx| dependent_of.contains_key(&fx.id))
        .collect();
    let (fx_journal, fx_errors, fx_transfer_errors, fx_messages) =
        super::fx::expire_all(&linked, &dependent_of, notifier, now_ms);
    let linked_transfers: std::collections::HashSet<String> =
        dependent_of.values().map(|d| d.id.clone()).collect();
    expiring.retain(|t| !linked_transfers.contains(&t.id));
    let mut delete =
        QueryBuilder::<MySql>::new("DELETE FROM transferTimeout WHERE transferId IN (");
    ::store::push_in_list(&mut delete, &ids);
    delete.build().execute(&mut *tx).await?;
    // The book: the payers' positions locked in one statement (account-id order, the lock
    // order of every writer), RESERVED_TIMEOUT then EXPIRED_RESERVED, reservations given back.
    let mut journal = Journal::new();
    for transfer in &expiring {
        let posting = ledger::transfer::expire(ReservedTransfer {
            amount: transfer.amount,
            payer_account: transfer.payer_account,
            payee_account: transfer.payee_account,
        });
        journal.transition(
            &transfer.id,
            Some(State::Reserved),
            State::ReservedTimeout,
            Some("Marked for expiration by Timeout Handler"),
        );
        journal.transition(
            &transfer.id,
            Some(State::ReservedTimeout),
            State::ExpiredReserved,
            Some("Transfer expired"),
        );
        for (account, change) in &posting.moves {
            journal.move_position(*account, *change, &transfer.id, posting.at());
        }
    }
    journal.extend(fx_journal);
    let mut positions = ledger_book::lock_positions(&mut tx, &journal.accounts()).await?;
    let state_ids = journal.write(&mut tx, &mut positions).await?;
    super::fx::record_errors(&mut tx, &state_ids, &fx_errors).await?;
    super::fx::record_transfer_errors(
        &mut tx,
        &state_ids,
        &fx_transfer_errors,
        State::ReservedTimeout,
    )
    .await?;
    let error = FspiopError::new(ErrorCode::TransferExpired);
    if !expiring.is_empty() {
        let mut rows = Vec::with_capacity(expiring.len());
        for transfer in &expiring {
            rows.push((
                transfer.id.clone(),
                state_ids.require(&transfer.id, State::ReservedTimeout)?,
            ));
        }
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO transferError (transferId, transferStateChangeId, errorCode, errorDescription) ",
        );
        query.push_values(&rows, |mut row, (id, change)| {
            row.push_bind(id.clone())
                .push_bind(*change)
                .push_bind(u32::from(error.code.code()))
                .push_bind(error.description());
        });
        query.build().execute(&mut *tx).await?;
    }
    let expired: std::collections::HashSet<String> =
        expiring.iter().map(|t| t.id.clone()).collect();
    let messages: Vec<Message> = expiring
        .into_iter()
        .filter(|transfer| !in_bulk.contains(&transfer.id))
        .map(|transfer| {
            let mut message = notifier.from_hub(
                &transfer.id,
                &transfer.payer,
                "timeout-reserved",
                Body::Error(&error),
                &uuid::Uuid::new_v4().to_string(),
                now_ms,
            );
            message.from = transfer.payee.clone();
            message.content.context =
                Some(json!({ "payer": transfer.payer, "payee": transfer.payee }));
            message
        })
        .collect();
    // The notices are kept with the expiry, in its transaction, until they are delivered.
    record_notices(&mut tx, &messages).await?;
    record_notices(&mut tx, &fx_messages).await?;
    // A bulk's transfers are told of once, by their bulk (its notices recorded by `finish`).
    let bulk_messages =
        super::bulk::expiry::finish(&mut tx, notifier, &bulk_members, &expired, now_ms).await?;
    tx.commit().await?;
    let mut messages = messages;
    messages.extend(fx_messages);
    messages.extend(bulk_messages);
    Ok(Swept {
        messages,
        claimed: ids.len(),
    })
}

/// A sweep of transfers, then one of conversions (`super::fx::sweep`).
pub async fn sweep_both(
    store: &Store,
    notifier: &Notifier,
    config: TimeoutConfig,
    now_ms: i64,
) -> Result<Swept> {
    let mut swept = sweep(store, notifier, config, now_ms).await?;
    let (messages, claimed) =
        super::fx::sweep(store, notifier, config.sweep_size_max, now_ms).await?;
    swept.messages.extend(messages);
    swept.claimed = swept.claimed.max(claimed);
    Ok(swept)
}

/// The transfers of `ids` still RESERVED, in one read, sorted by id.
async fn load_reserved(tx: &mut Tx<'_>, ids: &[String]) -> Result<Vec<Expiring>> {
    type Row = (String, String, String, String, u32, String, u32);
    // The transfer rows, which fulfils lock too, are locked by `sweep`: a commit and an expiry
    // cannot interleave. Not `FOR UPDATE` here: that would lock the participant rows as well.
    // `STRAIGHT_JOIN`: from the ids outwards, whatever the table's size (see fulfil's
    // `load_transfers`).
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT t.transferId, CAST(t.amount AS CHAR),
                (SELECT tsc.transferStateId FROM transferStateChange tsc WHERE tsc.transferId = t.transferId
                  ORDER BY tsc.transferStateChangeId DESC LIMIT 1),
                payer.name, tpa.participantCurrencyId, payee.name, tpe.participantCurrencyId
         FROM transfer t
         STRAIGHT_JOIN transferParticipant tpa ON tpa.transferId = t.transferId AND tpa.transferParticipantRoleTypeId = 1
         STRAIGHT_JOIN participant payer ON payer.participantId = tpa.participantId
         STRAIGHT_JOIN transferParticipant tpe ON tpe.transferId = t.transferId AND tpe.transferParticipantRoleTypeId = 2
         STRAIGHT_JOIN participant payee ON payee.participantId = tpe.participantId
         WHERE t.transferId IN (",
    );
    ::store::push_in_list(&mut query, ids);
    query.push(" ORDER BY t.transferId");
    let rows: Vec<Row> = query.build_query_as().fetch_all(&mut **tx).await?;
    rows.into_iter()
        .filter(|row| row.2 == State::Reserved.id())
        .map(
            |(id, amount, _, payer, payer_account, payee, payee_account)| {
                Ok(Expiring {
                    id,
                    amount: Money::parse(&amount).map_err(Error::Money)?,
                    payer,
                    payer_account,
                    payee,
                    payee_account,
                })
            },
        )
        .collect()
}

/// Whether an expiry notice is a conversion's (one per recipient) rather than a transfer's
/// (one per transfer, the adapter telling payer and payee).
fn is_fx_notice(message: &Message) -> bool {
    message.metadata.event.action == fspiop::envelope::action::FX_TIMEOUT_RESERVED
}

/// Keeps `messages` (expiry notices of transfers and of conversions) until [`delivered`]
/// removes them.
pub(super) async fn record_notices(tx: &mut Tx<'_>, messages: &[Message]) -> Result<()> {
    let mut fx_rows = Vec::new();
    let mut transfer_rows = Vec::new();
    for message in messages {
        let text = serde_json::to_string(message).map_err(Error::Json)?;
        if is_fx_notice(message) {
            fx_rows.push((message.id.clone(), message.to.clone(), text));
        } else {
            transfer_rows.push((message.id.clone(), text));
        }
    }
    if !fx_rows.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO fxTransferExpiryNotice (commitRequestId, recipient, message) ",
        );
        query.push_values(&fx_rows, |mut row, (id, to, text)| {
            row.push_bind(id.clone())
                .push_bind(to.clone())
                .push_bind(text.clone());
        });
        query.build().execute(&mut **tx).await?;
    }
    if !transfer_rows.is_empty() {
        let mut query =
            QueryBuilder::<MySql>::new("INSERT INTO transferExpiryNotice (transferId, message) ");
        query.push_values(&transfer_rows, |mut row, (id, text)| {
            row.push_bind(id.clone()).push_bind(text.clone());
        });
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Forgets the notices of `messages`, which are on the bus.
pub async fn delivered(store: &Store, messages: &[Message]) -> Result<()> {
    let (bulk, messages): (Vec<&Message>, Vec<&Message>) = messages
        .iter()
        .partition(|m| super::bulk::expiry::is_notice(m));
    super::bulk::expiry::delivered(&store.pool, &bulk).await?;
    let (fx, messages): (Vec<&Message>, Vec<&Message>) =
        messages.into_iter().partition(|m| is_fx_notice(m));
    if !fx.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "DELETE FROM fxTransferExpiryNotice WHERE (commitRequestId, recipient) IN (",
        );
        let mut list = query.separated(", ");
        for message in &fx {
            list.push("(")
                .push_bind_unseparated(message.id.clone())
                .push_unseparated(", ")
                .push_bind_unseparated(message.to.clone())
                .push_unseparated(")");
        }
        list.push_unseparated(")");
        query.build().execute(&store.pool).await?;
    }
    if messages.is_empty() {
        return Ok(());
    }
    let mut query =
        QueryBuilder::<MySql>::new("DELETE FROM transferExpiryNotice WHERE transferId IN (");
    let mut list = query.separated(", ");
    for message in messages {
        list.push_bind(message.id.clone());
    }
    list.push_unseparated(")");
    query.build().execute(&store.pool).await?;
    Ok(())
}

/// Expiry notices an earlier handler recorded but did not deliver, oldest first, at most
/// `limit` (conversions' first).
pub async fn undelivered(store: &Store, limit: u32) -> Result<Vec<Message>> {
    for query in [
        "SELECT message FROM fxTransferExpiryNotice ORDER BY createdDate, commitRequestId, recipient LIMIT ?",
        "SELECT message FROM transferExpiryNotice ORDER BY createdDate, transferId LIMIT ?",
        "SELECT message FROM bulkTransferNotice ORDER BY createdDate, bulkTransferId, recipient LIMIT ?",
    ] {
        let rows: Vec<(String,)> = sqlx::query_as(query)
            .bind(limit)
            .fetch_all(&store.pool)
            .await?;
        if rows.is_empty() {
            continue;
        }
        return rows
            .into_iter()
            .map(|(text,)| {
                serde_json::from_str(&text).map_err(|e| {
                    Error::Invariant(format!("a stored expiry notice does not parse: {e}"))
                })
            })
            .collect();
    }
    Ok(Vec::new())
}

/// Delivers the notices an earlier handler left; false when the bus refused them.
async fn deliver_left_over(store: &Store, notifier: &Notifier, limit: u32) -> bool {
    loop {
        let left = match undelivered(store, limit).await {
            Ok(left) => left,
            Err(error) => {
                tracing::error!(%error, "reading undelivered expiry notices failed; retried at the next start");
                return true;
            }
        };
        if left.is_empty() {
            return true;
        }
        let count = left.len();
        if let Err(error) = notifier.deliver(&left).await {
            tracing::error!(%error, "expiry notices left by an earlier handler not delivered");
            return false;
        }
        tracing::info!(count, "delivered expiry notices left by an earlier handler");
        if let Err(error) = delivered(store, &left).await {
            tracing::error!(%error, "forgetting delivered expiry notices failed");
            return true;
        }
        if count < limit as usize {
            return true;
        }
    }
}

/// The earliest expiration still watched, in milliseconds since the epoch (an indexed `MIN`).
pub async fn next_expiration_ms(store: &Store) -> Result<Option<i64>> {
    let (next,): (Option<i64>,) = sqlx::query_as(
        "SELECT CAST(ROUND(UNIX_TIMESTAMP(MIN(expirationDate)) * 1000) AS SIGNED) FROM transferTimeout",
    )
    .fetch_one(&store.pool)
    .await?;
    let fx = super::fx::next_expiration_ms(store).await?;
    Ok(match (next, fx) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Shortest sleep between looks: a due row another handler holds does not spin this one.
pub const WAIT_MIN_MS: u64 = 20;

/// How long to sleep before the next look: until `next_expiration_ms` (at least
/// [`WAIT_MIN_MS`]), never longer than `interval_ms`.
pub fn wait_ms(interval_ms: u64, now_ms: i64, next_expiration_ms: Option<i64>) -> u64 {
    let interval_ms = interval_ms.max(WAIT_MIN_MS);
    match next_expiration_ms {
        Some(next) => u64::try_from(next.saturating_sub(now_ms))
            .unwrap_or(0)
            .clamp(WAIT_MIN_MS, interval_ms),
        None => interval_ms,
    }
}

/// Sweeps until `stop` fires: at each watched expiration, and at least every `interval_ms`.
pub async fn run_handler(
    store: Store,
    notifier: Notifier,
    config: TimeoutConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
    metrics: crate::Metrics,
) {
    // What an earlier handler expired but could not tell, first.
    if !deliver_left_over(&store, &notifier, config.sweep_size_max).await {
        tracing::error!("the timeout handler stops: the bus refuses its notices");
        return;
    }
    let mut wait = 0;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
        }
        let full = match sweep_both(&store, &notifier, config, crate::now_ms()).await {
            Ok(swept) => {
                metrics
                    .transfers
                    .inc_by(&["timeout", "expired"], swept.messages.len() as u64);
                if let Err(error) = notifier.deliver(&swept.messages).await {
                    // The notices stay recorded; the next handler to start delivers them. This
                    // one stops, which makes /health DOWN.
                    tracing::error!(%error, "expiry notices not delivered; the timeout handler stops");
                    break;
                }
                if let Err(error) = delivered(&store, &swept.messages).await {
                    tracing::warn!(%error, "forgetting delivered expiry notices failed; a restart tells those DFSPs again");
                }
                swept.claimed >= config.sweep_size_max as usize
            }
            Err(error) => {
                if error.is_invariant() {
                    metrics.invariant_breaks.inc(&["timeout"]);
                }
                tracing::error!(%error, "timeout sweep failed; retried at the next look");
                false
            }
        };
        wait = if full {
            0
        } else {
            match next_expiration_ms(&store).await {
                Ok(next) => wait_ms(config.interval_ms, crate::now_ms(), next),
                Err(error) => {
                    tracing::error!(%error, "reading the next expiration failed");
                    config.interval_ms.max(1)
                }
            }
        };
    }
    tracing::info!("timeout handler stopped");
}

#[cfg(test)]
mod tests {
    use super::wait_ms;

    #[test]
    fn the_handler_wakes_at_the_next_expiration_within_its_interval() {
        assert_eq!(wait_ms(1000, 10_000, None), 1000);
        assert_eq!(wait_ms(1000, 10_000, Some(10_250)), 250);
        assert_eq!(wait_ms(1000, 10_000, Some(60_000)), 1000);
        // Already due (held by another handler, or just missed): look again soon, not in a
        // tight loop.
        assert_eq!(wait_ms(1000, 10_000, Some(9_000)), 20);
        assert_eq!(wait_ms(1000, 10_000, Some(10_005)), 20);
        assert_eq!(wait_ms(0, 10_000, None), 20);
    }
}
