//! The protocol tools as a DFSP integrator runs them: the real binary, JSON on stdin.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../libs/fspiop/tests/vectors")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mojaloop"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .unwrap_or_else(|e| panic!("stdin: {e}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn json_out(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            run.stdout, run.stderr
        )
    })
}

fn load(name: &str) -> Vec<Value> {
    let text =
        std::fs::read_to_string(vectors().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn key(name: &str) -> String {
    vectors().join("keys").join(name).display().to_string()
}

/// A directory with one public key per participant.
fn key_dir(entries: &[(&str, &str)]) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mojaloop-keys-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    for (fsp, file) in entries {
        std::fs::copy(
            vectors().join("keys").join(file),
            dir.join(format!("{fsp}.pem")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    dir
}

#[test]
fn help_lists_the_subcommands() {
    let out = run(&["--help"], "");
    assert_eq!(out.code, 0);
    for word in ["jws", "ilp"] {
        assert!(out.stdout.contains(word), "{}", out.stdout);
    }
    let out = run(&["ilp", "--help"], "");
    for word in ["prepare", "decode", "fulfil", "check"] {
        assert!(out.stdout.contains(word), "{}", out.stdout);
    }
}

#[test]
fn every_operator_command_has_help_with_its_flags_and_environment() {
    let out = run(&["--help"], "");
    for command in [
        "up",
        "sim",
        "provision",
        "verify-participants",
        "test-transaction",
        "validate",
        "debug-participant",
        "serve",
        "migrate",
        "settlement",
    ] {
        assert!(out.stdout.contains(command), "{command}: {}", out.stdout);
    }
    for (command, expected) in [
        (
            "up",
            &[
                "--dfsps",
                "--kafka",
                "[env: MOJALOOP_KAFKA_BROKERS",
                "--port-offset",
            ][..],
        ),
        (
            "sim",
            &["--dfsps", "--port", "--provision", "--callback-url"][..],
        ),
        (
            "provision",
            &[
                "--dfsp",
                "--callback-url",
                "[env: MOJALOOP_CENTRAL_LEDGER_URL",
            ][..],
        ),
        (
            "verify-participants",
            &["--dfsps", "--oracle-url", "[env: MOJALOOP_ORACLE_URL"][..],
        ),
        (
            "test-transaction",
            &["--from", "--to", "--amount", "--sim-url", "--database-url"][..],
        ),
        (
            "validate",
            &["--transactions", "--sim-url", "--als-url"][..],
        ),
        (
            "debug-participant",
            &["--dfsp", "--transfers", "--central-ledger-database"][..],
        ),
        (
            "settlement",
            &["close-window", "create", "show", "advance", "abort"][..],
        ),
        (
            "settlement create",
            &[
                "--model",
                "--windows",
                "[env: MOJALOOP_CENTRAL_SETTLEMENT_URL",
            ][..],
        ),
        (
            "settlement advance",
            &["--to", "--external-reference", "SETTLED"][..],
        ),
        ("serve", &["central-settlement", "central-ledger"][..]),
    ] {
        let words: Vec<&str> = command.split(' ').chain(["--help"]).collect();
        let out = run(&words, "");
        assert_eq!(out.code, 0, "{command}");
        for flag in expected {
            assert!(
                out.stdout.contains(flag),
                "{command}: {flag} not in {}",
                out.stdout
            );
        }
    }
}

#[test]
fn operator_commands_say_what_is_wrong_with_their_arguments() {
    let out = run(&["test-transaction", "--from", "perffsp-9"], "");
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("perffsp-9 is not one of perffsp-1 … perffsp-8"),
        "{}",
        out.stderr
    );
    let out = run(&["test-transaction", "--to", "somebody"], "");
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("neither perffsp-N nor an MSISDN"),
        "{}",
        out.stderr
    );
    let out = run(&["verify-participants", "--dfsps", "11"], "");
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("1 to 10 DFSPs"), "{}", out.stderr);
}

#[test]
fn settlement_commands_check_their_arguments_and_report_an_unreachable_service() {
    let out = run(&["settlement", "create", "--windows", "one"], "");
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("invalid value 'one'"), "{}", out.stderr);
    let out = run(&["settlement", "advance", "1", "--to", "DONE"], "");
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("possible values"), "{}", out.stderr);
    let out = run(
        &[
            "settlement",
            "show",
            "1",
            "--central-settlement-url",
            "http://127.0.0.1:9",
            "--request-timeout-ms",
            "1000",
        ],
        "",
    );
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("is central-settlement running?"),
        "{}",
        out.stderr
    );
}

#[test]
fn operator_commands_report_an_unreachable_switch_and_exit_non_zero() {
    // Nothing listens on port 9 of the loopback.
    let out = run(
        &[
            "verify-participants",
            "--dfsps",
            "1",
            "--central-ledger-url",
            "http://127.0.0.1:9",
            "--oracle-url",
            "http://127.0.0.1:9",
            "--request-timeout-ms",
            "2000",
        ],
        "",
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("❌ perffsp-1: "), "{}", out.stdout);
    assert!(
        out.stdout.contains("Total: 0 of 100 test accounts ready"),
        "{}",
        out.stdout
    );
    let out = run(
        &[
            "health",
            "http://127.0.0.1:9/health",
            "--timeout-ms",
            "1000",
        ],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
}

#[test]
fn jws_sign_reproduces_the_sdk_and_verify_checks_it() {
    let case = load("jws_sign.json")
        .into_iter()
        .find(|c| c["name"] == "rs256_post_transfers")
        .unwrap_or_default();
    let request = json!({"method": case["method"], "url": case["url"], "headers": case["headers"], "body": case["body"]});
    let signed = run(
        &["jws", "sign", "--key", &key("rsa-private.pem")],
        &request.to_string(),
    );
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let signed = json_out(&signed);
    let expected = &case["expected"];
    assert_eq!(
        signed["headers"]["fspiop-signature"],
        expected["fspiop-signature"]
    );
    assert_eq!(signed["headers"]["fspiop-uri"], expected["fspiop-uri"]);
    assert_eq!(
        signed["headers"]["fspiop-http-method"],
        expected["fspiop-http-method"]
    );
    assert_eq!(signed["body"], expected["body"]);
    assert_eq!(signed["headers"]["fspiop-source"], "perffsp-1");

    let keys = key_dir(&[
        ("perffsp-1", "rsa-public.pem"),
        ("perffsp-5", "other-rsa-public.pem"),
    ]);
    let keys = keys.display().to_string();
    let received = json!({"method": "POST", "path": "/transfers", "headers": signed["headers"], "body": signed["body"]});
    let verified = run(&["jws", "verify", "--keys", &keys], &received.to_string());
    assert_eq!(
        (verified.code, verified.stdout.trim()),
        (0, "valid"),
        "{}",
        verified.stderr
    );

    // Every tampering is refused with 3105 and exit code 1.
    let body = signed["body"].as_str().unwrap_or_default();
    let tamperings: Vec<(&str, Value)> = vec![
        (
            "body",
            json!({"method": "POST", "path": "/transfers", "headers": signed["headers"], "body": body.replace("\"100\"", "\"101\"")}),
        ),
        (
            "uri header",
            with_header(&received, "fspiop-uri", "/transfers/x"),
        ),
        (
            "method header",
            with_header(&received, "fspiop-http-method", "PUT"),
        ),
        (
            "source",
            with_header(&received, "fspiop-source", "perffsp-5"),
        ),
        (
            "destination",
            with_header(&received, "fspiop-destination", "perffsp-6"),
        ),
        (
            "date",
            with_header(&received, "date", "Fri, 25 Jan 2030 10:00:00 GMT"),
        ),
        (
            "path",
            json!({"method": "POST", "path": "/quotes", "headers": signed["headers"], "body": body}),
        ),
        (
            "method",
            json!({"method": "PUT", "path": "/transfers", "headers": signed["headers"], "body": body}),
        ),
    ];
    for (what, request) in tamperings {
        let out = run(&["jws", "verify", "--keys", &keys], &request.to_string());
        assert_eq!(out.code, 1, "{what}: {} {}", out.stdout, out.stderr);
        assert_eq!(
            json_out(&out)["errorInformation"]["errorCode"],
            "3105",
            "{what}"
        );
    }
    // The SDK does not tie the signature to the request line; with the flag neither do we.
    let moved =
        json!({"method": "POST", "path": "/quotes", "headers": signed["headers"], "body": body});
    let out = run(
        &["jws", "verify", "--keys", &keys, "--no-request-line-check"],
        &moved.to_string(),
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    // A participant without a key cannot be verified.
    let keys_without = key_dir(&[
        ("perffsp-9", "rsa-public.pem"),
        ("x", "rsa-public.pem"),
        ("y", "rsa-public.pem"),
    ]);
    let out = run(
        &[
            "jws",
            "verify",
            "--keys",
            &keys_without.display().to_string(),
        ],
        &received.to_string(),
    );
    assert_eq!(out.code, 1);
    assert_eq!(json_out(&out)["errorInformation"]["errorCode"], "3105");
}

fn with_header(request: &Value, name: &str, value: &str) -> Value {
    let mut changed = request.clone();
    changed["headers"][name] = Value::String(value.to_string());
    changed
}

#[test]
fn jws_sign_es256_verifies() {
    let request = json!({
        "method": "PUT", "url": "https://hub.example/fspiop/quotes/d25ccde1-782b-4231-9ae3-ff17a8d83770",
        "headers": {"fspiop-source": "perffsp-5", "fspiop-destination": "perffsp-1", "date": "Thu, 24 Jan 2030 10:00:00 GMT"},
        "body": {"transferAmount": {"currency": "USD", "amount": "100"}, "expiration": "2030-01-24T10:00:00.000Z"}
    });
    let signed = run(
        &["jws", "sign", "--key", &key("ec-private.pem")],
        &request.to_string(),
    );
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let signed = json_out(&signed);
    assert_eq!(
        signed["headers"]["fspiop-uri"],
        "/quotes/d25ccde1-782b-4231-9ae3-ff17a8d83770"
    );
    assert_eq!(
        signed["body"],
        r#"{"expiration":"2030-01-24T10:00:00.000Z","transferAmount":{"amount":"100","currency":"USD"}}"#
    );
    let keys = key_dir(&[("perffsp-5", "ec-public.pem")])
        .display()
        .to_string();
    let received = json!({"method": "PUT", "path": "/quotes/d25ccde1-782b-4231-9ae3-ff17a8d83770", "headers": signed["headers"], "body": signed["body"]});
    let out = run(&["jws", "verify", "--keys", &keys], &received.to_string());
    assert_eq!((out.code, out.stdout.trim()), (0, "valid"));
    // An RSA algorithm cannot be forced onto an EC key.
    let out = run(
        &[
            "jws",
            "sign",
            "--key",
            &key("ec-private.pem"),
            "--alg",
            "RS256",
        ],
        &request.to_string(),
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("cannot sign with RS256"),
        "{}",
        out.stderr
    );
}

#[test]
fn ilp_prepare_decode_fulfil_and_check() {
    for case in load("ilp.json")
        .into_iter()
        .filter(|c| c["name"] == "usd_100_note_v4" || c["name"] == "usd_100_note_v1")
    {
        let version = case["version"].as_str().unwrap_or_default();
        let secret = case["secret"].as_str().unwrap_or_default();
        let input =
            json!({"quoteRequest": case["quoteRequest"], "quoteResponse": case["quoteResponse"]});
        let out = run(
            &[
                "ilp",
                "prepare",
                "--secret",
                secret,
                "--ilp-version",
                version,
            ],
            &input.to_string(),
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let made = json_out(&out);
        let expected = &case["expected"];
        for field in ["ilpPacket", "condition", "fulfilment", "transactionObject"] {
            assert_eq!(made[field], expected[field], "{version} {field}");
        }
        // The same from the transaction object alone.
        let out = run(
            &[
                "ilp",
                "prepare",
                "--secret",
                secret,
                "--ilp-version",
                version,
            ],
            &json!({"transactionObject": expected["transactionObject"]}).to_string(),
        );
        assert_eq!(json_out(&out)["ilpPacket"], expected["ilpPacket"]);

        let packet = expected["ilpPacket"].as_str().unwrap_or_default();
        let out = run(&["ilp", "decode", "--ilp-version", version], packet);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let decoded = json_out(&out);
        for (field, value) in expected["decoded"].as_object().into_iter().flatten() {
            assert_eq!(&decoded[field], value, "{version} decoded {field}");
        }
        assert_eq!(decoded["transactionObject"], expected["transactionObject"]);

        let out = run(
            &[
                "ilp",
                "fulfil",
                "--secret",
                secret,
                "--packet",
                packet,
                "--ilp-version",
                version,
            ],
            "",
        );
        assert_eq!(
            out.stdout.trim(),
            expected["fulfilment"].as_str().unwrap_or_default()
        );
        let wrong = run(
            &[
                "ilp",
                "fulfil",
                "--secret",
                "another",
                "--packet",
                packet,
                "--ilp-version",
                version,
            ],
            "",
        );
        assert_ne!(
            wrong.stdout.trim(),
            expected["fulfilment"].as_str().unwrap_or_default()
        );

        let condition = expected["condition"].as_str().unwrap_or_default();
        let fulfilment = expected["fulfilment"].as_str().unwrap_or_default();
        let out = run(
            &[
                "ilp",
                "check",
                "--fulfilment",
                fulfilment,
                "--condition",
                condition,
            ],
            "",
        );
        assert_eq!((out.code, out.stdout.trim()), (0, "valid"));
        let out = run(
            &[
                "ilp",
                "check",
                "--fulfilment",
                wrong.stdout.trim(),
                "--condition",
                condition,
            ],
            "",
        );
        assert_eq!(out.code, 1);
        assert_eq!(json_out(&out)["errorInformation"]["errorCode"], "3100");
    }
}

#[test]
fn ilp_refuses_what_the_sdk_would_mangle() {
    let case = load("ilp_errors.json")
        .into_iter()
        .find(|c| c["name"] == "usd_overflow_u64_max_plus_1_v4")
        .unwrap_or_default();
    let input =
        json!({"quoteRequest": case["quoteRequest"], "quoteResponse": case["quoteResponse"]});
    let out = run(&["ilp", "prepare", "--secret", "s"], &input.to_string());
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("64 bits"), "{}", out.stderr);
    let out = run(&["ilp", "decode"], "not a packet!");
    assert_eq!(out.code, 2);
}

/// A base64url fulfilment or condition starts with `-` one time in 64; it is a value, not an
/// option.
#[test]
fn ilp_values_may_start_with_a_hyphen() {
    let out = run(
        &[
            "ilp",
            "check",
            "--fulfilment",
            "-qv_W4_PitmJgV4_oJ441OBtDCN8YPXS__g_g_E6PzU",
            "--condition",
            "hF5tATjYLpt0fyzsl2wXqw99jDqd_m48fOclySVaHWI",
        ],
        "",
    );
    assert_eq!(
        (out.code, out.stdout.trim()),
        (0, "valid"),
        "{}",
        out.stderr
    );
    let out = run(
        &["ilp", "fulfil", "--secret", "-secret", "--packet", "-AAA"],
        "",
    );
    assert!(
        !out.stderr.contains("unexpected argument"),
        "{}",
        out.stderr
    );
}

/// `jws keygen` (and so `up --jws-dir`) never replaces a key already there: a DFSP that gives
/// the hub only its public key keeps it; the hub's public key without its private key is an
/// error that says so.
#[test]
fn keygen_keeps_a_dfsps_public_key_and_refuses_a_hub_without_its_private_key() {
    let dir = key_dir(&[]);
    let dfsp_key = "-----BEGIN PUBLIC KEY-----\nthe DFSP's own RSA key\n-----END PUBLIC KEY-----\n";
    std::fs::write(dir.join("perffsp-1.pem"), dfsp_key).unwrap_or_else(|e| panic!("{e}"));
    let out = run(
        &[
            "jws",
            "keygen",
            "--out",
            dir.to_str().unwrap_or(""),
            "--dfsps",
            "2",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("perffsp-1.pem")).unwrap_or_default(),
        dfsp_key
    );
    assert!(!dir.join("private").join("perffsp-1.pem").exists());
    assert!(dir.join("private").join("perffsp-2.pem").exists());
    assert!(dir.join("private").join("Hub.pem").exists());
    // The FX layout's DFSPs too (the simulator serves them only when their keys are there).
    assert!(dir.join("private").join("perffsp-fxp.pem").exists());
    assert!(dir.join("private").join("perffsp-eur.pem").exists());
    // Again: nothing changes.
    let hub_before = std::fs::read(dir.join("Hub.pem")).unwrap_or_default();
    let out = run(
        &[
            "jws",
            "keygen",
            "--out",
            dir.to_str().unwrap_or(""),
            "--dfsps",
            "2",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read(dir.join("Hub.pem")).unwrap_or_default(),
        hub_before
    );
    // The hub's private key lost: refused, the public key left as it was.
    std::fs::remove_file(dir.join("private").join("Hub.pem")).unwrap_or_else(|e| panic!("{e}"));
    let out = run(
        &[
            "jws",
            "keygen",
            "--out",
            dir.to_str().unwrap_or(""),
            "--dfsps",
            "2",
        ],
        "",
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("the hub cannot sign"), "{}", out.stderr);
    assert_eq!(
        std::fs::read(dir.join("Hub.pem")).unwrap_or_default(),
        hub_before
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A configuration that cannot work is refused at start, every problem named by its key,
/// before anything connects (no database or broker is needed to see it).
#[test]
fn serve_refuses_an_invalid_configuration_naming_its_keys() {
    for (service, vars, needles) in [
        (
            "central-ledger",
            vec![
                ("CENTRAL_LEDGER__TRANSFERS__TIMEOUT_INTERVAL_MS", "0"),
                ("CENTRAL_LEDGER__TRANSFERS__BATCH_SIZE_MAX", "0"),
            ],
            vec![
                "transfers.timeout_interval_ms must be at least 1",
                "transfers.batch_size_max must be at least 1",
            ],
        ),
        (
            "central-settlement",
            vec![(
                "CENTRAL_SETTLEMENT__WINDOWS__PROCESSING_SWEEP_INTERVAL_MS",
                "0",
            )],
            vec!["windows.processing_sweep_interval_ms must be at least 1"],
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_mojaloop"))
            .args(["serve", service])
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{service}: {stderr}");
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{service}: {needle:?} not in {stderr}"
            );
        }
    }
}
