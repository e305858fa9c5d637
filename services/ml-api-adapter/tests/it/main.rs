//! Integration tests of the ML API Adapter against a real Kafka-protocol broker (and, for the
//! notification handler, a real MySQL with a fresh central ledger database per test). Each
//! test has its own topic prefix, so tests run in parallel.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "test code: a failed expectation panics"
)]

mod api;
mod fx;
mod helpers;
mod interop;
mod jws;
mod notification;
