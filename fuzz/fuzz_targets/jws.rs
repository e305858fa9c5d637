//! JWS on FSPIOP requests: the `FSPIOP-Signature` header (JSON with a base64url protected
//! header and signature), the protected header's members and the `FSPIOP-URI` rules, verified
//! with one fixed ES256 key. The input is `METHOD PATH`, then `name: value` lines, an empty
//! line, and the body. The first byte picks what to do:
//! - 0: verify the request as received (every failure is an FSPIOP error, never a panic);
//! - 1: sign the request with the fixed key, then verify it: what we sign must verify;
//! - 2: the body is a protected header, signed with the fixed key over the request body
//!   `{"a":1}`, so the member checks after the signature are reached.
#![no_main]
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used,
    reason = "a fuzz target asserts by panicking"
)]

use std::sync::LazyLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use fspiop::jws::{self, Algorithm, KeyStore, SigningKey, VerifyOptions, VerifyingKey};
use josekit::jws::JwsSigner as _;
use libfuzzer_sys::fuzz_target;

struct Keys {
    private_pem: Vec<u8>,
    signing: SigningKey,
    verifying: VerifyingKey,
}

/// Every participant has the one fixed key.
impl KeyStore for Keys {
    fn key_for(&self, _fsp_id: &str) -> Option<&VerifyingKey> {
        Some(&self.verifying)
    }
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let (private_pem, public_pem) =
        jws::generate_key_pair(Algorithm::ES256).expect("an ES256 key pair");
    Keys {
        signing: SigningKey::from_pem(&private_pem, None).expect("the private key"),
        verifying: VerifyingKey::from_pem(&public_pem).expect("the public key"),
        private_pem,
    }
});

const SIGNING_HEADERS: [&str; 3] = ["fspiop-signature", "fspiop-uri", "fspiop-http-method"];

const OPTIONS: [VerifyOptions; 2] = [
    VerifyOptions {
        accept_canonical_body: true,
        check_request_line: true,
    },
    VerifyOptions {
        accept_canonical_body: false,
        check_request_line: false,
    },
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let split = rest.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(at) => (&rest[..at], &rest[at + 2..]),
        None => (rest, &b""[..]),
    };
    let Ok(head) = std::str::from_utf8(head) else {
        return;
    };
    let mut lines = head.split('\n');
    let request_line = lines.next().unwrap_or_default();
    let (method, path) = request_line.split_once(' ').unwrap_or((request_line, "/"));
    let mut headers: Vec<(&str, &str)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name, value.strip_prefix(' ').unwrap_or(value)))
        .collect();
    let keys = &*KEYS;

    let _ = jws::fspiop_uri(path);
    let _ = jws::sdk_fspiop_uri(path);
    match selector % 3 {
        0 => {
            for options in OPTIONS {
                let _ = jws::verify(keys, method, path, headers.as_slice(), body, options);
            }
        }
        1 => {
            let Ok(signed) = jws::sign(&keys.signing, method, path, headers.as_slice(), body)
            else {
                return;
            };
            headers.retain(|(name, _)| {
                !SIGNING_HEADERS
                    .iter()
                    .any(|signing| name.eq_ignore_ascii_case(signing))
            });
            headers.push(("fspiop-signature", &signed.signature_header));
            headers.push(("fspiop-uri", &signed.fspiop_uri));
            headers.push(("fspiop-http-method", &signed.fspiop_http_method));
            if body.is_empty() {
                return;
            }
            for options in OPTIONS {
                if let Err(e) = jws::verify(keys, method, path, headers.as_slice(), body, options) {
                    panic!("a request we signed does not verify: {e:?} {signed:?}");
                }
            }
        }
        _ => {
            let signer = josekit::jws::ES256
                .signer_from_pem(&keys.private_pem)
                .expect("the ES256 signer");
            let protected = URL_SAFE_NO_PAD.encode(body);
            let request_body = br#"{"a":1}"#;
            let input = format!("{protected}.{}", URL_SAFE_NO_PAD.encode(request_body));
            let signature = signer.sign(input.as_bytes()).expect("an ES256 signature");
            let header = format!(
                r#"{{"protectedHeader":"{protected}","signature":"{}"}}"#,
                URL_SAFE_NO_PAD.encode(signature)
            );
            headers.retain(|(name, _)| !name.eq_ignore_ascii_case("fspiop-signature"));
            headers.push(("fspiop-signature", &header));
            for options in OPTIONS {
                let _ = jws::verify(
                    keys,
                    method,
                    path,
                    headers.as_slice(),
                    request_body,
                    options,
                );
            }
        }
    }
});
