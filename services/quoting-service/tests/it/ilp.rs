//! The ILP packet of a quote response must agree with the response (amount scaled by the
//! currency, currency, expiry, condition): else 3100 to the payee and nothing to the payer.
//! Both ILPv1 and ILPv4 by default (each packet decoded by its type byte), one of them by
//! configuration, and the check can be turned off.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use fspiop::ilp::{Ilp, IlpVersion, PaymentV1};
use serde_json::{json, Value};

use crate::helpers::{new_id, quote_request, world_with, Setup, World, PAYEE, PAYER};

/// Posts a quote and waits until the payee has it; returns the request.
async fn quote(world: &World, amount: &str) -> (String, Value) {
    let id = new_id();
    let request = quote_request(&id, amount, "USD");
    // This quote's relay, not an earlier one's: the answer must not overtake it.
    let before = world.payee.count("POST", "/quotes");
    world.post_quote(PAYER, PAYEE, &request, 202).await;
    world.payee.wait_for_n("POST", "/quotes", before + 1).await;
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

    // None of them reached the payer or the database, but the payer was told of each at once
    // (it would otherwise wait out its own timeout for an answer the switch refused).
    assert_eq!(world.payer.count("PUT", &format!("/quotes/{id}")), 0);
    let told = world
        .payer
        .wait_for_n("PUT", &format!("/quotes/{id}/error"), 5)
        .await;
    for error in &told {
        assert_eq!(error.error_code(), "3100");
        assert!(
            error
                .error_description()
                .contains("quote response of payeefsp refused by the switch: ilpPacket"),
            "{}",
            error.error_description()
        );
        assert_eq!(error.header("fspiop-source"), Some("Hub"));
    }
    let (responses,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM quoteResponse")
        .fetch_one(world.quotes_pool())
        .await
        .unwrap();
    assert_eq!(responses, 0);
    world.put_quote(&id, PAYEE, PAYER, &good, 200).await;
    world.payer.wait_for("PUT", &format!("/quotes/{id}")).await;
    world
        .wait_for_metric(r#"moja_qs_error_callbacks_total{code="3100"} 10"#)
        .await;
    world.stop().await;
}

/// The default switch takes a v1 and a v4 packet alike and checks each by what it carries;
/// Mojaloop's SDK (FSPIOP 1.x) makes v1 Transaction objects without `expiration`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_and_v4_packets_are_both_accepted_by_default() {
    let world = world_with(Setup::default(), |_| async {}).await;
    for version in [IlpVersion::V4, IlpVersion::V1] {
        let (id, request) = quote(&world, "12.34").await;
        let payee = Ilp::new(version, "payee-secret");
        let mut response = world.response_for(&request, "12.34", "USD");
        let terms = payee.quote_response_terms(&request, &response).unwrap();
        response["ilpPacket"] = json!(terms.ilp_packet);
        response["condition"] = json!(terms.condition);
        world.put_quote(&id, PAYEE, PAYER, &response, 200).await;
        let put = world.payer.wait_for("PUT", &format!("/quotes/{id}")).await;
        assert_eq!(put.json()["ilpPacket"], terms.ilp_packet);
    }

    // As the SDK makes it: a v1 packet whose Transaction object has no expiration.
    let (id, request) = quote(&world, "7").await;
    let response = world.response_for(&request, "7", "USD");
    let sdk_v1 = |amount: u64| {
        let mut tx = request.clone();
        for key in ["amountType", "amount", "expiration"] {
            tx.as_object_mut().unwrap().remove(key);
        }
        tx["amount"] = json!({"amount": "7", "currency": "USD"});
        let data = URL_SAFE_NO_PAD.encode(tx.to_string()).into_bytes();
        let packet = PaymentV1 {
            amount,
            account: "g.payeefsp.msisdn.123".into(),
            data,
        };
        URL_SAFE_NO_PAD.encode(packet.encode())
    };
    // A transfer amount its Transaction object does not carry is refused; the packet's own
    // amount field, which the SDK computes in floating point and garbles, is not compared.
    let mut wrong = response.clone();
    wrong["ilpPacket"] = json!(sdk_v1(700));
    wrong["transferAmount"]["amount"] = json!("7.01");
    refused(
        &world,
        &id,
        &wrong,
        "ilpPacket transaction amount \"7\" is not transferAmount 7.01",
        1,
    )
    .await;
    let mut good = response.clone();
    good["ilpPacket"] = json!(sdk_v1(7_000_000_000_001));
    world.put_quote(&id, PAYEE, PAYER, &good, 200).await;
    world.payer.wait_for("PUT", &format!("/quotes/{id}")).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ilp_version_can_be_required() {
    let setup = Setup {
        ilp_versions: &["v1"],
        payee_ilp: "v1",
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
        "ilpPacket transaction amount \"12.34\" is not transferAmount 12.35",
        1,
    )
    .await;
    world.put_quote(&id, PAYEE, PAYER, &good, 200).await;
    world.payer.wait_for("PUT", &format!("/quotes/{id}")).await;

    // An ILPv4 packet is not what this scheme uses.
    let (id, request) = quote(&world, "5").await;
    let v4 = Ilp::new(IlpVersion::V4, "payee-secret");
    let mut response = world.response_for(&request, "5", "USD");
    let terms = v4.quote_response_terms(&request, &response).unwrap();
    response["ilpPacket"] = json!(terms.ilp_packet);
    response["condition"] = json!(terms.condition);
    refused(
        &world,
        &id,
        &response,
        "packet has type 12 (ILP v4), which this switch does not accept",
        1,
    )
    .await;
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
