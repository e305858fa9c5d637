//! Mutual TLS on real sockets: `service_kit::tls::serve` with certificates from a local CA,
//! called by reqwest clients with and without client certificates.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::{Extension, Router};
use service_kit::pki::{Authority, Leaf, Usage};
use service_kit::tls::{PeerIdentity, Probe, TlsConfig};

/// A scratch directory of PEM files, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!("tls-test-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Issues `name` for `usage` and writes `<file>.pem` and `<file>-key.pem`.
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

struct Scheme {
    dir: Dir,
    ca_path: PathBuf,
    server: (PathBuf, PathBuf),
    dfsp1: (PathBuf, PathBuf),
    hub: (PathBuf, PathBuf),
    /// perffsp-1's name, issued by another CA.
    impostor: (PathBuf, PathBuf),
}

fn scheme() -> Scheme {
    let dir = Dir::new();
    let ca = Authority::new("Test scheme CA").unwrap();
    let other = Authority::new("Other CA").unwrap();
    let ca_path = dir.write("ca.pem", ca.cert_pem());
    let server = dir.issue(&ca, "switch", "switch", Usage::Server);
    let dfsp1 = dir.issue(&ca, "perffsp-1", "perffsp-1", Usage::Client);
    let hub = dir.issue(&ca, "hub", "Hub", Usage::Client);
    let impostor = dir.issue(&other, "impostor", "perffsp-1", Usage::Client);
    Scheme {
        dir,
        ca_path,
        server,
        dfsp1,
        hub,
        impostor,
    }
}

impl Scheme {
    fn config(&self) -> TlsConfig {
        TlsConfig {
            enabled: true,
            cert_path: self.server.0.display().to_string(),
            key_path: self.server.1.display().to_string(),
            ca_path: self.ca_path.display().to_string(),
            client_cert_path: String::new(),
            client_key_path: String::new(),
            handshake_timeout_ms: 300,
            drain_timeout_ms: 5_000,
            trusted_identities: vec!["Hub".to_string()],
        }
    }

    /// A client trusting the scheme CA and presenting `identity` (none: no certificate).
    fn client(&self, identity: Option<&(PathBuf, PathBuf)>) -> reqwest::Client {
        let tls = match identity {
            Some((cert, key)) => service_kit::tls::client_config(&self.ca_path, cert, key).unwrap(),
            None => Arc::new(anonymous_client(&self.ca_path)),
        };
        reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }
}

fn anonymous_client(ca_path: &Path) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in service_kit::tls::read_certificates(ca_path).unwrap() {
        roots.add(cert).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

fn router() -> Router {
    Router::new()
        .route(
            "/transfers",
            post(|Extension(PeerIdentity(peer)): Extension<PeerIdentity>| async move { peer }),
        )
        .route("/health", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "slow"
            }),
        )
}

struct Server {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(config: &TlsConfig) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let tls = config.server().unwrap();
    assert!(tls.is_some());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(service_kit::tls::serve(listener, router(), tls, async {
        let _ = stopped.await;
    }));
    Server {
        base,
        stop: Some(stop),
        task,
    }
}

async fn post_transfer(
    client: &reqwest::Client,
    base: &str,
    source: Option<&str>,
) -> reqwest::Result<(u16, String)> {
    let mut request = client.post(format!("{base}/transfers"));
    if let Some(source) = source {
        request = request.header("fspiop-source", source);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// The error and its sources, for the TLS alert at the bottom.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{error}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn clients_without_a_scheme_certificate_fail_the_handshake() {
    let scheme = scheme();
    let server = start(&scheme.config()).await;

    // A raw exchange on a fresh connection: the TLS 1.3 server refuses after the client's half
    // of the handshake, with its alert.
    let address = server.base.trim_start_matches("https://").to_string();
    let timeout = Duration::from_secs(5);
    let anonymous = Arc::new(anonymous_client(&scheme.ca_path));
    let probe = service_kit::tls::probe(&address, anonymous.clone(), timeout).await;
    assert_eq!(
        probe,
        Probe::Refused("received fatal alert: CertificateRequired".to_string())
    );
    let impostor =
        service_kit::tls::client_config(&scheme.ca_path, &scheme.impostor.0, &scheme.impostor.1)
            .unwrap();
    let probe = service_kit::tls::probe(&address, impostor, timeout).await;
    assert_eq!(
        probe,
        Probe::Refused("received fatal alert: UnknownCA".to_string())
    );
    let dfsp1 =
        service_kit::tls::client_config(&scheme.ca_path, &scheme.dfsp1.0, &scheme.dfsp1.1).unwrap();
    let probe = service_kit::tls::probe(&address, dfsp1, timeout).await;
    assert_eq!(probe, Probe::Answered("HTTP/1.1 200 OK".to_string()));
    // The library's own anonymous configuration is refused too.
    let library = service_kit::tls::anonymous_client_config(&scheme.ca_path).unwrap();
    let probe = service_kit::tls::probe(&address, library, timeout).await;
    assert!(matches!(probe, Probe::Refused(_)), "{probe:?}");
    assert!(matches!(
        service_kit::tls::probe("127.0.0.1:9", anonymous, timeout).await,
        Probe::Unreachable(_)
    ));

    // Through an HTTP client the request fails as well.
    for identity in [None, Some(&scheme.impostor)] {
        let error = post_transfer(&scheme.client(identity), &server.base, Some("perffsp-1"))
            .await
            .expect_err("answered without a scheme certificate");
        assert!(
            error.is_request() || error.is_connect(),
            "{}",
            chain(&error)
        );
    }

    // Plain HTTP on the TLS port gets no HTTP answer either.
    let plain = reqwest::Client::new()
        .get(server.base.replace("https://", "http://") + "/health")
        .send()
        .await;
    assert!(
        plain.is_err(),
        "plain HTTP answered: {:?}",
        plain.map(|r| r.status())
    );

    // The listener still serves a good client afterwards.
    let (status, body) = post_transfer(
        &scheme.client(Some(&scheme.dfsp1)),
        &server.base,
        Some("perffsp-1"),
    )
    .await
    .unwrap();
    assert_eq!((status, body.as_str()), (200, "perffsp-1"));
}

#[tokio::test]
async fn fspiop_source_must_be_the_certificate_identity() {
    let scheme = scheme();
    let server = start(&scheme.config()).await;
    let dfsp1 = scheme.client(Some(&scheme.dfsp1));

    let (status, body) = post_transfer(&dfsp1, &server.base, Some("perffsp-1"))
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "perffsp-1"));
    // DNS names are compared without regard to case.
    let (status, _) = post_transfer(&dfsp1, &server.base, Some("PerfFSP-1"))
        .await
        .unwrap();
    assert_eq!(status, 200);

    let (status, body) = post_transfer(&dfsp1, &server.base, Some("perffsp-2"))
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["errorInformation"]["errorCode"], "3100");
    assert_eq!(
        body["errorInformation"]["errorDescription"],
        "Generic validation error - FSPIOP-Source perffsp-2 does not match the client certificate (perffsp-1)"
    );

    // Requests without FSPIOP-Source (health, admin) are not the check's business.
    let response = dfsp1
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // The hub's own certificate is trusted to relay for any participant.
    let hub = scheme.client(Some(&scheme.hub));
    let (status, body) = post_transfer(&hub, &server.base, Some("perffsp-2"))
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "Hub"));
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
    use tokio::io::AsyncReadExt;
    let scheme = scheme();
    let server = start(&scheme.config()).await;
    let address = server.base.trim_start_matches("https://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .expect("the server closes the connection");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish_and_stops_accepting() {
    let scheme = scheme();
    let mut server = start(&scheme.config()).await;
    let client = scheme.client(Some(&scheme.dfsp1));
    let slow = tokio::spawn({
        let client = client.clone();
        let url = format!("{}/slow", server.base);
        async move { client.get(url).send().await?.text().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = server.stop.take().unwrap().send(());
    assert_eq!(slow.await.unwrap().unwrap(), "slow");
    tokio::time::timeout(Duration::from_secs(5), &mut server.task)
        .await
        .expect("serve returns once the connections are done")
        .unwrap()
        .unwrap();
    let fresh = scheme.client(Some(&scheme.dfsp1));
    assert!(fresh
        .get(format!("{}/health", server.base))
        .send()
        .await
        .is_err());
    drop(scheme.dir);
}

#[tokio::test]
async fn without_tls_serve_is_plain_http() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(service_kit::tls::serve(listener, router(), None, async {
        let _ = stopped.await;
    }));
    let response = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(response.text().await.unwrap(), "ok");
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
