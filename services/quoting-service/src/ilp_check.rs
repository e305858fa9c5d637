//! Does the ILP packet in a quote response agree with the response it travels in?
//!
//! The payee DFSP builds `ilpPacket` and `condition` from the quote; the payer later sends the
//! packet back in `POST /transfers` and the ledger moves the packet's terms. A packet that
//! says something else than the quote the payer accepted is caught here, before the payer
//! sees it. Checked (every failure is 3100 Generic validation error, naming the member):
//!
//! 1. the packet decodes in the version its type byte names, one the deployment accepts
//!    (default: both), and carries a Transaction object;
//! 2. the Transaction object's `quoteId` is the quote being answered;
//! 3. amount: the packet's amount is `transferAmount` in minor units of its currency (the
//!    ILP scale table), and the Transaction object's `amount` is the same amount and currency.
//!    The amount field of an ILPv1 packet is not compared: Mojaloop's SDK computes it in
//!    floating point (4.11 USD becomes 411.00000000000006 minor units) and its encoder garbles
//!    it, for about one amount in nine; the Transaction object's amount, which the v1
//!    condition covers with the rest of the packet, is;
//! 4. expiry: the Transaction object's `expiration` (and, in ILPv4, the packet's `expiresAt`)
//!    is the response's `expiration`; an ILPv1 Transaction object made by Mojaloop's SDK
//!    carries no `expiration`, so a v1 packet without one is not checked for it;
//! 5. ILPv4: the packet's execution condition is the response's `condition`.
//!
//! Pure: no IO, no clock.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use fspiop::ilp::{self, IlpVersions, Packet};
use fspiop::types::{Money, QuotesIdPutResponse};
use fspiop::{amount, currency, datetime, ErrorCode, FspiopError};
use serde_json::Value;

/// What the packet told us beyond agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedPacket {
    /// The Transaction object's `transactionId` (persistent mode compares it with the stored
    /// quote's).
    pub transaction_id: Option<String>,
}

fn invalid(detail: impl Into<String>) -> FspiopError {
    FspiopError::with_detail(ErrorCode::GenericValidationError, detail)
}

/// `money` in minor units of its currency's ILP scale.
pub fn minor_units(money: &Money) -> Result<u64, String> {
    let scale = currency::ilp_scale(&money.currency)
        .ok_or_else(|| format!("currency {} has no ILP scale", money.currency))?;
    amount::to_minor_units(&money.amount, scale).map_err(|e| e.to_string())
}

fn text_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(value, |v, key| v.get(key))?.as_str()
}

/// Checks `response` (answering quote `quote_id`) against its own packet.
pub fn check_response(
    quote_id: &str,
    response: &QuotesIdPutResponse,
    versions: IlpVersions,
) -> Result<CheckedPacket, FspiopError> {
    let packet = ilp::decode_packet_of(&response.ilp_packet, versions)
        .map_err(|e| invalid(format!("ilpPacket does not decode: {e}")))?;
    let tx = packet
        .transaction_object()
        .map_err(|e| invalid(format!("ilpPacket data: {e}")))?;

    match text_at(&tx, &["quoteId"]) {
        Some(id) if id == quote_id => {}
        Some(id) => return Err(invalid(format!("ilpPacket is for quote {id}"))),
        None => return Err(invalid("ilpPacket transaction has no quoteId")),
    }

    let transfer = &response.transfer_amount;
    let expected = minor_units(transfer)
        .map_err(|e| invalid(format!("/transferAmount cannot be carried in ILP: {e}")))?;
    // Not for v1: see the module documentation.
    if !matches!(packet, Packet::V1(_)) && packet.amount() != expected {
        return Err(invalid(format!(
            "ilpPacket amount {} is not transferAmount {} {} ({expected})",
            packet.amount(),
            transfer.amount,
            transfer.currency
        )));
    }
    let tx_currency = text_at(&tx, &["amount", "currency"]).unwrap_or_default();
    if tx_currency != transfer.currency {
        return Err(invalid(format!(
            "ilpPacket currency {tx_currency:?} is not transferAmount currency {}",
            transfer.currency
        )));
    }
    let tx_amount = text_at(&tx, &["amount", "amount"]).unwrap_or_default();
    let tx_minor = minor_units(&Money {
        currency: tx_currency.to_string(),
        amount: tx_amount.to_string(),
    });
    if tx_minor != Ok(expected) {
        return Err(invalid(format!(
            "ilpPacket transaction amount {tx_amount:?} is not transferAmount {}",
            transfer.amount
        )));
    }

    let expiration_ms = datetime::parse_date_time(&response.expiration)
        .ok_or_else(|| invalid("/expiration is not a DateTime"))?;
    let tx_expiration = text_at(&tx, &["expiration"]);
    let v1_without_expiration = matches!(packet, Packet::V1(_)) && tx_expiration.is_none();
    let tx_expiration = tx_expiration.unwrap_or_default();
    if !v1_without_expiration
        && datetime::parse_iso8601_lenient(tx_expiration) != Some(expiration_ms)
    {
        return Err(invalid(format!(
            "ilpPacket expiration {tx_expiration:?} is not the quote's {}",
            response.expiration
        )));
    }
    if let Packet::V4(prepare) = &packet {
        if prepare.expires_at_ms != expiration_ms {
            return Err(invalid(format!(
                "ilpPacket expiresAt {} is not the quote's {}",
                datetime::format_date_time(prepare.expires_at_ms),
                response.expiration
            )));
        }
        let condition = URL_SAFE_NO_PAD.decode(response.condition.as_bytes()).ok();
        if condition.as_deref() != Some(prepare.execution_condition.as_slice()) {
            return Err(invalid(
                "ilpPacket execution condition is not the quote's condition",
            ));
        }
    }
    Ok(CheckedPacket {
        transaction_id: text_at(&tx, &["transactionId"]).map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fspiop::ilp::{Ilp, IlpVersion, PaymentV1};
    use serde_json::json;

    const QUOTE_ID: &str = "b51ec534-ee48-4575-b6a9-ead2955b8069";

    fn request() -> Value {
        json!({
            "quoteId": QUOTE_ID,
            "transactionId": "a8323bc6-c228-4df2-ae82-e5a997baf899",
            "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "123", "fspId": "payeefsp"}},
            "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "456", "fspId": "payerfsp"}},
            "amountType": "SEND",
            "amount": {"amount": "100", "currency": "USD"},
            "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"}
        })
    }

    /// A response with a packet made from `packet_terms` but carrying `shown` terms.
    fn response(version: IlpVersion, packet_terms: Value, shown: Value) -> QuotesIdPutResponse {
        let terms = Ilp::new(version, "secret")
            .quote_response_terms(&request(), &packet_terms)
            .unwrap();
        let mut body = shown;
        body["ilpPacket"] = json!(terms.ilp_packet);
        body["condition"] = json!(terms.condition);
        serde_json::from_value(body).unwrap()
    }

    fn terms(amount: &str, currency: &str, expiration: &str) -> Value {
        json!({"transferAmount": {"amount": amount, "currency": currency}, "expiration": expiration})
    }

    const EXPIRY: &str = "2030-01-24T10:00:00.000Z";

    #[test]
    fn agreeing_packets_pass_in_both_versions() {
        for version in [IlpVersion::V4, IlpVersion::V1] {
            let r = response(
                version,
                terms("100.5", "USD", EXPIRY),
                terms("100.50", "USD", EXPIRY),
            );
            let checked = check_response(QUOTE_ID, &r, IlpVersions::only(version)).unwrap();
            assert_eq!(
                checked.transaction_id.as_deref(),
                Some("a8323bc6-c228-4df2-ae82-e5a997baf899")
            );
        }
        // The same instant in another zone agrees.
        let r = response(
            IlpVersion::V4,
            terms("100", "USD", EXPIRY),
            terms("100", "USD", "2030-01-24T12:00:00.000+02:00"),
        );
        assert!(check_response(QUOTE_ID, &r, IlpVersions::BOTH).is_ok());
    }

    fn fails(r: &QuotesIdPutResponse, versions: IlpVersions, quote_id: &str, needle: &str) {
        let error = check_response(quote_id, r, versions).unwrap_err();
        assert_eq!(error.code, ErrorCode::GenericValidationError);
        assert!(error.description().contains(needle), "{error}");
    }

    #[test]
    fn disagreements_are_3100() {
        for version in [IlpVersion::V4, IlpVersion::V1] {
            let r = response(
                version,
                terms("100", "USD", EXPIRY),
                terms("101", "USD", EXPIRY),
            );
            let needle = match version {
                IlpVersion::V4 => "ilpPacket amount 10000 is not transferAmount 101 USD",
                IlpVersion::V1 => "ilpPacket transaction amount \"100\" is not transferAmount 101",
            };
            fails(&r, IlpVersions::BOTH, QUOTE_ID, needle);
            // Same minor units (100 JPY vs 1.00 USD) but another currency.
            let r = response(
                version,
                terms("1", "USD", EXPIRY),
                terms("100", "JPY", EXPIRY),
            );
            fails(
                &r,
                IlpVersions::BOTH,
                QUOTE_ID,
                "ilpPacket currency \"USD\" is not transferAmount currency JPY",
            );
            let r = response(
                version,
                terms("100", "USD", EXPIRY),
                terms("100", "USD", "2030-01-24T10:00:01.000Z"),
            );
            fails(&r, IlpVersions::BOTH, QUOTE_ID, "expiration");
            let r = response(
                version,
                terms("100", "USD", EXPIRY),
                terms("100", "USD", EXPIRY),
            );
            fails(
                &r,
                IlpVersions::BOTH,
                "01ARZ3NDEKTSV4RRFFQ69G5FAV",
                "ilpPacket is for quote b51ec534",
            );
        }
        let mut r = response(
            IlpVersion::V4,
            terms("100", "USD", EXPIRY),
            terms("100", "USD", EXPIRY),
        );
        r.condition = "f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA".into();
        fails(&r, IlpVersions::BOTH, QUOTE_ID, "condition");
        // A deployment that takes only v4 refuses a v1 packet, naming its version.
        let r = response(
            IlpVersion::V1,
            terms("100", "USD", EXPIRY),
            terms("100", "USD", EXPIRY),
        );
        fails(
            &r,
            IlpVersions::only(IlpVersion::V4),
            QUOTE_ID,
            "ilpPacket does not decode: packet has type 1 (ILP v1), which this switch does not accept",
        );
    }

    #[test]
    fn amounts_that_do_not_scale_are_refused() {
        let r = response(
            IlpVersion::V4,
            terms("100", "USD", EXPIRY),
            terms("100.001", "USD", EXPIRY),
        );
        fails(
            &r,
            IlpVersions::BOTH,
            QUOTE_ID,
            "/transferAmount cannot be carried in ILP",
        );
    }

    /// Mojaloop's SDK makes v1 Transaction objects without `expiration`: such a packet is
    /// checked for everything else it carries.
    #[test]
    fn a_v1_packet_without_expiration_passes_its_other_checks() {
        let packet = |amount: u64, quote_id: &str| {
            let mut tx = request();
            tx["quoteId"] = json!(quote_id);
            tx["amount"] = json!({"amount": "100", "currency": "USD"});
            let data = URL_SAFE_NO_PAD.encode(tx.to_string()).into_bytes();
            let bytes = PaymentV1 {
                amount,
                account: "g.payeefsp.msisdn.123".into(),
                data,
            }
            .encode();
            URL_SAFE_NO_PAD.encode(bytes)
        };
        let body = |ilp_packet: String| -> QuotesIdPutResponse {
            let mut body = terms("100", "USD", EXPIRY);
            body["ilpPacket"] = json!(ilp_packet);
            body["condition"] = json!("f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA");
            serde_json::from_value(body).unwrap()
        };
        assert!(
            check_response(QUOTE_ID, &body(packet(10000, QUOTE_ID)), IlpVersions::BOTH).is_ok()
        );
        // The SDK's floating-point amount field (4.11 → 411.00000000000006, garbled): not
        // compared in v1; the Transaction object's amount is.
        assert!(check_response(
            QUOTE_ID,
            &body(packet(4_110_000_000_006, QUOTE_ID)),
            IlpVersions::BOTH
        )
        .is_ok());
        let mut wrong = body(packet(10000, QUOTE_ID));
        wrong.transfer_amount.amount = "100.01".into();
        fails(
            &wrong,
            IlpVersions::BOTH,
            QUOTE_ID,
            "ilpPacket transaction amount \"100\" is not transferAmount 100.01",
        );
        fails(
            &body(packet(10000, "another")),
            IlpVersions::BOTH,
            QUOTE_ID,
            "ilpPacket is for quote another",
        );
    }
}
