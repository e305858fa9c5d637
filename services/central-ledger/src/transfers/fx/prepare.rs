//! `fx-prepare`: a conversion validated, recorded and reserved on the initiator's source
//! position, checked exactly as prepares are.

#[allow(
    clippy::wildcard_imports,
    reason = "the module's shared types and imports"
)]
use super::*;

/// One `fx-prepare` message.
#[derive(Debug, Clone)]
pub struct FxPrepare {
    pub message: Message,
    pub body: FxTransfersPostRequest,
    pub hash: String,
    pub source: String,
}

/// Parses an `fx-prepare` message; the message and why, when it is not usable.
pub fn parse_prepare(
    message: Message,
) -> std::result::Result<FxPrepare, Box<(Message, FspiopError)>> {
    let body = match body_of(&message) {
        Ok(body) => body,
        Err(error) => return Err(Box::new((message, error))),
    };
    let hash = body_hash(&body);
    match fspiop::types::from_value::<FxTransfersPostRequest>(body, UnknownFields::Allow) {
        Ok(body) => {
            let source = header(&message, "fspiop-source", &message.from);
            Ok(FxPrepare {
                message,
                body,
                hash,
                source,
            })
        }
        Err(error) => Err(Box::new((message, error))),
    }
}

/// An fx prepare that passed validation.
#[derive(Debug, Clone)]
struct ValidFx {
    index: usize,
    determining_transfer_id: String,
    source_amount: Money,
    target_amount: Money,
    expiration_ms: i64,
    initiator_id: u32,
    fxp_id: u32,
    initiator_source: u32,
    initiator_settlement: Option<u32>,
    fxp_source: u32,
    fxp_target: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    Valid,
    Invalid(String),
    Resend,
    Modified,
    InBatchDuplicate { modified: bool },
}

/// What an fx prepare batch came to.
#[derive(Debug, Default)]
pub struct Outcome {
    pub messages: Vec<Message>,
    pub reserved: usize,
    pub rejected: usize,
    pub invalid: usize,
    pub duplicates: usize,
}

fn amount(text: &str) -> std::result::Result<Money, String> {
    Money::parse(text).map_err(|e| match e {
        ledger::MoneyError::TooManyDecimals(_) => {
            format!("Amount {text} exceeds allowed scale of 4")
        }
        _ => format!("Amount {text} exceeds allowed precision of 18"),
    })
}

/// Mojaloop's fx prepare validations in its order, then ours; first failure wins.
#[allow(clippy::too_many_arguments, reason = "the prefetched reads of a batch")]
fn validate(
    incoming: &FxPrepare,
    participants: &HashMap<String, ParticipantRow>,
    existing_transfers: &HashSet<String>,
    live: &HashMap<String, String>,
    on_us_allowed: bool,
    now_ms: i64,
    index: usize,
) -> std::result::Result<ValidFx, String> {
    let b = &incoming.body;
    if incoming.source != b.initiating_fsp {
        return Err("FSPIOP-Source header should match initiatingFsp".into());
    }
    let source_amount = amount(&b.source_amount.amount)?;
    let target_amount = amount(&b.target_amount.amount)?;
    let party = |name: &str| -> std::result::Result<&ParticipantRow, String> {
        let p = participants
            .get(name)
            .ok_or_else(|| format!("Participant {name} not found"))?;
        if p.is_active {
            Ok(p)
        } else {
            Err(format!("Participant {name} is inactive"))
        }
    };
    let initiator = party(&b.initiating_fsp)?;
    let fxp = party(&b.counter_party_fsp)?;
    if !fspiop::ilp::is_canonical_32(&b.condition) {
        return Err("Condition validation failed".into());
    }
    let expiration_ms = b
        .expiration
        .as_deref()
        .and_then(fspiop::datetime::parse_date_time)
        .ok_or_else(|| "Expiration is required for conditional transfer".to_string())?;
    if expiration_ms < now_ms {
        return Err(format!(
            "Expiration date {} is already in the past",
            fspiop::datetime::format_date_time(expiration_ms)
        ));
    }
    if !on_us_allowed && b.initiating_fsp.eq_ignore_ascii_case(&b.counter_party_fsp) {
        return Err("initiatingFsp and counterPartyFsp should be different".into());
    }
    let position = |p: &ParticipantRow, currency: &str| -> std::result::Result<u32, String> {
        let account = p
            .account(currency, "POSITION")
            .ok_or_else(|| format!("Participant {} {currency} account not found", p.name))?;
        if account.is_active {
            Ok(account.id)
        } else {
            Err(format!(
                "Participant {} {currency} account is inactive",
                p.name
            ))
        }
    };
    let (source, target) = (&b.source_amount.currency, &b.target_amount.currency);
    let initiator_source = position(initiator, source)?;
    let fxp_source = position(fxp, source)?;
    let fxp_target = position(fxp, target)?;
    // Ours, after Mojaloop's reasons.
    if source == target {
        return Err(format!(
            "sourceAmount and targetAmount are both in {source}: nothing to convert"
        ));
    }
    let determining = b.determining_transfer_id.clone().ok_or_else(|| {
        "determiningTransferId is required: this switch supports payer conversion only".to_string()
    })?;
    if existing_transfers.contains(&determining) {
        return Err(format!(
            "transfer {determining} already exists: payee-side conversion is not supported"
        ));
    }
    if let Some(other) = live.get(&determining) {
        return Err(format!(
            "transfer {determining} already has conversion {other} in progress"
        ));
    }
    Ok(ValidFx {
        index,
        determining_transfer_id: determining,
        source_amount,
        target_amount,
        expiration_ms,
        initiator_id: initiator.id,
        fxp_id: fxp.id,
        initiator_source,
        initiator_settlement: initiator.account(source, "SETTLEMENT").map(|a| a.id),
        fxp_source,
        fxp_target,
    })
}

/// Handles a batch of `fx-prepare` messages in one transaction; returns the notifications.
pub async fn prepare(
    store: &Store,
    notifier: &Notifier,
    batch: &[FxPrepare],
    on_us_allowed: bool,
    now_ms: i64,
) -> Result<Outcome> {
    let mut tx = store.pool.begin().await?;
    let ids: Vec<String> = batch
        .iter()
        .map(|i| i.body.commit_request_id.clone())
        .collect();
    let mut existing: HashMap<String, String> = HashMap::new();
    {
        let mut query = QueryBuilder::<MySql>::new(
            "SELECT commitRequestId, hash FROM fxTransferDuplicateCheck WHERE commitRequestId IN (",
        );
        in_list(&mut query, &ids);
        let rows: Vec<(String, String)> = query.build_query_as().fetch_all(&mut *tx).await?;
        existing.extend(rows);
    }
    let names: Vec<String> = batch
        .iter()
        .flat_map(|i| {
            [
                i.body.initiating_fsp.clone(),
                i.body.counter_party_fsp.clone(),
            ]
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let participants = load_participants(&mut tx, &names).await?;
    let determining: Vec<String> = batch
        .iter()
        .filter_map(|i| i.body.determining_transfer_id.clone())
        .collect();
    let mut existing_transfers = HashSet::new();
    if !determining.is_empty() {
        let mut query =
            QueryBuilder::<MySql>::new("SELECT transferId FROM transfer WHERE transferId IN (");
        in_list(&mut query, &determining);
        let rows: Vec<(String,)> = query.build_query_as().fetch_all(&mut *tx).await?;
        existing_transfers.extend(rows.into_iter().map(|(id,)| id));
    }
    let mut live: HashMap<String, String> = load(&mut *tx, By::DeterminingTransferId, &determining)
        .await?
        .into_iter()
        .filter(|fx| !fx.state.is_final())
        .map(|fx| (fx.determining_transfer_id, fx.id))
        .collect();

    // Classify (pure).
    let mut first_in_batch: HashMap<&str, &str> = HashMap::new();
    let mut fates = Vec::with_capacity(batch.len());
    let mut valid: Vec<ValidFx> = Vec::new();
    for (index, incoming) in batch.iter().enumerate() {
        let id = incoming.body.commit_request_id.as_str();
        let fate = if let Some(hash) = existing.get(id) {
            if *hash == incoming.hash {
                Fate::Resend
            } else {
                Fate::Modified
            }
        } else if let Some(first) = first_in_batch.get(id) {
            Fate::InBatchDuplicate {
                modified: *first != incoming.hash,
            }
        } else {
            first_in_batch.insert(id, incoming.hash.as_str());
            match validate(
                incoming,
                &participants,
                &existing_transfers,
                &live,
                on_us_allowed,
                now_ms,
                index,
            ) {
                Ok(v) => {
                    live.insert(v.determining_transfer_id.clone(), id.to_string());
                    valid.push(v);
                    Fate::Valid
                }
                Err(reason) => Fate::Invalid(reason),
            }
        };
        fates.push(fate);
    }
    let id_of = |index: usize| {
        batch
            .get(index)
            .map(|b| b.body.commit_request_id.clone())
            .unwrap_or_default()
    };

    // Record the valid ones.
    if !valid.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO fxTransferDuplicateCheck (commitRequestId, hash) ",
        );
        query.push_values(&valid, |mut row, v| {
            let hash = batch
                .get(v.index)
                .map(|b| b.hash.clone())
                .unwrap_or_default();
            row.push_bind(id_of(v.index)).push_bind(hash);
        });
        query.build().execute(&mut *tx).await?;
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO fxTransfer (commitRequestId, determiningTransferId, sourceAmount, sourceCurrency, targetAmount, targetCurrency, ilpCondition, expirationDate) ",
        );
        query.push_values(&valid, |mut row, v| {
            let b = batch.get(v.index).map(|b| &b.body);
            row.push_bind(id_of(v.index))
                .push_bind(v.determining_transfer_id.clone())
                .push_bind(v.source_amount.to_decimal_string())
                .push_bind(
                    b.map(|b| b.source_amount.currency.clone())
                        .unwrap_or_default(),
                )
                .push_bind(v.target_amount.to_decimal_string())
                .push_bind(
                    b.map(|b| b.target_amount.currency.clone())
                        .unwrap_or_default(),
                )
                .push_bind(b.map(|b| b.condition.clone()).unwrap_or_default())
                .push_bind(db_datetime(v.expiration_ms));
        });
        query.build().execute(&mut *tx).await?;
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO fxTransferParticipant (commitRequestId, participantId, participantCurrencyId, transferParticipantRoleTypeId, ledgerEntryTypeId, fxParticipantCurrencyTypeId, amount) ",
        );
        let rows: Vec<(String, u32, u32, u32, Option<u32>, Money)> = valid
            .iter()
            .flat_map(|v| {
                let id = id_of(v.index);
                [
                    (
                        id.clone(),
                        v.initiator_id,
                        v.initiator_source,
                        ROLE_INITIATING_FSP,
                        None,
                        v.source_amount,
                    ),
                    (
                        id.clone(),
                        v.fxp_id,
                        v.fxp_source,
                        ROLE_COUNTER_PARTY_FSP,
                        Some(FX_SOURCE),
                        v.source_amount.negate(),
                    ),
                    (
                        id,
                        v.fxp_id,
                        v.fxp_target,
                        ROLE_COUNTER_PARTY_FSP,
                        Some(FX_TARGET),
                        v.target_amount.negate(),
                    ),
                ]
            })
            .collect();
        query.push_values(
            &rows,
            |mut row, (id, participant, account, role, kind, amount)| {
                row.push_bind(id.clone())
                    .push_bind(*participant)
                    .push_bind(*account)
                    .push_bind(*role)
                    .push_bind(ENTRY_PRINCIPLE_VALUE)
                    .push_bind(*kind)
                    .push_bind(amount.to_decimal_string());
            },
        );
        query.build().execute(&mut *tx).await?;
    }

    // Reserve: the initiators' source positions, checked exactly as prepares are.
    let reservations: Vec<(BatchPrepare, Option<u32>)> = valid
        .iter()
        .map(|v| {
            let conversion = Conversion {
                source_amount: v.source_amount,
                target_amount: v.target_amount,
                initiator_source: v.initiator_source,
                fxp_source: v.fxp_source,
                fxp_target: v.fxp_target,
                payee_target: 0,
            };
            (conversion.fx_reservation(), v.initiator_settlement)
        })
        .collect();
    let (mut positions, decisions) = lock_and_decide(&mut tx, &reservations, &[]).await?;
    let mut journal = Journal::new();
    let mut errors = Vec::new();
    for (v, outcome) in valid.iter().zip(&decisions.outcomes) {
        let id = id_of(v.index);
        journal.fx_transition(&id, None, State::ReceivedPrepare, None);
        match outcome {
            Ok(_) => {
                journal.fx_transition(&id, Some(State::ReceivedPrepare), State::Reserved, None)
            }
            Err(rejection) => {
                let error = rejection_error(*rejection);
                journal.fx_transition(
                    &id,
                    Some(State::ReceivedPrepare),
                    State::AbortedRejected,
                    Some(&error.description()),
                );
                errors.push((
                    id,
                    State::AbortedRejected,
                    error_code_of(&error),
                    error.description(),
                ));
            }
        }
    }
    for (k, account, change) in &decisions.moves {
        let v = valid.get(*k).ok_or_else(|| {
            ledger_book::broken(format!("move for fx prepare {k} of {}", valid.len()))
        })?;
        journal.fx_move_position(*account, *change, &id_of(v.index), State::Reserved);
    }
    let state_ids = journal.write(&mut tx, &mut positions).await?;
    record_errors(&mut tx, &state_ids, &errors).await?;
    let reserved: Vec<&ValidFx> = valid
        .iter()
        .zip(&decisions.outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(v, _)| v)
        .collect();
    if !reserved.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO fxTransferTimeout (commitRequestId, expirationDate) ",
        );
        query.push_values(&reserved, |mut row, v| {
            row.push_bind(id_of(v.index))
                .push_bind(db_datetime(v.expiration_ms));
        });
        query.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;

    // Notify.
    let decided: HashMap<usize, std::result::Result<Money, PrepareRejection>> = valid
        .iter()
        .zip(&decisions.outcomes)
        .map(|(v, o)| (v.index, *o))
        .collect();
    let resent: Vec<String> = batch
        .iter()
        .zip(&fates)
        .filter(|(_, f)| **f == Fate::Resend)
        .map(|(b, _)| b.body.commit_request_id.clone())
        .collect();
    let latest = ledger_book::latest_fx_many(&store.pool, &resent).await?;
    let mut outcome = Outcome::default();
    for (index, (incoming, fate)) in batch.iter().zip(&fates).enumerate() {
        let id = incoming.body.commit_request_id.as_str();
        let answer = |action: &str, body: Body<'_>| {
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
        match fate {
            Fate::Valid => match decided.get(&index) {
                Some(Ok(_)) => {
                    outcome.reserved += 1;
                    outcome.messages.push(notifier.forward(
                        &incoming.message,
                        action::FX_PREPARE,
                        &uuid::Uuid::new_v4().to_string(),
                        now_ms,
                    ));
                }
                Some(Err(rejection)) => {
                    outcome.rejected += 1;
                    let error = rejection_error(*rejection);
                    outcome
                        .messages
                        .push(answer(action::FX_PREPARE, Body::Error(&error)));
                }
                None => {}
            },
            Fate::Invalid(reason) => {
                outcome.invalid += 1;
                let error =
                    FspiopError::with_detail(ErrorCode::GenericValidationError, reason.clone());
                outcome
                    .messages
                    .push(answer(action::FX_PREPARE, Body::Error(&error)));
            }
            Fate::Modified | Fate::InBatchDuplicate { modified: true } => {
                outcome.duplicates += 1;
                let error = FspiopError::with_detail(
                    ErrorCode::ModifiedRequest,
                    format!("fxTransfer {id} was sent before with different content"),
                );
                outcome
                    .messages
                    .push(answer(action::FX_PREPARE_DUPLICATE, Body::Error(&error)));
            }
            Fate::Resend => {
                outcome.duplicates += 1;
                // Answered with the conversion's state once it is past RECEIVED; one still
                // RESERVED is also sent to the FXP again (after a crash between the commit
                // and the notification the FXP never had it).
                if let Some(latest) = latest.get(id) {
                    if latest.state != State::ReceivedPrepare {
                        let payload = latest.fx_payload();
                        outcome.messages.push(answer(
                            action::FX_PREPARE_DUPLICATE,
                            Body::Payload(&payload),
                        ));
                    }
                    if latest.state == State::Reserved {
                        outcome.messages.push(notifier.forward(
                            &incoming.message,
                            action::FX_PREPARE,
                            &uuid::Uuid::new_v4().to_string(),
                            now_ms,
                        ));
                    }
                }
            }
            Fate::InBatchDuplicate { modified: false } => outcome.duplicates += 1,
        }
    }
    Ok(outcome)
}
