//! The get handler: answers `GET /transfers/{id}` from `topic-transfer-get` with the
//! transfer's state, to a requester that is one of its participants.

use fspiop::envelope::Message;
use fspiop::{ErrorCode, FspiopError};
use ledger::transfer::Enumeration;
use serde_json::{json, Value};

use super::notify::{Body, Notifier};
use crate::error::Result;
use crate::store::Store;

/// The state object of a transfer (`PUT /transfers/{id}` shape), or the error for `requester`.
pub async fn answer(
    store: &Store,
    transfer_id: &str,
    requester: &str,
) -> Result<std::result::Result<Value, FspiopError>> {
    let parties: Vec<(String,)> = sqlx::query_as(
        "SELECT p.name FROM transferParticipant tp STRAIGHT_JOIN participant p ON p.participantId = tp.participantId WHERE tp.transferId = ?",
    )
    .bind(transfer_id)
    .fetch_all(&store.pool)
    .await?;
    if parties.is_empty() {
        return Ok(Err(FspiopError::with_detail(
            ErrorCode::TransferIdNotFound,
            format!("transfer {transfer_id} not found"),
        )));
    }
    if !parties
        .iter()
        .any(|(name,)| name.eq_ignore_ascii_case(requester))
    {
        return Ok(Err(FspiopError::with_detail(
            ErrorCode::GenericClientError,
            format!("{requester} is not a participant of transfer {transfer_id}"),
        )));
    }
    let Some(latest) = ledger_book::latest(&store.pool, transfer_id).await? else {
        return Ok(Err(FspiopError::with_detail(
            ErrorCode::TransferIdNotFound,
            format!("transfer {transfer_id} not found"),
        )));
    };
    let enumeration = latest.state.enumeration();
    let fulfilment = latest.fulfilment.clone();
    let extensions: Vec<(String, String)> = sqlx::query_as(
        "SELECT `key`, value FROM transferExtension WHERE transferId = ? AND isError = 0 AND isFulfilment = ? ORDER BY transferExtensionId",
    )
    .bind(transfer_id)
    .bind(fulfilment.is_some())
    .fetch_all(&store.pool)
    .await?;
    let mut extension: Vec<Value> = extensions
        .into_iter()
        .map(|(key, value)| json!({ "key": key, "value": value }))
        .collect();
    if enumeration == Enumeration::Aborted {
        if let Some((code, description)) = &latest.error {
            extension.push(json!({ "key": "cause", "value": fspiop::error::truncate_chars(&format!("{code}: {description}"), 128) }));
        }
    }
    let mut payload = latest.payload();
    if let Some(object) = payload.as_object_mut() {
        if !extension.is_empty() {
            object.insert("extensionList".into(), json!({ "extension": extension }));
        }
    }
    Ok(Ok(payload))
}

/// The get handler: consumes `topic-transfer-get` in batches until `stop` fires.
pub async fn run_handler(
    store: Store,
    consumer: bus::Consumer,
    notifier: Notifier,
    limits: super::batch::BatchLimits,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    while let Some(batch) = super::batch::next_batch(
        &consumer,
        limits.batch_size_max,
        limits.batch_wait_ms,
        &mut stop,
    )
    .await
    {
        let now_ms = crate::now_ms();
        let mut messages = Vec::new();
        for raw in &batch {
            let Some(Ok(message)) = raw
                .payload
                .as_deref()
                .map(serde_json::from_slice::<Message>)
            else {
                continue;
            };
            let transfer_id = message
                .content
                .uri_params
                .as_ref()
                .map(|u| u.id.clone())
                .unwrap_or_else(|| message.id.clone());
            let requester = message
                .content
                .headers
                .get("fspiop-source")
                .cloned()
                .unwrap_or_else(|| message.from.clone());
            let event_id = uuid::Uuid::new_v4().to_string();
            let is_fx = message.metadata.event.action == fspiop::envelope::action::FX_GET;
            let action = if is_fx {
                fspiop::envelope::action::FX_GET
            } else {
                "get"
            };
            let answered = if is_fx {
                super::fx::answer_get(&store, &transfer_id, &requester).await
            } else {
                answer(&store, &transfer_id, &requester).await
            };
            match answered {
                Ok(Ok(payload)) => messages.push(notifier.answer(
                    &message,
                    &transfer_id,
                    &requester,
                    action,
                    Body::Payload(&payload),
                    &event_id,
                    now_ms,
                )),
                Ok(Err(error)) => messages.push(notifier.answer(
                    &message,
                    &transfer_id,
                    &requester,
                    action,
                    Body::Error(&error),
                    &event_id,
                    now_ms,
                )),
                Err(error) => {
                    tracing::error!(%error, "get failed");
                    let failure = FspiopError::new(ErrorCode::InternalServerError);
                    messages.push(notifier.answer(
                        &message,
                        &transfer_id,
                        &requester,
                        "get",
                        Body::Error(&failure),
                        &event_id,
                        now_ms,
                    ));
                }
            }
        }
        if let Err(error) = notifier.deliver(&messages).await {
            // Never past an effect not delivered: the batch stays uncommitted (handled again
            // after a restart, answered from the ledger's state) and the handler stops, which
            // makes /health DOWN.
            tracing::error!(%error, "get notifications not delivered; the handler stops without committing the batch");
            break;
        }
        super::batch::commit(&consumer, &batch);
    }
    tracing::info!("get handler stopped");
}
