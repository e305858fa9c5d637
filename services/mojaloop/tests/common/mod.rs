//! What the tests that run `mojaloop up` as a child process share: starting the switch on its
//! own databases and ports, running operator commands against it, reading the ledger, and a
//! clean stop.

#![allow(
    dead_code,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation panics"
)]

pub mod split;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The switch under test, killed if the test fails before stopping it.
pub struct Switch(pub std::process::Child);

impl Drop for Switch {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// How long the switch may take to start and onboard 8 DFSPs.
pub const START_TIMEOUT_S: u64 = 180;

pub struct Run {
    pub env: Vec<(String, String)>,
    pub database_url: String,
    pub databases: Vec<String>,
    pub ledger_url: String,
    pub switch: Switch,
    /// The switch's log lines up to the end of its start-up.
    pub start_log: Vec<String>,
}

impl Run {
    /// `mojaloop <args>` with the run's environment: exit code and stdout.
    pub fn mojaloop(&self, args: &[&str]) -> (i32, String) {
        self.mojaloop_without(&[], args)
    }

    /// [`Run::mojaloop`] without the run's variables named in `unset`.
    #[allow(dead_code, reason = "not every test binary unsets a variable")]
    pub fn mojaloop_without(&self, unset: &[&str], args: &[&str]) -> (i32, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_mojaloop"))
            .args(args)
            .envs(
                self.env
                    .iter()
                    .filter(|(k, _)| !unset.contains(&k.as_str()))
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        let code = output.status.code().unwrap_or(-1);
        eprintln!(
            "$ mojaloop {}\n{stdout}{stderr}(exit {code})",
            args.join(" ")
        );
        (code, stdout)
    }

    /// `mojaloop <args>` started in the background with the run's environment (and `extra`).
    pub fn spawn(&self, args: &[&str], extra: &[(&str, &str)]) -> Switch {
        Switch(
            Command::new(env!("CARGO_BIN_EXE_mojaloop"))
                .args(args)
                .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .envs(extra.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{e}")),
        )
    }

    /// The POSITION value of `dfsp` in USD, from the admin API.
    pub fn position(&self, dfsp: &str) -> String {
        self.position_in(dfsp, "USD")
    }

    /// The value of `dfsp`'s POSITION account in `currency`.
    pub fn position_in(&self, dfsp: &str, currency: &str) -> String {
        let url = format!("{}/participants/{dfsp}/accounts", self.ledger_url);
        let body: serde_json::Value = runtime()
            .block_on(async { reqwest::get(&url).await?.json().await })
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let account = body
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["ledgerAccountType"] == "POSITION" && a["currency"] == currency)
            .unwrap_or_else(|| panic!("no {currency} POSITION account: {body}"));
        account["value"].to_string()
    }

    /// The latest state of `transfer_id` in the ledger's database.
    pub fn transfer_state(&self, transfer_id: &str) -> String {
        let url = store::database_url(&self.database_url, &self.databases[0]).unwrap();
        runtime().block_on(async {
            let pool = store::connect(&url, 1, 5_000).await.unwrap();
            let (state,): (String,) = sqlx::query_as(
                "SELECT transferStateId FROM transferStateChange WHERE transferId = ?
                  ORDER BY transferStateChangeId DESC LIMIT 1",
            )
            .bind(transfer_id)
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|e| panic!("transfer {transfer_id}: {e}"));
            pool.close().await;
            state
        })
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Money as the admin API shows it, to an integer number of units.
pub fn units(value: &str) -> i64 {
    let number: f64 = value
        .trim_matches('"')
        .parse()
        .unwrap_or_else(|e| panic!("{value}: {e}"));
    assert_eq!(number.fract(), 0.0, "{value}");
    number as i64
}

/// Starts `mojaloop up --dfsps 8 --test-transaction` (over Kafka when `kafka`) on its own
/// databases and ports, and waits for its test transaction.
pub fn start(kafka: bool, port_offset: u16) -> Run {
    start_with(kafka, port_offset, &[])
}

/// [`start`] with more `mojaloop up` arguments (`--jws-dir DIR`, …).
pub fn start_with(kafka: bool, port_offset: u16, extra_up_args: &[&str]) -> Run {
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string());
    start_at(kafka, port_offset, extra_up_args, &database_url, &[])
}

/// [`start_with`] on the database server at `database_url`, with `extra_env` for the switch and
/// the commands.
pub fn start_at(
    kafka: bool,
    port_offset: u16,
    extra_up_args: &[&str],
    database_url: &str,
    extra_env: &[(&str, &str)],
) -> Run {
    let database_url = database_url.to_string();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let databases = vec![
        format!("t_{id}_cl"),
        format!("t_{id}_q"),
        format!("t_{id}_als"),
        format!("t_{id}_or"),
        format!("t_{id}_tr"),
    ];
    let port = |base: u16| base + port_offset;
    let url = |base: u16| format!("http://127.0.0.1:{}", port(base));
    let mut env = vec![
        (
            "CENTRAL_LEDGER__DATABASE__NAME".to_string(),
            databases[0].clone(),
        ),
        (
            "QUOTING_SERVICE__QUOTES_DATABASE__NAME".to_string(),
            databases[1].clone(),
        ),
        ("ALS__DATABASE__NAME".to_string(), databases[2].clone()),
        ("ORACLE__DATABASE__NAME".to_string(), databases[3].clone()),
        (
            "TRANSACTION_REQUESTS_SERVICE__TRANSACTION_REQUESTS_DATABASE__NAME".to_string(),
            databases[4].clone(),
        ),
        ("DATABASE_URL".to_string(), database_url.clone()),
        (
            "MOJALOOP_CENTRAL_LEDGER_DATABASE".to_string(),
            databases[0].clone(),
        ),
        ("MOJALOOP_ML_API_ADAPTER_URL".to_string(), url(3000)),
        ("MOJALOOP_CENTRAL_LEDGER_URL".to_string(), url(3001)),
        ("MOJALOOP_CENTRAL_SETTLEMENT_URL".to_string(), url(3007)),
        ("MOJALOOP_QUOTING_SERVICE_URL".to_string(), url(3002)),
        ("MOJALOOP_ALS_ADMIN_URL".to_string(), url(4001)),
        ("MOJALOOP_ALS_URL".to_string(), url(4002)),
        ("MOJALOOP_ORACLE_URL".to_string(), url(4003)),
        ("MOJALOOP_TRANSACTION_REQUESTS_URL".to_string(), url(4006)),
        ("MOJALOOP_SIM_URL".to_string(), url(4100)),
        ("MOJALOOP_SIM_CALLBACK_URL".to_string(), url(4100)),
        ("NO_COLOR".to_string(), "1".to_string()),
        // Endpoints re-registered during a test (`mojaloop sim --provision`) take effect soon.
        (
            "QUOTING_SERVICE__CENTRAL_LEDGER_DATABASE__CACHE_TTL_MS".to_string(),
            "2000".to_string(),
        ),
        (
            "ML_API_ADAPTER__CENTRAL_LEDGER_DATABASE__CACHE_TTL_MS".to_string(),
            "2000".to_string(),
        ),
    ];
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let mut up_args = vec![
        "up".to_string(),
        "--database-url".to_string(),
        database_url.clone(),
        "--dfsps".to_string(),
        "8".to_string(),
        "--port-offset".to_string(),
        port_offset.to_string(),
        "--test-transaction".to_string(),
    ];
    up_args.extend(extra_up_args.iter().map(|a| a.to_string()));
    if kafka {
        let brokers =
            std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_string());
        up_args.extend(["--kafka".to_string(), brokers]);
        for service in ["CENTRAL_LEDGER", "ML_API_ADAPTER", "CENTRAL_SETTLEMENT"] {
            env.push((
                format!("{service}__KAFKA__TOPIC_PREFIX"),
                format!("t{}-", &id[..12]),
            ));
        }
    }
    let mut switch = Switch(
        Command::new(env!("CARGO_BIN_EXE_mojaloop"))
            .args(&up_args)
            .env_remove("MOJALOOP_KAFKA_BROKERS")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    // Drain stderr on a thread so the switch never blocks on a full pipe; lines arrive here.
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = switch.0.stderr.take().expect("stderr is piped");
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

    // `up --test-transaction` onboards the DFSPs, then pays perffsp-1 → perffsp-5 once.
    let deadline = Instant::now() + Duration::from_secs(START_TIMEOUT_S);
    let mut seen = Vec::new();
    let started = loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(remaining.max(Duration::from_millis(1))) {
            Ok(line) if line.contains("test transaction committed") => break Ok(line),
            Ok(line)
                if line.contains("test transaction failed")
                    || line.contains("could not be onboarded")
                    || line.contains("mojaloop: ") =>
            {
                break Err(format!("{}\n{line}", seen.join("\n")))
            }
            Ok(line) => seen.push(line),
            Err(_) => {
                break Err(format!(
                    "not ready in {START_TIMEOUT_S} s:\n{}",
                    seen.join("\n")
                ))
            }
        }
    };
    let line = started.unwrap_or_else(|e| panic!("{e}"));
    assert!(line.contains("payee_fsp=perffsp-5"), "{line}");
    seen.push(line);
    // Keep reading the switch's log so it never blocks on a full pipe.
    std::thread::spawn(move || for _line in lines {});
    let bus = if kafka {
        "bus=\"kafka\""
    } else {
        "bus=\"embedded\""
    };
    assert!(
        seen.iter().any(|l| l.contains(bus)),
        "{bus} not in the start-up log"
    );
    assert!(
        seen.iter()
            .any(|l| l.contains("MSISDN oracle registered with the ALS")),
        "the oracle was not registered"
    );
    Run {
        env,
        database_url,
        databases,
        ledger_url: url(3001),
        switch,
        start_log: seen,
    }
}

impl Run {
    /// SIGTERM, a clean exit within 60 s, and the databases dropped.
    pub fn stop(self) {
        let database_url = self.database_url.clone();
        let databases = self.stop_keeping_databases();
        runtime().block_on(async {
            for name in &databases {
                store::drop_database_if_exists(&database_url, name)
                    .await
                    .unwrap();
            }
        });
    }

    /// SIGTERM and a clean exit within 60 s; the names of the run's databases, left in place.
    pub fn stop_keeping_databases(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.switch.0.id().to_string()])
            .status();
        let stop_deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Ok(Some(status)) = self.switch.0.try_wait() {
                break status;
            }
            assert!(
                Instant::now() < stop_deadline,
                "did not stop within 60 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(status.success(), "exit status {status}");
        std::mem::take(&mut self.databases)
    }
}
