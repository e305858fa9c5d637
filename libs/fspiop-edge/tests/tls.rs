//! The forwarder over mutual TLS, on real sockets: presenting the hub's client certificate it
//! reaches a DFSP server that requires one; it refuses a server whose certificate is from
//! another CA; without a client certificate the DFSP refuses it.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::routing::post;
use axum::Extension;
use fspiop::headers::ProtocolVersions;
use fspiop::ErrorCode;
use fspiop_edge::{Forwarder, ForwarderConfig, OutboundRequest};
use service_kit::pki::{Authority, Leaf, Usage};
use service_kit::tls::{PeerIdentity, TlsServer};

struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let path = std::env::temp_dir().join(format!(
            "edge-tls-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn issue(&self, ca: &Authority, file: &str, name: &str, usage: Usage) -> (PathBuf, PathBuf) {
        let issued = ca
            .issue(&Leaf {
                name,
                alt_names: &["localhost", "127.0.0.1"],
                usage,
            })
            .unwrap();
        (
            self.write(&format!("{file}.pem"), &issued.cert_pem),
            self.write(&format!("{file}-key.pem"), &issued.key_pem),
        )
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A DFSP's HTTPS server requiring a client certificate from `ca_path`; records the identity
/// of every caller.
async fn dfsp_server(
    cert: &(PathBuf, PathBuf),
    ca_path: &std::path::Path,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let app = axum::Router::new().route(
        "/quotes",
        post(
            move |Extension(PeerIdentity(peer)): Extension<PeerIdentity>| {
                let recorded = recorded.clone();
                async move {
                    recorded.lock().map(|mut v| v.push(peer)).unwrap_or(());
                    axum::http::StatusCode::ACCEPTED
                }
            },
        ),
    );
    let config = service_kit::tls::server_config(&cert.0, &cert.1, ca_path).unwrap();
    let tls = TlsServer::new(config).trusted_identities(vec!["Hub".to_string()]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(service_kit::tls::serve(
        listener,
        app,
        Some(tls),
        std::future::pending(),
    ));
    (url, seen)
}

fn request(url: String) -> OutboundRequest {
    OutboundRequest {
        method: "POST",
        url,
        uri_path: "/quotes".into(),
        headers: vec![(
            "content-type".into(),
            "application/vnd.interoperability.quotes+json;version=1.1".into(),
        )],
        source: "perffsp-1".into(),
        destination: "perffsp-5".into(),
        body: Some(b"{}".to_vec()),
    }
}

fn forwarder(tls: Option<Arc<rustls::ClientConfig>>) -> Forwarder {
    Forwarder::new(ForwarderConfig::new(2000, 8, "Hub", ProtocolVersions::default()).with_tls(tls))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn the_hub_certificate_reaches_dfsps_of_its_scheme_only() {
    let dir = Dir::new();
    let ca = Authority::new("Scheme CA").unwrap();
    let other = Authority::new("Other CA").unwrap();
    let ca_path = dir.write("ca.pem", ca.cert_pem());
    let hub = dir.issue(&ca, "hub", "Hub", Usage::Client);
    let dfsp = dir.issue(&ca, "dfsp", "perffsp-5", Usage::Server);
    let rogue = dir.issue(&other, "rogue", "perffsp-5", Usage::Server);
    let hub_tls = service_kit::tls::client_config(&ca_path, &hub.0, &hub.1).unwrap();

    // The DFSP requires a client certificate of the scheme: the hub's gets through.
    let (url, seen) = dfsp_server(&dfsp, &ca_path).await;
    let mtls = forwarder(Some(hub_tls.clone()));
    mtls.send(request(format!("{url}/quotes")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(*seen.lock().unwrap(), vec!["Hub".to_string()]);

    // A DFSP server whose certificate is from another CA is not called.
    let (rogue_url, rogue_seen) = dfsp_server(&rogue, &ca_path).await;
    let error = mtls
        .send(request(format!("{rogue_url}/quotes")))
        .await
        .err()
        .unwrap_or_else(|| panic!("a server of another CA was trusted"));
    assert_eq!(error.code, ErrorCode::DestinationCommunicationError);
    assert!(rogue_seen.lock().unwrap().is_empty());

    // Without the scheme's settings (public roots, no client certificate) nothing gets through.
    let error = forwarder(None)
        .send(request(format!("{url}/quotes")))
        .await
        .err()
        .unwrap_or_else(|| panic!("called without a client certificate"));
    assert_eq!(error.code, ErrorCode::DestinationCommunicationError);
    assert_eq!(seen.lock().unwrap().len(), 1);
}
