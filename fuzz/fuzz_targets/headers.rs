//! FSPIOP request headers: `Accept` and `Content-Type` parsing with version negotiation, the
//! `Date` header, the source/destination checks (`validate_request_headers`) and the W3C trace
//! context (`traceparent`, `tracestate`: never a panic, a parsed one prints back as itself). The input is
//! `METHOD PATH` on the first line, then `name: value` lines.
#![no_main]
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a fuzz target asserts by panicking"
)]

use fspiop::headers::{
    media_type, parse_accept, parse_content_type, resource_of_path, validate_request_headers,
    HeaderRules, ProtocolVersions, Version,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let request_line = lines.next().unwrap_or_default();
    let (method, path) = request_line.split_once(' ').unwrap_or((request_line, "/"));
    let resource = resource_of_path(path);
    let headers: Vec<(&str, &str)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name, value.strip_prefix(' ').unwrap_or(value)))
        .collect();

    if let Some(context) =
        fspiop::trace_context::TraceContext::from_headers(headers.iter().copied())
    {
        let mut written = Vec::new();
        context.write_headers(&mut written);
        let again = fspiop::trace_context::TraceContext::from_headers(
            written.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        );
        assert_eq!(again.as_ref(), Some(&context));
        let metadata = context.to_metadata("fuzz");
        assert_eq!(
            fspiop::trace_context::TraceContext::from_metadata(&metadata).as_ref(),
            Some(&context)
        );
    }

    let versions = ProtocolVersions::default();
    for destination_required in [false, true] {
        let rules = HeaderRules {
            destination_required,
        };
        if let Ok(valid) =
            validate_request_headers(method, resource, headers.as_slice(), &versions, rules)
        {
            assert!(versions.content_supported.contains(&valid.content_version));
        }
    }

    for (_, value) in &headers {
        // A version that parses prints back as itself, and its media type parses back.
        if let Some(version) = Version::parse(value) {
            assert_eq!(Version::parse(&version.to_string()), Some(version));
            // Real resources are words; a comma would split the Accept list.
            let word = resource.bytes().all(|b| b.is_ascii_alphanumeric());
            if version.minor.is_some() && word {
                let media = media_type(resource, version);
                assert_eq!(
                    parse_content_type(&media, resource),
                    Some(version),
                    "{media}"
                );
                assert_eq!(parse_accept(&media, resource), Some(vec![Some(version)]));
            }
        }
        if let Some(version) = parse_content_type(value, resource) {
            assert!(
                version.minor.is_some(),
                "a Content-Type version needs a minor"
            );
        }
        if let Some(listed) = parse_accept(value, resource) {
            assert_eq!(listed.len(), value.split(',').count());
        }
    }
});
