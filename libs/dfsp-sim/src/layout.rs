//! The DFSP layout of the deployment guide the project follows: `perffsp-1` … `perffsp-N`, the
//! first half payers holding 1,000,000 USD, the second half payees starting at 0, and DFSP `i`
//! owning the 100 MSISDNs `19012345{i-1}00` … `19012345{i-1}99`. `mojaloop up --dfsps`,
//! `mojaloop sim`, `provision`, `verify-participants` and `test-transaction` all read it here.

use crate::provision::DfspPlan;
use crate::DfspSpec;

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
    DfspPlan {
        name: name(index),
        currency: CURRENCY.to_string(),
        net_debit_cap: NET_DEBIT_CAP.to_string(),
        funds: is_payer(index, count).then(|| PAYER_FUNDS.to_string()),
        msisdns: spec(index).msisdns,
    }
}

/// Provisioning plans of every DFSP of a layout of `count`.
pub fn plans(count: usize) -> Vec<DfspPlan> {
    (1..=count).map(|index| plan(index, count)).collect()
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
    }
}
