//! ILP: v1 and v4 packet decoding from the `ilpPacket` text, base64url conditions and
//! fulfilments, and the payee's terms. Decoded packets must encode to bytes that decode to the
//! same packet; terms made from a quote must decode back to their transaction object and
//! fulfilment.
#![no_main]
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a fuzz target asserts by panicking"
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use fspiop::ilp::{self, Ilp, IlpVersion, IlpVersions, Packet, PaymentV1, Prepare};
use libfuzzer_sys::fuzz_target;

fn round_trip(packet: &Packet) {
    match packet {
        Packet::V4(prepare) => {
            let bytes = match prepare.encode() {
                Ok(bytes) => bytes,
                Err(e) => panic!("a decoded v4 packet does not encode: {e} {prepare:?}"),
            };
            assert_eq!(Prepare::decode(&bytes).as_ref(), Ok(prepare));
        }
        Packet::V1(payment) => {
            assert_eq!(PaymentV1::decode(&payment.encode()).as_ref(), Ok(payment));
        }
    }
}

fn packet_text(text: &str) {
    for version in [IlpVersion::V4, IlpVersion::V1] {
        if let Ok(packet) = ilp::decode_packet(text, version) {
            assert_eq!(packet.version(), version);
            round_trip(&packet);
            let _ = packet.transaction_object();
            let _ = Ilp::new(version, "fuzz").fulfilment_for_packet(text);
            let _ = Ilp::new(version, "fuzz").hmac_inputs(text);
        }
    }
    let both = IlpVersions::from_names(&["v1", "v4"]).ok();
    for allowed in [
        Some(IlpVersions::only(IlpVersion::V4)),
        Some(IlpVersions::only(IlpVersion::V1)),
        both,
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(packet) = ilp::decode_packet_of(text, allowed) {
            assert!(allowed.allows(packet.version()));
            round_trip(&packet);
        }
    }
}

fn fulfilment_text(text: &str) {
    let canonical = ilp::is_canonical_32(text);
    if let Ok(condition) = ilp::condition_from_fulfilment(text) {
        assert!(ilp::is_canonical_32(&condition), "{condition}");
        assert!(ilp::fulfilment_matches(text, &condition));
    } else {
        assert!(!canonical, "a canonical fulfilment has a condition: {text}");
    }
}

/// Terms from a `{"request": …, "response": …}` pair of quote bodies.
fn terms(json: &serde_json::Value) {
    let (Some(request), Some(response)) = (json.get("request"), json.get("response")) else {
        return;
    };
    for version in [IlpVersion::V4, IlpVersion::V1] {
        let payee = Ilp::new(version, "fuzz secret");
        let Ok(terms) = payee.quote_response_terms(request, response) else {
            continue;
        };
        let packet = match ilp::decode_packet(&terms.ilp_packet, version) {
            Ok(packet) => packet,
            Err(e) => panic!("a packet the payee made does not decode: {e}"),
        };
        round_trip(&packet);
        assert_eq!(
            packet.transaction_object().ok(),
            Some(terms.transaction_object.clone())
        );
        assert_eq!(
            payee.fulfilment_for_packet(&terms.ilp_packet).ok(),
            Some(terms.fulfilment.clone())
        );
        assert!(ilp::fulfilment_matches(&terms.fulfilment, &terms.condition));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        // The packet as raw bytes, as a peer's base64url would carry them.
        0 => packet_text(&URL_SAFE_NO_PAD.encode(rest)),
        1 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                packet_text(text);
            }
        }
        2 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                fulfilment_text(text);
            }
            fulfilment_text(&URL_SAFE_NO_PAD.encode(rest));
        }
        _ => {
            if let Ok(json) = serde_json::from_slice::<serde_json::Value>(rest) {
                terms(&json);
            }
        }
    }
});
