//! Currencies: the 164 ISO-4217 codes the FSPIOP API accepts (identical in v1.1 and v2.0),
//! and the number of decimal places ILP amounts are scaled by.
//!
//! The ILP scale table is the reference SDK's (168 entries; note XXX and XTS have 4 places,
//! where ISO 4217 gives them none). Ten API currencies are missing from it (GGP, IMP, JEP,
//! MRO, SPL, STD, TVD, VEF, XDR, ZWD), so the SDK cannot build a packet for them; this crate
//! gives them the minor units of the currency they track or replaced, listed in
//! [`ILP_SCALE_EXTRA`].

/// The `Currency` enum of the API, sorted.
pub const API_CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP",
    "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GGP", "GHS", "GIP", "GMD",
    "GNF", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF", "IDR", "ILS", "IMP", "INR", "IQD",
    "IRR", "ISK", "JEP", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK",
    "MNT", "MOP", "MRO", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK",
    "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLL", "SOS", "SPL", "SRD",
    "STD", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TVD", "TWD",
    "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VEF", "VND", "VUV", "WST", "XAF", "XCD", "XDR",
    "XOF", "XPF", "XTS", "XXX", "YER", "ZAR", "ZMW", "ZWD",
];

/// Decimal places per currency, as the SDK's `currency.json` has them, sorted by code.
pub const ILP_SCALE_SDK: &[(&str, u32)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HRK", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLL", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("XTS", 4),
    ("XXX", 4),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWL", 2),
];

/// Scales for the API currencies the SDK table lacks.
pub const ILP_SCALE_EXTRA: &[(&str, u32)] = &[
    ("GGP", 2),
    ("IMP", 2),
    ("JEP", 2),
    ("MRO", 2),
    ("SPL", 2),
    ("STD", 2),
    ("TVD", 2),
    ("VEF", 2),
    ("XDR", 4),
    ("ZWD", 2),
];

/// Whether `code` is in the API's currency enum.
pub fn is_api_currency(code: &str) -> bool {
    API_CURRENCIES.binary_search(&code).is_ok()
}

/// The decimal places ILP amounts in `code` are scaled by.
pub fn ilp_scale(code: &str) -> Option<u32> {
    ILP_SCALE_SDK
        .binary_search_by(|(c, _)| c.cmp(&code))
        .ok()
        .and_then(|index| ILP_SCALE_SDK.get(index))
        .or_else(|| ILP_SCALE_EXTRA.iter().find(|(c, _)| *c == code))
        .map(|(_, scale)| *scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_complete() {
        assert_eq!(API_CURRENCIES.len(), 164);
        assert!(API_CURRENCIES
            .windows(2)
            .all(|w| matches!(w, [a, b] if a < b)));
        assert_eq!(ILP_SCALE_SDK.len(), 168);
        assert!(ILP_SCALE_SDK
            .windows(2)
            .all(|w| matches!(w, [a, b] if a.0 < b.0)));
        for code in API_CURRENCIES {
            assert!(ilp_scale(code).is_some(), "{code} has no scale");
        }
    }

    #[test]
    fn known_scales() {
        assert_eq!(ilp_scale("USD"), Some(2));
        assert_eq!(ilp_scale("JPY"), Some(0));
        assert_eq!(ilp_scale("BHD"), Some(3));
        assert_eq!(ilp_scale("CLF"), Some(4));
        assert_eq!(ilp_scale("XXX"), Some(4));
        assert_eq!(ilp_scale("ABC"), None);
        assert!(is_api_currency("USD"));
        assert!(!is_api_currency("CLF"));
        assert!(!is_api_currency("usd"));
    }
}
