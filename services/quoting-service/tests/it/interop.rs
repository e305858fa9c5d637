//! What Mojaloop's own tools send (issue 16): optional headers filled with any text are
//! carried, not judged; body members the API definition does not name are accepted and
//! forwarded byte for byte, and refused with 3103 only under `[validation]
//! reject_additional_properties`.

use serde_json::{json, Value};

use crate::helpers::{
    fspiop_headers, new_id, quote_request, world, world_with, Setup, PAYEE, PAYER,
};

/// The optional headers as Mojaloop's Testing Toolkit fills them: text a JSON-schema faker
/// made from the API definition, which gives them no format.
const FAKER_HEADERS: &[(&str, &str)] = &[
    ("fspiop-http-method", "laboris proident labore"),
    ("fspiop-uri", "in dolor sint"),
    ("fspiop-signature", "ex sit veniam"),
    ("fspiop-encryption", "ullamco aliqua"),
    ("x-forwarded-for", "Ut aute"),
];

fn with_faker_headers(mut headers: Vec<(String, String)>) -> Vec<(String, String)> {
    headers.extend(
        FAKER_HEADERS
            .iter()
            .map(|(name, value)| ((*name).to_string(), (*value).to_string())),
    );
    headers
}

fn at_version(mut headers: Vec<(String, String)>, version: &str) -> Vec<(String, String)> {
    for (name, value) in &mut headers {
        if name == "content-type" {
            *value = format!("application/vnd.interoperability.quotes+json;version={version}");
        }
    }
    headers
}

/// `value` as JSON text with an extra member `esse_1` at the top and one in `nested`, with
/// spacing serde would not write, so that a re-serialised body would show.
fn with_extras(value: &Value, nested: &str) -> String {
    let mut value = value.clone();
    value[nested]["commodo_7"] = json!("laborum");
    let text = value.to_string();
    let inner = text.strip_suffix('}').unwrap_or(&text);
    format!("{inner},  \"esse_1\": {{\"nisi\": [1, 2.50, true]}}}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faker_headers_and_extra_members_are_forwarded_untouched() {
    let world = world().await;
    for version in ["2.0", "1.1"] {
        let id = new_id();
        let request = quote_request(&id, "100", "USD");
        let request_text = with_extras(&request, "amount");
        let headers = with_faker_headers(at_version(fspiop_headers("POST", PAYER, PAYEE), version));
        let (status, answer) = world
            .send(
                "POST",
                "/quotes",
                &headers,
                Some(request_text.clone().into_bytes()),
            )
            .await;
        assert_eq!((status, answer), (202, Value::Null), "version {version}");
        let post = world
            .payee
            .wait_for_n("POST", "/quotes", if version == "2.0" { 1 } else { 2 })
            .await
            .into_iter()
            .find(|r| r.json()["quoteId"] == id.as_str())
            .unwrap_or_else(|| panic!("no POST /quotes {id}"));
        assert_eq!(
            String::from_utf8_lossy(&post.body),
            request_text,
            "version {version}: the body is forwarded byte for byte"
        );
        for name in ["fspiop-uri", "fspiop-signature", "fspiop-encryption"] {
            let sent = FAKER_HEADERS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v);
            assert_eq!(post.header(name), sent, "version {version}: {name}");
        }
        // Set to the method of the forwarded request, as Mojaloop does.
        assert_eq!(post.header("fspiop-http-method"), Some("POST"));

        // The payee's answer, with the same headers and its own extra members.
        let response = world.response_for(&request, "100", "USD");
        let response_text = with_extras(&response, "transferAmount");
        let headers = with_faker_headers(at_version(fspiop_headers("PUT", PAYEE, PAYER), version));
        let path = format!("/quotes/{id}");
        let (status, answer) = world
            .send(
                "PUT",
                &path,
                &headers,
                Some(response_text.clone().into_bytes()),
            )
            .await;
        assert_eq!((status, answer), (200, Value::Null), "version {version}");
        let put = world.payer.wait_for("PUT", &path).await;
        assert_eq!(
            String::from_utf8_lossy(&put.body),
            response_text,
            "version {version}: the answer is forwarded byte for byte"
        );
        assert_eq!(put.header("fspiop-uri"), Some("in dolor sint"));
        assert_eq!(put.header("fspiop-signature"), Some("ex sit veniam"));
        assert_eq!(put.header("fspiop-http-method"), Some("PUT"));
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_strict_option_refuses_extra_members_with_3103() {
    let setup = Setup {
        reject_additional_properties: true,
        ..Setup::default()
    };
    let world = world_with(setup, |_| async {}).await;
    let request = quote_request(&new_id(), "1", "USD");
    let post = fspiop_headers("POST", PAYER, PAYEE);
    let mut extra = request.clone();
    extra["surprise"] = json!(1);
    let mut nested = request.clone();
    nested["amount"]["fee"] = json!("1");
    for (body, description) in [
        (
            extra,
            "Too many elements - body must NOT have additional property 'surprise'",
        ),
        (
            nested,
            "Too many elements - /amount must NOT have additional property 'fee'",
        ),
    ] {
        let (status, answer) = world
            .send(
                "POST",
                "/quotes",
                &post,
                Some(body.to_string().into_bytes()),
            )
            .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(
            answer,
            json!({"errorInformation": {"errorCode": "3103", "errorDescription": description}})
        );
    }
    let error =
        json!({"errorInformation": {"errorCode": "5100", "errorDescription": "x", "why": "?"}});
    let (status, answer) = world
        .send(
            "PUT",
            &format!("/quotes/{}/error", new_id()),
            &fspiop_headers("PUT", PAYEE, PAYER),
            Some(error.to_string().into_bytes()),
        )
        .await;
    assert_eq!(
        (status, answer["errorInformation"]["errorCode"].as_str()),
        (400, Some("3103"))
    );
    // Strictness is about bodies: the faker's headers on a body the API names pass.
    let (status, _) = world
        .send(
            "POST",
            "/quotes",
            &with_faker_headers(post.clone()),
            Some(request.to_string().into_bytes()),
        )
        .await;
    assert_eq!(status, 202);
    world.payee.wait_for("POST", "/quotes").await;
    assert_eq!(world.payee.received().len(), 1, "nothing refused travelled");
    world.stop().await;
}
