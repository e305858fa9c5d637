//! Immediate gross settlement (spec §6.4): the handler reads the ledger's commit notifications
//! from `topic-notification-event` (its own consumer group) and, for every committed transfer
//! whose positions an IMMEDIATE GROSS model governs, settles it at once in one transaction per
//! batch: the POSITION legs are reversed, the same amounts move between the DFSPs' settlement
//! accounts, and the transfer gets the state SETTLED. Offsets are committed after the database
//! commit; a redelivered notification finds the transfer SETTLED and does nothing.

use std::collections::{BTreeMap, BTreeSet};

use fspiop::envelope::Message;
use ledger::settlement::{self, Model};
use ledger::Money;
use sqlx::{MySql, QueryBuilder};

use crate::error::{Error, Result};
use crate::Store;
use bus::batch::{self, BatchLimits};
use ledger::transfer::State;
use ledger_book::Journal;
use ledger_book::Tx;

use crate::windows::money;

/// transferParticipantRoleType DFSP_SETTLEMENT and DFSP_POSITION; ledgerEntryType PRINCIPLE_VALUE.
const ROLE_DFSP_SETTLEMENT: u32 = 4;
const ROLE_DFSP_POSITION: u32 = 5;
const ENTRY_PRINCIPLE_VALUE: u32 = 1;
/// ledgerAccountType SETTLEMENT.
const LEDGER_ACCOUNT_SETTLEMENT: u32 = 2;

/// The transfer ids of successful commit notifications (`commit` to the payer, or `reserve`,
/// the PATCH to the payee) in a batch.
pub fn committed_ids(messages: &[Message]) -> Vec<String> {
    let mut ids: Vec<String> = messages
        .iter()
        .filter(|m| {
            matches!(m.metadata.event.action.as_str(), "commit" | "reserve")
                && m.metadata.event.state.status == "success"
        })
        .map(|m| {
            m.content
                .uri_params
                .as_ref()
                .map(|u| u.id.clone())
                .unwrap_or_else(|| m.id.clone())
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// One leg of a transfer.
struct Leg {
    transfer_id: String,
    participant: u32,
    account: u32,
    account_type: u32,
    currency: String,
    amount: Money,
}

/// Settles the committed transfers among `ids` that a gross model governs; returns how many.
/// `models` are the settlement models with their settlement account types ([`gross_models`]).
pub async fn settle(store: &Store, ids: &[String], models: &[(Model, u32)]) -> Result<usize> {
    if ids.is_empty() || models.is_empty() {
        return Ok(0);
    }
    let plain: Vec<Model> = models.iter().map(|m| m.0.clone()).collect();
    let mut tx = store.pool.begin().await?;
    ledger_book::lock_transfers(&mut tx, ids).await?;
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT tp.transferId, tp.participantId, tp.participantCurrencyId, pc.ledgerAccountTypeId, pc.currencyId, CAST(tp.amount AS CHAR),
                (SELECT tsc.transferStateId FROM transferStateChange tsc WHERE tsc.transferId = tp.transferId
                  ORDER BY tsc.transferStateChangeId DESC LIMIT 1)
         FROM transferParticipant tp
         JOIN participantCurrency pc ON pc.participantCurrencyId = tp.participantCurrencyId
         WHERE tp.transferParticipantRoleTypeId IN (1, 2) AND tp.transferId IN (",
    );
    {
        let mut separated = query.separated(", ");
        for id in ids {
            separated.push_bind(id.clone());
        }
        separated.push_unseparated(")");
    }
    query.push(" ORDER BY tp.transferId, tp.transferParticipantId");
    type Row = (String, u32, u32, u32, String, String, Option<String>);
    let rows: Vec<Row> = query.build_query_as().fetch_all(&mut *tx).await?;
    let mut legs: BTreeMap<String, Vec<Leg>> = BTreeMap::new();
    for (transfer_id, participant, account, account_type, currency, amount, state) in rows {
        if state.as_deref().and_then(State::parse) != Some(State::Committed) {
            continue;
        }
        if !settlement::model_for(&plain, account_type, &currency)
            .is_some_and(|m| m.immediate_gross)
        {
            continue;
        }
        legs.entry(transfer_id.clone()).or_default().push(Leg {
            transfer_id,
            participant,
            account,
            account_type,
            currency,
            amount: money(&amount)?,
        });
    }
    if legs.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    // Each DFSP's settlement account in the leg's currency.
    let mut settlement_accounts: BTreeMap<(u32, String, u32), u32> = BTreeMap::new();
    for leg in legs.values().flatten() {
        let settlement_type = models
            .iter()
            .find(|(m, _)| {
                settlement::model_for(&plain, leg.account_type, &leg.currency).map(|f| f.id)
                    == Some(m.id)
            })
            .map(|(_, t)| *t)
            .unwrap_or(LEDGER_ACCOUNT_SETTLEMENT);
        let key = (leg.participant, leg.currency.clone(), settlement_type);
        if settlement_accounts.contains_key(&key) {
            continue;
        }
        let row: Option<(u32,)> = sqlx::query_as(
            "SELECT participantCurrencyId FROM participantCurrency WHERE participantId = ? AND currencyId = ? AND ledgerAccountTypeId = ?",
        )
        .bind(leg.participant)
        .bind(&leg.currency)
        .bind(settlement_type)
        .fetch_optional(&mut *tx)
        .await?;
        let account = row.map(|(a,)| a).ok_or_else(|| {
            Error::Internal(format!(
                "participant {} has no settlement account in {}",
                leg.participant, leg.currency
            ))
        })?;
        settlement_accounts.insert(key, account);
    }
    let settlement_of = |leg: &Leg| {
        settlement_accounts
            .iter()
            .find(|((p, c, _), _)| *p == leg.participant && *c == leg.currency)
            .map(|(_, a)| *a)
    };
    // Positions locked in account-id order before any moves.
    let mut accounts: BTreeSet<u32> = BTreeSet::new();
    for leg in legs.values().flatten() {
        accounts.insert(leg.account);
        accounts.extend(settlement_of(leg));
    }
    let accounts: Vec<u32> = accounts.into_iter().collect();
    let mut positions = ledger_book::lock_positions(&mut tx, &accounts).await?;
    let mut journal = Journal::new();
    for (transfer_id, transfer_legs) in &legs {
        journal.transition(
            transfer_id,
            Some(State::Committed),
            State::Settled,
            Some("Gross settlement process"),
        );
        for leg in transfer_legs {
            let settlement_account = settlement_of(leg).ok_or_else(|| {
                Error::Internal(format!("no settlement account for {}", leg.transfer_id))
            })?;
            insert_leg(
                &mut tx,
                leg,
                leg.account,
                ROLE_DFSP_POSITION,
                leg.amount.negate(),
            )
            .await?;
            insert_leg(
                &mut tx,
                leg,
                settlement_account,
                ROLE_DFSP_SETTLEMENT,
                leg.amount,
            )
            .await?;
            journal.move_position(
                leg.account,
                leg.amount.negate(),
                transfer_id,
                State::Settled,
            );
            journal.move_position(settlement_account, leg.amount, transfer_id, State::Settled);
        }
    }
    journal.write(&mut tx, &mut positions).await?;
    tx.commit().await?;
    Ok(legs.len())
}

async fn insert_leg(
    tx: &mut Tx<'_>,
    leg: &Leg,
    account: u32,
    role: u32,
    amount: Money,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO transferParticipant (transferId, participantId, participantCurrencyId, transferParticipantRoleTypeId, ledgerEntryTypeId, amount)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&leg.transfer_id)
    .bind(leg.participant)
    .bind(account)
    .bind(role)
    .bind(ENTRY_PRINCIPLE_VALUE)
    .bind(amount.to_decimal_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every settlement model with its settlement account type, or none when no active IMMEDIATE
/// GROSS model exists (then nothing is settled gross).
pub async fn gross_models(store: &Store) -> Result<Vec<(Model, u32)>> {
    let types: Vec<(u32, u32)> =
        sqlx::query_as("SELECT settlementModelId, settlementAccountTypeId FROM settlementModel")
            .fetch_all(&store.pool)
            .await?;
    let models = crate::windows::models(&store.pool).await?;
    // Every active model is kept (a currency's NET model must still win over a GROSS default);
    // callers check `immediate_gross` on the model that governs.
    if !models
        .iter()
        .any(|(m, _, _)| m.immediate_gross && m.is_active)
    {
        return Ok(Vec::new());
    }
    Ok(models
        .into_iter()
        .map(|(model, _, _)| {
            let settlement_type = types
                .iter()
                .find(|(id, _)| *id == model.id)
                .map(|(_, t)| *t)
                .unwrap_or(LEDGER_ACCOUNT_SETTLEMENT);
            (model, settlement_type)
        })
        .collect())
}

/// The models as last read, and when.
struct ModelCache {
    models: Vec<(Model, u32)>,
    read_at: Option<std::time::Instant>,
    ttl: std::time::Duration,
}

impl ModelCache {
    /// The models, read again once `ttl` has passed (a new or changed model applies within it).
    async fn get(&mut self, store: &Store) -> Result<&[(Model, u32)]> {
        if self.read_at.is_none_or(|at| at.elapsed() >= self.ttl) {
            self.models = gross_models(store).await?;
            self.read_at = Some(std::time::Instant::now());
        }
        Ok(&self.models)
    }
}

/// Runs the gross settlement handler until `stop` fires. Settlement models are read at most
/// once per `models_cache_ms`; while no IMMEDIATE GROSS model is active the notifications are
/// only acknowledged, not even parsed, so deferred-net schemes pay almost nothing for it.
pub async fn run_handler(
    store: Store,
    consumer: bus::Consumer,
    limits: BatchLimits,
    models_cache_ms: u64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut cache = ModelCache {
        models: Vec::new(),
        read_at: None,
        ttl: std::time::Duration::from_millis(models_cache_ms),
    };
    while let Some(records) = batch::next_batch(
        &consumer,
        limits.batch_size_max,
        limits.batch_wait_ms,
        &mut stop,
    )
    .await
    {
        let models = match cache.get(&store).await {
            Ok(models) => models.to_vec(),
            Err(error) => {
                tracing::warn!(%error, "settlement models not read; batch not settled");
                Vec::new()
            }
        };
        if models.is_empty() {
            batch::commit(&consumer, &records);
            continue;
        }
        let messages: Vec<Message> = records
            .iter()
            .filter_map(|r| r.payload.as_deref())
            .filter_map(|p| serde_json::from_slice::<Message>(p).ok())
            .collect();
        let ids = committed_ids(&messages);
        let mut attempt: u64 = 1;
        loop {
            match settle(&store, &ids, &models).await {
                Ok(settled) => {
                    if settled > 0 {
                        tracing::debug!(settled, "transfers settled gross");
                    }
                    break;
                }
                Err(error) if attempt < GROSS_ATTEMPTS_MAX => {
                    tracing::warn!(%error, attempt, "gross settlement failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(
                        GROSS_RETRY_DELAY_MS * attempt,
                    ))
                    .await;
                    attempt += 1;
                }
                Err(error) => {
                    // Left COMMITTED; the operator sees them unsettled. Not retried forever, so
                    // one bad transfer cannot stop the handler.
                    tracing::error!(%error, ?ids, "gross settlement failed; transfers left COMMITTED");
                    break;
                }
            }
        }
        batch::commit(&consumer, &records);
    }
}

/// Attempts at a batch, and the pause before attempt n (n × this).
const GROSS_ATTEMPTS_MAX: u64 = 3;
const GROSS_RETRY_DELAY_MS: u64 = 200;
