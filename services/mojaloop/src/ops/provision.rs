//! Onboarding the simulated DFSPs on a switch (`mojaloop provision`).

use super::*;

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// Provision only this DFSP (perffsp-N); by default every DFSP of the layout.
    #[arg(long)]
    dfsp: Option<String>,
    #[command(flatten)]
    layout: Layout,
    /// The simulator's URL as the switch reaches it, for the DFSPs' callback endpoints.
    /// Default: where the DFSPs' callbacks go now (the simulator that provisioned them, e.g.
    /// `http://perffsp-1:4100` inside docker compose), under the deployment's scheme; for DFSPs
    /// not yet onboarded, `http://127.0.0.1:4100` (`mojaloop up` on this machine).
    #[arg(long, env = "MOJALOOP_SIM_CALLBACK_URL")]
    callback_url: Option<String>,
    /// The oracle's URL as the ALS reaches it (default: --oracle-url).
    #[arg(long, env = "MOJALOOP_ORACLE_CALLBACK_URL")]
    oracle_callback_url: Option<String>,
    #[command(flatten)]
    switch: Switch,
}

/// What [`register_oracle`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OracleRegistration {
    /// The oracle is now the ALS's default MSISDN oracle.
    Registered,
    /// The ALS already had an MSISDN oracle, at this endpoint.
    Present(String),
    /// The ALS had this oracle under the other scheme (`http://` for `https://` or back: the
    /// deployment's security was switched on or off); its endpoint now follows the deployment.
    Moved {
        /// The endpoint registered before.
        from: String,
    },
}

/// `a` and `b` differ in their scheme only (`http://host:port/path` and `https://host:port/path`).
fn same_but_scheme(a: &str, b: &str) -> bool {
    let strip = |url: &str| {
        url.strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .map(|rest| rest.trim_end_matches('/').to_string())
    };
    a != b && strip(a).is_some() && strip(a) == strip(b)
}

/// Registers `oracle_url` with the ALS admin API as the default MSISDN oracle, unless the ALS
/// has one, through `client` (the hub's certificate when the ALS requires mutual TLS). An
/// oracle registered at the same address under the other scheme is moved to `oracle_url`
/// (security switched on or off over an existing deployment); one elsewhere is left alone.
/// Tries `attempts` times, 100 ms apart, while the ALS does not answer.
pub async fn register_oracle(
    client: &reqwest::Client,
    als_admin: &str,
    oracle_url: &str,
    attempts: u32,
) -> Result<OracleRegistration> {
    let als_admin = als_admin.trim_end_matches('/');
    let mut last_error = String::new();
    for _attempt in 0..attempts.max(1) {
        match client
            .get(format!("{als_admin}/oracles?type=MSISDN"))
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => {
                let existing: Value = response.json().await.unwrap_or_default();
                if let Some(first) = existing.as_array().and_then(|list| list.first()) {
                    let endpoint = first
                        .pointer("/endpoint/value")
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    if !same_but_scheme(endpoint, oracle_url) {
                        return Ok(OracleRegistration::Present(endpoint.to_string()));
                    }
                    let id = first
                        .get("oracleId")
                        .map(|id| match id {
                            Value::String(id) => id.clone(),
                            other => other.to_string(),
                        })
                        .context("the ALS listed an oracle without its oracleId")?;
                    let mut body = serde_json::json!({
                        "oracleIdType": first.get("oracleIdType").cloned().unwrap_or_else(|| "MSISDN".into()),
                        "endpoint": {"value": oracle_url, "endpointType": "URL"},
                        "isDefault": first.get("isDefault").cloned().unwrap_or(Value::Bool(true)),
                    });
                    if let (Some(currency), Some(fields)) = (
                        first.get("currency").filter(|c| !c.is_null()),
                        body.as_object_mut(),
                    ) {
                        fields.insert("currency".to_string(), currency.clone());
                    }
                    let response = client
                        .put(format!("{als_admin}/oracles/{id}"))
                        .json(&body)
                        .send()
                        .await
                        .with_context(|| format!("PUT {als_admin}/oracles/{id}"))?;
                    let status = response.status();
                    anyhow::ensure!(
                        status.is_success(),
                        "the ALS refused to move the MSISDN oracle from {endpoint} to {oracle_url}: {status} {}",
                        response.text().await.unwrap_or_default()
                    );
                    return Ok(OracleRegistration::Moved {
                        from: endpoint.to_string(),
                    });
                }
                let body = serde_json::json!({"oracleIdType": "MSISDN", "endpoint": {"value": oracle_url, "endpointType": "URL"}, "isDefault": true});
                let response = client
                    .post(format!("{als_admin}/oracles"))
                    .json(&body)
                    .send()
                    .await
                    .with_context(|| format!("POST {als_admin}/oracles"))?;
                let status = response.status();
                anyhow::ensure!(
                    status.is_success(),
                    "the ALS refused the MSISDN oracle: {status} {}",
                    response.text().await.unwrap_or_default()
                );
                return Ok(OracleRegistration::Registered);
            }
            Ok(response) => last_error = format!("GET {als_admin}/oracles: {}", response.status()),
            Err(error) => last_error = format!("GET {als_admin}/oracles: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the ALS admin API did not answer: {last_error}")
}

/// The simulator's address for DFSPs not onboarded yet: `mojaloop up` on this machine.
const DEFAULT_CALLBACK_URL: &str = "http://127.0.0.1:4100";

/// The simulator base `dfsp`'s callbacks go to now (its `FSPIOP_CALLBACK_URL_QUOTES` is
/// `<base>/<dfsp>`, see [`dfsp_sim::endpoints`]), if the ledger has one.
async fn registered_callback_base(
    client: &reqwest::Client,
    ledger: &str,
    dfsp: &str,
) -> Option<String> {
    let url = format!(
        "{}/participants/{dfsp}/endpoints",
        ledger.trim_end_matches('/')
    );
    let response = client.get(&url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let endpoints: Value = response.json().await.ok()?;
    endpoints
        .as_array()?
        .iter()
        .find(|e| e.get("type").and_then(Value::as_str) == Some("FSPIOP_CALLBACK_URL_QUOTES"))
        .and_then(|e| e.get("value").and_then(Value::as_str))
        .and_then(|value| value.strip_suffix(&format!("/{dfsp}")))
        .map(str::to_string)
}

/// `url` under `https://` when `tls`, else under `http://`.
fn with_scheme(url: &str, tls: bool) -> String {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    format!("{}://{rest}", if tls { "https" } else { "http" })
}

/// `mojaloop provision`.
pub fn provision(args: ProvisionArgs) -> Result<Verdict> {
    let count = args.layout.dfsps;
    layout::check_count(count).map_err(anyhow::Error::msg)?;
    let indexes: Vec<usize> = match &args.dfsp {
        Some(name) => vec![dfsp_index(name, count)?],
        None => (1..=count).collect(),
    };
    let args = ProvisionArgs {
        callback_url: args.callback_url.as_deref().map(|u| args.switch.url(u)),
        oracle_callback_url: args
            .oracle_callback_url
            .as_deref()
            .map(|u| args.switch.url(u)),
        switch: args.switch.secured(),
        ..args
    };
    runtime()?.block_on(async move {
        heading("Provisioning");
        let client = args.switch.client(args.switch.request_timeout_ms)?;
        let oracle_for_als = args
            .oracle_callback_url
            .clone()
            .unwrap_or_else(|| args.switch.oracle_url.clone());
        let mut failed = 0;
        match register_oracle(&client, &args.switch.als_admin_url, &oracle_for_als, 1).await {
            Ok(OracleRegistration::Registered) => {
                println!("✅ MSISDN oracle registered with the ALS: {oracle_for_als}")
            }
            Ok(OracleRegistration::Present(endpoint)) => {
                println!("✅ MSISDN oracle already registered with the ALS: {endpoint}")
            }
            Ok(OracleRegistration::Moved { from }) => {
                println!("✅ MSISDN oracle moved from {from} to {oracle_for_als}")
            }
            Err(error) => {
                failed += 1;
                println!("❌ MSISDN oracle: {error:#}");
            }
        }
        let urls = dfsp_sim::provision::AdminUrls {
            ledger: args.switch.central_ledger_url.clone(),
            oracle: args.switch.oracle_url.clone(),
        };
        let callback_url = match &args.callback_url {
            Some(url) => url.clone(),
            None => {
                let first = layout::name(indexes.first().copied().unwrap_or(1));
                match registered_callback_base(&client, &args.switch.central_ledger_url, &first).await {
                    Some(base) => {
                        let base = with_scheme(&base, args.switch.tls_dir.is_some());
                        println!("✅ Callbacks stay where {first}'s go now: {base} (--callback-url to change)");
                        base
                    }
                    None => args.switch.url(DEFAULT_CALLBACK_URL),
                }
            }
        };
        for index in indexes {
            let plan = layout::plan(index, count);
            let role = if plan.funds.is_some() { "payer" } else { "payee" };
            match dfsp_sim::provision::provision_with(client.clone(), &urls, &callback_url, &[plan]).await {
                Ok(done) => {
                    for dfsp in done {
                        let funds = match &dfsp.deposited {
                            Some(amount) => format!("deposited {amount} {}", layout::CURRENCY),
                            None if role == "payer" => "funded earlier".to_string(),
                            None => "no deposit".to_string(),
                        };
                        println!(
                            "✅ {}: {role}, net debit cap {} {}, {funds}, {} callback endpoints, {} MSISDNs in the oracle",
                            dfsp.name,
                            layout::NET_DEBIT_CAP,
                            layout::CURRENCY,
                            dfsp.endpoints,
                            dfsp.msisdns
                        );
                    }
                }
                Err(error) => {
                    failed += 1;
                    println!("❌ {}: {error}", layout::name(index));
                }
            }
        }
        // The FX layout (an FXP and an EUR payee), unless one DFSP was asked for.
        if args.dfsp.is_none() {
            match dfsp_sim::provision::provision_with(client.clone(), &urls, &callback_url, &layout::fx_plans()).await {
                Ok(done) => {
                    for dfsp in done {
                        let deposits: Vec<String> = dfsp
                            .deposits
                            .iter()
                            .map(|(currency, amount)| format!("deposited {amount} {currency}"))
                            .collect();
                        let funded = layout::fx_plans()
                            .into_iter()
                            .find(|plan| plan.name == dfsp.name)
                            .map(|plan| plan.currencies().into_iter().filter(|c| c.funds.is_some()).count())
                            .unwrap_or(0);
                        let funds = match (deposits.is_empty(), funded) {
                            (false, _) => deposits.join(", "),
                            (true, 0) => "no deposit".to_string(),
                            (true, _) => "funded earlier".to_string(),
                        };
                        let role = if dfsp.name == layout::FXP_NAME {
                            format!("FXP {} → {} at {}", layout::CURRENCY, layout::FX_CURRENCY, layout::FX_RATE)
                        } else {
                            format!("payee in {}", layout::FX_CURRENCY)
                        };
                        println!(
                            "✅ {}: {role}, {funds}, {} callback endpoints, {} MSISDNs in the oracle",
                            dfsp.name, dfsp.endpoints, dfsp.msisdns
                        );
                    }
                }
                Err(error) => {
                    failed += 1;
                    println!("❌ FX DFSPs ({}): {error}", layout::fx_names().join(", "));
                }
            }
        }
        println!();
        if failed == 0 {
            println!("Provisioning complete; callbacks go to {callback_url}");
            Ok(Verdict::Positive)
        } else {
            println!("{failed} step(s) failed");
            Ok(Verdict::Negative)
        }
    })
}
