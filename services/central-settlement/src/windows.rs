//! Settlement windows: reading them, closing one (phase one: the window goes PROCESSING and the
//! next one opens, in one transaction, then a message on `topic-deferredsettlement-close`), and
//! aggregating a closed window (phase two, by the close handler: the window's position changes
//! summed per account into contents and aggregation rows, the window CLOSED).

use std::time::Duration;

use fspiop::ErrorCode;
use ledger::settlement::{self, Model, Movement, WindowState};
use ledger::Money;
use serde_json::{json, Value};
use sqlx::{MySql, QueryBuilder};

use crate::error::{Error, Result};
use crate::Store;
use ledger_book::Tx;

/// `DATETIME(3)` as ISO-8601 UTC with milliseconds.
macro_rules! iso {
    ($column:literal) => {
        concat!(
            "CONCAT(LEFT(DATE_FORMAT(",
            $column,
            ", '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')"
        )
    };
}
pub(crate) use iso;

pub(crate) fn money(text: &str) -> Result<Money> {
    Money::parse(text).map_err(Error::Money)
}

pub(crate) fn validation(detail: impl Into<String>) -> Error {
    Error::client(ErrorCode::GenericValidationError, detail)
}

/// A window content as the API shows it.
#[derive(Debug, Clone)]
pub struct ContentView {
    pub id: u64,
    pub state: String,
    pub ledger_account_type: String,
    pub currency: String,
    pub created: String,
    pub changed: String,
    pub settlement_id: Option<u64>,
}

/// A window as the API shows it.
#[derive(Debug, Clone)]
pub struct WindowView {
    pub id: u64,
    pub state: String,
    pub reason: Option<String>,
    pub created: String,
    pub changed: String,
    pub content: Vec<ContentView>,
}

impl WindowView {
    pub fn to_json(&self) -> Value {
        json!({
            "settlementWindowId": self.id,
            "state": self.state,
            "reason": self.reason,
            "createdDate": self.created,
            "changedDate": self.changed,
            "content": self.content.iter().map(|c| json!({
                "id": c.id,
                "state": c.state,
                "ledgerAccountType": c.ledger_account_type,
                "currencyId": c.currency,
                "createdDate": c.created,
                "changedDate": c.changed,
                "settlementId": c.settlement_id,
            })).collect::<Vec<_>>(),
        })
    }
}

type WindowRow = (u64, String, Option<String>, String, String);

/// The windows with these ids, with their contents, in id order.
pub async fn windows_by_id(
    conn: &mut sqlx::MySqlConnection,
    ids: &[u64],
) -> Result<Vec<WindowView>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<MySql>::new(concat!(
        "SELECT sw.settlementWindowId, swsc.settlementWindowStateId, swsc.reason, ",
        iso!("sw.createdDate"),
        ", ",
        iso!("swsc.createdDate"),
        " FROM settlementWindow sw
         JOIN settlementWindowStateChange swsc ON swsc.settlementWindowStateChangeId = sw.currentStateChangeId
         WHERE sw.settlementWindowId IN ("
    ));
    push_ids(&mut query, ids);
    query.push(" ORDER BY sw.settlementWindowId");
    let rows: Vec<WindowRow> = query.build_query_as().fetch_all(&mut *conn).await?;
    let mut query = QueryBuilder::<MySql>::new(concat!(
        "SELECT swc.settlementWindowId, swc.settlementWindowContentId, swcsc.settlementWindowStateId, lat.name, swc.currencyId, ",
        iso!("swc.createdDate"),
        ", ",
        iso!("swcsc.createdDate"),
        ", swc.settlementId
         FROM settlementWindowContent swc
         JOIN settlementWindowContentStateChange swcsc ON swcsc.settlementWindowContentStateChangeId = swc.currentStateChangeId
         JOIN ledgerAccountType lat ON lat.ledgerAccountTypeId = swc.ledgerAccountTypeId
         WHERE swc.settlementWindowId IN ("
    ));
    push_ids(&mut query, ids);
    query.push(" ORDER BY swc.settlementWindowContentId");
    type ContentRow = (
        u64,
        u64,
        String,
        String,
        String,
        String,
        String,
        Option<u64>,
    );
    let contents: Vec<ContentRow> = query.build_query_as().fetch_all(&mut *conn).await?;
    Ok(rows
        .into_iter()
        .map(|(id, state, reason, created, changed)| WindowView {
            id,
            state,
            reason,
            created,
            changed,
            content: contents
                .iter()
                .filter(|c| c.0 == id)
                .map(|c| ContentView {
                    id: c.1,
                    state: c.2.clone(),
                    ledger_account_type: c.3.clone(),
                    currency: c.4.clone(),
                    created: c.5.clone(),
                    changed: c.6.clone(),
                    settlement_id: c.7,
                })
                .collect(),
        })
        .collect())
}

pub(crate) fn push_ids(query: &mut QueryBuilder<'_, MySql>, ids: &[u64]) {
    let mut separated = query.separated(", ");
    for id in ids {
        separated.push_bind(*id);
    }
    separated.push_unseparated(")");
}

/// One window, or 3100 "Window N does not exist" (Mojaloop answers 2001/500 for a GET of an
/// unknown window; an unknown id is the client's mistake).
pub async fn window(store: &Store, id: u64) -> Result<WindowView> {
    let mut conn = store.pool.acquire().await?;
    windows_by_id(&mut conn, &[id])
        .await?
        .pop()
        .ok_or_else(|| validation(format!("Window {id} does not exist")))
}

/// The filters of `GET /settlementWindows`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowFilter {
    pub participant_id: Option<u32>,
    pub state: Option<String>,
    pub from_date_time: Option<String>,
    pub to_date_time: Option<String>,
    pub currency: Option<String>,
}

/// An ISO-8601 date-time filter as MySQL `DATETIME(3)` text.
pub(crate) fn date_filter(name: &str, text: &str) -> Result<String> {
    let ms = fspiop::datetime::parse_iso8601_lenient(text)
        .ok_or_else(|| validation(format!("{name} {text:?} is not an ISO-8601 date-time")))?;
    Ok(ledger_book::DbTime(ms).to_string())
}

/// Windows matching the filters, newest change first.
pub async fn list(store: &Store, filter: &WindowFilter, len_max: u32) -> Result<Vec<WindowView>> {
    if filter.participant_id.is_none()
        && filter.state.is_none()
        && filter.from_date_time.is_none()
        && filter.to_date_time.is_none()
        && filter.currency.is_none()
    {
        return Err(validation(
            "Use at least one parameter: participantId, state, fromDateTime, toDateTime, currency",
        ));
    }
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT DISTINCT sw.settlementWindowId, swsc.settlementWindowStateChangeId FROM settlementWindow sw
         JOIN settlementWindowStateChange swsc ON swsc.settlementWindowStateChangeId = sw.currentStateChangeId
         WHERE 1 = 1",
    );
    if let Some(state) = &filter.state {
        let state = WindowState::parse(state)
            .ok_or_else(|| validation(format!("state {state:?} is not a window state")))?;
        query
            .push(" AND swsc.settlementWindowStateId = ")
            .push_bind(state.id());
    }
    if let Some(from) = &filter.from_date_time {
        query
            .push(" AND sw.createdDate >= ")
            .push_bind(date_filter("fromDateTime", from)?);
    }
    if let Some(to) = &filter.to_date_time {
        query
            .push(" AND sw.createdDate <= ")
            .push_bind(date_filter("toDateTime", to)?);
    }
    if filter.participant_id.is_some() || filter.currency.is_some() {
        // Windows where the participant (or the currency) has committed transfers.
        query.push(
            " AND EXISTS (SELECT 1 FROM transferFulfilment tf
               JOIN transferParticipant tp ON tp.transferId = tf.transferId
               JOIN participantCurrency pc ON pc.participantCurrencyId = tp.participantCurrencyId
               WHERE tf.settlementWindowId = sw.settlementWindowId",
        );
        if let Some(participant) = filter.participant_id {
            query
                .push(" AND pc.participantId = ")
                .push_bind(participant);
        }
        if let Some(currency) = &filter.currency {
            query
                .push(" AND pc.currencyId = ")
                .push_bind(currency.clone());
        }
        query.push(")");
    }
    query
        .push(" ORDER BY swsc.settlementWindowStateChangeId DESC LIMIT ")
        .push_bind(i64::from(len_max));
    let rows: Vec<(u64, u64)> = query.build_query_as().fetch_all(&store.pool).await?;
    if rows.is_empty() {
        return Err(validation("settlementWindows by filters were not found"));
    }
    let ids: Vec<u64> = rows.iter().map(|r| r.0).collect();
    let mut conn = store.pool.acquire().await?;
    let mut views = windows_by_id(&mut conn, &ids).await?;
    // Newest change first, as listed.
    views.sort_by_key(|v| ids.iter().position(|id| *id == v.id));
    Ok(views)
}

/// Writes a window state change and points the window at it.
pub(crate) async fn set_window_state(
    tx: &mut Tx<'_>,
    window: u64,
    state: WindowState,
    reason: Option<&str>,
) -> Result<()> {
    let change = sqlx::query(
        "INSERT INTO settlementWindowStateChange (settlementWindowId, settlementWindowStateId, reason) VALUES (?, ?, ?)",
    )
    .bind(window)
    .bind(state.id())
    .bind(reason.map(|r| r.chars().take(512).collect::<String>()))
    .execute(&mut **tx)
    .await?
    .last_insert_id();
    sqlx::query(
        "UPDATE settlementWindow SET currentStateChangeId = ? WHERE settlementWindowId = ?",
    )
    .bind(change)
    .bind(window)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes a content state change and points the content at it.
pub(crate) async fn set_content_state(
    tx: &mut Tx<'_>,
    content: u64,
    state: WindowState,
    reason: Option<&str>,
) -> Result<()> {
    let change = sqlx::query(
        "INSERT INTO settlementWindowContentStateChange (settlementWindowContentId, settlementWindowStateId, reason) VALUES (?, ?, ?)",
    )
    .bind(content)
    .bind(state.id())
    .bind(reason.map(|r| r.chars().take(512).collect::<String>()))
    .execute(&mut **tx)
    .await?
    .last_insert_id();
    sqlx::query(
        "UPDATE settlementWindowContent SET currentStateChangeId = ? WHERE settlementWindowContentId = ?",
    )
    .bind(change)
    .bind(content)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The current state of a window, locked.
async fn lock_window(tx: &mut Tx<'_>, id: u64) -> Result<Option<WindowState>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT swsc.settlementWindowStateId FROM settlementWindow sw
         JOIN settlementWindowStateChange swsc ON swsc.settlementWindowStateChangeId = sw.currentStateChangeId
         WHERE sw.settlementWindowId = ? FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.and_then(|(s,)| WindowState::parse(&s)))
}

/// Phase one of a close: window `id` goes PROCESSING and a new window opens, in one
/// transaction that holds the open-window pointer exclusively (so every transaction binding a
/// transfer to window `id` has committed before, and none can after). Returns the new window.
pub async fn close(store: &Store, id: u64, reason: &str) -> Result<u64> {
    let mut tx = store.pool.begin().await?;
    let open: Option<(u64,)> = sqlx::query_as(
        "SELECT settlementWindowId FROM settlementWindowOpen WHERE settlementWindowOpenId = 1 FOR UPDATE",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(state) = lock_window(&mut tx, id).await? else {
        return Err(validation(format!("Window {id} does not exist")));
    };
    if state != WindowState::Open || open.map(|(o,)| o) != Some(id) {
        return Err(validation(format!("Window {id} is not open")));
    }
    let used: Option<(i32,)> =
        sqlx::query_as("SELECT 1 FROM transferFulfilment WHERE settlementWindowId = ? LIMIT 1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if used.is_none() {
        return Err(validation(format!("Window {id} is empty")));
    }
    set_window_state(&mut tx, id, WindowState::Processing, Some(reason)).await?;
    let next = sqlx::query("INSERT INTO settlementWindow (reason) VALUES (?)")
        .bind(reason.chars().take(512).collect::<String>())
        .execute(&mut *tx)
        .await?
        .last_insert_id();
    set_window_state(&mut tx, next, WindowState::Open, Some(reason)).await?;
    sqlx::query(
        "UPDATE settlementWindowOpen SET settlementWindowId = ? WHERE settlementWindowOpenId = 1",
    )
    .bind(next)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(next)
}

/// The settlement models, as aggregation and settlement need them.
pub async fn models<'e>(
    executor: impl sqlx::MySqlExecutor<'e>,
) -> Result<Vec<(Model, String, bool)>> {
    type Row = (u32, u32, Option<String>, String, String, bool, String, bool);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT sm.settlementModelId, sm.ledgerAccountTypeId, sm.currencyId, g.name, d.name, sm.isActive, sm.name, sm.autoPositionReset
         FROM settlementModel sm
         JOIN settlementGranularity g ON g.settlementGranularityId = sm.settlementGranularityId
         JOIN settlementDelay d ON d.settlementDelayId = sm.settlementDelayId
         ORDER BY sm.settlementModelId",
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, account_type, currency, granularity, delay, is_active, name, reset)| {
                (
                    Model {
                        id,
                        ledger_account_type_id: account_type,
                        currency,
                        deferred_net: granularity == "NET" && delay == "DEFERRED",
                        immediate_gross: granularity == "GROSS" && delay == "IMMEDIATE",
                        is_active,
                    },
                    name,
                    reset,
                )
            },
        )
        .collect())
}

/// What aggregating a window did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aggregated {
    /// The window is now CLOSED with this many contents.
    Closed(usize),
    /// The window was not PROCESSING (already aggregated, or never closed): nothing done.
    Skipped(Option<WindowState>),
}

/// Phase two of a close: in one transaction, every position change of every transfer (and
/// currency conversion, `fxTransferFulfilment`) bound to the window is summed per account and
/// direction into contents (for account types and currencies a deferred net model settles)
/// and aggregation rows; the window becomes CLOSED.
/// Safe to run again: a window that is no longer PROCESSING is left alone.
pub async fn aggregate(store: &Store, id: u64) -> Result<Aggregated> {
    let mut tx = store.pool.begin().await?;
    let state = lock_window(&mut tx, id).await?;
    if state != Some(WindowState::Processing) {
        return Ok(Aggregated::Skipped(state));
    }
    let models: Vec<Model> = models(&mut *tx).await?.into_iter().map(|m| m.0).collect();
    type Row = (u32, u32, String, i64, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT ppc.participantCurrencyId, pc.ledgerAccountTypeId, pc.currencyId, CAST(ppc.`change` > 0 AS SIGNED) AS increase,
                CAST(SUM(ppc.`change`) AS CHAR)
         FROM (
           SELECT ppc.participantCurrencyId, ppc.`change`
           FROM transferFulfilment tf
           JOIN transferStateChange tsc ON tsc.transferId = tf.transferId
           JOIN participantPositionChange ppc ON ppc.transferStateChangeId = tsc.transferStateChangeId
           WHERE tf.settlementWindowId = ?
           UNION ALL
           SELECT ppc.participantCurrencyId, ppc.`change`
           FROM fxTransferFulfilment ff
           JOIN fxTransferStateChange fsc ON fsc.commitRequestId = ff.commitRequestId
           JOIN participantPositionChange ppc ON ppc.fxTransferStateChangeId = fsc.fxTransferStateChangeId
           WHERE ff.settlementWindowId = ?
         ) ppc
         JOIN participantCurrency pc ON pc.participantCurrencyId = ppc.participantCurrencyId
         GROUP BY ppc.participantCurrencyId, pc.ledgerAccountTypeId, pc.currencyId, increase
         ORDER BY ppc.participantCurrencyId, increase DESC",
    )
    .bind(id)
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let movements = rows
        .into_iter()
        .map(|(account, account_type, currency, increase, amount)| {
            Ok(Movement {
                account,
                account_type,
                currency,
                increase: increase != 0,
                amount: money(&amount)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let contents = settlement::aggregate(&movements, &models);
    for content in &contents {
        let content_id = sqlx::query(
            "INSERT INTO settlementWindowContent (settlementWindowId, ledgerAccountTypeId, currencyId, settlementModelId) VALUES (?, ?, ?, ?)",
        )
        .bind(id)
        .bind(content.account_type)
        .bind(&content.currency)
        .bind(content.model_id)
        .execute(&mut *tx)
        .await?
        .last_insert_id();
        set_content_state(&mut tx, content_id, WindowState::Closed, None).await?;
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO settlementContentAggregation (settlementWindowContentId, participantCurrencyId, transferParticipantRoleTypeId, ledgerEntryTypeId, amount, currentStateId) ",
        );
        query.push_values(&content.rows, |mut row, (account, role, amount)| {
            row.push_bind(content_id)
                .push_bind(*account)
                .push_bind(*role)
                // PRINCIPLE_VALUE
                .push_bind(1u32)
                .push_bind(amount.to_decimal_string())
                .push_bind(WindowState::Closed.id());
        });
        query.build().execute(&mut *tx).await?;
    }
    set_window_state(&mut tx, id, WindowState::Closed, None).await?;
    tx.commit().await?;
    Ok(Aggregated::Closed(contents.len()))
}

/// [`aggregate`] with up to `attempts_max` attempts, `delay_ms` apart (a deadlock or a lost
/// connection is worth another try; the window stays PROCESSING if every attempt fails, and
/// the sweep tries again later).
pub async fn aggregate_with_retry(
    store: &Store,
    id: u64,
    attempts_max: u32,
    delay_ms: u64,
) -> Result<Aggregated> {
    let mut attempt = 1;
    loop {
        match aggregate(store, id).await {
            Ok(done) => return Ok(done),
            Err(error) if attempt < attempts_max => {
                tracing::warn!(%error, window = id, attempt, "window aggregation failed; retrying");
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Windows left PROCESSING for at least `age_min_ms`.
pub async fn stale_processing(store: &Store, age_min_ms: u64) -> Result<Vec<u64>> {
    let rows: Vec<(u64,)> = sqlx::query_as(
        "SELECT sw.settlementWindowId FROM settlementWindow sw
         JOIN settlementWindowStateChange swsc ON swsc.settlementWindowStateChangeId = sw.currentStateChangeId
         WHERE swsc.settlementWindowStateId = 'PROCESSING'
           AND swsc.createdDate <= NOW(3) - INTERVAL ? MICROSECOND
         ORDER BY sw.settlementWindowId LIMIT 100",
    )
    .bind(age_min_ms.saturating_mul(1000))
    .fetch_all(&store.pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Recomputes the state of each window from its contents and writes it where it changed.
pub(crate) async fn refresh_window_states(
    tx: &mut Tx<'_>,
    windows: &[u64],
    reason: Option<&str>,
) -> Result<()> {
    for window in windows {
        let current = lock_window(tx, *window).await?;
        let states: Vec<(String,)> = sqlx::query_as(
            "SELECT swcsc.settlementWindowStateId FROM settlementWindowContent swc
             JOIN settlementWindowContentStateChange swcsc ON swcsc.settlementWindowContentStateChangeId = swc.currentStateChangeId
             WHERE swc.settlementWindowId = ?",
        )
        .bind(window)
        .fetch_all(&mut **tx)
        .await?;
        let states: Vec<WindowState> = states
            .iter()
            .filter_map(|(s,)| WindowState::parse(s))
            .collect();
        if let Some(state) = settlement::window_state_from_contents(&states) {
            if Some(state) != current {
                set_window_state(tx, *window, state, reason).await?;
            }
        }
    }
    Ok(())
}
