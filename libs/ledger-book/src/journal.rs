//! What a batch records: transfer state transitions and the position moves journaled against
//! them, checked and written together.

use std::collections::HashMap;

use ledger::transfer::{can_transition, AccountId, Posting, State};
use ledger::Money;
use sqlx::{MySql, QueryBuilder};

use crate::{broken, push_in_list, truncate, Positions, Result, Tx};

/// Longest `transferStateChange.reason`.
const REASON_CHARS_MAX: usize = 512;

/// What a state change belongs to: a transfer (`transferStateChange`) or a currency
/// conversion (`fxTransferStateChange`). Both follow `ledger::transfer::can_transition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Transfer,
    Fx,
}

impl Kind {
    /// The state-change table, its id column and the entity's id column.
    pub(crate) fn tables(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Kind::Transfer => ("transferStateChange", "transferStateChangeId", "transferId"),
            Kind::Fx => (
                "fxTransferStateChange",
                "fxTransferStateChangeId",
                "commitRequestId",
            ),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Transfer => "transfer",
            Kind::Fx => "fxTransfer",
        }
    }
}

#[derive(Debug, Clone)]
struct Transition {
    kind: Kind,
    transfer_id: String,
    from: Option<State>,
    to: State,
    reason: Option<String>,
}

#[derive(Debug, Clone)]
struct Move {
    kind: Kind,
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
pub struct StateIds(HashMap<(Kind, String, State), u64>);

impl StateIds {
    /// The id of `transfer_id`'s change to `state` written by this journal.
    pub fn get(&self, transfer_id: &str, state: State) -> Option<u64> {
        self.0
            .get(&(Kind::Transfer, transfer_id.to_string(), state))
            .copied()
    }

    /// As [`StateIds::get`]; its absence is an invariant break (a row would point nowhere).
    pub fn require(&self, transfer_id: &str, state: State) -> Result<u64> {
        self.require_of(Kind::Transfer, transfer_id, state)
    }

    /// The id of conversion `commit_request_id`'s change to `state`; its absence is an
    /// invariant break.
    pub fn require_fx(&self, commit_request_id: &str, state: State) -> Result<u64> {
        self.require_of(Kind::Fx, commit_request_id, state)
    }

    fn require_of(&self, kind: Kind, id: &str, state: State) -> Result<u64> {
        self.0
            .get(&(kind, id.to_string(), state))
            .copied()
            .ok_or_else(|| {
                broken(format!(
                    "{} {id} has no {} state change in this batch",
                    kind.name(),
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

    /// Appends what `other` recorded, after what this one recorded.
    pub fn extend(&mut self, other: Journal) {
        self.transitions.extend(other.transitions);
        self.moves.extend(other.moves);
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
        self.transition_of(Kind::Transfer, transfer_id, from, to, reason);
    }

    /// Records conversion `commit_request_id` going from `from` (`None`: new) to `to`.
    pub fn fx_transition(
        &mut self,
        commit_request_id: &str,
        from: Option<State>,
        to: State,
        reason: Option<&str>,
    ) {
        self.transition_of(Kind::Fx, commit_request_id, from, to, reason);
    }

    fn transition_of(
        &mut self,
        kind: Kind,
        transfer_id: &str,
        from: Option<State>,
        to: State,
        reason: Option<&str>,
    ) {
        self.transitions.push(Transition {
            kind,
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
        self.path_of(Kind::Transfer, transfer_id, from, path, reason);
    }

    fn path_of(
        &mut self,
        kind: Kind,
        transfer_id: &str,
        from: Option<State>,
        path: &[State],
        reason: Option<&str>,
    ) {
        let mut from = from;
        for to in path {
            self.transition_of(kind, transfer_id, from, *to, reason);
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
        self.move_of(Kind::Transfer, account, change, transfer_id, at);
    }

    fn move_of(
        &mut self,
        kind: Kind,
        account: AccountId,
        change: Money,
        transfer_id: &str,
        at: State,
    ) {
        self.moves.push(Move {
            kind,
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
        self.post_of(Kind::Transfer, transfer_id, from, posting, reason);
    }

    /// [`Journal::post`] for conversion `commit_request_id` (`ledger::fx` postings).
    pub fn fx_post(
        &mut self,
        commit_request_id: &str,
        from: State,
        posting: &Posting,
        reason: Option<&str>,
    ) {
        self.post_of(Kind::Fx, commit_request_id, from, posting, reason);
    }

    /// Moves `account` by `change`, journaled against conversion `commit_request_id`'s change
    /// to `at`.
    pub fn fx_move_position(
        &mut self,
        account: AccountId,
        change: Money,
        commit_request_id: &str,
        at: State,
    ) {
        self.move_of(Kind::Fx, account, change, commit_request_id, at);
    }

    fn post_of(
        &mut self,
        kind: Kind,
        transfer_id: &str,
        from: State,
        posting: &Posting,
        reason: Option<&str>,
    ) {
        self.path_of(kind, transfer_id, Some(from), posting.path, reason);
        for (account, change) in &posting.moves {
            self.move_of(kind, *account, *change, transfer_id, posting.at());
        }
    }

    /// Checks and writes everything recorded, inside `tx`: the transitions (each legal, and
    /// each transfer's chained), the moves applied to `positions` in order with checked
    /// arithmetic, each moved position written once, and the journal. Returns the ids of the
    /// state changes written.
    pub async fn write(self, tx: &mut Tx<'_>, positions: &mut Positions) -> Result<StateIds> {
        self.check_transitions()?;
        let mut ids = StateIds::default();
        for kind in [Kind::Transfer, Kind::Fx] {
            let of_kind: Vec<&Transition> =
                self.transitions.iter().filter(|t| t.kind == kind).collect();
            ids.0
                .extend(insert_transitions(tx, kind, &of_kind).await?.0);
        }
        let mut journal: Vec<(crate::Position, Money, Kind, u64)> =
            Vec::with_capacity(self.moves.len());
        for m in &self.moves {
            let state_change = ids.require_of(m.kind, &m.transfer_id, m.at)?;
            let after = positions.apply(m.account, m.change)?;
            journal.push((after, m.change, m.kind, state_change));
        }
        update_positions(tx, &positions.take_moved()).await?;
        if !journal.is_empty() {
            let mut query = QueryBuilder::<MySql>::new(
                "INSERT INTO participantPositionChange (participantPositionId, participantCurrencyId, transferStateChangeId, fxTransferStateChangeId, value, `change`, reservedValue) ",
            );
            query.push_values(&journal, |mut row, (after, change, kind, state_change)| {
                let (transfer_change, fx_change) = match kind {
                    Kind::Transfer => (Some(*state_change), None),
                    Kind::Fx => (None, Some(*state_change)),
                };
                row.push_bind(after.id)
                    .push_bind(after.account)
                    .push_bind(transfer_change)
                    .push_bind(fx_change)
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
        let mut last: HashMap<(Kind, &str), State> = HashMap::new();
        for t in &self.transitions {
            crate::invariant!(
                can_transition(t.from, t.to),
                "{} {} cannot go from {} to {}",
                t.kind.name(),
                t.transfer_id,
                t.from.map_or("nothing", State::id),
                t.to.id()
            );
            if let Some(previous) = last.get(&(t.kind, t.transfer_id.as_str())) {
                crate::invariant!(
                    t.from == Some(*previous),
                    "{} {} goes to {} from {} but was just put in {}",
                    t.kind.name(),
                    t.transfer_id,
                    t.to.id(),
                    t.from.map_or("nothing", State::id),
                    previous.id()
                );
            }
            last.insert((t.kind, t.transfer_id.as_str()), t.to);
        }
        Ok(())
    }
}

/// Inserts the transitions in one statement and reads back their ids. The transfers are new
/// or locked by the caller (their `transfer` rows), so the changes of these transfers with an
/// id from the first one inserted on are exactly this statement's rows.
async fn insert_transitions(
    tx: &mut Tx<'_>,
    kind: Kind,
    transitions: &[&Transition],
) -> Result<StateIds> {
    if transitions.is_empty() {
        return Ok(StateIds::default());
    }
    let (table, change_id, entity_id) = kind.tables();
    let mut query = QueryBuilder::<MySql>::new(format!(
        "INSERT INTO {table} ({entity_id}, transferStateId, reason) "
    ));
    query.push_values(transitions, |mut row, t| {
        row.push_bind(t.transfer_id.clone())
            .push_bind(t.to.id())
            .push_bind(t.reason.clone());
    });
    let first = query.build().execute(&mut **tx).await?.last_insert_id();
    let mut transfer_ids: Vec<String> = transitions.iter().map(|t| t.transfer_id.clone()).collect();
    transfer_ids.sort_unstable();
    transfer_ids.dedup();
    let mut query = QueryBuilder::<MySql>::new(format!(
        "SELECT {change_id}, {entity_id}, transferStateId FROM {table} WHERE {change_id} >= "
    ));
    query.push_bind(first);
    query.push(format!(" AND {entity_id} IN ("));
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
        let state = State::parse(&state).ok_or_else(|| {
            broken(format!(
                "{} {transfer_id} has unknown state {state}",
                kind.name()
            ))
        })?;
        ids.insert((kind, transfer_id, state), id);
    }
    Ok(StateIds(ids))
}

/// Writes the moved positions' values: one statement for one position, one `CASE` for several
/// (a batch moves a position per payer or payee in it; one statement each was a round trip
/// each). Values are bound as decimal text, as MariaDB stores them: exact, no float between.
async fn update_positions(tx: &mut Tx<'_>, moved: &[crate::Position]) -> Result<()> {
    match moved {
        [] => {}
        [position] => {
            sqlx::query(
                "UPDATE participantPosition SET value = ?, changedDate = NOW(3) WHERE participantPositionId = ?",
            )
            .bind(position.value.to_decimal_string())
            .bind(position.id)
            .execute(&mut **tx)
            .await?;
        }
        several => {
            let mut query = QueryBuilder::<MySql>::new(
                "UPDATE participantPosition SET value = CASE participantPositionId",
            );
            for position in several {
                query
                    .push(" WHEN ")
                    .push_bind(position.id)
                    .push(" THEN ")
                    .push_bind(position.value.to_decimal_string());
            }
            query.push(" END, changedDate = NOW(3) WHERE participantPositionId IN (");
            let ids: Vec<u64> = several.iter().map(|position| position.id).collect();
            push_in_list(&mut query, &ids);
            let updated = query.build().execute(&mut **tx).await?.rows_affected();
            crate::invariant!(
                updated == several.len() as u64,
                "{updated} of {} moved positions were written",
                several.len()
            );
        }
    }
    Ok(())
}
