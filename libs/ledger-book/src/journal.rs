//! What a batch records: transfer state transitions and the position moves journaled against
//! them, checked and written together.

use std::collections::HashMap;

use ledger::transfer::{can_transition, AccountId, Posting, State};
use ledger::Money;
use sqlx::{MySql, QueryBuilder};

use crate::{broken, push_in_list, truncate, Positions, Result, Tx};

/// Longest `transferStateChange.reason`.
const REASON_CHARS_MAX: usize = 512;

#[derive(Debug, Clone)]
struct Transition {
    transfer_id: String,
    from: Option<State>,
    to: State,
    reason: Option<String>,
}

#[derive(Debug, Clone)]
struct Move {
    account: AccountId,
    change: Money,
    transfer_id: String,
    /// The transition (of `transfer_id`, to this state) the move is journaled against.
    at: State,
}

/// The transitions and moves of one transaction, in the order they happen.
#[derive(Debug, Default)]
pub struct Journal {
    transitions: Vec<Transition>,
    moves: Vec<Move>,
}

/// The ids of the state changes a [`Journal::write`] inserted, by transfer and state.
#[derive(Debug, Default)]
pub struct StateIds(HashMap<(String, State), u64>);

impl StateIds {
    /// The id of `transfer_id`'s change to `state` written by this journal.
    pub fn get(&self, transfer_id: &str, state: State) -> Option<u64> {
        self.0.get(&(transfer_id.to_string(), state)).copied()
    }

    /// As [`StateIds::get`]; its absence is an invariant break (a row would point nowhere).
    pub fn require(&self, transfer_id: &str, state: State) -> Result<u64> {
        self.get(transfer_id, state).ok_or_else(|| {
            broken(format!(
                "transfer {transfer_id} has no {} state change in this batch",
                state.id()
            ))
        })
    }
}

impl Journal {
    pub fn new() -> Journal {
        Journal::default()
    }

    /// The accounts the recorded moves touch, sorted: what to [`crate::lock_positions`].
    pub fn accounts(&self) -> Vec<AccountId> {
        let mut accounts: Vec<AccountId> = self.moves.iter().map(|m| m.account).collect();
        accounts.sort_unstable();
        accounts.dedup();
        accounts
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.transitions.is_empty() && self.moves.is_empty()
    }

    /// Records `transfer_id` going from `from` (`None`: a new transfer) to `to`.
    pub fn transition(
        &mut self,
        transfer_id: &str,
        from: Option<State>,
        to: State,
        reason: Option<&str>,
    ) {
        self.transitions.push(Transition {
            transfer_id: transfer_id.to_string(),
            from,
            to,
            reason: reason.map(|r| truncate(r, REASON_CHARS_MAX)),
        });
    }

    /// Records `transfer_id` going from `from` through each state of `path` in turn.
    pub fn path(
        &mut self,
        transfer_id: &str,
        from: Option<State>,
        path: &[State],
        reason: Option<&str>,
    ) {
        let mut from = from;
        for to in path {
            self.transition(transfer_id, from, *to, reason);
            from = Some(*to);
        }
    }

    /// Moves `account` by `change`, journaled against `transfer_id`'s change to `at`.
    pub fn move_position(
        &mut self,
        account: AccountId,
        change: Money,
        transfer_id: &str,
        at: State,
    ) {
        self.moves.push(Move {
            account,
            change,
            transfer_id: transfer_id.to_string(),
            at,
        });
    }

    /// Records a posting of the pure core: the transfer (now in `from`) through the posting's
    /// states, and its moves against the last of them.
    pub fn post(
        &mut self,
        transfer_id: &str,
        from: State,
        posting: &Posting,
        reason: Option<&str>,
    ) {
        self.path(transfer_id, Some(from), posting.path, reason);
        for (account, change) in &posting.moves {
            self.move_position(*account, *change, transfer_id, posting.at());
        }
    }

    /// Checks and writes everything recorded, inside `tx`: the transitions (each legal, and
    /// each transfer's chained), the moves applied to `positions` in order with checked
    /// arithmetic, each moved position written once, and the journal. Returns the ids of the
    /// state changes written.
    pub async fn write(self, tx: &mut Tx<'_>, positions: &mut Positions) -> Result<StateIds> {
        self.check_transitions()?;
        let ids = insert_transitions(tx, &self.transitions).await?;
        let mut journal: Vec<(crate::Position, Money, u64)> = Vec::with_capacity(self.moves.len());
        for m in &self.moves {
            let state_change = ids.require(&m.transfer_id, m.at)?;
            let after = positions.apply(m.account, m.change)?;
            journal.push((after, m.change, state_change));
        }
        for position in positions.take_moved() {
            sqlx::query(
                "UPDATE participantPosition SET value = ?, changedDate = NOW(3) WHERE participantPositionId = ?",
            )
            .bind(position.value.to_decimal_string())
            .bind(position.id)
            .execute(&mut **tx)
            .await?;
        }
        if !journal.is_empty() {
            let mut query = QueryBuilder::<MySql>::new(
                "INSERT INTO participantPositionChange (participantPositionId, participantCurrencyId, transferStateChangeId, value, `change`, reservedValue) ",
            );
            query.push_values(&journal, |mut row, (after, change, state_change)| {
                row.push_bind(after.id)
                    .push_bind(after.account)
                    .push_bind(*state_change)
                    .push_bind(after.value.to_decimal_string())
                    .push_bind(change.to_decimal_string())
                    .push_bind(after.reserved.to_decimal_string());
            });
            query.build().execute(&mut **tx).await?;
        }
        Ok(ids)
    }

    /// Every transition legal, and each transfer's transitions in this journal a chain.
    fn check_transitions(&self) -> Result<()> {
        let mut last: HashMap<&str, State> = HashMap::new();
        for t in &self.transitions {
            crate::invariant!(
                can_transition(t.from, t.to),
                "transfer {} cannot go from {} to {}",
                t.transfer_id,
                t.from.map_or("nothing", State::id),
                t.to.id()
            );
            if let Some(previous) = last.get(t.transfer_id.as_str()) {
                crate::invariant!(
                    t.from == Some(*previous),
                    "transfer {} goes to {} from {} but was just put in {}",
                    t.transfer_id,
                    t.to.id(),
                    t.from.map_or("nothing", State::id),
                    previous.id()
                );
            }
            last.insert(t.transfer_id.as_str(), t.to);
        }
        Ok(())
    }
}

/// Inserts the transitions in one statement and reads back their ids. The transfers are new
/// or locked by the caller (their `transfer` rows), so the changes of these transfers with an
/// id from the first one inserted on are exactly this statement's rows.
async fn insert_transitions(tx: &mut Tx<'_>, transitions: &[Transition]) -> Result<StateIds> {
    if transitions.is_empty() {
        return Ok(StateIds::default());
    }
    let mut query = QueryBuilder::<MySql>::new(
        "INSERT INTO transferStateChange (transferId, transferStateId, reason) ",
    );
    query.push_values(transitions, |mut row, t| {
        row.push_bind(t.transfer_id.clone())
            .push_bind(t.to.id())
            .push_bind(t.reason.clone());
    });
    let first = query.build().execute(&mut **tx).await?.last_insert_id();
    let mut transfer_ids: Vec<String> = transitions.iter().map(|t| t.transfer_id.clone()).collect();
    transfer_ids.sort_unstable();
    transfer_ids.dedup();
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT transferStateChangeId, transferId, transferStateId FROM transferStateChange WHERE transferStateChangeId >= ",
    );
    query.push_bind(first);
    query.push(" AND transferId IN (");
    push_in_list(&mut query, &transfer_ids);
    let rows: Vec<(u64, String, String)> = query.build_query_as().fetch_all(&mut **tx).await?;
    crate::invariant!(
        rows.len() == transitions.len(),
        "{} state changes inserted but {} read back",
        transitions.len(),
        rows.len()
    );
    let mut ids = HashMap::with_capacity(rows.len());
    for (id, transfer_id, state) in rows {
        let state = State::parse(&state)
            .ok_or_else(|| broken(format!("transfer {transfer_id} has unknown state {state}")))?;
        ids.insert((transfer_id, state), id);
    }
    Ok(StateIds(ids))
}
