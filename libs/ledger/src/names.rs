//! Names and identifiers the ledger accepts.

/// A participant name: 2 to 30 characters of letters, digits, `-`, `_` and `.` (what Mojaloop's
/// admin API accepts for `name`, without characters that break URL paths).
pub fn is_valid_participant_name(name: &str) -> bool {
    (2..=30).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A settlement model name: 2 to 30 letters and digits.
pub fn is_valid_settlement_model_name(name: &str) -> bool {
    (2..=30).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participant_names() {
        for ok in ["perffsp-1", "payerfsp", "dfsp_2", "a.b"] {
            assert!(is_valid_participant_name(ok), "{ok}");
        }
        for bad in ["x", "", "has space", "slash/", &"x".repeat(31), "é-fsp"] {
            assert!(!is_valid_participant_name(bad), "{bad}");
        }
        assert!(is_valid_settlement_model_name("DEFERREDNET"));
        assert!(!is_valid_settlement_model_name("DEFERRED-NET"));
    }
}
