//! What an FSPIOP request brings, checked in Mojaloop's order (services.md §1.3) before a
//! handler accepts it:
//!
//! 1. the route (404 / 3002, 405 / 3000, answered by the router);
//! 2. the headers ([`FspiopHeaders`]): `Accept`, `Date`, `Content-Type` with version
//!    negotiation (406 / 3001), `FSPIOP-Source`, `FSPIOP-Destination`, … for the resource
//!    named by the path's first segment (an `Accept: */*` on a `PUT`, which HTTP client
//!    libraries add by default, is ignored rather than refused as malformed);
//! 3. path parameters ([`PartyRef::from_params`]): `Type` one of the API's party identifier
//!    types, `ID` 1 to 128 characters without whitespace or braces (3100 otherwise);
//! 4. query and body (schema checks in the handlers; members the API definition does not
//!    name are accepted and relayed unless `[validation] reject_additional_properties` is on,
//!    then 3103).
//!
//! The stricter per-type identifier rules (MSISDN digits, e-mail, IBAN) are checked after the
//! request is accepted and reported by error callback with 3101 ([`PartyRef::check_format`]),
//! as Mojaloop does.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use fspiop::headers::{self, HeaderRules, Version};
use fspiop::types::PartyIdType;
use fspiop::validate::{check_format, Format, UnknownFields};
use fspiop::{ErrorCode, FspiopError};
use service_kit::http::FspiopResponse;

use crate::AppState;

/// Largest request body read: the API's payload limit, 5 MiB.
pub const BODY_LEN_MAX_BYTES: usize = 5 * 1024 * 1024;

/// The validated headers of an FSPIOP request.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// Every header as received, lower-case names (what forwarded messages carry on).
    pub headers: Vec<(String, String)>,
    pub source: String,
    /// `FSPIOP-Destination`, when present.
    pub destination: Option<String>,
    /// The `Content-Type` version.
    pub content_version: Version,
    /// How the body's members the API definition does not name are treated (`[validation]`):
    /// accepted and relayed as received by default, at every version; 3103 when strict.
    pub unknown_fields: UnknownFields,
}

impl Inbound {
    /// How strict body validation is.
    pub fn unknown_fields(&self) -> UnknownFields {
        self.unknown_fields
    }
}

/// Extracts and validates the FSPIOP headers (answering 400 / 406 with the FSPIOP error).
pub struct FspiopHeaders(pub Inbound);

impl FromRequestParts<AppState> for FspiopHeaders {
    type Rejection = FspiopResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut map = fspiop_edge::headers_of(&parts.headers);
        // A callback must not ask for versions; the `*/*` HTTP client libraries add by
        // default is not such a request, so it is not held against the sender.
        if parts.method == axum::http::Method::PUT
            && map
                .get(headers::ACCEPT)
                .is_some_and(|accept| accept.trim() == "*/*")
        {
            map.remove(headers::ACCEPT);
        }
        let resource = headers::resource_of_path(parts.uri.path());
        let validated = headers::validate_request_headers(
            parts.method.as_str(),
            resource,
            &map,
            &state.versions,
            HeaderRules::default(),
        )?;
        Ok(FspiopHeaders(Inbound {
            headers: map.into_iter().collect(),
            source: validated.source,
            destination: validated.destination.filter(|d| !d.is_empty()),
            content_version: validated.content_version,
            unknown_fields: state.config.validation.unknown_fields(),
        }))
    }
}

/// The raw body, at most [`BODY_LEN_MAX_BYTES`] (3104 beyond).
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = FspiopResponse;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        axum::body::to_bytes(request.into_body(), BODY_LEN_MAX_BYTES)
            .await
            .map(RawBody)
            .map_err(|_| {
                FspiopResponse(FspiopError::with_detail(
                    ErrorCode::TooLargePayload,
                    format!("body is larger than {BODY_LEN_MAX_BYTES} bytes or could not be read"),
                ))
            })
    }
}

/// Path parameters by name (3101 if they are not valid UTF-8 after percent-decoding).
pub struct PathParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = FspiopResponse;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map(|Path(params)| PathParams(params))
            .map_err(|rejection| {
                FspiopResponse(FspiopError::with_detail(
                    ErrorCode::MalformedSyntax,
                    rejection.body_text(),
                ))
            })
    }
}

impl PathParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Query parameters (3101 when malformed).
pub fn query_params(
    result: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<HashMap<String, String>, FspiopError> {
    result.map(|Query(map)| map).map_err(|rejection| {
        FspiopError::with_detail(ErrorCode::MalformedSyntax, rejection.body_text())
    })
}

/// An optional `currency` query parameter, which must be an API currency (3100).
pub fn currency_param(query: &HashMap<String, String>) -> Result<Option<String>, FspiopError> {
    match query.get("currency") {
        None => Ok(None),
        Some(currency) if fspiop::currency::is_api_currency(currency) => Ok(Some(currency.clone())),
        Some(currency) => Err(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            format!("currency {currency:?} must be a supported ISO 4217 currency code"),
        )),
    }
}

/// The party a `/parties` or `/participants` path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRef {
    pub party_type: String,
    pub id: String,
    pub sub_id: Option<String>,
}

/// Longest identifier and sub-id (ID and PartySubIdOrType are string(1..128)).
pub const PARTY_IDENTIFIER_LEN_MAX: usize = 128;

impl PartyRef {
    /// The path parameters `type`, `id` and optional `sub_id`, checked as the API's schema
    /// does (3100).
    pub fn from_params(params: &PathParams) -> Result<PartyRef, FspiopError> {
        let party_type = params.get("type").unwrap_or_default();
        if PartyIdType::parse(party_type).is_none() {
            return Err(FspiopError::with_detail(
                ErrorCode::GenericValidationError,
                format!(
                    "/Type must be a PartyIdType: {}",
                    PartyIdType::ALL.join(", ")
                ),
            ));
        }
        let id = params.get("id").unwrap_or_default();
        if !check_format(Format::PartyIdentifierPath, id) {
            return Err(FspiopError::with_detail(
                ErrorCode::GenericValidationError,
                "/ID must be 1 to 128 characters without whitespace or braces",
            ));
        }
        let sub_id = params.get("sub_id");
        if let Some(sub_id) = sub_id {
            if sub_id.is_empty() || sub_id.chars().count() > PARTY_IDENTIFIER_LEN_MAX {
                return Err(FspiopError::with_detail(
                    ErrorCode::GenericValidationError,
                    "/SubId must be 1 to 128 characters",
                ));
            }
        }
        Ok(PartyRef {
            party_type: party_type.to_string(),
            id: id.to_string(),
            sub_id: sub_id.map(str::to_string),
        })
    }

    /// `/{resource}/{Type}/{ID}[/{SubId}]`, the FSPIOP path of the party.
    pub fn path(&self, resource: &str) -> String {
        match &self.sub_id {
            Some(sub_id) => format!("/{resource}/{}/{}/{sub_id}", self.party_type, self.id),
            None => format!("/{resource}/{}/{}", self.party_type, self.id),
        }
    }

    /// The template variables of the party's callback endpoints.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            ("partyIdType", self.party_type.clone()),
            (
                "partyIdentifier",
                crate::callbacks::encode_path_segment(&self.id),
            ),
        ];
        if let Some(sub_id) = &self.sub_id {
            vars.push((
                "partySubIdOrType",
                crate::callbacks::encode_path_segment(sub_id),
            ));
        }
        vars
    }

    /// The identifier rules checked after acceptance (3101 Malformed syntax): no whitespace,
    /// control characters, braces, angle brackets, backquote or backslash; MSISDN
    /// `^\+?\d{1,30}$`; EMAIL `^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$`; IBAN
    /// `^[A-Z]{2}\d{2}[A-Z0-9]{1,30}$`.
    pub fn check_format(&self) -> Result<(), FspiopError> {
        let malformed =
            |what: &str| FspiopError::with_detail(ErrorCode::MalformedSyntax, what.to_string());
        if !is_general_identifier(&self.id) {
            return Err(malformed("invalid party identifier"));
        }
        let specific = match self.party_type.as_str() {
            "MSISDN" => is_msisdn(&self.id),
            "EMAIL" => is_email(&self.id),
            "IBAN" => is_iban(&self.id),
            _ => true,
        };
        if !specific {
            return Err(malformed(&format!(
                "invalid {} party identifier",
                self.party_type
            )));
        }
        if let Some(sub_id) = &self.sub_id {
            if !is_general_identifier(sub_id) {
                return Err(malformed("invalid party sub-id or type"));
            }
        }
        Ok(())
    }
}

/// `^[^\s\x00-\x1f{}<>`\\]{1,128}$`.
fn is_general_identifier(text: &str) -> bool {
    let count = text.chars().count();
    (1..=PARTY_IDENTIFIER_LEN_MAX).contains(&count)
        && !text.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '{' | '}' | '<' | '>' | '`' | '\\')
        })
}

/// `^\+?\d{1,30}$`.
fn is_msisdn(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    (1..=30).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$`.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let Some((host, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-'))
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

/// `^[A-Z]{2}\d{2}[A-Z0-9]{1,30}$`.
fn is_iban(text: &str) -> bool {
    let bytes = text.as_bytes();
    (5..=34).contains(&bytes.len())
        && bytes.iter().enumerate().all(|(index, b)| match index {
            0 | 1 => b.is_ascii_uppercase(),
            2 | 3 => b.is_ascii_digit(),
            _ => b.is_ascii_uppercase() || b.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(party_type: &str, id: &str, sub_id: Option<&str>) -> PartyRef {
        PartyRef {
            party_type: party_type.into(),
            id: id.into(),
            sub_id: sub_id.map(Into::into),
        }
    }

    #[test]
    fn identifier_formats() {
        for ok in [
            ("MSISDN", "19012345401"),
            ("MSISDN", "+27713803912"),
            ("EMAIL", "a.b+c@x-y.example.org"),
            ("IBAN", "DE89370400440532013000"),
            ("ACCOUNT_ID", "acc/1:2"),
        ] {
            assert!(party(ok.0, ok.1, None).check_format().is_ok(), "{ok:?}");
        }
        for bad in [
            ("MSISDN", "1901234540a"),
            ("MSISDN", "++1"),
            ("MSISDN", &"1".repeat(31)),
            ("EMAIL", "no-at.example"),
            ("EMAIL", "a@example.c"),
            ("EMAIL", "a@@example.com"),
            ("EMAIL", "a@.com"),
            ("IBAN", "de89370400440532013000"),
            ("IBAN", "DE8"),
            ("ALIAS", "a<b"),
            ("ALIAS", "a`b"),
            ("ALIAS", "a\\b"),
        ] {
            let error = party(bad.0, bad.1, None)
                .check_format()
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert_eq!(error.code, ErrorCode::MalformedSyntax);
        }
        assert!(party("MSISDN", "1", Some("a b")).check_format().is_err());
        assert!(party("MSISDN", "1", Some("PASSPORT"))
            .check_format()
            .is_ok());
    }

    #[test]
    fn paths() {
        assert_eq!(
            party("MSISDN", "1", None).path("parties"),
            "/parties/MSISDN/1"
        );
        assert_eq!(
            party("MSISDN", "1", Some("S")).path("participants"),
            "/participants/MSISDN/1/S"
        );
    }
}
