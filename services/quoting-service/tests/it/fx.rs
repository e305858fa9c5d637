//! `/fxQuotes` (FSPIOP 2.0): a payer DFSP's request for conversion terms relayed to a foreign
//! exchange provider and the FXP's terms relayed back, byte for byte; GET and errors relayed;
//! the participants and the terms checked, a refusal answered with an error callback on
//! `/fxQuotes/{ID}/error`.

use serde_json::{json, Value};

use crate::helpers::{add_participant, new_id, now_ms, world, Dfsp, World, PAYER};

const FXP: &str = "fxp";
const FX_QUOTES: &str = "application/vnd.interoperability.fxQuotes+json;version=2.0";

fn headers(method: &str, source: &str, destination: &str) -> Vec<(String, String)> {
    let mut headers = vec![
        ("content-type".to_string(), FX_QUOTES.to_string()),
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
            "application/vnd.interoperability.fxQuotes+json;version=2".to_string(),
        ));
    }
    headers
}

fn terms(initiating: &str, fxp: &str, target_amount: Option<&str>) -> Value {
    let mut target = json!({"currency": "EUR"});
    if let Some(amount) = target_amount {
        target["amount"] = json!(amount);
    }
    json!({
        "conversionId": new_id(),
        "determiningTransferId": new_id(),
        "initiatingFsp": initiating,
        "counterPartyFsp": fxp,
        "amountType": "SEND",
        "sourceAmount": {"currency": "USD", "amount": "100"},
        "targetAmount": target,
        "expiration": fspiop::datetime::format_date_time(now_ms() + 60_000),
    })
}

async fn fx_endpoint(world: &World, name: &str, url: &str) {
    sqlx::query(
        "INSERT INTO participantEndpoint (participantId, endpointTypeId, value, isActive, createdBy) \
         SELECT p.participantId, e.endpointTypeId, ?, 1, 'test' FROM participant p, endpointType e \
         WHERE p.name = ? AND e.name = 'FSPIOP_CALLBACK_URL_FX_QUOTES'",
    )
    .bind(url)
    .bind(name)
    .execute(&world.ledger)
    .await
    .unwrap();
}

async fn send(
    world: &World,
    method: &str,
    path: &str,
    source: &str,
    destination: &str,
    body: Option<&Value>,
) -> u16 {
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    world
        .api
        .send(method, path, &headers(method, source, destination), bytes)
        .await
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fx_quotes_are_relayed_between_a_dfsp_and_its_fxp() {
    let world = world().await;
    let fxp = Dfsp::start(FXP).await;
    add_participant(
        &world.ledger,
        FXP,
        true,
        &[("USD", true), ("EUR", true)],
        None,
    )
    .await;
    fx_endpoint(&world, FXP, &fxp.base).await;
    fx_endpoint(&world, PAYER, &world.payer.base).await;

    // The request reaches the FXP as sent, the FXP's terms reach the payer as sent.
    let id = new_id();
    let request = json!({"conversionRequestId": id, "conversionTerms": terms(PAYER, FXP, None)});
    assert_eq!(
        send(&world, "POST", "/fxQuotes", PAYER, FXP, Some(&request)).await,
        202
    );
    let post = fxp.wait_for("POST", "/fxQuotes").await;
    assert_eq!(post.json(), request);
    assert_eq!(post.header("content-type"), Some(FX_QUOTES));
    let mut answered = request["conversionTerms"].clone();
    answered["targetAmount"]["amount"] = json!("92.5");
    let response = json!({"condition": "f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA", "conversionTerms": answered});
    let path = format!("/fxQuotes/{id}");
    assert_eq!(
        send(&world, "PUT", &path, FXP, PAYER, Some(&response)).await,
        200
    );
    let put = world.payer.wait_for("PUT", &path).await;
    assert_eq!(put.json(), response);

    // GET and the FXP's error are relayed.
    assert_eq!(send(&world, "GET", &path, PAYER, FXP, None).await, 202);
    fxp.wait_for("GET", &path).await;
    let error = json!({"errorInformation": {"errorCode": "5100", "errorDescription": "no rate"}});
    let error_path = format!("/fxQuotes/{id}/error");
    assert_eq!(
        send(&world, "PUT", &error_path, FXP, PAYER, Some(&error)).await,
        200
    );
    let relayed = world.payer.wait_for("PUT", &error_path).await;
    assert_eq!(relayed.json(), error);

    // Terms naming another FXP: refused to the payer with 3100, nothing reaches the FXP.
    let wrong = new_id();
    let request = json!({"conversionRequestId": wrong, "conversionTerms": terms(PAYER, "someone-else", None)});
    assert_eq!(
        send(&world, "POST", "/fxQuotes", PAYER, FXP, Some(&request)).await,
        202
    );
    let refusal = world
        .payer
        .wait_for("PUT", &format!("/fxQuotes/{wrong}/error"))
        .await;
    assert_eq!(refusal.error_code(), "3100", "{:?}", refusal.json());
    assert!(
        refusal.error_description().contains("counterPartyFsp"),
        "{}",
        refusal.error_description()
    );
    assert_eq!(fxp.count("POST", "/fxQuotes"), 1);

    // An FXP that does not hold the target currency: 3100.
    let no_eur = new_id();
    let mut request =
        json!({"conversionRequestId": no_eur, "conversionTerms": terms(PAYER, FXP, None)});
    request["conversionTerms"]["targetAmount"]["currency"] = json!("TZS");
    assert_eq!(
        send(&world, "POST", "/fxQuotes", PAYER, FXP, Some(&request)).await,
        202
    );
    let refusal = world
        .payer
        .wait_for("PUT", &format!("/fxQuotes/{no_eur}/error"))
        .await;
    assert_eq!(refusal.error_code(), "3100");

    // The FXP's answer with terms for another initiator: refused to the FXP and told to the
    // payer waiting for it.
    let other = new_id();
    let mut answered = terms("another-dfsp", FXP, Some("92.5"));
    answered["conversionId"] = json!(new_id());
    let response = json!({"conversionTerms": answered});
    let path = format!("/fxQuotes/{other}");
    assert_eq!(
        send(&world, "PUT", &path, FXP, PAYER, Some(&response)).await,
        200
    );
    let to_fxp = fxp.wait_for("PUT", &format!("{path}/error")).await;
    assert_eq!(to_fxp.error_code(), "3100");
    let to_payer = world.payer.wait_for("PUT", &format!("{path}/error")).await;
    assert_eq!(to_payer.error_code(), "3100");
    assert_eq!(world.payer.count("PUT", &path), 0);

    // A malformed body is refused at once (missing conversionTerms: 3102).
    let missing = json!({"conversionRequestId": new_id()});
    assert_eq!(
        send(&world, "POST", "/fxQuotes", PAYER, FXP, Some(&missing)).await,
        400
    );

    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_fxp_without_an_fx_quotes_endpoint_is_3201() {
    let world = world().await;
    add_participant(
        &world.ledger,
        FXP,
        true,
        &[("USD", true), ("EUR", true)],
        None,
    )
    .await;
    fx_endpoint(&world, PAYER, &world.payer.base).await;
    let id = new_id();
    let request = json!({"conversionRequestId": id, "conversionTerms": terms(PAYER, FXP, None)});
    assert_eq!(
        send(&world, "POST", "/fxQuotes", PAYER, FXP, Some(&request)).await,
        202
    );
    let refusal = world
        .payer
        .wait_for("PUT", &format!("/fxQuotes/{id}/error"))
        .await;
    assert_eq!(refusal.error_code(), "3201", "{:?}", refusal.json());
    assert_eq!(
        refusal.header("content-type"),
        Some(FX_QUOTES),
        "the hub answers in the request's resource and version"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_mode_stores_fx_quotes_and_detects_duplicates() {
    let world = world().await;
    let fxp = Dfsp::start(FXP).await;
    add_participant(
        &world.ledger,
        FXP,
        true,
        &[("USD", true), ("EUR", true)],
        None,
    )
    .await;
    fx_endpoint(&world, FXP, &fxp.base).await;
    fx_endpoint(&world, PAYER, &world.payer.base).await;
    let quotes = world.quotes.clone().expect("persistent mode");

    let id = new_id();
    let request = json!({"conversionRequestId": id, "conversionTerms": terms(PAYER, FXP, None)});
    assert_eq!(
        send(&world, "POST", "/fxQuotes", PAYER, FXP, Some(&request)).await,
        202
    );
    fxp.wait_for("POST", "/fxQuotes").await;
    let (initiating, fxp_name, source): (String, String, String) = sqlx::query_as(
        "SELECT initiatingFsp, counterPartyFsp, CAST(sourceAmount AS CHAR) FROM fxQuote WHERE conversionRequestId = ?",
    )
    .bind(&id)
    .fetch_one(&quotes)
    .await
    .unwrap();
    assert_eq!(
        (initiating.as_str(), fxp_name.as_str(), source.as_str()),
        (PAYER, FXP, "100.0000")
    );

    // The same request again is relayed again; a changed one is 3106 to the payer.
    assert_eq!(
        send(&world, "POST", "/fxQuotes", PAYER, FXP, Some(&request)).await,
        202
    );
    fxp.wait_for_n("POST", "/fxQuotes", 2).await;
    let mut changed = request.clone();
    changed["conversionTerms"]["sourceAmount"]["amount"] = json!("101");
    assert_eq!(
        send(&world, "POST", "/fxQuotes", PAYER, FXP, Some(&changed)).await,
        202
    );
    let refusal = world
        .payer
        .wait_for("PUT", &format!("/fxQuotes/{id}/error"))
        .await;
    assert_eq!(refusal.error_code(), "3106");
    assert_eq!(fxp.count("POST", "/fxQuotes"), 2);

    // The FXP's answer is stored once; a changed second answer is 3106 to the FXP.
    let mut answered = request["conversionTerms"].clone();
    answered["targetAmount"]["amount"] = json!("92.5");
    let response = json!({"condition": "f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA", "conversionTerms": answered.clone()});
    let path = format!("/fxQuotes/{id}");
    assert_eq!(
        send(&world, "PUT", &path, FXP, PAYER, Some(&response)).await,
        200
    );
    world.payer.wait_for("PUT", &path).await;
    let mut other = answered;
    other["targetAmount"]["amount"] = json!("90");
    let changed = json!({"conversionTerms": other});
    assert_eq!(
        send(&world, "PUT", &path, FXP, PAYER, Some(&changed)).await,
        200
    );
    let to_fxp = fxp.wait_for("PUT", &format!("{path}/error")).await;
    assert_eq!(to_fxp.error_code(), "3106");
    assert_eq!(world.payer.count("PUT", &path), 1);

    // An answer to an FX quote the switch never relayed: 3205 to the FXP.
    let unknown = new_id();
    let stray = json!({"conversionTerms": terms(PAYER, FXP, Some("1"))});
    let path = format!("/fxQuotes/{unknown}");
    assert_eq!(
        send(&world, "PUT", &path, FXP, PAYER, Some(&stray)).await,
        200
    );
    let to_fxp = fxp.wait_for("PUT", &format!("{path}/error")).await;
    assert_eq!(to_fxp.error_code(), "3205");
    assert_eq!(world.payer.count("PUT", &path), 0);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_through_mode_relays_fx_quotes_without_storing_them() {
    let setup = crate::helpers::Setup {
        mode: quoting_service::Mode::PassThrough,
        ..crate::helpers::Setup::default()
    };
    let world = crate::helpers::world_with(setup, |_| async {}).await;
    let fxp = Dfsp::start(FXP).await;
    add_participant(
        &world.ledger,
        FXP,
        true,
        &[("USD", true), ("EUR", true)],
        None,
    )
    .await;
    fx_endpoint(&world, FXP, &fxp.base).await;
    fx_endpoint(&world, PAYER, &world.payer.base).await;
    let id = new_id();
    let request = json!({"conversionRequestId": id, "conversionTerms": terms(PAYER, FXP, None)});
    assert_eq!(
        send(&world, "POST", "/fxQuotes", PAYER, FXP, Some(&request)).await,
        202
    );
    fxp.wait_for("POST", "/fxQuotes").await;
    // No duplicate detection: a changed resend is relayed like any request.
    let mut changed = request.clone();
    changed["conversionTerms"]["sourceAmount"]["amount"] = json!("101");
    assert_eq!(
        send(&world, "POST", "/fxQuotes", PAYER, FXP, Some(&changed)).await,
        202
    );
    let posts = fxp.wait_for_n("POST", "/fxQuotes", 2).await;
    assert!(posts.iter().any(|p| p.json() == changed), "{posts:?}");
    world.stop().await;
}
