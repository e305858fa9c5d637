//! Mutual TLS on the switch's listeners, natively with rustls (ring), and the client side the
//! services use to call DFSPs and each other.
//!
//! - [`TlsConfig`]: the `[tls]` section every service with a listener shares (off by default).
//! - [`server_config`]: a rustls `ServerConfig` from PEM files that **requires** a client
//!   certificate chaining to the scheme CA (`WebPkiClientVerifier`); no anonymous client gets
//!   past the handshake.
//! - [`client_config`]: a rustls `ClientConfig` that trusts only the scheme CA and presents a
//!   client certificate (the hub's, or a simulated DFSP's).
//! - [`serve`]: what every service runs instead of `axum::serve(..).with_graceful_shutdown(..)`:
//!   plain HTTP without TLS, otherwise an accept loop (TLS handshake bounded by
//!   `handshake_timeout_ms`, HTTP/1.1 over hyper, graceful shutdown that stops accepting and
//!   gives the connections in flight `drain_timeout_ms` to finish).
//! - [`PeerIdentity`]: the verified client certificate's identity, in every request's
//!   extensions. **The identity is the certificate's first DNS subject alternative name; a
//!   certificate without one falls back to its subject common name (CN).** DNS names are
//!   compared without regard to ASCII case. A certificate with neither is refused after the
//!   handshake: it cannot be tied to a participant.
//! - The FSPIOP-Source check [`serve`] puts in front of the router when TLS is on: a request
//!   that carries `FSPIOP-Source` must name the identity of the certificate it came with, or
//!   it is answered 3100 (HTTP 400) and never reaches the service. Exceptions: clients whose
//!   identity is one of `trusted_identities` (the hub's own services and operator tools, which
//!   relay requests on behalf of DFSPs, e.g. the ALS calling an oracle), and requests without
//!   `FSPIOP-Source` (`/health`, `/metrics` and the admin APIs, which FSPIOP does not cover;
//!   every FSPIOP route requires the header and refuses a request without it itself).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use fspiop::{ErrorCode, FspiopError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::http::FspiopResponse;

/// The `[tls]` section of a service's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Serve HTTPS and require client certificates (and call `https://` peers with the client
    /// certificate below).
    pub enabled: bool,
    /// The listener's certificate chain (PEM, leaf first).
    pub cert_path: String,
    /// The listener's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_path: String,
    /// The scheme CA (PEM, one or more certificates): client certificates must chain to it,
    /// and so must the server certificates of the peers this service calls.
    pub ca_path: String,
    /// The client certificate presented on outbound calls; empty: `cert_path` (which then
    /// needs the clientAuth extended key usage).
    pub client_cert_path: String,
    /// Its private key; empty: `key_path`.
    pub client_key_path: String,
    /// Longest time a client may take to complete the TLS handshake.
    pub handshake_timeout_ms: u64,
    /// At shutdown, longest wait for the connections in flight to finish their request.
    pub drain_timeout_ms: u64,
    /// Client certificate identities that may send any `FSPIOP-Source`: the hub's own
    /// services and operator tools (the hub's client certificate).
    pub trusted_identities: Vec<String>,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Pem { path: String, message: String },
    #[error("{0}")]
    Rustls(String),
    #[error("invalid TLS configuration: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl TlsConfig {
    /// What is wrong with the settings (nothing when TLS is off), named by key under `tls.`.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.enabled {
            return problems;
        }
        for (key, value) in [
            ("cert_path", &self.cert_path),
            ("key_path", &self.key_path),
            ("ca_path", &self.ca_path),
        ] {
            if value.is_empty() {
                problems.push(format!("tls.{key} must be set when tls.enabled is true"));
            }
        }
        if self.client_cert_path.is_empty() != self.client_key_path.is_empty() {
            problems.push(
                "tls.client_cert_path and tls.client_key_path are set together or not at all"
                    .to_string(),
            );
        }
        if self.handshake_timeout_ms == 0 {
            problems.push("tls.handshake_timeout_ms must be at least 1".to_string());
        }
        problems
    }

    /// The listeners' TLS, or `None` when TLS is off.
    pub fn server(&self) -> Result<Option<TlsServer>, TlsError> {
        if !self.enabled {
            return Ok(None);
        }
        self.check()?;
        let config = server_config(
            Path::new(&self.cert_path),
            Path::new(&self.key_path),
            Path::new(&self.ca_path),
        )?;
        Ok(Some(
            TlsServer::new(config)
                .handshake_timeout_ms(self.handshake_timeout_ms)
                .drain_timeout_ms(self.drain_timeout_ms)
                .trusted_identities(self.trusted_identities.clone()),
        ))
    }

    /// The outbound client's TLS (the scheme CA, the client certificate), or `None` when TLS
    /// is off.
    pub fn client(&self) -> Result<Option<Arc<rustls::ClientConfig>>, TlsError> {
        if !self.enabled {
            return Ok(None);
        }
        self.check()?;
        let (cert, key) = if self.client_cert_path.is_empty() {
            (&self.cert_path, &self.key_path)
        } else {
            (&self.client_cert_path, &self.client_key_path)
        };
        client_config(Path::new(&self.ca_path), Path::new(cert), Path::new(key)).map(Some)
    }

    fn check(&self) -> Result<(), TlsError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(TlsError::Invalid(problems))
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn pem_error(path: &Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::Pem {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Every certificate in the PEM file at `path` (at least one).
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certificates.is_empty() {
        return Err(pem_error(path, "no CERTIFICATE in the file"));
    }
    Ok(certificates)
}

/// The first private key in the PEM file at `path`.
pub fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| pem_error(path, e))
}

fn roots(ca_path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in read_certificates(ca_path)? {
        roots
            .add(certificate)
            .map_err(|e| pem_error(ca_path, format!("not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// A server configuration presenting `cert_path` (chain) with `key_path`, requiring every
/// client to present a certificate that chains to the CA(s) in `ca_path`. TLS 1.2 and 1.3,
/// ALPN `http/1.1`.
pub fn server_config(
    cert_path: &Path,
    key_path: &Path,
    ca_path: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = read_certificates(cert_path)?;
    let key = read_private_key(key_path)?;
    let provider = provider();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots(ca_path)?),
        provider.clone(),
    )
    .build()
    .map_err(|e| TlsError::Rustls(format!("client verifier from {}: {e}", ca_path.display())))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| {
            TlsError::Rustls(format!(
                "{} with {}: {e}",
                cert_path.display(),
                key_path.display()
            ))
        })?;
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration that trusts only the CA(s) in `ca_path` and presents `cert_path`
/// (chain) with `key_path`. Server names are checked as usual (the certificate must name the
/// host called, DNS name or IP address).
pub fn client_config(
    ca_path: &Path,
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let chain = read_certificates(cert_path)?;
    let key = read_private_key(key_path)?;
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_root_certificates(roots(ca_path)?)
        .with_client_auth_cert(chain, key)
        .map_err(|e| {
            TlsError::Rustls(format!(
                "{} with {}: {e}",
                cert_path.display(),
                key_path.display()
            ))
        })?;
    Ok(Arc::new(config))
}

/// A client configuration that trusts only the CA(s) in `ca_path` and presents no
/// certificate (what a listener with mTLS must refuse).
pub fn anonymous_client_config(ca_path: &Path) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_root_certificates(roots(ca_path)?)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// What [`probe`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The listener answered over TLS: the status line of its answer to `GET /health`.
    Answered(String),
    /// The TCP connection was made but the TLS handshake or the request failed: why (a
    /// listener requiring a client certificate sends its alert after the client's half of a
    /// TLS 1.3 handshake, so it shows here rather than as a failed connect).
    Refused(String),
    /// No TCP connection (nothing listens, or no answer in time).
    Unreachable(String),
}

/// Connects to `address` (`host:port`, the host also the server name checked) with `config`,
/// sends `GET /health` and reads the status line of the answer, all within `timeout`. A raw
/// exchange on a fresh connection, so the outcome does not depend on a client's pool.
pub async fn probe(address: &str, config: Arc<rustls::ClientConfig>, timeout: Duration) -> Probe {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let Some((host, _)) = address.rsplit_once(':') else {
        return Probe::Unreachable(format!("{address}: no port"));
    };
    let server_name = match rustls::pki_types::ServerName::try_from(host.to_string()) {
        Ok(name) => name,
        Err(error) => return Probe::Unreachable(format!("{host}: {error}")),
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let tcp = match tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(address)).await
    {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(error)) => return Probe::Unreachable(format!("{address}: {error}")),
        Err(_) => return Probe::Unreachable(format!("{address}: no connection in time")),
    };
    let exchange = async {
        let mut tls = tokio_rustls::TlsConnector::from(config)
            .connect(server_name, tcp)
            .await?;
        let request = format!("GET /health HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
        tls.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        let mut buffer = [0u8; 256];
        while !answer.contains(&b'\n') {
            let read = tls.read(&mut buffer).await?;
            if read == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "closed without an answer",
                ));
            }
            answer.extend_from_slice(buffer.get(..read).unwrap_or_default());
        }
        let text = String::from_utf8_lossy(&answer);
        Ok(text.lines().next().unwrap_or_default().to_string())
    };
    match tokio::time::timeout_at(deadline, exchange).await {
        Ok(Ok(status_line)) => Probe::Answered(status_line),
        Ok(Err(error)) => Probe::Refused(error.to_string()),
        Err(_) => Probe::Refused("no answer in time".to_string()),
    }
}

/// The identity of a verified client certificate: its first DNS subject alternative name, else
/// its subject common name; `None` when it has neither (or is not a parsable certificate).
pub fn peer_identity(certificate: &CertificateDer<'_>) -> Option<String> {
    let parsed = webpki::EndEntityCert::try_from(certificate).ok()?;
    if let Some(name) = parsed.valid_dns_names().next() {
        return Some(name.to_string());
    }
    common_name(parsed.subject())
}

/// The first CN of a DER `Name` (the content of its outer SEQUENCE), as UTF8String,
/// PrintableString or IA5String.
fn common_name(mut name: &[u8]) -> Option<String> {
    const SET: u8 = 0x31;
    const SEQUENCE: u8 = 0x30;
    const OID: u8 = 0x06;
    const CN_OID: &[u8] = &[0x55, 0x04, 0x03];
    while !name.is_empty() {
        let (tag, mut rdn, rest) = der_next(name)?;
        name = rest;
        if tag != SET {
            return None;
        }
        while !rdn.is_empty() {
            let (tag, attribute, rest) = der_next(rdn)?;
            rdn = rest;
            if tag != SEQUENCE {
                return None;
            }
            let (tag, oid, value) = der_next(attribute)?;
            if tag != OID || oid != CN_OID {
                continue;
            }
            let (tag, text, _) = der_next(value)?;
            // UTF8String, PrintableString, IA5String
            if matches!(tag, 0x0c | 0x13 | 0x16) {
                return std::str::from_utf8(text).ok().map(str::to_string);
            }
        }
    }
    None
}

/// One DER element: (tag, content, what follows). Single-byte tags, definite lengths.
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(count)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |len, &byte| (len << 8) | usize::from(byte))
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((tag, content, rest))
}

/// The verified client certificate's identity ([`peer_identity`]), in the extensions of
/// every request that came over a TLS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity(pub String);

/// Default of [`TlsServer::handshake_timeout_ms`].
pub const HANDSHAKE_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Default of [`TlsServer::drain_timeout_ms`].
pub const DRAIN_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Pause after an `accept` error other than a connection's own (out of file descriptors).
const ACCEPT_ERROR_PAUSE_MS: u64 = 1_000;

/// A listener's TLS: the rustls configuration, the handshake and drain bounds and the
/// identities exempt from the FSPIOP-Source check.
#[derive(Clone)]
pub struct TlsServer {
    config: Arc<rustls::ServerConfig>,
    handshake_timeout: Duration,
    drain_timeout: Duration,
    trusted_identities: Arc<[String]>,
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServer")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("drain_timeout", &self.drain_timeout)
            .field("trusted_identities", &self.trusted_identities)
            .finish_non_exhaustive()
    }
}

impl TlsServer {
    /// `config` with the default bounds and no trusted identities.
    pub fn new(config: Arc<rustls::ServerConfig>) -> TlsServer {
        TlsServer {
            config,
            handshake_timeout: Duration::from_millis(HANDSHAKE_TIMEOUT_MS_DEFAULT),
            drain_timeout: Duration::from_millis(DRAIN_TIMEOUT_MS_DEFAULT),
            trusted_identities: Arc::from(Vec::new()),
        }
    }

    pub fn handshake_timeout_ms(mut self, timeout_ms: u64) -> TlsServer {
        self.handshake_timeout = Duration::from_millis(timeout_ms);
        self
    }

    pub fn drain_timeout_ms(mut self, timeout_ms: u64) -> TlsServer {
        self.drain_timeout = Duration::from_millis(timeout_ms);
        self
    }

    /// Identities that may send any `FSPIOP-Source`.
    pub fn trusted_identities(mut self, identities: Vec<String>) -> TlsServer {
        self.trusted_identities = Arc::from(identities);
        self
    }

    pub fn rustls_config(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }
}

/// Serves `router` on `listener` until `shutdown` resolves: plain HTTP when `tls` is `None`
/// (`axum::serve` with graceful shutdown), otherwise HTTPS with client certificates required
/// and the FSPIOP-Source check in front of `router` (see the module documentation).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsServer>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match tls {
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(tls) => serve_tls(listener, router, tls, shutdown).await,
    }
}

async fn serve_tls(
    listener: TcpListener,
    router: Router,
    tls: TlsServer,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
    let router = router.layer(axum::middleware::from_fn_with_state(
        tls.trusted_identities.clone(),
        check_source,
    ));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    tracing::warn!(error.message = %error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_PAUSE_MS)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        let handshake_timeout = tls.handshake_timeout;
        connections.spawn(async move {
            let stream =
                match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::debug!(%remote, error.message = %error, "TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%remote, "TLS handshake timed out");
                        return;
                    }
                };
            let identity = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(peer_identity);
            let Some(identity) = identity else {
                tracing::warn!(%remote, "client certificate without a DNS name or CN: closed");
                return;
            };
            let identity = PeerIdentity(identity);
            let service =
                hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(identity.clone());
                    tower::ServiceExt::oneshot(router.clone(), request)
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%remote, error.message = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(tls.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            drain_timeout_ms = tls.drain_timeout.as_millis() as u64,
            "connections still busy at the end of the drain: closed"
        );
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Errors of one connection that `accept` reports; the listener itself is fine.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Refuses a request whose `FSPIOP-Source` is not the identity of its client certificate
/// (3100, HTTP 400), unless that identity is trusted.
async fn check_source(
    State(trusted): State<Arc<[String]>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(PeerIdentity(identity)) = request.extensions().get::<PeerIdentity>() {
        let trusted = trusted.iter().any(|t| t.eq_ignore_ascii_case(identity));
        if !trusted {
            for source in request
                .headers()
                .get_all(fspiop::headers::FSPIOP_SOURCE)
                .iter()
            {
                let source = String::from_utf8_lossy(source.as_bytes());
                if !source.eq_ignore_ascii_case(identity) {
                    tracing::warn!(
                        fspiop_source = %source,
                        peer = %identity,
                        path = %request.uri().path(),
                        "FSPIOP-Source does not match the client certificate"
                    );
                    return FspiopResponse(FspiopError::with_detail(
                        ErrorCode::GenericValidationError,
                        format!(
                            "FSPIOP-Source {source} does not match the client certificate ({identity})"
                        ),
                    ))
                    .into_response();
                }
            }
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    #[test]
    fn der_lengths() {
        assert_eq!(
            der_next(&[0x04, 0x01, 0xaa, 0xbb]),
            Some((4, &[0xaa][..], &[0xbb][..]))
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([0u8; 0x80]);
        assert_eq!(der_next(&long).map(|(_, c, _)| c.len()), Some(0x80));
        assert_eq!(der_next(&[0x04, 0x02, 0xaa]), None, "truncated");
        assert_eq!(der_next(&[0x04, 0x80]), None, "indefinite length");
        assert_eq!(der_next(&[]), None);
    }

    #[test]
    fn common_name_of_a_der_name() {
        // SET { SEQUENCE { O "Scheme" } }, SET { SEQUENCE { CN "perffsp-1" } }
        let mut name = vec![
            0x31, 0x0f, 0x30, 0x0d, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x06,
        ];
        name.extend(b"Scheme");
        name.extend([
            0x31, 0x12, 0x30, 0x10, 0x06, 0x03, 0x55, 0x04, 0x03, 0x13, 0x09,
        ]);
        name.extend(b"perffsp-1");
        assert_eq!(common_name(&name).as_deref(), Some("perffsp-1"));
        assert_eq!(common_name(&name[..17]), None, "no CN");
        assert_eq!(common_name(&name[..20]), None, "truncated");
    }

    fn self_signed(names: &[&str], common_name: Option<&str>) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = common_name {
            params
                .distinguished_name
                .push(rcgen::DnType::OrganizationName, "Scheme");
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
        }
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn identity_is_the_first_dns_name_else_the_common_name() {
        let both = self_signed(&["perffsp-1", "localhost"], Some("other"));
        assert_eq!(peer_identity(&both).as_deref(), Some("perffsp-1"));
        let ip_first = self_signed(&["127.0.0.1", "perffsp-2"], None);
        assert_eq!(peer_identity(&ip_first).as_deref(), Some("perffsp-2"));
        let cn_only = self_signed(&[], Some("perffsp-3"));
        assert_eq!(peer_identity(&cn_only).as_deref(), Some("perffsp-3"));
        let nothing = self_signed(&["127.0.0.1"], None);
        assert_eq!(peer_identity(&nothing), None);
        assert_eq!(peer_identity(&CertificateDer::from(vec![1, 2, 3])), None);
    }

    #[test]
    fn problems_name_the_keys() {
        assert!(
            TlsConfig::default().problems().is_empty(),
            "off: nothing to check"
        );
        let config = TlsConfig {
            enabled: true,
            client_cert_path: "c.pem".to_string(),
            ..TlsConfig::default()
        };
        assert_eq!(
            config.problems(),
            vec![
                "tls.cert_path must be set when tls.enabled is true",
                "tls.key_path must be set when tls.enabled is true",
                "tls.ca_path must be set when tls.enabled is true",
                "tls.client_cert_path and tls.client_key_path are set together or not at all",
                "tls.handshake_timeout_ms must be at least 1",
            ]
        );
        assert!(matches!(config.server(), Err(TlsError::Invalid(_))));
        assert!(TlsConfig::default().server().unwrap().is_none());
        assert!(TlsConfig::default().client().unwrap().is_none());
    }

    #[test]
    fn missing_files_are_named() {
        let error = read_certificates(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot read /nonexistent/ca.pem"),
            "{error}"
        );
    }
}
