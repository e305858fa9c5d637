//! What is answered at once: header, path and body problems with their codes and statuses,
//! unknown routes and methods, `/health` and `/metrics`. Nothing refused here is forwarded.

use serde_json::{json, Value};

use crate::helpers::{fspiop_headers, new_id, quote_request, world, PAYEE, PAYER};

fn without(headers: &[(String, String)], name: &str) -> Vec<(String, String)> {
    headers.iter().filter(|(n, _)| n != name).cloned().collect()
}

fn with(headers: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut headers = without(headers, name);
    headers.push((name.to_string(), value.to_string()));
    headers
}

fn code(answer: &Value) -> &str {
    answer["errorInformation"]["errorCode"]
        .as_str()
        .unwrap_or_default()
}

fn description(answer: &Value) -> &str {
    answer["errorInformation"]["errorDescription"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_and_path_problems_are_answered_at_once() {
    let world = world().await;
    let post = fspiop_headers("POST", PAYER, PAYEE);
    let body = || {
        Some(
            quote_request(&new_id(), "1", "USD")
                .to_string()
                .into_bytes(),
        )
    };

    let (status, answer) = world
        .send(
            "POST",
            "/quotes",
            &without(&post, "fspiop-destination"),
            body(),
        )
        .await;
    assert_eq!((status, code(&answer)), (400, "3102"));
    assert_eq!(
        description(&answer),
        "Missing mandatory element - Missing required fspiop-destination header"
    );

    let (status, answer) = world
        .send("POST", "/quotes", &without(&post, "date"), body())
        .await;
    assert_eq!((status, code(&answer)), (400, "3102"));

    let (status, answer) = world
        .send("POST", "/quotes", &without(&post, "accept"), body())
        .await;
    assert_eq!(
        (status, description(&answer)),
        (400, "Missing mandatory element - accept is required")
    );

    let ct = "application/vnd.interoperability.quotes+json;version=3.9";
    let (status, answer) = world
        .send("POST", "/quotes", &with(&post, "content-type", ct), body())
        .await;
    assert_eq!((status, code(&answer)), (406, "3001"));
    assert_eq!(
        answer["errorInformation"]["extensionList"]["extension"],
        json!([{"key": "1", "value": "1"}, {"key": "1", "value": "0"}, {"key": "2", "value": "0"}])
    );
    let accept = "application/vnd.interoperability.quotes+json;version=9.9";
    let (status, answer) = world
        .send("POST", "/quotes", &with(&post, "accept", accept), body())
        .await;
    assert_eq!((status, code(&answer)), (406, "3001"));
    assert!(description(&answer).starts_with("Unacceptable version requested"));

    // The resource of the content type must be quotes.
    let ct = "application/vnd.interoperability.transfers+json;version=1.1";
    let (status, answer) = world
        .send("POST", "/quotes", &with(&post, "content-type", ct), body())
        .await;
    assert_eq!(
        (status, description(&answer)),
        (400, "Malformed syntax - Invalid content-type header")
    );

    // The path id must be a UUID or ULID.
    let put = fspiop_headers("PUT", PAYEE, PAYER);
    let (status, answer) = world
        .send("PUT", "/quotes/not-a-quote", &put, Some(b"{}".to_vec()))
        .await;
    assert_eq!((status, code(&answer)), (400, "3100"));
    let (status, answer) = world
        .send(
            "GET",
            "/quotes/x%20y",
            &fspiop_headers("GET", PAYER, PAYEE),
            None,
        )
        .await;
    assert_eq!((status, code(&answer)), (400, "3100"));

    // Routes and methods.
    let (status, answer) = world.send("POST", "/bulkTransfers", &post, body()).await;
    assert_eq!((status, code(&answer)), (404, "3002"));
    let response = world
        .client
        .delete(format!("{}/quotes", world.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        description(&answer),
        "Generic client error - Method Not Allowed"
    );

    world
        .wait_for_metric(
            r#"moja_qs_http_requests_total{method="POST",path="/quotes",status_code="406"} 2"#,
        )
        .await;
    assert!(
        world.payee.received().is_empty(),
        "nothing refused is forwarded"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_problems_are_answered_at_once() {
    let world = world().await;
    let post = fspiop_headers("POST", PAYER, PAYEE);
    let send = |body: Value| {
        let headers = post.clone();
        let api = world.api.clone();
        async move {
            api.send(
                "POST",
                "/quotes",
                &headers,
                Some(body.to_string().into_bytes()),
            )
            .await
        }
    };
    let good = quote_request(&new_id(), "1", "USD");

    // Unknown members are accepted (see interop.rs; refused only with the strict option).
    let mut extra = good.clone();
    extra["surprise"] = json!(1);
    let (status, answer) = send(extra).await;
    assert_eq!((status, answer), (202, Value::Null));

    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("payee");
    let (status, answer) = send(missing).await;
    assert_eq!((status, code(&answer)), (400, "3102"));

    let mut number = good.clone();
    number["amount"]["amount"] = json!(1);
    assert_eq!(code(&send(number).await.1), "3101");

    let mut pattern = good.clone();
    pattern["amount"]["amount"] = json!("1.00");
    assert_eq!(code(&send(pattern).await.1), "3100");

    let mut amount_type = good.clone();
    amount_type["amountType"] = json!("GIVE");
    assert_eq!(code(&send(amount_type).await.1), "3100");

    // Well formed, but yen have no minor units.
    let mut yen = good.clone();
    yen["amount"] = json!({"amount": "10.5", "currency": "JPY"});
    let (status, answer) = send(yen).await;
    assert_eq!((status, code(&answer)), (400, "3100"));
    assert!(
        description(&answer).starts_with("Generic validation error - /amount 10.5 JPY"),
        "{answer}"
    );

    let (status, answer) = world
        .send("POST", "/quotes", &post, Some(b"{\"quoteId\":".to_vec()))
        .await;
    assert_eq!((status, code(&answer)), (400, "3101"));

    let huge = vec![b' '; quoting_service::api::BODY_LEN_MAX_BYTES + 1];
    let (status, answer) = world.send("POST", "/quotes", &post, Some(huge)).await;
    assert_eq!((status, code(&answer)), (400, "3104"));

    // Error callbacks are schema-checked too.
    let put = fspiop_headers("PUT", PAYEE, PAYER);
    let path = format!("/quotes/{}/error", new_id());
    let error = json!({"errorInformation": {"errorCode": "51", "errorDescription": "x"}});
    let (status, answer) = world
        .send("PUT", &path, &put, Some(error.to_string().into_bytes()))
        .await;
    assert_eq!((status, code(&answer)), (400, "3100"));

    // Only the accepted quote with the extra member travelled.
    assert!(world.payer.received().is_empty());
    let forwarded = world.payee.wait_for("POST", "/quotes").await;
    assert_eq!(forwarded.json()["surprise"], json!(1));
    assert_eq!(world.payee.received().len(), 1);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics() {
    let world = world().await;
    let response = world
        .client
        .get(format!("{}/health", world.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let health: Value = response.json().await.unwrap();
    assert_eq!(health["status"], "OK");
    assert_eq!(
        health["services"],
        json!([{"name": "datastore", "status": "OK"}])
    );
    assert!(
        health["uptime"].is_number()
            && health["startTime"].is_string()
            && health["versionNumber"].is_string()
    );

    let response = world
        .client
        .get(format!("{}/metrics", world.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"moja_qs_http_requests_total{method="GET",path="/health",status_code="200"} "#
        ),
        "{text}"
    );
    assert!(
        text.contains("# TYPE moja_qs_quotes_total counter"),
        "{text}"
    );
    world.stop().await;
}
