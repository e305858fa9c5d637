//! `mojaloop up`: every service in one process on its usual port, databases created and
//! migrated, the MSISDN oracle registered, and a clean stop on SIGTERM.

#![allow(clippy::panic, clippy::indexing_slicing, reason = "test code: a failed expectation panics")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    Some((status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()))
}

#[test]
fn up_runs_the_whole_switch_and_stops_cleanly() {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let names = [
        ("CENTRAL_LEDGER__DATABASE__NAME", format!("t_{id}_cl")),
        ("QUOTING_SERVICE__QUOTES_DATABASE__NAME", format!("t_{id}_q")),
        ("ALS__DATABASE__NAME", format!("t_{id}_als")),
        ("ORACLE__DATABASE__NAME", format!("t_{id}_or")),
        ("CENTRAL_LEDGER__KAFKA__TOPIC_PREFIX", format!("t{}-", &id[..12])),
        ("ML_API_ADAPTER__KAFKA__TOPIC_PREFIX", format!("t{}-", &id[..12])),
    ];
    let database_url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string());
    let kafka = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_string());
    let mut switch = Command::new(env!("CARGO_BIN_EXE_mojaloop"))
        .args(["up", "--database-url", &database_url, "--kafka", &kafka, "--oracle-port", "4013"])
        .envs(names.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(90);
    for port in [3001, 3000, 3002, 4002, 4001, 4013] {
        loop {
            if let Some((200, body)) = get(port, "/health") {
                assert!(body.contains("\"status\":\"OK\""), "{port}: {body}");
                break;
            }
            if let Ok(Some(status)) = switch.try_wait() {
                let mut stderr = String::new();
                switch.stderr.take().map(|mut e| e.read_to_string(&mut stderr));
                panic!("mojaloop up exited with {status}: {stderr}");
            }
            assert!(Instant::now() < deadline, "port {port} not healthy within 90 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let oracle_registered = loop {
        if let Some((200, body)) = get(4001, "/oracles") {
            if body.contains("4013") {
                break true;
            }
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(oracle_registered, "the MSISDN oracle was not registered with the ALS");

    let _ = Command::new("kill").args(["-TERM", &switch.id().to_string()]).status();
    let stop_deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Ok(Some(status)) = switch.try_wait() {
            break status;
        }
        assert!(Instant::now() < stop_deadline, "did not stop within 60 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit status {status}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    for (_, name) in &names[..4] {
        runtime.block_on(store::drop_database_if_exists(&database_url, name)).unwrap_or_else(|e| panic!("{e}"));
    }
}
