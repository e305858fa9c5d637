//! The happy path and the relays: a quote both ways with the headers the spec requires, a GET
//! of a stored quote, the payee's error callback, and the error callbacks the hub makes when
//! delivery fails.

use serde_json::json;

use crate::helpers::{
    add_participant, fspiop_headers, new_id, quote_request, world, HUB, PAYEE, PAYER,
};

const SIGNATURE: &str = r#"{"signature":"c2lnbmF0dXJl","protectedHeader":"eyJhbGciOiJSUzI1NiJ9"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_is_relayed_both_ways_with_the_headers_the_spec_requires() {
    let world = world().await;
    let id = new_id();
    let request = quote_request(&id, "100", "USD");
    // Pretty-printed: the payee must get these exact bytes.
    let request_bytes = serde_json::to_vec_pretty(&request).unwrap();
    let mut headers = fspiop_headers("POST", PAYER, PAYEE);
    headers.extend([
        ("fspiop-signature".to_string(), SIGNATURE.to_string()),
        ("fspiop-uri".to_string(), "/quotes".to_string()),
        ("fspiop-http-method".to_string(), "POST".to_string()),
        ("fspiop-encryption".to_string(), "none".to_string()),
        ("x-forwarded-for".to_string(), "10.1.2.3".to_string()),
        (
            "traceparent".to_string(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string(),
        ),
    ]);
    let sent = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let (status, body) = world
        .send("POST", "/quotes", &headers, Some(request_bytes.clone()))
        .await;
    assert_eq!((status, body), (202, serde_json::Value::Null));

    let post = world.payee.wait_for("POST", "/quotes").await;
    assert_eq!(
        post.body, request_bytes,
        "the body is forwarded byte for byte"
    );
    assert_eq!(
        post.header("content-type"),
        Some(sent("content-type").as_str())
    );
    assert_eq!(post.header("accept"), Some(sent("accept").as_str()));
    assert_eq!(post.header("date"), Some(sent("date").as_str()));
    assert_eq!(post.header("fspiop-source"), Some(PAYER));
    assert_eq!(post.header("fspiop-destination"), Some(PAYEE));
    assert_eq!(post.header("fspiop-signature"), Some(SIGNATURE));
    assert_eq!(post.header("fspiop-uri"), Some("/quotes"));
    assert_eq!(post.header("fspiop-http-method"), Some("POST"));
    assert_eq!(post.header("fspiop-encryption"), Some("none"));
    // Mojaloop's Quoting Service forwards only the FSPIOP headers...
    assert_eq!(post.header("x-forwarded-for"), None);
    // ...and the W3C trace context: the payee's quote belongs to the payer's trace (W3C Trace
    // Context asks every participant to pass it on, and Mojaloop's services propagate it),
    // with the hub's own forward hop as the parent, not the payer's span.
    let forwarded = post
        .header("traceparent")
        .and_then(fspiop::trace_context::TraceParent::parse)
        .unwrap_or_else(|| panic!("no valid traceparent forwarded"));
    assert_eq!(forwarded.trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
    assert_ne!(forwarded.parent_id_hex(), "b7ad6b7169203331");

    // Stored before it was forwarded.
    let (payer_fsp, payee_fsp, amount, currency, body): (String, String, String, String, String) = sqlx::query_as(
        "SELECT payerFsp, payeeFsp, CAST(amount AS CHAR), currencyId, body FROM quote WHERE quoteId = ?",
    )
    .bind(&id)
    .fetch_one(world.quotes_pool())
    .await
    .unwrap();
    assert_eq!(
        (
            payer_fsp.as_str(),
            payee_fsp.as_str(),
            amount.as_str(),
            currency.as_str()
        ),
        (PAYER, PAYEE, "100.0000", "USD")
    );
    assert_eq!(body.as_bytes(), request_bytes.as_slice());

    // The payee answers; the payer gets the answer as the payee sent it.
    let response = world.response_for(&request, "100", "USD");
    let response_bytes = response.to_string().into_bytes();
    let mut headers = fspiop_headers("PUT", PAYEE, PAYER);
    headers.extend([
        ("fspiop-signature".to_string(), SIGNATURE.to_string()),
        ("fspiop-uri".to_string(), format!("/quotes/{id}")),
        ("fspiop-http-method".to_string(), "PUT".to_string()),
    ]);
    let (status, _) = world
        .send(
            "PUT",
            &format!("/quotes/{id}"),
            &headers,
            Some(response_bytes.clone()),
        )
        .await;
    assert_eq!(status, 200);
    let put = world.payer.wait_for("PUT", &format!("/quotes/{id}")).await;
    assert_eq!(put.body, response_bytes);
    assert_eq!(put.header("fspiop-source"), Some(PAYEE));
    assert_eq!(put.header("fspiop-destination"), Some(PAYER));
    assert_eq!(put.header("fspiop-signature"), Some(SIGNATURE));
    assert_eq!(
        put.header("fspiop-uri").map(str::to_string),
        Some(format!("/quotes/{id}"))
    );
    assert_eq!(put.header("fspiop-http-method"), Some("PUT"));
    assert_eq!(
        put.header("content-type"),
        Some("application/vnd.interoperability.quotes+json;version=1.1")
    );
    assert_eq!(put.header("accept"), None, "no Accept on callbacks");

    let (transfer_amount, condition): (String, String) = sqlx::query_as(
        "SELECT CAST(transferAmount AS CHAR), ilpCondition FROM quoteResponse WHERE quoteId = ?",
    )
    .bind(&id)
    .fetch_one(world.quotes_pool())
    .await
    .unwrap();
    assert_eq!(transfer_amount, "100.0000");
    assert_eq!(condition, response["condition"].as_str().unwrap());
    world
        .wait_for_metric(r#"moja_qs_quotes_total{action="post",outcome="forwarded"} 1"#)
        .await;
    world
        .wait_for_metric(r#"moja_qs_quotes_total{action="put",outcome="forwarded"} 1"#)
        .await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_of_a_stored_quote_is_forwarded_and_the_payees_answer_relayed_again() {
    let world = world().await;
    let id = new_id();
    let request = quote_request(&id, "25.5", "USD");
    world.post_quote(PAYER, PAYEE, &request, 202).await;
    world.payee.wait_for("POST", "/quotes").await;
    let response = world.response_for(&request, "25.5", "USD");
    world.put_quote(&id, PAYEE, PAYER, &response, 200).await;
    world.payer.wait_for("PUT", &format!("/quotes/{id}")).await;

    // The payer lost the callback and asks again.
    let headers = fspiop_headers("GET", PAYER, PAYEE);
    let (status, body) = world
        .send("GET", &format!("/quotes/{id}"), &headers, None)
        .await;
    assert_eq!((status, body), (202, serde_json::Value::Null));
    let get = world.payee.wait_for("GET", &format!("/quotes/{id}")).await;
    assert!(get.body.is_empty());
    assert_eq!(
        get.header("accept"),
        Some("application/vnd.interoperability.quotes+json;version=1")
    );
    assert_eq!(get.header("fspiop-source"), Some(PAYER));
    assert_eq!(get.header("fspiop-destination"), Some(PAYEE));
    assert_eq!(
        get.header("fspiop-uri").map(str::to_string),
        Some(format!("/quotes/{id}"))
    );

    // The payee answers with the stored response again: an identical resend is relayed.
    world.put_quote(&id, PAYEE, PAYER, &response, 200).await;
    let puts = world
        .payer
        .wait_for_n("PUT", &format!("/quotes/{id}"), 2)
        .await;
    assert_eq!(puts[0].body, puts[1].body);
    let (responses,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM quoteResponse WHERE quoteId = ?")
            .bind(&id)
            .fetch_one(world.quotes_pool())
            .await
            .unwrap();
    assert_eq!(responses, 1);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payees_error_callback_is_relayed_and_recorded() {
    let world = world().await;
    let id = new_id();
    world
        .post_quote(PAYER, PAYEE, &quote_request(&id, "10", "USD"), 202)
        .await;
    world.payee.wait_for("POST", "/quotes").await;
    let error = json!({"errorInformation": {"errorCode": "5101", "errorDescription": "Payee rejected quote",
        "extensionList": {"extension": [{"key": "reason", "value": "limit"}]}}});
    let headers = fspiop_headers("PUT", PAYEE, PAYER);
    let bytes = error.to_string().into_bytes();
    let (status, _) = world
        .send(
            "PUT",
            &format!("/quotes/{id}/error"),
            &headers,
            Some(bytes.clone()),
        )
        .await;
    assert_eq!(status, 200);
    let relayed = world
        .payer
        .wait_for("PUT", &format!("/quotes/{id}/error"))
        .await;
    assert_eq!(relayed.body, bytes, "relayed verbatim");
    assert_eq!(relayed.header("fspiop-source"), Some(PAYEE));
    assert_eq!(relayed.header("fspiop-destination"), Some(PAYER));
    assert_eq!(
        relayed.header("fspiop-uri").map(str::to_string),
        Some(format!("/quotes/{id}/error"))
    );
    assert_eq!(
        relayed.header("content-type"),
        Some("application/vnd.interoperability.quotes+json;version=1.1")
    );
    world
        .wait_for_metric(r#"moja_qs_quotes_total{action="error",outcome="forwarded"} 1"#)
        .await;
    let (code, description, source): (String, String, String) = sqlx::query_as(
        "SELECT errorCode, errorDescription, sourceFsp FROM quoteError WHERE quoteId = ?",
    )
    .bind(&id)
    .fetch_one(world.quotes_pool())
    .await
    .unwrap();
    assert_eq!(
        (code.as_str(), description.as_str(), source.as_str()),
        ("5101", "Payee rejected quote", PAYEE)
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accept_header_on_the_callback_is_3100_to_the_payee() {
    let world = world().await;
    let id = new_id();
    let request = quote_request(&id, "10", "USD");
    world.post_quote(PAYER, PAYEE, &request, 202).await;
    world.payee.wait_for("POST", "/quotes").await;
    let mut headers = fspiop_headers("PUT", PAYEE, PAYER);
    headers.push((
        "accept".to_string(),
        "application/vnd.interoperability.quotes+json;version=1".to_string(),
    ));
    let body = world
        .response_for(&request, "10", "USD")
        .to_string()
        .into_bytes();
    let (status, _) = world
        .send("PUT", &format!("/quotes/{id}"), &headers, Some(body))
        .await;
    assert_eq!(
        status, 200,
        "accepted synchronously, refused asynchronously"
    );

    let error = world
        .payee
        .wait_for("PUT", &format!("/quotes/{id}/error"))
        .await;
    assert_eq!(error.error_code(), "3100");
    // Mojaloop's description, cut to the 128 characters a description may have.
    let full = format!("Generic validation error - Update for quote {id} failed: \"accept\" header should not be sent in callbacks.");
    assert_eq!(
        error.error_description(),
        fspiop::error::truncate_chars(&full, 128)
    );
    // A hub-originated callback.
    assert_eq!(error.header("fspiop-source"), Some(HUB));
    assert_eq!(error.header("fspiop-destination"), Some(PAYEE));
    assert_eq!(
        error.header("fspiop-uri").map(str::to_string),
        Some(format!("/quotes/{id}/error"))
    );
    assert_eq!(error.header("fspiop-http-method"), Some("PUT"));
    assert_eq!(
        error.header("content-type"),
        Some("application/vnd.interoperability.quotes+json;version=1.1")
    );
    assert_eq!(error.header("accept"), None);
    assert_eq!(error.header("fspiop-signature"), None);
    assert!(error
        .header("date")
        .is_some_and(|d| fspiop::datetime::parse_http_date(d).is_some()));
    world
        .wait_for_metric(r#"moja_qs_quotes_total{action="put",outcome="rejected"} 1"#)
        .await;
    assert_eq!(world.payer.count("PUT", &format!("/quotes/{id}")), 0);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_and_missing_endpoints_become_error_callbacks() {
    let world = crate::helpers::world_with(Default::default(), |ledger| async move {
        // A DFSP that can transact but registered no quotes endpoint.
        add_participant(&ledger, "mutefsp", true, &[("USD", true)], None).await;
    })
    .await;

    // The payee fails: the payer hears 1001.
    world.payee.answer_with(500);
    let id = new_id();
    world
        .post_quote(PAYER, PAYEE, &quote_request(&id, "10", "USD"), 202)
        .await;
    let error = world
        .payer
        .wait_for("PUT", &format!("/quotes/{id}/error"))
        .await;
    assert_eq!(error.error_code(), "1001");
    assert_eq!(
        error.error_description(),
        "Destination communication error - Failed to send HTTP request to host"
    );
    // A refusal by the destination is counted (and logged), by destination and code.
    world
        .wait_for_metric(
            r#"moja_qs_callbacks_refused_total{destination="payeefsp",code="http_500"} 1"#,
        )
        .await;

    // No quotes endpoint: 3201.
    let id = new_id();
    let mut request = quote_request(&id, "10", "USD");
    request["payee"]["partyIdInfo"]["fspId"] = json!("mutefsp");
    world.post_quote(PAYER, "mutefsp", &request, 202).await;
    let error = world
        .payer
        .wait_for("PUT", &format!("/quotes/{id}/error"))
        .await;
    assert_eq!(error.error_code(), "3201");
    assert_eq!(
        error.error_description(),
        format!("Destination FSP Error - No FSPIOP_CALLBACK_URL_QUOTES found for quote {id} party mutefsp")
    );
    world.stop().await;
}
