//! The DFSP layout of the deployment guide the project follows: `perffsp-1` … `perffsp-N`, the
//! first half payers holding 1,000,000 USD, the second half payees starting at 0, and DFSP `i`
//! owning the 100 MSISDNs `19012345{i-1}00` … `19012345{i-1}99`. `mojaloop up --dfsps`,
//! `mojaloop sim`, `provision`, `verify-participants` and `test-transaction` all read it here.
//!
//! The FX layout, beside it, for currency conversion (FSPIOP 2.0 payer conversion): the
//! foreign exchange provider [`FXP_NAME`] converting USD → [`FX_CURRENCY`] at [`FX_RATE`]
//! (a USD and an EUR position, a net debit cap of 1,000,000 in each, 1,000,000 EUR deposited),
//! and the EUR payee [`FX_PAYEE_NAME`] owning the 100 MSISDNs `19012346000` … `19012346099`,
//! starting at 0. A `perffsp-N` payer paying one of those MSISDNs pays through the FXP.

use crate::provision::{CurrencyPlan, DfspPlan};
use crate::{DfspSpec, FxpSpec};

/// Currency of every DFSP.
pub const CURRENCY: &str = "USD";
/// DFSPs the numbering has room for (one digit of the MSISDN prefix).
pub const DFSPS_MAX: usize = 10;
/// The guide's count.
pub const DFSPS_DEFAULT: usize = 8;
/// MSISDNs each DFSP owns.
pub const MSISDNS_PER_DFSP: usize = 100;
/// Net debit cap of every DFSP.
pub const NET_DEBIT_CAP: &str = "1000000";
/// Deposit of each payer DFSP.
pub const PAYER_FUNDS: &str = "1000000";

/// `perffsp-{index}` (indexes start at 1).
pub fn name(index: usize) -> String {
    format!("perffsp-{index}")
}

/// The index of `perffsp-{index}`, if `name` is one within the numbering.
pub fn index_of(name: &str) -> Option<usize> {
    let index: usize = name.strip_prefix("perffsp-")?.parse().ok()?;
    (1..=DFSPS_MAX).contains(&index).then_some(index)
}

/// The `n`th MSISDN (0–99) of DFSP `index`: `19012345{index-1}{n:02}`.
pub fn msisdn(index: usize, n: usize) -> String {
    format!("19012345{}{n:02}", index.saturating_sub(1))
}

/// The customer a test payment uses at DFSP `index` (the guide's `190123450 01`).
pub fn test_msisdn(index: usize) -> String {
    msisdn(index, 1)
}

/// Whether DFSP `index` of `count` is a payer (the first half, rounded up).
pub fn is_payer(index: usize, count: usize) -> bool {
    index <= count.div_ceil(2)
}

/// Checks a DFSP count given by a user.
pub fn check_count(count: usize) -> Result<(), String> {
    if (1..=DFSPS_MAX).contains(&count) {
        Ok(())
    } else {
        Err(format!(
            "the layout has room for 1 to {DFSPS_MAX} DFSPs, not {count}"
        ))
    }
}

/// The simulator's view of DFSP `index`.
pub fn spec(index: usize) -> DfspSpec {
    DfspSpec::with_range(
        &name(index),
        &format!("19012345{}", index.saturating_sub(1)),
        MSISDNS_PER_DFSP,
        &format!("{}-ilp-secret", name(index)),
        CURRENCY,
    )
}

/// Every DFSP of a layout of `count`.
pub fn specs(count: usize) -> Vec<DfspSpec> {
    (1..=count).map(spec).collect()
}

/// What provisioning gives DFSP `index` of `count`.
pub fn plan(index: usize, count: usize) -> DfspPlan {
    DfspPlan::new(
        &name(index),
        CURRENCY,
        NET_DEBIT_CAP,
        is_payer(index, count).then_some(PAYER_FUNDS),
        spec(index).msisdns,
    )
}

/// Provisioning plans of every DFSP of a layout of `count`.
pub fn plans(count: usize) -> Vec<DfspPlan> {
    (1..=count).map(|index| plan(index, count)).collect()
}

/// The FX layout's foreign exchange provider.
pub const FXP_NAME: &str = "perffsp-fxp";
/// The FX layout's payee DFSP, holding [`FX_CURRENCY`].
pub const FX_PAYEE_NAME: &str = "perffsp-eur";
/// The currency the FXP converts [`CURRENCY`] to, and the FX payee's.
pub const FX_CURRENCY: &str = "EUR";
/// The FXP's rate: [`FX_CURRENCY`] per [`CURRENCY`], an exact decimal.
pub const FX_RATE: &str = "0.9";
/// The FXP's deposit, in [`FX_CURRENCY`] (what it delivers from).
pub const FXP_FUNDS: &str = "1000000";
/// The prefix of the FX payee's MSISDNs: `19012346000` … `19012346099`.
pub const FX_PAYEE_MSISDN_PREFIX: &str = "190123460";

/// The `n`th MSISDN (0–99) of the FX payee: `190123460{n:02}`.
pub fn fx_msisdn(n: usize) -> String {
    format!("{FX_PAYEE_MSISDN_PREFIX}{n:02}")
}

/// The customer a test payment to the FX payee uses (`19012346001`).
pub fn fx_test_msisdn() -> String {
    fx_msisdn(1)
}

/// The simulator's view of the FXP.
pub fn fxp_spec() -> DfspSpec {
    DfspSpec::fxp(
        FXP_NAME,
        &format!("{FXP_NAME}-ilp-secret"),
        FxpSpec::new(CURRENCY, FX_CURRENCY, FX_RATE),
    )
}

/// The simulator's view of the FX payee.
pub fn fx_payee_spec() -> DfspSpec {
    DfspSpec::with_range(
        FX_PAYEE_NAME,
        FX_PAYEE_MSISDN_PREFIX,
        MSISDNS_PER_DFSP,
        &format!("{FX_PAYEE_NAME}-ilp-secret"),
        FX_CURRENCY,
    )
}

/// The FX layout's DFSPs: the FXP, then the EUR payee.
pub fn fx_specs() -> Vec<DfspSpec> {
    vec![fxp_spec(), fx_payee_spec()]
}

/// What provisioning gives the FX layout's DFSPs: the FXP a USD position (no deposit) and an
/// EUR one (with [`FXP_FUNDS`]), both capped at [`NET_DEBIT_CAP`]; the EUR payee an EUR
/// position starting at 0 and its MSISDNs.
pub fn fx_plans() -> Vec<DfspPlan> {
    vec![
        DfspPlan::new(FXP_NAME, CURRENCY, NET_DEBIT_CAP, None, Vec::new()).with_currency(
            CurrencyPlan::new(FX_CURRENCY, NET_DEBIT_CAP, Some(FXP_FUNDS)),
        ),
        DfspPlan::new(
            FX_PAYEE_NAME,
            FX_CURRENCY,
            NET_DEBIT_CAP,
            None,
            fx_payee_spec().msisdns,
        ),
    ]
}

/// The FX layout's DFSP names.
pub fn fx_names() -> Vec<String> {
    vec![FXP_NAME.to_string(), FX_PAYEE_NAME.to_string()]
}

/// A DFSP of the layouts as the operator commands check it: its currencies (each with a
/// POSITION and a SETTLEMENT account and a net debit cap), its MSISDNs, and what it converts
/// when it is an FXP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub currencies: Vec<String>,
    pub msisdns: Vec<String>,
    pub fxp: Option<crate::FxpSpec>,
}

impl Member {
    fn of(spec: DfspSpec, plan: &DfspPlan) -> Member {
        Member {
            name: spec.name,
            currencies: plan.currencies().into_iter().map(|c| c.currency).collect(),
            msisdns: spec.msisdns,
            fxp: spec.fxp,
        }
    }
}

/// `perffsp-1` … `perffsp-{count}`.
pub fn members(count: usize) -> Vec<Member> {
    (1..=count)
        .map(|index| Member::of(spec(index), &plan(index, count)))
        .collect()
}

/// The FX layout's DFSPs: the FXP and the EUR payee.
pub fn fx_members() -> Vec<Member> {
    fx_specs()
        .into_iter()
        .zip(fx_plans().iter())
        .map(|(spec, plan)| Member::of(spec, plan))
        .collect()
}

/// The member called `name` in a layout of `count` (FX DFSPs included).
pub fn member(name: &str, count: usize) -> Option<Member> {
    members(count)
        .into_iter()
        .chain(fx_members())
        .find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_layout() {
        assert_eq!(msisdn(1, 0), "19012345000");
        assert_eq!(test_msisdn(1), "19012345001");
        assert_eq!(test_msisdn(5), "19012345401");
        let perffsp5 = spec(5);
        assert_eq!(perffsp5.msisdns.len(), 100);
        assert_eq!(
            perffsp5.msisdns.first().map(String::as_str),
            Some("19012345400")
        );
        assert_eq!(
            perffsp5.msisdns.last().map(String::as_str),
            Some("19012345499")
        );
        let plans = plans(8);
        let payers: Vec<&str> = plans
            .iter()
            .filter(|p| p.funds.is_some())
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(payers, ["perffsp-1", "perffsp-2", "perffsp-3", "perffsp-4"]);
        assert_eq!(index_of("perffsp-8"), Some(8));
        assert_eq!(index_of("perffsp-11"), None);
        assert_eq!(index_of("payerfsp"), None);
        assert!(check_count(0).is_err() && check_count(11).is_err() && check_count(8).is_ok());
        assert!(plans.iter().all(|p| p.other_currencies.is_empty()));
    }

    #[test]
    fn the_fx_layout() {
        let fx = fx_specs();
        let names: Vec<&str> = fx.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["perffsp-fxp", "perffsp-eur"]);
        let fxp = &fx[0];
        assert!(fxp.msisdns.is_empty());
        assert_eq!(fxp.fxp, Some(FxpSpec::new("USD", "EUR", "0.9")));
        let payee = &fx[1];
        assert_eq!(
            (payee.currency.as_str(), payee.fxp.is_none()),
            ("EUR", true)
        );
        assert_eq!(payee.msisdns.len(), 100);
        assert_eq!(
            payee.msisdns.first().map(String::as_str),
            Some("19012346000")
        );
        assert_eq!(
            payee.msisdns.last().map(String::as_str),
            Some("19012346099")
        );
        assert_eq!(fx_test_msisdn(), "19012346001");
        assert!(payee.msisdns.contains(&fx_test_msisdn()));
        // No MSISDN of the FX payee is one of the perffsp-N layout's.
        assert!(specs(DFSPS_MAX)
            .iter()
            .all(|s| s.msisdns.iter().all(|m| !payee.msisdns.contains(m))));

        let plans = fx_plans();
        let fxp_plan = &plans[0];
        assert_eq!(
            fxp_plan.currencies(),
            [
                CurrencyPlan::new("USD", "1000000", None),
                CurrencyPlan::new("EUR", "1000000", Some("1000000")),
            ]
        );
        assert!(fxp_plan.msisdns.is_empty());
        let payee_plan = &plans[1];
        assert_eq!(
            payee_plan.currencies(),
            [CurrencyPlan::new("EUR", "1000000", None)]
        );
        assert_eq!(payee_plan.msisdns, payee.msisdns);
    }
}
