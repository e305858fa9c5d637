//! Transfers: the state machine and the position rules of the prepare phase.
//!
//! A transfer's history is a list of states; its current state is the last. Positions are
//! per account: a positive position is what the DFSP owes the hub. A prepare reserves the
//! amount on the payer's position if it fits both under the net debit cap and within the
//! funds the payer holds (the negative of its SETTLEMENT value):
//!
//! `amount ≤ NDC − (position + reserved)` and `amount ≤ −settlement − (position + reserved)`,
//! liquidity (4001) checked before the limit (4200).

use crate::money::Money;

/// Every state a transfer can be in (the `transferState` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    ReceivedPrepare,
    Reserved,
    ReceivedFulfil,
    ReceivedFulfilDependent,
    ReservedForwarded,
    ReservedTimeout,
    ReceivedReject,
    ReceivedError,
    Committed,
    AbortedRejected,
    AbortedError,
    ExpiredPrepared,
    ExpiredReserved,
    Invalid,
    Failed,
    Settled,
}

/// What FSPIOP shows of a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Enumeration {
    Received,
    Reserved,
    Committed,
    Aborted,
    Settled,
}

impl Enumeration {
    pub fn as_str(self) -> &'static str {
        match self {
            Enumeration::Received => "RECEIVED",
            Enumeration::Reserved => "RESERVED",
            Enumeration::Committed => "COMMITTED",
            Enumeration::Aborted => "ABORTED",
            Enumeration::Settled => "SETTLED",
        }
    }

    /// The FSPIOP `TransferState` a DFSP is told. SETTLED is the hub's own step after COMMITTED
    /// (immediate gross settlement), not a state of the FSPIOP API, so DFSPs see COMMITTED.
    pub fn fspiop_str(self) -> &'static str {
        match self {
            Enumeration::Settled => "COMMITTED",
            other => other.as_str(),
        }
    }
}

const ALL: [(State, &str, Enumeration); 16] = [
    (
        State::ReceivedPrepare,
        "RECEIVED_PREPARE",
        Enumeration::Received,
    ),
    (State::Reserved, "RESERVED", Enumeration::Reserved),
    (
        State::ReceivedFulfil,
        "RECEIVED_FULFIL",
        Enumeration::Reserved,
    ),
    (
        State::ReceivedFulfilDependent,
        "RECEIVED_FULFIL_DEPENDENT",
        Enumeration::Reserved,
    ),
    (
        State::ReservedForwarded,
        "RESERVED_FORWARDED",
        Enumeration::Reserved,
    ),
    (
        State::ReservedTimeout,
        "RESERVED_TIMEOUT",
        Enumeration::Reserved,
    ),
    (
        State::ReceivedReject,
        "RECEIVED_REJECT",
        Enumeration::Reserved,
    ),
    (
        State::ReceivedError,
        "RECEIVED_ERROR",
        Enumeration::Reserved,
    ),
    (State::Committed, "COMMITTED", Enumeration::Committed),
    (
        State::AbortedRejected,
        "ABORTED_REJECTED",
        Enumeration::Aborted,
    ),
    (State::AbortedError, "ABORTED_ERROR", Enumeration::Aborted),
    (
        State::ExpiredPrepared,
        "EXPIRED_PREPARED",
        Enumeration::Aborted,
    ),
    (
        State::ExpiredReserved,
        "EXPIRED_RESERVED",
        Enumeration::Aborted,
    ),
    (State::Invalid, "INVALID", Enumeration::Aborted),
    (State::Failed, "FAILED", Enumeration::Aborted),
    (State::Settled, "SETTLED", Enumeration::Settled),
];

impl State {
    /// The `transferStateId` stored in the database.
    pub fn id(self) -> &'static str {
        use State::*;
        match self {
            ReceivedPrepare => "RECEIVED_PREPARE",
            Reserved => "RESERVED",
            ReceivedFulfil => "RECEIVED_FULFIL",
            ReceivedFulfilDependent => "RECEIVED_FULFIL_DEPENDENT",
            ReservedForwarded => "RESERVED_FORWARDED",
            ReservedTimeout => "RESERVED_TIMEOUT",
            ReceivedReject => "RECEIVED_REJECT",
            ReceivedError => "RECEIVED_ERROR",
            Committed => "COMMITTED",
            AbortedRejected => "ABORTED_REJECTED",
            AbortedError => "ABORTED_ERROR",
            ExpiredPrepared => "EXPIRED_PREPARED",
            ExpiredReserved => "EXPIRED_RESERVED",
            Invalid => "INVALID",
            Failed => "FAILED",
            Settled => "SETTLED",
        }
    }

    pub fn parse(id: &str) -> Option<State> {
        ALL.iter().find(|(_, i, _)| *i == id).map(|(s, _, _)| *s)
    }

    pub fn enumeration(self) -> Enumeration {
        use State::*;
        match self {
            ReceivedPrepare => Enumeration::Received,
            Reserved
            | ReceivedFulfil
            | ReceivedFulfilDependent
            | ReservedForwarded
            | ReservedTimeout
            | ReceivedReject
            | ReceivedError => Enumeration::Reserved,
            Committed => Enumeration::Committed,
            AbortedRejected | AbortedError | ExpiredPrepared | ExpiredReserved | Invalid
            | Failed => Enumeration::Aborted,
            Settled => Enumeration::Settled,
        }
    }

    /// Whether nothing more can happen to the transfer (apart from settlement).
    pub fn is_final(self) -> bool {
        matches!(
            self.enumeration(),
            Enumeration::Committed | Enumeration::Aborted | Enumeration::Settled
        )
    }
}

/// Whether a transfer may go from `from` (`None`: it does not exist yet) to `to`.
pub fn can_transition(from: Option<State>, to: State) -> bool {
    use State::*;
    match from {
        None => matches!(to, ReceivedPrepare | Invalid),
        Some(ReceivedPrepare) => matches!(to, Reserved | AbortedRejected | ExpiredPrepared),
        Some(Reserved) => matches!(
            to,
            ReceivedFulfil
                | ReceivedError
                | ReservedTimeout
                | ReceivedFulfilDependent
                | ReservedForwarded
                | ReceivedReject
        ),
        Some(ReservedForwarded) => matches!(
            to,
            ReceivedFulfil | ReceivedError | ReservedTimeout | ReceivedFulfilDependent
        ),
        Some(ReceivedFulfil) => matches!(to, Committed),
        // A conversion waiting for its dependent transfer commits with it, or aborts or
        // expires with it (`crate::fx`).
        Some(ReceivedFulfilDependent) => matches!(to, Committed | ReservedTimeout | ReceivedError),
        Some(ReceivedError) => matches!(to, AbortedError),
        Some(ReservedTimeout) => matches!(to, ExpiredReserved),
        Some(ReceivedReject) => matches!(to, AbortedRejected),
        Some(Committed) => matches!(to, Settled),
        Some(
            AbortedRejected | AbortedError | ExpiredPrepared | ExpiredReserved | Invalid | Failed
            | Settled,
        ) => false,
    }
}

/// Why a prepare is not reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrepareRejection {
    /// More than the funds the payer holds: FSPIOP 4001.
    InsufficientLiquidity,
    /// More than the net debit cap allows: FSPIOP 4200.
    NetDebitCapExceeded,
    /// The transfer is not RECEIVED_PREPARE (a replay or a race).
    WrongState,
}

impl PrepareRejection {
    /// The FSPIOP error code the payer is told.
    pub fn error_code(self) -> u16 {
        match self {
            PrepareRejection::InsufficientLiquidity => 4001,
            PrepareRejection::NetDebitCapExceeded => 4200,
            PrepareRejection::WrongState => 2001,
        }
    }
}

/// An account's figures at the start of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayerAccount {
    pub position: Money,
    pub reserved: Money,
    pub net_debit_cap: Money,
    /// The value of the payer's SETTLEMENT account (negative = funds held).
    pub settlement_value: Money,
}

/// One prepare in a batch, in arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prepare {
    pub amount: Money,
    /// Whether the transfer is still RECEIVED_PREPARE.
    pub in_prepared_state: bool,
}

/// The outcome of one prepare: the position after it, or why it was refused.
pub type PrepareOutcome = Result<Money, PrepareRejection>;

/// Applies a batch of prepares to one payer account in order. Each reservation uses up
/// headroom for the ones after it (Mojaloop's batch handler adds it back instead, a bug).
/// Returns each outcome and the final position.
pub fn reserve_prepares(
    account: PayerAccount,
    prepares: &[Prepare],
) -> (Vec<PrepareOutcome>, Money) {
    let mut position = account.position;
    let headroom = |position: Money| {
        let effective = position.try_add(account.reserved).ok()?;
        let by_liquidity = account.settlement_value.negate().try_sub(effective).ok()?;
        let by_limit = account.net_debit_cap.try_sub(effective).ok()?;
        Some((by_liquidity, by_limit))
    };
    let outcomes = prepares
        .iter()
        .map(|prepare| {
            if !prepare.in_prepared_state {
                return Err(PrepareRejection::WrongState);
            }
            let (by_liquidity, by_limit) =
                headroom(position).ok_or(PrepareRejection::NetDebitCapExceeded)?;
            if prepare.amount > by_liquidity {
                return Err(PrepareRejection::InsufficientLiquidity);
            }
            if prepare.amount > by_limit {
                return Err(PrepareRejection::NetDebitCapExceeded);
            }
            position = position
                .try_add(prepare.amount)
                .map_err(|_| PrepareRejection::NetDebitCapExceeded)?;
            Ok(position)
        })
        .collect();
    (outcomes, position)
}

/// An account of the ledger (`participantCurrencyId`).
pub type AccountId = u32;

/// One prepare of a batch as the pure decision needs it, in arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPrepare {
    pub payer_account: AccountId,
    pub amount: Money,
}

/// What a batch of prepares decided: each prepare's outcome (in the batch's order) and the
/// position moves to journal, in the order they apply (each `(index, account, change)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepareDecisions {
    pub outcomes: Vec<PrepareOutcome>,
    pub moves: Vec<(usize, AccountId, Money)>,
}

/// Decides a batch of prepares against the payers' figures at the start of the batch:
/// per payer account in arrival order ([`reserve_prepares`]); a payer without figures (no
/// position row) is refused for liquidity. Pure: the same snapshot and batch give the same
/// decisions.
pub fn decide_prepares(
    batch: &[BatchPrepare],
    snapshot: &dyn Fn(AccountId) -> Option<PayerAccount>,
) -> PrepareDecisions {
    let mut outcomes: Vec<PrepareOutcome> =
        vec![Err(PrepareRejection::InsufficientLiquidity); batch.len()];
    let mut by_account: std::collections::BTreeMap<AccountId, Vec<usize>> = Default::default();
    for (index, prepare) in batch.iter().enumerate() {
        by_account
            .entry(prepare.payer_account)
            .or_default()
            .push(index);
    }
    let mut moves = Vec::new();
    for (account, indexes) in by_account {
        let Some(figures) = snapshot(account) else {
            continue;
        };
        let prepares: Vec<Prepare> = indexes
            .iter()
            .filter_map(|i| batch.get(*i))
            .map(|p| Prepare {
                amount: p.amount,
                in_prepared_state: true,
            })
            .collect();
        let (decided, _) = reserve_prepares(figures, &prepares);
        for (index, outcome) in indexes.iter().zip(decided) {
            if let (Ok(_), Some(prepare)) = (&outcome, batch.get(*index)) {
                moves.push((*index, account, prepare.amount));
            }
            if let Some(slot) = outcomes.get_mut(*index) {
                *slot = outcome;
            }
        }
    }
    moves.sort_by_key(|(index, account, _)| (*account, *index));
    PrepareDecisions { outcomes, moves }
}

/// A reserved transfer as the later phases need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedTransfer {
    pub amount: Money,
    pub payer_account: AccountId,
    pub payee_account: AccountId,
}

/// What finishing a reserved transfer records: the states it goes through (from RESERVED)
/// and the position moves, journaled against the last of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub path: &'static [State],
    pub moves: Vec<(AccountId, Money)>,
}

impl Posting {
    /// The state the moves are journaled against.
    pub fn at(&self) -> State {
        self.path.last().copied().unwrap_or(State::Reserved)
    }
}

/// A commit: the payee's position goes down by the amount (the payer's reservation stays as
/// its debt).
pub fn commit(transfer: ReservedTransfer) -> Posting {
    Posting {
        path: &[State::ReceivedFulfil, State::Committed],
        moves: vec![(transfer.payee_account, transfer.amount.negate())],
    }
}

/// An abort (the payee's error, or a wrong fulfilment): the payer's reservation given back.
pub fn abort(transfer: ReservedTransfer) -> Posting {
    Posting {
        path: &[State::ReceivedError, State::AbortedError],
        moves: vec![(transfer.payer_account, transfer.amount.negate())],
    }
}

/// An expiry: the payer's reservation given back.
pub fn expire(transfer: ReservedTransfer) -> Posting {
    Posting {
        path: &[State::ReservedTimeout, State::ExpiredReserved],
        moves: vec![(transfer.payer_account, transfer.amount.negate())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Money {
        Money::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn prepare(amount: &str) -> Prepare {
        Prepare {
            amount: m(amount),
            in_prepared_state: true,
        }
    }

    #[test]
    fn states_round_trip_and_map_to_fspiop() {
        for (state, id, enumeration) in ALL {
            assert_eq!(State::parse(id), Some(state));
            assert_eq!(state.id(), id);
            assert_eq!(state.enumeration(), enumeration);
        }
        assert_eq!(State::ReceivedFulfil.enumeration().as_str(), "RESERVED");
        assert!(State::ExpiredReserved.is_final());
        assert!(!State::Reserved.is_final());
    }

    #[test]
    fn transitions() {
        use State::*;
        let happy = [
            ReceivedPrepare,
            Reserved,
            ReceivedFulfil,
            Committed,
            Settled,
        ];
        let mut from = None;
        for to in happy {
            assert!(can_transition(from, to), "{from:?} -> {to:?}");
            from = Some(to);
        }
        for path in [
            [Reserved, ReceivedError, AbortedError],
            [Reserved, ReservedTimeout, ExpiredReserved],
            [Reserved, ReceivedReject, AbortedRejected],
        ] {
            let mut from = Some(ReceivedPrepare);
            for to in path {
                assert!(can_transition(from, to), "{from:?} -> {to:?}");
                from = Some(to);
            }
        }
        assert!(can_transition(Some(ReceivedPrepare), ExpiredPrepared));
        assert!(!can_transition(Some(Committed), AbortedError));
        assert!(!can_transition(Some(ReceivedPrepare), Committed));
        assert!(!can_transition(None, Reserved));
        assert!(!can_transition(Some(AbortedRejected), Reserved));
    }

    #[test]
    fn liquidity_is_checked_before_the_limit() {
        // Holds 100, cap 1000: 150 fails on liquidity even though the cap allows it.
        let account = PayerAccount {
            position: m("0"),
            reserved: m("0"),
            net_debit_cap: m("1000"),
            settlement_value: m("-100"),
        };
        assert_eq!(
            reserve_prepares(account, &[prepare("150")]).0,
            vec![Err(PrepareRejection::InsufficientLiquidity)]
        );
        // Holds 1000, cap 100: 150 fails on the limit.
        let account = PayerAccount {
            position: m("0"),
            reserved: m("0"),
            net_debit_cap: m("100"),
            settlement_value: m("-1000"),
        };
        assert_eq!(
            reserve_prepares(account, &[prepare("150")]).0,
            vec![Err(PrepareRejection::NetDebitCapExceeded)]
        );
        assert_eq!(PrepareRejection::InsufficientLiquidity.error_code(), 4001);
        assert_eq!(PrepareRejection::NetDebitCapExceeded.error_code(), 4200);
    }

    #[test]
    fn a_batch_uses_up_headroom_in_order() {
        let account = PayerAccount {
            position: m("20"),
            reserved: m("0"),
            net_debit_cap: m("100"),
            settlement_value: m("-1000"),
        };
        let batch = [
            prepare("50"),
            prepare("40"),
            Prepare {
                amount: m("1"),
                in_prepared_state: false,
            },
            prepare("30"),
            prepare("10"),
        ];
        let (outcomes, position) = reserve_prepares(account, &batch);
        assert_eq!(
            outcomes,
            vec![
                Ok(m("70")),
                Err(PrepareRejection::NetDebitCapExceeded),
                Err(PrepareRejection::WrongState),
                Ok(m("100")),
                Err(PrepareRejection::NetDebitCapExceeded)
            ]
        );
        assert_eq!(position, m("100"));
    }

    #[test]
    fn exact_fit_is_accepted_and_reserved_value_counts() {
        let account = PayerAccount {
            position: m("0"),
            reserved: m("25"),
            net_debit_cap: m("100"),
            settlement_value: m("-100"),
        };
        assert_eq!(
            reserve_prepares(account, &[prepare("75")]).0,
            vec![Ok(m("75"))]
        );
        assert_eq!(
            reserve_prepares(account, &[prepare("75.0001")]).0,
            vec![Err(PrepareRejection::InsufficientLiquidity)]
        );
    }
}
