//! The switch with every security layer on (`mojaloop up --jws-dir --tls-dir`): mutual TLS on
//! every listener and connection, and JWS: the simulated DFSPs sign every request
//! and validate every request they receive, the services validate and the hub signs what it
//! originates. A payment commits end to end; a payment refused by the hub reaches the payer as
//! the hub's signed error callback (the payer's simulator verified it, else the payer would
//! time out); unsigned and tampered requests are refused with 3105; `validate` reports JWS
//! active with its evidence; a short perf run passes its validity gate.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation panics"
)]

mod common;

use serde_json::Value;

const PORT_OFFSET: u16 = 600;

fn url(base: u16) -> String {
    format!("https://127.0.0.1:{}", base + PORT_OFFSET)
}

#[test]
fn every_security_layer_end_to_end_over_the_embedded_bus() {
    let keys = std::env::temp_dir().join(format!("jws-{}", uuid::Uuid::new_v4().simple()));
    let keys_arg = keys.display().to_string();
    let certs = keys.join("tls");
    let certs_arg = certs.display().to_string();
    let mut run = common::start_with(
        false,
        PORT_OFFSET,
        &["--jws-dir", &keys_arg, "--tls-dir", &certs_arg],
    );
    // The operator commands (test-transaction, validate, perf) call the switch over mTLS.
    run.env
        .push(("MOJALOOP_TLS_DIR".to_string(), certs_arg.clone()));
    assert!(
        run.start_log
            .iter()
            .any(|l| l.contains("JWS: requests validated and hub messages signed")),
        "{:?}",
        run.start_log
    );
    for name in ["Hub", "perffsp-1", "perffsp-8"] {
        assert!(
            keys.join(format!("{name}.pem")).exists(),
            "{name}'s public key"
        );
        assert!(
            keys.join("private").join(format!("{name}.pem")).exists(),
            "{name}'s private key"
        );
    }

    // A payment, every request signed by its sender and verified by its receiver.
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--from",
        "perffsp-1",
        "--to",
        "perffsp-5",
        "--amount",
        "10",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Status: SUCCESS"), "{out}");

    // Refused by the hub: the payer gets the hub's own error callback, signed by the hub.
    let (code, out) = run.mojaloop(&[
        "test-transaction",
        "--from",
        "perffsp-2",
        "--to",
        "perffsp-6",
        "--amount",
        "5000000",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[✗] Transfer: FSPIOP error 4001"),
        "the payer verified and took the hub's error callback:\n{out}"
    );

    let runtime = common::runtime();
    runtime.block_on(async {
        // The hub's client certificate (a trusted identity: it may send for any DFSP).
        let tls = service_kit::pki::Layout::new(&certs).hub_tls("Hub");
        let client = reqwest::Client::builder()
            .use_preconfigured_tls((*tls.client().unwrap().unwrap()).clone())
            .build()
            .unwrap();
        let stats: Value = client
            .get(format!("{}/stats", url(4100)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(stats["jws"], true, "{stats}");
        assert!(stats["signaturesVerified"].as_u64().unwrap_or(0) >= 6, "{stats}");
        assert_eq!(stats["signaturesRefused"], 0, "{stats}");

        // Unsigned, and signed then tampered: 3105 from the ML API Adapter.
        let body = r#"{"transferId":"b51ec534-ee48-4575-b6a9-ead2955b8069","payerFsp":"perffsp-1","payeeFsp":"perffsp-5","amount":{"amount":"1","currency":"USD"},"ilpPacket":"AYIBgQAAAAAAAASwNGxldmVsb25lLmRmc3AxLm1lci45T2RTOF81MDdqUUZERmZlakgyOVc4bXFmNEpLMHlGTFGCAUBQU0svMS4wCk5vbmNlOiB1SXlweUYzY3pYSXBFdzVVc05TYWh3CkVuY3J5cHRpb246IG5vbmUKUGF5bWVudC1JZDogMTMyMzZhM2ItOGZhOC00MTYzLTg0NDctNGMzZWQzZGE5OGE3","condition":"f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA","expiration":"2030-01-01T00:00:00.000Z"}"#;
        let date = fspiop::datetime::format_http_date(service_kit::edge::now_ms());
        let headers = [
            ("content-type", "application/vnd.interoperability.transfers+json;version=1.1"),
            ("accept", "application/vnd.interoperability.transfers+json;version=1"),
            ("date", date.as_str()),
            ("fspiop-source", "perffsp-1"),
            ("fspiop-destination", "perffsp-5"),
        ];
        let post = |extra: Vec<(String, String)>, body: String| {
            let mut request = client.post(format!("{}/transfers", url(3000))).body(body);
            for (name, value) in headers.iter() {
                request = request.header(*name, *value);
            }
            for (name, value) in extra {
                request = request.header(name, value);
            }
            request.send()
        };
        let unsigned = post(Vec::new(), body.to_string()).await.unwrap();
        assert_eq!(unsigned.status().as_u16(), 400);
        let answer: Value = unsigned.json().await.unwrap();
        assert_eq!(answer["errorInformation"]["errorCode"], "3105", "{answer}");

        let pem = std::fs::read(keys.join("private").join("perffsp-1.pem")).unwrap();
        let key = fspiop::jws::SigningKey::from_pem(&pem, None).unwrap();
        let signed = fspiop::jws::sign(&key, "POST", "/transfers", &headers[..], body.as_bytes()).unwrap();
        let extra = vec![
            ("fspiop-signature".to_string(), signed.signature_header),
            ("fspiop-uri".to_string(), signed.fspiop_uri),
            ("fspiop-http-method".to_string(), signed.fspiop_http_method),
        ];
        let tampered = post(extra, body.replace("\"1\"", "\"2\"")).await.unwrap();
        assert_eq!(tampered.status().as_u16(), 400);
        let answer: Value = tampered.json().await.unwrap();
        assert_eq!(answer["errorInformation"]["errorCode"], "3105", "{answer}");
    });

    // `validate` reports mTLS and JWS active, with their evidence.
    let (code, out) = run.mojaloop(&["validate"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("✅ mTLS: "), "{out}");
    assert!(
        out.contains("a wrong fulfilment was refused by the switch (FSPIOP error 3100)"),
        "{out}"
    );
    assert!(
        out.contains(
            "✅ JWS: an unsigned POST /quotes was refused with 3105; the simulated DFSPs verified"
        ),
        "{out}"
    );
    assert!(out.contains("refused none"), "{out}");

    // A short perf run through the secured switch passes its validity gate.
    let report = keys.join("perf");
    let (code, out) = run.mojaloop(&[
        "perf",
        "run",
        "--rate",
        "20",
        "--duration-s",
        "6",
        "--warmup-s",
        "1",
        "--quiet",
        "--out",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Validity gate: PASSED"), "{out}");

    run.stop();
    let _ = std::fs::remove_dir_all(&keys);
}
