//! Each DFSP's accounts, endpoints and oracle registrations (`mojaloop verify-participants`).

use super::*;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    layout: Layout,
    #[command(flatten)]
    switch: Switch,
}

/// The callback endpoints a DFSP cannot do without.
pub(super) const REQUIRED_ENDPOINTS: &[&str] = &[
    "FSPIOP_CALLBACK_URL_PARTIES_GET",
    "FSPIOP_CALLBACK_URL_PARTIES_PUT",
    "FSPIOP_CALLBACK_URL_QUOTES",
    "FSPIOP_CALLBACK_URL_TRANSFER_POST",
    "FSPIOP_CALLBACK_URL_TRANSFER_PUT",
    "FSPIOP_CALLBACK_URL_TRANSFER_ERROR",
];

/// What the switch holds for one DFSP.
pub(super) struct Check {
    pub(super) problems: Vec<String>,
    pub(super) msisdns_registered: usize,
}

pub(super) async fn check_participant(http: &Http, switch: &Switch, index: usize) -> Check {
    let name = layout::name(index);
    let ledger = switch.central_ledger_url.trim_end_matches('/');
    let mut problems = Vec::new();
    match http.get(&format!("{ledger}/participants/{name}")).await {
        Ok((200, participant)) => {
            if participant.get("isActive").and_then(Value::as_u64) != Some(1) {
                problems.push("participant inactive".to_string());
            }
            let accounts = participant.get("accounts").and_then(Value::as_array);
            for kind in ["POSITION", "SETTLEMENT"] {
                let present = accounts.into_iter().flatten().any(|account| {
                    account.get("ledgerAccountType").and_then(Value::as_str) == Some(kind)
                        && account.get("currency").and_then(Value::as_str) == Some(layout::CURRENCY)
                        && account.get("isActive").and_then(Value::as_u64) == Some(1)
                });
                if !present {
                    problems.push(format!("no active {kind} account in {}", layout::CURRENCY));
                }
            }
        }
        Ok((status, _)) => problems.push(format!("not registered in the ledger ({status})")),
        Err(error) => problems.push(format!("{error:#}")),
    }
    if problems.is_empty() {
        match http
            .get_ok(&format!("{ledger}/participants/{name}/limits"))
            .await
        {
            Ok(limits) => {
                let cap = limits.as_array().into_iter().flatten().any(|limit| {
                    limit.pointer("/limit/type").and_then(Value::as_str) == Some("NET_DEBIT_CAP")
                });
                if !cap {
                    problems.push("no net debit cap".to_string());
                }
            }
            Err(error) => problems.push(format!("{error:#}")),
        }
        match http
            .get_ok(&format!("{ledger}/participants/{name}/endpoints"))
            .await
        {
            Ok(endpoints) => {
                let kinds: Vec<&str> = endpoints
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.get("type").and_then(Value::as_str))
                    .collect();
                let missing: Vec<&str> = REQUIRED_ENDPOINTS
                    .iter()
                    .filter(|kind| !kinds.contains(kind))
                    .copied()
                    .collect();
                if !missing.is_empty() {
                    problems.push(format!("missing endpoints {}", missing.join(", ")));
                }
            }
            Err(error) => problems.push(format!("{error:#}")),
        }
    }
    let registered = oracle_registrations(http, &switch.oracle_url, index).await;
    let msisdns_registered = match registered {
        Ok(count) => {
            if count < layout::MSISDNS_PER_DFSP {
                problems.push(format!(
                    "{} of {} MSISDNs registered with the oracle",
                    count,
                    layout::MSISDNS_PER_DFSP
                ));
            }
            count
        }
        Err(error) => {
            problems.push(format!("oracle: {error:#}"));
            0
        }
    };
    Check {
        problems,
        msisdns_registered,
    }
}

/// How many of DFSP `index`'s MSISDNs the oracle maps to it.
pub(super) async fn oracle_registrations(http: &Http, oracle: &str, index: usize) -> Result<usize> {
    let name = layout::name(index);
    let oracle = oracle.trim_end_matches('/');
    let mut lookups = tokio::task::JoinSet::new();
    for n in 0..layout::MSISDNS_PER_DFSP {
        let url = format!("{oracle}/participants/MSISDN/{}", layout::msisdn(index, n));
        let client = http.client.clone();
        lookups.spawn(async move {
            let response = client.get(&url).send().await?;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            Ok::<_, reqwest::Error>((status, body))
        });
    }
    let mut count = 0;
    while let Some(joined) = lookups.join_next().await {
        let (status, body) = joined.context("oracle lookup task")??;
        let owned = status == 200
            && body
                .get("partyList")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|party| party.get("fspId").and_then(Value::as_str) == Some(&name));
        count += usize::from(owned);
    }
    Ok(count)
}

/// `mojaloop verify-participants`.
pub fn verify_participants(args: VerifyArgs) -> Result<Verdict> {
    let count = args.layout.dfsps;
    layout::check_count(count).map_err(anyhow::Error::msg)?;
    let args = VerifyArgs {
        switch: args.switch.secured(),
        ..args
    };
    runtime()?.block_on(async move {
        let http = args.switch.http()?;
        heading("Participant Verification");
        let mut ready = 0;
        let mut failed = 0;
        for index in 1..=count {
            let check = check_participant(&http, &args.switch, index).await;
            if check.problems.is_empty() {
                ready += check.msisdns_registered;
                println!(
                    "✅ {}: {} accounts provisioned",
                    layout::name(index),
                    check.msisdns_registered
                );
            } else {
                failed += 1;
                println!("❌ {}: {}", layout::name(index), check.problems.join("; "));
            }
        }
        println!();
        if failed == 0 {
            println!("Total: {ready} test accounts ready");
            Ok(Verdict::Positive)
        } else {
            println!(
                "Total: {ready} of {} test accounts ready; {failed} DFSP(s) need `mojaloop provision`",
                count * layout::MSISDNS_PER_DFSP
            );
            Ok(Verdict::Negative)
        }
    })
}
