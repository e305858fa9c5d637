//! FSPIOP `Amount` strings and exact conversion to integer minor units.
//!
//! An `Amount` is `^([0]|([1-9][0-9]{0,17}))([.][0-9]{0,3}[1-9])?$`: no sign, at most 18
//! integer digits, at most 4 decimals, no trailing zero, no leading zero. Arithmetic on money
//! is done on integers; floating point never touches an amount.

/// Why an amount string cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount is not a valid Amount")]
    Syntax,
    #[error("amount has more decimal places than the currency's scale {scale}")]
    TooManyDecimals { scale: u32 },
    #[error("amount does not fit in 64 bits of minor units")]
    Overflow,
}

/// Whether `text` matches the API's `Amount` pattern.
pub fn is_valid_amount(text: &str) -> bool {
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (text, None),
    };
    let int_ok = int == "0"
        || (!int.is_empty()
            && int.len() <= 18
            && !int.starts_with('0')
            && int.bytes().all(|b| b.is_ascii_digit()));
    let frac_ok = match frac {
        None => true,
        Some(frac) => {
            (1..=4).contains(&frac.len())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && !frac.ends_with('0')
        }
    };
    int_ok && frac_ok
}

/// Splits a plain decimal `digits[.digits]` (no sign, no exponent) into its parts.
fn split_decimal(text: &str) -> Option<(&str, &str)> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(text.contains('.') && frac.is_empty());
    ok.then_some((int, frac))
}

/// `amount × 10^scale` exactly, as `u128`. Accepts any plain decimal (`"5.50"`, `"007"`);
/// callers that need the API pattern check [`is_valid_amount`] first.
pub fn to_minor_units_u128(amount: &str, scale: u32) -> Result<u128, AmountError> {
    let (int, frac) = split_decimal(amount).ok_or(AmountError::Syntax)?;
    let frac_significant = frac.trim_end_matches('0');
    if frac_significant.len() > scale as usize {
        return Err(AmountError::TooManyDecimals { scale });
    }
    let mut value: u128 = 0;
    for b in int.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u128::from(b - b'0')))
            .ok_or(AmountError::Overflow)?;
    }
    let mut frac_digits = frac_significant.bytes();
    for _ in 0..scale {
        let digit = frac_digits.next().map_or(0, |b| b - b'0');
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u128::from(digit)))
            .ok_or(AmountError::Overflow)?;
    }
    Ok(value)
}

/// `amount × 10^scale` exactly, as `u64` (the ILP amount field).
pub fn to_minor_units(amount: &str, scale: u32) -> Result<u64, AmountError> {
    u64::try_from(to_minor_units_u128(amount, scale)?).map_err(|_| AmountError::Overflow)
}

/// Renders `minor / 10^scale` as an `Amount`: no trailing zeros, no trailing dot.
pub fn from_minor_units(minor: u128, scale: u32) -> String {
    let text = minor.to_string();
    if scale == 0 {
        return text;
    }
    let scale = scale as usize;
    let padded = if text.len() <= scale {
        format!("{}{}", "0".repeat(scale + 1 - text.len()), text)
    } else {
        text
    };
    let split = padded.len() - scale;
    let (int, frac) = padded.split_at(split);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern() {
        for ok in [
            "5",
            "5.5",
            "5.5555",
            "0",
            "0.5",
            "123456789012345678",
            "0.0001",
            "10",
        ] {
            assert!(is_valid_amount(ok), "{ok}");
        }
        for bad in [
            "5.0",
            "5.",
            "5.50",
            ".5",
            "00.5",
            "-5.5",
            "5.55555",
            "1234567890123456789",
            "",
            "1e3",
            "+1",
            " 1",
            "01",
            "0.00",
        ] {
            assert!(!is_valid_amount(bad), "{bad}");
        }
    }

    #[test]
    fn scaling() {
        assert_eq!(to_minor_units("99.99", 2), Ok(9999));
        assert_eq!(to_minor_units("100", 2), Ok(10000));
        assert_eq!(to_minor_units("5000", 0), Ok(5000));
        assert_eq!(to_minor_units("1.234", 3), Ok(1234));
        assert_eq!(to_minor_units("1.50", 1), Ok(15));
        assert_eq!(
            to_minor_units("1.234", 2),
            Err(AmountError::TooManyDecimals { scale: 2 })
        );
        assert_eq!(to_minor_units("184467440737095516.15", 2), Ok(u64::MAX));
        assert_eq!(
            to_minor_units("184467440737095516.16", 2),
            Err(AmountError::Overflow)
        );
        assert_eq!(to_minor_units("-1", 2), Err(AmountError::Syntax));
        assert_eq!(to_minor_units("1e3", 2), Err(AmountError::Syntax));
        assert_eq!(to_minor_units("1.", 2), Err(AmountError::Syntax));
    }

    #[test]
    fn rendering() {
        assert_eq!(from_minor_units(9999, 2), "99.99");
        assert_eq!(from_minor_units(10000, 2), "100");
        assert_eq!(from_minor_units(1, 4), "0.0001");
        assert_eq!(from_minor_units(0, 2), "0");
        assert_eq!(from_minor_units(1230, 3), "1.23");
        assert_eq!(from_minor_units(5, 0), "5");
    }
}
