//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the `traceparent` and
//! `tracestate` headers a DFSP (or Mojaloop's Testing Toolkit) sends, and the same context in
//! a Kafka message's `metadata.trace`, the shape Mojaloop's event SDK writes
//! (`{service, traceId, spanId, sampled, flags, tags: {tracestate}}`).
//!
//! Lenient by design: anything malformed reads as "no context" (the caller then starts a new
//! trace), never as an error to the sender.

use serde_json::{json, Value};

/// The `traceparent` header.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header.
pub const TRACESTATE: &str = "tracestate";
/// The longest `tracestate` carried on (the W3C limit a vendor must propagate is 512).
pub const TRACESTATE_LEN_MAX: usize = 512;

/// A parsed `traceparent`: trace id, parent (span) id and flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub parent_id: [u8; 8],
    pub flags: u8,
}

/// A trace context as it travels: `traceparent` and, when there is one, `tracestate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub parent: TraceParent,
    pub state: Option<String>,
}

impl TraceParent {
    /// Parses a `traceparent` value. `None` for anything the W3C rules refuse: a version that
    /// is not two lower-case hex digits or is `ff`, ids of the wrong length, upper-case or
    /// all-zero ids, flags that are not two hex digits, or (version `00`) anything after the
    /// flags. A future version is read by its version-00 prefix, as the spec asks.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let value = value.trim_matches(|c| c == ' ' || c == '\t');
        let bytes = value.as_bytes();
        // version(2) - trace-id(32) - parent-id(16) - flags(2)
        const LEN: usize = 55;
        if bytes.len() < LEN {
            return None;
        }
        let version = value.get(0..2)?;
        if !is_lower_hex(version) || version == "ff" {
            return None;
        }
        if version == "00" && bytes.len() != LEN {
            return None;
        }
        if bytes.len() > LEN && bytes.get(LEN) != Some(&b'-') {
            return None;
        }
        if bytes.get(2) != Some(&b'-')
            || bytes.get(35) != Some(&b'-')
            || bytes.get(52) != Some(&b'-')
        {
            return None;
        }
        let trace_id = hex_array::<16>(value.get(3..35)?)?;
        let parent_id = hex_array::<8>(value.get(36..52)?)?;
        let flags = hex_array::<1>(value.get(53..55)?)?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(TraceParent {
            trace_id,
            parent_id,
            flags: flags[0],
        })
    }

    /// The version-00 header value.
    pub fn format(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.parent_id),
            self.flags
        )
    }

    /// The `sampled` flag.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The trace id, 32 lower-case hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The parent id, 16 lower-case hex digits.
    pub fn parent_id_hex(&self) -> String {
        hex(&self.parent_id)
    }
}

/// A `tracestate` value worth carrying on: printable ASCII, at most [`TRACESTATE_LEN_MAX`]
/// characters, not blank. Anything else is dropped (a vendor may drop what it cannot keep).
pub fn tracestate(value: &str) -> Option<String> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let printable = value.bytes().all(|b| (0x20..=0x7e).contains(&b));
    (printable && !value.is_empty() && value.len() <= TRACESTATE_LEN_MAX).then(|| value.to_string())
}

impl TraceContext {
    /// The context of a request's headers (names compared without regard to case): `None`
    /// when `traceparent` is missing or malformed, in which case `tracestate` is ignored too.
    pub fn from_headers<'a, I>(headers: I) -> Option<TraceContext>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut parent = None;
        let mut state = None;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case(TRACEPARENT) {
                parent = Some(value);
            } else if name.eq_ignore_ascii_case(TRACESTATE) {
                state = Some(value);
            }
        }
        Some(TraceContext {
            parent: TraceParent::parse(parent?)?,
            state: state.and_then(tracestate),
        })
    }

    /// Writes this context into a header list (lower-case names), replacing what was there.
    pub fn write_headers(&self, headers: &mut Vec<(String, String)>) {
        remove_headers(headers);
        headers.push((TRACEPARENT.to_string(), self.parent.format()));
        if let Some(state) = &self.state {
            headers.push((TRACESTATE.to_string(), state.clone()));
        }
    }

    /// Writes this context into a header map (lower-case names), replacing what was there.
    pub fn write_header_map(&self, headers: &mut std::collections::BTreeMap<String, String>) {
        headers.retain(|name, _| !is_trace_header(name));
        headers.insert(TRACEPARENT.to_string(), self.parent.format());
        if let Some(state) = &self.state {
            headers.insert(TRACESTATE.to_string(), state.clone());
        }
    }

    /// `metadata.trace` of a Kafka message, as Mojaloop's event SDK writes it.
    pub fn to_metadata(&self, service: &str) -> Value {
        let mut trace = json!({
            "service": service,
            "traceId": self.parent.trace_id_hex(),
            "spanId": self.parent.parent_id_hex(),
            "sampled": u8::from(self.parent.sampled()),
            "flags": format!("{:02x}", self.parent.flags),
        });
        if let (Some(state), Some(object)) = (&self.state, trace.as_object_mut()) {
            object.insert("tags".to_string(), json!({ TRACESTATE: state }));
        }
        trace
    }

    /// Reads `metadata.trace`: `traceId` and `spanId` in hex are required; the flags come
    /// from `flags` (hex string or number), else `sampled` (number or boolean).
    pub fn from_metadata(trace: &Value) -> Option<TraceContext> {
        let trace_id = hex_array::<16>(trace.get("traceId")?.as_str()?)?;
        let parent_id = hex_array::<8>(trace.get("spanId")?.as_str()?)?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        let flags = match trace.get("flags") {
            Some(Value::String(text)) => hex_array::<1>(text).map(|f| f[0]),
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
            _ => None,
        };
        let flags = flags.unwrap_or_else(|| match trace.get("sampled") {
            Some(Value::Bool(true)) => 1,
            Some(Value::Number(n)) if n.as_u64() == Some(1) => 1,
            _ => 0,
        });
        let state = trace
            .get("tags")
            .and_then(|tags| tags.get(TRACESTATE))
            .and_then(Value::as_str)
            .and_then(tracestate);
        Some(TraceContext {
            parent: TraceParent {
                trace_id,
                parent_id,
                flags,
            },
            state,
        })
    }
}

/// Removes `traceparent` and `tracestate` from a header list.
pub fn remove_headers(headers: &mut Vec<(String, String)>) {
    headers.retain(|(name, _)| !is_trace_header(name));
}

/// `traceparent` or `tracestate`, any case.
pub fn is_trace_header(name: &str) -> bool {
    name.eq_ignore_ascii_case(TRACEPARENT) || name.eq_ignore_ascii_case(TRACESTATE)
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn hex(bytes: &[u8]) -> String {
    crate::hex::lower(bytes)
}

/// `N` bytes from exactly `2 * N` lower-case hex digits.
fn hex_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !is_lower_hex(text) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn valid_traceparent_round_trips() {
        let parent = TraceParent::parse(VALID).unwrap_or_else(|| panic!("valid"));
        assert_eq!(parent.trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(parent.parent_id_hex(), "b7ad6b7169203331");
        assert!(parent.sampled());
        assert_eq!(parent.format(), VALID);
        let unsampled =
            TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
        assert_eq!(unsampled.map(|p| p.sampled()), Some(false));
    }

    #[test]
    fn malformed_traceparents_are_ignored() {
        for bad in [
            "",
            "garbage",
            // upper-case hex
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            // short trace id
            "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",
            // wrong separators
            "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",
            // version 00 with trailing data
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            // non-hex flags
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-zz",
            // non-hex version
            "0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn version_ff_is_rejected() {
        assert_eq!(
            TraceParent::parse("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            None
        );
    }

    #[test]
    fn future_versions_are_read_by_their_prefix() {
        let parent =
            TraceParent::parse("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what");
        assert_eq!(parent.map(|p| p.format()), Some(VALID.to_string()));
        assert_eq!(
            TraceParent::parse("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01what"),
            None
        );
    }

    #[test]
    fn all_zero_ids_are_rejected() {
        assert_eq!(
            TraceParent::parse("00-00000000000000000000000000000000-b7ad6b7169203331-01"),
            None
        );
        assert_eq!(
            TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"),
            None
        );
    }

    #[test]
    fn headers_give_the_context_and_drop_tracestate_without_a_parent() {
        let context = TraceContext::from_headers([
            ("Content-Type", "application/json"),
            ("TraceParent", VALID),
            ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        ]);
        assert_eq!(
            context.as_ref().and_then(|c| c.state.as_deref()),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        assert_eq!(
            TraceContext::from_headers([("traceparent", "bad"), ("tracestate", "a=b")]),
            None
        );
        let long = "a=".to_string() + &"x".repeat(TRACESTATE_LEN_MAX);
        let context =
            TraceContext::from_headers([("traceparent", VALID), ("tracestate", long.as_str())]);
        assert_eq!(context.map(|c| c.state), Some(None));
    }

    #[test]
    fn writing_headers_replaces_the_old_context() {
        let context = TraceContext::from_headers([("traceparent", VALID), ("tracestate", "a=b")])
            .unwrap_or_else(|| panic!("valid"));
        let mut headers = vec![
            ("traceparent".to_string(), "old".to_string()),
            ("TraceState".to_string(), "old".to_string()),
            ("date".to_string(), "d".to_string()),
        ];
        context.write_headers(&mut headers);
        assert_eq!(
            headers,
            vec![
                ("date".to_string(), "d".to_string()),
                ("traceparent".to_string(), VALID.to_string()),
                ("tracestate".to_string(), "a=b".to_string()),
            ]
        );
        let mut map = std::collections::BTreeMap::new();
        map.insert("traceparent".to_string(), "old".to_string());
        context.write_header_map(&mut map);
        assert_eq!(map.get("traceparent").map(String::as_str), Some(VALID));
    }

    #[test]
    fn metadata_round_trips_and_reads_the_event_sdk_shape() {
        let context = TraceContext::from_headers([("traceparent", VALID), ("tracestate", "a=b")])
            .unwrap_or_else(|| panic!("valid"));
        let metadata = context.to_metadata("ml-api-adapter");
        assert_eq!(metadata["traceId"], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(metadata["spanId"], "b7ad6b7169203331");
        assert_eq!(metadata["sampled"], 1);
        assert_eq!(metadata["tags"]["tracestate"], "a=b");
        assert_eq!(TraceContext::from_metadata(&metadata), Some(context));
        // Mojaloop's event SDK: numeric sampled, no flags.
        let sdk = json!({"service": "x", "traceId": "0af7651916cd43dd8448eb211c80319c",
            "spanId": "b7ad6b7169203331", "sampled": 0, "tags": {}});
        assert_eq!(
            TraceContext::from_metadata(&sdk).map(|c| c.parent.flags),
            Some(0)
        );
        assert_eq!(TraceContext::from_metadata(&json!({"traceId": "t"})), None);
    }
}
