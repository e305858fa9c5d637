//! FSPIOP HTTP headers: `Accept` and `Content-Type` with their versions, negotiation against
//! the supported lists (406 / 3001 listing them), `Date`, `FSPIOP-Source` and
//! `FSPIOP-Destination`.
//!
//! [`validate_request_headers`] applies the checks in the order Mojaloop's header plugin
//! does: `Accept`, then `Date`, then `Content-Type`, then the source and destination. Error
//! descriptions name the headers as Mojaloop writes them (`accept is required`, `Invalid
//! content-type header`), which tools match on.
//!
//! The optional headers (`FSPIOP-Signature`, `FSPIOP-URI`, `FSPIOP-HTTP-Method`,
//! `FSPIOP-Encryption`, `X-Forwarded-For`, …) are not judged here: the API definition gives
//! them no format, Mojaloop passes them on as received, and DFSP tools fill them with any text.
//! Only JWS validation reads them, and only when it is on for the request
//! ([`crate::jws::verify`] refuses a missing or malformed signature, URI or method with 3105).

use std::collections::BTreeMap;

use crate::datetime;
use crate::error::{ErrorCode, FspiopError};

pub const ACCEPT: &str = "accept";
pub const CONTENT_TYPE: &str = "content-type";
pub const DATE: &str = "date";
pub const FSPIOP_SOURCE: &str = "fspiop-source";
pub const FSPIOP_DESTINATION: &str = "fspiop-destination";
pub const FSPIOP_URI: &str = "fspiop-uri";
pub const FSPIOP_HTTP_METHOD: &str = "fspiop-http-method";
pub const FSPIOP_SIGNATURE: &str = "fspiop-signature";
pub const FSPIOP_ENCRYPTION: &str = "fspiop-encryption";

/// `FspId` is string(1..32).
pub const FSP_ID_LEN_MAX: usize = 32;

/// Request headers looked up by lower-case name.
pub trait Headers {
    fn header(&self, lower_name: &str) -> Option<&str>;
}

impl Headers for BTreeMap<String, String> {
    fn header(&self, lower_name: &str) -> Option<&str> {
        self.get(lower_name)
            .or_else(|| {
                self.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(lower_name))
                    .map(|(_, v)| v)
            })
            .map(String::as_str)
    }
}

impl Headers for [(&str, &str)] {
    fn header(&self, lower_name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(lower_name))
            .map(|(_, v)| *v)
    }
}

/// A protocol version: `major` or `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: Option<u32>,
}

impl Version {
    pub const fn new(major: u32, minor: u32) -> Version {
        Version {
            major,
            minor: Some(minor),
        }
    }

    pub const fn major_only(major: u32) -> Version {
        Version { major, minor: None }
    }

    /// Parses `1` or `1.1`.
    pub fn parse(text: &str) -> Option<Version> {
        let number = |s: &str| {
            (!s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        match text.split_once('.') {
            Some((major, minor)) => Some(Version {
                major: number(major)?,
                minor: Some(number(minor)?),
            }),
            None => Some(Version {
                major: number(text)?,
                minor: None,
            }),
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.minor {
            Some(minor) => write!(f, "{}.{}", self.major, minor),
            None => write!(f, "{}", self.major),
        }
    }
}

/// The versions a service accepts and the ones it writes on messages it originates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolVersions {
    /// `Content-Type` versions accepted (always `x.y`).
    pub content_supported: Vec<Version>,
    /// `Accept` versions accepted (`x` or `x.y`).
    pub accept_supported: Vec<Version>,
    /// `Content-Type` version on hub-originated messages.
    pub content_default: Version,
    /// `Accept` version on hub-originated requests.
    pub accept_default: Version,
}

impl Default for ProtocolVersions {
    /// Accepts 1.0, 1.1 and 2.0 like Mojaloop's services; writes 1.1 on hub-originated
    /// messages, which every v1.1 and v2.0 participant understands.
    fn default() -> Self {
        ProtocolVersions {
            content_supported: vec![Version::new(1, 1), Version::new(1, 0), Version::new(2, 0)],
            accept_supported: vec![
                Version::major_only(1),
                Version::new(1, 0),
                Version::new(1, 1),
                Version::major_only(2),
                Version::new(2, 0),
            ],
            content_default: Version::new(1, 1),
            accept_default: Version::major_only(1),
        }
    }
}

/// The `extensionList` of a 3001 error: each supported version as `{key: major, value:
/// minor}` (a bare major counts as `.0`), without duplicates, in list order.
fn version_extensions(error: FspiopError, versions: &[Version]) -> FspiopError {
    let mut seen: Vec<(u32, u32)> = Vec::new();
    for version in versions {
        let pair = (version.major, version.minor.unwrap_or(0));
        if !seen.contains(&pair) {
            seen.push(pair);
        }
    }
    seen.into_iter().fold(error, |e, (major, minor)| {
        e.extension(major.to_string(), minor.to_string())
    })
}

/// The 406 / 3001 error for an `Accept` header that names no supported version.
pub fn unacceptable_accept_version(versions: &ProtocolVersions) -> FspiopError {
    version_extensions(
        FspiopError::with_detail(
            ErrorCode::UnacceptableVersion,
            "The Client requested an unsupported version, see extension list for supported version(s).",
        ),
        &versions.accept_supported,
    )
}

/// The 406 / 3001 error for a `Content-Type` whose version is not supported.
pub fn unsupported_content_version(versions: &ProtocolVersions) -> FspiopError {
    version_extensions(
        FspiopError::with_detail(
            ErrorCode::UnacceptableVersion,
            "Client supplied a protocol version which is not supported by the server",
        ),
        &versions.content_supported,
    )
}

/// `application/vnd.interoperability.<resource>+json;version=<version>`.
pub fn media_type(resource: &str, version: Version) -> String {
    format!("application/vnd.interoperability.{resource}+json;version={version}")
}

/// Strips `application/vnd.interoperability.<resource>+json` from the front of `value`.
fn strip_media_type<'a>(value: &'a str, resource: &str) -> Option<&'a str> {
    value
        .strip_prefix("application/vnd.interoperability.")?
        .strip_prefix(resource)?
        .strip_prefix("+json")
}

/// Parses `\s?;\s?version=<v>` (at most one space each side of the `;`).
fn parse_version_param(rest: &str) -> Option<&str> {
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let rest = rest.strip_prefix(';')?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    rest.strip_prefix("version=")
}

/// Parses a `Content-Type` for `resource`; the version must be `x.y`.
pub fn parse_content_type(value: &str, resource: &str) -> Option<Version> {
    let version = parse_version_param(strip_media_type(value, resource)?)?;
    Version::parse(version).filter(|v| v.minor.is_some())
}

/// Parses an `Accept` header for `resource`: a comma-separated list of media types, each with
/// an optional version. `None` in the list means "any version".
pub fn parse_accept(value: &str, resource: &str) -> Option<Vec<Option<Version>>> {
    value
        .split(',')
        .enumerate()
        .map(|(index, item)| {
            // Mojaloop's rule allows one space after each comma of the list.
            let item = match index {
                0 => item,
                _ => item.strip_prefix(' ').unwrap_or(item),
            };
            let rest = strip_media_type(item, resource)?;
            if rest.is_empty() {
                return Some(None);
            }
            Version::parse(parse_version_param(rest)?).map(Some)
        })
        .collect()
}

/// What header validation found out about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedHeaders {
    /// The `Content-Type` version.
    pub content_version: Version,
    /// The `Date` header, UTC milliseconds.
    pub date_ms: i64,
    pub source: String,
    pub destination: Option<String>,
}

/// Which headers a route requires besides the always-required ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeaderRules {
    /// `FSPIOP-Destination` must be present (the Quoting Service's routes).
    pub destination_required: bool,
}

fn header_error(code: ErrorCode, detail: &str) -> FspiopError {
    FspiopError::with_detail(code, detail)
}

/// Whether `value` is a valid `FspId`: 1 to 32 characters.
pub fn is_valid_fsp_id(value: &str) -> bool {
    let count = value.chars().count();
    (1..=FSP_ID_LEN_MAX).contains(&count)
}

/// Validates the FSPIOP headers of a request to `resource` with `method`:
/// 1. `Accept` (on GET, POST, DELETE, or whenever present): missing → 3102, malformed → 3101,
///    no supported version → 3001/406;
/// 2. `Date`: missing → 3102, not `ddd, DD MMM YYYY HH:mm:ss GMT` → 3101;
/// 3. `Content-Type` (on every request): missing → 3102, malformed → 3101, unsupported
///    version → 3001/406;
/// 4. `FSPIOP-Source`: missing → 3102, not an FspId → 3101; `FSPIOP-Destination`: when
///    present must be an FspId (3101), when required missing → 3102.
///
/// Other headers are not checked (see the module documentation).
pub fn validate_request_headers(
    method: &str,
    resource: &str,
    headers: &(impl Headers + ?Sized),
    versions: &ProtocolVersions,
    rules: HeaderRules,
) -> Result<ValidatedHeaders, FspiopError> {
    let upper_method = method.to_ascii_uppercase();
    let is_request = matches!(upper_method.as_str(), "GET" | "POST" | "DELETE");
    // A callback carries no Accept; a generic client's default `*/*` says nothing either, so
    // on PUT and PATCH it is treated as absent rather than refused as malformed.
    let accept = headers
        .header(ACCEPT)
        .filter(|value| is_request || value.trim() != "*/*");
    if is_request || accept.is_some() {
        let accept =
            accept.ok_or_else(|| header_error(ErrorCode::MissingElement, "accept is required"))?;
        let listed = parse_accept(accept, resource)
            .ok_or_else(|| header_error(ErrorCode::MalformedSyntax, "Invalid accept header"))?;
        let acceptable = listed.iter().any(|version| match version {
            None => true,
            Some(v) => versions.accept_supported.contains(v),
        });
        if !acceptable {
            return Err(unacceptable_accept_version(versions));
        }
    }

    let date = headers
        .header(DATE)
        .ok_or_else(|| header_error(ErrorCode::MissingElement, "Missing required date header"))?;
    let date_ms = datetime::parse_http_date(date)
        .ok_or_else(|| header_error(ErrorCode::MalformedSyntax, "Invalid date header"))?;

    let content_type = headers
        .header(CONTENT_TYPE)
        .ok_or_else(|| header_error(ErrorCode::MissingElement, "Content-type is required"))?;
    let content_version = parse_content_type(content_type, resource)
        .ok_or_else(|| header_error(ErrorCode::MalformedSyntax, "Invalid content-type header"))?;
    if !versions.content_supported.contains(&content_version) {
        return Err(unsupported_content_version(versions));
    }

    let source = headers.header(FSPIOP_SOURCE).ok_or_else(|| {
        header_error(
            ErrorCode::MissingElement,
            "Missing required fspiop-source header",
        )
    })?;
    if !is_valid_fsp_id(source) {
        return Err(header_error(
            ErrorCode::MalformedSyntax,
            "Invalid fspiop-source header",
        ));
    }
    let destination = headers.header(FSPIOP_DESTINATION);
    match destination {
        Some(value) if !is_valid_fsp_id(value) => {
            return Err(header_error(
                ErrorCode::MalformedSyntax,
                "Invalid fspiop-destination header",
            ));
        }
        None if rules.destination_required => {
            return Err(header_error(
                ErrorCode::MissingElement,
                "Missing required fspiop-destination header",
            ));
        }
        _ => {}
    }
    Ok(ValidatedHeaders {
        content_version,
        date_ms,
        source: source.to_string(),
        destination: destination.map(str::to_string),
    })
}

/// The resource a request path addresses: its first segment (`/parties/MSISDN/1` → `parties`).
pub fn resource_of_path(path: &str) -> &str {
    let trimmed = path.trim_start_matches('/');
    let end = trimmed.find(['/', '?']).unwrap_or(trimmed.len());
    trimmed.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE_OK: &str = "Tue, 15 Nov 1994 08:12:31 GMT";

    fn request<'a>(overrides: &[(&'a str, Option<&'a str>)]) -> Vec<(&'a str, &'a str)> {
        let mut headers = vec![
            (
                ACCEPT,
                "application/vnd.interoperability.quotes+json;version=1",
            ),
            (
                CONTENT_TYPE,
                "application/vnd.interoperability.quotes+json;version=1.1",
            ),
            (DATE, DATE_OK),
            (FSPIOP_SOURCE, "perffsp-1"),
            (FSPIOP_DESTINATION, "perffsp-5"),
        ];
        for (name, value) in overrides {
            headers.retain(|(n, _)| n != name);
            if let Some(value) = value {
                headers.push((name, value));
            }
        }
        headers
    }

    fn check(method: &str, overrides: &[(&str, Option<&str>)], want: Option<(u16, u16, &str)>) {
        let headers = request(overrides);
        let result = validate_request_headers(
            method,
            "quotes",
            headers.as_slice(),
            &ProtocolVersions::default(),
            HeaderRules {
                destination_required: true,
            },
        );
        match (result, want) {
            (Ok(_), None) => {}
            (Err(e), Some((code, status, description))) => {
                assert_eq!(e.code.code(), code, "{overrides:?}: {e}");
                assert_eq!(e.http_status(), status, "{overrides:?}");
                assert_eq!(e.description(), description, "{overrides:?}");
            }
            (got, want) => panic!("{overrides:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn valid_requests_pass() {
        check("POST", &[], None);
        check("PUT", &[(ACCEPT, None)], None);
        check("PUT", &[(ACCEPT, Some("*/*"))], None);
        check("PATCH", &[(ACCEPT, Some("*/*"))], None);
        check(
            "GET",
            &[(ACCEPT, Some("application/vnd.interoperability.quotes+json"))],
            None,
        );
        check("GET", &[(ACCEPT, Some("application/vnd.interoperability.quotes+json;version=9,application/vnd.interoperability.quotes+json;version=2.0"))], None);
        check(
            "POST",
            &[(
                CONTENT_TYPE,
                Some("application/vnd.interoperability.quotes+json ; version=2.0"),
            )],
            None,
        );
        check(
            "POST",
            &[(
                ACCEPT,
                Some("application/vnd.interoperability.quotes+json; version=1.1"),
            )],
            None,
        );
    }

    #[test]
    fn an_accept_list_may_have_one_space_after_each_comma() {
        let parsed = |value: &str| parse_accept(value, "parties");
        assert_eq!(
            parsed("application/vnd.interoperability.parties+json;version=2.0, application/vnd.interoperability.parties+json;version=1.1"),
            Some(vec![Some(Version::new(2, 0)), Some(Version::new(1, 1))])
        );
        assert_eq!(
            parsed("application/vnd.interoperability.parties+json;version=2,application/vnd.interoperability.parties+json"),
            Some(vec![Some(Version { major: 2, minor: None }), None])
        );
        assert_eq!(
            parsed("application/vnd.interoperability.parties+json;version=2,  application/vnd.interoperability.parties+json"),
            None
        );
    }

    #[test]
    fn accept_rules() {
        check(
            "POST",
            &[(ACCEPT, None)],
            Some((3102, 400, "Missing mandatory element - accept is required")),
        );
        check(
            "GET",
            &[(ACCEPT, None)],
            Some((3102, 400, "Missing mandatory element - accept is required")),
        );
        check(
            "DELETE",
            &[(ACCEPT, None)],
            Some((3102, 400, "Missing mandatory element - accept is required")),
        );
        check(
            "POST",
            &[(ACCEPT, Some("application/json"))],
            Some((3101, 400, "Malformed syntax - Invalid accept header")),
        );
        check(
            "POST",
            &[(ACCEPT, Some("*/*"))],
            Some((3101, 400, "Malformed syntax - Invalid accept header")),
        );
        check(
            "POST",
            &[(
                ACCEPT,
                Some("application/vnd.interoperability.parties+json;version=1"),
            )],
            Some((3101, 400, "Malformed syntax - Invalid accept header")),
        );
        check(
            "POST",
            &[(
                ACCEPT,
                Some("application/vnd.interoperability.quotes+json;version=a"),
            )],
            Some((3101, 400, "Malformed syntax - Invalid accept header")),
        );
        check(
            "PUT",
            &[(
                ACCEPT,
                Some("application/vnd.interoperability.quotes+json;version=1;x"),
            )],
            Some((3101, 400, "Malformed syntax - Invalid accept header")),
        );
        check(
            "POST",
            &[(ACCEPT, Some("application/vnd.interoperability.quotes+json;version=9.9"))],
            Some((3001, 406, "Unacceptable version requested - The Client requested an unsupported version, see extension list for supported version(s).")),
        );
    }

    #[test]
    fn date_rules() {
        check(
            "POST",
            &[(DATE, None)],
            Some((
                3102,
                400,
                "Missing mandatory element - Missing required date header",
            )),
        );
        check(
            "POST",
            &[(DATE, Some("2016-05-24T08:38:08.699Z"))],
            Some((3101, 400, "Malformed syntax - Invalid date header")),
        );
        check(
            "PUT",
            &[(DATE, Some("Tue, 15 Nov 1994 08:12:31 UTC"))],
            Some((3101, 400, "Malformed syntax - Invalid date header")),
        );
    }

    #[test]
    fn content_type_rules() {
        check(
            "GET",
            &[(CONTENT_TYPE, None)],
            Some((
                3102,
                400,
                "Missing mandatory element - Content-type is required",
            )),
        );
        check(
            "POST",
            &[(CONTENT_TYPE, Some("application/json"))],
            Some((3101, 400, "Malformed syntax - Invalid content-type header")),
        );
        check(
            "POST",
            &[(
                CONTENT_TYPE,
                Some("application/vnd.interoperability.quotes+json;version=1"),
            )],
            Some((3101, 400, "Malformed syntax - Invalid content-type header")),
        );
        check(
            "POST",
            &[(
                CONTENT_TYPE,
                Some("application/vnd.interoperability.quotes+json"),
            )],
            Some((3101, 400, "Malformed syntax - Invalid content-type header")),
        );
        check(
            "POST",
            &[(
                CONTENT_TYPE,
                Some("application/vnd.interoperability.quotes+json;  version=1.1"),
            )],
            Some((3101, 400, "Malformed syntax - Invalid content-type header")),
        );
        check(
            "POST",
            &[(CONTENT_TYPE, Some("application/vnd.interoperability.quotes+json;version=3.9"))],
            Some((3001, 406, "Unacceptable version requested - Client supplied a protocol version which is not supported by the server")),
        );
    }

    #[test]
    fn source_and_destination_rules() {
        check(
            "POST",
            &[(FSPIOP_SOURCE, None)],
            Some((
                3102,
                400,
                "Missing mandatory element - Missing required fspiop-source header",
            )),
        );
        check(
            "POST",
            &[(FSPIOP_SOURCE, Some(""))],
            Some((3101, 400, "Malformed syntax - Invalid fspiop-source header")),
        );
        check(
            "POST",
            &[(FSPIOP_SOURCE, Some(&"x".repeat(33)))],
            Some((3101, 400, "Malformed syntax - Invalid fspiop-source header")),
        );
        check(
            "POST",
            &[(FSPIOP_DESTINATION, None)],
            Some((
                3102,
                400,
                "Missing mandatory element - Missing required fspiop-destination header",
            )),
        );
        check(
            "POST",
            &[(FSPIOP_DESTINATION, Some(""))],
            Some((
                3101,
                400,
                "Malformed syntax - Invalid fspiop-destination header",
            )),
        );
    }

    #[test]
    fn optional_headers_are_not_judged() {
        // What Mojaloop's Testing Toolkit sends as a payee: every optional header filled by a
        // JSON-schema faker, as the API definition (type string, no format) allows.
        for (name, value) in [
            (FSPIOP_HTTP_METHOD, "laboris proident labore"),
            (FSPIOP_HTTP_METHOD, "post"),
            (FSPIOP_URI, "quotes"),
            (FSPIOP_URI, "in dolor sint"),
            (FSPIOP_SIGNATURE, "abc"),
            (
                FSPIOP_SIGNATURE,
                r#"{"protectedHeader":"a","signature":"b"}"#,
            ),
            (FSPIOP_ENCRYPTION, "ullamco"),
            ("x-forwarded-for", "Ut aute"),
        ] {
            check("POST", &[(name, Some(value))], None);
            check("PUT", &[(name, Some(value))], None);
        }
    }

    #[test]
    fn version_extension_list_matches_mojaloop() {
        let error = unacceptable_accept_version(&ProtocolVersions::default());
        assert_eq!(
            error.to_json(),
            r#"{"errorInformation":{"errorCode":"3001","errorDescription":"Unacceptable version requested - The Client requested an unsupported version, see extension list for supported version(s).","extensionList":{"extension":[{"key":"1","value":"0"},{"key":"1","value":"1"},{"key":"2","value":"0"}]}}}"#
        );
    }

    #[test]
    fn media_types_and_resources() {
        assert_eq!(
            media_type("parties", Version::new(1, 1)),
            "application/vnd.interoperability.parties+json;version=1.1"
        );
        assert_eq!(resource_of_path("/parties/MSISDN/1"), "parties");
        assert_eq!(resource_of_path("/transfers?x"), "transfers");
        assert_eq!(
            parse_accept("application/vnd.interoperability.parties+json", "parties"),
            Some(vec![None])
        );
    }
}
