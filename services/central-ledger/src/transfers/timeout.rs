//! The timeout handler: every `interval_ms` it expires reserved transfers whose expiration
//! has passed — RESERVED_TIMEOUT, the payer's reservation given back, EXPIRED_RESERVED with
//! error 3303 — in one transaction per sweep, then tells payer and payee.
//!
//! Prepare and reservation happen in one transaction here, so a transfer is never left in
//! RECEIVED_PREPARE and only reserved transfers are watched (`transferTimeout`). Rows are
//! claimed with `FOR UPDATE SKIP LOCKED`, so several handlers can sweep at once.

use std::time::Duration;

use fspiop::envelope::Message;
use fspiop::{ErrorCode, FspiopError};
use ledger::transfer::State;
use ledger::Money;
use serde_json::json;

use super::notify::{Body, Notifier};
use crate::error::{Error, Result};
use crate::store::{Store, Tx};

/// Settings of the timeout handler.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutConfig {
    pub interval_ms: u64,
    /// Most transfers expired in one sweep (the rest wait for the next).
    pub sweep_size_max: u32,
}

/// One sweep: expires what is due; returns the notifications to send.
pub async fn sweep(
    store: &Store,
    notifier: &Notifier,
    config: TimeoutConfig,
    now_ms: i64,
) -> Result<Vec<Message>> {
    let mut tx = store.pool.begin().await?;
    let due: Vec<(String,)> = sqlx::query_as(
        "SELECT transferId FROM transferTimeout WHERE expirationDate <= ? ORDER BY expirationDate LIMIT ? FOR UPDATE SKIP LOCKED",
    )
    .bind(super::DbTime(now_ms).to_string())
    .bind(config.sweep_size_max)
    .fetch_all(&mut *tx)
    .await?;
    // Every due transfer is locked before anything is read (a fulfil holding one finishes
    // first); the reads in `expire` then see the states those fulfils committed.
    let ids: Vec<String> = due.iter().map(|(id,)| id.clone()).collect();
    super::fulfil::lock_transfers(&mut tx, &ids).await?;
    let mut messages = Vec::new();
    for (id,) in due {
        expire(&mut tx, notifier, &id, now_ms, &mut messages).await?;
    }
    tx.commit().await?;
    Ok(messages)
}

async fn expire(
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    id: &str,
    now_ms: i64,
    messages: &mut Vec<Message>,
) -> Result<()> {
    type Row = (String, String, String, u32, String);
    // The transfer row, which fulfils lock too, is locked by `sweep`: a commit and an expiry
    // cannot interleave. Not `FOR UPDATE` here: that would lock the participant rows as well.
    let row: Option<Row> = sqlx::query_as(
        "SELECT CAST(t.amount AS CHAR),
                (SELECT tsc.transferStateId FROM transferStateChange tsc WHERE tsc.transferId = t.transferId
                  ORDER BY tsc.transferStateChangeId DESC LIMIT 1),
                payer.name, tpa.participantCurrencyId, payee.name
         FROM transfer t
         JOIN transferParticipant tpa ON tpa.transferId = t.transferId AND tpa.transferParticipantRoleTypeId = 1
         JOIN participant payer ON payer.participantId = tpa.participantId
         JOIN transferParticipant tpe ON tpe.transferId = t.transferId AND tpe.transferParticipantRoleTypeId = 2
         JOIN participant payee ON payee.participantId = tpe.participantId
         WHERE t.transferId = ?",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM transferTimeout WHERE transferId = ?")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let Some((amount, state, payer, payer_account, payee)) = row else {
        return Ok(());
    };
    if state != State::Reserved.id() {
        return Ok(());
    }
    let amount = Money::parse(&amount).map_err(|e| Error::Internal(e.to_string()))?;
    let error = FspiopError::new(ErrorCode::TransferExpired);
    let timed_out = sqlx::query(
        "INSERT INTO transferStateChange (transferId, transferStateId, reason) VALUES (?, ?, 'Marked for expiration by Timeout Handler')",
    )
    .bind(id)
    .bind(State::ReservedTimeout.id())
    .execute(&mut **tx)
    .await?
    .last_insert_id();
    sqlx::query("INSERT INTO transferError (transferId, transferStateChangeId, errorCode, errorDescription) VALUES (?, ?, 3303, ?)")
        .bind(id)
        .bind(timed_out)
        .bind(error.description())
        .execute(&mut **tx)
        .await?;
    let expired = sqlx::query("INSERT INTO transferStateChange (transferId, transferStateId, reason) VALUES (?, ?, 'Transfer expired')")
        .bind(id)
        .bind(State::ExpiredReserved.id())
        .execute(&mut **tx)
        .await?
        .last_insert_id();
    super::fulfil::move_position(tx, payer_account, amount.negate(), expired).await?;
    let mut message = notifier.from_hub(
        id,
        &payer,
        "timeout-reserved",
        Body::Error(&error),
        &uuid::Uuid::new_v4().to_string(),
        now_ms,
    );
    message.from = payee.clone();
    message.content.context = Some(json!({ "payer": payer, "payee": payee }));
    messages.push(message);
    Ok(())
}

/// Sweeps every `interval_ms` until `stop` fires.
pub async fn run_handler(
    store: Store,
    notifier: Notifier,
    config: TimeoutConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
    metrics: crate::Metrics,
) {
    let mut ticker = tokio::time::interval(Duration::from_millis(config.interval_ms));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = ticker.tick() => {}
        }
        match sweep(&store, &notifier, config, crate::now_ms()).await {
            Ok(messages) => {
                metrics
                    .transfers
                    .inc_by(&["timeout", "expired"], messages.len() as u64);
                if let Err(error) = notifier.send_all(messages).await {
                    tracing::error!(%error, "timeout notifications not delivered to the bus");
                }
            }
            Err(error) => tracing::error!(%error, "timeout sweep failed; retried at the next tick"),
        }
    }
    tracing::info!("timeout handler stopped");
}
