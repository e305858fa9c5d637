//! `mojaloop migrate` and `mojaloop serve central-ledger` as an operator runs them: the real
//! binary, a fresh database, the real broker.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use test_support::{database_server_url, free_port};

/// A plain HTTP/1.1 GET; the status and body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

#[test]
fn migrate_then_serve_central_ledger() {
    let database = format!("t_{}", uuid::Uuid::new_v4().simple());
    let prefix = format!("{}-", &database[..14]);
    let env = [
        ("CENTRAL_LEDGER__DATABASE__URL", database_server_url()),
        ("CENTRAL_LEDGER__DATABASE__NAME", database.clone()),
        (
            "CENTRAL_LEDGER__KAFKA__BROKERS",
            std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into()),
        ),
        ("CENTRAL_LEDGER__KAFKA__TOPIC_PREFIX", prefix),
        (
            "QUOTING_SERVICE__QUOTES_DATABASE__NAME",
            format!("{database}_q"),
        ),
    ];
    let migrate = Command::new(env!("CARGO_BIN_EXE_mojaloop"))
        .arg("migrate")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(String::from_utf8_lossy(&migrate.stdout).contains(&database));

    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_mojaloop"))
        .args(["serve", "central-ledger"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("CENTRAL_LEDGER__SERVER__PORT", port.to_string())
        .env("CENTRAL_LEDGER__SERVER__HOST", "127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = loop {
        if let Some((200, body)) = get(port, "/health") {
            break body;
        }
        if let Ok(Some(status)) = server.try_wait() {
            let mut stderr = String::new();
            server
                .stderr
                .take()
                .map(|mut e| e.read_to_string(&mut stderr));
            panic!("mojaloop serve exited with {status}: {stderr}");
        }
        assert!(Instant::now() < deadline, "no /health within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    let health: serde_json::Value =
        serde_json::from_str(&health).unwrap_or_else(|e| panic!("{e}: {health}"));
    assert_eq!(health["status"], "OK");
    assert_eq!(
        health["services"],
        serde_json::json!([{"name": "datastore", "status": "OK"}, {"name": "broker", "status": "OK"}])
    );
    assert_eq!(
        get(port, "/participants").map(|(s, b)| (s, b.contains("\"Hub\""))),
        Some((200, true))
    );

    // SIGTERM stops it cleanly.
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let stop_deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Ok(Some(status)) = server.try_wait() {
            break status;
        }
        assert!(
            Instant::now() < stop_deadline,
            "did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit status {status}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    for name in [database.clone(), format!("{database}_q")] {
        runtime
            .block_on(store::drop_database_if_exists(
                &database_server_url(),
                &name,
            ))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// `mojaloop kafka-topics` (the compose and Helm topic job) creates every topic with the
/// partitions asked for, lists what the broker then holds, and fails, naming them, when topics
/// made earlier have fewer than a second run asks for.
#[test]
fn kafka_topics_creates_the_partitions_asked_for() {
    let prefix = format!("t{}-", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let run = |partitions: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_mojaloop"))
            .args([
                "kafka-topics",
                "--brokers",
                &test_support::kafka_brokers(),
                "--partitions",
                partitions,
                "--topic-prefix",
                &prefix,
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        eprintln!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
        (output.status.success(), stdout)
    };
    let (ok, out) = run("2");
    assert!(ok, "{out}");
    for topic in [
        "topic-transfer-prepare",
        "topic-notification-event",
        "topic-deferredsettlement-close",
    ] {
        assert!(
            out.contains(&format!("✅ {prefix}{topic}: 2 partitions")),
            "{topic}: {out}"
        );
    }
    assert!(
        out.contains("12 topics with at least 2 partitions"),
        "{out}"
    );
    // Asking for more later: the topics keep their 2 partitions, and the job says so and fails.
    let (ok, out) = run("4");
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("❌ {prefix}topic-transfer-prepare: 2 partitions")),
        "{out}"
    );
    assert!(
        out.contains("12 topic(s) have fewer than 4 partitions"),
        "{out}"
    );
}
