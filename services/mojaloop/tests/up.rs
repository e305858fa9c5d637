//! `mojaloop up`: every service in one process on its usual port, databases created and
//! migrated, the MSISDN oracle registered, simulated DFSPs onboarded and paying each other,
//! and a clean stop on SIGTERM.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::io::BufRead;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
    Some((
        status,
        response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    ))
}

/// The switch under test, killed if the test fails before stopping it, so that no stray
/// process keeps the well-known ports for the tests that follow.
struct Switch(std::process::Child);

impl Drop for Switch {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn up_runs_the_whole_switch_and_stops_cleanly() {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let names = [
        ("CENTRAL_LEDGER__DATABASE__NAME", format!("t_{id}_cl")),
        (
            "QUOTING_SERVICE__QUOTES_DATABASE__NAME",
            format!("t_{id}_q"),
        ),
        ("ALS__DATABASE__NAME", format!("t_{id}_als")),
        ("ORACLE__DATABASE__NAME", format!("t_{id}_or")),
        (
            "CENTRAL_LEDGER__KAFKA__TOPIC_PREFIX",
            format!("t{}-", &id[..12]),
        ),
        (
            "ML_API_ADAPTER__KAFKA__TOPIC_PREFIX",
            format!("t{}-", &id[..12]),
        ),
    ];
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string());
    let kafka = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_string());
    let mut switch = Switch(
        Command::new(env!("CARGO_BIN_EXE_mojaloop"))
            .args([
                "up",
                "--database-url",
                &database_url,
                "--kafka",
                &kafka,
                "--oracle-port",
                "4013",
                "--dfsps",
                "2",
                "--sim-port",
                "4113",
                "--test-transaction",
            ])
            .envs(names.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    // Drain stderr on a thread so the switch never blocks on a full pipe; lines arrive here.
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = switch
        .0
        .stderr
        .take()
        .unwrap_or_else(|| panic!("stderr is piped"));
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    for port in [3001, 3000, 3002, 4002, 4001, 4013] {
        loop {
            if let Some((200, body)) = get(port, "/health") {
                assert!(body.contains("\"status\":\"OK\""), "{port}: {body}");
                break;
            }
            if let Ok(Some(status)) = switch.0.try_wait() {
                let stderr: Vec<String> = lines.try_iter().collect();
                panic!("mojaloop up exited with {status}: {}", stderr.join("\n"));
            }
            assert!(
                Instant::now() < deadline,
                "port {port} not healthy within 90 s"
            );
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
    assert!(
        oracle_registered,
        "the MSISDN oracle was not registered with the ALS"
    );

    // perffsp-1 (funded) pays MSISDN 19012345101 of perffsp-2 through lookup, quote and transfer.
    let mut seen = Vec::new();
    let outcome = loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(remaining.max(Duration::from_millis(1))) {
            Ok(line) if line.contains("test transaction committed") => break Ok(line),
            Ok(line)
                if line.contains("test transaction failed")
                    || line.contains("could not be onboarded") =>
            {
                break Err(line)
            }
            Ok(line) => seen.push(line),
            Err(_) => {
                break Err(format!(
                    "no test transaction outcome within 90 s:\n{}",
                    seen.join("\n")
                ))
            }
        }
    };
    let line = outcome.unwrap_or_else(|e| panic!("{e}"));
    assert!(line.contains("payee_fsp=perffsp-2"), "{line}");

    let _ = Command::new("kill")
        .args(["-TERM", &switch.0.id().to_string()])
        .status();
    let stop_deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Ok(Some(status)) = switch.0.try_wait() {
            break status;
        }
        assert!(
            Instant::now() < stop_deadline,
            "did not stop within 60 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit status {status}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    for (_, name) in &names[..4] {
        runtime
            .block_on(store::drop_database_if_exists(&database_url, name))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
