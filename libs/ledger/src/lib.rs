//! The central ledger's domain core: exact money at scale 4, the account and entry types, and
//! the rules that move positions (funds in and out today; transfers build on the same rules).
//!
//! **Architecture invariant:** no IO, no clock, no serde, no SQL. Callers pass current values in
//! and get the changes to apply back.

pub mod bulk;
pub mod funds;
pub mod fx;
pub mod money;
pub mod names;
pub mod settlement;
pub mod transfer;

pub use money::{Money, MoneyError};
