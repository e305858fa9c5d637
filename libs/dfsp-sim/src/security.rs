//! JWS for the simulated DFSPs, as real DFSPs built on Mojaloop's SDK do it: every POST, PUT
//! and PATCH a DFSP sends is signed with its own key (PUT /parties excepted, the SDK's
//! default), and every such request a DFSP receives — forwarded from another DFSP, or made by
//! the hub — must carry a signature that verifies with the sender's public key, else it is
//! refused with 3105.
//!
//! Keys: a directory as `mojaloop jws keygen` writes it — `<name>.pem` public keys of every
//! participant (the hub included) and `private/<dfsp>.pem` for each simulated DFSP.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use fspiop::jws::{SigningKey, VerifyOptions, VerifyingKey};

use crate::{Inner, SimError};

/// Where the simulator's JWS keys are.
#[derive(Debug, Clone)]
pub struct SimJws {
    /// `<name>.pem` public keys and `private/<dfsp>.pem` private keys.
    pub keys_directory: PathBuf,
}

/// The keys in use, and what the simulator verified.
pub(crate) struct Keys {
    signing: HashMap<String, SigningKey>,
    public: HashMap<String, VerifyingKey>,
    pub(crate) verified: AtomicU64,
    pub(crate) refused: AtomicU64,
}

/// Reads the keys of `dfsps` (blocking: called once, at start, on the blocking pool).
fn read(dir: &Path, dfsps: &[String]) -> Result<Keys, SimError> {
    let config = |detail: String| SimError::Config(detail);
    let mut signing = HashMap::new();
    for dfsp in dfsps {
        let path = dir.join("private").join(format!("{dfsp}.pem"));
        if !path.exists() && dir.join(format!("{dfsp}.pem")).exists() {
            // A real DFSP's public key: it signs its own requests; the simulator cannot.
            tracing::warn!(
                %dfsp,
                key = %path.display(),
                "no private key for this DFSP: the simulator sends its requests unsigned"
            );
            continue;
        }
        let pem = std::fs::read(&path).map_err(|e| config(format!("{}: {e}", path.display())))?;
        let key = SigningKey::from_pem(&pem, None)
            .map_err(|e| config(format!("{}: {e}", path.display())))?;
        signing.insert(dfsp.clone(), key);
    }
    let public = service_kit::jws::read_public_keys(dir).map_err(|e| config(e.to_string()))?;
    Ok(Keys {
        signing,
        public,
        verified: AtomicU64::new(0),
        refused: AtomicU64::new(0),
    })
}

pub(crate) async fn load(jws: &SimJws, dfsps: Vec<String>) -> Result<Keys, SimError> {
    let dir = jws.keys_directory.clone();
    tokio::task::spawn_blocking(move || read(&dir, &dfsps))
        .await
        .map_err(|e| SimError::Config(e.to_string()))?
}

/// Whether the SDK signs (and validates) a request of `method` on `path` (the FSPIOP path,
/// without the simulator's `/{dfsp}` prefix).
fn signed_request(method: &str, path: &str) -> bool {
    let method = axum::http::Method::from_bytes(method.as_bytes()).unwrap_or_default();
    service_kit::jws::must_validate(&method, path, false)
}

impl Keys {
    /// Adds `FSPIOP-Signature` (and the `FSPIOP-URI`/`-HTTP-Method` it protects) when `source`
    /// signs this request.
    pub(crate) fn sign(
        &self,
        source: &str,
        method: &str,
        url: &str,
        uri_path: &str,
        headers: &mut Vec<(String, String)>,
        body: &[u8],
    ) {
        let Some(key) = self.signing.get(source) else {
            return;
        };
        if body.is_empty() || !signed_request(method, uri_path) {
            return;
        }
        let view: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        match fspiop::jws::sign(key, method, url, view.as_slice(), body) {
            Ok(signed) => {
                headers.retain(|(n, _)| !matches!(n.as_str(), "fspiop-uri" | "fspiop-http-method"));
                headers.push(("fspiop-uri".into(), signed.fspiop_uri));
                headers.push(("fspiop-http-method".into(), signed.fspiop_http_method));
                headers.push(("fspiop-signature".into(), signed.signature_header));
            }
            Err(error) => tracing::warn!(%url, %error, "request not signed"),
        }
    }
}

/// Validates inbound signed requests on `/{dfsp}/…` when the simulator has keys.
pub(crate) async fn validate(
    State(inner): State<Arc<Inner>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(keys) = inner.jws.as_ref() else {
        return next.run(request).await;
    };
    let path = request.uri().path().to_string();
    // `/{dfsp}/transfers/…` → `/transfers/…`; the payer API and health are not FSPIOP.
    let fspiop_path = path
        .trim_start_matches('/')
        .split_once('/')
        .map(|(_, rest)| format!("/{rest}"))
        .unwrap_or_default();
    let resource = fspiop_path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    if !matches!(
        resource,
        "parties"
            | "quotes"
            | "transfers"
            | "participants"
            | "fxQuotes"
            | "fxTransfers"
            | "bulkQuotes"
            | "bulkTransfers"
    ) || !signed_request(request.method().as_str(), &fspiop_path)
    {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, crate::BODY_LEN_MAX_BYTES).await else {
        return crate::fspiop_error(StatusCode::BAD_REQUEST, "3104", "Too large payload");
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(n, v)| {
            v.to_str()
                .ok()
                .map(|v| (n.as_str().to_string(), v.to_string()))
        })
        .collect();
    let view: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or(path);
    let checked = if view
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("fspiop-signature"))
    {
        fspiop::jws::verify(
            &keys.public,
            parts.method.as_str(),
            &target,
            view.as_slice(),
            &bytes,
            VerifyOptions::default(),
        )
        .map_err(|e| e.description())
    } else {
        Err("Invalid signature - FSPIOP-Signature header missing".to_string())
    };
    match checked {
        Ok(()) => {
            keys.verified.fetch_add(1, Ordering::Relaxed);
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(description) => {
            keys.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(method = %parts.method, path = %target, %description, "signature refused");
            crate::fspiop_error(StatusCode::BAD_REQUEST, "3105", &description)
        }
    }
}
