//! Integration tests of the MSISDN oracle against a real MySQL: each test gets its own
//! database and its own server on port 0.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

mod api;
mod helpers;
