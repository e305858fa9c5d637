//! Locked positions: the only handle through which a position can move.

use std::collections::BTreeMap;

use ledger::transfer::AccountId;
use ledger::Money;
use sqlx::{MySql, QueryBuilder};

use crate::{broken, push_in_list, Result, Tx};

/// One account's position row, locked by this transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// `participantPositionId`.
    pub id: u64,
    pub account: AccountId,
    /// The value now, with the moves applied so far.
    pub value: Money,
    pub reserved: Money,
    /// The value as stored (last written).
    stored: Money,
}

/// Positions locked by one transaction (see [`lock_positions`]).
#[derive(Debug, Default)]
pub struct Positions {
    rows: BTreeMap<AccountId, Position>,
}

/// Locks the position rows of `accounts` in one statement, in account-id order (the lock
/// order of every writer of the ledger). An account without a position row is simply absent
/// from the result; moving it is an invariant break.
pub async fn lock_positions(tx: &mut Tx<'_>, accounts: &[AccountId]) -> Result<Positions> {
    let mut sorted = accounts.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut positions = Positions::default();
    if sorted.is_empty() {
        return Ok(positions);
    }
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT participantPositionId, participantCurrencyId, CAST(value AS CHAR), CAST(reservedValue AS CHAR)
         FROM participantPosition WHERE participantCurrencyId IN (",
    );
    push_in_list(&mut query, &sorted);
    query.push(" ORDER BY participantCurrencyId FOR UPDATE");
    let rows: Vec<(u64, AccountId, String, String)> =
        query.build_query_as().fetch_all(&mut **tx).await?;
    for (id, account, value, reserved) in rows {
        let parse = |text: &str| {
            Money::parse(text)
                .map_err(|e| broken(format!("position of account {account} is {text:?}: {e}")))
        };
        let value = parse(&value)?;
        let existing = positions.rows.insert(
            account,
            Position {
                id,
                account,
                value,
                reserved: parse(&reserved)?,
                stored: value,
            },
        );
        crate::invariant!(
            existing.is_none(),
            "account {account} has more than one position row"
        );
    }
    Ok(positions)
}

impl Positions {
    /// The locked position of `account`.
    pub fn get(&self, account: AccountId) -> Option<&Position> {
        self.rows.get(&account)
    }

    /// The current value of `account`'s position.
    pub fn value(&self, account: AccountId) -> Option<Money> {
        self.rows.get(&account).map(|p| p.value)
    }

    /// Moves `account` by `change` (checked); the position after.
    pub(crate) fn apply(&mut self, account: AccountId, change: Money) -> Result<Position> {
        let position = self.rows.get_mut(&account).ok_or_else(|| {
            broken(format!(
                "account {account} moved without its position locked"
            ))
        })?;
        position.value = position.value.try_add(change).map_err(|e| {
            broken(format!(
                "account {account}: {} + {change} is out of range: {e}",
                position.value
            ))
        })?;
        Ok(*position)
    }

    /// The positions moved since they were last written, marking them written.
    pub(crate) fn take_moved(&mut self) -> Vec<Position> {
        self.rows
            .values_mut()
            .filter(|p| p.value != p.stored)
            .map(|p| {
                p.stored = p.value;
                *p
            })
            .collect()
    }
}
