//! The deployment checked against what the guide promises (`mojaloop validate`).

use super::*;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// End-to-end test payments whose latency is averaged.
    #[arg(long, default_value_t = 5)]
    transactions: usize,
    #[command(flatten)]
    layout: Layout,
    #[command(flatten)]
    sim: Sim,
    #[command(flatten)]
    switch: Switch,
}

/// What `validate` found out about JWS.
pub(super) enum JwsEvidence {
    Active(String),
    Off(String),
}

pub(super) enum MtlsEvidence {
    Active(String),
    Off(String),
}

/// Without `--tls-dir`: off when the ML API Adapter answers plain HTTP. With it: every
/// listener refuses a handshake without a client certificate, the payer DFSP's certificate is
/// accepted, and a request whose `FSPIOP-Source` is another DFSP is refused with 3100 over it.
pub(super) async fn mtls_evidence(switch: &Switch, http: &Http) -> Result<MtlsEvidence, String> {
    let health = |base: &str| format!("{}/health", base.trim_end_matches('/'));
    let Some(files) = switch.tls() else {
        return match http.get(&health(&switch.ml_api_adapter_url)).await {
            Ok(_) => Ok(MtlsEvidence::Off(
                "the switch's listeners are plain HTTP".to_string(),
            )),
            Err(error) => Err(format!(
                "not checked: {error:#} (give --tls-dir DIR when the switch requires client certificates)"
            )),
        };
    };
    let timeout = Duration::from_millis(switch.request_timeout_ms);
    let anonymous =
        service_kit::tls::anonymous_client_config(&files.ca()).map_err(|e| e.to_string())?;
    let listeners = [
        &switch.als_url,
        &switch.als_admin_url,
        &switch.oracle_url,
        &switch.quoting_service_url,
        &switch.ml_api_adapter_url,
        &switch.central_ledger_url,
        &switch.central_settlement_url,
        &switch.transaction_requests_url,
    ];
    let mut alerts = std::collections::BTreeSet::new();
    for base in listeners {
        // host:port of the URL
        let address = base
            .split_once("://")
            .map_or(base.as_str(), |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default();
        match service_kit::tls::probe(address, anonymous.clone(), timeout).await {
            service_kit::tls::Probe::Refused(why) => {
                alerts.insert(why);
            }
            service_kit::tls::Probe::Answered(status) => {
                return Err(format!(
                    "{base} answered {status:?} without a client certificate"
                ))
            }
            service_kit::tls::Probe::Unreachable(why) => return Err(why),
        }
    }
    let (payer, other) = (layout::name(1), layout::name(2));
    let tls = files.hub_tls(crate::certs::HUB);
    let (cert, key) = files.pair(&payer, service_kit::pki::Usage::Client);
    let dfsp_tls = service_kit::tls::TlsConfig {
        client_cert_path: cert.display().to_string(),
        client_key_path: key.display().to_string(),
        ..tls
    };
    let dfsp = crate::certs::https_client(&dfsp_tls, switch.request_timeout_ms)
        .map_err(|e| format!("{payer}'s certificate: {e:#}"))?;
    let url = health(&switch.ml_api_adapter_url);
    match dfsp.get(&url).send().await {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => {
            return Err(format!(
                "GET {url} with {payer}'s certificate: {}",
                response.status()
            ))
        }
        Err(error) => return Err(format!("GET {url} with {payer}'s certificate: {error}")),
    }
    let url = format!(
        "{}/quotes",
        switch.quoting_service_url.trim_end_matches('/')
    );
    let response = dfsp
        .post(&url)
        .header(
            "content-type",
            "application/vnd.interoperability.quotes+json;version=1.1",
        )
        .header(
            "accept",
            "application/vnd.interoperability.quotes+json;version=1",
        )
        .header(
            "date",
            fspiop::datetime::format_http_date(service_kit::edge::now_ms()),
        )
        .header("fspiop-source", other.as_str())
        .body("{}")
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body
        .pointer("/errorInformation/errorCode")
        .and_then(Value::as_str)
        .unwrap_or("none");
    if (status, code) != (400, "3100") {
        return Err(format!(
            "POST /quotes as {other} with {payer}'s certificate got {status} {code}, not 400 3100"
        ));
    }
    let alerts: Vec<String> = alerts.into_iter().collect();
    Ok(MtlsEvidence::Active(format!(
        "a handshake without a client certificate was refused by all {} listeners ({}); {payer}'s certificate was accepted, and FSPIOP-Source {other} over it refused with 3100",
        listeners.len(),
        alerts.join("; ")
    )))
}

/// Asks the Quoting Service to take an unsigned `POST /quotes` (refused with 3105 when it
/// validates signatures; a validation error of the empty body otherwise), and reads what the
/// simulators verified since `before` (the test payments' forwarded requests and callbacks).
pub(super) async fn jws_evidence(
    http: &Http,
    switch: &Switch,
    sim: &RemoteSimulator,
    before: Option<dfsp_sim::SignatureCounts>,
) -> Result<JwsEvidence, String> {
    let url = format!(
        "{}/quotes",
        switch.quoting_service_url.trim_end_matches('/')
    );
    let response = http
        .client
        .post(&url)
        .header(
            "content-type",
            "application/vnd.interoperability.quotes+json;version=1.1",
        )
        .header(
            "accept",
            "application/vnd.interoperability.quotes+json;version=1",
        )
        .header(
            "date",
            fspiop::datetime::format_http_date(service_kit::edge::now_ms()),
        )
        .header("fspiop-source", layout::name(1))
        .body("{}")
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body
        .pointer("/errorInformation/errorCode")
        .and_then(Value::as_str)
        .unwrap_or("none")
        .to_string();
    let after = sim.signature_counts().await.ok();
    if code != "3105" {
        return Ok(JwsEvidence::Off(format!(
            "an unsigned POST /quotes got {status} {code}, not 3105"
        )));
    }
    let mut line = "an unsigned POST /quotes was refused with 3105".to_string();
    match (before, after) {
        (Some(before), Some(after)) if after.enabled => {
            let verified = after.verified.saturating_sub(before.verified);
            let refused = after.refused.saturating_sub(before.refused);
            if refused > 0 {
                return Err(format!(
                    "{line}, but the simulated DFSPs refused {refused} signature(s) from the switch"
                ));
            }
            line.push_str(&format!(
                "; the simulated DFSPs verified {verified} signed requests and callbacks from the switch, refused none"
            ));
        }
        _ => {
            line.push_str("; the simulated DFSPs do not check signatures (mojaloop sim --jws-dir)")
        }
    }
    Ok(JwsEvidence::Active(line))
}

/// `mojaloop validate`.
pub fn validate(args: ValidateArgs) -> Result<Verdict> {
    let count = args.layout.dfsps;
    layout::check_count(count).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(count >= 2, "validation needs a payer and a payee DFSP");
    let args = ValidateArgs {
        switch: args.switch.secured(),
        ..args
    };
    runtime()?.block_on(async move {
        let http = args.switch.http()?;
        let mut failures: Vec<String> = Vec::new();
        heading("Mojaloop Deployment Validation");

        println!("CORE SERVICES:");
        let services = [
            ("Account Lookup", &args.switch.als_url),
            ("Account Lookup admin", &args.switch.als_admin_url),
            ("MSISDN Oracle", &args.switch.oracle_url),
            ("Quoting Service", &args.switch.quoting_service_url),
            ("ML API Adapter", &args.switch.ml_api_adapter_url),
            ("Central Ledger", &args.switch.central_ledger_url),
            ("Central Settlement", &args.switch.central_settlement_url),
            (
                "Transaction Requests Service",
                &args.switch.transaction_requests_url,
            ),
        ];
        for (label, url) in services {
            let url = format!("{}/health", url.trim_end_matches('/'));
            match http.get(&url).await {
                Ok((200, body)) => println!(
                    "✅ {label}: {} ({url})",
                    body.get("status").and_then(Value::as_str).unwrap_or("OK")
                ),
                Ok((status, body)) => {
                    println!("❌ {label}: {status} {body} ({url})");
                    failures.push(format!("{label} unhealthy"));
                }
                Err(error) => {
                    println!("❌ {label}: {error:#}");
                    failures.push(format!("{label} unreachable"));
                }
            }
        }

        println!();
        println!("DFSPS:");
        let sim = args.switch.simulator(&args.sim)?;
        let mut silent = Vec::new();
        let mut unprovisioned = Vec::new();
        for index in 1..=count {
            let name = layout::name(index);
            if !sim.dfsp_healthy(&name).await {
                silent.push(name.clone());
            }
            let member = layout::members(count)
                .into_iter()
                .nth(index - 1)
                .with_context(|| format!("{name} is not in the layout"))?;
            if !check_participant(&http, &args.switch, &member)
                .await
                .problems
                .is_empty()
            {
                unprovisioned.push(name);
            }
        }
        if silent.is_empty() {
            println!("✅ All {count} DFSPs responding ({})", sim.base_url());
        } else {
            println!("❌ Not responding: {}", silent.join(", "));
            failures.push("DFSPs not responding".into());
        }
        if unprovisioned.is_empty() {
            println!("✅ All {count} DFSPs provisioned (accounts, limits, endpoints, MSISDNs)");
        } else {
            println!("❌ Not fully provisioned: {}", unprovisioned.join(", "));
            failures.push("DFSPs not provisioned".into());
        }

        let signatures_before = sim.signature_counts().await.ok();
        // Test payments: payer i pays payee i + half, round-robin over the payers.
        let payers = count.div_ceil(2);
        let payees = count - payers;
        let mut totals = Vec::new();
        let mut first_error = None;
        for n in 0..args.transactions.max(1) {
            let payer = n % payers + 1;
            let payee = payers + n % payees.max(1) + 1;
            let options = dfsp_sim::PayOptions {
                payer_msisdn: Some(layout::test_msisdn(payer)),
                ..Default::default()
            };
            let outcome = sim
                .pay(
                    &layout::name(payer),
                    &layout::test_msisdn(payee.min(count)),
                    "1",
                    &options,
                )
                .await;
            match outcome {
                Ok(report) => totals.push(report.total()),
                Err(error) => {
                    first_error.get_or_insert(format!(
                        "{} → {}: {}",
                        layout::name(payer),
                        layout::name(payee),
                        describe(&error)
                    ));
                }
            }
        }
        // One payment whose payee answers with a fulfilment that is not the condition's
        // preimage: the switch must refuse it (and give the payer its money back).
        let wrong_fulfilment = sim
            .pay(
                &layout::name(1),
                &layout::test_msisdn((payers + 1).min(count)),
                "1",
                &dfsp_sim::PayOptions {
                    payer_msisdn: Some(layout::test_msisdn(1)),
                    wrong_fulfilment: true,
                    ..Default::default()
                },
            )
            .await;

        println!();
        println!("SECURITY:");
        match mtls_evidence(&args.switch, &http).await {
            Ok(MtlsEvidence::Active(line)) => println!("✅ mTLS: {line}"),
            Ok(MtlsEvidence::Off(line)) => println!("⚪ mTLS: off ({line})"),
            Err(line) => {
                println!("❌ mTLS: {line}");
                failures.push("mTLS checks failed".into());
            }
        }
        match jws_evidence(&http, &args.switch, &sim, signatures_before).await {
            Ok(JwsEvidence::Active(line)) => println!("✅ JWS: {line}"),
            Ok(JwsEvidence::Off(line)) => println!("⚪ JWS: off ({line})"),
            Err(line) => {
                println!("❌ JWS: {line}");
                failures.push("JWS checks failed".into());
            }
        }
        match (&wrong_fulfilment, totals.len()) {
            (_, 0) => println!("❌ ILP: no test transfer completed"),
            (Err(PaymentError::Fspiop { phase: Phase::Transfer, code, .. }), committed) => println!(
                "✅ ILP: the fulfilments of {committed} test transfers matched their conditions; a wrong fulfilment was refused by the switch (FSPIOP error {code})"
            ),
            (Ok(report), _) => {
                println!(
                    "❌ ILP: a wrong fulfilment was accepted (transfer {} {})",
                    report.transfer_id, report.transfer_state
                );
                failures.push("a wrong fulfilment was accepted".into());
            }
            (Err(error), _) => {
                println!("❌ ILP: the wrong-fulfilment check did not complete: {}", describe(error));
                failures.push("ILP checks failed".into());
            }
        }

        println!();
        println!("HEALTH CHECKS:");
        let attempted = args.transactions.max(1);
        match &first_error {
            None => println!("✅ End-to-end transaction test: PASSED ({attempted} transactions)"),
            Some(error) => {
                println!(
                    "❌ End-to-end transaction test: {} of {attempted} failed; first: {error}",
                    attempted - totals.len()
                );
                failures.push("end-to-end transactions failed".into());
            }
        }
        if let Some(average) = average(&totals) {
            println!("✅ Average latency: {} (lookup + quote + transfer)", ms(average));
        }
        // Currency conversion, when the switch has the FX layout onboarded.
        let mut fx_ready = true;
        let mut fx_absent = false;
        for member in layout::fx_members() {
            let check = check_participant(&http, &args.switch, &member).await;
            fx_ready &= check.problems.is_empty();
            fx_absent |= check.absent;
        }
        if fx_ready {
            let fx = sim
                .pay(
                    &layout::name(1),
                    &layout::fx_test_msisdn(),
                    "1",
                    &dfsp_sim::PayOptions {
                        payer_msisdn: Some(layout::test_msisdn(1)),
                        scenario: dfsp_sim::Scenario::Fx,
                        ..Default::default()
                    },
                )
                .await;
            match fx {
                Ok(report) => println!(
                    "✅ Currency conversion: PASSED ({} {} → {} {} through {})",
                    report.source_amount,
                    report.source_currency,
                    report.target_amount,
                    report.target_currency,
                    report.fxp
                ),
                Err(error) => {
                    println!("❌ Currency conversion: {}", describe(&error));
                    failures.push("the currency conversion test failed".into());
                }
            }
        } else if fx_absent {
            println!("➖ Currency conversion: no FXP on this switch");
        } else {
            println!("❌ Currency conversion: the FX DFSPs are not fully provisioned (`mojaloop verify-participants`)");
            failures.push("FX DFSPs not provisioned".into());
        }
        println!();
        if failures.is_empty() {
            println!("🎉 Mojaloop ready for performance testing!");
            Ok(Verdict::Positive)
        } else {
            println!("❌ Validation failed: {}", failures.join("; "));
            Ok(Verdict::Negative)
        }
    })
}

pub(super) fn average(durations: &[Duration]) -> Option<Duration> {
    let count = u32::try_from(durations.len()).ok().filter(|n| *n > 0)?;
    Some(durations.iter().sum::<Duration>() / count)
}
