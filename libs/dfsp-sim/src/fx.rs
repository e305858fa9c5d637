//! The foreign exchange provider (FXP) side of FSPIOP 2.0 currency conversion, and the exact
//! decimal arithmetic of its rate.
//!
//! A simulated FXP ([`crate::DfspSpec::fxp`]) converts one pair, source → target, at an exact
//! decimal rate. It answers:
//!
//! - `POST /fxQuotes` with 202, then `PUT /fxQuotes/{conversionRequestId}` carrying the
//!   conversion terms completed (SEND: `targetAmount = sourceAmount × rate`; RECEIVE:
//!   `sourceAmount = targetAmount ÷ rate`; integer arithmetic on minor units, rounded half up
//!   to the target currency's minor units for SEND, up to the source currency's for RECEIVE;
//!   no charges) and a `condition`; or `PUT /fxQuotes/{ID}/error` 3100 for a pair it does not
//!   convert, terms not addressed to it, or amounts it cannot convert;
//! - `POST /fxTransfers` with 202, then `PUT /fxTransfers/{commitRequestId}` RESERVED with the
//!   fulfilment of the request's condition; or `PUT /fxTransfers/{ID}/error` (3100 for a pair it
//!   does not convert, 5105 when the condition is not the one it quoted for these terms);
//! - `PATCH /fxTransfers/{ID}` (the switch telling how the conversion ended) with 200, counted
//!   by `conversionState` ([`crate::Simulator::fx_patches`]).
//!
//! The FXP keeps no state: its condition is made by its ILP engine (HMAC-SHA256 with its own
//! secret, then SHA-256) over the conversion's terms — `conversionId`, `initiatingFsp`,
//! `counterPartyFsp` and both amounts, normalised to minor units — and the fulfilment is
//! re-derived from the fxTransfer's own terms with `commitRequestId` as the `conversionId` (the
//! payer commits the conversion it was quoted under that id, as Mojaloop's SDK does). An
//! fxTransfer whose terms differ from the quote's gets a fulfilment that does not match its
//! condition, and is refused.

use super::*;

use fspiop::amount;
use fspiop::currency;

/// An exact positive decimal: `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    mantissa: u128,
    scale: u32,
}

/// Most decimals a rate may have.
const RATE_DECIMALS_MAX: usize = 18;
/// Most digits in all of a rate.
const RATE_DIGITS_MAX: usize = 30;

impl Rate {
    /// Parses `digits[.digits]`, greater than zero.
    pub(crate) fn parse(text: &str) -> Result<Rate, String> {
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        let plain = !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
            && !(text.contains('.') && frac.is_empty());
        if !plain {
            return Err(format!("rate {text:?} is not a plain decimal"));
        }
        if frac.len() > RATE_DECIMALS_MAX || int.len() + frac.len() > RATE_DIGITS_MAX {
            return Err(format!("rate {text:?} has too many digits"));
        }
        let digits = format!("{int}{frac}");
        let mantissa: u128 = digits
            .parse()
            .map_err(|_| format!("rate {text:?} is not a plain decimal"))?;
        if mantissa == 0 {
            return Err(format!("rate {text:?} is not greater than zero"));
        }
        let scale = u32::try_from(frac.len()).map_err(|_| format!("rate {text:?}"))?;
        Ok(Rate { mantissa, scale })
    }
}

fn pow10(exponent: u32) -> Option<u128> {
    10_u128.checked_pow(exponent)
}

/// Minor units of `amount` (a plain decimal: `"90"`, `"90.00"`) in `currency` (its ILP
/// scale).
fn minor(amount: &str, currency: &str) -> Result<(u128, u32), String> {
    let scale =
        currency::ilp_scale(currency).ok_or_else(|| format!("unknown currency {currency}"))?;
    let units = amount::to_minor_units_u128(amount, scale)
        .map_err(|e| format!("{amount} {currency}: {e}"))?;
    Ok((units, scale))
}

/// `units / 10^scale` as an FSPIOP amount, refused when zero or too large.
fn render(units: u128, scale: u32, currency: &str) -> Result<String, String> {
    let text = amount::from_minor_units(units, scale);
    if units == 0 {
        return Err(format!("the conversion gives 0 {currency}"));
    }
    if !amount::is_valid_amount(&text) {
        return Err(format!("the conversion gives {text} {currency}, too large"));
    }
    Ok(text)
}

/// SEND: `source × rate` in `target_currency`, rounded half up to its minor units.
pub(crate) fn target_for_source(
    source: &str,
    source_currency: &str,
    rate: Rate,
    target_currency: &str,
) -> Result<String, String> {
    let (units, source_scale) = minor(source, source_currency)?;
    let target_scale = currency::ilp_scale(target_currency)
        .ok_or_else(|| format!("unknown currency {target_currency}"))?;
    let overflow = || format!("{source} {source_currency} × rate overflows");
    let numerator = units
        .checked_mul(rate.mantissa)
        .and_then(|n| n.checked_mul(pow10(target_scale)?))
        .ok_or_else(overflow)?;
    let denominator = pow10(source_scale + rate.scale).ok_or_else(overflow)?;
    let rounded = numerator
        .checked_add(denominator / 2)
        .ok_or_else(overflow)?
        / denominator;
    render(rounded, target_scale, target_currency)
}

/// RECEIVE: `target ÷ rate` in `source_currency`, rounded up to its minor units (the FXP is
/// paid at least its rate).
pub(crate) fn source_for_target(
    target: &str,
    target_currency: &str,
    rate: Rate,
    source_currency: &str,
) -> Result<String, String> {
    let (units, target_scale) = minor(target, target_currency)?;
    let source_scale = currency::ilp_scale(source_currency)
        .ok_or_else(|| format!("unknown currency {source_currency}"))?;
    let overflow = || format!("{target} {target_currency} ÷ rate overflows");
    let numerator = units
        .checked_mul(pow10(source_scale + rate.scale).ok_or_else(overflow)?)
        .ok_or_else(overflow)?;
    let denominator = rate
        .mantissa
        .checked_mul(pow10(target_scale).ok_or_else(overflow)?)
        .ok_or_else(overflow)?;
    let rounded = numerator.div_ceil(denominator);
    render(rounded, source_scale, source_currency)
}

/// Checks an FXP's configuration: two different currencies with a scale, a valid rate.
pub(crate) fn check_fxp(fxp: &FxpSpec) -> Result<Rate, String> {
    for code in [&fxp.source_currency, &fxp.target_currency] {
        if currency::ilp_scale(code).is_none() {
            return Err(format!("unknown currency {code}"));
        }
    }
    if fxp.source_currency == fxp.target_currency {
        return Err(format!("converts {} to itself", fxp.source_currency));
    }
    Rate::parse(&fxp.rate)
}

/// Whether two amounts are equal in `currency` (`"90"` and `"90.00"` are).
pub(crate) fn same_amount(a: &str, b: &str, currency: &str) -> bool {
    matches!((minor(a, currency), minor(b, currency)), (Ok(x), Ok(y)) if x == y)
}

/// An expiration no real payment reaches: the FXP's terms object needs one for the ILP
/// engine, and it must be the same at quote and at transfer.
const TERMS_EXPIRATION: &str = "2000-01-01T00:00:00.000Z";

/// The condition and fulfilment `ilp` makes for a conversion's terms.
fn secret_of_terms(
    ilp: &Ilp,
    conversion_id: &str,
    initiating_fsp: &str,
    fxp: &str,
    source: (&str, &str),
    target: (&str, &str),
) -> Result<(String, String), String> {
    let normal = |(amount, currency): (&str, &str)| {
        minor(amount, currency)
            .map(|(units, scale)| json!({"amount": amount::from_minor_units(units, scale), "currency": currency}))
    };
    let terms = json!({
        "conversionId": conversion_id,
        "initiatingFsp": initiating_fsp,
        "counterPartyFsp": fxp,
        "sourceAmount": normal(source)?,
        "amount": normal(target)?,
        "expiration": TERMS_EXPIRATION,
    });
    let made = ilp
        .terms_for_transaction(terms)
        .map_err(|e| e.to_string())?;
    Ok((made.condition, made.fulfilment))
}

/// Why an FXP refused: an FSPIOP error code and description.
pub(crate) type Refusal = (String, String);

fn refusal(code: &str, description: String) -> Refusal {
    (code.to_string(), description)
}

/// The `PUT /fxQuotes/{ID}` body FXP `sim` answers `request` (a `POST /fxQuotes` body) with.
pub(crate) fn quote_terms(sim: &Dfsp, request: &Value) -> Result<Value, Refusal> {
    let invalid = |why: String| refusal("3100", format!("Generic validation error - {why}"));
    let name = sim.spec.name.as_str();
    let (Some(fxp), Some(rate)) = (&sim.spec.fxp, sim.rate) else {
        return Err(invalid(format!(
            "{name} is not a foreign exchange provider"
        )));
    };
    let mut terms = at(request, "/conversionTerms").clone();
    let text = |pointer: &str| at(&terms, pointer).as_str().map(str::to_string);
    let (source_currency, target_currency) = (
        text("/sourceAmount/currency").unwrap_or_default(),
        text("/targetAmount/currency").unwrap_or_default(),
    );
    if !fxp.converts(&source_currency, &target_currency) {
        return Err(invalid(format!(
            "FXP {name} does not convert {source_currency} to {target_currency} (it converts {} to {})",
            fxp.source_currency, fxp.target_currency
        )));
    }
    if text("/counterPartyFsp").as_deref() != Some(name) {
        return Err(invalid(format!(
            "conversionTerms.counterPartyFsp is not {name}"
        )));
    }
    let (Some(conversion_id), Some(initiating_fsp)) =
        (text("/conversionId"), text("/initiatingFsp"))
    else {
        return Err(invalid(
            "conversionTerms needs conversionId and initiatingFsp".into(),
        ));
    };
    let (source, target) = match text("/amountType").as_deref() {
        Some("SEND") => {
            let source = text("/sourceAmount/amount")
                .ok_or_else(|| invalid("a SEND conversion needs sourceAmount.amount".into()))?;
            let target = target_for_source(&source, &source_currency, rate, &target_currency)
                .map_err(invalid)?;
            (source, target)
        }
        Some("RECEIVE") => {
            let target = text("/targetAmount/amount")
                .ok_or_else(|| invalid("a RECEIVE conversion needs targetAmount.amount".into()))?;
            let source = source_for_target(&target, &target_currency, rate, &source_currency)
                .map_err(invalid)?;
            (source, target)
        }
        _ => return Err(invalid("amountType is not SEND or RECEIVE".into())),
    };
    let (condition, _) = secret_of_terms(
        &sim.ilp,
        &conversion_id,
        &initiating_fsp,
        name,
        (&source, &source_currency),
        (&target, &target_currency),
    )
    .map_err(invalid)?;
    set(
        &mut terms,
        "sourceAmount",
        json!({"amount": source, "currency": source_currency}),
    );
    set(
        &mut terms,
        "targetAmount",
        json!({"amount": target, "currency": target_currency}),
    );
    set(&mut terms, "charges", json!([]));
    Ok(json!({"condition": condition, "conversionTerms": terms}))
}

/// The `PUT /fxTransfers/{ID}` body FXP `sim` answers `request` (a `POST /fxTransfers` body)
/// with: RESERVED with the fulfilment, when the request's condition is the one it quoted.
pub(crate) fn transfer_fulfilment(sim: &Dfsp, request: &Value) -> Result<Value, Refusal> {
    let invalid = |why: String| refusal("3100", format!("Generic validation error - {why}"));
    let name = sim.spec.name.as_str();
    let Some(fxp) = &sim.spec.fxp else {
        return Err(invalid(format!(
            "{name} is not a foreign exchange provider"
        )));
    };
    let text = |pointer: &str| {
        at(request, pointer)
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let (source_currency, target_currency) = (
        text("/sourceAmount/currency"),
        text("/targetAmount/currency"),
    );
    if !fxp.converts(&source_currency, &target_currency) {
        return Err(invalid(format!(
            "FXP {name} does not convert {source_currency} to {target_currency}"
        )));
    }
    if text("/counterPartyFsp") != name {
        return Err(invalid(format!("counterPartyFsp is not {name}")));
    }
    let (_, fulfilment) = secret_of_terms(
        &sim.ilp,
        &text("/commitRequestId"),
        &text("/initiatingFsp"),
        name,
        (&text("/sourceAmount/amount"), &source_currency),
        (&text("/targetAmount/amount"), &target_currency),
    )
    .map_err(invalid)?;
    if !fspiop::ilp::fulfilment_matches(&fulfilment, &text("/condition")) {
        return Err(refusal(
            "5105",
            format!("Payee FSP rejected transaction - FXP {name} did not quote these conversion terms under this condition"),
        ));
    }
    Ok(json!({
        "conversionState": "RESERVED",
        "fulfilment": fulfilment,
        "completedTimestamp": fspiop::datetime::format_date_time(now_ms()),
    }))
}

/// A request refused synchronously: the status and FSPIOP error of the answer.
struct Rejection {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl Rejection {
    fn into_response(self) -> Response {
        fspiop_error(self.status, self.code, &self.description)
    }
}

/// The FSPIOP-Source of an FXP's request, or the 3102 answer.
fn requester(headers: &HeaderMap) -> Result<String, Rejection> {
    header(headers, "fspiop-source").ok_or_else(|| Rejection {
        status: StatusCode::BAD_REQUEST,
        code: "3102",
        description: "Missing mandatory element - fspiop-source".into(),
    })
}

/// The body as JSON and the string at `id_pointer`, or the 3101/3102 answer.
fn body_with_id(body: &[u8], id_pointer: &str) -> Result<(Value, String), Rejection> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Err(Rejection {
            status: StatusCode::BAD_REQUEST,
            code: "3101",
            description: "Malformed syntax - body is not JSON".into(),
        });
    };
    match at(&value, id_pointer).as_str() {
        Some(id) if !id.is_empty() && !id.contains('/') => {
            let id = id.to_string();
            Ok((value, id))
        }
        _ => Err(Rejection {
            status: StatusCode::BAD_REQUEST,
            code: "3102",
            description: format!(
                "Missing mandatory element - {}",
                id_pointer.trim_start_matches('/')
            ),
        }),
    }
}

/// The requester and the parsed body of an FXP's request.
fn accept_request(
    headers: &HeaderMap,
    body: &[u8],
    id_pointer: &str,
) -> Result<(String, Value, String), Rejection> {
    let requester = requester(headers)?;
    let (value, id) = body_with_id(body, id_pointer)?;
    Ok((requester, value, id))
}

fn unknown_dfsp() -> Response {
    fspiop_error(
        StatusCode::NOT_FOUND,
        "3200",
        "Generic ID not found - unknown DFSP",
    )
}

/// `POST /{dfsp}/fxQuotes`: the FXP's conversion terms.
pub(crate) async fn fx_quotes_post(
    State(inner): Shared,
    Path(dfsp): Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let started = Instant::now();
    if !inner.dfsps.contains_key(&dfsp) {
        return unknown_dfsp();
    }
    let (requester, request, id) = match accept_request(&headers, &body, "/conversionRequestId") {
        Ok(accepted) => accepted,
        Err(rejection) => return rejection.into_response(),
    };
    tokio::spawn(async move {
        let Some(sim) = inner.dfsps.get(&dfsp) else {
            return;
        };
        let (path, body) = match quote_terms(sim, &request) {
            Ok(body) => (format!("/fxQuotes/{id}"), body),
            Err((code, description)) => (
                format!("/fxQuotes/{id}/error"),
                error_body(&code, &description),
            ),
        };
        let base = inner.config.switch.quotes.clone();
        inner
            .answer(
                Phase::AnswerFxQuote,
                started,
                &base,
                path,
                &dfsp,
                &requester,
                body,
                Wire::V2,
            )
            .await;
    });
    StatusCode::ACCEPTED.into_response()
}

/// `POST /{dfsp}/fxTransfers`: the FXP reserves the conversion it quoted.
pub(crate) async fn fx_transfers_post(
    State(inner): Shared,
    Path(dfsp): Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let started = Instant::now();
    if !inner.dfsps.contains_key(&dfsp) {
        return unknown_dfsp();
    }
    let (requester, request, id) = match accept_request(&headers, &body, "/commitRequestId") {
        Ok(accepted) => accepted,
        Err(rejection) => return rejection.into_response(),
    };
    tokio::spawn(async move {
        let Some(sim) = inner.dfsps.get(&dfsp) else {
            return;
        };
        let (path, body) = match transfer_fulfilment(sim, &request) {
            Ok(body) => (format!("/fxTransfers/{id}"), body),
            Err((code, description)) => (
                format!("/fxTransfers/{id}/error"),
                error_body(&code, &description),
            ),
        };
        let base = inner.config.switch.transfers.clone();
        inner
            .answer(
                Phase::AnswerFxTransfer,
                started,
                &base,
                path,
                &dfsp,
                &requester,
                body,
                Wire::V2,
            )
            .await;
    });
    StatusCode::ACCEPTED.into_response()
}

/// `PUT /{dfsp}/fxTransfers/{id}[/error]` (the payer's callback) and `PATCH
/// /{dfsp}/fxTransfers/{id}` (the switch telling the FXP how the conversion ended: counted,
/// answered 200).
pub(crate) async fn fx_transfers_callback(
    State(inner): Shared,
    Path((dfsp, rest)): Path<(String, String)>,
    method: Method,
    body: bytes::Bytes,
) -> Response {
    if method == Method::PATCH && inner.dfsps.contains_key(&dfsp) {
        if rest.is_empty() || rest.contains('/') {
            return fspiop_error(StatusCode::NOT_FOUND, "3002", "Unknown URI");
        }
        let value: Value = serde_json::from_slice(&body).unwrap_or_default();
        let counter = match at(&value, "/conversionState").as_str() {
            Some("COMMITTED") => &inner.fx_patches.committed,
            Some("ABORTED") => &inner.fx_patches.aborted,
            _ => &inner.fx_patches.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(fxp = %dfsp, commit_request_id = %rest, state = ?at(&value, "/conversionState"), "fxTransfer outcome");
        return StatusCode::OK.into_response();
    }
    payer::callback(&inner, "fxTransfers", &dfsp, &rest, &method, &body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn rate(text: &str) -> Rate {
        Rate::parse(text).unwrap()
    }

    #[test]
    fn rates_are_exact_positive_decimals() {
        assert_eq!(
            rate("0.9"),
            Rate {
                mantissa: 9,
                scale: 1
            }
        );
        assert_eq!(
            rate("1250"),
            Rate {
                mantissa: 1250,
                scale: 0
            }
        );
        for bad in ["0", "0.000", "", ".5", "5.", "-1", "1e3", "0,9", " 1"] {
            assert!(Rate::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn send_rounds_half_up_to_the_target_minor_units() {
        let convert = |source: &str, from: &str, r: &str, to: &str| {
            target_for_source(source, from, rate(r), to)
        };
        assert_eq!(convert("100", "USD", "0.9", "EUR").unwrap(), "90");
        assert_eq!(convert("10.01", "USD", "0.9", "EUR").unwrap(), "9.01"); // 9.009
        assert_eq!(convert("0.05", "USD", "0.9", "EUR").unwrap(), "0.05"); // 0.045
        assert_eq!(convert("0.04", "USD", "0.9", "EUR").unwrap(), "0.04"); // 0.036
        assert_eq!(convert("1.11", "USD", "0.9", "EUR").unwrap(), "1"); // 0.999
        assert_eq!(convert("3", "USD", "147.123", "JPY").unwrap(), "441"); // 441.369
        assert_eq!(convert("1", "JPY", "0.00675", "USD").unwrap(), "0.01"); // 0.00675
        assert_eq!(
            convert("123456789012.34", "USD", "0.912345678901234567", "EUR").unwrap(),
            "112635267986.43" // 112635267986.4298…
        );
        assert!(convert("0.01", "USD", "0.4", "EUR").is_err(), "0.004 is 0");
        assert!(convert("1.005", "USD", "0.9", "EUR").is_err(), "3 decimals");
        assert!(
            convert("1", "USD", "0.9", "XXZ").is_err(),
            "unknown currency"
        );
    }

    #[test]
    fn receive_rounds_the_source_up() {
        let convert = |target: &str, to: &str, r: &str, from: &str| {
            source_for_target(target, to, rate(r), from)
        };
        assert_eq!(convert("90", "EUR", "0.9", "USD").unwrap(), "100");
        assert_eq!(convert("9.01", "EUR", "0.9", "USD").unwrap(), "10.02"); // 10.0111…
        assert_eq!(convert("441", "JPY", "147.123", "USD").unwrap(), "3"); // 2.99749…
    }

    #[test]
    fn amounts_compare_by_value() {
        assert!(same_amount("90", "90.00", "EUR"));
        assert!(!same_amount("90", "90.01", "EUR"));
        assert!(!same_amount("90", "x", "EUR"));
    }

    #[test]
    fn the_fxp_condition_binds_the_terms() {
        let ilp = Ilp::new(IlpVersion::V4, "fxp-secret");
        let id = "0b7c1a9e-3a5d-4d0e-9b8c-0a1b2c3d4e5f";
        let (condition, fulfilment) =
            secret_of_terms(&ilp, id, "payer", "fxp", ("100", "USD"), ("90", "EUR")).unwrap();
        assert!(fspiop::ilp::fulfilment_matches(&fulfilment, &condition));
        // The same terms written differently: the same condition.
        let again =
            secret_of_terms(&ilp, id, "payer", "fxp", ("100.00", "USD"), ("90.0", "EUR")).unwrap();
        assert_eq!(again.0, condition);
        // Another target amount: another condition.
        let other =
            secret_of_terms(&ilp, id, "payer", "fxp", ("100", "USD"), ("90.01", "EUR")).unwrap();
        assert_ne!(other.0, condition);
    }

    fn fxp() -> Dfsp {
        let spec = DfspSpec::fxp("fxp", "fxp-secret", FxpSpec::new("USD", "EUR", "0.9"));
        Dfsp {
            ilp: Ilp::new(IlpVersion::V4, &spec.ilp_secret),
            ilp_v1: Ilp::new(IlpVersion::V1, &spec.ilp_secret),
            msisdns: HashSet::new(),
            rate: Some(check_fxp(spec.fxp.as_ref().unwrap()).unwrap()),
            spec,
        }
    }

    fn quote_request(source: &str, target: &str, amount_type: &str) -> Value {
        json!({
            "conversionRequestId": "6c1f0f8e-2b5a-4f4e-8a57-1d2e3f4a5b6c",
            "conversionTerms": {
                "conversionId": "0b7c1a9e-3a5d-4d0e-9b8c-0a1b2c3d4e5f",
                "determiningTransferId": "5e2a1b3c-4d5e-4f6a-8b7c-9d0e1f2a3b4c",
                "initiatingFsp": "payer",
                "counterPartyFsp": "fxp",
                "amountType": amount_type,
                "sourceAmount": {"amount": "100", "currency": source},
                "targetAmount": {"amount": "45", "currency": target},
                "expiration": "2030-01-01T00:00:00.000Z",
            },
        })
    }

    #[test]
    fn the_fxp_quotes_then_reserves_exactly_what_it_quoted() {
        let fxp = fxp();
        let quoted = quote_terms(&fxp, &quote_request("USD", "EUR", "SEND")).unwrap();
        let terms = &quoted["conversionTerms"];
        assert_eq!(
            terms["sourceAmount"],
            json!({"amount": "100", "currency": "USD"})
        );
        assert_eq!(
            terms["targetAmount"],
            json!({"amount": "90", "currency": "EUR"})
        );
        assert_eq!(terms["charges"], json!([]));
        assert_eq!(terms["expiration"], "2030-01-01T00:00:00.000Z");
        let condition = quoted["condition"].as_str().unwrap().to_string();
        assert!(fspiop::ilp::is_canonical_32(&condition));

        let mut transfer = json!({
            "commitRequestId": terms["conversionId"],
            "determiningTransferId": terms["determiningTransferId"],
            "initiatingFsp": "payer",
            "counterPartyFsp": "fxp",
            "sourceAmount": terms["sourceAmount"],
            "targetAmount": terms["targetAmount"],
            "condition": condition,
            "expiration": "2030-01-01T00:00:00.000Z",
        });
        let reserved = transfer_fulfilment(&fxp, &transfer).unwrap();
        assert_eq!(reserved["conversionState"], "RESERVED");
        assert!(fspiop::ilp::fulfilment_matches(
            reserved["fulfilment"].as_str().unwrap(),
            &condition
        ));

        // Terms other than those quoted under this condition: refused.
        transfer["targetAmount"]["amount"] = json!("91");
        let (code, _) = transfer_fulfilment(&fxp, &transfer).unwrap_err();
        assert_eq!(code, "5105");
        transfer["targetAmount"]["amount"] = json!("90");
        transfer["commitRequestId"] = json!("1b7c1a9e-3a5d-4d0e-9b8c-0a1b2c3d4e5f");
        assert_eq!(transfer_fulfilment(&fxp, &transfer).unwrap_err().0, "5105");

        // RECEIVE: the source is computed.
        let quoted = quote_terms(&fxp, &quote_request("USD", "EUR", "RECEIVE")).unwrap();
        assert_eq!(
            quoted["conversionTerms"]["sourceAmount"],
            json!({"amount": "50", "currency": "USD"})
        );
    }

    #[test]
    fn the_fxp_refuses_what_it_does_not_convert() {
        let fxp = fxp();
        let (code, description) =
            quote_terms(&fxp, &quote_request("EUR", "USD", "SEND")).unwrap_err();
        assert_eq!(code, "3100");
        assert!(
            description.contains("fxp does not convert EUR to USD"),
            "{description}"
        );
        let mut elsewhere = quote_request("USD", "EUR", "SEND");
        elsewhere["conversionTerms"]["counterPartyFsp"] = json!("other");
        assert_eq!(quote_terms(&fxp, &elsewhere).unwrap_err().0, "3100");
        let mut not_an_fxp = fxp;
        not_an_fxp.spec.fxp = None;
        not_an_fxp.rate = None;
        let (code, description) =
            quote_terms(&not_an_fxp, &quote_request("USD", "EUR", "SEND")).unwrap_err();
        assert_eq!(code, "3100");
        assert!(description.contains("not a foreign exchange provider"));
    }
}
