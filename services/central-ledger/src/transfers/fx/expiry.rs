//! Expiry of conversions (`fxTransferTimeout`), with their reserved dependent transfers.

#[allow(
    clippy::wildcard_imports,
    reason = "the module's shared types and imports"
)]
use super::*;

/// One sweep of expired conversions (`fxTransferTimeout`): each one still RESERVED or
/// RECEIVED_FULFIL_DEPENDENT expires with its reserved dependent transfer, every reservation
/// given back, 3303 to the initiator and the FXP (and the dependent's payer and payee). The
/// notices are kept with the expiry until delivered ([`delivered`]). Returns the notices and
/// the number of rows claimed.
pub async fn sweep(
    store: &Store,
    notifier: &Notifier,
    sweep_size_max: u32,
    now_ms: i64,
) -> Result<(Vec<Message>, usize)> {
    let mut connection = store.pool.acquire().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .execute(&mut *connection)
        .await?;
    let mut tx = sqlx::Acquire::begin(&mut *connection).await?;
    let due: Vec<(String,)> = sqlx::query_as(
        "SELECT commitRequestId FROM fxTransferTimeout WHERE expirationDate <= ? ORDER BY expirationDate LIMIT ? FOR UPDATE SKIP LOCKED",
    )
    .bind(DbTime(now_ms).to_string())
    .bind(sweep_size_max)
    .fetch_all(&mut *tx)
    .await?;
    if due.is_empty() {
        tx.commit().await?;
        return Ok((Vec::new(), 0));
    }
    let ids: Vec<String> = due.into_iter().map(|(id,)| id).collect();
    ledger_book::lock_fx_transfers(&mut tx, &ids).await?;
    let conversions = load(&mut *tx, By::CommitRequestId, &ids).await?;
    let links = dependents(&mut *tx, By::CommitRequestId, &ids).await?;
    let transfer_ids: Vec<String> = links.iter().map(|(t, _)| t.clone()).collect();
    ledger_book::lock_transfers(&mut tx, &transfer_ids).await?;
    let dependent_of = load_dependents(&mut tx, &links).await?;
    let mut delete =
        QueryBuilder::<MySql>::new("DELETE FROM fxTransferTimeout WHERE commitRequestId IN (");
    in_list(&mut delete, &ids);
    delete.build().execute(&mut *tx).await?;
    let (journal, fx_errors, transfer_errors, messages) =
        expire_all(&conversions, &dependent_of, notifier, now_ms);
    let mut positions = ledger_book::lock_positions(&mut tx, &journal.accounts()).await?;
    let state_ids = journal.write(&mut tx, &mut positions).await?;
    record_errors(&mut tx, &state_ids, &fx_errors).await?;
    record_transfer_errors(
        &mut tx,
        &state_ids,
        &transfer_errors,
        State::ReservedTimeout,
    )
    .await?;
    crate::transfers::timeout::record_notices(&mut tx, &messages).await?;
    tx.commit().await?;
    Ok((messages, ids.len()))
}

/// The expiry of each conversion of `conversions` still open (with its reserved dependent):
/// the journal, the errors and the notices.
#[allow(clippy::type_complexity, reason = "the parts of one expiry")]
pub fn expire_all(
    conversions: &[FxRow],
    dependent_of: &HashMap<String, Dependent>,
    notifier: &Notifier,
    now_ms: i64,
) -> (
    Journal,
    Vec<(String, State, u32, String)>,
    Vec<(String, u32, String)>,
    Vec<Message>,
) {
    let error = FspiopError::new(ErrorCode::TransferExpired);
    let code = u32::from(error.code.code());
    let mut journal = Journal::new();
    let mut fx_errors = Vec::new();
    let mut transfer_errors = Vec::new();
    let mut messages = Vec::new();
    for fx in conversions {
        let reserved = dependent_of
            .get(&fx.id)
            .filter(|d| d.state == State::Reserved);
        let payee_target = reserved.map_or(0, |d| d.payee_account);
        let Some(finish) =
            ledger::fx::expire(&fx.conversion(payee_target), fx.state, reserved.is_some())
        else {
            continue;
        };
        journal.fx_post(&fx.id, fx.state, &finish.fx, Some("Conversion expired"));
        fx_errors.push((
            fx.id.clone(),
            State::ReservedTimeout,
            code,
            error.description(),
        ));
        for to in [&fx.initiator, &fx.fxp] {
            messages.push(from_hub(
                notifier,
                &fx.id,
                to,
                action::FX_TIMEOUT_RESERVED,
                Body::Error(&error),
                now_ms,
            ));
        }
        if let (Some(d), Some(posting)) = (reserved, &finish.dependent) {
            journal.post(
                &d.id,
                d.state,
                posting,
                Some("Transfer expired with its conversion"),
            );
            transfer_errors.push((d.id.clone(), code, error.description()));
            let mut message = notifier.from_hub(
                &d.id,
                &d.payer,
                action::TIMEOUT_RESERVED,
                Body::Error(&error),
                &uuid::Uuid::new_v4().to_string(),
                now_ms,
            );
            message.from = d.payee.clone();
            message.content.context = Some(json!({ "payer": d.payer, "payee": d.payee }));
            messages.push(message);
        }
    }
    (journal, fx_errors, transfer_errors, messages)
}

/// The earliest conversion expiration still watched.
pub async fn next_expiration_ms(store: &Store) -> Result<Option<i64>> {
    let (next,): (Option<i64>,) = sqlx::query_as(
        "SELECT CAST(ROUND(UNIX_TIMESTAMP(MIN(expirationDate)) * 1000) AS SIGNED) FROM fxTransferTimeout",
    )
    .fetch_one(&store.pool)
    .await?;
    Ok(next)
}
