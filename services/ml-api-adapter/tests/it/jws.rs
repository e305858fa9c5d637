//! JWS at the ML API Adapter with `[jws] validate` and `sign` on: unsigned, tampered and
//! wrongly keyed requests are refused with 3105 before they reach the bus; signed ones pass;
//! forwarded requests reach the payee with the payer's signature untouched (and it verifies
//! there); callbacks the hub originates are signed with the hub's key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use fspiop::envelope::{EventState, Message};
use fspiop::jws::{self, Algorithm, SigningKey, VerifyOptions, VerifyingKey};
use serde_json::json;

use crate::helpers::{
    fspiop_headers, http_date, new_id, spawn_app, transfer_body, Dfsp, Options, TestDb,
    TRANSFERS_V11,
};

/// Key pairs for `names` in a fresh directory: `<name>.pem` public, `private/<name>.pem`.
pub(crate) fn keys(names: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jws-{}", new_id()));
    std::fs::create_dir_all(dir.join("private")).unwrap();
    for name in names {
        let (private, public) = jws::generate_key_pair(Algorithm::ES256).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), public).unwrap();
        std::fs::write(dir.join("private").join(format!("{name}.pem")), private).unwrap();
    }
    dir
}

pub(crate) fn signing_key(dir: &std::path::Path, name: &str) -> SigningKey {
    let pem = std::fs::read(dir.join("private").join(format!("{name}.pem"))).unwrap();
    SigningKey::from_pem(&pem, None).unwrap()
}

pub(crate) fn public_keys(dir: &std::path::Path) -> BTreeMap<String, VerifyingKey> {
    let mut keys = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("pem") {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap()
                .to_string();
            keys.insert(
                name,
                VerifyingKey::from_pem(&std::fs::read(&path).unwrap()).unwrap(),
            );
        }
    }
    keys
}

/// `headers` plus the signature of `body` by `key` for `method path`.
pub(crate) fn signed(
    key: &SigningKey,
    method: &str,
    path: &str,
    mut headers: Vec<(String, String)>,
    body: &[u8],
) -> Vec<(String, String)> {
    let view: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let signature = jws::sign(key, method, path, view.as_slice(), body).unwrap();
    headers.push(("fspiop-signature".into(), signature.signature_header));
    headers.push(("fspiop-uri".into(), signature.fspiop_uri));
    headers.push(("fspiop-http-method".into(), signature.fspiop_http_method));
    headers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_are_enforced_kept_on_forwarding_and_added_by_the_hub() {
    let dir = keys(&["payerfsp", "payeefsp", "Hub"]);
    let db = TestDb::new().await;
    let payer = Dfsp::start().await;
    let payee = Dfsp::start().await;
    db.participant("payerfsp", Some(&payer.url)).await;
    db.participant("payeefsp", Some(&payee.url)).await;
    let app = spawn_app(Options {
        database: Some(&db),
        jws: Some(service_kit::jws::JwsConfig {
            validate: true,
            validate_put_parties: false,
            keys_directory: dir.display().to_string(),
            keys_reload_interval_ms: 0,
            sign: true,
            signing_key_path: dir.join("private/Hub.pem").display().to_string(),
        }),
        ..Options::default()
    })
    .await;
    let payer_key = signing_key(&dir, "payerfsp");
    let id = new_id();
    let body = serde_json::to_vec(&transfer_body(&id, "payerfsp", "payeefsp")).unwrap();
    let headers = fspiop_headers("POST", "payerfsp", Some("payeefsp"));

    // Unsigned, tampered, signed with someone else's key, or from a participant without a
    // key: 3105, HTTP 400, nothing on the bus.
    let unsigned = app.send("POST", "/transfers", &headers, Some(&body)).await;
    assert!(
        unsigned.error(400, "3105").contains("FSPIOP-Signature"),
        "{unsigned:?}"
    );
    let good = signed(&payer_key, "POST", "/transfers", headers.clone(), &body);
    let mut tampered = body.clone();
    if let Some(byte) = tampered.iter_mut().find(|b| **b == b'5') {
        *byte = b'6';
    }
    app.send("POST", "/transfers", &good, Some(&tampered))
        .await
        .error(400, "3105");
    let wrong = signed(
        &signing_key(&dir, "payeefsp"),
        "POST",
        "/transfers",
        headers.clone(),
        &body,
    );
    app.send("POST", "/transfers", &wrong, Some(&body))
        .await
        .error(400, "3105");
    let stranger = fspiop_headers("POST", "strangerfsp", Some("payeefsp"));
    let stranger = signed(&payer_key, "POST", "/transfers", stranger, &body);
    let unknown = app.send("POST", "/transfers", &stranger, Some(&body)).await;
    assert!(
        unknown.error(400, "3105").contains("strangerfsp"),
        "{unknown:?}"
    );
    // Signed: accepted, and GET needs no signature.
    app.send("POST", "/transfers", &good, Some(&body))
        .await
        .empty(202);
    let prepared = app
        .reader(bus::TOPIC_TRANSFER_PREPARE)
        .find(&id)
        .await
        .message;

    // A participant whose key appears after start is picked up (the directory is read again).
    let late = keys(&["latefsp"]);
    std::fs::copy(late.join("latefsp.pem"), dir.join("latefsp.pem")).unwrap();
    let late_headers = fspiop_headers("POST", "latefsp", Some("payeefsp"));
    let late_id = new_id();
    let late_body = serde_json::to_vec(&transfer_body(&late_id, "latefsp", "payeefsp")).unwrap();
    let late_headers = signed(
        &signing_key(&late, "latefsp"),
        "POST",
        "/transfers",
        late_headers,
        &late_body,
    );
    app.send("POST", "/transfers", &late_headers, Some(&late_body))
        .await
        .empty(202);

    // The ledger's prepare notification: the payee receives the payer's request with the
    // payer's signature, which verifies with the payer's key.
    let notifier = app.notifier();
    notifier
        .send(&prepared.forward(
            &new_id(),
            "notification",
            "prepare",
            EventState::success(),
            ml_api_adapter::now_ms(),
        ))
        .await;
    let forwarded = payee.wait_for(&id, 1).await.remove(0);
    let forwarded_headers: Vec<(&str, &str)> = forwarded
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        forwarded.header("fspiop-signature"),
        good.iter()
            .find(|(n, _)| n == "fspiop-signature")
            .map(|(_, v)| v.as_str())
    );
    let all_keys = public_keys(&dir);
    assert_eq!(
        jws::verify(
            &all_keys,
            "POST",
            &forwarded.path,
            forwarded_headers.as_slice(),
            &forwarded.body,
            VerifyOptions::default()
        ),
        Ok(()),
        "the payee verifies the forwarded request"
    );

    // A hub-originated error callback to the payer is signed with the hub's key.
    let mut hub_headers = BTreeMap::new();
    for (name, value) in [
        ("content-type", TRANSFERS_V11.to_string()),
        ("date", http_date()),
        ("fspiop-source", "Hub".to_string()),
        ("fspiop-destination", "payerfsp".to_string()),
    ] {
        hub_headers.insert(name.to_string(), value);
    }
    let mut error = Message::from_request(
        &id,
        "Hub",
        "payerfsp",
        hub_headers,
        None,
        Some(&id),
        "notification",
        "prepare",
        ml_api_adapter::now_ms(),
    );
    error.content.payload = json!({"errorInformation": {"errorCode": "4001", "errorDescription": "Payer FSP insufficient liquidity"}});
    error.metadata.event.state = EventState::error(4001, "Payer FSP insufficient liquidity");
    error.metadata.event.id = Some(new_id());
    notifier.send(&error).await;
    let callback = payer.wait_for(&id, 1).await.remove(0);
    assert_eq!(callback.method, "PUT");
    assert_eq!(callback.header("fspiop-source"), Some("Hub"));
    let callback_headers: Vec<(&str, &str)> = callback
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert!(
        callback.header("fspiop-signature").is_some(),
        "{callback:?}"
    );
    assert_eq!(
        jws::verify(
            &all_keys,
            "PUT",
            &callback.path,
            callback_headers.as_slice(),
            &callback.body,
            VerifyOptions::default()
        ),
        Ok(()),
        "the payer verifies the hub's callback with the hub's public key"
    );
    // …and not with any other key.
    let mut impostor = BTreeMap::new();
    impostor.insert(
        "Hub".to_string(),
        VerifyingKey::from_pem(&std::fs::read(dir.join("payerfsp.pem")).unwrap()).unwrap(),
    );
    assert!(jws::verify(
        &impostor,
        "PUT",
        &callback.path,
        callback_headers.as_slice(),
        &callback.body,
        VerifyOptions::default()
    )
    .is_err());

    app.stop().await;
    db.drop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&late);
}
