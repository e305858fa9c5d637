//! The FXP's callbacks (`fx-reserve`, `fx-commit`, `fx-reject`, `fx-abort`): only the
//! conversion's FXP, duplicates, the fulfilment, then RECEIVED_FULFIL_DEPENDENT or the abort
//! of the conversion (and of its reserved dependent transfer).

#[allow(
    clippy::wildcard_imports,
    reason = "the module's shared types and imports"
)]
use super::*;

/// What an FXP's callback asks for.
#[derive(Debug, Clone, PartialEq)]
enum Request {
    /// `PUT` with RESERVED, COMMITTED or RECEIVED: the FXP's fulfilment.
    Fulfil(FxTransfersIdPutResponse),
    /// `PUT` with ABORTED: the FXP refuses (treated as an error, 5100).
    Reject,
    /// `PUT …/error`.
    Abort(ErrorInformationObject),
}

/// One fx fulfil-topic message, parsed.
#[derive(Debug, Clone)]
pub struct FxFulfil {
    message: Message,
    pub id: String,
    pub source: String,
    destination: String,
    request: std::result::Result<Request, FspiopError>,
    hash: String,
}

/// Whether a fulfil-topic action is a conversion's.
pub fn is_fx_action(action: &str) -> bool {
    action.starts_with("fx-")
}

/// Parses an `fx-reserve` / `fx-commit` / `fx-reject` / `fx-abort` message.
pub fn parse_fulfil(message: Message) -> FxFulfil {
    let id = message
        .content
        .uri_params
        .as_ref()
        .map(|u| u.id.clone())
        .unwrap_or_else(|| message.id.clone());
    let source = header(&message, "fspiop-source", &message.from);
    let destination = header(&message, "fspiop-destination", &message.to);
    let body = body_of(&message);
    let hash = body.as_ref().map(body_hash).unwrap_or_default();
    let request = body.and_then(|body| match message.metadata.event.action.as_str() {
        action::FX_ABORT => {
            fspiop::types::from_value::<ErrorInformationObject>(body, UnknownFields::Allow)
                .map(Request::Abort)
        }
        action::FX_REJECT => Ok(Request::Reject),
        action::FX_RESERVE | action::FX_COMMIT => {
            fspiop::types::from_value::<FxTransfersIdPutResponse>(body, UnknownFields::Allow)
                .map(Request::Fulfil)
        }
        other => Err(FspiopError::with_detail(
            ErrorCode::InternalServerError,
            format!("unknown fx fulfil action {other}"),
        )),
    });
    FxFulfil {
        message,
        id,
        source,
        destination,
        request,
        hash,
    }
}

/// What an fx fulfil batch came to.
#[derive(Debug, Default)]
pub struct FulfilOutcome {
    pub messages: Vec<Message>,
    pub fulfilled: usize,
    pub aborted: usize,
    pub refused: usize,
}

#[derive(Default)]
struct Writes {
    journal: Journal,
    fulfil_hashes: Vec<(String, String)>,
    error_hashes: Vec<(String, String)>,
    fulfilments: Vec<(String, String, i64)>,
    fx_errors: Vec<(String, State, u32, String)>,
    transfer_errors: Vec<(String, u32, String)>,
}

/// Handles a batch of FXP callbacks in one transaction; returns the notifications.
pub async fn fulfil(
    store: &Store,
    notifier: &Notifier,
    batch: &[FxFulfil],
    now_ms: i64,
) -> Result<FulfilOutcome> {
    let mut ids: Vec<String> = batch.iter().map(|i| i.id.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut tx = store.pool.begin().await?;
    // First: the conversions' locks (every writer of a dependent transfer holds them too, so
    // the reads below, whose snapshot starts after them, are current).
    ledger_book::lock_fx_transfers(&mut tx, &ids).await?;
    let mut conversions: HashMap<String, FxRow> = load(&mut *tx, By::CommitRequestId, &ids)
        .await?
        .into_iter()
        .map(|fx| (fx.id.clone(), fx))
        .collect();
    let links = dependents(&mut *tx, By::CommitRequestId, &ids).await?;
    let transfer_ids: Vec<String> = links.iter().map(|(t, _)| t.clone()).collect();
    ledger_book::lock_transfers(&mut tx, &transfer_ids).await?;
    let mut dependent_of = load_dependents(&mut tx, &links).await?;
    let mut fulfil_hashes =
        stored_hashes(&mut tx, "fxTransferFulfilmentDuplicateCheck", &ids).await?;
    let mut error_hashes = stored_hashes(&mut tx, "fxTransferErrorDuplicateCheck", &ids).await?;
    let finals: Vec<String> = conversions
        .values()
        .filter(|fx| fx.state.is_final() || fx.state == State::ReceivedFulfilDependent)
        .map(|fx| fx.id.clone())
        .collect();
    let answered: HashMap<String, Value> = ledger_book::latest_fx_many(&mut *tx, &finals)
        .await?
        .into_iter()
        .map(|(id, latest)| (id, latest.fx_payload()))
        .collect();

    let mut writes = Writes::default();
    let mut outcome = FulfilOutcome::default();
    for incoming in batch {
        decide_fulfil(
            incoming,
            &mut conversions,
            &mut dependent_of,
            &mut fulfil_hashes,
            &mut error_hashes,
            &answered,
            &mut writes,
            &mut outcome,
            notifier,
            now_ms,
        );
    }
    flush(&mut tx, writes).await?;
    tx.commit().await?;
    Ok(outcome)
}

async fn stored_hashes(
    tx: &mut Tx<'_>,
    table: &str,
    ids: &[String],
) -> Result<HashMap<String, String>> {
    let mut query = QueryBuilder::<MySql>::new(format!(
        "SELECT commitRequestId, hash FROM {table} WHERE commitRequestId IN ("
    ));
    in_list(&mut query, ids);
    let rows: Vec<(String, String)> = query.build_query_as().fetch_all(&mut **tx).await?;
    Ok(rows.into_iter().collect())
}

/// Why a conversion is aborted, which decides who is told what.
#[derive(Clone, Copy)]
enum Cause<'a> {
    /// The FXP's `PUT …/error`: relayed to the initiator.
    FxpError(&'a Message),
    /// The FXP's `PUT` with `conversionState: ABORTED`: the initiator is told by the hub (the
    /// FXP knows).
    FxpRefusal,
    /// The hub refused the FXP's answer (a wrong fulfilment): both are told by the hub.
    Hub,
}

/// Records the abort of a conversion (and of its reserved dependent transfer) and the
/// messages that tell everyone (by [`Cause`]): the initiator, the FXP when it did not abort
/// itself, and for a reserved dependent transfer its payer and payee.
#[allow(clippy::too_many_arguments, reason = "the parts of one abort")]
fn abort_conversion(
    fx: &FxRow,
    dependent: Option<&Dependent>,
    error: &FspiopError,
    cause: Cause<'_>,
    writes: &mut Writes,
    messages: &mut Vec<Message>,
    notifier: &Notifier,
    now_ms: i64,
) -> bool {
    let reserved = dependent.filter(|d| d.state == State::Reserved);
    let payee_target = reserved.map_or(0, |d| d.payee_account);
    let Some(finish) =
        ledger::fx::abort(&fx.conversion(payee_target), fx.state, reserved.is_some())
    else {
        return false;
    };
    let description = error.description();
    let code = error_code_of(error);
    writes
        .journal
        .fx_post(&fx.id, fx.state, &finish.fx, Some(&description));
    writes.fx_errors.push((
        fx.id.clone(),
        State::ReceivedError,
        code,
        description.clone(),
    ));
    match cause {
        Cause::FxpError(original) => {
            let mut message = notifier.forward(
                original,
                action::FX_ABORT,
                &uuid::Uuid::new_v4().to_string(),
                now_ms,
            );
            message.to = fx.initiator.clone();
            messages.push(message);
        }
        Cause::FxpRefusal => messages.push(from_hub(
            notifier,
            &fx.id,
            &fx.initiator,
            action::FX_ABORT_VALIDATION,
            Body::Error(error),
            now_ms,
        )),
        Cause::Hub => {
            for to in [&fx.initiator, &fx.fxp] {
                messages.push(from_hub(
                    notifier,
                    &fx.id,
                    to,
                    action::FX_ABORT_VALIDATION,
                    Body::Error(error),
                    now_ms,
                ));
            }
        }
    }
    if let (Some(d), Some(posting)) = (reserved, &finish.dependent) {
        writes
            .journal
            .post(&d.id, d.state, posting, Some(&description));
        writes
            .transfer_errors
            .push((d.id.clone(), code, description.clone()));
        for to in [&d.payer, &d.payee] {
            messages.push(notifier.from_hub(
                &d.id,
                to,
                action::ABORT_VALIDATION,
                Body::Error(error),
                &uuid::Uuid::new_v4().to_string(),
                now_ms,
            ));
        }
    }
    true
}

#[allow(
    clippy::too_many_arguments,
    reason = "the batch's state, decided in order"
)]
fn decide_fulfil(
    incoming: &FxFulfil,
    conversions: &mut HashMap<String, FxRow>,
    dependent_of: &mut HashMap<String, Dependent>,
    fulfil_hashes: &mut HashMap<String, String>,
    error_hashes: &mut HashMap<String, String>,
    answered: &HashMap<String, Value>,
    writes: &mut Writes,
    outcome: &mut FulfilOutcome,
    notifier: &Notifier,
    now_ms: i64,
) {
    let id = incoming.id.as_str();
    let tell = |action: &str, body: Body<'_>| {
        notifier.answer(
            &incoming.message,
            id,
            &incoming.source,
            action,
            body,
            &uuid::Uuid::new_v4().to_string(),
            now_ms,
        )
    };
    let request = match &incoming.request {
        Ok(request) => request,
        Err(error) => {
            outcome.refused += 1;
            outcome
                .messages
                .push(tell(action::FX_RESERVE, Body::Error(error)));
            return;
        }
    };
    let Some(fx) = conversions.get(id).cloned() else {
        outcome.refused += 1;
        let error = FspiopError::with_detail(
            ErrorCode::TransferIdNotFound,
            format!("fxTransfer {id} not found"),
        );
        outcome
            .messages
            .push(tell(action::FX_RESERVE, Body::Error(&error)));
        return;
    };
    let is_abort = !matches!(request, Request::Fulfil(_));
    // Only the conversion's FXP may answer it, and only to its initiator: anyone else is
    // refused and nothing changes (Mojaloop aborts the conversion first).
    let destination_ok =
        incoming.destination.is_empty() || incoming.destination.eq_ignore_ascii_case(&fx.initiator);
    if !incoming.source.eq_ignore_ascii_case(&fx.fxp) || !destination_ok {
        outcome.refused += 1;
        let which = if incoming.source.eq_ignore_ascii_case(&fx.fxp) {
            "fspiop-destination does not match initiatingFsp"
        } else {
            "fspiop-source does not match counterPartyFsp"
        };
        let error = FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            format!("{which} on the fxTransfer callback"),
        );
        let action = if is_abort {
            action::FX_ABORT
        } else {
            action::FX_RESERVE
        };
        outcome.messages.push(tell(action, Body::Error(&error)));
        return;
    }
    let (hashes, new_hashes, duplicate_action) = if is_abort {
        (
            error_hashes,
            &mut writes.error_hashes,
            action::FX_ABORT_DUPLICATE,
        )
    } else {
        (
            fulfil_hashes,
            &mut writes.fulfil_hashes,
            action::FX_FULFIL_DUPLICATE,
        )
    };
    if let Some(stored) = hashes.get(id) {
        if *stored != incoming.hash {
            let error = FspiopError::with_detail(
                ErrorCode::ModifiedRequest,
                format!("fxTransfer {id} callback was sent before with different content"),
            );
            outcome
                .messages
                .push(tell(duplicate_action, Body::Error(&error)));
        } else if let Some(payload) = answered.get(id) {
            outcome
                .messages
                .push(tell(duplicate_action, Body::Payload(payload)));
            // The initiator hears of the fulfilment again: after a crash between the commit
            // and the notification this is the only way it does.
            if fx.state == State::ReceivedFulfilDependent && !is_abort {
                let mut message = notifier.forward(
                    &incoming.message,
                    action::FX_RESERVE,
                    &uuid::Uuid::new_v4().to_string(),
                    now_ms,
                );
                message.to = fx.initiator.clone();
                outcome.messages.push(message);
            }
        }
        return;
    }
    hashes.insert(id.to_string(), incoming.hash.clone());
    new_hashes.push((id.to_string(), incoming.hash.clone()));
    let dependent = dependent_of.get(id).cloned();
    let mut aborted = |error: &FspiopError,
                       cause: Cause<'_>,
                       writes: &mut Writes,
                       outcome: &mut FulfilOutcome| {
        if abort_conversion(
            &fx,
            dependent.as_ref(),
            error,
            cause,
            writes,
            &mut outcome.messages,
            notifier,
            now_ms,
        ) {
            outcome.aborted += 1;
            if let Some(c) = conversions.get_mut(id) {
                c.state = State::AbortedError;
            }
            if let Some(d) = dependent_of.get_mut(id) {
                if d.state == State::Reserved {
                    d.state = State::AbortedError;
                }
            }
            true
        } else {
            false
        }
    };
    match request {
        Request::Fulfil(put) => {
            if fx.state != State::Reserved {
                outcome.refused += 1;
                let error = FspiopError::with_detail(
                    ErrorCode::GenericValidationError,
                    "non-RESERVED conversion state",
                );
                outcome
                    .messages
                    .push(tell(action::FX_RESERVE, Body::Error(&error)));
                return;
            }
            let fulfilment = put
                .fulfilment
                .as_deref()
                .filter(|f| fspiop::ilp::fulfilment_matches(f, &fx.condition));
            let Some(fulfilment) = fulfilment else {
                // A missing or wrong fulfilment aborts the conversion: the initiator gets its
                // reservation back and both sides are told.
                let error = FspiopError::with_detail(
                    ErrorCode::GenericValidationError,
                    "invalid fulfilment",
                );
                aborted(&error, Cause::Hub, writes, outcome);
                return;
            };
            if fx.expiration_ms <= now_ms {
                outcome.refused += 1;
                let error = FspiopError::new(ErrorCode::TransferExpired);
                outcome
                    .messages
                    .push(tell(action::FX_RESERVE, Body::Error(&error)));
                return;
            }
            let completed_ms = put
                .completed_timestamp
                .as_deref()
                .and_then(fspiop::datetime::parse_date_time)
                .unwrap_or(now_ms);
            writes
                .journal
                .fx_post(id, fx.state, &ledger::fx::fx_fulfil(), None);
            writes
                .fulfilments
                .push((id.to_string(), fulfilment.to_string(), completed_ms));
            if let Some(c) = conversions.get_mut(id) {
                c.state = State::ReceivedFulfilDependent;
            }
            outcome.fulfilled += 1;
            let mut message = notifier.forward(
                &incoming.message,
                action::FX_RESERVE,
                &uuid::Uuid::new_v4().to_string(),
                now_ms,
            );
            message.to = fx.initiator.clone();
            outcome.messages.push(message);
        }
        Request::Reject | Request::Abort(_) => {
            let error = match request {
                Request::Abort(object) => FspiopError::received(object.error_information.clone())
                    .unwrap_or_else(|| {
                        FspiopError::with_detail(
                            ErrorCode::GenericValidationError,
                            "API specification undefined errorCode",
                        )
                    }),
                _ => FspiopError::with_detail(
                    ErrorCode::GenericPayeeRejection,
                    "the FXP answered conversionState ABORTED",
                ),
            };
            let cause = match request {
                Request::Abort(_) => Cause::FxpError(&incoming.message),
                _ => Cause::FxpRefusal,
            };
            if !aborted(&error, cause, writes, outcome) {
                outcome.refused += 1;
                let error = FspiopError::with_detail(
                    ErrorCode::GenericValidationError,
                    "conversion is already final",
                );
                outcome
                    .messages
                    .push(tell(action::FX_ABORT, Body::Error(&error)));
            }
        }
    }
}

async fn flush(tx: &mut Tx<'_>, writes: Writes) -> Result<()> {
    for (table, rows) in [
        ("fxTransferFulfilmentDuplicateCheck", &writes.fulfil_hashes),
        ("fxTransferErrorDuplicateCheck", &writes.error_hashes),
    ] {
        if !rows.is_empty() {
            let mut query =
                QueryBuilder::<MySql>::new(format!("INSERT INTO {table} (commitRequestId, hash) "));
            query.push_values(rows, |mut row, (id, hash)| {
                row.push_bind(id.clone()).push_bind(hash.clone());
            });
            query.build().execute(&mut **tx).await?;
        }
    }
    if !writes.fulfilments.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO fxTransferFulfilment (commitRequestId, ilpFulfilment, completedDate, isValid, settlementWindowId) ",
        );
        query.push_values(
            &writes.fulfilments,
            |mut row, (id, fulfilment, completed)| {
                row.push_bind(id.clone())
                    .push_bind(fulfilment.clone())
                    .push_bind(DbTime(*completed).to_string())
                    .push_bind(1)
                    .push_bind(Option::<u64>::None);
            },
        );
        query.build().execute(&mut **tx).await?;
    }
    if writes.journal.is_empty() {
        return Ok(());
    }
    let mut positions = ledger_book::lock_positions(tx, &writes.journal.accounts()).await?;
    let state_ids = writes.journal.write(tx, &mut positions).await?;
    record_errors(tx, &state_ids, &writes.fx_errors).await?;
    record_transfer_errors(
        tx,
        &state_ids,
        &writes.transfer_errors,
        State::ReceivedError,
    )
    .await
}
