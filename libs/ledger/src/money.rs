//! [`Money`]: an exact amount with four decimal places, stored as a count of 10^-4 units, the
//! precision of the ledger's `DECIMAL(18,4)` columns.

use std::fmt;

/// Decimal places the ledger keeps.
pub const SCALE: u32 = 4;
/// Units per whole currency unit.
pub const UNITS_PER_ONE: i64 = 10_000;
/// Most significant digits an amount may have (`DECIMAL(18,4)`): 14 before the point.
pub const PRECISION: u32 = 18;
/// Largest magnitude `DECIMAL(18,4)` holds, in units.
pub const UNITS_MAX: i64 = 999_999_999_999_999_999;

/// An exact signed amount: `units / 10^4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

/// Why a text is not an amount the ledger can hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{0:?} is not a decimal number")]
    Syntax(String),
    #[error("{0:?} has more than 4 decimal places")]
    TooManyDecimals(String),
    #[error("{0:?} has more than 18 digits")]
    TooLarge(String),
    #[error("the result does not fit in DECIMAL(18,4)")]
    Overflow,
}

impl Money {
    pub const ZERO: Money = Money(0);

    /// From a count of 10^-4 units; `None` beyond `DECIMAL(18,4)`.
    pub fn from_units(units: i64) -> Option<Money> {
        (units.abs() <= UNITS_MAX).then_some(Money(units))
    }

    pub fn units(self) -> i64 {
        self.0
    }

    /// Parses `[-]digits[.digits]` exactly: at most 4 decimals (trailing zeros beyond them are
    /// fine: `1.50000` is 1.5) and 14 integer digits. Exponents and spaces are refused.
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        let syntax = || MoneyError::Syntax(text.to_string());
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int, frac) = match unsigned.split_once('.') {
            Some((int, frac)) if !frac.is_empty() => (int, frac),
            Some(_) => return Err(syntax()),
            None => (unsigned, ""),
        };
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(syntax());
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > SCALE as usize {
            return Err(MoneyError::TooManyDecimals(text.to_string()));
        }
        let int = int.trim_start_matches('0');
        if int.len() > (PRECISION - SCALE) as usize {
            return Err(MoneyError::TooLarge(text.to_string()));
        }
        let mut units: i64 = 0;
        let padded = format!("{frac:0<4}");
        for b in int.bytes().chain(padded.bytes()) {
            units = units * 10 + i64::from(b - b'0');
        }
        Ok(Money(if negative { -units } else { units }))
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).and_then(Money::from_units)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).and_then(Money::from_units)
    }

    pub fn try_add(self, other: Money) -> Result<Money, MoneyError> {
        self.checked_add(other).ok_or(MoneyError::Overflow)
    }

    pub fn try_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.checked_sub(other).ok_or(MoneyError::Overflow)
    }

    pub fn negate(self) -> Money {
        Money(-self.0)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// The magnitude.
    pub fn abs(self) -> Money {
        Money(self.0.abs())
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// `1234.5600` as MySQL writes a DECIMAL(18,4): always four decimals.
    pub fn to_decimal_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!(
            "{sign}{}.{:04}",
            abs / UNITS_PER_ONE as u64,
            abs % UNITS_PER_ONE as u64
        )
    }
}

/// The shortest decimal: `1234.56`, `-5`, `0.0001`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_decimal_string();
        let trimmed = text.trim_end_matches('0').trim_end_matches('.');
        f.write_str(if trimmed == "-0" { "0" } else { trimmed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let cases = [
            ("0", 0, "0"),
            ("1", 10_000, "1"),
            ("1.5", 15_000, "1.5"),
            ("1.50000", 15_000, "1.5"),
            ("-0.0001", -1, "-0.0001"),
            ("99999999999999.9999", UNITS_MAX, "99999999999999.9999"),
            ("000123.4", 1_234_000, "123.4"),
        ];
        for (text, units, shown) in cases {
            let money = Money::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(money.units(), units, "{text}");
            assert_eq!(money.to_string(), shown, "{text}");
        }
        assert_eq!(
            Money::parse("1.2345").map(|m| m.to_decimal_string()),
            Ok("1.2345".to_string())
        );
        assert_eq!(
            Money::parse("-12").map(|m| m.to_decimal_string()),
            Ok("-12.0000".to_string())
        );
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            Money::parse("1.23456"),
            Err(MoneyError::TooManyDecimals(_))
        ));
        assert!(matches!(
            Money::parse("100000000000000"),
            Err(MoneyError::TooLarge(_))
        ));
        for bad in ["", "-", "1.", ".5", "1e3", " 1", "1,5", "+1", "--1", "0x10"] {
            assert!(
                matches!(Money::parse(bad), Err(MoneyError::Syntax(_))),
                "{bad}"
            );
        }
        let max = Money::from_units(UNITS_MAX).unwrap_or_default();
        assert_eq!(
            max.try_add(Money::from_units(1).unwrap_or_default()),
            Err(MoneyError::Overflow)
        );
        assert_eq!(Money::from_units(UNITS_MAX + 1), None);
    }
}
