//! Every FSPIOP resource body through the schema walker (`fspiop::types::parse_body`): the first
//! byte picks the body type and whether unknown properties are rejected, the rest is the body.
//! A body that is accepted must survive its own serialisation: what the switch accepts and
//! forwards typed, it accepts again unchanged.
#![no_main]
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a fuzz target asserts by panicking"
)]

use fspiop::types::{self, parse_body, Body};
use fspiop::validate::UnknownFields;
use fspiop::ErrorInformationObject;
use libfuzzer_sys::fuzz_target;

fn check<T: Body + serde::Serialize + PartialEq + std::fmt::Debug>(
    body: &[u8],
    unknown: UnknownFields,
) {
    let Ok(typed) = parse_body::<T>(body, unknown) else {
        return;
    };
    let again = match serde_json::to_vec(&typed) {
        Ok(bytes) => bytes,
        Err(e) => panic!("an accepted body does not serialise: {e}"),
    };
    match parse_body::<T>(&again, UnknownFields::Reject) {
        Ok(reparsed) => assert_eq!(reparsed, typed, "round trip changed the body"),
        Err(e) => panic!(
            "an accepted body, serialised, is refused: {e:?}\n{}",
            String::from_utf8_lossy(&again)
        ),
    }
}

/// The body types, in the order the selector byte numbers them (tests/README name them).
const BODIES: &[fn(&[u8], UnknownFields)] = &[
    check::<types::PartiesTypeIdPutResponse>,
    check::<types::ParticipantsTypeIdSubIdPostRequest>,
    check::<types::ParticipantsTypeIdPutResponse>,
    check::<types::ParticipantsPostRequest>,
    check::<types::ParticipantsIdPutResponse>,
    check::<ErrorInformationObject>,
    check::<types::QuotesPostRequest>,
    check::<types::QuotesIdPutResponse>,
    check::<types::TransactionRequestsPostRequest>,
    check::<types::TransactionRequestsIdPutResponse>,
    check::<types::AuthorizationsIdPutResponse>,
    check::<types::TransfersPostRequest>,
    check::<types::TransfersIdPutResponse>,
    check::<types::TransfersIdPatchResponse>,
    check::<types::FxQuotesPostRequest>,
    check::<types::FxQuotesIdPutResponse>,
    check::<types::FxTransfersPostRequest>,
    check::<types::FxTransfersIdPutResponse>,
    check::<types::FxTransfersIdPatchResponse>,
    check::<types::BulkQuotesPostRequest>,
    check::<types::BulkQuotesIdPutResponse>,
    check::<types::BulkTransfersPostRequest>,
    check::<types::BulkTransfersIdPutResponse>,
    check::<types::Transaction>,
    check::<types::Party>,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let unknown = if selector & 0x80 == 0 {
        UnknownFields::Allow
    } else {
        UnknownFields::Reject
    };
    let index = usize::from(selector & 0x7f) % BODIES.len();
    BODIES[index](body, unknown);
});
