//! The ILP packet of a quote response must agree with the response (amount scaled by the
//! currency, currency, expiry, condition): else 3100 to the payee and nothing to the payer.
//! ILPv4 by default, ILPv1 by configuration, and the check can be turned off.

use serde_json::{json, Value};

use crate::helpers::{new_id, quote_request, world_with, Setup, World, PAYEE, PAYER};

/// Posts a quote and waits until the payee has it; returns the request.
async fn quote(world: &World, amount: &str) -> (String, Value) {
    let id = new_id();
    let request = quote_request(&id, amount, "USD");
    world.post_quote(PAYER, PAYEE, &request, 202).await;
    world.payee.wait_for("POST", "/quotes").await;
    (id, request)
}

/// Sends `response` and expects a 3100 whose description contains `needle`, to the payee.
async fn refused(world: &World, id: &str, response: &Value, needle: &str, nth: usize) {
    world.put_quote(id, PAYEE, PAYER, response, 200).await;
    let errors = world
        .payee
        .wait_for_n("PUT", &format!("/quotes/{id}/error"), nth)
        .await;
    let error = &errors[nth - 1];
    assert_eq!(error.error_code(), "3100");
    assert!(
        error.error_description().contains(needle),
        "{needle:?} not in {:?}",
        error.error_description()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_whose_packet_disagrees_with_the_quote_is_3100_to_the_payee() {
    let world = world_with(Setup::default(), |_| async {}).await;
    let (id, request) = quote(&world, "100").await;
    let good = world.response_for(&request, "100", "USD");

    // The packet moves 100.00 USD; the response claims 101.
    let mut more = good.clone();
    more["transferAmount"]["amount"] = json!("101");
    refused(
        &world,
        &id,
        &more,
        "ilpPacket amount 10000 is not transferAmount 101 USD",
        1,
    )
    .await;

    // Same minor units, another currency: a packet for 1.00 USD shown as 100 JPY.
    let mut yen = world.response_for(&request, "1", "USD");
    yen["transferAmount"] = json!({"amount": "100", "currency": "JPY"});
    refused(
        &world,
        &id,
        &yen,
        "ilpPacket currency \"USD\" is not transferAmount currency JPY",
        2,
    )
    .await;

    // The quote expires later than the packet.
    let mut later = good.clone();
    later["expiration"] = json!("2099-01-01T00:00:00.000Z");
    refused(&world, &id, &later, "ilpPacket expiration", 3).await;

    // A condition that is not the packet's.
    let mut condition = good.clone();
    condition["condition"] = json!("f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA");
    refused(&world, &id, &condition, "condition", 4).await;

    // Not a packet at all (valid base64url of junk).
    let mut junk = good.clone();
    junk["ilpPacket"] = json!("AQIDBAUGBwgJCgsMDQ4PEA");
    refused(&world, &id, &junk, "ilpPacket does not decode", 5).await;

    // None of them reached the payer or the database; the right one goes through.
    assert_eq!(world.payer.count("PUT", &format!("/quotes/{id}")), 0);
    let (responses,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM quoteResponse")
        .fetch_one(world.quotes_pool())
        .await
        .unwrap();
    assert_eq!(responses, 0);
    world.put_quote(&id, PAYEE, PAYER, &good, 200).await;
    world.payer.wait_for("PUT", &format!("/quotes/{id}")).await;
    world
        .wait_for_metric(r#"moja_qs_error_callbacks_total{code="3100"} 5"#)
        .await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ilp_v1_packets_are_checked_when_configured() {
    let setup = Setup {
        ilp_version: "v1",
        ..Setup::default()
    };
    let world = world_with(setup, |_| async {}).await;
    let (id, request) = quote(&world, "12.34").await;
    let good = world.response_for(&request, "12.34", "USD");
    let mut wrong = good.clone();
    wrong["transferAmount"]["amount"] = json!("12.35");
    refused(
        &world,
        &id,
        &wrong,
        "ilpPacket amount 1234 is not transferAmount 12.35 USD",
        1,
    )
    .await;
    world.put_quote(&id, PAYEE, PAYER, &good, 200).await;
    world.payer.wait_for("PUT", &format!("/quotes/{id}")).await;

    // An ILPv4 packet is not what this scheme uses.
    let (id, request) = quote(&world, "5").await;
    let v4 = fspiop::ilp::Ilp::new(fspiop::ilp::IlpVersion::V4, "payee-secret");
    let mut response = world.response_for(&request, "5", "USD");
    let terms = v4.quote_response_terms(&request, &response).unwrap();
    response["ilpPacket"] = json!(terms.ilp_packet);
    response["condition"] = json!(terms.condition);
    refused(&world, &id, &response, "ilpPacket does not decode", 1).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ilp_check_can_be_turned_off() {
    let setup = Setup {
        ilp_check: false,
        ..Setup::default()
    };
    let world = world_with(setup, |_| async {}).await;
    let (id, request) = quote(&world, "100").await;
    let mut disagreeing = world.response_for(&request, "100", "USD");
    disagreeing["transferAmount"]["amount"] = json!("101");
    world.put_quote(&id, PAYEE, PAYER, &disagreeing, 200).await;
    let put = world.payer.wait_for("PUT", &format!("/quotes/{id}")).await;
    assert_eq!(put.json()["transferAmount"]["amount"], "101");
    world.stop().await;
}
