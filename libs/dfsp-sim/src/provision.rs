//! Provisioning simulated DFSPs on a running switch through its admin APIs, as an operator's
//! onboarding does: the hub's accounts in every currency and a DEFERREDNET settlement model,
//! then per DFSP the participant in each of its currencies (an FXP holds two) with a net debit
//! cap each, its callback endpoints (the simulator's, [`crate::endpoints`]: fx ones included), a
//! deposit in each currency that has one, and its MSISDNs in the oracle (in its first
//! currency). Safe to run again on a switch that has them: what exists is kept and a DFSP that
//! already holds funds in a currency is not funded twice in it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Where the switch's admin APIs are.
#[derive(Debug, Clone)]
pub struct AdminUrls {
    /// Central ledger admin API.
    pub ledger: String,
    /// The MSISDN oracle (its registration API).
    pub oracle: String,
}

/// What one DFSP gets.
#[derive(Debug, Clone)]
pub struct DfspPlan {
    pub name: String,
    /// Its first currency (the one its MSISDNs are registered in).
    pub currency: String,
    /// Net debit cap in `currency`.
    pub net_debit_cap: String,
    /// Deposited in `currency` at onboarding (`None` for a payee that starts with nothing).
    pub funds: Option<String>,
    /// Registered with the oracle as this DFSP's.
    pub msisdns: Vec<String>,
    /// Further currencies it holds (an FXP's), each with its position account, net debit cap
    /// and optional deposit.
    pub other_currencies: Vec<CurrencyPlan>,
}

/// One currency of a DFSP: a position account with a net debit cap, and optionally a deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyPlan {
    pub currency: String,
    pub net_debit_cap: String,
    pub funds: Option<String>,
}

impl CurrencyPlan {
    pub fn new(currency: &str, net_debit_cap: &str, funds: Option<&str>) -> CurrencyPlan {
        CurrencyPlan {
            currency: currency.to_string(),
            net_debit_cap: net_debit_cap.to_string(),
            funds: funds.map(str::to_string),
        }
    }
}

impl DfspPlan {
    /// A DFSP holding one currency.
    pub fn new(
        name: &str,
        currency: &str,
        net_debit_cap: &str,
        funds: Option<&str>,
        msisdns: Vec<String>,
    ) -> DfspPlan {
        DfspPlan {
            name: name.to_string(),
            currency: currency.to_string(),
            net_debit_cap: net_debit_cap.to_string(),
            funds: funds.map(str::to_string),
            msisdns,
            other_currencies: Vec::new(),
        }
    }

    /// The same DFSP holding `currency` too.
    pub fn with_currency(mut self, currency: CurrencyPlan) -> DfspPlan {
        self.other_currencies.push(currency);
        self
    }

    /// Every currency it holds, its first one first.
    pub fn currencies(&self) -> Vec<CurrencyPlan> {
        let first = CurrencyPlan {
            currency: self.currency.clone(),
            net_debit_cap: self.net_debit_cap.clone(),
            funds: self.funds.clone(),
        };
        std::iter::once(first)
            .chain(self.other_currencies.iter().cloned())
            .collect()
    }
}

/// What provisioning did for one DFSP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub name: String,
    /// The deposit made by this run in the plan's first currency (`None` when the DFSP is a
    /// payee or held funds already).
    pub deposited: Option<String>,
    /// Every deposit made by this run, `(currency, amount)`, in the plan's currency order.
    pub deposits: Vec<(String, String)>,
    /// Callback endpoints registered.
    pub endpoints: usize,
    /// MSISDNs registered with the oracle.
    pub msisdns: usize,
}

/// The id of `name`'s onboarding deposit: the same on every run, so two provisioning runs at
/// once deposit once (the ledger treats the second as a duplicate).
pub fn deposit_id(name: &str, currency: &str) -> String {
    // Two FNV-1a hashes make 128 bits, shaped as a version-4 UUID.
    let fnv = |seed: u64| {
        let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
        for byte in format!("dfsp-sim initial funds {name} {currency}").bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash
    };
    let (high, low) = (fnv(1), fnv(2));
    let high = (high & !0xf000) | 0x4000;
    let low = (low & !(0xc000_u64 << 48)) | (0x8000_u64 << 48);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}

/// Why provisioning stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{call}: {detail}")]
    Refused { call: String, detail: String },
    #[error("{0}")]
    Http(String),
    #[error("funds for {0} were not recorded in time")]
    FundsTimeout(String),
}

/// How long a deposit may take to be applied by the ledger.
const FUNDS_WAIT_MAX_MS: u64 = 60_000;
/// The oracle's bulk registration takes at most this many numbers per request.
const ORACLE_BATCH_MAX: usize = 100;

struct Admin {
    client: reqwest::Client,
}

impl Admin {
    /// POSTs `body`; success, or an FSPIOP error whose code is in `tolerated` (already there).
    async fn post(
        &self,
        url: &str,
        body: Value,
        tolerated: &[&str],
    ) -> Result<Value, ProvisionError> {
        let response = self
            .client
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| ProvisionError::Http(format!("{url}: {e}")))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(answer);
        }
        let code = answer
            .pointer("/errorInformation/errorCode")
            .and_then(Value::as_str)
            .unwrap_or("");
        if tolerated.contains(&code) || status.as_u16() == 409 {
            return Ok(Value::Null);
        }
        Err(ProvisionError::Refused {
            call: format!("POST {url}"),
            detail: text,
        })
    }

    async fn get(&self, url: &str) -> Result<Value, ProvisionError> {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| ProvisionError::Http(format!("{url}: {e}")))?;
        response
            .json()
            .await
            .map_err(|e| ProvisionError::Http(format!("{url}: {e}")))
    }
}

/// The SETTLEMENT account of `name` in `currency`: its id and value.
async fn settlement(
    admin: &Admin,
    ledger: &str,
    name: &str,
    currency: &str,
) -> Result<Option<(u64, f64)>, ProvisionError> {
    let accounts = admin
        .get(&format!("{ledger}/participants/{name}/accounts"))
        .await?;
    Ok(accounts.as_array().into_iter().flatten().find_map(|a| {
        let matches = a.get("ledgerAccountType").and_then(Value::as_str) == Some("SETTLEMENT")
            && a.get("currency").and_then(Value::as_str) == Some(currency);
        matches.then(|| {
            (
                a.get("id").and_then(Value::as_u64).unwrap_or(0),
                a.get("value").and_then(Value::as_f64).unwrap_or(0.0),
            )
        })
    }))
}

/// Deposits `funds` in `name`'s `currency` settlement account unless it holds funds already,
/// and waits until the ledger has applied it. Whether this call deposited.
async fn fund(
    admin: &Admin,
    ledger: &str,
    name: &str,
    currency: &str,
    funds: &str,
) -> Result<bool, ProvisionError> {
    let Some((account, value)) = settlement(admin, ledger, name, currency).await? else {
        return Err(ProvisionError::Refused {
            call: format!("GET {ledger}/participants/{name}/accounts"),
            detail: format!("no SETTLEMENT account in {currency}"),
        });
    };
    if value != 0.0 {
        return Ok(false);
    }
    let deposit = json!({"transferId": deposit_id(name, currency), "externalReference": "dfsp-sim onboarding", "action": "recordFundsIn",
        "reason": "initial funds", "amount": {"amount": funds, "currency": currency}});
    admin
        .post(
            &format!("{ledger}/participants/{name}/accounts/{account}"),
            deposit,
            &[],
        )
        .await?;
    let deadline = Instant::now() + Duration::from_millis(FUNDS_WAIT_MAX_MS);
    loop {
        let held = settlement(admin, ledger, name, currency)
            .await?
            .map(|(_, v)| v)
            .unwrap_or(0.0);
        if held < 0.0 {
            return Ok(true);
        }
        if Instant::now() > deadline {
            return Err(ProvisionError::FundsTimeout(name.to_string()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Onboards every DFSP of `plans`, their callbacks pointing at the simulator serving
/// `callbacks_base` (see [`crate::endpoints`]).
pub async fn provision(
    urls: &AdminUrls,
    callbacks_base: &str,
    plans: &[DfspPlan],
) -> Result<Vec<Provisioned>, ProvisionError> {
    provision_with(reqwest::Client::new(), urls, callbacks_base, plans).await
}

/// [`provision`] through `client` (one that presents the hub's certificate when the admin
/// APIs require mutual TLS).
pub async fn provision_with(
    client: reqwest::Client,
    urls: &AdminUrls,
    callbacks_base: &str,
    plans: &[DfspPlan],
) -> Result<Vec<Provisioned>, ProvisionError> {
    let admin = Admin { client };
    let ledger = urls.ledger.trim_end_matches('/');
    let mut currencies: Vec<String> = plans
        .iter()
        .flat_map(|p| p.currencies().into_iter().map(|c| c.currency))
        .collect();
    currencies.sort_unstable();
    currencies.dedup();
    for currency in &currencies {
        for account_type in ["HUB_MULTILATERAL_SETTLEMENT", "HUB_RECONCILIATION"] {
            admin
                .post(
                    &format!("{ledger}/participants/Hub/accounts"),
                    json!({"currency": currency, "type": account_type}),
                    &["3003"],
                )
                .await?;
        }
    }
    let model = json!({"name": "DEFERREDNET", "settlementGranularity": "NET", "settlementInterchange": "MULTILATERAL", "settlementDelay": "DEFERRED",
        "requireLiquidityCheck": true, "ledgerAccountType": "POSITION", "autoPositionReset": true, "settlementAccountType": "SETTLEMENT"});
    admin
        .post(&format!("{ledger}/settlementModels"), model, &["3000"])
        .await?;
    let mut done = Vec::with_capacity(plans.len());
    for plan in plans {
        let name = plan.name.as_str();
        let endpoints = crate::endpoints(callbacks_base, name);
        let currencies = plan.currencies();
        for held in &currencies {
            admin
                .post(
                    &format!("{ledger}/participants"),
                    json!({"name": name, "currency": held.currency}),
                    &["3000"],
                )
                .await?;
            admin
                .post(
                    &format!("{ledger}/participants/{name}/initialPositionAndLimits"),
                    json!({"currency": held.currency, "limit": {"type": "NET_DEBIT_CAP", "value": held.net_debit_cap}, "initialPosition": 0}),
                    &["3000"],
                )
                .await?;
        }
        for (kind, value) in &endpoints {
            admin
                .post(
                    &format!("{ledger}/participants/{name}/endpoints"),
                    json!({"type": kind, "value": value}),
                    &[],
                )
                .await?;
        }
        let mut deposits = Vec::new();
        for held in &currencies {
            if let Some(funds) = &held.funds {
                if fund(&admin, ledger, name, &held.currency, funds).await? {
                    deposits.push((held.currency.clone(), funds.clone()));
                }
            }
        }
        let deposited = deposits
            .iter()
            .find(|(currency, _)| *currency == plan.currency)
            .map(|(_, amount)| amount.clone());
        for chunk in plan.msisdns.chunks(ORACLE_BATCH_MAX) {
            let party_list: Vec<Value> =
                chunk.iter().map(|msisdn| json!({"partyIdType": "MSISDN", "partyIdentifier": msisdn, "fspId": name, "currency": plan.currency})).collect();
            let body =
                json!({"requestId": uuid::Uuid::new_v4().to_string(), "partyList": party_list});
            admin
                .post(
                    &format!("{}/participants", urls.oracle.trim_end_matches('/')),
                    body,
                    &["3003"],
                )
                .await?;
        }
        done.push(Provisioned {
            name: name.to_string(),
            deposited,
            deposits,
            endpoints: endpoints.len(),
            msisdns: plan.msisdns.len(),
        });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deposit_id_is_a_stable_uuid_per_dfsp() {
        let id = deposit_id("perffsp-1", "USD");
        assert_eq!(id, deposit_id("perffsp-1", "USD"));
        assert_ne!(id, deposit_id("perffsp-2", "USD"));
        assert_ne!(id, deposit_id("perffsp-1", "EUR"));
        let parsed = uuid::Uuid::parse_str(&id).map(|u| u.get_version_num());
        assert_eq!(parsed.ok(), Some(4), "{id}");
        assert_eq!(id.len(), 36);
    }

    #[test]
    fn a_plan_lists_its_first_currency_first() {
        let plan = DfspPlan::new("fxp", "USD", "10", None, Vec::new())
            .with_currency(CurrencyPlan::new("EUR", "20", Some("5")));
        assert_eq!(
            plan.currencies(),
            [
                CurrencyPlan::new("USD", "10", None),
                CurrencyPlan::new("EUR", "20", Some("5"))
            ]
        );
        assert!(DfspPlan::new("p", "USD", "1", Some("1"), Vec::new())
            .other_currencies
            .is_empty());
    }
}
