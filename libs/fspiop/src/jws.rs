//! JWS signatures on FSPIOP requests (the detached `FSPIOP-Signature` header), per Mojaloop's
//! profile and interoperable with its reference SDK (`@mojaloop/sdk-standard-components`).
//!
//! Signing builds the protected header in the SDK's member order (`alg`, `FSPIOP-URI`,
//! `FSPIOP-HTTP-Method`, `FSPIOP-Source`, then `FSPIOP-Destination` and `Date` when those
//! headers are sent) and signs `protectedHeader "." base64url(body bytes)`, so an RS256
//! signature is byte-identical to the SDK's for the same key, headers and body.
//!
//! Validation verifies over the raw body bytes (what the specification defines) and, for
//! parity with the SDK's validator, also over the canonical form of the parsed body. It is
//! stricter than the SDK where the SDK is wrong: it does not treat the body as JWT claims
//! (`exp`/`nbf`), and it can compare `FSPIOP-URI`/`FSPIOP-HTTP-Method` with the request
//! line actually received. Every failure is FSPIOP error 3105.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use josekit::jws::{JwsSigner, JwsVerifier, ES256, RS256};

use crate::canonical;
use crate::error::{ErrorCode, FspiopError};
pub use crate::headers::Headers;

/// The FSPIOP resources whose path segment starts the `FSPIOP-URI` value.
pub const URI_RESOURCES: &[&str] = &[
    "participants",
    "parties",
    "quotes",
    "bulkQuotes",
    "transfers",
    "bulkTransfers",
    "transactionRequests",
    "thirdpartyRequests",
    "authorizations",
    "consents",
    "consentRequests",
    "fxQuotes",
    "fxTransfers",
];

/// The algorithms of Mojaloop's JWS profile (the SDK's validator allows exactly these two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RS256,
    ES256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
        }
    }

    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "RS256" => Some(Algorithm::RS256),
            "ES256" => Some(Algorithm::ES256),
            _ => None,
        }
    }
}

/// A key problem found while loading or using a key (not a verdict on a request).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the PEM is neither an RSA nor a P-256 EC private key: {0}")]
    BadPrivateKey(String),
    #[error("the PEM is neither an RSA nor a P-256 EC public key: {0}")]
    BadPublicKey(String),
    #[error("a {key} key cannot sign with {alg}")]
    AlgorithmMismatch {
        key: &'static str,
        alg: &'static str,
    },
    #[error("cannot sign: {0}")]
    Sign(String),
    #[error("header {0} has a non-ASCII value; FSPIOP headers must be ASCII")]
    NonAsciiHeader(&'static str),
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("URI not valid for protected header: {0}")]
    BadUri(String),
    #[error("cannot generate a key pair: {0}")]
    Generate(String),
}

/// A new key pair for `alg` as PEM: (PKCS#8 private key, SPKI public key). RS256 keys are
/// 2048-bit RSA, ES256 keys P-256.
pub fn generate_key_pair(alg: Algorithm) -> Result<(Vec<u8>, Vec<u8>), KeyError> {
    let generate = |e: josekit::JoseError| KeyError::Generate(e.to_string());
    match alg {
        Algorithm::RS256 => {
            let pair = RS256.generate_key_pair(2048).map_err(generate)?;
            Ok((pair.to_pem_private_key(), pair.to_pem_public_key()))
        }
        Algorithm::ES256 => {
            let pair = ES256.generate_key_pair().map_err(generate)?;
            Ok((pair.to_pem_private_key(), pair.to_pem_public_key()))
        }
    }
}

/// A private key that signs FSPIOP requests.
pub struct SigningKey {
    alg: Algorithm,
    signer: Box<dyn JwsSigner>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads a PEM private key: RSA (PKCS#1 or PKCS#8) or EC P-256 (SEC1 or PKCS#8). With
    /// `alg` `None` the algorithm follows the key type (unlike the SDK, a PKCS#8 EC key is
    /// recognised as EC rather than mislabelled RS256).
    pub fn from_pem(pem: &[u8], alg: Option<Algorithm>) -> Result<SigningKey, KeyError> {
        let rsa = RS256.signer_from_pem(pem);
        let ec = ES256.signer_from_pem(pem);
        match (alg, rsa, ec) {
            (None | Some(Algorithm::RS256), Ok(signer), _) => Ok(SigningKey {
                alg: Algorithm::RS256,
                signer: Box::new(signer),
            }),
            (None | Some(Algorithm::ES256), _, Ok(signer)) => Ok(SigningKey {
                alg: Algorithm::ES256,
                signer: Box::new(signer),
            }),
            (Some(Algorithm::RS256), Err(_), Ok(_)) => Err(KeyError::AlgorithmMismatch {
                key: "EC",
                alg: "RS256",
            }),
            (Some(Algorithm::ES256), Ok(_), Err(_)) => Err(KeyError::AlgorithmMismatch {
                key: "RSA",
                alg: "ES256",
            }),
            (_, Err(rsa_error), Err(_)) => Err(KeyError::BadPrivateKey(rsa_error.to_string())),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// A participant's public key, as registered with the hub.
pub struct VerifyingKey {
    alg: Algorithm,
    verifier: Box<dyn JwsVerifier>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Loads a PEM public key (SPKI `PUBLIC KEY`, or PKCS#1 `RSA PUBLIC KEY`). An RSA key
    /// verifies RS256 only, a P-256 key ES256 only.
    pub fn from_pem(pem: &[u8]) -> Result<VerifyingKey, KeyError> {
        match RS256.verifier_from_pem(pem) {
            Ok(verifier) => Ok(VerifyingKey {
                alg: Algorithm::RS256,
                verifier: Box::new(verifier),
            }),
            Err(rsa_error) => match ES256.verifier_from_pem(pem) {
                Ok(verifier) => Ok(VerifyingKey {
                    alg: Algorithm::ES256,
                    verifier: Box::new(verifier),
                }),
                Err(_) => Err(KeyError::BadPublicKey(rsa_error.to_string())),
            },
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// The value of `FSPIOP-URI` for a request URL: the path from the first segment that names an
/// FSPIOP resource, with the query. `https://sw/prefix/parties/MSISDN/1` gives
/// `/parties/MSISDN/1`.
///
/// The SDK takes the *rightmost* such match and has an empty alternative in its pattern, so
/// `/parties/ACCOUNT_ID/transfers` gives `/transfers`, `/transfers/x/` gives `/` and an
/// unknown resource gives `//host/...`. Those are bugs; this function answers the full
/// service path instead, or an error when no resource is named. [`sdk_fspiop_uri`] gives the
/// SDK's answer, which validation also accepts.
pub fn fspiop_uri(url: &str) -> Result<String, KeyError> {
    let path = strip_scheme_and_authority(url);
    let mut offset = 0;
    while let Some(rest) = path.get(offset..) {
        let Some(slash) = rest.find('/') else { break };
        let start = offset + slash;
        let after = path.get(start + 1..).unwrap_or("");
        let segment_end = after.find(['/', '?']).unwrap_or(after.len());
        let segment = after.get(..segment_end).unwrap_or("");
        if URI_RESOURCES.contains(&segment) {
            return Ok(path.get(start..).unwrap_or("").to_string());
        }
        offset = start + 1;
    }
    Err(KeyError::BadUri(url.to_string()))
}

fn strip_scheme_and_authority(url: &str) -> &str {
    match url.find("://") {
        Some(index) => {
            let after = url.get(index + 3..).unwrap_or("");
            match after.find(['/', '?']) {
                Some(slash) => after.get(slash..).unwrap_or(""),
                None => "",
            }
        }
        None => url,
    }
}

/// The `FSPIOP-URI` the SDK's signer computes for `url` (rightmost match of
/// `/(resource|)(/.*)*$`), including its quirks; `None` where the SDK throws.
pub fn sdk_fspiop_uri(url: &str) -> Option<String> {
    let bytes = url.as_bytes();
    for (index, byte) in bytes.iter().enumerate().rev() {
        if *byte != b'/' {
            continue;
        }
        let after = url.get(index + 1..).unwrap_or("");
        let matches_rest = |rest: &str| rest.is_empty() || rest.starts_with('/');
        let resource_match = URI_RESOURCES
            .iter()
            .any(|r| after.strip_prefix(r).is_some_and(matches_rest));
        if resource_match || matches_rest(after) {
            return url.get(index..).map(str::to_string);
        }
    }
    None
}

/// What signing adds to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The `FSPIOP-Signature` header value: `{"protectedHeader":"…","signature":"…"}`.
    pub signature_header: String,
    /// The `FSPIOP-URI` header value.
    pub fspiop_uri: String,
    /// The `FSPIOP-HTTP-Method` header value (upper case).
    pub fspiop_http_method: String,
    /// The decoded protected header JSON.
    pub protected_header_json: String,
}

/// Signs a request whose body bytes are `body` (send exactly these bytes). `headers` must
/// hold `fspiop-source`; `fspiop-destination` and `date` are protected when present.
pub fn sign(
    key: &SigningKey,
    method: &str,
    url: &str,
    headers: &(impl Headers + ?Sized),
    body: &[u8],
) -> Result<Signed, KeyError> {
    let uri = fspiop_uri(url)?;
    let method = method.to_ascii_uppercase();
    let source = headers
        .header("fspiop-source")
        .ok_or(KeyError::MissingHeader("FSPIOP-Source"))?;
    let mut protected = String::with_capacity(256);
    protected.push('{');
    let mut member = |name: &str, value: &str, first: bool| {
        if !first {
            protected.push(',');
        }
        canonical::write_string(&mut protected, name);
        protected.push(':');
        canonical::write_string(&mut protected, value);
    };
    member("alg", key.alg.name(), true);
    member("FSPIOP-URI", &uri, false);
    member("FSPIOP-HTTP-Method", &method, false);
    member("FSPIOP-Source", source, false);
    let destination = headers.header("fspiop-destination");
    if let Some(destination) = destination {
        member("FSPIOP-Destination", destination, false);
    }
    let date = headers.header("date");
    if let Some(date) = date {
        member("Date", date, false);
    }
    protected.push('}');
    for (name, value) in [
        ("FSPIOP-URI", Some(uri.as_str())),
        ("FSPIOP-Source", Some(source)),
        ("FSPIOP-Destination", destination),
        ("Date", date),
    ] {
        if value.is_some_and(|v| !v.is_ascii()) {
            return Err(KeyError::NonAsciiHeader(name));
        }
    }
    let protected_b64 = URL_SAFE_NO_PAD.encode(protected.as_bytes());
    let signing_input = format!("{protected_b64}.{}", URL_SAFE_NO_PAD.encode(body));
    let signature = key
        .signer
        .sign(signing_input.as_bytes())
        .map_err(|e| KeyError::Sign(e.to_string()))?;
    let mut header = String::with_capacity(protected_b64.len() + signature.len() * 2 + 40);
    header.push_str("{\"protectedHeader\":\"");
    header.push_str(&protected_b64);
    header.push_str("\",\"signature\":\"");
    header.push_str(&URL_SAFE_NO_PAD.encode(signature));
    header.push_str("\"}");
    Ok(Signed {
        signature_header: header,
        fspiop_uri: uri,
        fspiop_http_method: method,
        protected_header_json: protected,
    })
}

/// How strictly to validate.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// Also accept a signature over the canonical form of the parsed body, as the SDK's
    /// validator does (senders whose body was re-serialised in transit still verify).
    pub accept_canonical_body: bool,
    /// Require the protected `FSPIOP-URI` to name the path received and
    /// `FSPIOP-HTTP-Method` the method received (the SDK compares only with headers).
    pub check_request_line: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            accept_canonical_body: true,
            check_request_line: true,
        }
    }
}

/// Where the public keys of participants come from.
pub trait KeyStore {
    fn key_for(&self, fsp_id: &str) -> Option<&VerifyingKey>;
}

impl KeyStore for BTreeMap<String, VerifyingKey> {
    fn key_for(&self, fsp_id: &str) -> Option<&VerifyingKey> {
        self.get(fsp_id)
    }
}

impl KeyStore for std::collections::HashMap<String, VerifyingKey> {
    fn key_for(&self, fsp_id: &str) -> Option<&VerifyingKey> {
        self.get(fsp_id)
    }
}

fn invalid(detail: impl Into<String>) -> FspiopError {
    FspiopError::with_detail(ErrorCode::InvalidSignature, detail)
}

/// Validates the `FSPIOP-Signature` of a received request. `path` is the request target as
/// received (path and query), `body` the exact body bytes.
pub fn verify(
    keys: &impl KeyStore,
    method: &str,
    path: &str,
    headers: &(impl Headers + ?Sized),
    body: &[u8],
    options: VerifyOptions,
) -> Result<(), FspiopError> {
    if body.is_empty() {
        return Err(invalid("Cannot validate JWS without a body"));
    }
    let source = headers
        .header("fspiop-source")
        .ok_or_else(|| invalid("FSPIOP-Source header missing"))?;
    let key = keys
        .key_for(source)
        .ok_or_else(|| invalid(format!("JWS public key for '{source}' not available")))?;
    let uri_header = headers
        .header("fspiop-uri")
        .ok_or_else(|| invalid("FSPIOP-URI header missing"))?;
    let method_header = headers
        .header("fspiop-http-method")
        .ok_or_else(|| invalid("FSPIOP-HTTP-Method header missing"))?;
    let signature_header = headers
        .header("fspiop-signature")
        .ok_or_else(|| invalid("FSPIOP-Signature header missing"))?;

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct SignatureHeader {
        protected_header: String,
        signature: String,
    }
    let parsed: SignatureHeader = serde_json::from_str(signature_header).map_err(|_| {
        invalid("FSPIOP-Signature is not a JSON object with protectedHeader and signature")
    })?;
    let protected_bytes = URL_SAFE_NO_PAD
        .decode(parsed.protected_header.as_bytes())
        .map_err(|_| invalid("protectedHeader is not unpadded base64url"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(parsed.signature.as_bytes())
        .map_err(|_| invalid("signature is not unpadded base64url"))?;
    let protected: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&protected_bytes)
            .map_err(|_| invalid("protectedHeader is not a JSON object"))?;
    let member = |name: &str| protected.get(name).and_then(serde_json::Value::as_str);

    let alg = member("alg").ok_or_else(|| invalid("protected header has no alg"))?;
    let alg = Algorithm::from_name(alg)
        .ok_or_else(|| invalid(format!("algorithm {alg} is not allowed")))?;
    if alg != key.alg {
        return Err(invalid(format!(
            "algorithm {} does not match the {}'s key",
            alg.name(),
            source
        )));
    }

    let body_b64 = URL_SAFE_NO_PAD.encode(body);
    let signing_input = format!("{}.{body_b64}", parsed.protected_header);
    let raw_ok = key
        .verifier
        .verify(signing_input.as_bytes(), &signature)
        .is_ok();
    let ok = raw_ok
        || (options.accept_canonical_body
            && std::str::from_utf8(body)
                .ok()
                .and_then(|text| canonical::canonicalize(text).ok())
                .is_some_and(|canonical_body| {
                    let input = format!(
                        "{}.{}",
                        parsed.protected_header,
                        URL_SAFE_NO_PAD.encode(canonical_body)
                    );
                    key.verifier.verify(input.as_bytes(), &signature).is_ok()
                }));
    if !ok {
        return Err(invalid("signature does not verify"));
    }

    let protected_uri =
        member("FSPIOP-URI").ok_or_else(|| invalid("FSPIOP-URI is not protected"))?;
    if protected_uri != uri_header {
        return Err(invalid("FSPIOP-URI header differs from the signed one"));
    }
    let protected_method = member("FSPIOP-HTTP-Method")
        .ok_or_else(|| invalid("FSPIOP-HTTP-Method is not protected"))?;
    if protected_method != method_header {
        return Err(invalid(
            "FSPIOP-HTTP-Method header differs from the signed one",
        ));
    }
    let protected_source =
        member("FSPIOP-Source").ok_or_else(|| invalid("FSPIOP-Source is not protected"))?;
    if protected_source != source {
        return Err(invalid("FSPIOP-Source header differs from the signed one"));
    }
    if let Some(protected_date) = member("Date") {
        if headers.header("date") != Some(protected_date) {
            return Err(invalid("Date header differs from the signed one"));
        }
    }
    let protected_destination = member("FSPIOP-Destination");
    let destination = headers.header("fspiop-destination");
    if (protected_destination.is_some() || destination.is_some())
        && protected_destination != destination
    {
        return Err(invalid(
            "FSPIOP-Destination header differs from the signed one",
        ));
    }
    if options.check_request_line {
        if !protected_method.eq_ignore_ascii_case(method) {
            return Err(invalid(format!(
                "signed for method {protected_method}, received {method}"
            )));
        }
        let ours = fspiop_uri(path).ok();
        let sdk = sdk_fspiop_uri(path);
        if ours.as_deref() != Some(protected_uri) && sdk.as_deref() != Some(protected_uri) {
            return Err(invalid(format!(
                "signed for {protected_uri}, received {path}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_pairs_sign_and_verify() {
        for alg in [Algorithm::ES256, Algorithm::RS256] {
            let (private, public) = generate_key_pair(alg).unwrap_or_default();
            let signer = SigningKey::from_pem(&private, None);
            let verifier = VerifyingKey::from_pem(&public);
            assert_eq!(signer.as_ref().map(SigningKey::algorithm).ok(), Some(alg));
            assert_eq!(
                verifier.as_ref().map(VerifyingKey::algorithm).ok(),
                Some(alg)
            );
            let headers: &[(&str, &str)] = &[("fspiop-source", "payerfsp")];
            let body = br#"{"a":1}"#;
            let signed = signer
                .ok()
                .and_then(|key| sign(&key, "POST", "/quotes", headers, body).ok());
            let Some(signed) = signed else {
                panic!("{alg:?} did not sign");
            };
            let mut keys = BTreeMap::new();
            if let Ok(verifier) = verifier {
                keys.insert("payerfsp".to_string(), verifier);
            }
            let received: &[(&str, &str)] = &[
                ("fspiop-source", "payerfsp"),
                ("fspiop-uri", &signed.fspiop_uri),
                ("fspiop-http-method", &signed.fspiop_http_method),
                ("fspiop-signature", &signed.signature_header),
            ];
            let options = VerifyOptions::default();
            assert_eq!(
                verify(&keys, "POST", "/quotes", received, body, options),
                Ok(())
            );
            assert!(verify(&keys, "POST", "/quotes", received, br#"{"a":2}"#, options).is_err());
        }
    }

    #[test]
    fn fspiop_uri_is_the_service_path() {
        let cases = [
            (
                "https://switch.example:443/prefix/fspiop/parties/ACCOUNT_ID/5551234/savings",
                "/parties/ACCOUNT_ID/5551234/savings",
            ),
            (
                "http://host/payerfsp/participants/MSISDN/123",
                "/participants/MSISDN/123",
            ),
            ("/transfers", "/transfers"),
            ("/transfers/abc/error", "/transfers/abc/error"),
            ("http://h/quotes?x=1", "/quotes?x=1"),
            (
                "/parties/ACCOUNT_ID/transfers",
                "/parties/ACCOUNT_ID/transfers",
            ),
            ("/transfers/abc/", "/transfers/abc/"),
        ];
        for (url, want) in cases {
            assert_eq!(fspiop_uri(url).ok().as_deref(), Some(want), "{url}");
        }
        assert!(fspiop_uri("http://switch.local:3000/ping").is_err());
        assert!(fspiop_uri("/ping").is_err());
        assert!(fspiop_uri("/transfersX/1").is_err());
    }

    #[test]
    fn sdk_fspiop_uri_quirks() {
        assert_eq!(
            sdk_fspiop_uri("/parties/ACCOUNT_ID/transfers").as_deref(),
            Some("/transfers")
        );
        assert_eq!(sdk_fspiop_uri("/transfers/abc/").as_deref(), Some("/"));
        assert_eq!(
            sdk_fspiop_uri("http://switch.local:3000/ping").as_deref(),
            Some("//switch.local:3000/ping")
        );
        assert_eq!(sdk_fspiop_uri("/ping"), None);
        assert_eq!(
            sdk_fspiop_uri("https://sw/prefix/quotes/1").as_deref(),
            Some("/quotes/1")
        );
    }
}
