//! Reading transfers' states: the transfer row lock every writer takes first, and the one
//! "latest state" query every answer about a transfer is built from.

use std::collections::HashMap;

use ledger::transfer::State;
use serde_json::{json, Value};
use sqlx::{Executor, MySql, QueryBuilder};

use crate::{broken, push_in_list, Kind, Result, Tx};

/// Locks the `transfer` rows of `ids` (sorted, so two writers lock in the same order). Whoever
/// changes a transfer's state holds its row lock first; reads after it see the states those
/// writers committed.
pub async fn lock_transfers(tx: &mut Tx<'_>, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut query =
        QueryBuilder::<MySql>::new("SELECT transferId FROM transfer WHERE transferId IN (");
    push_in_list(&mut query, &sorted);
    query.push(" ORDER BY transferId FOR UPDATE");
    query.build().execute(&mut **tx).await?;
    Ok(())
}

/// Locks the `fxTransfer` rows of `commit_request_ids` (sorted), as [`lock_transfers`] does
/// for transfers. Lock order of the ledger: conversions first, then transfers, then positions.
pub async fn lock_fx_transfers(tx: &mut Tx<'_>, commit_request_ids: &[String]) -> Result<()> {
    if commit_request_ids.is_empty() {
        return Ok(());
    }
    let mut sorted = commit_request_ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT commitRequestId FROM fxTransfer WHERE commitRequestId IN (",
    );
    push_in_list(&mut query, &sorted);
    query.push(" ORDER BY commitRequestId FOR UPDATE");
    query.build().execute(&mut **tx).await?;
    Ok(())
}

/// The latest state of each of `ids` that has one.
pub async fn latest_states(tx: &mut Tx<'_>, ids: &[String]) -> Result<HashMap<String, State>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT tsc.transferId, tsc.transferStateId FROM transferStateChange tsc
         JOIN (SELECT transferId, MAX(transferStateChangeId) AS latest FROM transferStateChange WHERE transferId IN (",
    );
    push_in_list(&mut query, ids);
    query.push(" GROUP BY transferId) l ON l.latest = tsc.transferStateChangeId");
    let rows: Vec<(String, String)> = query.build_query_as().fetch_all(&mut **tx).await?;
    rows.into_iter()
        .map(|(id, state)| {
            let parsed = State::parse(&state)
                .ok_or_else(|| broken(format!("transfer {id} has unknown state {state}")))?;
            Ok((id, parsed))
        })
        .collect()
}

/// A transfer's latest state, as every answer about it is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    pub state: State,
    /// When the state was reached, FSPIOP `DateTime` (UTC, milliseconds).
    pub completed: String,
    /// The fulfilment of a committed transfer (not a funds transfer's `'0'`).
    pub fulfilment: Option<String>,
    /// The error recorded for an aborted transfer: code and description.
    pub error: Option<(u32, String)>,
}

/// The latest state of `transfer_id`, or `None` when it has none.
pub async fn latest<'e, E>(executor: E, transfer_id: &str) -> Result<Option<Latest>>
where
    E: Executor<'e, Database = MySql>,
{
    Ok(latest_many(executor, &[transfer_id.to_string()])
        .await?
        .remove(transfer_id))
}

/// The latest state of each of `ids` that has one, in one read: the one query every answer
/// about a transfer's state is built from.
pub async fn latest_many<'e, E>(executor: E, ids: &[String]) -> Result<HashMap<String, Latest>>
where
    E: Executor<'e, Database = MySql>,
{
    latest_of(executor, Kind::Transfer, ids).await
}

/// [`latest_many`] for conversions (`fxTransferStateChange`, `fxTransferFulfilment`,
/// `fxTransferError`); [`Latest::fx_payload`] is their FSPIOP object.
pub async fn latest_fx_many<'e, E>(
    executor: E,
    commit_request_ids: &[String],
) -> Result<HashMap<String, Latest>>
where
    E: Executor<'e, Database = MySql>,
{
    latest_of(executor, Kind::Fx, commit_request_ids).await
}

async fn latest_of<'e, E>(
    executor: E,
    kind: Kind,
    ids: &[String],
) -> Result<HashMap<String, Latest>>
where
    E: Executor<'e, Database = MySql>,
{
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    type Row = (
        String,
        String,
        String,
        Option<String>,
        Option<u32>,
        Option<String>,
    );
    let (changes, change_id, id) = kind.tables();
    let (fulfilments, errors) = match kind {
        Kind::Transfer => ("transferFulfilment", "transferError"),
        Kind::Fx => ("fxTransferFulfilment", "fxTransferError"),
    };
    let mut query = QueryBuilder::<MySql>::new(format!(
        "SELECT tsc.{id}, tsc.transferStateId, CONCAT(LEFT(DATE_FORMAT(tsc.createdDate, '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z'),
                tf.ilpFulfilment, te.errorCode, te.errorDescription
         FROM {changes} tsc
         JOIN (SELECT {id}, MAX({change_id}) AS latest FROM {changes} WHERE {id} IN ("
    ));
    push_in_list(&mut query, ids);
    query.push(format!(
        " GROUP BY {id}) l ON l.latest = tsc.{change_id}
         LEFT JOIN {fulfilments} tf ON tf.{id} = tsc.{id}
         LEFT JOIN {errors} te ON te.{id} = tsc.{id}"
    ));
    let rows: Vec<Row> = query.build_query_as().fetch_all(executor).await?;
    rows.into_iter()
        .map(|(id, state, completed, fulfilment, code, description)| {
            let state = State::parse(&state)
                .ok_or_else(|| broken(format!("transfer {id} has unknown state {state}")))?;
            let latest = Latest {
                state,
                completed,
                fulfilment: fulfilment.filter(|f| f != "0"),
                error: code.zip(description),
            };
            Ok((id, latest))
        })
        .collect()
}

impl Latest {
    /// The FSPIOP transfer state object (`PUT /transfers/{ID}` shape): `transferState` as FSPIOP
    /// names it (SETTLED is shown COMMITTED), `completedTimestamp` and any `fulfilment`.
    pub fn payload(&self) -> Value {
        let mut payload = json!({
            "transferState": self.state.enumeration().fspiop_str(),
            "completedTimestamp": self.completed,
        });
        if let (Some(f), Some(object)) = (&self.fulfilment, payload.as_object_mut()) {
            object.insert("fulfilment".into(), Value::String(f.clone()));
        }
        payload
    }

    /// The FSPIOP conversion state object (`PUT /fxTransfers/{ID}` shape): `conversionState`,
    /// `completedTimestamp` and, once the FXP fulfilled, `fulfilment`.
    pub fn fx_payload(&self) -> Value {
        let mut payload = json!({
            "conversionState": self.state.enumeration().fspiop_str(),
            "completedTimestamp": self.completed,
        });
        if let (Some(f), Some(object)) = (&self.fulfilment, payload.as_object_mut()) {
            object.insert("fulfilment".into(), Value::String(f.clone()));
        }
        payload
    }
}
