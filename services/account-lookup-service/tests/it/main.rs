//! Integration tests of the Account Lookup Service against a real MySQL: each test gets a
//! fresh central ledger database (participants and endpoints inserted with SQL), a fresh ALS
//! database, the MSISDN oracle in-process on its own fresh database, and DFSP test servers
//! that record what they receive.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

mod admin;
mod discovery;
mod headers;
mod helpers;
mod interop;
mod local_oracle;
mod participants;
mod relay;
