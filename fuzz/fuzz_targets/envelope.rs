//! The Kafka message envelope as the services decode it (`serde_json` into
//! `fspiop::envelope::Message`), then its payload: a data URI or JSON. A decoded message
//! serialises and decodes back to itself; a data URI built from a payload's bytes parses back
//! to them.
#![no_main]
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a fuzz target asserts by panicking"
)]

use fspiop::envelope::{self, Message, PayloadBody};
use libfuzzer_sys::fuzz_target;

fn payload(value: &serde_json::Value) {
    let Ok(decoded) = envelope::decode_payload(value) else {
        return;
    };
    let _ = decoded.to_json();
    let bytes = decoded.to_bytes();
    if let PayloadBody::Raw { media_type, .. } = &decoded {
        let uri = envelope::data_uri(media_type, &bytes);
        match envelope::parse_data_uri(&uri) {
            Some(Ok((again_type, again_bytes))) => {
                assert_eq!(&again_type, media_type);
                assert_eq!(again_bytes, bytes);
            }
            other => panic!("a data URI we made does not parse: {other:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = envelope::parse_data_uri(text);
        payload(&serde_json::Value::String(text.to_string()));
    }
    let Ok(message) = serde_json::from_slice::<Message>(data) else {
        return;
    };
    payload(&message.content.payload);
    let bytes = match serde_json::to_vec(&message) {
        Ok(bytes) => bytes,
        Err(e) => panic!("a decoded message does not serialise: {e}"),
    };
    match serde_json::from_slice::<Message>(&bytes) {
        Ok(again) => assert_eq!(again, message),
        Err(e) => panic!("a message we wrote does not decode: {e}"),
    }
});
