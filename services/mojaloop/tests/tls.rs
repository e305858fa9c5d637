//! The switch with mutual TLS on (`mojaloop certs`, then `mojaloop up --tls-dir`): every
//! listener and the simulated DFSPs speak HTTPS and require a certificate of the scheme; the
//! DFSPs present their own, the hub presents its own on callbacks. The start-up test payment
//! commits over mTLS; then, against the running switch, a client without a certificate and one
//! with a certificate from another CA fail the handshake, a DFSP naming another DFSP in
//! `FSPIOP-Source` gets 3100, plain HTTP gets no answer, and the switch stops cleanly.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation panics"
)]

mod common;

use std::path::Path;

use service_kit::pki::{Authority, Layout, Leaf, Usage};
use service_kit::tls::Probe;

const PORT_OFFSET: u16 = 500;

fn https(base: u16) -> String {
    format!("https://127.0.0.1:{}", base + PORT_OFFSET)
}

/// A client trusting the scheme CA, presenting `pair` (none: no certificate).
fn client(ca: &Path, pair: Option<&(std::path::PathBuf, std::path::PathBuf)>) -> reqwest::Client {
    let builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10));
    let builder = match pair {
        Some((cert, key)) => builder.use_preconfigured_tls(
            (*service_kit::tls::client_config(ca, cert, key).unwrap()).clone(),
        ),
        None => builder
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap(),
            )
            .tls_built_in_root_certs(false),
    };
    builder.build().unwrap()
}

/// The error and its sources.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{error}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[test]
fn a_payment_commits_over_mutual_tls() {
    let dir = std::env::temp_dir().join(format!("mtls-{}", uuid::Uuid::new_v4().simple()));
    let dir_arg = dir.display().to_string();

    // `mojaloop certs` writes the CA and the hub's and DFSPs' certificates.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mojaloop"))
        .args(["certs", "--out", &dir_arg, "--dfsps", "8"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    for expected in [
        "ca.pem",
        "Hub-server.pem",
        "Hub-client-key.pem",
        "perffsp-8-client.pem",
        "perffsp-fxp-client.pem",
        "perffsp-eur-client.pem",
        "45 files",
    ] {
        assert!(out.contains(expected), "{expected} not in:\n{out}");
    }

    // `mojaloop up --tls-dir`: onboarding and the test payment go over mTLS.
    let run = common::start_with(false, PORT_OFFSET, &["--tls-dir", &dir_arg]);
    assert!(
        run.start_log
            .iter()
            .any(|l| l.contains("mutual TLS on every listener")),
        "{:?}",
        run.start_log
    );
    assert!(
        run.start_log
            .iter()
            .any(|l| l.contains("simulator=\"https://127.0.0.1:")),
        "the simulated DFSPs serve HTTPS: {:?}",
        run.start_log
    );
    let committed = run
        .start_log
        .iter()
        .find(|l| l.contains("test transaction committed"))
        .unwrap();
    let transfer_id = committed
        .split("transfer_id=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap();
    assert_eq!(run.transfer_state(transfer_id), "COMMITTED");

    let layout = Layout::new(&dir);
    let ca = layout.ca();
    let other = Authority::new("Other CA").unwrap();
    let impostor = other
        .issue(&Leaf {
            name: "perffsp-1",
            alt_names: &[],
            usage: Usage::Client,
        })
        .unwrap();
    let impostor_pair = (dir.join("impostor.pem"), dir.join("impostor-key.pem"));
    std::fs::write(&impostor_pair.0, &impostor.cert_pem).unwrap();
    std::fs::write(&impostor_pair.1, &impostor.key_pem).unwrap();

    common::runtime().block_on(async {
        let transfers = format!("{}/transfers", https(3000));
        let post = |client: &reqwest::Client, source: &str| {
            client
                .post(&transfers)
                .header(
                    "content-type",
                    "application/vnd.interoperability.transfers+json;version=1.1",
                )
                .header(
                    "accept",
                    "application/vnd.interoperability.transfers+json;version=1",
                )
                .header("date", "Thu, 03 Dec 2026 10:00:00 GMT")
                .header("fspiop-source", source)
                .header("fspiop-destination", "perffsp-5")
                .body("{}")
                .send()
        };

        // No certificate, or one from another CA: the handshake fails, on every listener.
        let timeout = std::time::Duration::from_secs(10);
        let anonymous = service_kit::tls::anonymous_client_config(&ca).unwrap();
        let impostor =
            service_kit::tls::client_config(&ca, &impostor_pair.0, &impostor_pair.1).unwrap();
        for base in [3000, 3001, 3002, 3007, 4001, 4002, 4003, 4100] {
            let address = format!("127.0.0.1:{}", base + PORT_OFFSET);
            assert_eq!(
                service_kit::tls::probe(&address, anonymous.clone(), timeout).await,
                Probe::Refused("received fatal alert: CertificateRequired".to_string()),
                "{address}"
            );
            assert_eq!(
                service_kit::tls::probe(&address, impostor.clone(), timeout).await,
                Probe::Refused("received fatal alert: UnknownCA".to_string()),
                "{address}"
            );
        }
        // Through an HTTP client too.
        let error = post(&client(&ca, None), "perffsp-1")
            .await
            .expect_err("answered without a client certificate");
        assert!(
            error.is_request() || error.is_connect(),
            "{}",
            chain(&error)
        );

        // Plain HTTP gets no HTTP answer.
        assert!(
            reqwest::get(format!("http://127.0.0.1:{}/health", 3000 + PORT_OFFSET))
                .await
                .is_err()
        );

        // perffsp-1's certificate cannot speak for perffsp-2.
        let perffsp1 = client(&ca, Some(&layout.pair("perffsp-1", Usage::Client)));
        let response = post(&perffsp1, "perffsp-2").await.unwrap();
        assert_eq!(response.status(), 400);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["errorInformation"]["errorCode"], "3100", "{body}");
        // Its own name gets past the check (to the adapter's validation of the empty body).
        let response = post(&perffsp1, "perffsp-1").await.unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_ne!(body["errorInformation"]["errorCode"], "3100", "{body}");

        // With the right certificate every listener answers.
        for base in [3000, 3001, 3002, 3007, 4001, 4002, 4003, 4100] {
            let response = perffsp1
                .get(format!("{}/health", https(base)))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{base}: {}", chain(&e)));
            assert!(
                response.status().is_success(),
                "{base}: {}",
                response.status()
            );
        }
    });

    // A deployment that ran without TLS before registered its oracle as http://; under TLS the
    // oracle speaks only HTTPS, and provisioning moves the registration to the deployment's
    // scheme (no wipe needed). Here the old registration is put back by hand.
    let oracle_http = format!("http://127.0.0.1:{}", 4003 + PORT_OFFSET);
    common::runtime().block_on(async {
        let hub = client(&ca, Some(&layout.pair("Hub", Usage::Client)));
        let admin = https(4001);
        let oracles: serde_json::Value = hub
            .get(format!("{admin}/oracles?type=MSISDN"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = oracles[0]["oracleId"].clone();
        let id = id.as_str().map_or_else(|| id.to_string(), str::to_string);
        let response = hub
            .put(format!("{admin}/oracles/{id}"))
            .json(&serde_json::json!({"oracleIdType": "MSISDN", "endpoint": {"value": oracle_http, "endpointType": "URL"}, "isDefault": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    });
    // The operator commands present the hub's certificate under --tls-dir.
    let (code, out) = run.mojaloop(&["provision", "--tls-dir", &dir_arg]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "✅ MSISDN oracle moved from {oracle_http} to {}",
            https(4003)
        )),
        "{out}"
    );
    assert!(out.contains("callbacks go to https://127.0.0.1:"), "{out}");
    let (code, out) = run.mojaloop(&["verify-participants", "--tls-dir", &dir_arg]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--tls-dir",
        &dir_arg,
        "--from",
        "perffsp-2",
        "--to",
        "perffsp-6",
        "--amount",
        "10",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Status: SUCCESS"), "{out}");
    let (code, out) = run.mojaloop(&["settlement", "close-window", "--tls-dir", &dir_arg]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Window 1: CLOSED"), "{out}");
    // validate reports mTLS active, with its evidence.
    let (code, out) = run.mojaloop(&["validate", "--tls-dir", &dir_arg]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "✅ mTLS: a handshake without a client certificate was refused by all 8 listeners \
             (received fatal alert: CertificateRequired); perffsp-1's certificate was accepted, \
             and FSPIOP-Source perffsp-2 over it refused with 3100"
        ),
        "{out}"
    );
    // Without the certificates the operator commands cannot reach the switch.
    let (code, out) = run.mojaloop(&["validate"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("❌ mTLS: not checked"), "{out}");

    run.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}
