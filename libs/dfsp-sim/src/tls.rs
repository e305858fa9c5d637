//! Mutual TLS for the simulated DFSPs, as the switch's DFSPs do it: the simulator's server
//! speaks HTTPS and requires a client certificate of the scheme (the hub's, or an operator
//! tool's), and each DFSP presents its own client certificate on what it sends, so the
//! switch sees `FSPIOP-Source` and certificate agree.
//!
//! Without TLS the simulator speaks plain HTTP only.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use service_kit::pki::{Layout, Usage};
use service_kit::tls::TlsServer;

use crate::SimError;

/// The simulator's certificates.
#[derive(Debug, Clone)]
pub struct SimTls {
    /// The scheme CA (PEM): the switch's server certificates must chain to it, and so must the
    /// client certificates of whoever calls the simulator.
    pub ca_path: PathBuf,
    /// Certificate chain and key of the simulator's one server, which hosts every DFSP.
    pub server: (PathBuf, PathBuf),
    /// Each DFSP's client certificate and key, presented on the requests and callbacks it
    /// sends; a DFSP without one sends without a certificate.
    pub clients: HashMap<String, (PathBuf, PathBuf)>,
    /// Client identities that may call the simulator with any `FSPIOP-Source` (the hub, which
    /// forwards every DFSP's requests).
    pub trusted_identities: Vec<String>,
}

impl SimTls {
    /// The files of `layout` (`mojaloop certs`) for `dfsps`: the server presents the first
    /// DFSP's server certificate (every DFSP's names `localhost` and `127.0.0.1`), each DFSP its
    /// own client certificate; `hub` is trusted.
    pub fn from_layout(layout: &Layout, dfsps: &[String], hub: &str) -> SimTls {
        let first = dfsps.first().map(String::as_str).unwrap_or(hub);
        SimTls {
            ca_path: layout.ca(),
            server: layout.pair(first, Usage::Server),
            clients: dfsps
                .iter()
                .map(|name| (name.clone(), layout.pair(name, Usage::Client)))
                .collect(),
            trusted_identities: vec![hub.to_string()],
        }
    }

    pub(crate) fn server(&self) -> Result<TlsServer, SimError> {
        let config = service_kit::tls::server_config(&self.server.0, &self.server.1, &self.ca_path)
            .map_err(|e| SimError::Config(format!("TLS: {e}")))?;
        Ok(TlsServer::new(config).trusted_identities(self.trusted_identities.clone()))
    }

    /// A client per DFSP, each presenting that DFSP's certificate.
    pub(crate) fn clients(
        &self,
        request_timeout_ms: u64,
    ) -> Result<HashMap<String, Client>, SimError> {
        self.clients
            .iter()
            .map(|(name, (cert, key))| {
                let config = service_kit::tls::client_config(&self.ca_path, cert, key)
                    .map_err(|e| SimError::Config(format!("TLS for {name}: {e}")))?;
                Ok((name.clone(), client(Some(config), request_timeout_ms)?))
            })
            .collect()
    }
}

pub(crate) type Connector =
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;
pub(crate) type Client =
    hyper_util::client::legacy::Client<Connector, http_body_util::Full<bytes::Bytes>>;

/// Idle keep-alive connections kept per host.
const IDLE_CONNECTIONS_PER_HOST_MAX: usize = 64;

/// An outbound client: HTTPS with `tls`, plain HTTP only without (no server is trusted).
pub(crate) fn client(
    tls: Option<Arc<rustls::ClientConfig>>,
    request_timeout_ms: u64,
) -> Result<Client, SimError> {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_millis(request_timeout_ms)));
    let config = match tls {
        Some(tls) => (*tls).clone(),
        None => rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| SimError::Config(format!("TLS: {e}")))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth(),
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_HOST_MAX)
            .build(connector),
    )
}
