//! The payer and the payee must exist, be active and hold an active POSITION account in the
//! quote's currency: else 3202 (payer) or 3203 (payee), as an error callback to the payer.

use serde_json::json;

use crate::helpers::{
    add_participant, fspiop_headers, new_id, quote_request, world_with, Dfsp, HUB, PAYEE, PAYER,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payers_that_cannot_pay_are_3202() {
    let sleepy = Dfsp::start("sleepyfsp").await;
    let closed = Dfsp::start("closedfsp").await;
    let (sleepy_base, closed_base) = (sleepy.base.clone(), closed.base.clone());
    let world = world_with(Default::default(), |ledger| async move {
        add_participant(
            &ledger,
            "sleepyfsp",
            false,
            &[("USD", true)],
            Some(&sleepy_base),
        )
        .await;
        add_participant(
            &ledger,
            "closedfsp",
            true,
            &[("USD", false)],
            Some(&closed_base),
        )
        .await;
    })
    .await;

    let cases = [
        (&sleepy, "USD", "participant 'sleepyfsp' is not active"),
        (
            &closed,
            "USD",
            "participant 'closedfsp' has no active POSITION account in USD",
        ),
        (
            &world.payer,
            "EUR",
            "participant 'payerfsp' has no active POSITION account in EUR",
        ),
    ];
    for (payer, currency, detail) in cases {
        let id = new_id();
        let mut request = quote_request(&id, "10", currency);
        request["payer"]["partyIdInfo"]["fspId"] = json!(payer.name);
        world.post_quote(&payer.name, PAYEE, &request, 202).await;
        let error = payer.wait_for("PUT", &format!("/quotes/{id}/error")).await;
        assert_eq!(error.error_code(), "3202", "{detail}");
        assert_eq!(
            error.error_description(),
            format!("Payer FSP ID not found - {detail}")
        );
        assert_eq!(error.header("fspiop-source"), Some(HUB));
        assert_eq!(
            error.header("fspiop-destination"),
            Some(payer.name.as_str())
        );
    }

    // A payer the switch does not know cannot even be told; nothing reaches the payee.
    world
        .post_quote(
            "ghostfsp",
            PAYEE,
            &quote_request(&new_id(), "10", "USD"),
            202,
        )
        .await;
    world
        .wait_for_metric(r#"moja_qs_quotes_total{action="post",outcome="failed"} 1"#)
        .await;
    world
        .wait_for_metric(r#"moja_qs_error_callbacks_total{code="3202"} 4"#)
        .await;

    // A payer.partyIdInfo.fspId naming another DFSP must be able to pay too.
    let id = new_id();
    let mut request = quote_request(&id, "10", "USD");
    request["payer"]["partyIdInfo"]["fspId"] = json!("sleepyfsp");
    world.post_quote(PAYER, PAYEE, &request, 202).await;
    let error = world
        .payer
        .wait_for("PUT", &format!("/quotes/{id}/error"))
        .await;
    assert_eq!(
        error.error_description(),
        "Payer FSP ID not found - participant 'sleepyfsp' is not active"
    );

    assert_eq!(world.payee.count("POST", "/quotes"), 0);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payees_that_cannot_be_paid_are_3203() {
    let world = world_with(Default::default(), |ledger| async move {
        add_participant(&ledger, "sleepyfsp", false, &[("USD", true)], Some("http://127.0.0.1:9/unused")).await;
        add_participant(&ledger, "closedfsp", true, &[("USD", false)], Some("http://127.0.0.1:9/unused")).await;
        // The payer can pay euros; the payee cannot take them.
        sqlx::query(
            "INSERT INTO participantCurrency (participantId, currencyId, ledgerAccountTypeId, isActive, createdBy) \
             SELECT participantId, 'EUR', 1, 1, 'test' FROM participant WHERE name = 'payerfsp'",
        )
        .execute(&ledger)
        .await
        .unwrap();
    })
    .await;

    let cases = [
        ("ghostfsp", "USD", "participant 'ghostfsp' does not exist"),
        ("sleepyfsp", "USD", "participant 'sleepyfsp' is not active"),
        (
            "closedfsp",
            "USD",
            "participant 'closedfsp' has no active POSITION account in USD",
        ),
        (
            PAYEE,
            "EUR",
            "participant 'payeefsp' has no active POSITION account in EUR",
        ),
    ];
    for (payee, currency, detail) in cases {
        let id = new_id();
        let mut request = quote_request(&id, "10", currency);
        request["payee"]["partyIdInfo"]["fspId"] = json!(payee);
        world.post_quote(PAYER, payee, &request, 202).await;
        let error = world
            .payer
            .wait_for("PUT", &format!("/quotes/{id}/error"))
            .await;
        assert_eq!(error.error_code(), "3203", "{detail}");
        assert_eq!(
            error.error_description(),
            format!("Payee FSP ID not found - {detail}")
        );
    }

    // payee.partyIdInfo.fspId naming an unknown DFSP while routed to a good one.
    let id = new_id();
    let mut request = quote_request(&id, "10", "USD");
    request["payee"]["partyIdInfo"]["fspId"] = json!("ghostfsp");
    world.post_quote(PAYER, PAYEE, &request, 202).await;
    let error = world
        .payer
        .wait_for("PUT", &format!("/quotes/{id}/error"))
        .await;
    assert_eq!(
        error.error_description(),
        "Payee FSP ID not found - participant 'ghostfsp' does not exist"
    );
    assert_eq!(world.payee.count("POST", "/quotes"), 0);

    // The payee answering in a currency it cannot take is refused too (to the payee).
    let id = new_id();
    let request = quote_request(&id, "10", "USD");
    world.post_quote(PAYER, PAYEE, &request, 202).await;
    world.payee.wait_for("POST", "/quotes").await;
    let response = world.response_for(&request, "10", "EUR");
    world.put_quote(&id, PAYEE, PAYER, &response, 200).await;
    let error = world
        .payee
        .wait_for("PUT", &format!("/quotes/{id}/error"))
        .await;
    assert_eq!(error.error_code(), "3203");
    assert_eq!(world.payer.count("PUT", &format!("/quotes/{id}")), 0);
    world.stop().await;
}

/// An error the hub originates speaks the version of the request it answers: a DFSP on 2.0
/// hears 2.0, on 1.0 hears 1.0 (not a fixed default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_errors_answer_in_the_requesters_version() {
    let world = world_with(Default::default(), |_| async {}).await;
    for (content, accept) in [("2.0", "2"), ("1.0", "1"), ("1.1", "1")] {
        let id = new_id();
        let request = quote_request(&id, "10", "EUR");
        let headers: Vec<(String, String)> = fspiop_headers("POST", PAYER, PAYEE)
            .into_iter()
            .map(|(name, value)| match name.as_str() {
                "content-type" => (
                    name,
                    format!("application/vnd.interoperability.quotes+json;version={content}"),
                ),
                "accept" => (
                    name,
                    format!("application/vnd.interoperability.quotes+json;version={accept}"),
                ),
                _ => (name, value),
            })
            .collect();
        let (status, body) = world
            .api
            .send(
                "POST",
                "/quotes",
                &headers,
                Some(request.to_string().into_bytes()),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        let error = world
            .payer
            .wait_for("PUT", &format!("/quotes/{id}/error"))
            .await;
        assert_eq!(error.error_code(), "3202");
        assert_eq!(
            error.header("content-type"),
            Some(
                format!("application/vnd.interoperability.quotes+json;version={content}").as_str()
            )
        );
        assert_eq!(error.header("accept"), None);
    }
    world.stop().await;
}
