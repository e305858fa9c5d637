//! Currency conversion (FSPIOP 2.0 FX), payer conversion: a DFSP holding currency S pays a
//! payee in currency T through a foreign exchange provider (FXP). Two linked transfers move
//! money, each in one currency:
//!
//! | step | S accounts | T accounts |
//! | --- | --- | --- |
//! | fxTransfer prepared (`POST /fxTransfers`) | initiator +S (reserved, checked like a prepare) | |
//! | FXP fulfils the fxTransfer (`PUT /fxTransfers`) | (RECEIVED_FULFIL_DEPENDENT, no move) | |
//! | dependent transfer prepared (`POST /transfers`, id = `determiningTransferId`) | | FXP +T (reserved on the FXP, not the payer) |
//! | payee commits the dependent transfer | FXP −S | payee −T |
//!
//! Committed, each currency's moves sum to zero. The two transfers finish together: the
//! dependent transfer's commit commits the fxTransfer in the same write, and an abort or expiry
//! of either gives back every reservation of both (Mojaloop commits them in a chain of separate
//! messages and can expire the fxTransfer while its transfer commits; here that cannot happen,
//! as both are decided in one journal by the functions below).

use crate::money::Money;
use crate::transfer::{AccountId, BatchPrepare, Posting, ReservedTransfer, State};

/// The accounts and amounts of a conversion and its dependent transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    /// What the initiator pays, in S.
    pub source_amount: Money,
    /// What the FXP delivers, in T.
    pub target_amount: Money,
    /// The initiating DFSP's POSITION account in S.
    pub initiator_source: AccountId,
    /// The FXP's POSITION account in S.
    pub fxp_source: AccountId,
    /// The FXP's POSITION account in T.
    pub fxp_target: AccountId,
    /// The payee's POSITION account in T.
    pub payee_target: AccountId,
}

impl Conversion {
    /// The fxTransfer's reservation: the initiator's S position, checked for liquidity and the
    /// net debit cap exactly as a prepare is (`decide_prepares`).
    pub fn fx_reservation(&self) -> BatchPrepare {
        BatchPrepare {
            payer_account: self.initiator_source,
            amount: self.source_amount,
        }
    }

    /// The dependent transfer's reservation: on the FXP's T position (the FXP pays the payee),
    /// checked as a prepare of the FXP.
    pub fn dependent_reservation(&self) -> BatchPrepare {
        BatchPrepare {
            payer_account: self.fxp_target,
            amount: self.target_amount,
        }
    }

    /// The dependent transfer as the ordinary rules see it: the FXP pays the payee.
    pub fn dependent(&self) -> ReservedTransfer {
        ReservedTransfer {
            amount: self.target_amount,
            payer_account: self.fxp_target,
            payee_account: self.payee_target,
        }
    }
}

/// The FXP's fulfilment accepted: RECEIVED_FULFIL_DEPENDENT, waiting for the dependent
/// transfer; nothing moves.
pub fn fx_fulfil() -> Posting {
    Posting {
        path: &[State::ReceivedFulfilDependent],
        moves: Vec::new(),
    }
}

/// What finishing a conversion records: the fxTransfer's posting (from its current state) and,
/// when the dependent transfer was reserved, its posting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    pub fx: Posting,
    pub dependent: Option<Posting>,
}

/// The payee committed the dependent transfer: the fxTransfer (RECEIVED_FULFIL_DEPENDENT)
/// commits with it, the FXP's S position taking the initiator's payment. `None` when the
/// fxTransfer is in any other state: the FXP has not fulfilled, so nothing may commit.
pub fn commit(conversion: &Conversion, fx_state: State) -> Option<Finish> {
    if fx_state != State::ReceivedFulfilDependent {
        return None;
    }
    Some(Finish {
        fx: Posting {
            path: &[State::Committed],
            moves: vec![(conversion.fxp_source, conversion.source_amount.negate())],
        },
        dependent: Some(crate::transfer::commit(conversion.dependent())),
    })
}

/// An error from either side, or a refusal: both transfers abort and every reservation is
/// given back. `dependent_reserved`: whether the dependent transfer holds its reservation.
/// `None` when the fxTransfer is already final.
pub fn abort(conversion: &Conversion, fx_state: State, dependent_reserved: bool) -> Option<Finish> {
    let path: &'static [State] = match fx_state {
        State::Reserved | State::ReceivedFulfilDependent => {
            &[State::ReceivedError, State::AbortedError]
        }
        _ => return None,
    };
    Some(Finish {
        fx: Posting {
            path,
            moves: vec![(
                conversion.initiator_source,
                conversion.source_amount.negate(),
            )],
        },
        dependent: dependent_reserved.then(|| crate::transfer::abort(conversion.dependent())),
    })
}

/// The conversion expired unfinished: both transfers expire together (the dependent
/// transfer's expiry cannot outlast the conversion's), every reservation given back.
pub fn expire(
    conversion: &Conversion,
    fx_state: State,
    dependent_reserved: bool,
) -> Option<Finish> {
    if !matches!(fx_state, State::Reserved | State::ReceivedFulfilDependent) {
        return None;
    }
    Some(Finish {
        fx: Posting {
            path: &[State::ReservedTimeout, State::ExpiredReserved],
            moves: vec![(
                conversion.initiator_source,
                conversion.source_amount.negate(),
            )],
        },
        dependent: dependent_reserved.then(|| crate::transfer::expire(conversion.dependent())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::can_transition;
    use std::collections::BTreeMap;

    fn m(text: &str) -> Money {
        Money::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    // Accounts: 1 initiator S, 2 FXP S, 3 FXP T, 4 payee T.
    fn conversion() -> Conversion {
        Conversion {
            source_amount: m("300"),
            target_amount: m("48000"),
            initiator_source: 1,
            fxp_source: 2,
            fxp_target: 3,
            payee_target: 4,
        }
    }

    /// Positions after applying the reservations and the postings; each state path legal.
    fn apply(
        reservations: &[BatchPrepare],
        postings: &[(State, &Posting)],
    ) -> BTreeMap<AccountId, Money> {
        let mut positions: BTreeMap<AccountId, Money> = BTreeMap::new();
        let mut add = |account: AccountId, change: Money| {
            let entry = positions.entry(account).or_insert(Money::ZERO);
            *entry = entry.try_add(change).unwrap_or_else(|e| panic!("{e}"));
        };
        for r in reservations {
            add(r.payer_account, r.amount);
        }
        for (from, posting) in postings {
            let mut state = *from;
            for to in posting.path {
                assert!(can_transition(Some(state), *to), "{state:?} -> {to:?}");
                state = *to;
            }
            for (account, change) in &posting.moves {
                add(*account, *change);
            }
        }
        positions
    }

    #[test]
    fn committed_each_currency_sums_to_zero() {
        let c = conversion();
        let fulfil = fx_fulfil();
        let finish = commit(&c, State::ReceivedFulfilDependent).unwrap_or_else(|| panic!());
        let dependent = finish.dependent.clone().unwrap_or_else(|| panic!());
        let positions = apply(
            &[c.fx_reservation(), c.dependent_reservation()],
            &[
                (State::Reserved, &fulfil),
                (State::ReceivedFulfilDependent, &finish.fx),
                (State::Reserved, &dependent),
            ],
        );
        // S: initiator +300, FXP −300; T: FXP +48000, payee −48000.
        assert_eq!(positions.get(&1), Some(&m("300")));
        assert_eq!(positions.get(&2), Some(&m("-300")));
        assert_eq!(positions.get(&3), Some(&m("48000")));
        assert_eq!(positions.get(&4), Some(&m("-48000")));
    }

    #[test]
    fn nothing_commits_before_the_fxp_fulfils() {
        let c = conversion();
        assert_eq!(commit(&c, State::Reserved), None);
        assert_eq!(commit(&c, State::Committed), None);
    }

    #[test]
    fn an_abort_or_expiry_gives_every_reservation_back() {
        let c = conversion();
        for (fx_state, dependent_reserved) in [
            (State::Reserved, false),
            (State::ReceivedFulfilDependent, false),
            (State::ReceivedFulfilDependent, true),
        ] {
            for finish in [
                abort(&c, fx_state, dependent_reserved),
                expire(&c, fx_state, dependent_reserved),
            ] {
                let finish = finish.unwrap_or_else(|| panic!("{fx_state:?}"));
                let mut reservations = vec![c.fx_reservation()];
                let mut postings = vec![(fx_state, &finish.fx)];
                if dependent_reserved {
                    reservations.push(c.dependent_reservation());
                }
                if let Some(dependent) = &finish.dependent {
                    postings.push((State::Reserved, dependent));
                }
                assert_eq!(finish.dependent.is_some(), dependent_reserved);
                let positions = apply(&reservations, &postings);
                assert!(
                    positions.values().all(|p| *p == Money::ZERO),
                    "{fx_state:?} {dependent_reserved}: {positions:?}"
                );
            }
        }
        assert_eq!(abort(&c, State::Committed, true), None);
        assert_eq!(expire(&c, State::AbortedError, false), None);
    }
}
