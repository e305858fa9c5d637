//! The canonical JSON form Mojaloop's JavaScript signs and verifies: the output of
//! `safe-stable-stringify` (object keys sorted by UTF-16 code units, no whitespace, strings
//! escaped as `JSON.stringify` does, numbers printed as JavaScript prints a float64).

use serde_json::Value;

/// Serialises `value` in canonical form.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Parses `text` as JSON and returns its canonical form.
pub fn canonicalize(text: &str) -> Result<String, serde_json::Error> {
    let value: Value = serde_json::from_str(text)?;
    Ok(to_string(&value))
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => {
            // serde_json numbers are finite, so as_f64 always answers.
            out.push_str(&js_number(number.as_f64().unwrap_or(0.0)));
        }
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal exactly as `JSON.stringify` writes it.
pub fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float64 printed as JavaScript's `Number.prototype.toString` prints it
/// (ECMA-262 Number::toString with the shortest round-trip digits).
pub fn js_number(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if x < 0.0 {
        return format!("-{}", js_number(-x));
    }
    // Rust's `{:e}` gives the shortest digits that round-trip: "1.2345e-7", "1e21".
    let formatted = format!("{x:e}");
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let n = exponent + 1;
    if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let sign = if n - 1 < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{first}e{sign}{}", (n - 1).abs())
        } else {
            format!("{first}.{rest}e{sign}{}", (n - 1).abs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_javascript_prints_them() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (0.1, "0.1"),
            (-0.0, "0"),
            (123.456, "123.456"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (12345678901234567890.0, "12345678901234567000"),
            (-2.5, "-2.5"),
        ];
        for (x, want) in cases {
            assert_eq!(js_number(*x), *want, "{x}");
        }
    }

    #[test]
    fn keys_sorted_and_no_whitespace() {
        let text = r#"{ "b": 1, "a": {"z": [1, 2, {"y": null, "x": true}], "10": 0, "2": 0, "B": "\u0001/é"} }"#;
        assert_eq!(
            canonicalize(text).ok().as_deref(),
            Some(r#"{"a":{"10":0,"2":0,"B":"\u0001/é","z":[1,2,{"x":true,"y":null}]},"b":1}"#)
        );
    }

    #[test]
    fn utf16_order_differs_from_utf8_for_astral_keys() {
        // U+E000 sorts after U+1F600 in UTF-16 (0xE000 > 0xD83D) but before it in UTF-8.
        let text = "{\"\u{E000}\":1,\"\u{1F600}\":2}";
        assert_eq!(
            canonicalize(text).ok().as_deref(),
            Some("{\"\u{1F600}\":2,\"\u{E000}\":1}")
        );
    }
}
