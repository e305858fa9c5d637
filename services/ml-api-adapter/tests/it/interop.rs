//! What Mojaloop's own tools send (issue 16): optional headers filled with any text are
//! carried, not judged; body members the API definition does not name are accepted and carried
//! as received, and refused with 3103 only under `[validation] reject_additional_properties`.

use fspiop::envelope::data_uri;
use serde_json::Value;

use crate::helpers::{
    completed_timestamp, fspiop_headers, new_id, spawn_app, transfer_body, Options,
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

fn with_faker_headers(mut headers: Vec<(String, String)>, version: &str) -> Vec<(String, String)> {
    for (name, value) in &mut headers {
        if name == "content-type" {
            *value = format!("application/vnd.interoperability.transfers+json;version={version}");
        }
    }
    headers.extend(
        FAKER_HEADERS
            .iter()
            .map(|(name, value)| ((*name).to_string(), (*value).to_string())),
    );
    headers
}

/// `value` as JSON text with an extra member at the top and one in `amount`-like `nested`.
fn with_extras(value: &Value, nested: Option<&str>) -> String {
    let mut value = value.clone();
    if let Some(nested) = nested {
        value[nested]["commodo_7"] = Value::String("laborum".into());
    }
    let text = value.to_string();
    let inner = text.strip_suffix('}').unwrap_or(&text);
    format!("{inner},  \"esse_1\": {{\"nisi\": [1, 2.50, true]}}}}")
}

#[tokio::test]
async fn faker_headers_and_extra_members_are_carried_untouched() {
    let app = spawn_app(Options::default()).await;
    let mut prepares = app.reader(bus::TOPIC_TRANSFER_PREPARE);
    let mut fulfils = app.reader(bus::TOPIC_TRANSFER_FULFIL);
    for version in ["2.0", "1.1"] {
        let content_type =
            format!("application/vnd.interoperability.transfers+json;version={version}");
        let id = new_id();
        let body = with_extras(&transfer_body(&id, "payerfsp", "payeefsp"), Some("amount"));
        let headers = with_faker_headers(
            fspiop_headers("POST", "payerfsp", Some("payeefsp")),
            version,
        );
        app.send("POST", "/transfers", &headers, Some(body.as_bytes()))
            .await
            .empty(202);
        let read = prepares.find(&id).await;
        assert_eq!(
            read.message.content.payload,
            Value::String(data_uri(&content_type, body.as_bytes())),
            "version {version}: the body travels as received"
        );
        for (name, value) in FAKER_HEADERS {
            assert_eq!(
                read.message.content.headers.get(*name).map(String::as_str),
                Some(*value),
                "version {version}: {name}"
            );
        }

        let fulfil = serde_json::json!({
            "transferState": "COMMITTED",
            "fulfilment": "UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA",
            "completedTimestamp": completed_timestamp(-1000),
        });
        let body = with_extras(&fulfil, None);
        let headers =
            with_faker_headers(fspiop_headers("PUT", "payeefsp", Some("payerfsp")), version);
        app.send(
            "PUT",
            &format!("/transfers/{id}"),
            &headers,
            Some(body.as_bytes()),
        )
        .await
        .empty(200);
        let read = fulfils.find(&id).await;
        assert_eq!(
            read.message.content.payload,
            Value::String(data_uri(&content_type, body.as_bytes())),
            "version {version}: the fulfilment travels as received"
        );
        assert_eq!(
            read.message
                .content
                .headers
                .get("fspiop-http-method")
                .map(String::as_str),
            Some("laboris proident labore")
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_strict_option_refuses_extra_members_with_3103() {
    let app = spawn_app(Options {
        reject_additional_properties: true,
        ..Options::default()
    })
    .await;
    let id = new_id();
    let mut transfer = transfer_body(&id, "payerfsp", "payeefsp");
    let post = fspiop_headers("POST", "payerfsp", Some("payeefsp"));
    let body = with_extras(&transfer, None);
    let description = app
        .send("POST", "/transfers", &post, Some(body.as_bytes()))
        .await
        .error(400, "3103");
    assert_eq!(
        description,
        "Too many elements - body must NOT have additional property 'esse_1'"
    );
    transfer["amount"]["fee"] = Value::String("1".into());
    let description = app
        .send(
            "POST",
            "/transfers",
            &post,
            Some(transfer.to_string().as_bytes()),
        )
        .await
        .error(400, "3103");
    assert_eq!(
        description,
        "Too many elements - /amount must NOT have additional property 'fee'"
    );
    let put = fspiop_headers("PUT", "payeefsp", Some("payerfsp"));
    let error = r#"{"errorInformation":{"errorCode":"5100","errorDescription":"x","why":"?"}}"#;
    app.send(
        "PUT",
        &format!("/transfers/{id}/error"),
        &put,
        Some(error.as_bytes()),
    )
    .await
    .error(400, "3103");
    // Strictness is about bodies: the faker's headers on a body the API names pass.
    let id = new_id();
    let body = transfer_body(&id, "payerfsp", "payeefsp").to_string();
    app.send(
        "POST",
        "/transfers",
        &with_faker_headers(post, "1.1"),
        Some(body.as_bytes()),
    )
    .await
    .empty(202);
    app.stop().await;
}
