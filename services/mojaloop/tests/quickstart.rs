//! The README's quick start, as a newcomer runs it: `mojaloop up --dfsps 8` in one process,
//! then `mojaloop provision`, `verify-participants`, `test-transaction` and `validate` as
//! separate commands, once over the embedded bus and once over Kafka. Afterwards the ledger is
//! read: the payer's position moved by the amount, the payee's by minus the amount, and the
//! transfer is COMMITTED. A request to pay (`test-transaction --request-to-pay`) commits
//! through the transaction requests service. Every payer/payee pair pays; an amount beyond the
//! payer's liquidity ends in 4001 and an unknown MSISDN in 3204, each told the way the command
//! tells it. A bulk payment (`test-transaction --bulk 100`) moves the positions by the
//! committed transfers; past the payer's liquidity its transfers are refused 4001. The switch stops cleanly on SIGTERM.
//!
//! Each run gets its own databases (and topic prefix over Kafka) and its own ports
//! (`--port-offset`), so the two runs can go in parallel.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation panics"
)]

mod common;

use common::units;

fn quick_start(kafka: bool, port_offset: u16) {
    // Also checks the start-up log: the bus in use, the oracle registered, the test payment.
    let run = common::start(kafka, port_offset);

    // The quick start, command by command.
    let (code, out) = run.mojaloop(&["provision"]);
    assert_eq!(code, 0, "{out}");
    for n in 1..=8 {
        assert!(out.contains(&format!("✅ perffsp-{n}: ")), "{out}");
    }
    assert!(out.contains("100 MSISDNs in the oracle"), "{out}");
    assert!(
        out.contains("✅ MSISDN oracle already registered with the ALS: http://127.0.0.1:"),
        "{out}"
    );
    let (health_code, health) = run.mojaloop(&["health", &format!("{}/health", run.ledger_url)]);
    assert_eq!(health_code, 0, "{health}");
    assert!(health.starts_with("200 "), "{health}");
    assert!(
        out.contains("perffsp-1: payer") && out.contains("perffsp-5: payee"),
        "{out}"
    );
    // Run twice: nothing changes, nothing is deposited again.
    let (code, again) = run.mojaloop(&["provision", "--dfsp", "perffsp-1"]);
    assert_eq!(code, 0, "{again}");
    assert!(again.contains("funded earlier"), "{again}");

    let (code, out) = run.mojaloop(&["verify-participants"]);
    assert_eq!(code, 0, "{out}");
    for n in 1..=8 {
        assert!(
            out.contains(&format!("✅ perffsp-{n}: 100 accounts provisioned")),
            "{out}"
        );
    }
    assert!(out.contains("Total: 800 test accounts ready"), "{out}");

    let payer_before = units(&run.position("perffsp-1"));
    let payee_before = units(&run.position("perffsp-5"));
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--from",
        "perffsp-1",
        "--to",
        "perffsp-5",
        "--amount",
        "100",
    ]);
    assert_eq!(code, 0, "{out}");
    for expected in [
        "From: MSISDN 19012345001 (perffsp-1)",
        "To: MSISDN 19012345401 (perffsp-5)",
        "Amount: 100 USD",
        "[✓] Party Lookup: ",
        "[✓] Quote: ",
        "[✓] Transfer: ",
        "[✓] Settlement: recorded in settlement window 1 (OPEN)",
        "Total time: ",
        "Status: SUCCESS",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }
    let transfer_id = out
        .split("COMMITTED, id ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no transfer id in\n{out}"));
    assert_eq!(run.transfer_state(transfer_id), "COMMITTED");
    assert_eq!(units(&run.position("perffsp-1")) - payer_before, 100);
    assert_eq!(units(&run.position("perffsp-5")) - payee_before, -100);

    // The same payment with an ILPv1 packet (what Mojaloop's SDK makes for FSPIOP 1.x): the
    // switch, on its defaults, takes it through quote and transfer as well.
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--from",
        "perffsp-1",
        "--to",
        "perffsp-5",
        "--amount",
        "7",
        "--ilp-version",
        "v1",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Status: SUCCESS"), "{out}");
    let v1_transfer = out
        .split("COMMITTED, id ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no transfer id in\n{out}"));
    assert_eq!(run.transfer_state(v1_transfer), "COMMITTED");
    assert_eq!(units(&run.position("perffsp-1")) - payer_before, 107);
    assert_eq!(units(&run.position("perffsp-5")) - payee_before, -107);

    // A payment to the payee holding EUR, through the FXP: the conversion and the transfer
    // commit together; positions move in both currencies.
    let fxp_usd = units(&run.position_in("perffsp-fxp", "USD"));
    let fxp_eur = units(&run.position_in("perffsp-fxp", "EUR"));
    let payee_eur = units(&run.position_in("perffsp-eur", "EUR"));
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--from",
        "perffsp-1",
        "--to",
        "perffsp-eur",
        "--amount",
        "100",
    ]);
    assert_eq!(code, 0, "{out}");
    for expected in [
        "To: MSISDN 19012346001 (perffsp-eur)",
        "Amount: 100 USD",
        "[✓] Party Lookup: ",
        "[✓] FX Quote: ",
        "(perffsp-fxp: 100 USD → 90 EUR)",
        "[✓] Quote: ",
        "[✓] FX Transfer: ",
        "[✓] Transfer: ",
        "FX transfer ",
        "Status: SUCCESS",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }
    assert_eq!(units(&run.position("perffsp-1")) - payer_before, 207);
    assert_eq!(
        units(&run.position_in("perffsp-fxp", "USD")) - fxp_usd,
        -100
    );
    assert_eq!(units(&run.position_in("perffsp-fxp", "EUR")) - fxp_eur, 90);
    assert_eq!(
        units(&run.position_in("perffsp-eur", "EUR")) - payee_eur,
        -90
    );

    // A request to pay (through the transaction requests service): the payee perffsp-5 asks,
    // the payer perffsp-1 quotes, has the customer's OTP checked and transfers.
    let (payer_before, payee_before) = (
        units(&run.position("perffsp-1")),
        units(&run.position("perffsp-5")),
    );
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--request-to-pay",
        "--from",
        "perffsp-5",
        "--to",
        "perffsp-1",
        "--amount",
        "100",
    ]);
    assert_eq!(code, 0, "{out}");
    for expected in [
        "Payee (requests): MSISDN 19012345401 (perffsp-5)",
        "Payer (asked): MSISDN 19012345001 (perffsp-1)",
        "[✓] Party Lookup: ",
        "(payer at perffsp-1)",
        "[✓] Transaction Request: ",
        "(RECEIVED, id ",
        "[✓] Quote: ",
        "[✓] Authorization: ",
        "[✓] Transfer: ",
        "[✓] Settlement: recorded in settlement window",
        "Status: SUCCESS",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }
    let r2p_transfer = out
        .split("COMMITTED, id ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no transfer id in\n{out}"));
    assert_eq!(run.transfer_state(r2p_transfer), "COMMITTED");
    assert_eq!(units(&run.position("perffsp-1")) - payer_before, 100);
    assert_eq!(units(&run.position("perffsp-5")) - payee_before, -100);
    // Without an OTP, and refused by the payer's liquidity at the transfer.
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--request-to-pay",
        "--no-otp",
        "--from",
        "perffsp-6",
        "--to",
        "perffsp-2",
        "--amount",
        "3",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Authorization: none") && !out.contains("[✓] Authorization"),
        "{out}"
    );
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--request-to-pay",
        "--from",
        "perffsp-7",
        "--to",
        "perffsp-3",
        "--amount",
        "5000000",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("[✓] Authorization"), "{out}");
    assert!(
        out.contains("[✗] Transfer: FSPIOP error 4001: Payer FSP insufficient liquidity"),
        "{out}"
    );
    assert_eq!(units(&run.position("perffsp-1")) - payer_before, 100);

    // A bulk payment: 100 payees round robin over perffsp-5 … perffsp-8, one bulk quote and
    // one bulk transfer per payee DFSP.
    let names = [
        "perffsp-4",
        "perffsp-5",
        "perffsp-6",
        "perffsp-7",
        "perffsp-8",
    ];
    let before: Vec<i64> = names.iter().map(|n| units(&run.position(n))).collect();
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--bulk",
        "100",
        "--from",
        "perffsp-4",
        "--amount",
        "2",
    ]);
    assert_eq!(code, 0, "{out}");
    for expected in [
        "To: 100 payees at perffsp-5, perffsp-6, perffsp-7, perffsp-8",
        "perffsp-5 (25 payees):",
        "perffsp-8 (25 payees):",
        "(25 of 25 quoted)",
        "(COMPLETED: 25 committed, 0 failed)",
        "[✓] Settlement: recorded in settlement window",
        "perffsp-4 USD: ",
        "(✓ 100 committed × 2)",
        "Transfers: 100 committed, 0 failed, of 100",
        "Status: SUCCESS",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }
    assert_eq!(out.matches("[✓] Bulk Transfer: ").count(), 4, "{out}");
    let after: Vec<i64> = names.iter().map(|n| units(&run.position(n))).collect();
    assert_eq!(after[0] - before[0], 200, "{out}");
    for (name, (now, was)) in names.iter().zip(after.iter().zip(&before)).skip(1) {
        assert_eq!(now - was, -50, "{name}: {out}");
    }
    // The bulk transfers alone (the payees' terms made by the simulator), and a bulk past the
    // payer's liquidity: 4001 for each transfer that no longer fits, status 1.
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--bulk",
        "4",
        "--from",
        "perffsp-4",
        "--amount",
        "1",
        "--skip-bulk-quote",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("[–] Bulk Quote: skipped").count(), 4, "{out}");
    assert!(
        out.contains("Transfers: 4 committed, 0 failed, of 4"),
        "{out}"
    );
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--bulk",
        "8",
        "--from",
        "perffsp-4",
        "--amount",
        "300000",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("4001 Payer FSP insufficient liquidity"),
        "{out}"
    );
    assert!(out.contains("Status: FAILED ("), "{out}");
    let committed: i64 = out
        .split("Transfers: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in\n{out}"));
    assert!((1..=3).contains(&committed), "{out}");
    assert_eq!(
        units(&run.position("perffsp-4")) - after[0],
        4 + committed * 300_000,
        "{out}"
    );

    let (code, out) = run.mojaloop(&["validate"]);
    assert_eq!(code, 0, "{out}");
    for expected in [
        "✅ Account Lookup: OK",
        "✅ Quoting Service: OK",
        "✅ ML API Adapter: OK",
        "✅ Central Ledger: OK",
        "✅ Central Settlement: OK",
        "✅ Transaction Requests Service: OK",
        "✅ All 8 DFSPs responding",
        "✅ All 8 DFSPs provisioned",
        "mTLS: off",
        "JWS: off",
        "✅ ILP: ",
        "✅ End-to-end transaction test: PASSED",
        "✅ Currency conversion: PASSED (1 USD → 0.9 EUR through perffsp-fxp)",
        "✅ Average latency: ",
        "🎉 Mojaloop ready for performance testing!",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }

    // Every payer pays every payee.
    for payer in 1..=4 {
        for payee in 5..=8 {
            let (from, to) = (format!("perffsp-{payer}"), format!("perffsp-{payee}"));
            let (code, out) = run.mojaloop(&[
                "test-transaction",
                "--from",
                &from,
                "--to",
                &to,
                "--amount",
                "7",
            ]);
            assert_eq!(code, 0, "{from} → {to}:\n{out}");
            assert!(out.contains("Status: SUCCESS"), "{out}");
            assert!(
                out.contains(&format!("To: MSISDN 19012345{}01 ({to})", payee - 1)),
                "{out}"
            );
        }
    }

    // Beyond the payer's liquidity: refused by the ledger with 4001, positions untouched.
    let payer_before = units(&run.position("perffsp-2"));
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--from",
        "perffsp-2",
        "--to",
        "perffsp-6",
        "--amount",
        "2000000",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("[✓] Party Lookup"), "{out}");
    assert!(out.contains("[✓] Quote"), "{out}");
    assert!(
        out.contains("[✗] Transfer: FSPIOP error 4001: Payer FSP insufficient liquidity"),
        "{out}"
    );
    assert!(
        out.contains("Status: FAILED (FSPIOP error 4001: Payer FSP insufficient liquidity)"),
        "{out}"
    );
    assert_eq!(units(&run.position("perffsp-2")), payer_before);

    // An MSISDN nobody owns: the lookup ends in 3204.
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--from",
        "perffsp-1",
        "--to",
        "19099999999",
        "--amount",
        "100",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("To: MSISDN 19099999999"), "{out}");
    assert!(out.contains("[✗] Party Lookup: FSPIOP error 3204"), "{out}");
    assert!(out.contains("Status: FAILED (FSPIOP error 3204"), "{out}");

    let (code, out) = run.mojaloop(&[
        "debug-participant",
        "--dfsp",
        "perffsp-1",
        "--transfers",
        "100",
    ]);
    assert_eq!(code, 0, "{out}");
    for expected in [
        "Status: active",
        "NET_DEBIT_CAP USD 1000000",
        "FSPIOP_CALLBACK_URL_TRANSFER_PUT",
        "Oracle registrations: 100 of 100 MSISDNs (19012345000 … 19012345099)",
        transfer_id,
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }
    // The FXP: its accounts in both currencies, no MSISDNs, the conversions it made.
    let (code, out) = run.mojaloop(&["debug-participant", "--dfsp", "perffsp-fxp"]);
    assert_eq!(code, 0, "{out}");
    for expected in [
        "NET_DEBIT_CAP EUR 1000000",
        "NET_DEBIT_CAP USD 1000000",
        "FSPIOP_CALLBACK_URL_FX_TRANSFER_POST",
        "Oracle registrations: none (an FXP owns no MSISDNs; it converts USD to EUR at 0.9)",
        "Last currency conversions:",
        "perffsp-1 → perffsp-fxp  100.0000 USD → 90.0000 EUR  COMMITTED",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }
    let (code, out) = run.mojaloop(&["debug-participant", "--dfsp", "nobody"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not registered"), "{out}");

    // Settlement: close window 1, settle it, walk every DFSP to SETTLED; every position was
    // made in window 1, so every position is back to zero.
    let (code, out) = run.mojaloop(&["settlement", "close-window"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Window 1 closing; window 2 is open"), "{out}");
    assert!(out.contains("Window 1: CLOSED"), "{out}");
    let (code, out) = run.mojaloop(&[
        "settlement",
        "create",
        "--model",
        "DEFERREDNET",
        "--windows",
        "1",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(DEFERREDNET): PENDING_SETTLEMENT"), "{out}");
    assert!(out.contains("Sum of net amounts in USD: 0"), "{out}");
    assert!(
        out.contains("perffsp-1") && out.contains("net sender (pays)"),
        "{out}"
    );
    assert!(
        out.contains("perffsp-5") && out.contains("net recipient (receives)"),
        "{out}"
    );
    let id = out
        .split("Settlement ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no settlement id in\n{out}"))
        .to_string();
    let (code, out) = run.mojaloop(&[
        "settlement",
        "advance",
        &id,
        "--external-reference",
        "bank-2026-12-03",
    ]);
    assert_eq!(code, 0, "{out}");
    for expected in [
        "PS_TRANSFERS_RECORDED",
        "PS_TRANSFERS_RESERVED",
        "PS_TRANSFERS_COMMITTED",
        "(DEFERREDNET): SETTLED",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }
    for n in 1..=8 {
        assert_eq!(
            units(&run.position(&format!("perffsp-{n}"))),
            0,
            "perffsp-{n}"
        );
    }
    let (code, out) = run.mojaloop(&["settlement", "show", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Windows: 1 (SETTLED)"), "{out}");
    let (code, out) = run.mojaloop(&["settlement", "abort", &id, "--reason", "too late"]);
    assert_eq!(code, 2, "a settled settlement can not be aborted: {out}");
    // Provisioning again without --callback-url keeps the callbacks where they go (inside
    // docker compose, the simulator container's address; here the port-offset simulator), rather
    // than pointing every DFSP at http://127.0.0.1:4100; the payment below needs them.
    let (code, out) = run.mojaloop_without(&["MOJALOOP_SIM_CALLBACK_URL"], &["provision"]);
    assert_eq!(code, 0, "{out}");
    let sim = format!("http://127.0.0.1:{}", 4100 + port_offset);
    assert!(
        out.contains(&format!(
            "✅ Callbacks stay where perffsp-1's go now: {sim} (--callback-url to change)"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("Provisioning complete; callbacks go to {sim}")),
        "{out}"
    );
    // The next payment lands in window 2.
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--from",
        "perffsp-1",
        "--to",
        "perffsp-5",
        "--amount",
        "5",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("[✓] Settlement: recorded in settlement window 2 (OPEN)"),
        "{out}"
    );

    // Ctrl-C (SIGTERM here) stops every service cleanly.
    run.stop();
}

#[test]
fn quick_start_over_the_embedded_bus() {
    quick_start(false, 100);
}

#[test]
fn quick_start_over_kafka() {
    quick_start(true, 200);
}

/// Kills a private MariaDB left behind by a failed test (its pid file), and removes its data.
struct DataDir(std::path::PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.0.join("mariadb.pid")) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", pid.trim()])
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn answers(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        std::time::Duration::from_millis(500),
    )
    .is_ok()
}

/// A first run on a machine where no database server runs but MariaDB is installed: `mojaloop
/// up` starts a private MariaDB on the URL's port (data under MOJALOOP_DATA_DIR), the quick
/// start's commands pass, and Ctrl-C stops the server with the switch. A second run finds the
/// data where the first left it.
#[test]
fn quick_start_with_no_database_running() {
    let port = test_support::free_port();
    let url = format!("mysql://root@127.0.0.1:{port}");
    let data = DataDir(
        std::env::temp_dir().join(format!("mojaloop-data-{}", uuid::Uuid::new_v4().simple())),
    );
    let data_arg = data.0.display().to_string();
    let env = [("MOJALOOP_DATA_DIR", data_arg.as_str())];

    let run = common::start_at(false, 400, &[], &url, &env);
    assert!(
        run.start_log
            .iter()
            .any(|l| l.contains("started a private MariaDB")),
        "{:?}",
        run.start_log
    );
    let (code, out) = run.mojaloop(&["provision"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run.mojaloop(&["verify-participants"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Total: 800 test accounts ready"), "{out}");
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--from",
        "perffsp-1",
        "--to",
        "perffsp-5",
        "--amount",
        "100",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Status: SUCCESS"), "{out}");
    let (code, out) = run.mojaloop(&["validate"]);
    assert_eq!(code, 0, "{out}");
    assert!(units(&run.position("perffsp-1")) > 0);

    // Ctrl-C (SIGTERM) stops the switch, then the server; the data stays.
    let databases = run.stop_keeping_databases();
    assert!(
        !answers(port),
        "the private MariaDB still answers after the switch stopped"
    );
    assert!(data.0.join("mariadb").join("mysql").is_dir());
    assert!(
        data.0.join("mariadb").join(&databases[0]).is_dir(),
        "{databases:?}"
    );

    // The second run starts the server on the same data: the first run's ledger is there.
    let run = common::start_at(false, 400, &[], &url, &env);
    let participants: i64 = common::runtime().block_on(async {
        let pool = store::connect(&url, 1, 10_000).await.unwrap();
        let (count,): (i64,) = sqlx::query_as(&format!(
            "SELECT COUNT(*) FROM `{}`.participant WHERE name LIKE 'perffsp-%'",
            databases[0]
        ))
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        count
    });
    assert!(
        participants >= 8,
        "{participants} DFSPs in the first run's ledger"
    );
    run.stop_keeping_databases();
    assert!(!answers(port));
}

/// With neither a database server nor MariaDB, `mojaloop up` says what to install or pass.
#[test]
fn up_without_a_database_or_mariadb_says_what_to_do() {
    let port = test_support::free_port();
    let empty = DataDir(
        std::env::temp_dir().join(format!("mojaloop-nobin-{}", uuid::Uuid::new_v4().simple())),
    );
    std::fs::create_dir_all(&empty.0).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mojaloop"))
        .args([
            "up",
            "--database-url",
            &format!("mysql://root@127.0.0.1:{port}"),
            "--port-offset",
            "400",
        ])
        .env("MOJALOOP_MARIADB_BIN_DIR", &empty.0)
        .env("MOJALOOP_DATA_DIR", &empty.0)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let first = format!("nothing answers at the database URL mysql://root@127.0.0.1:{port}");
    for expected in [
        first.as_str(),
        "MariaDB is not installed here",
        "sudo apt-get install mariadb-server",
        "brew install mariadb",
        "--database-url",
    ] {
        assert!(stderr.contains(expected), "{expected:?} not in\n{stderr}");
    }
}
