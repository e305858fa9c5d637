//! Pass-through mode: every request relayed, nothing stored, no quotes database at all; the
//! participant and ILP checks still apply.

use serde_json::json;

use crate::helpers::{
    database_server_url, fspiop_headers, new_id, quote_request, world_with, Setup, PAYEE, PAYER,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_through_mode_relays_end_to_end_and_stores_nothing() {
    let setup = Setup {
        mode: quoting_service::Mode::PassThrough,
        ..Setup::default()
    };
    let world = world_with(setup, |_| async {}).await;
    assert!(world.quotes.is_none(), "no quotes database is connected");

    let id = new_id();
    let request = quote_request(&id, "42", "USD");
    world.post_quote(PAYER, PAYEE, &request, 202).await;
    let post = world.payee.wait_for("POST", "/quotes").await;
    assert_eq!(post.json(), request);
    let response = world.response_for(&request, "42", "USD");
    world.put_quote(&id, PAYEE, PAYER, &response, 200).await;
    let put = world.payer.wait_for("PUT", &format!("/quotes/{id}")).await;
    assert_eq!(put.json(), response);

    let (status, _) = world
        .send(
            "GET",
            &format!("/quotes/{id}"),
            &fspiop_headers("GET", PAYER, PAYEE),
            None,
        )
        .await;
    assert_eq!(status, 202);
    world.payee.wait_for("GET", &format!("/quotes/{id}")).await;

    // No duplicate detection: a modified resend is forwarded like any request.
    let mut modified = request.clone();
    modified["amount"]["amount"] = json!("43");
    world.post_quote(PAYER, PAYEE, &modified, 202).await;
    let posts = world.payee.wait_for_n("POST", "/quotes", 2).await;
    assert_eq!(posts[1].json()["amount"]["amount"], "43");

    // A response to a quote the switch never saw is relayed (nothing to compare it with).
    let unknown = new_id();
    let other = quote_request(&unknown, "1", "USD");
    world
        .put_quote(
            &unknown,
            PAYEE,
            PAYER,
            &world.response_for(&other, "1", "USD"),
            200,
        )
        .await;
    world
        .payer
        .wait_for("PUT", &format!("/quotes/{unknown}"))
        .await;

    // Errors are relayed.
    let error = json!({"errorInformation": {"errorCode": "5100", "errorDescription": "Generic Payee rejection"}});
    let bytes = error.to_string().into_bytes();
    let (status, _) = world
        .send(
            "PUT",
            &format!("/quotes/{id}/error"),
            &fspiop_headers("PUT", PAYEE, PAYER),
            Some(bytes),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        world
            .payer
            .wait_for("PUT", &format!("/quotes/{id}/error"))
            .await
            .json(),
        error
    );

    // The ILP check still applies.
    let mut disagreeing = response.clone();
    disagreeing["transferAmount"]["amount"] = json!("41");
    world.put_quote(&id, PAYEE, PAYER, &disagreeing, 200).await;
    let refused = world
        .payee
        .wait_for("PUT", &format!("/quotes/{id}/error"))
        .await;
    assert_eq!(refused.error_code(), "3100");

    // The quotes database was never created.
    let server = sqlx::MySqlPool::connect(&database_server_url())
        .await
        .unwrap();
    let name = world.quotes_database_name();
    let (found,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?")
            .bind(&name)
            .fetch_one(&server)
            .await
            .unwrap();
    assert_eq!(found, 0, "{name} exists");
    server.close().await;
    world.stop().await;
}
