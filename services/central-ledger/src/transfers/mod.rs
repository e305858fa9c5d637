//! The transfer handlers: prepare (with the payer's position reservation in the same
//! transaction), fulfil (with the payee's commit or the payer's reversal), get and timeout,
//! and the notifications they send. Each handler takes a batch of messages,
//! applies it in one database transaction and only then produces its output and commits its
//! offsets, so a transfer costs one durable commit per phase however many arrive together.

pub mod batch;
pub mod fulfil;
pub mod get;
pub mod notify;
pub mod prepare;
pub mod timeout;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The duplicate-check hash of a request body: base64 (no padding) of SHA-256 over the
/// canonical JSON of the body, so key order and whitespace do not make a resend look new.
pub fn body_hash(body: &serde_json::Value) -> String {
    STANDARD_NO_PAD.encode(Sha256::digest(
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
