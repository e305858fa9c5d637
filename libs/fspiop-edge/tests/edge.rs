//! The directory against a real central-ledger database, the forwarder against a real HTTP
//! peer.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;
use fspiop::headers::ProtocolVersions;
use fspiop::{ErrorCode, FspiopError};
use fspiop_edge::{Directory, Forwarder, ForwarderConfig, OutboundRequest};

fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string())
}

#[tokio::test]
async fn directory_reads_and_caches_participants_and_endpoints() {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    store::create_database_if_missing(&server_url(), &name)
        .await
        .unwrap_or_else(|e| panic!("MySQL (DATABASE_URL): {e}"));
    let url = store::database_url(&server_url(), &name).unwrap_or_else(|e| panic!("{e}"));
    let pool = store::connect(&url, 4, 5000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store::migrate_central_ledger(&pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for sql in [
        "INSERT INTO participant (participantId, name, createdBy) VALUES (2, 'perffsp-1', 't')",
        "INSERT INTO participantCurrency (participantId, currencyId, ledgerAccountTypeId, isActive, createdBy) VALUES (2, 'USD', 1, 1, 't'), (2, 'USD', 2, 1, 't'), (2, 'EUR', 1, 0, 't')",
        "INSERT INTO participantEndpoint (participantId, endpointTypeId, value, createdBy)
           SELECT 2, endpointTypeId, 'http://perffsp-1/quotes', 't' FROM endpointType WHERE name = 'FSPIOP_CALLBACK_URL_QUOTES'",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let directory = Directory::new(pool.clone(), 60_000);
    let participant = directory
        .participant("perffsp-1")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("missing"));
    assert!(participant.is_active);
    assert!(participant.has_active_position_account("USD"));
    assert!(!participant.has_active_position_account("EUR"));
    assert!(!participant.has_active_position_account("KES"));
    assert_eq!(
        directory
            .endpoint("perffsp-1", "FSPIOP_CALLBACK_URL_QUOTES")
            .await
            .ok()
            .flatten()
            .as_deref(),
        Some("http://perffsp-1/quotes")
    );
    assert_eq!(
        directory
            .endpoint("perffsp-1", "FSPIOP_CALLBACK_URL_TRANSFER_POST")
            .await
            .ok()
            .flatten(),
        None
    );
    assert_eq!(directory.participant("nobody").await.ok().flatten(), None);

    // Cached until invalidated.
    sqlx::query("UPDATE participant SET isActive = 0 WHERE participantId = 2")
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(directory
        .participant("perffsp-1")
        .await
        .ok()
        .flatten()
        .is_some_and(|p| p.is_active));
    directory.invalidate();
    assert!(directory
        .participant("perffsp-1")
        .await
        .ok()
        .flatten()
        .is_some_and(|p| !p.is_active));

    // The database unreadable (here: its tables gone): what was read before is served stale,
    // so accepted requests can still be answered; what was never read fails.
    let expiring = Directory::new(pool.clone(), 1);
    assert!(expiring.participant("perffsp-1").await.is_ok());
    sqlx::query("RENAME TABLE participant TO participantAway")
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(
        expiring
            .endpoint("perffsp-1", "FSPIOP_CALLBACK_URL_QUOTES")
            .await
            .ok()
            .flatten()
            .as_deref(),
        Some("http://perffsp-1/quotes"),
        "stale entry served while the database cannot be read"
    );
    assert!(expiring.participant("perffsp-2").await.is_err());
    pool.close().await;
    store::drop_database_if_exists(&server_url(), &name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

type Seen = Arc<Mutex<Vec<HeaderMap>>>;

/// A listener on a free loopback port, and its `http://` URL.
async fn listen() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    (listener, url)
}

async fn peer(status: StatusCode, body: &'static str) -> (String, Seen) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let app = axum::Router::new().route(
        "/{*path}",
        any(move |headers: HeaderMap| {
            let recorded = recorded.clone();
            async move {
                recorded.lock().map(|mut v| v.push(headers)).unwrap_or(());
                (status, body)
            }
        }),
    );
    let (listener, url) = listen().await;
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn forwarder() -> Forwarder {
    Forwarder::new(ForwarderConfig::new(
        2000,
        8,
        "Hub",
        ProtocolVersions::default(),
    ))
    .unwrap_or_else(|e| panic!("{e}"))
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

#[tokio::test]
async fn forwarder_outcomes() {
    let (ok, seen) = peer(StatusCode::ACCEPTED, "").await;
    forwarder()
        .send(request(format!("{ok}/quotes")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let headers = seen.lock().map(|v| v[0].clone()).unwrap_or_default();
    assert_eq!(
        headers
            .get("fspiop-destination")
            .and_then(|v| v.to_str().ok()),
        Some("perffsp-5")
    );
    assert_eq!(
        headers.get("fspiop-uri").and_then(|v| v.to_str().ok()),
        Some("/quotes")
    );

    let (refusing, _) = peer(StatusCode::BAD_REQUEST, r#"{"errorInformation":{"errorCode":"5101","errorDescription":"Payee rejected quote - no"}}"#).await;
    let error = forwarder()
        .send(request(format!("{refusing}/quotes")))
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(error.code, ErrorCode::PayeeRejectedQuote);
    assert_eq!(error.description(), "Payee rejected quote - no");

    let (failing, _) = peer(StatusCode::INTERNAL_SERVER_ERROR, "boom").await;
    let error = forwarder()
        .send(request(format!("{failing}/quotes")))
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(error.code, ErrorCode::DestinationCommunicationError);

    let (missing, _) = peer(StatusCode::NOT_FOUND, "").await;
    let error = forwarder()
        .send(request(format!("{missing}/quotes")))
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(error.code, ErrorCode::IdNotFound);

    // Nothing listens on port 9 of the loopback.
    let error = forwarder()
        .send(request("http://127.0.0.1:9/quotes".into()))
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(error.code, ErrorCode::DestinationCommunicationError);

    let (errors, seen) = peer(StatusCode::OK, "").await;
    forwarder()
        .send_error(
            "perffsp-1",
            &format!("{errors}/quotes/q1/error"),
            "/quotes/q1/error",
            "quotes",
            &FspiopError::new(ErrorCode::PartyNotFound),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let headers = seen.lock().map(|v| v[0].clone()).unwrap_or_default();
    assert_eq!(
        headers.get("fspiop-source").and_then(|v| v.to_str().ok()),
        Some("Hub")
    );
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/vnd.interoperability.quotes+json;version=1.1")
    );
    assert!(
        headers.get("accept").is_none(),
        "a PUT callback carries no Accept: {headers:?}"
    );
}

/// A peer on a raw socket: it reads each request's head, then closes the first `closes`
/// connections without a word and answers `202` on the others; returns its URL and the number
/// of requests it read.
async fn closing_peer(closes: usize) -> (String, Arc<Mutex<usize>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (listener, url) = listen().await;
    let read = Arc::new(Mutex::new(0_usize));
    let counter = read.clone();
    tokio::spawn(async move {
        let mut connections = 0;
        while let Ok((mut stream, _)) = listener.accept().await {
            connections += 1;
            let mut buffer = vec![0_u8; 16 * 1024];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buffer[..n]),
                }
            }
            counter.lock().map(|mut n| *n += 1).unwrap_or(());
            if connections <= closes {
                drop(stream);
                continue;
            }
            let _ = stream
                .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                .await;
            // Keep the connection open until the client lets go of it.
            let _ = stream.read(&mut buffer).await;
        }
    });
    (url, read)
}

#[tokio::test]
async fn forwarder_tries_once_more_after_a_transport_failure() {
    // The peer closes the connection the request went out on: tried again, delivered.
    let (url, read) = closing_peer(1).await;
    forwarder()
        .send(request(format!("{url}/quotes")))
        .await
        .unwrap_or_else(|e| panic!("not delivered on the second attempt: {e}"));
    assert_eq!(read.lock().map(|n| *n).unwrap_or(0), 2);

    // It does so twice: two attempts, then 1001.
    let (url, read) = closing_peer(usize::MAX).await;
    let error = forwarder()
        .send(request(format!("{url}/quotes")))
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(error.code, ErrorCode::DestinationCommunicationError);
    assert_eq!(read.lock().map(|n| *n).unwrap_or(0), 2);
}

#[tokio::test]
async fn forwarder_does_not_resend_to_a_peer_that_took_the_request_and_is_silent() {
    let (listener, url) = listen().await;
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let held = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            held.lock().map(|mut v| v.push(stream)).unwrap_or(());
        }
    });
    let started = std::time::Instant::now();
    let error = forwarder()
        .send(request(format!("{url}/quotes")))
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(error.code, ErrorCode::DestinationCommunicationError);
    // The forwarder's timeout is 2 s; a second attempt would have opened a second connection.
    assert!(started.elapsed() >= std::time::Duration::from_millis(1900));
    assert_eq!(accepted.lock().map(|v| v.len()).unwrap_or(0), 1);
}
