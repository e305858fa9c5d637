//! Integration tests of the central ledger's admin API against a real MySQL and a real
//! Kafka-protocol broker. Each test gets its own database and its own topic prefix.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

mod concurrency;
mod delivery;
mod errors;
mod fulfil;
mod funds;
mod fx;
mod helpers;
mod metrics;
mod onboarding;
mod prepare;
