//! The FSPIOP protocol as the switch speaks it: data types and their validation, headers and
//! version negotiation, the error code table, JWS signatures, ILP packets with conditions and
//! fulfilments, the Kafka message envelope Mojaloop's services exchange, and W3C trace context.
//!
//! **API boundary:** every service depends on this crate; it knows nothing about MySQL,
//! Kafka clients, HTTP servers or the clock. Functions that need the time take it as an
//! argument (milliseconds since the Unix epoch).

pub mod amount;
pub mod canonical;
pub mod currency;
pub mod datetime;
pub mod envelope;
pub mod error;
pub mod headers;
pub mod hex;
pub mod ilp;
pub mod jws;
pub mod trace_context;
pub mod types;
pub mod validate;

pub use error::{ErrorCode, ErrorInformation, ErrorInformationObject, FspiopError};
