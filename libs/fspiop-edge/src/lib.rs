//! The edge every FSPIOP-facing service shares:
//!
//! - [`Directory`]: participants, their accounts and their callback endpoints, read from the
//!   central ledger's database and cached for a bounded time;
//! - [`render_endpoint`]: filling `{{transferId}}`-style templates;
//! - [`Forwarder`]: sending FSPIOP requests and callbacks with Mojaloop's outbound header
//!   rules, over a keep-alive connection pool with a timeout on every request;
//! - [`headers_of`]: inbound headers in the form `fspiop::headers` validates;
//! - [`inbound`]: reading a body within the API's limit, the path's id, the duplicate hash.

mod directory;
mod forwarder;
pub mod inbound;

use std::collections::BTreeMap;

pub use directory::{AccountInfo, Directory, ParticipantInfo, STALE_SERVE_MAX};
pub use forwarder::{refusals_counter, Forwarder, ForwarderConfig, OutboundRequest};

/// Why the edge could not do its work (not an FSPIOP verdict).
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("central ledger database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("HTTP client: {0}")]
    Client(String),
}

/// Replaces each `{{name}}` in `template` with its value; unknown names become empty, as
/// Mustache renders them.
pub fn render_endpoint(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(rest.get(..start).unwrap_or(""));
        let after = rest.get(start + 2..).unwrap_or("");
        match after.find("}}") {
            Some(end) => {
                let name = after.get(..end).unwrap_or("").trim();
                if let Some((_, value)) = vars.iter().find(|(n, _)| *n == name) {
                    out.push_str(value);
                }
                rest = after.get(end + 2..).unwrap_or("");
            }
            None => {
                out.push_str(rest.get(start..).unwrap_or(""));
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Request headers with lower-case names (values that are not text are skipped).
pub fn headers_of(map: &axum::http::HeaderMap) -> BTreeMap<String, String> {
    map.iter()
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|v| (name.as_str().to_ascii_lowercase(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        let vars = [
            ("partyIdType", "MSISDN"),
            ("partyIdentifier", "19012345401"),
        ];
        assert_eq!(
            render_endpoint(
                "http://fsp/parties/{{partyIdType}}/{{partyIdentifier}}",
                &vars
            ),
            "http://fsp/parties/MSISDN/19012345401"
        );
        assert_eq!(
            render_endpoint("http://fsp/x/{{partySubIdOrType}}/y", &vars),
            "http://fsp/x//y"
        );
        assert_eq!(
            render_endpoint("http://fsp/{{ transferId }}", &[("transferId", "t1")]),
            "http://fsp/t1"
        );
        assert_eq!(
            render_endpoint("http://fsp/{{open", &vars),
            "http://fsp/{{open"
        );
        assert_eq!(
            render_endpoint("http://fsp/plain", &vars),
            "http://fsp/plain"
        );
    }

    #[test]
    fn header_names_are_lower_case() {
        let mut map = axum::http::HeaderMap::new();
        map.insert(
            "FSPIOP-Source",
            axum::http::HeaderValue::from_static("perffsp-1"),
        );
        assert_eq!(
            headers_of(&map).get("fspiop-source").map(String::as_str),
            Some("perffsp-1")
        );
    }
}
