//! Funds in and funds out: how recording money deposited at or withdrawn from the settlement
//! bank moves the ledger.
//!
//! A funds movement is a transfer between the hub's reconciliation account and the DFSP's
//! SETTLEMENT account with two legs that sum to zero (+ debit, − credit):
//!
//! | movement | hub leg | DFSP leg |
//! | --- | --- | --- |
//! | funds in | +amount | −amount |
//! | funds out | −amount | +amount |
//!
//! Reserving applies the debit (positive) leg to its account, committing applies the credit
//! (negative) leg, aborting reverses the debit. A DFSP's SETTLEMENT value is therefore the
//! negative of the funds it holds; funds out may not take it above zero.

use crate::money::{Money, MoneyError};

/// Which way money moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

/// One side of a funds movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The hub's reconciliation account in the currency.
    Hub,
    /// The DFSP's SETTLEMENT account.
    Dfsp,
}

/// A change to apply to one side's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub side: Side,
    pub delta: Money,
}

/// The signed leg amounts `(hub, dfsp)` of a movement of `amount` (> 0).
pub fn legs(direction: Direction, amount: Money) -> (Money, Money) {
    match direction {
        Direction::In => (amount, amount.negate()),
        Direction::Out => (amount.negate(), amount),
    }
}

/// The change a reservation makes: the debit leg.
pub fn reserve(direction: Direction, amount: Money) -> Change {
    match direction {
        Direction::In => Change {
            side: Side::Hub,
            delta: amount,
        },
        Direction::Out => Change {
            side: Side::Dfsp,
            delta: amount,
        },
    }
}

/// The change a commit makes: the credit leg.
pub fn commit(direction: Direction, amount: Money) -> Change {
    match direction {
        Direction::In => Change {
            side: Side::Dfsp,
            delta: amount.negate(),
        },
        Direction::Out => Change {
            side: Side::Hub,
            delta: amount.negate(),
        },
    }
}

/// The change an abort makes: the reservation reversed.
pub fn abort(direction: Direction, amount: Money) -> Change {
    let reserved = reserve(direction, amount);
    Change {
        side: reserved.side,
        delta: reserved.delta.negate(),
    }
}

/// Why a funds-out cannot be reserved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FundsError {
    #[error("funds out of {amount} exceeds the {available} available in the settlement account")]
    InsufficientFunds { amount: Money, available: Money },
    #[error("the amount must be greater than zero")]
    NotPositive,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Funds a DFSP holds given its SETTLEMENT account value (reservations for pending funds out
/// already included).
pub fn available(settlement_value: Money) -> Money {
    settlement_value.negate()
}

/// The SETTLEMENT value after reserving a funds out of `amount`, or why it cannot be.
pub fn reserve_out(settlement_value: Money, amount: Money) -> Result<Money, FundsError> {
    if !amount.is_positive() {
        return Err(FundsError::NotPositive);
    }
    let after = settlement_value.try_add(amount)?;
    if after.is_positive() {
        return Err(FundsError::InsufficientFunds {
            amount,
            available: available(settlement_value),
        });
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Money {
        Money::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn legs_sum_to_zero() {
        for direction in [Direction::In, Direction::Out] {
            let (hub, dfsp) = legs(direction, m("10.5"));
            assert_eq!(hub.try_add(dfsp), Ok(Money::ZERO));
        }
    }

    #[test]
    fn funds_in_then_out_round_trip() {
        // Funds in 100: reserve debits the hub, commit credits the DFSP settlement account.
        let mut hub = Money::ZERO;
        let mut settlement = Money::ZERO;
        for change in [
            reserve(Direction::In, m("100")),
            commit(Direction::In, m("100")),
        ] {
            match change.side {
                Side::Hub => hub = hub.try_add(change.delta).unwrap_or_default(),
                Side::Dfsp => settlement = settlement.try_add(change.delta).unwrap_or_default(),
            }
        }
        assert_eq!((hub, settlement), (m("100"), m("-100")));
        assert_eq!(available(settlement), m("100"));
        // Funds out 40 reserves against the DFSP, then commits against the hub.
        settlement = reserve_out(settlement, m("40")).unwrap_or_default();
        assert_eq!(settlement, m("-60"));
        let committed = commit(Direction::Out, m("40"));
        assert_eq!(
            committed,
            Change {
                side: Side::Hub,
                delta: m("-40")
            }
        );
        // An abort gives the reservation back.
        assert_eq!(
            abort(Direction::Out, m("40")),
            Change {
                side: Side::Dfsp,
                delta: m("-40")
            }
        );
    }

    #[test]
    fn funds_out_cannot_overdraw() {
        assert_eq!(reserve_out(m("-100"), m("100")), Ok(Money::ZERO));
        assert_eq!(
            reserve_out(m("-100"), m("100.0001")),
            Err(FundsError::InsufficientFunds {
                amount: m("100.0001"),
                available: m("100")
            })
        );
        assert_eq!(
            reserve_out(m("-100"), Money::ZERO),
            Err(FundsError::NotPositive)
        );
    }
}
