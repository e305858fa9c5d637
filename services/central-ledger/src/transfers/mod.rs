//! The transfer handlers: prepare (with the payer's position reservation in the same
//! transaction), fulfil (with the payee's commit or the payer's reversal), get and timeout,
//! and the notifications they send. Each handler takes a batch of messages,
//! applies it in one database transaction and only then produces its output and commits its
//! offsets, so a transfer costs one durable commit per phase however many arrive together.

pub mod batch;
pub mod bulk;
pub mod fulfil;
pub mod fx;
pub mod get;
pub mod notify;
pub mod prepare;
pub mod timeout;

pub use ledger_book::{body_hash, DbTime};
