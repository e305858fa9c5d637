//! The ledger book: the only code that writes `participantPosition`,
//! `participantPositionChange` and `transferStateChange`.
//!
//! Every movement of money and every change of a transfer's state goes through it, from the
//! transfer handlers (prepare, fulfil, timeout), funds in and out, and central settlement
//! (net settlement transfers and immediate gross settlement):
//!
//! 1. [`lock_positions`] locks the accounts' position rows in ONE statement, sorted by
//!    account id (the lock order of the whole ledger, so two writers cannot deadlock on
//!    positions). The [`Positions`] it returns is the only way to move a position.
//! 2. The caller decides with the pure core (`ledger::transfer`, `ledger::funds`,
//!    `ledger::settlement`) and records what it decided in a [`Journal`]: state transitions
//!    and position moves, each move journaled against one of the transitions.
//! 3. [`Journal::write`] checks every transition against `ledger::transfer::can_transition`
//!    (and that a transfer's transitions chain), inserts them in one statement, applies the
//!    moves with checked arithmetic, writes each moved position once and the journal in one
//!    statement.
//!
//! A broken rule is an [`Error::Invariant`] (see [`invariant!`]): logged, counted by the
//! caller, and the caller's transaction rolls back. Nothing here commits: the caller owns the
//! transaction, so a batch stays one durable commit.
//!
//! The book also owns the one "latest state of a transfer" query ([`latest`]) that every
//! answer about a transfer's state is built from, and the transfer row lock
//! ([`lock_transfers`]) every writer takes before reading a transfer's state.
//!
//! Currency conversions (`fxTransfer`, FSPIOP 2.0) are journaled the same way
//! ([`Journal::fx_post`], [`Kind::Fx`]): their state changes go to `fxTransferStateChange`
//! and their moves point at them (`participantPositionChange.fxTransferStateChangeId`), so a
//! conversion and its dependent transfer are written by one journal in one transaction. Lock
//! order: conversions ([`lock_fx_transfers`]), then transfers, then positions.

mod journal;
mod positions;
mod states;

pub use journal::{Journal, Kind, StateIds};
pub use positions::{lock_positions, Position, Positions};
pub use states::{
    latest, latest_fx_many, latest_many, latest_states, lock_fx_transfers, lock_transfers, Latest,
};

/// The hub's `participantId` (the `Hub` participant every ledger has).
pub const HUB_PARTICIPANT_ID: u32 = 1;

/// The duplicate-check hash of a request body (the `hash` of `transferDuplicateCheck` and its
/// fulfil and error siblings): base64 (no padding) of SHA-256 over the canonical JSON of the
/// body, so key order and whitespace do not make a resend look new.
pub fn body_hash(body: &serde_json::Value) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(
        fspiop::canonical::to_string(body).as_bytes(),
    ))
}

/// A time as MySQL `DATETIME(3)` text (`YYYY-MM-DD HH:MM:SS.mmm`, UTC).
#[derive(Debug, Clone, Copy)]
pub struct DbTime(pub i64);

impl std::fmt::Display for DbTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let iso = fspiop::datetime::format_date_time(self.0);
        f.write_str(iso.replace('T', " ").trim_end_matches('Z'))
    }
}

/// A MySQL transaction; the book writes inside its caller's.
pub type Tx<'a> = sqlx::Transaction<'a, sqlx::MySql>;

/// What the book refuses or fails with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A rule of the ledger would be broken; nothing of the batch may be kept.
    #[error("ledger invariant broken: {0}")]
    Invariant(String),
}

/// A result with the book's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A broken invariant: logged here (with its message) and returned as [`Error::Invariant`].
pub fn broken(message: impl Into<String>) -> Error {
    let message = message.into();
    tracing::error!(invariant = %message, "ledger invariant broken; the transaction is rolled back");
    Error::Invariant(message)
}

/// `invariant!(condition, "format", args…)`: when `condition` is false, returns
/// `Err(Error::Invariant(…).into())` from the enclosing function after logging it. Never a
/// panic and never a silent default: the caller's transaction rolls back and its handler
/// counts the break.
#[macro_export]
macro_rules! invariant {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err($crate::broken(format!($($message)+)).into());
        }
    };
}

/// Keeps text within a column of `max` characters.
fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

use store::push_in_list;
