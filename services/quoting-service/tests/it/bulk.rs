//! `/bulkQuotes`: a payer DFSP's bulk quote relayed to the payee DFSP and the payee's results
//! relayed back, byte for byte with the signature; GET and errors relayed; nothing stored, in
//! persistent mode too. Header, path and body problems (more than 1000 quotes included) are
//! answered at once; unknown or inactive DFSPs and failed deliveries become error callbacks on
//! the sender's `/bulkQuotes/{ID}/error`.

use serde_json::{json, Value};

use crate::helpers::{
    add_endpoint, add_participant, new_id, now_ms, quote_request, world, world_with, Setup, World,
    HUB, PAYEE, PAYER,
};

const BULK_QUOTES: &str = "application/vnd.interoperability.bulkQuotes+json;version=1.1";
const ENDPOINT: &str = "FSPIOP_CALLBACK_URL_BULK_QUOTES";
const SIGNATURE: &str = r#"{"signature":"YnVsaw","protectedHeader":"eyJhbGciOiJSUzI1NiJ9"}"#;

fn headers(method: &str, source: &str, destination: &str) -> Vec<(String, String)> {
    let mut headers = vec![
        ("content-type".to_string(), BULK_QUOTES.to_string()),
        (
            "date".to_string(),
            fspiop::datetime::format_http_date(now_ms()),
        ),
        ("fspiop-source".to_string(), source.to_string()),
        ("fspiop-destination".to_string(), destination.to_string()),
    ];
    if method != "PUT" {
        headers.push((
            "accept".to_string(),
            "application/vnd.interoperability.bulkQuotes+json;version=1".to_string(),
        ));
    }
    headers
}

fn with(headers: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut headers: Vec<_> = headers.iter().filter(|(n, _)| n != name).cloned().collect();
    headers.push((name.to_string(), value.to_string()));
    headers
}

/// One payee's quote of a bulk: a single quote request without the payer and the expiration.
fn individual_quote(amount: &str, currency: &str) -> Value {
    let mut quote = quote_request(&new_id(), amount, currency);
    let object = quote.as_object_mut().unwrap();
    for member in ["payer", "expiration"] {
        object.remove(member);
    }
    quote
}

/// A bulk quote from `payerfsp` of `count` quotes of 10 `currency` each.
fn bulk_request(id: &str, count: usize, currency: &str) -> Value {
    let quotes: Vec<Value> = (0..count)
        .map(|_| individual_quote("10", currency))
        .collect();
    json!({
        "bulkQuoteId": id,
        "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "27713803911", "fspId": PAYER}},
        "expiration": fspiop::datetime::format_date_time(now_ms() + 600_000),
        "individualQuotes": quotes,
    })
}

/// The payee's results for `request`: the first quote accepted with a real ILP packet and
/// condition, the others refused.
fn bulk_response(world: &World, request: &Value) -> Value {
    let quotes = request["individualQuotes"].as_array().unwrap();
    let results: Vec<Value> = quotes
        .iter()
        .enumerate()
        .map(|(index, quote)| {
            let quote_id = quote["quoteId"].clone();
            if index > 0 {
                return json!({"quoteId": quote_id, "errorInformation": {"errorCode": "5100", "errorDescription": "payee refused"}});
            }
            let mut single = quote_request(quote_id.as_str().unwrap(), "10", "USD");
            single["transactionId"] = quote["transactionId"].clone();
            let answer = world.response_for(&single, "10", "USD");
            json!({
                "quoteId": quote_id,
                "transferAmount": answer["transferAmount"],
                "payeeReceiveAmount": answer["payeeReceiveAmount"],
                "payeeFspFee": answer["payeeFspFee"],
                "payeeFspCommission": answer["payeeFspCommission"],
                "ilpPacket": answer["ilpPacket"],
                "condition": answer["condition"],
            })
        })
        .collect();
    json!({
        "individualQuoteResults": results,
        "expiration": fspiop::datetime::format_date_time(now_ms() + 600_000),
    })
}

/// Sends `body` (compact JSON) with the bulk headers; returns the status and the answer.
async fn send(
    world: &World,
    method: &str,
    path: &str,
    source: &str,
    destination: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    world
        .api
        .send(method, path, &headers(method, source, destination), bytes)
        .await
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

/// The default world with both DFSPs' bulk quotes endpoints registered.
async fn bulk_world() -> World {
    let world = world().await;
    add_endpoint(&world.ledger, PAYER, ENDPOINT, &world.payer.base).await;
    add_endpoint(&world.ledger, PAYEE, ENDPOINT, &world.payee.base).await;
    world
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_quote_is_relayed_both_ways_as_sent_and_nothing_is_stored() {
    let world = bulk_world().await;
    let id = new_id();
    let request = bulk_request(&id, 3, "USD");
    // Pretty-printed: the payee must get these exact bytes.
    let request_bytes = serde_json::to_vec_pretty(&request).unwrap();
    let mut post_headers = headers("POST", PAYER, PAYEE);
    post_headers.extend([
        ("fspiop-signature".to_string(), SIGNATURE.to_string()),
        ("fspiop-uri".to_string(), "/bulkQuotes".to_string()),
        ("fspiop-http-method".to_string(), "POST".to_string()),
    ]);
    let (status, answer) = world
        .send(
            "POST",
            "/bulkQuotes",
            &post_headers,
            Some(request_bytes.clone()),
        )
        .await;
    assert_eq!((status, answer), (202, Value::Null));
    let post = world.payee.wait_for("POST", "/bulkQuotes").await;
    assert_eq!(post.body, request_bytes, "forwarded byte for byte");
    assert_eq!(post.header("content-type"), Some(BULK_QUOTES));
    assert_eq!(
        post.header("accept"),
        Some("application/vnd.interoperability.bulkQuotes+json;version=1")
    );
    assert_eq!(post.header("fspiop-source"), Some(PAYER));
    assert_eq!(post.header("fspiop-destination"), Some(PAYEE));
    assert_eq!(post.header("fspiop-signature"), Some(SIGNATURE));
    assert_eq!(post.header("fspiop-uri"), Some("/bulkQuotes"));

    // The payee's results (one quote accepted, two refused) reach the payer as sent.
    let response = bulk_response(&world, &request);
    let response_bytes = serde_json::to_vec_pretty(&response).unwrap();
    let path = format!("/bulkQuotes/{id}");
    let mut put_headers = headers("PUT", PAYEE, PAYER);
    put_headers.push(("fspiop-signature".to_string(), SIGNATURE.to_string()));
    let (status, _) = world
        .send("PUT", &path, &put_headers, Some(response_bytes.clone()))
        .await;
    assert_eq!(status, 200);
    let put = world.payer.wait_for("PUT", &path).await;
    assert_eq!(put.body, response_bytes);
    assert_eq!(put.header("content-type"), Some(BULK_QUOTES));
    assert_eq!(put.header("fspiop-source"), Some(PAYEE));
    assert_eq!(put.header("fspiop-destination"), Some(PAYER));
    assert_eq!(put.header("fspiop-signature"), Some(SIGNATURE));
    assert_eq!(put.header("accept"), None, "no Accept on callbacks");

    // GET is relayed to the payee without a body, the payee's error to the payer as sent.
    assert_eq!(send(&world, "GET", &path, PAYER, PAYEE, None).await.0, 202);
    let get = world.payee.wait_for("GET", &path).await;
    assert!(get.body.is_empty());
    assert_eq!(get.header("content-type"), Some(BULK_QUOTES));
    let error = json!({"errorInformation": {"errorCode": "5100", "errorDescription": "Generic Payee rejection"}});
    let error_path = format!("{path}/error");
    assert_eq!(
        send(&world, "PUT", &error_path, PAYEE, PAYER, Some(&error))
            .await
            .0,
        200
    );
    let relayed = world.payer.wait_for("PUT", &error_path).await;
    assert_eq!(relayed.body, serde_json::to_vec(&error).unwrap());

    for (action, method, route, status) in [
        ("bulk-post", "POST", "/bulkQuotes", "202"),
        ("bulk-put", "PUT", "/bulkQuotes/{id}", "200"),
        ("get", "GET", "/bulkQuotes/{id}", "202"),
        ("error", "PUT", "/bulkQuotes/{id}/error", "200"),
    ] {
        world
            .wait_for_metric(&format!(
                r#"moja_qs_quotes_total{{action="{action}",outcome="forwarded"}} 1"#
            ))
            .await;
        world
            .wait_for_metric(&format!(
                r#"moja_qs_http_requests_total{{method="{method}",path="{route}",status_code="{status}"}} 1"#
            ))
            .await;
    }

    // A relay, in persistent mode too: no quote, response or error was written.
    for table in ["quote", "quoteResponse", "quoteError"] {
        let (rows,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(world.quotes_pool())
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table}");
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_through_mode_relays_bulk_quotes_alike() {
    let setup = Setup {
        mode: quoting_service::Mode::PassThrough,
        ..Setup::default()
    };
    let world = world_with(setup, |_| async {}).await;
    add_endpoint(&world.ledger, PAYER, ENDPOINT, &world.payer.base).await;
    add_endpoint(&world.ledger, PAYEE, ENDPOINT, &world.payee.base).await;
    let id = new_id();
    let request = bulk_request(&id, 2, "USD");
    assert_eq!(
        send(&world, "POST", "/bulkQuotes", PAYER, PAYEE, Some(&request))
            .await
            .0,
        202
    );
    assert_eq!(
        world.payee.wait_for("POST", "/bulkQuotes").await.json(),
        request
    );
    let response = bulk_response(&world, &request);
    let path = format!("/bulkQuotes/{id}");
    assert_eq!(
        send(&world, "PUT", &path, PAYEE, PAYER, Some(&response))
            .await
            .0,
        200
    );
    assert_eq!(world.payer.wait_for("PUT", &path).await.json(), response);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_path_and_body_problems_are_answered_at_once() {
    let world = bulk_world().await;
    let post = headers("POST", PAYER, PAYEE);
    let post_bytes = |body: &Value| Some(serde_json::to_vec(body).unwrap());
    let request = bulk_request(&new_id(), 1, "USD");

    // Headers, for resource bulkQuotes.
    let quotes_media = "application/vnd.interoperability.quotes+json;version=1.1";
    let (status, answer) = world
        .send(
            "POST",
            "/bulkQuotes",
            &with(&post, "content-type", quotes_media),
            post_bytes(&request),
        )
        .await;
    assert_eq!((status, code(&answer)), (400, "3101"), "{answer}");
    let without_destination: Vec<_> = post
        .iter()
        .filter(|(n, _)| n != "fspiop-destination")
        .cloned()
        .collect();
    let (status, answer) = world
        .send(
            "POST",
            "/bulkQuotes",
            &without_destination,
            post_bytes(&request),
        )
        .await;
    assert_eq!((status, code(&answer)), (400, "3102"), "{answer}");
    let accept = "application/vnd.interoperability.bulkQuotes+json;version=9";
    let (status, answer) = world
        .send(
            "POST",
            "/bulkQuotes",
            &with(&post, "accept", accept),
            post_bytes(&request),
        )
        .await;
    assert_eq!((status, code(&answer)), (406, "3001"), "{answer}");

    // The path id.
    let (status, answer) = send(&world, "GET", "/bulkQuotes/not-an-id", PAYER, PAYEE, None).await;
    assert_eq!((status, code(&answer)), (400, "3100"), "{answer}");

    // The body: missing 3102, wrong type 3101, other rules 3100.
    let mut missing = request.clone();
    missing.as_object_mut().unwrap().remove("individualQuotes");
    let (status, answer) = send(&world, "POST", "/bulkQuotes", PAYER, PAYEE, Some(&missing)).await;
    assert_eq!((status, code(&answer)), (400, "3102"), "{answer}");
    let mut wrong_type = request.clone();
    wrong_type["individualQuotes"] = json!("all of them");
    let (status, answer) = send(
        &world,
        "POST",
        "/bulkQuotes",
        PAYER,
        PAYEE,
        Some(&wrong_type),
    )
    .await;
    assert_eq!((status, code(&answer)), (400, "3101"), "{answer}");
    let mut empty = request.clone();
    empty["individualQuotes"] = json!([]);
    let (status, answer) = send(&world, "POST", "/bulkQuotes", PAYER, PAYEE, Some(&empty)).await;
    assert_eq!((status, code(&answer)), (400, "3100"), "{answer}");
    let mut bad_amount = request.clone();
    bad_amount["individualQuotes"][0]["amount"] = json!({"amount": "10.5", "currency": "JPY"});
    let (status, answer) = send(
        &world,
        "POST",
        "/bulkQuotes",
        PAYER,
        PAYEE,
        Some(&bad_amount),
    )
    .await;
    assert_eq!((status, code(&answer)), (400, "3100"), "{answer}");
    assert!(
        description(&answer).contains("/individualQuotes/0/amount 10.5 JPY"),
        "{answer}"
    );
    let path = format!("/bulkQuotes/{}", new_id());
    let no_expiration = json!({"individualQuoteResults": []});
    let (status, answer) = send(&world, "PUT", &path, PAYEE, PAYER, Some(&no_expiration)).await;
    assert_eq!((status, code(&answer)), (400, "3102"), "{answer}");
    let (status, answer) = send(
        &world,
        "PUT",
        &format!("{path}/error"),
        PAYEE,
        PAYER,
        Some(&json!({"errorInformation": {"errorCode": 5100}})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");

    // At most 1000 quotes in a bulk (the API's maxItems): 1001 is 3100, 1000 is relayed.
    let too_many = bulk_request(&new_id(), 1001, "USD");
    let (status, answer) = send(&world, "POST", "/bulkQuotes", PAYER, PAYEE, Some(&too_many)).await;
    assert_eq!((status, code(&answer)), (400, "3100"), "{answer}");
    assert!(
        description(&answer).contains("must NOT have more than 1000 items"),
        "{answer}"
    );
    let most = bulk_request(&new_id(), 1000, "USD");
    let (status, answer) = send(&world, "POST", "/bulkQuotes", PAYER, PAYEE, Some(&most)).await;
    assert_eq!(status, 202, "{answer}");
    let relayed = world.payee.wait_for("POST", "/bulkQuotes").await;
    assert_eq!(
        relayed.json()["individualQuotes"].as_array().unwrap().len(),
        1000
    );

    // Nothing refused here reached a DFSP.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        world.payee.received().len(),
        1,
        "{:?}",
        world.payee.received()
    );
    assert!(world.payer.received().is_empty());
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_dfsps_and_failed_deliveries_are_error_callbacks_to_the_sender() {
    let world = world_with(Setup::default(), |ledger| async move {
        // Active and holding USD, but with a quotes endpoint only.
        add_participant(
            &ledger,
            "mutefsp",
            true,
            &[("USD", true)],
            Some("http://127.0.0.1:9"),
        )
        .await;
    })
    .await;
    add_endpoint(&world.ledger, PAYER, ENDPOINT, &world.payer.base).await;
    add_endpoint(&world.ledger, PAYEE, ENDPOINT, &world.payee.base).await;
    let error_of = |id: &str| format!("/bulkQuotes/{id}/error");

    // An unknown payee DFSP: 3201 to the payer, from the hub, in the bulk quotes media type.
    let id = new_id();
    let request = bulk_request(&id, 2, "USD");
    let status = send(
        &world,
        "POST",
        "/bulkQuotes",
        PAYER,
        "nosuchfsp",
        Some(&request),
    )
    .await;
    assert_eq!(status.0, 202);
    let refusal = world.payer.wait_for("PUT", &error_of(&id)).await;
    assert_eq!(refusal.error_code(), "3201", "{:?}", refusal.json());
    assert_eq!(
        refusal.error_description(),
        "Destination FSP Error - participant 'nosuchfsp' does not exist"
    );
    assert_eq!(refusal.header("fspiop-source"), Some(HUB));
    assert_eq!(refusal.header("fspiop-destination"), Some(PAYER));
    assert_eq!(refusal.header("content-type"), Some(BULK_QUOTES));
    world
        .wait_for_metric(r#"moja_qs_quotes_total{action="bulk-post",outcome="rejected"} 1"#)
        .await;

    // The payee's answer to an unknown payer, and a GET of one: 3201 to the sender.
    let id = new_id();
    let response = bulk_response(&world, &bulk_request(&id, 1, "USD"));
    let path = format!("/bulkQuotes/{id}");
    assert_eq!(
        send(&world, "PUT", &path, PAYEE, "nosuchfsp", Some(&response))
            .await
            .0,
        200
    );
    let refusal = world.payee.wait_for("PUT", &error_of(&id)).await;
    assert_eq!(refusal.error_code(), "3201");
    assert_eq!(
        send(&world, "GET", &path, PAYER, "nosuchfsp", None).await.0,
        202
    );
    let refusal = world.payer.wait_for("PUT", &error_of(&id)).await;
    assert_eq!(refusal.error_code(), "3201");

    // A payee DFSP without a bulk quotes endpoint: 3201.
    let id = new_id();
    let request = bulk_request(&id, 1, "USD");
    assert_eq!(
        send(
            &world,
            "POST",
            "/bulkQuotes",
            PAYER,
            "mutefsp",
            Some(&request)
        )
        .await
        .0,
        202
    );
    let refusal = world.payer.wait_for("PUT", &error_of(&id)).await;
    assert_eq!(refusal.error_code(), "3201");
    assert_eq!(
        refusal.error_description(),
        format!(
            "Destination FSP Error - No FSPIOP_CALLBACK_URL_BULK_QUOTES found for quote {id} party mutefsp"
        )
    );

    // A payer without an account in a currency of the bulk: 3202.
    let id = new_id();
    let mut request = bulk_request(&id, 2, "USD");
    request["individualQuotes"][1]["amount"]["currency"] = json!("EUR");
    assert_eq!(
        send(&world, "POST", "/bulkQuotes", PAYER, PAYEE, Some(&request))
            .await
            .0,
        202
    );
    let refusal = world.payer.wait_for("PUT", &error_of(&id)).await;
    assert_eq!(refusal.error_code(), "3202");
    assert!(refusal.error_description().contains("EUR"));

    // Accept on the payee's answer: 3100 to the payee, and the payer waiting for it is told.
    let id = new_id();
    let response = bulk_response(&world, &bulk_request(&id, 1, "USD"));
    let path = format!("/bulkQuotes/{id}");
    let put_headers = with(&headers("PUT", PAYEE, PAYER), "accept", BULK_QUOTES);
    let bytes = serde_json::to_vec(&response).unwrap();
    assert_eq!(
        world.send("PUT", &path, &put_headers, Some(bytes)).await.0,
        200
    );
    assert_eq!(
        world
            .payee
            .wait_for("PUT", &error_of(&id))
            .await
            .error_code(),
        "3100"
    );
    assert_eq!(
        world
            .payer
            .wait_for("PUT", &error_of(&id))
            .await
            .error_code(),
        "3100"
    );
    assert_eq!(world.payer.count("PUT", &path), 0);

    // The payee fails: the payer hears 1001 from the hub.
    world.payee.answer_with(500);
    let id = new_id();
    let request = bulk_request(&id, 1, "USD");
    assert_eq!(
        send(&world, "POST", "/bulkQuotes", PAYER, PAYEE, Some(&request))
            .await
            .0,
        202
    );
    let refusal = world.payer.wait_for("PUT", &error_of(&id)).await;
    assert_eq!(refusal.error_code(), "1001");
    assert_eq!(refusal.header("fspiop-source"), Some(HUB));
    world.stop().await;
}
