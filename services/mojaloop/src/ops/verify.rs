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

/// The callback endpoints an FXP needs besides those.
pub(super) const FXP_ENDPOINTS: &[&str] = &[
    "FSPIOP_CALLBACK_URL_FX_QUOTES",
    "FSPIOP_CALLBACK_URL_FX_TRANSFER_POST",
    "FSPIOP_CALLBACK_URL_FX_TRANSFER_PUT",
    "FSPIOP_CALLBACK_URL_FX_TRANSFER_ERROR",
];

/// What the switch holds for one DFSP.
pub(super) struct Check {
    pub(super) problems: Vec<String>,
    pub(super) msisdns_registered: usize,
    /// The ledger does not know the participant at all.
    pub(super) absent: bool,
}

pub(super) async fn check_participant(
    http: &Http,
    switch: &Switch,
    member: &layout::Member,
) -> Check {
    let name = member.name.as_str();
    let mut absent = false;
    let ledger = switch.central_ledger_url.trim_end_matches('/');
    let mut problems = Vec::new();
    match http.get(&format!("{ledger}/participants/{name}")).await {
        Ok((200, participant)) => {
            if participant.get("isActive").and_then(Value::as_u64) != Some(1) {
                problems.push("participant inactive".to_string());
            }
            let accounts = participant.get("accounts").and_then(Value::as_array);
            for currency in &member.currencies {
                for kind in ["POSITION", "SETTLEMENT"] {
                    let present = accounts.into_iter().flatten().any(|account| {
                        account.get("ledgerAccountType").and_then(Value::as_str) == Some(kind)
                            && account.get("currency").and_then(Value::as_str)
                                == Some(currency.as_str())
                            && account.get("isActive").and_then(Value::as_u64) == Some(1)
                    });
                    if !present {
                        problems.push(format!("no active {kind} account in {currency}"));
                    }
                }
            }
        }
        Ok((status, _)) => {
            absent = status == 404;
            problems.push(format!("not registered in the ledger ({status})"))
        }
        Err(error) => problems.push(format!("{error:#}")),
    }
    if problems.is_empty() {
        match http
            .get_ok(&format!("{ledger}/participants/{name}/limits"))
            .await
        {
            Ok(limits) => {
                for currency in &member.currencies {
                    let cap = limits.as_array().into_iter().flatten().any(|limit| {
                        limit.pointer("/limit/type").and_then(Value::as_str)
                            == Some("NET_DEBIT_CAP")
                            && limit.get("currency").and_then(Value::as_str)
                                == Some(currency.as_str())
                    });
                    if !cap {
                        problems.push(format!("no net debit cap in {currency}"));
                    }
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
                let fxp: &[&str] = if member.fxp.is_some() {
                    FXP_ENDPOINTS
                } else {
                    &[]
                };
                let missing: Vec<&str> = REQUIRED_ENDPOINTS
                    .iter()
                    .chain(fxp)
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
    let registered = oracle_registrations(http, &switch.oracle_url, member).await;
    let msisdns_registered = match registered {
        Ok(count) => {
            if count < member.msisdns.len() {
                problems.push(format!(
                    "{} of {} MSISDNs registered with the oracle",
                    count,
                    member.msisdns.len()
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
        absent,
    }
}

/// How many of `member`'s MSISDNs the oracle maps to it.
pub(super) async fn oracle_registrations(
    http: &Http,
    oracle: &str,
    member: &layout::Member,
) -> Result<usize> {
    let name = member.name.clone();
    let oracle = oracle.trim_end_matches('/');
    let mut lookups = tokio::task::JoinSet::new();
    for msisdn in &member.msisdns {
        let url = format!("{oracle}/participants/MSISDN/{msisdn}");
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
        for member in layout::members(count) {
            let check = check_participant(&http, &args.switch, &member).await;
            if check.problems.is_empty() {
                ready += check.msisdns_registered;
                println!(
                    "✅ {}: {} accounts provisioned",
                    member.name, check.msisdns_registered
                );
            } else {
                failed += 1;
                println!("❌ {}: {}", member.name, check.problems.join("; "));
            }
        }
        println!();
        if failed == 0 {
            println!("Total: {ready} test accounts ready");
        } else {
            println!(
                "Total: {ready} of {} test accounts ready; {failed} DFSP(s) need `mojaloop provision`",
                count * layout::MSISDNS_PER_DFSP
            );
        }
        // The FX layout: a switch without it (no FXP onboarded) is not a failure.
        println!();
        println!("Currency conversion:");
        for member in layout::fx_members() {
            let check = check_participant(&http, &args.switch, &member).await;
            let what = match &member.fxp {
                Some(fxp) => format!(
                    "FXP {} → {} at {}, accounts in {}",
                    fxp.source_currency,
                    fxp.target_currency,
                    fxp.rate,
                    member.currencies.join(" and ")
                ),
                None => format!(
                    "{} accounts provisioned ({})",
                    check.msisdns_registered,
                    member.currencies.join(", ")
                ),
            };
            if check.problems.is_empty() {
                println!("✅ {}: {what}", member.name);
            } else if check.absent {
                println!("➖ {}: not on this switch (no currency conversion)", member.name);
            } else {
                failed += 1;
                println!("❌ {}: {}", member.name, check.problems.join("; "));
            }
        }
        Ok(if failed == 0 {
            Verdict::Positive
        } else {
            Verdict::Negative
        })
    })
}
