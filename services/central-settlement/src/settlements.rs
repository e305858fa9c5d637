//! Settlements: creating one over closed windows for a deferred net model (each account's net
//! amount is the sum of its aggregation rows), walking its accounts through
//! PS_TRANSFERS_RECORDED → RESERVED → COMMITTED → SETTLED with the settlement transfers that
//! bring positions back (when the model resets positions), the settlement's own state
//! following its accounts, and abort.
//!
//! Every change is one transaction that holds the settlement row (`FOR UPDATE`), so two
//! operators updating one settlement take turns. Positions are locked in account-id order, as
//! the transfer handlers lock them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use fspiop::ErrorCode;
use ledger::settlement::{self, AccountChange, Model, SettlementState, WindowState};
use ledger::transfer::State;
use ledger::Money;
use ledger_book::Journal;
use serde_json::{json, Value};
use sqlx::{MySql, QueryBuilder};

use crate::error::{Error, Result};
use crate::Store;
use ledger_book::DbTime;
use ledger_book::Tx;

use crate::windows::{self, iso, money, push_ids, validation, WindowView};

/// HUB_MULTILATERAL_SETTLEMENT
const LEDGER_ACCOUNT_HUB_MULTILATERAL_SETTLEMENT: u32 = 4;
/// transferParticipantRoleType HUB and DFSP_POSITION.
const ROLE_HUB: u32 = 3;
const ROLE_DFSP_POSITION: u32 = 5;

/// A settlement account as the API shows it.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub row_id: u64,
    pub id: u32,
    pub participant_id: u32,
    pub currency: String,
    pub net: Money,
    pub state: SettlementState,
    pub reason: Option<String>,
    pub external_reference: Option<String>,
    pub created: String,
    pub transfer_id: Option<String>,
}

impl AccountView {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "state": self.state.id(),
            "reason": self.reason,
            "externalReference": self.external_reference,
            "createdDate": self.created,
            "netSettlementAmount": { "amount": json_money(self.net), "currency": self.currency },
        })
    }
}

/// A settlement as the API shows it.
#[derive(Debug, Clone)]
pub struct SettlementView {
    pub id: u64,
    pub model: String,
    pub state: SettlementState,
    pub reason: Option<String>,
    pub created: String,
    pub changed: String,
    pub windows: Vec<WindowView>,
    pub accounts: Vec<AccountView>,
}

/// An amount as a JSON number (Mojaloop's settlement API answers numbers).
pub fn json_money(money: Money) -> Value {
    serde_json::from_str::<serde_json::Number>(&money.to_string())
        .map(Value::Number)
        .unwrap_or_else(|_| Value::String(money.to_string()))
}

/// `participants: [{id, accounts: [...]}]` from account views (and per-account errors).
fn participants_json(accounts: &[(u32, Value)]) -> Value {
    let mut by_participant: BTreeMap<u32, Vec<Value>> = BTreeMap::new();
    for (participant, account) in accounts {
        by_participant
            .entry(*participant)
            .or_default()
            .push(account.clone());
    }
    Value::Array(
        by_participant
            .into_iter()
            .map(|(id, accounts)| json!({ "id": id, "accounts": accounts }))
            .collect(),
    )
}

impl SettlementView {
    pub fn to_json(&self) -> Value {
        let accounts: Vec<(u32, Value)> = self
            .accounts
            .iter()
            .map(|a| (a.participant_id, a.to_json()))
            .collect();
        json!({
            "id": self.id,
            "settlementModel": self.model,
            "state": self.state.id(),
            "reason": self.reason,
            "createdDate": self.created,
            "changedDate": self.changed,
            "settlementWindows": self.windows.iter().map(WindowView::to_json).collect::<Vec<_>>(),
            "participants": participants_json(&accounts),
        })
    }

    /// The view restricted to one participant (and one of its accounts).
    pub fn restricted(&self, participant: u32, account: Option<u32>) -> Result<Value> {
        if !self
            .accounts
            .iter()
            .any(|a| a.participant_id == participant)
        {
            return Err(validation(format!(
                "Participant {participant} is not in settlement {}",
                self.id
            )));
        }
        let accounts: Vec<(u32, Value)> = self
            .accounts
            .iter()
            .filter(|a| a.participant_id == participant && account.is_none_or(|id| a.id == id))
            .map(|a| (a.participant_id, a.to_json()))
            .collect();
        if accounts.is_empty() {
            return Err(validation(format!(
                "Account {} of participant {participant} is not in settlement {}",
                account.unwrap_or_default(),
                self.id
            )));
        }
        Ok(json!({
            "id": self.id,
            "state": self.state.id(),
            "settlementWindows": self.windows.iter().map(WindowView::to_json).collect::<Vec<_>>(),
            "participants": participants_json(&accounts),
        }))
    }
}

fn not_found(id: u64) -> Error {
    validation(format!("Settlement with ID '{id}' not found"))
}

type SettlementRow = (u64, String, String, Option<String>, String, String);

/// Reads a settlement with its windows and accounts (`executor` may be a transaction, to see
/// its own writes).
async fn load(tx: &mut Tx<'_>, id: u64) -> Result<Option<SettlementView>> {
    let row: Option<SettlementRow> = sqlx::query_as(concat!(
        "SELECT s.settlementId, sm.name, ssc.settlementStateId, ssc.reason, ",
        iso!("s.createdDate"),
        ", ",
        iso!("ssc.createdDate"),
        " FROM settlement s
         JOIN settlementStateChange ssc ON ssc.settlementStateChangeId = s.currentStateChangeId
         JOIN settlementModel sm ON sm.settlementModelId = s.settlementModelId
         WHERE s.settlementId = ?"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((id, model, state, reason, created, changed)) = row else {
        return Ok(None);
    };
    let window_ids: Vec<(u64,)> = sqlx::query_as(
        "SELECT settlementWindowId FROM settlementSettlementWindow WHERE settlementId = ? ORDER BY settlementWindowId",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    let window_ids: Vec<u64> = window_ids.into_iter().map(|(w,)| w).collect();
    let windows = windows::windows_by_id(tx, &window_ids).await?;
    let accounts = accounts(tx, id).await?;
    Ok(Some(SettlementView {
        id,
        model,
        state: SettlementState::parse(&state)
            .ok_or_else(|| Error::Internal(format!("unknown settlement state {state}")))?,
        reason,
        created,
        changed,
        windows,
        accounts,
    }))
}

async fn accounts(tx: &mut Tx<'_>, settlement: u64) -> Result<Vec<AccountView>> {
    type Row = (
        u64,
        u32,
        u32,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT spc.settlementParticipantCurrencyId, spc.participantCurrencyId, pc.participantId, pc.currencyId,
                CAST(spc.netAmount AS CHAR), spcsc.settlementStateId, spcsc.reason, spcsc.externalReference, ",
        iso!("spcsc.createdDate"),
        ", spc.settlementTransferId
         FROM settlementParticipantCurrency spc
         JOIN participantCurrency pc ON pc.participantCurrencyId = spc.participantCurrencyId
         JOIN settlementParticipantCurrencyStateChange spcsc
           ON spcsc.settlementParticipantCurrencyStateChangeId = spc.currentStateChangeId
         WHERE spc.settlementId = ?
         ORDER BY pc.participantId, spc.participantCurrencyId"
    ))
    .bind(settlement)
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(
            |(
                row_id,
                id,
                participant_id,
                currency,
                net,
                state,
                reason,
                reference,
                created,
                transfer,
            )| {
                Ok(AccountView {
                    row_id,
                    id,
                    participant_id,
                    currency,
                    net: money(&net)?,
                    state: SettlementState::parse(&state)
                        .ok_or_else(|| Error::Internal(format!("unknown account state {state}")))?,
                    reason,
                    external_reference: reference,
                    created,
                    transfer_id: transfer,
                })
            },
        )
        .collect()
}

/// One settlement, or 3100 "Settlement with ID 'N' not found".
pub async fn get(store: &Store, id: u64) -> Result<SettlementView> {
    let mut tx = store.pool.begin().await?;
    let view = load(&mut tx, id).await?.ok_or_else(|| not_found(id))?;
    tx.commit().await?;
    Ok(view)
}

/// The filters of `GET /settlements`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettlementFilter {
    pub state: Option<String>,
    pub from_date_time: Option<String>,
    pub to_date_time: Option<String>,
    pub currency: Option<String>,
    pub settlement_window_id: Option<u64>,
    pub from_settlement_window_date_time: Option<String>,
    pub to_settlement_window_date_time: Option<String>,
    pub participant_id: Option<u32>,
    pub account_id: Option<u32>,
}

/// Settlements matching the filters, newest first.
pub async fn list(
    store: &Store,
    filter: &SettlementFilter,
    len_max: u32,
) -> Result<Vec<SettlementView>> {
    let f = filter;
    if f.state.is_none()
        && f.from_date_time.is_none()
        && f.to_date_time.is_none()
        && f.currency.is_none()
        && f.settlement_window_id.is_none()
        && f.from_settlement_window_date_time.is_none()
        && f.to_settlement_window_date_time.is_none()
        && f.participant_id.is_none()
        && f.account_id.is_none()
    {
        return Err(validation("Use at least one parameter: state, fromDateTime, toDateTime, currency, settlementWindowId, fromSettlementWindowDateTime, toSettlementWindowDateTime, participantId, accountId"));
    }
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT DISTINCT s.settlementId FROM settlement s
         JOIN settlementStateChange ssc ON ssc.settlementStateChangeId = s.currentStateChangeId
         LEFT JOIN settlementSettlementWindow ssw ON ssw.settlementId = s.settlementId
         LEFT JOIN settlementWindow sw ON sw.settlementWindowId = ssw.settlementWindowId
         LEFT JOIN settlementParticipantCurrency spc ON spc.settlementId = s.settlementId
         LEFT JOIN participantCurrency pc ON pc.participantCurrencyId = spc.participantCurrencyId
         WHERE 1 = 1",
    );
    if let Some(state) = &f.state {
        let state = SettlementState::parse(state)
            .ok_or_else(|| validation(format!("state {state:?} is not a settlement state")))?;
        query
            .push(" AND ssc.settlementStateId = ")
            .push_bind(state.id());
    }
    for (name, value, column, op) in [
        ("fromDateTime", &f.from_date_time, "s.createdDate", ">="),
        ("toDateTime", &f.to_date_time, "s.createdDate", "<="),
        (
            "fromSettlementWindowDateTime",
            &f.from_settlement_window_date_time,
            "sw.createdDate",
            ">=",
        ),
        (
            "toSettlementWindowDateTime",
            &f.to_settlement_window_date_time,
            "sw.createdDate",
            "<=",
        ),
    ] {
        if let Some(value) = value {
            query
                .push(format!(" AND {column} {op} "))
                .push_bind(windows::date_filter(name, value)?);
        }
    }
    if let Some(currency) = &f.currency {
        query
            .push(" AND pc.currencyId = ")
            .push_bind(currency.clone());
    }
    if let Some(window) = f.settlement_window_id {
        query
            .push(" AND ssw.settlementWindowId = ")
            .push_bind(window);
    }
    if let Some(participant) = f.participant_id {
        query
            .push(" AND pc.participantId = ")
            .push_bind(participant);
    }
    if let Some(account) = f.account_id {
        query
            .push(" AND spc.participantCurrencyId = ")
            .push_bind(account);
    }
    query
        .push(" ORDER BY s.settlementId DESC LIMIT ")
        .push_bind(i64::from(len_max));
    let ids: Vec<(u64,)> = query.build_query_as().fetch_all(&store.pool).await?;
    if ids.is_empty() {
        return Err(validation("Settlements not found"));
    }
    let mut tx = store.pool.begin().await?;
    let mut views = Vec::with_capacity(ids.len());
    for (id,) in ids {
        if let Some(view) = load(&mut tx, id).await? {
            views.push(view);
        }
    }
    tx.commit().await?;
    Ok(views)
}

/// Writes an account state change and points the account at it.
async fn set_account_state(
    tx: &mut Tx<'_>,
    row_id: u64,
    state: SettlementState,
    reason: Option<&str>,
    external_reference: Option<&str>,
) -> Result<()> {
    let change = sqlx::query(
        "INSERT INTO settlementParticipantCurrencyStateChange (settlementParticipantCurrencyId, settlementStateId, reason, externalReference) VALUES (?, ?, ?, ?)",
    )
    .bind(row_id)
    .bind(state.id())
    .bind(reason.map(|r| r.chars().take(512).collect::<String>()))
    .bind(external_reference.map(|r| r.chars().take(50).collect::<String>()))
    .execute(&mut **tx)
    .await?
    .last_insert_id();
    sqlx::query(
        "UPDATE settlementParticipantCurrency SET currentStateChangeId = ? WHERE settlementParticipantCurrencyId = ?",
    )
    .bind(change)
    .bind(row_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes a settlement state change and points the settlement at it.
async fn set_settlement_state(
    tx: &mut Tx<'_>,
    id: u64,
    state: SettlementState,
    reason: Option<&str>,
) -> Result<()> {
    let change = sqlx::query(
        "INSERT INTO settlementStateChange (settlementId, settlementStateId, reason) VALUES (?, ?, ?)",
    )
    .bind(id)
    .bind(state.id())
    .bind(reason.map(|r| r.chars().take(512).collect::<String>()))
    .execute(&mut **tx)
    .await?
    .last_insert_id();
    sqlx::query("UPDATE settlement SET currentStateChangeId = ? WHERE settlementId = ?")
        .bind(change)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Creates a settlement of `model_name` over `window_ids` (`POST /settlements`).
pub async fn create(
    store: &Store,
    model_name: &str,
    reason: &str,
    window_ids: &[u64],
) -> Result<SettlementView> {
    let mut unique: Vec<u64> = window_ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    if unique.is_empty() || unique.len() != window_ids.len() {
        return Err(validation(
            "settlementWindows must list at least one window, each once",
        ));
    }
    let mut tx = store.pool.begin().await?;
    let models = windows::models(&mut *tx).await?;
    let Some((model, _, _)) = models.iter().find(|(_, name, _)| name == model_name) else {
        return Err(validation(format!(
            "Settlement model not found: {model_name}"
        )));
    };
    if !model.deferred_net {
        return Err(validation(
            "Settlement can not be created for GROSS or IMMEDIATE models",
        ));
    }
    if !model.is_active {
        return Err(validation(format!(
            "Settlement model {model_name} is not active"
        )));
    }
    let all_models: Vec<Model> = models.iter().map(|m| m.0.clone()).collect();
    // The windows, locked in id order, then their contents.
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT sw.settlementWindowId, swsc.settlementWindowStateId FROM settlementWindow sw
         JOIN settlementWindowStateChange swsc ON swsc.settlementWindowStateChangeId = sw.currentStateChangeId
         WHERE sw.settlementWindowId IN (",
    );
    push_ids(&mut query, &unique);
    query.push(" ORDER BY sw.settlementWindowId FOR UPDATE");
    let found: Vec<(u64, String)> = query.build_query_as().fetch_all(&mut *tx).await?;
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT swc.settlementWindowContentId, swc.settlementWindowId, swc.ledgerAccountTypeId, swc.currencyId, swcsc.settlementWindowStateId
         FROM settlementWindowContent swc
         JOIN settlementWindowContentStateChange swcsc ON swcsc.settlementWindowContentStateChangeId = swc.currentStateChangeId
         WHERE swc.settlementWindowId IN (",
    );
    push_ids(&mut query, &unique);
    query.push(" ORDER BY swc.settlementWindowContentId FOR UPDATE");
    let contents: Vec<(u64, u64, u32, String, String)> =
        query.build_query_as().fetch_all(&mut *tx).await?;
    let chosen: Vec<&(u64, u64, u32, String, String)> = contents
        .iter()
        .filter(|(_, _, account_type, currency, state)| {
            WindowState::parse(state).is_some_and(WindowState::is_settleable)
                && settlement::content_belongs_to(model, &all_models, *account_type, currency)
        })
        .collect();
    let inapplicable: Vec<String> = unique
        .iter()
        .filter(|id| {
            let state = found
                .iter()
                .find(|(w, _)| w == *id)
                .and_then(|(_, s)| WindowState::parse(s));
            let window_ok = matches!(
                state,
                Some(WindowState::Closed | WindowState::Aborted | WindowState::PendingSettlement)
            );
            !window_ok || !chosen.iter().any(|c| c.1 == **id)
        })
        .map(u64::to_string)
        .collect();
    if !inapplicable.is_empty() {
        return Err(validation(format!(
            "Inapplicable windows {}",
            inapplicable.join(", ")
        )));
    }
    let id = sqlx::query("INSERT INTO settlement (reason, settlementModelId) VALUES (?, ?)")
        .bind(reason.chars().take(512).collect::<String>())
        .bind(model.id)
        .execute(&mut *tx)
        .await?
        .last_insert_id();
    set_settlement_state(
        &mut tx,
        id,
        SettlementState::PendingSettlement,
        Some(reason),
    )
    .await?;
    let mut query = QueryBuilder::<MySql>::new(
        "INSERT INTO settlementSettlementWindow (settlementId, settlementWindowId) ",
    );
    query.push_values(&unique, |mut row, window| {
        row.push_bind(id).push_bind(*window);
    });
    query.build().execute(&mut *tx).await?;
    let content_ids: Vec<u64> = chosen.iter().map(|c| c.0).collect();
    let mut query =
        QueryBuilder::<MySql>::new("UPDATE settlementWindowContent SET settlementId = ");
    query.push_bind(id);
    query.push(" WHERE settlementWindowContentId IN (");
    push_ids(&mut query, &content_ids);
    query.build().execute(&mut *tx).await?;
    for content in &content_ids {
        windows::set_content_state(
            &mut tx,
            *content,
            WindowState::PendingSettlement,
            Some(reason),
        )
        .await?;
    }
    let mut query = QueryBuilder::<MySql>::new(
        "UPDATE settlementContentAggregation SET currentStateId = 'PENDING_SETTLEMENT', settlementId = ",
    );
    query.push_bind(id);
    query.push(" WHERE settlementWindowContentId IN (");
    push_ids(&mut query, &content_ids);
    query.build().execute(&mut *tx).await?;
    // Each account's net amount: the sum of its aggregation rows in the chosen contents.
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT participantCurrencyId, CAST(SUM(amount) AS CHAR) FROM settlementContentAggregation
         WHERE settlementWindowContentId IN (",
    );
    push_ids(&mut query, &content_ids);
    query.push(" GROUP BY participantCurrencyId ORDER BY participantCurrencyId");
    let nets: Vec<(u32, String)> = query.build_query_as().fetch_all(&mut *tx).await?;
    for (account, net) in &nets {
        let row_id = sqlx::query(
            "INSERT INTO settlementParticipantCurrency (settlementId, participantCurrencyId, netAmount) VALUES (?, ?, ?)",
        )
        .bind(id)
        .bind(account)
        .bind(money(net)?.to_decimal_string())
        .execute(&mut *tx)
        .await?
        .last_insert_id();
        set_account_state(
            &mut tx,
            row_id,
            SettlementState::PendingSettlement,
            Some(reason),
            None,
        )
        .await?;
    }
    windows::refresh_window_states(&mut tx, &unique, Some(reason)).await?;
    let view = load(&mut tx, id).await?.ok_or_else(|| not_found(id))?;
    tx.commit().await?;
    Ok(view)
}

/// One requested account change (`PUT /settlements/{id}` participants form).
#[derive(Debug, Clone)]
pub struct AccountUpdate {
    pub participant_id: u32,
    pub account_id: u32,
    pub state: String,
    pub reason: Option<String>,
    pub external_reference: Option<String>,
}

/// The answer to an account update: the settlement after it and, per requested account, its
/// view or its error.
#[derive(Debug, Clone)]
pub struct UpdateOutcome {
    pub settlement: SettlementView,
    pub accounts: Vec<(u32, Value)>,
}

impl UpdateOutcome {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.settlement.id,
            "state": self.settlement.state.id(),
            "createdDate": self.settlement.created,
            "changedDate": self.settlement.changed,
            "settlementWindows": self.settlement.windows.iter().map(WindowView::to_json).collect::<Vec<_>>(),
            "participants": participants_json(&self.accounts),
        })
    }
}

fn account_error(id: u32, description: &str) -> Value {
    json!({
        "id": id,
        "errorInformation": { "errorCode": "3000", "errorDescription": description },
    })
}

/// What the settlement service needs to know about a settlement's model.
struct ModelInfo {
    auto_position_reset: bool,
}

async fn lock_settlement(tx: &mut Tx<'_>, id: u64) -> Result<(SettlementState, ModelInfo)> {
    let row: Option<(String, bool)> = sqlx::query_as(
        "SELECT ssc.settlementStateId, sm.autoPositionReset FROM settlement s
         JOIN settlementStateChange ssc ON ssc.settlementStateChangeId = s.currentStateChangeId
         JOIN settlementModel sm ON sm.settlementModelId = s.settlementModelId
         WHERE s.settlementId = ? FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let (state, reset) = row.ok_or_else(|| not_found(id))?;
    let state = SettlementState::parse(&state)
        .ok_or_else(|| Error::Internal(format!("unknown settlement state {state}")))?;
    Ok((
        state,
        ModelInfo {
            auto_position_reset: reset,
        },
    ))
}

/// The hub's HUB_MULTILATERAL_SETTLEMENT account in `currency`.
async fn hub_account(tx: &mut Tx<'_>, currency: &str) -> Result<u32> {
    let row: Option<(u32,)> = sqlx::query_as(
        "SELECT participantCurrencyId FROM participantCurrency WHERE participantId = 1 AND currencyId = ? AND ledgerAccountTypeId = ?",
    )
    .bind(currency)
    .bind(LEDGER_ACCOUNT_HUB_MULTILATERAL_SETTLEMENT)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|(id,)| id).ok_or_else(|| {
        validation(format!(
            "The hub has no HUB_MULTILATERAL_SETTLEMENT account in {currency}"
        ))
    })
}

/// Records a settlement transfer (RECEIVED_PREPARE): the DFSP's POSITION account and the hub's
/// multilateral settlement account as its legs.
async fn prepare_transfer(
    tx: &mut Tx<'_>,
    journal: &mut Journal,
    account: &AccountView,
    transfer_id: &str,
    hub: u32,
    validity_s: u64,
    now_ms: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO transferDuplicateCheck (transferId, hash) VALUES (?, ?)")
        .bind(transfer_id)
        .bind(ledger_book::body_hash(
            &json!({ "transferId": transfer_id }),
        ))
        .execute(&mut **tx)
        .await?;
    let expiry_ms = now_ms
        .saturating_add(i64::try_from(validity_s.saturating_mul(1000)).unwrap_or(i64::MAX / 2));
    sqlx::query(
        "INSERT INTO transfer (transferId, amount, currencyId, ilpCondition, expirationDate) VALUES (?, ?, ?, '0', ?)",
    )
    .bind(transfer_id)
    .bind(account.net.abs().to_decimal_string())
    .bind(&account.currency)
    .bind(DbTime(expiry_ms).to_string())
    .execute(&mut **tx)
    .await?;
    let entry_type = settlement::settlement_entry_type(account.net);
    let hub_participant = ledger_book::HUB_PARTICIPANT_ID;
    sqlx::query(
        "INSERT INTO transferParticipant (transferId, participantId, participantCurrencyId, transferParticipantRoleTypeId, ledgerEntryTypeId, amount)
         VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)",
    )
    .bind(transfer_id)
    .bind(hub_participant)
    .bind(hub)
    .bind(ROLE_HUB)
    .bind(entry_type)
    .bind(account.net.to_decimal_string())
    .bind(transfer_id)
    .bind(account.participant_id)
    .bind(account.id)
    .bind(ROLE_DFSP_POSITION)
    .bind(entry_type)
    .bind(account.net.negate().to_decimal_string())
    .execute(&mut **tx)
    .await?;
    journal.transition(
        transfer_id,
        None,
        State::ReceivedPrepare,
        Some("Settlement transfer prepare"),
    );
    Ok(())
}

/// Records `moves` of the DFSP's position and the hub's, journaled against `transfer_id`
/// reaching `at`.
fn apply_moves(
    journal: &mut Journal,
    account: u32,
    hub: u32,
    moves: settlement::SettlementMoves,
    transfer_id: &str,
    at: State,
) {
    journal.move_position(account, moves.dfsp, transfer_id, at);
    journal.move_position(hub, moves.hub, transfer_id, at);
}

/// Moves the requested accounts (`PUT /settlements/{id}` with participants): each account is
/// checked on its own (errors answered per account), advanced one step with its settlement
/// transfer, and the settlement's state follows.
pub async fn update_accounts(
    store: &Store,
    id: u64,
    updates: &[AccountUpdate],
    transfer_validity_s: u64,
    now_ms: i64,
) -> Result<UpdateOutcome> {
    let mut tx = store.pool.begin().await?;
    let (state, model) = lock_settlement(&mut tx, id).await?;
    let mut current = accounts(&mut tx, id).await?;
    let mut answers: Vec<(u32, Value)> = Vec::new();
    let mut planned: Vec<(usize, AccountChange, &AccountUpdate)> = Vec::new();
    let mut seen: BTreeSet<u32> = BTreeSet::new();
    for update in updates {
        let Some(index) = current.iter().position(|a| a.id == update.account_id) else {
            answers.push((
                update.participant_id,
                account_error(update.account_id, "Account not found"),
            ));
            continue;
        };
        let Some(account) = current.get(index) else {
            continue;
        };
        if account.participant_id != update.participant_id {
            answers.push((
                update.participant_id,
                account_error(update.account_id, "Participant and account mismatch"),
            ));
            continue;
        }
        if !seen.insert(update.account_id) {
            answers.push((
                update.participant_id,
                account_error(update.account_id, "Account already processed once"),
            ));
            continue;
        }
        let change = SettlementState::parse(&update.state)
            .ok_or(settlement::STATE_CHANGE_NOT_ALLOWED)
            .and_then(|requested| settlement::account_change(state, account.state, requested));
        match change {
            Ok(change) => planned.push((index, change, update)),
            Err(reason) => answers.push((
                update.participant_id,
                account_error(update.account_id, reason),
            )),
        }
    }
    // Settlement transfers need the hub's account in each currency; positions that move are
    // locked first, in account-id order.
    let mut hubs: BTreeMap<String, u32> = BTreeMap::new();
    let mut to_lock: BTreeSet<u32> = BTreeSet::new();
    if model.auto_position_reset {
        for (index, change, _) in &planned {
            let Some(account) = current.get(*index) else {
                continue;
            };
            if let AccountChange::Advance(reached) = change {
                if !hubs.contains_key(&account.currency) {
                    let hub = hub_account(&mut tx, &account.currency).await?;
                    hubs.insert(account.currency.clone(), hub);
                }
                if settlement::settlement_moves(account.net, *reached).is_some() {
                    to_lock.insert(account.id);
                    to_lock.extend(hubs.get(&account.currency).copied());
                }
            }
        }
    }
    let to_lock: Vec<u32> = to_lock.into_iter().collect();
    let mut positions = ledger_book::lock_positions(&mut tx, &to_lock).await?;
    let transfer_ids: Vec<String> = planned
        .iter()
        .filter_map(|(index, _, _)| current.get(*index)?.transfer_id.clone())
        .collect();
    let transfer_states = ledger_book::latest_states(&mut tx, &transfer_ids).await?;
    let mut journal = Journal::new();
    let mut settled_any = false;
    for (index, change, update) in &planned {
        let Some(account) = current.get(*index).cloned() else {
            continue;
        };
        let reached = match change {
            AccountChange::Record => account.state,
            AccountChange::Advance(reached) => *reached,
        };
        set_account_state(
            &mut tx,
            account.row_id,
            reached,
            update.reason.as_deref(),
            update.external_reference.as_deref(),
        )
        .await?;
        if let AccountChange::Advance(reached) = change {
            advance_account(
                &mut tx,
                &mut journal,
                &transfer_states,
                id,
                &account,
                *reached,
                &model,
                &hubs,
                transfer_validity_s,
                now_ms,
            )
            .await?;
            settled_any |= *reached == SettlementState::Settled;
            if let Some(a) = current.get_mut(*index) {
                a.state = *reached;
            }
        }
    }
    journal.write(&mut tx, &mut positions).await?;
    if settled_any {
        settle_contents(&mut tx, id).await?;
    }
    let states: Vec<SettlementState> = current.iter().map(|a| a.state).collect();
    let mut settlement_state = state;
    while let Some((next, reason)) = settlement::roll_up(settlement_state, &states) {
        set_settlement_state(&mut tx, id, next, Some(reason)).await?;
        settlement_state = next;
    }
    let view = load(&mut tx, id).await?.ok_or_else(|| not_found(id))?;
    tx.commit().await?;
    for (_, _, update) in &planned {
        if let Some(account) = view.accounts.iter().find(|a| a.id == update.account_id) {
            answers.push((account.participant_id, account.to_json()));
        }
    }
    Ok(UpdateOutcome {
        settlement: view,
        accounts: answers,
    })
}

/// One account's step, with its settlement transfer when the model resets positions.
#[allow(clippy::too_many_arguments)]
async fn advance_account(
    tx: &mut Tx<'_>,
    journal: &mut Journal,
    transfer_states: &HashMap<String, State>,
    settlement_id: u64,
    account: &AccountView,
    reached: SettlementState,
    model: &ModelInfo,
    hubs: &BTreeMap<String, u32>,
    transfer_validity_s: u64,
    now_ms: i64,
) -> Result<()> {
    let hub = hubs.get(&account.currency).copied();
    match reached {
        SettlementState::PsTransfersRecorded => {
            let transfer_id = uuid::Uuid::new_v4().to_string();
            sqlx::query(
                "UPDATE settlementParticipantCurrency SET settlementTransferId = ? WHERE settlementParticipantCurrencyId = ?",
            )
            .bind(&transfer_id)
            .bind(account.row_id)
            .execute(&mut **tx)
            .await?;
            if let (true, Some(hub)) = (model.auto_position_reset, hub) {
                prepare_transfer(
                    tx,
                    journal,
                    account,
                    &transfer_id,
                    hub,
                    transfer_validity_s,
                    now_ms,
                )
                .await?;
            }
        }
        SettlementState::PsTransfersReserved => {
            if let (true, Some(hub), Some(transfer_id)) = (
                model.auto_position_reset,
                hub,
                account.transfer_id.as_deref(),
            ) {
                journal.transition(
                    transfer_id,
                    transfer_states.get(transfer_id).copied(),
                    State::Reserved,
                    Some("Settlement transfer reserve"),
                );
                if let Some(moves) = settlement::settlement_moves(account.net, reached) {
                    apply_moves(
                        journal,
                        account.id,
                        hub,
                        moves,
                        transfer_id,
                        State::Reserved,
                    );
                }
            }
        }
        SettlementState::PsTransfersCommitted => {
            if let (true, Some(hub), Some(transfer_id)) = (
                model.auto_position_reset,
                hub,
                account.transfer_id.as_deref(),
            ) {
                sqlx::query(
                    "INSERT INTO transferFulfilmentDuplicateCheck (transferId, hash) VALUES (?, ?)",
                )
                .bind(transfer_id)
                .bind(ledger_book::body_hash(
                    &json!({ "transferId": transfer_id, "commit": true }),
                ))
                .execute(&mut **tx)
                .await?;
                // Not bound to a window: a settlement transfer is never settled again.
                sqlx::query(
                    "INSERT INTO transferFulfilment (transferId, ilpFulfilment, completedDate, isValid, settlementWindowId) VALUES (?, '0', ?, 1, NULL)",
                )
                .bind(transfer_id)
                .bind(DbTime(now_ms).to_string())
                .execute(&mut **tx)
                .await?;
                journal.path(
                    transfer_id,
                    transfer_states.get(transfer_id).copied(),
                    &[State::ReceivedFulfil, State::Committed],
                    Some("Settlement transfer commit"),
                );
                if let Some(moves) = settlement::settlement_moves(account.net, reached) {
                    apply_moves(
                        journal,
                        account.id,
                        hub,
                        moves,
                        transfer_id,
                        State::Committed,
                    );
                }
            }
        }
        SettlementState::Settled => {
            sqlx::query(
                "UPDATE settlementContentAggregation SET currentStateId = 'SETTLED' WHERE settlementId = ? AND participantCurrencyId = ?",
            )
            .bind(settlement_id)
            .bind(account.id)
            .execute(&mut **tx)
            .await?;
        }
        SettlementState::PendingSettlement
        | SettlementState::Settling
        | SettlementState::Aborted => {}
    }
    Ok(())
}

/// Contents of the settlement whose aggregation rows are all SETTLED become SETTLED, and their
/// windows follow.
async fn settle_contents(tx: &mut Tx<'_>, settlement_id: u64) -> Result<()> {
    let rows: Vec<(u64, u64, i64)> = sqlx::query_as(
        "SELECT swc.settlementWindowContentId, swc.settlementWindowId,
                CAST(SUM(sca.currentStateId <> 'SETTLED') AS SIGNED)
         FROM settlementWindowContent swc
         JOIN settlementContentAggregation sca ON sca.settlementWindowContentId = swc.settlementWindowContentId
         JOIN settlementWindowContentStateChange swcsc ON swcsc.settlementWindowContentStateChangeId = swc.currentStateChangeId
         WHERE swc.settlementId = ? AND swcsc.settlementWindowStateId <> 'SETTLED'
         GROUP BY swc.settlementWindowContentId, swc.settlementWindowId",
    )
    .bind(settlement_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut windows: BTreeSet<u64> = BTreeSet::new();
    for (content, window, unsettled) in rows {
        if unsettled == 0 {
            windows::set_content_state(tx, content, WindowState::Settled, None).await?;
            windows.insert(window);
        }
    }
    let windows: Vec<u64> = windows.into_iter().collect();
    windows::refresh_window_states(tx, &windows, None).await
}

/// Aborts a settlement (`PUT /settlements/{id}` with `state: ABORTED`): refused once money has
/// been committed; otherwise every account and content is ABORTED, reserved net recipients'
/// positions are given back, the settlement transfers are aborted (RECEIVED_REJECT then
/// ABORTED_REJECTED, where Mojaloop writes state ids that do not exist) and the windows can be
/// settled again.
pub async fn abort(
    store: &Store,
    id: u64,
    reason: &str,
    external_reference: Option<&str>,
) -> Result<SettlementView> {
    let mut tx = store.pool.begin().await?;
    let (state, model) = lock_settlement(&mut tx, id).await?;
    let accounts = accounts(&mut tx, id).await?;
    let any_committed = accounts.iter().any(|a| {
        matches!(
            a.state,
            SettlementState::PsTransfersCommitted | SettlementState::Settled
        )
    });
    let decision = settlement::abort(state, any_committed)
        .map_err(|reason| Error::client(ErrorCode::GenericValidationError, reason))?;
    if decision == settlement::Abort::Proceed {
        let mut hubs: BTreeMap<String, u32> = BTreeMap::new();
        let mut to_lock: BTreeSet<u32> = BTreeSet::new();
        if model.auto_position_reset {
            for account in &accounts {
                if settlement::abort_moves(account.net, account.state).is_some() {
                    if !hubs.contains_key(&account.currency) {
                        let hub = hub_account(&mut tx, &account.currency).await?;
                        hubs.insert(account.currency.clone(), hub);
                    }
                    to_lock.insert(account.id);
                    to_lock.extend(hubs.get(&account.currency).copied());
                }
            }
        }
        let to_lock: Vec<u32> = to_lock.into_iter().collect();
        let mut positions = ledger_book::lock_positions(&mut tx, &to_lock).await?;
        let transfer_ids: Vec<String> = accounts
            .iter()
            .filter_map(|a| a.transfer_id.clone())
            .collect();
        let transfer_states = ledger_book::latest_states(&mut tx, &transfer_ids).await?;
        let mut journal = Journal::new();
        for account in &accounts {
            set_account_state(
                &mut tx,
                account.row_id,
                SettlementState::Aborted,
                Some(reason),
                external_reference,
            )
            .await?;
            let Some(transfer_id) = account.transfer_id.as_deref() else {
                continue;
            };
            // A recorded transfer is rejected at once; a reserved one through RECEIVED_REJECT.
            let path: &[State] = match transfer_states.get(transfer_id) {
                Some(State::ReceivedPrepare) => &[State::AbortedRejected],
                Some(State::Reserved) => &[State::ReceivedReject, State::AbortedRejected],
                _ => continue,
            };
            journal.path(
                transfer_id,
                transfer_states.get(transfer_id).copied(),
                path,
                Some(reason),
            );
            if let (Some(moves), Some(hub)) = (
                settlement::abort_moves(account.net, account.state),
                hubs.get(&account.currency),
            ) {
                apply_moves(
                    &mut journal,
                    account.id,
                    *hub,
                    moves,
                    transfer_id,
                    State::AbortedRejected,
                );
            }
        }
        journal.write(&mut tx, &mut positions).await?;
        let contents: Vec<(u64,)> = sqlx::query_as(
            "SELECT settlementWindowContentId FROM settlementWindowContent WHERE settlementId = ? ORDER BY settlementWindowContentId",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        for (content,) in &contents {
            windows::set_content_state(&mut tx, *content, WindowState::Aborted, Some(reason))
                .await?;
        }
        sqlx::query(
            "UPDATE settlementContentAggregation SET currentStateId = 'ABORTED' WHERE settlementId = ?",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let windows: Vec<(u64,)> = sqlx::query_as(
            "SELECT settlementWindowId FROM settlementSettlementWindow WHERE settlementId = ? ORDER BY settlementWindowId",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let windows: Vec<u64> = windows.into_iter().map(|(w,)| w).collect();
        windows::refresh_window_states(&mut tx, &windows, Some(reason)).await?;
    }
    set_settlement_state(&mut tx, id, SettlementState::Aborted, Some(reason)).await?;
    let view = load(&mut tx, id).await?.ok_or_else(|| not_found(id))?;
    tx.commit().await?;
    Ok(view)
}
