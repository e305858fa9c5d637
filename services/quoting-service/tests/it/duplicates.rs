//! Persistent mode's duplicate detection: an identical resend is relayed again, a modified
//! one is 3106; responses must answer a stored quote between the same DFSPs; concurrent
//! quotes are batched and all stored.

use serde_json::json;

use crate::helpers::{
    add_participant, fspiop_headers, new_id, quote_request, world, world_with, Dfsp, HUB, PAYEE,
    PAYER,
};

async fn count(pool: &sqlx::MySqlPool, sql: &str, id: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).bind(id).fetch_one(pool).await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_quote_is_forwarded_again_and_a_modified_one_is_3106() {
    let world = world().await;
    let id = new_id();
    let request = quote_request(&id, "100", "USD");
    world.post_quote(PAYER, PAYEE, &request, 202).await;
    world.payee.wait_for("POST", "/quotes").await;

    // The same request, re-serialised with other spacing and member order: identical.
    let mut reordered = serde_json::Map::new();
    for (key, value) in request.as_object().unwrap().iter().rev() {
        reordered.insert(key.clone(), value.clone());
    }
    let bytes = serde_json::to_vec_pretty(&reordered).unwrap();
    let (status, _) = world
        .send(
            "POST",
            "/quotes",
            &fspiop_headers("POST", PAYER, PAYEE),
            Some(bytes.clone()),
        )
        .await;
    assert_eq!(status, 202);
    let posts = world.payee.wait_for_n("POST", "/quotes", 2).await;
    assert_eq!(posts[1].body, bytes, "the resend itself is forwarded");

    // Same quote id, another amount: modified.
    let mut modified = request.clone();
    modified["amount"]["amount"] = json!("101");
    world.post_quote(PAYER, PAYEE, &modified, 202).await;
    let error = world
        .payer
        .wait_for("PUT", &format!("/quotes/{id}/error"))
        .await;
    assert_eq!(error.error_code(), "3106");
    assert_eq!(
        error.error_description(),
        format!("Modified request - Quote {id} is a duplicate but hashes dont match")
    );
    assert_eq!(error.header("fspiop-source"), Some(HUB));
    assert_eq!(
        world.payee.count("POST", "/quotes"),
        2,
        "a modified request is not forwarded"
    );
    assert_eq!(
        count(
            world.quotes_pool(),
            "SELECT COUNT(*) FROM quote WHERE quoteId = ?",
            &id
        )
        .await,
        1
    );
    let (amount,): (String,) =
        sqlx::query_as("SELECT CAST(amount AS CHAR) FROM quote WHERE quoteId = ?")
            .bind(&id)
            .fetch_one(world.quotes_pool())
            .await
            .unwrap();
    assert_eq!(amount, "100.0000", "the original is kept");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_response_is_relayed_again_and_a_modified_one_is_3106() {
    let world = world().await;
    let id = new_id();
    let request = quote_request(&id, "100", "USD");
    world.post_quote(PAYER, PAYEE, &request, 202).await;
    world.payee.wait_for("POST", "/quotes").await;
    let response = world.response_for(&request, "100", "USD");
    world.put_quote(&id, PAYEE, PAYER, &response, 200).await;
    world.payer.wait_for("PUT", &format!("/quotes/{id}")).await;
    world.put_quote(&id, PAYEE, PAYER, &response, 200).await;
    world
        .payer
        .wait_for_n("PUT", &format!("/quotes/{id}"), 2)
        .await;

    // Other terms for the same quote (a valid packet for them): modified.
    let other = world.response_for(&request, "99", "USD");
    world.put_quote(&id, PAYEE, PAYER, &other, 200).await;
    let error = world
        .payee
        .wait_for("PUT", &format!("/quotes/{id}/error"))
        .await;
    assert_eq!(error.error_code(), "3106");
    assert_eq!(
        error.error_description(),
        format!("Modified request - Update for quote {id} is a duplicate but hashes dont match")
    );
    assert_eq!(world.payer.count("PUT", &format!("/quotes/{id}")), 2);
    let (amount,): (String,) =
        sqlx::query_as("SELECT CAST(transferAmount AS CHAR) FROM quoteResponse WHERE quoteId = ?")
            .bind(&id)
            .fetch_one(world.quotes_pool())
            .await
            .unwrap();
    assert_eq!(amount, "100.0000");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_must_answer_a_stored_quote_between_the_same_dfsps() {
    let other = Dfsp::start("otherfsp").await;
    let other_base = other.base.clone();
    let world = world_with(Default::default(), |ledger| async move {
        add_participant(
            &ledger,
            "otherfsp",
            true,
            &[("USD", true)],
            Some(&other_base),
        )
        .await;
    })
    .await;

    // A response to a quote nobody asked for: 3205.
    let unknown = new_id();
    let request = quote_request(&unknown, "5", "USD");
    let response = world.response_for(&request, "5", "USD");
    world
        .put_quote(&unknown, PAYEE, PAYER, &response, 200)
        .await;
    let error = world
        .payee
        .wait_for("PUT", &format!("/quotes/{unknown}/error"))
        .await;
    assert_eq!(error.error_code(), "3205");
    assert_eq!(
        error.error_description(),
        format!("Quote ID not found - quote {unknown} was not requested through this switch")
    );

    // A response from a DFSP the quote was not sent to: 3100, to that DFSP.
    let id = new_id();
    let request = quote_request(&id, "5", "USD");
    world.post_quote(PAYER, PAYEE, &request, 202).await;
    world.payee.wait_for("POST", "/quotes").await;
    let response = world.response_for(&request, "5", "USD");
    world
        .put_quote(&id, "otherfsp", PAYER, &response, 200)
        .await;
    let error = other.wait_for("PUT", &format!("/quotes/{id}/error")).await;
    assert_eq!(error.error_code(), "3100");
    assert!(
        error
            .error_description()
            .ends_with("was requested by payerfsp from payeefsp"),
        "{}",
        error.error_description()
    );

    // A packet for another transaction than the quote's: 3100.
    let mut foreign = request.clone();
    foreign["transactionId"] = json!(new_id());
    let response = world.response_for(&foreign, "5", "USD");
    world.put_quote(&id, PAYEE, PAYER, &response, 200).await;
    let error = world
        .payee
        .wait_for("PUT", &format!("/quotes/{id}/error"))
        .await;
    assert_eq!(error.error_code(), "3100");
    assert!(
        error.error_description().contains("transactionId"),
        "{}",
        error.error_description()
    );
    assert_eq!(world.payer.count("PUT", &format!("/quotes/{id}")), 0);
    assert_eq!(
        count(
            world.quotes_pool(),
            "SELECT COUNT(*) FROM quoteResponse WHERE quoteId = ?",
            &id
        )
        .await,
        0
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_quotes_are_batched_and_all_stored() {
    let world = world().await;
    let quotes = 300;
    let ids: Vec<String> = (0..quotes).map(|_| new_id()).collect();
    let mut sends = tokio::task::JoinSet::new();
    for id in &ids {
        let (api, body) = (world.api.clone(), quote_request(id, "1", "USD"));
        sends.spawn(async move { api.post_quote(PAYER, PAYEE, &body, 202).await });
    }
    sends.join_all().await;
    world.payee.wait_for_n("POST", "/quotes", quotes).await;
    let (stored,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM quote")
        .fetch_one(world.quotes_pool())
        .await
        .unwrap();
    assert_eq!(stored, i64::try_from(quotes).unwrap());
    let metrics = world.metrics().await;
    let batches: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("moja_qs_store_write_seconds_count "))
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        metrics.contains(&format!("moja_qs_store_write_rows_total {quotes}\n")),
        "{metrics}"
    );
    assert!((1..=quotes as u64).contains(&batches));
    eprintln!("{quotes} quotes stored in {batches} batches");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resends_keep_exactly_one_version() {
    let world = world().await;
    let id = new_id();
    let first = quote_request(&id, "7", "USD");
    let mut second = first.clone();
    second["amount"]["amount"] = json!("8");
    let copies = 6;
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..copies * 2 {
        let api = world.api.clone();
        let body = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        sends.spawn(async move { api.post_quote(PAYER, PAYEE, &body, 202).await });
    }
    sends.join_all().await;
    // Whichever version was stored first is forwarded every time; the other is 3106 every time.
    let forwarded = world.payee.wait_for_n("POST", "/quotes", copies).await;
    let errors = world
        .payer
        .wait_for_n("PUT", &format!("/quotes/{id}/error"), copies)
        .await;
    assert!(errors.iter().all(|e| e.error_code() == "3106"));
    world
        .wait_for_metric(&format!(
            r#"moja_qs_quotes_total{{action="post",outcome="rejected"}} {copies}"#
        ))
        .await;
    world
        .wait_for_metric(&format!(
            r#"moja_qs_quotes_total{{action="post",outcome="forwarded"}} {copies}"#
        ))
        .await;
    let (amount,): (String,) =
        sqlx::query_as("SELECT CAST(amount AS CHAR) FROM quote WHERE quoteId = ?")
            .bind(&id)
            .fetch_one(world.quotes_pool())
            .await
            .unwrap();
    let stored_amount = amount.trim_end_matches(".0000");
    assert!(
        forwarded
            .iter()
            .all(|p| p.json()["amount"]["amount"] == stored_amount),
        "{amount}"
    );
    world.stop().await;
}
