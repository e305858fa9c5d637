//! The scalar formats a peer writes: FSPIOP dates and date-times, the HTTP `Date`, ILP
//! timestamps, `Amount` strings with their minor units, currencies, correlation ids and every
//! named string format of the schema. Where a parser has a printer, what parses prints back
//! as the same text.
#![no_main]
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a fuzz target asserts by panicking"
)]

use fspiop::validate::{check_format, Format};
use fspiop::{amount, currency, datetime};
use libfuzzer_sys::fuzz_target;

const FORMATS: &[Format] = &[
    Format::Amount,
    Format::Currency,
    Format::CorrelationId,
    Format::DateTime,
    Format::Date,
    Format::FspId,
    Format::Name,
    Format::MerchantClassificationCode,
    Format::Latitude,
    Format::Longitude,
    Format::IlpPacket,
    Format::Binary32,
    Format::ErrorCode,
    Format::SubScenario,
    Format::BalanceOfPayments,
    Format::PartyIdentifierPath,
    Format::AuthenticationValue,
];

fn dates(text: &str) {
    if let Some(ms) = datetime::parse_date(text) {
        assert_eq!(datetime::format_date_time(ms).get(..10), Some(text));
    }
    if let Some(ms) = datetime::parse_date_time(text) {
        if text.ends_with('Z') {
            assert_eq!(datetime::format_date_time(ms), text);
        }
        let printed = datetime::format_date_time(ms);
        assert_eq!(datetime::parse_date_time(&printed), Some(ms), "{printed}");
    }
    if let Some(ms) = datetime::parse_iso8601_lenient(text) {
        let printed = datetime::format_date_time(ms);
        assert_eq!(
            datetime::parse_iso8601_lenient(&printed),
            Some(ms),
            "{printed}"
        );
    }
    if let Some(ms) = datetime::parse_http_date(text) {
        assert_eq!(datetime::format_http_date(ms), text);
    }
    if let Some(ms) = datetime::parse_ilp_timestamp(text) {
        assert_eq!(datetime::format_ilp_timestamp(ms).as_deref(), Some(text));
    }
}

fn amounts(text: &str) {
    let valid = amount::is_valid_amount(text);
    for scale in 0..=4 {
        match amount::to_minor_units_u128(text, scale) {
            Ok(minor) => {
                let printed = amount::from_minor_units(minor, scale);
                let int_digits = printed.split('.').next().map_or(0, str::len);
                assert!(
                    amount::is_valid_amount(&printed) || int_digits > 18,
                    "{printed}"
                );
                assert_eq!(amount::to_minor_units_u128(&printed, scale), Ok(minor));
                if valid {
                    assert_eq!(printed, text, "a valid Amount prints back as itself");
                }
                if let Ok(small) = amount::to_minor_units(text, scale) {
                    assert_eq!(u128::from(small), minor);
                }
            }
            Err(amount::AmountError::TooManyDecimals { .. }) => {}
            Err(e) => assert!(!valid, "{text} at scale {scale}: {e}"),
        }
    }
    if valid {
        assert!(amount::to_minor_units_u128(text, 4).is_ok(), "{text}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    dates(text);
    amounts(text);
    let _ = currency::is_api_currency(text);
    let _ = currency::ilp_scale(text);
    for format in FORMATS {
        let _ = check_format(*format, text);
    }
    let _ = fspiop::validate::correlation_id_param("ID", text);
});
