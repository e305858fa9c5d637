//! Per-message costs of the protocol work the switch does on its hot path: JWS verification,
//! ILP packet decoding and request validation (headers and body).
//!
//! Run with `cargo bench -p fspiop --bench protocol`.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use fspiop::headers::{validate_request_headers, HeaderRules, ProtocolVersions};
use fspiop::ilp::{self, Ilp, IlpVersion};
use fspiop::jws::{self, SigningKey, VerifyOptions, VerifyingKey};
use fspiop::types;
use serde_json::{json, Value};

fn key(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/keys")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn quote_pair() -> (Value, Value) {
    let party = |fsp: &str, id: &str| {
        json!({"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": id, "fspId": fsp},
        "name": "Test Person", "personalInfo": {"complexName": {"firstName": "Test", "lastName": "Person"}, "dateOfBirth": "1984-01-01"}})
    };
    let request = json!({"quoteId": "7c23e80c-d078-4077-8263-2c047876fcf6", "transactionId": "85feac2f-39b2-491b-817e-4a03203d4f14",
        "payer": party("perffsp-1", "19012345001"), "payee": party("perffsp-5", "19012345401"), "amountType": "SEND",
        "amount": {"amount": "100", "currency": "USD"},
        "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"}});
    let response = json!({"transferAmount": {"amount": "100", "currency": "USD"}, "expiration": "2030-01-01T00:00:00.000Z"});
    (request, response)
}

fn transfer_request() -> (Vec<(&'static str, &'static str)>, Vec<u8>, String) {
    let (request, response) = quote_pair();
    let terms = Ilp::new(IlpVersion::V4, "secret")
        .quote_response_terms(&request, &response)
        .unwrap_or_else(|e| panic!("{e}"));
    let body = fspiop::canonical::to_string(&json!({
        "transferId": "85feac2f-39b2-491b-817e-4a03203d4f14", "payerFsp": "perffsp-1", "payeeFsp": "perffsp-5",
        "amount": {"amount": "100", "currency": "USD"}, "ilpPacket": terms.ilp_packet, "condition": terms.condition,
        "expiration": "2030-01-01T00:00:00.000Z"}));
    let headers = vec![
        (
            "accept",
            "application/vnd.interoperability.transfers+json;version=1.1",
        ),
        (
            "content-type",
            "application/vnd.interoperability.transfers+json;version=1.1",
        ),
        ("date", "Tue, 15 Nov 1994 08:12:31 GMT"),
        ("fspiop-source", "perffsp-1"),
        ("fspiop-destination", "perffsp-5"),
    ];
    (headers, body.into_bytes(), terms.ilp_packet)
}

fn jws_verify(c: &mut Criterion) {
    let (headers, body, _) = transfer_request();
    for (alg, private, public) in [
        ("RS256", "rsa-private.pem", "rsa-public.pem"),
        ("ES256", "ec-private.pem", "ec-public.pem"),
    ] {
        let signer = SigningKey::from_pem(&key(private), None).unwrap_or_else(|e| panic!("{e}"));
        let signed = jws::sign(&signer, "POST", "/transfers", headers.as_slice(), &body)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut received: BTreeMap<String, String> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        received.insert("fspiop-signature".into(), signed.signature_header.clone());
        received.insert("fspiop-uri".into(), signed.fspiop_uri.clone());
        received.insert(
            "fspiop-http-method".into(),
            signed.fspiop_http_method.clone(),
        );
        let keys = BTreeMap::from([(
            "perffsp-1".to_string(),
            VerifyingKey::from_pem(&key(public)).unwrap_or_else(|e| panic!("{e}")),
        )]);
        c.bench_function(&format!("jws_verify_{alg}"), |b| {
            b.iter(|| {
                jws::verify(
                    &keys,
                    "POST",
                    "/transfers",
                    &received,
                    black_box(&body),
                    VerifyOptions::default(),
                )
            })
        });
        c.bench_function(&format!("jws_sign_{alg}"), |b| {
            b.iter(|| {
                jws::sign(
                    &signer,
                    "POST",
                    "/transfers",
                    headers.as_slice(),
                    black_box(&body),
                )
            })
        });
    }
}

fn ilp_decode(c: &mut Criterion) {
    let (_, _, packet) = transfer_request();
    c.bench_function("ilp_decode_v4", |b| {
        b.iter(|| ilp::decode_packet(black_box(&packet), IlpVersion::V4))
    });
    c.bench_function("ilp_decode_v4_with_transaction_object", |b| {
        b.iter(|| {
            ilp::decode_packet(black_box(&packet), IlpVersion::V4)
                .and_then(|p| p.transaction_object())
        })
    });
    let fulfilment = "UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA";
    let condition = ilp::condition_from_fulfilment(fulfilment).unwrap_or_default();
    c.bench_function("ilp_fulfilment_check", |b| {
        b.iter(|| ilp::fulfilment_matches(black_box(fulfilment), &condition))
    });
}

fn request_validation(c: &mut Criterion) {
    let (headers, body, _) = transfer_request();
    let versions = ProtocolVersions::default();
    c.bench_function("validate_post_transfers_headers_and_body", |b| {
        b.iter(|| {
            validate_request_headers(
                "POST",
                "transfers",
                headers.as_slice(),
                &versions,
                HeaderRules::default(),
            )?;
            types::parse_body::<types::TransfersPostRequest>(black_box(&body), Default::default())
        })
    });
    let (request, _) = quote_pair();
    let quote = serde_json::to_vec(&request).unwrap_or_default();
    c.bench_function("validate_post_quotes_body", |b| {
        b.iter(|| {
            types::parse_body::<types::QuotesPostRequest>(black_box(&quote), Default::default())
        })
    });
}

criterion_group!(benches, jws_verify, ilp_decode, request_validation);
criterion_main!(benches);
