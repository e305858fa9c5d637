//! Integration tests of the Quoting Service against a real MySQL, with DFSP test servers.
//! Each test creates its own central ledger database (participants, accounts and endpoints
//! inserted by SQL) and, in persistent mode, its own quotes database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

mod bulk;
mod duplicates;
mod fx;
mod helpers;
mod ilp;
mod interop;
mod participants;
mod pass_through;
mod relay;
mod sync_errors;
