//! `FSPIOP-Signature` at the switch's edge: the `[jws]` settings every FSPIOP-facing service
//! shares, the participants' public keys (a directory of `<fspId>.pem`, Mojaloop's
//! `JWS_VERIFICATION_KEYS_DIRECTORY`), and the layer that validates inbound requests.
//!
//! Which requests are validated follows the reference switch and the SDK: POST, PUT and PATCH
//! (GET and DELETE have no body to sign); `PUT /parties…` only when `validate_put_parties` is
//! set, since DFSPs built on the SDK do not sign it by default. A request that fails is answered
//! 3105 with HTTP 400 and never reaches the service; the body bytes that were verified are the
//! bytes the service reads, and forwarded requests keep their signature header untouched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use fspiop::jws::{SigningKey, VerifyOptions, VerifyingKey};
use fspiop::{ErrorCode, FspiopError};
use serde::Deserialize;

use crate::http::FspiopResponse;

/// The `[jws]` section of a FSPIOP-facing service's configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct JwsConfig {
    /// Validate `FSPIOP-Signature` on inbound POST, PUT and PATCH requests.
    pub validate: bool,
    /// Also validate `PUT /parties…` callbacks.
    pub validate_put_parties: bool,
    /// Directory of the participants' public keys, one `<fspId>.pem` each.
    pub keys_directory: String,
    /// Shortest time between two reloads of the directory (a key is looked for again when a
    /// request comes from a participant with no key yet).
    pub keys_reload_interval_ms: u64,
    /// Sign the requests the hub itself originates (error callbacks, PATCH notifications).
    pub sign: bool,
    /// The hub's private key (PEM, RSA for RS256 or P-256 for ES256).
    pub signing_key_path: String,
}

/// Why the JWS settings could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum JwsSetupError {
    #[error("jws.keys_directory must be set when jws.validate is true")]
    NoKeysDirectory,
    #[error("jws.signing_key_path must be set when jws.sign is true")]
    NoSigningKey,
    #[error("reading {path}: {error}")]
    Read { path: String, error: String },
    #[error("{path}: {error}")]
    Key { path: String, error: String },
}

/// Loads the hub's signing key when `sign` is on.
pub async fn signing_key(config: &JwsConfig) -> Result<Option<Arc<SigningKey>>, JwsSetupError> {
    if !config.sign {
        return Ok(None);
    }
    if config.signing_key_path.is_empty() {
        return Err(JwsSetupError::NoSigningKey);
    }
    let path = config.signing_key_path.clone();
    let read_error = |error: String| JwsSetupError::Read {
        path: config.signing_key_path.clone(),
        error,
    };
    let pem = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .map_err(|e| read_error(e.to_string()))?
        .map_err(|e| read_error(e.to_string()))?;
    SigningKey::from_pem(&pem, None)
        .map(|key| Some(Arc::new(key)))
        .map_err(|e| JwsSetupError::Key {
            path: config.signing_key_path.clone(),
            error: e.to_string(),
        })
}

/// Reads every `<fspId>.pem` public key in `dir` (blocking; call from a blocking context).
pub fn read_public_keys(dir: &Path) -> Result<HashMap<String, VerifyingKey>, JwsSetupError> {
    let read_error = |error: std::io::Error| JwsSetupError::Read {
        path: dir.display().to_string(),
        error: error.to_string(),
    };
    let mut keys = HashMap::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("pem") {
            continue;
        }
        let Some(fsp) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let pem = std::fs::read(&path).map_err(|e| JwsSetupError::Read {
            path: path.display().to_string(),
            error: e.to_string(),
        })?;
        // A private key or anything else that is not a public key is skipped, not fatal, so
        // a directory that also holds the hub's private key still loads.
        match VerifyingKey::from_pem(&pem) {
            Ok(key) => {
                keys.insert(fsp.to_string(), key);
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "not a public key; skipped")
            }
        }
    }
    Ok(keys)
}

/// The participants' public keys, reloaded from their directory when a participant without a
/// key shows up (at most once per `reload_interval`).
pub struct KeyDirectory {
    dir: PathBuf,
    keys: RwLock<Arc<HashMap<String, VerifyingKey>>>,
    last_load: Mutex<Instant>,
    reload_interval: Duration,
}

impl KeyDirectory {
    pub async fn load(dir: &str, reload_interval_ms: u64) -> Result<KeyDirectory, JwsSetupError> {
        let path = PathBuf::from(dir);
        let keys = read_blocking(path.clone()).await?;
        tracing::info!(directory = %dir, keys = keys.len(), "JWS public keys loaded");
        Ok(KeyDirectory {
            dir: path,
            keys: RwLock::new(Arc::new(keys)),
            last_load: Mutex::new(Instant::now()),
            reload_interval: Duration::from_millis(reload_interval_ms),
        })
    }

    /// The keys now.
    pub fn snapshot(&self) -> Arc<HashMap<String, VerifyingKey>> {
        self.keys
            .read()
            .map(|k| k.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// The keys, reloaded first if `fsp` has none and the last load is old enough.
    pub async fn for_participant(&self, fsp: &str) -> Arc<HashMap<String, VerifyingKey>> {
        let keys = self.snapshot();
        if keys.contains_key(fsp) {
            return keys;
        }
        let due = {
            let mut last = self
                .last_load
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.elapsed() >= self.reload_interval {
                *last = Instant::now();
                true
            } else {
                false
            }
        };
        if !due {
            return keys;
        }
        match read_blocking(self.dir.clone()).await {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                if let Ok(mut slot) = self.keys.write() {
                    *slot = fresh.clone();
                }
                fresh
            }
            Err(error) => {
                tracing::warn!(%error, "JWS public keys not reloaded");
                keys
            }
        }
    }
}

async fn read_blocking(dir: PathBuf) -> Result<HashMap<String, VerifyingKey>, JwsSetupError> {
    let shown = dir.display().to_string();
    tokio::task::spawn_blocking(move || read_public_keys(&dir))
        .await
        .map_err(|e| JwsSetupError::Read {
            path: shown,
            error: e.to_string(),
        })?
}

/// The validation layer's state.
pub struct Validation {
    keys: KeyDirectory,
    validate_put_parties: bool,
    body_len_max_bytes: usize,
}

/// Builds the validation state when `validate` is on.
pub async fn validation(config: &JwsConfig) -> Result<Option<Arc<Validation>>, JwsSetupError> {
    if !config.validate {
        return Ok(None);
    }
    if config.keys_directory.is_empty() {
        return Err(JwsSetupError::NoKeysDirectory);
    }
    let keys = KeyDirectory::load(&config.keys_directory, config.keys_reload_interval_ms).await?;
    Ok(Some(Arc::new(Validation {
        keys,
        validate_put_parties: config.validate_put_parties,
        body_len_max_bytes: crate::http::JSON_BODY_LEN_MAX_BYTES,
    })))
}

/// Whether a request of `method` on `path` must carry a valid signature.
pub fn must_validate(method: &Method, path: &str, validate_put_parties: bool) -> bool {
    if !matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        return false;
    }
    let parties = path == "/parties" || path.starts_with("/parties/");
    !(parties && *method == Method::PUT && !validate_put_parties)
}

fn invalid(detail: impl Into<String>) -> Response {
    FspiopResponse(FspiopError::with_detail(
        ErrorCode::InvalidSignature,
        detail,
    ))
    .into_response()
}

async fn validate(
    State(validation): State<Arc<Validation>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    if !must_validate(request.method(), &path, validation.validate_put_parties) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, validation.body_len_max_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return FspiopResponse(FspiopError::with_detail(
                ErrorCode::TooLargePayload,
                format!(
                    "body is larger than {} bytes",
                    validation.body_len_max_bytes
                ),
            ))
            .into_response()
        }
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|v| (name.as_str().to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    let view: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if fspiop::headers::Headers::header(view.as_slice(), "fspiop-signature").is_none() {
        return invalid("FSPIOP-Signature header missing");
    }
    let Some(source) = fspiop::headers::Headers::header(view.as_slice(), "fspiop-source") else {
        return invalid("FSPIOP-Source header missing");
    };
    let keys = validation.keys.for_participant(source).await;
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or(path);
    if let Err(error) = fspiop::jws::verify(
        &*keys,
        parts.method.as_str(),
        &target,
        view.as_slice(),
        &bytes,
        VerifyOptions::default(),
    ) {
        tracing::info!(%source, method = %parts.method, path = %target, error = %error.description(), "signature refused");
        return FspiopResponse(error).into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// `router` with inbound signatures validated when `validation` is set.
pub fn with_validation<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    validation: Option<Arc<Validation>>,
) -> Router<S> {
    match validation {
        Some(validation) => {
            router.layer(axum::middleware::from_fn_with_state(validation, validate))
        }
        None => router,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_validated_and_put_parties_only_when_asked() {
        assert!(must_validate(&Method::POST, "/transfers", false));
        assert!(must_validate(&Method::PUT, "/transfers/1", false));
        assert!(must_validate(&Method::PATCH, "/transfers/1", false));
        assert!(!must_validate(&Method::GET, "/transfers/1", false));
        assert!(!must_validate(
            &Method::DELETE,
            "/participants/MSISDN/1",
            false
        ));
        assert!(!must_validate(&Method::PUT, "/parties/MSISDN/1", false));
        assert!(must_validate(&Method::PUT, "/parties/MSISDN/1", true));
        assert!(must_validate(
            &Method::POST,
            "/participants/MSISDN/1",
            false
        ));
        assert!(must_validate(&Method::PUT, "/partiesX", false));
    }
}
