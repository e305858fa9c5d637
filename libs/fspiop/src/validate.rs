//! Validation of FSPIOP bodies and path parameters against the API definition, with the error
//! codes Mojaloop gives: a missing required element 3102, a wrong JSON type 3101, an
//! unexpected element 3103 (only when a service is set to reject unknown properties), and
//! any other rule (pattern, enumeration, length, item count) 3100. The first problem wins,
//! and the description names the field by its JSON pointer, e.g.
//! `Missing mandatory element - /payee/partyIdInfo must have required property 'fspId'`.
//!
//! Schemas are static data ([`Object`], [`Field`], [`Rule`]); the shapes are in
//! [`crate::types`].

use std::sync::LazyLock;

use serde_json::Value;

use crate::error::{ErrorCode, FspiopError};
use crate::{amount, currency, datetime, ilp};

/// A rule for one JSON value.
#[derive(Debug)]
pub enum Rule {
    /// A string of `min..=max` characters.
    Text { min: usize, max: usize },
    /// A string with a named format.
    Format(Format),
    /// One of these strings.
    OneOf(&'static str, &'static [&'static str]),
    /// An object.
    Object(&'static Object),
    /// An array of `min..=max` items.
    Array {
        item: &'static Rule,
        min: usize,
        max: usize,
    },
}

/// The string formats of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Amount,
    Currency,
    CorrelationId,
    DateTime,
    Date,
    FspId,
    /// FirstName, MiddleName, LastName.
    Name,
    MerchantClassificationCode,
    Latitude,
    Longitude,
    IlpPacket,
    /// IlpCondition and IlpFulfilment: 43 base64url characters.
    Binary32,
    ErrorCode,
    SubScenario,
    BalanceOfPayments,
    /// ALS path `ID`: 1..128 characters without whitespace or braces.
    PartyIdentifierPath,
    /// AuthenticationValue: an OTP of 3 to 10 digits or a QR code of 1 to 64 non-whitespace
    /// characters (the first includes in the second).
    AuthenticationValue,
}

/// One member of an object.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub required: bool,
    pub rule: Rule,
}

/// An object schema: its members in the order they are checked.
#[derive(Debug)]
pub struct Object {
    pub fields: &'static [Field],
}

/// How strict to be about properties the schema does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownFields {
    /// Unknown properties are allowed, at every version: what the FSPIOP API definition and
    /// Mojaloop's services accept (the services' default).
    #[default]
    Allow,
    /// Unknown properties get 3103 Too many elements (a service's strict option,
    /// `[validation] reject_additional_properties`).
    Reject,
}

pub const fn required(name: &'static str, rule: Rule) -> Field {
    Field {
        name,
        required: true,
        rule,
    }
}

pub const fn optional(name: &'static str, rule: Rule) -> Field {
    Field {
        name,
        required: false,
        rule,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn pointer_or_body(path: &str) -> &str {
    if path.is_empty() {
        "body"
    } else {
        path
    }
}

fn fail(code: ErrorCode, path: &str, message: impl std::fmt::Display) -> FspiopError {
    FspiopError::with_detail(code, format!("{} {message}", pointer_or_body(path)))
}

/// Validates `value` against `schema`.
pub fn validate_object(
    value: &Value,
    schema: &Object,
    unknown: UnknownFields,
) -> Result<(), FspiopError> {
    check_object(value, schema, unknown, &mut String::new())
}

fn check_object(
    value: &Value,
    schema: &Object,
    unknown: UnknownFields,
    path: &mut String,
) -> Result<(), FspiopError> {
    let Value::Object(map) = value else {
        return Err(fail(
            ErrorCode::MalformedSyntax,
            path,
            format_args!("must be object, not {}", json_type(value)),
        ));
    };
    for field in schema.fields.iter().filter(|f| f.required) {
        if !map.contains_key(field.name) {
            return Err(fail(
                ErrorCode::MissingElement,
                path,
                format_args!("must have required property '{}'", field.name),
            ));
        }
    }
    if unknown == UnknownFields::Reject {
        if let Some(extra) = map
            .keys()
            .find(|k| !schema.fields.iter().any(|f| f.name == k.as_str()))
        {
            return Err(fail(
                ErrorCode::TooManyElements,
                path,
                format_args!("must NOT have additional property '{extra}'"),
            ));
        }
    }
    for field in schema.fields {
        if let Some(member) = map.get(field.name) {
            let len = path.len();
            path.push('/');
            path.push_str(field.name);
            check(member, &field.rule, unknown, path)?;
            path.truncate(len);
        }
    }
    Ok(())
}

fn check(
    value: &Value,
    rule: &Rule,
    unknown: UnknownFields,
    path: &mut String,
) -> Result<(), FspiopError> {
    match rule {
        Rule::Object(schema) => check_object(value, schema, unknown, path),
        Rule::Array { item, min, max } => {
            let Value::Array(items) = value else {
                return Err(fail(
                    ErrorCode::MalformedSyntax,
                    path,
                    format_args!("must be array, not {}", json_type(value)),
                ));
            };
            if items.len() < *min {
                return Err(fail(
                    ErrorCode::GenericValidationError,
                    path,
                    format_args!("must NOT have fewer than {min} items"),
                ));
            }
            if items.len() > *max {
                return Err(fail(
                    ErrorCode::GenericValidationError,
                    path,
                    format_args!("must NOT have more than {max} items"),
                ));
            }
            for (index, member) in items.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&index.to_string());
                check(member, item, unknown, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Rule::Text { min, max } => {
            let text = expect_string(value, path)?;
            let count = text.chars().count();
            if count < *min {
                return Err(fail(
                    ErrorCode::GenericValidationError,
                    path,
                    format_args!("must NOT have fewer than {min} characters"),
                ));
            }
            if count > *max {
                return Err(fail(
                    ErrorCode::GenericValidationError,
                    path,
                    format_args!("must NOT have more than {max} characters"),
                ));
            }
            Ok(())
        }
        Rule::OneOf(type_name, allowed) => {
            let text = expect_string(value, path)?;
            if allowed.contains(&text) {
                Ok(())
            } else {
                Err(fail(
                    ErrorCode::GenericValidationError,
                    path,
                    format_args!("must be a {type_name}: {}", allowed.join(", ")),
                ))
            }
        }
        Rule::Format(format) => {
            let text = expect_string(value, path)?;
            if check_format(*format, text) {
                Ok(())
            } else {
                Err(fail(
                    ErrorCode::GenericValidationError,
                    path,
                    format_args!("must be {}", describe(*format)),
                ))
            }
        }
    }
}

fn expect_string<'a>(value: &'a Value, path: &str) -> Result<&'a str, FspiopError> {
    value.as_str().ok_or_else(|| {
        fail(
            ErrorCode::MalformedSyntax,
            path,
            format_args!("must be string, not {}", json_type(value)),
        )
    })
}

fn describe(format: Format) -> &'static str {
    match format {
        Format::Amount => {
            "an Amount (18 digits, 4 decimals, no sign, no leading or trailing zeros)"
        }
        Format::Currency => "a supported ISO 4217 currency code",
        Format::CorrelationId => "a UUID (lower case) or ULID",
        Format::DateTime => "a DateTime like 2016-05-24T08:38:08.699-04:00",
        Format::Date => "a Date like 1984-01-01",
        Format::FspId => "an FspId of 1 to 32 characters",
        Format::Name => "a name of 1 to 128 letters, marks, digits, spaces and .,'-",
        Format::MerchantClassificationCode => "1 to 4 digits",
        Format::Latitude => "a Latitude",
        Format::Longitude => "a Longitude",
        Format::IlpPacket => "base64url of 1 to 32768 characters",
        Format::Binary32 => "43 base64url characters",
        Format::ErrorCode => "a 4-digit error code",
        Format::SubScenario => "1 to 32 upper-case letters or underscores",
        Format::BalanceOfPayments => "a 3-digit code",
        Format::PartyIdentifierPath => "1 to 128 characters without whitespace or braces",
        Format::AuthenticationValue => "1 to 64 characters without whitespace",
    }
}

static NAME: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
    regex::Regex::new(r"^[\p{L}\p{M}\p{Nd}\p{Pc}\p{Join_Control} .,'\u{2019}-]{1,128}$").ok()
});

/// Whether `text` has the named format.
pub fn check_format(format: Format, text: &str) -> bool {
    match format {
        Format::Amount => amount::is_valid_amount(text),
        Format::Currency => currency::is_api_currency(text),
        Format::CorrelationId => is_correlation_id(text),
        Format::DateTime => datetime::parse_date_time(text).is_some(),
        Format::Date => datetime::parse_date(text).is_some(),
        Format::FspId => (1..=32).contains(&text.chars().count()),
        Format::Name => {
            !text.trim().is_empty() && NAME.as_ref().is_some_and(|re| re.is_match(text))
        }
        Format::MerchantClassificationCode => {
            (1..=4).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
        }
        Format::Latitude => is_coordinate(text, 90),
        Format::Longitude => is_coordinate(text, 180),
        Format::IlpPacket => is_ilp_packet_text(text),
        Format::Binary32 => text.len() == 43 && text.bytes().all(is_base64url_byte),
        Format::ErrorCode => {
            text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0')
        }
        Format::SubScenario => {
            (1..=32).contains(&text.len())
                && text.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        }
        Format::BalanceOfPayments => {
            text.len() == 3 && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0')
        }
        Format::PartyIdentifierPath => {
            (1..=128).contains(&text.chars().count())
                && !text
                    .chars()
                    .any(|c| c.is_whitespace() || c == '{' || c == '}')
        }
        Format::AuthenticationValue => {
            (1..=64).contains(&text.chars().count()) && !text.chars().any(char::is_whitespace)
        }
    }
}

fn is_base64url_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// `^[A-Za-z0-9-_]+[=]{0,2}$`, 1..32768 characters.
fn is_ilp_packet_text(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    let padding = text.len() - body.len();
    text.len() <= 32_768 && !body.is_empty() && padding <= 2 && body.bytes().all(is_base64url_byte)
}

/// UUID v1..v7 in lower case (`8-4-4-4-12`, version digit 1..7, variant 8/9/a/b), or a ULID
/// (26 upper-case Crockford base32 characters).
pub fn is_correlation_id(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() == 26 {
        return b.iter().all(|c| {
            c.is_ascii_digit()
                || (c.is_ascii_uppercase() && !matches!(c, b'I' | b'L' | b'O' | b'U'))
        });
    }
    if b.len() != 36 {
        return false;
    }
    b.iter().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => *c == b'-',
        14 => (b'1'..=b'7').contains(c),
        19 => matches!(c, b'8' | b'9' | b'a' | b'b'),
        _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
    })
}

/// `^(\+|-)?(?:LIMIT(?:(?:\.0{1,6})?)|(?:[0-9]|...)(?:(?:\.[0-9]{1,6})?))$` for latitude (90)
/// and longitude (180).
fn is_coordinate(text: &str, limit: u32) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let int_ok = !int.is_empty()
        && int.len() <= 3
        && int.bytes().all(|b| b.is_ascii_digit())
        && !(int.len() > 1 && int.starts_with('0'))
        && int.parse::<u32>().is_ok_and(|v| v <= limit);
    let frac_ok = match frac {
        None => true,
        Some(frac) => {
            (1..=6).contains(&frac.len())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && (int.parse::<u32>().is_ok_and(|v| v < limit) || frac.bytes().all(|b| b == b'0'))
        }
    };
    int_ok && frac_ok
}

/// Parses a JSON body: malformed JSON is 3101.
pub fn parse_json(body: &[u8]) -> Result<Value, FspiopError> {
    serde_json::from_slice(body).map_err(|e| {
        FspiopError::with_detail(
            ErrorCode::MalformedSyntax,
            format!("body is not valid JSON: {e}"),
        )
    })
}

/// A path parameter that must be a CorrelationId (transfer, quote ids): 3101 otherwise.
pub fn correlation_id_param(name: &str, value: &str) -> Result<(), FspiopError> {
    if is_correlation_id(value) {
        Ok(())
    } else {
        Err(FspiopError::with_detail(
            ErrorCode::MalformedSyntax,
            format!("{name} {value:?} is not a UUID or ULID"),
        ))
    }
}

/// Whether the decoded `ilpPacket` is well formed for `version` (used by checks that go
/// beyond the pattern).
pub fn ilp_packet_decodes(text: &str, version: ilp::IlpVersion) -> bool {
    ilp::decode_packet(text, version).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids() {
        for ok in [
            "b51ec534-ee48-4575-b6a9-ead2955b8069",
            "01890d6e-8a6c-7e5e-9f5b-1a2b3c4d5e6f",
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        ] {
            assert!(is_correlation_id(ok), "{ok}");
        }
        for bad in [
            "B51EC534-EE48-4575-B6A9-EAD2955B8069",
            "b51ec534-ee48-8575-b6a9-ead2955b8069",
            "b51ec534-ee48-4575-c6a9-ead2955b8069",
            "b51ec534ee484575b6a9ead2955b8069",
            "01ARZ3NDEKTSV4RRFFQ69G5FAI",
            "01arz3ndektsv4rrffq69g5fav",
            "",
        ] {
            assert!(!is_correlation_id(bad), "{bad}");
        }
    }

    #[test]
    fn coordinates() {
        for ok in ["90", "-90.000000", "+45.123456", "0", "89.9"] {
            assert!(check_format(Format::Latitude, ok), "{ok}");
        }
        for bad in ["90.1", "91", "45.1234567", "045", "", "+", "1e2"] {
            assert!(!check_format(Format::Latitude, bad), "{bad}");
        }
        assert!(check_format(Format::Longitude, "-180"));
        assert!(check_format(Format::Longitude, "179.999999"));
        assert!(!check_format(Format::Longitude, "180.5"));
    }

    #[test]
    fn names() {
        for ok in [
            "Élodie",
            "Ngʼang'a",
            "李小龙",
            "Mary-Jane O'Neil",
            "José María",
            "Dvořák",
            "A.B.",
        ] {
            assert!(check_format(Format::Name, ok), "{ok}");
        }
        for bad in ["", "   ", "Bob!", "a<b", &"x".repeat(129), "😀"] {
            assert!(!check_format(Format::Name, bad), "{bad}");
        }
    }

    #[test]
    fn other_formats() {
        assert!(check_format(Format::IlpPacket, "AYIBgQAAAAAAAASw"));
        assert!(check_format(Format::IlpPacket, "AYIBgQAAAAAAAASw=="));
        assert!(!check_format(Format::IlpPacket, "AYIBgQAAAAAAAASw==="));
        assert!(!check_format(Format::IlpPacket, "AYIB+gQ"));
        assert!(!check_format(Format::IlpPacket, ""));
        assert!(check_format(
            Format::Binary32,
            "GRzLaTP7DJ9t4P-a_BA0WA9wzzlsugf00-Tn6kESAfM"
        ));
        assert!(!check_format(
            Format::Binary32,
            "GRzLaTP7DJ9t4P-a_BA0WA9wzzlsugf00-Tn6kESAf="
        ));
        assert!(!check_format(
            Format::Binary32,
            "GRzLaTP7DJ9t4P-a_BA0WA9wzzlsugf00-Tn6kESAfMx"
        ));
        assert!(check_format(Format::ErrorCode, "3204"));
        assert!(!check_format(Format::ErrorCode, "0204"));
        assert!(!check_format(Format::ErrorCode, "32045"));
        assert!(check_format(Format::SubScenario, "LOCALLY_DEFINED"));
        assert!(!check_format(Format::SubScenario, "lower"));
        assert!(check_format(Format::BalanceOfPayments, "123"));
        assert!(!check_format(Format::BalanceOfPayments, "023"));
        assert!(check_format(Format::MerchantClassificationCode, "4321"));
        assert!(!check_format(Format::MerchantClassificationCode, "12345"));
        assert!(check_format(Format::PartyIdentifierPath, "19012345401"));
        assert!(!check_format(Format::PartyIdentifierPath, "a b"));
        assert!(!check_format(Format::PartyIdentifierPath, "{ID}"));
        assert!(check_format(Format::AuthenticationValue, "123456"));
        assert!(!check_format(Format::AuthenticationValue, "12 34"));
        assert!(!check_format(Format::AuthenticationValue, ""));
    }
}
