//! HTTP responses and the JSON body extractor shared by the switch's APIs.
//!
//! - [`FspiopResponse`]: an [`FspiopError`] as a response (the code's HTTP status and the
//!   `errorInformation` body). A service's own error type maps to `FspiopError` once and
//!   returns this.
//! - [`json_response`] and [`empty_response`] for success answers.
//! - [`FspiopJson`]: reads a body of at most [`JSON_BODY_LEN_MAX_BYTES`] and deserialises it,
//!   turning every failure into the FSPIOP code Mojaloop uses for it (see [`parse_json_body`]).
//!   The content type is not checked: admin clients are not consistent about it.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fspiop::{ErrorCode, FspiopError};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Largest request body [`FspiopJson`] reads.
pub const JSON_BODY_LEN_MAX_BYTES: usize = 1024 * 1024;

const CONTENT_TYPE_JSON: &str = "application/json";

/// An FSPIOP error answered synchronously: status `error.http_status()`, body
/// `{"errorInformation": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FspiopResponse(pub FspiopError);

impl From<FspiopError> for FspiopResponse {
    fn from(error: FspiopError) -> Self {
        FspiopResponse(error)
    }
}

impl IntoResponse for FspiopResponse {
    fn into_response(self) -> Response {
        json_response(self.0.http_status(), &self.0.to_body())
    }
}

/// `body` as JSON with `status`. A status outside 100..=999 becomes 500; a body that cannot
/// be serialised (a map with non-string keys) becomes an empty 500 and is logged.
pub fn json_response<T: Serialize>(status: u16, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status_code(status);
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(CONTENT_TYPE_JSON),
            );
            response
        }
        Err(error) => {
            tracing::error!(error.message = %error, "response body cannot be serialised");
            empty_response(500)
        }
    }
}

/// A response with `status` and no body (`202 Accepted` of the async FSPIOP API, `200` of
/// callbacks). A status outside 100..=999 becomes 500.
pub fn empty_response(status: u16) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status_code(status);
    response
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A JSON body deserialised into `T`; failures are answered as FSPIOP errors:
///
/// | problem | code |
/// | --- | --- |
/// | body larger than [`JSON_BODY_LEN_MAX_BYTES`] | 3104 Too large payload |
/// | body unreadable, not JSON | 3101 Malformed syntax |
/// | missing member | 3102 Missing mandatory element |
/// | member of the wrong type, unknown enum value | 3101 Malformed syntax |
/// | unknown member (`T` has `deny_unknown_fields`) | 3103 Too many elements |
///
/// The description names the member as a JSON pointer (`/payee/partyIdInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FspiopJson<T>(pub T);

impl<T, S> FromRequest<S> for FspiopJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = FspiopResponse;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request).await?;
        parse_json_body(&bytes)
            .map(FspiopJson)
            .map_err(FspiopResponse)
    }
}

async fn read_body(request: Request) -> Result<axum::body::Bytes, FspiopError> {
    let declared_len_bytes = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if declared_len_bytes
        .is_some_and(|len| usize::try_from(len).map_or(true, |len| len > JSON_BODY_LEN_MAX_BYTES))
    {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(request.into_body(), JSON_BODY_LEN_MAX_BYTES);
    match http_body_util::BodyExt::collect(limited).await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(error) => Err(FspiopError::with_detail(
            ErrorCode::MalformedSyntax,
            format!("body could not be read: {error}"),
        )),
    }
}

fn too_large() -> FspiopError {
    FspiopError::with_detail(
        ErrorCode::TooLargePayload,
        format!("body is larger than {JSON_BODY_LEN_MAX_BYTES} bytes"),
    )
}

/// Deserialises a JSON body into `T`, mapping failures as [`FspiopJson`] does.
pub fn parse_json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FspiopError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut deserializer).map_err(|error| {
        let pointer = json_pointer(error.path());
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => data_error(&pointer, &without_position(&inner)),
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => not_json(&inner),
        }
    })?;
    // Trailing characters after the value.
    deserializer.end().map_err(|error| not_json(&error))?;
    Ok(value)
}

fn not_json(error: &serde_json::Error) -> FspiopError {
    FspiopError::with_detail(
        ErrorCode::MalformedSyntax,
        format!("body is not valid JSON: {error}"),
    )
}

fn data_error(pointer: &str, message: &str) -> FspiopError {
    if let Some(field) = backticked_after(message, "missing field ") {
        return FspiopError::with_detail(
            ErrorCode::MissingElement,
            format!(
                "{} must have required property '{field}'",
                pointer_or_body(pointer)
            ),
        );
    }
    if let Some(field) = backticked_after(message, "unknown field ") {
        // The path already ends with the unknown member; report it at its parent, as the
        // schema validator does.
        let parent = pointer
            .rsplit_once('/')
            .map(|(parent, _)| parent)
            .unwrap_or_default();
        return FspiopError::with_detail(
            ErrorCode::TooManyElements,
            format!(
                "{} must NOT have additional property '{field}'",
                pointer_or_body(parent)
            ),
        );
    }
    FspiopError::with_detail(
        ErrorCode::MalformedSyntax,
        format!("{} {message}", pointer_or_body(pointer)),
    )
}

fn pointer_or_body(pointer: &str) -> &str {
    if pointer.is_empty() {
        "body"
    } else {
        pointer
    }
}

/// The path as a JSON pointer (`/a/0/b`, `~` and `/` escaped); empty for the root.
fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } => pointer.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => pointer.push_str(variant),
            Segment::Unknown => pointer.push('?'),
        }
    }
    pointer
}

/// serde_json's message without its ` at line L column C` suffix.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&suffix) {
        Some(message) => message.to_string(),
        None => text,
    }
}

fn backticked_after<'a>(message: &'a str, lead: &str) -> Option<&'a str> {
    message
        .strip_prefix(lead)?
        .strip_prefix('`')?
        .split('`')
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Body {
        transfer_id: String,
        amount: Money,
        #[serde(default)]
        state: Option<State>,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Money {
        currency: String,
        amount: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Item {
        name: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    enum State {
        Committed,
        Aborted,
    }

    async fn extract(body: &str) -> Result<Body, FspiopError> {
        extract_with_length(body, None).await
    }

    async fn extract_with_length(
        body: &str,
        content_length: Option<&str>,
    ) -> Result<Body, FspiopError> {
        let mut builder = Request::builder().method("POST").uri("/transfers").header(
            "content-type",
            "application/vnd.interoperability.transfers+json;version=1.1",
        );
        if let Some(len) = content_length {
            builder = builder.header("content-length", len);
        }
        let request = builder
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        FspiopJson::<Body>::from_request(request, &())
            .await
            .map(|FspiopJson(body)| body)
            .map_err(|FspiopResponse(e)| e)
    }

    fn assert_error(result: Result<Body, FspiopError>, code: u16, description: &str) {
        let error = result.unwrap_err();
        assert_eq!(error.code.code(), code, "{error}");
        assert_eq!(error.description(), description);
    }

    const GOOD: &str = r#"{"transferId":"t1","amount":{"currency":"XOF","amount":"10"},"state":"COMMITTED","items":[{"name":"a"}]}"#;

    #[tokio::test]
    async fn good_body_parses() {
        let body = extract(GOOD).await.unwrap();
        assert_eq!(body.transfer_id, "t1");
        assert_eq!(body.state, Some(State::Committed));
        assert_eq!(body.items, vec![Item { name: "a".into() }]);
    }

    #[tokio::test]
    async fn invalid_json_is_3101() {
        let error = extract(r#"{"transferId":"#).await.unwrap_err();
        assert_eq!(error.code, ErrorCode::MalformedSyntax);
        assert!(
            error
                .description()
                .starts_with("Malformed syntax - body is not valid JSON: EOF"),
            "{error}"
        );

        let error = extract("").await.unwrap_err();
        assert_eq!(error.code, ErrorCode::MalformedSyntax);

        let error = extract(&format!("{GOOD} x")).await.unwrap_err();
        assert_eq!(
            error.code,
            ErrorCode::MalformedSyntax,
            "trailing characters"
        );
    }

    #[tokio::test]
    async fn missing_member_is_3102_and_named() {
        assert_error(
            extract(r#"{"amount":{"currency":"XOF","amount":"10"}}"#).await,
            3102,
            "Missing mandatory element - body must have required property 'transferId'",
        );
        assert_error(
            extract(r#"{"transferId":"t1","amount":{"currency":"XOF"}}"#).await,
            3102,
            "Missing mandatory element - /amount must have required property 'amount'",
        );
    }

    #[tokio::test]
    async fn wrong_type_is_3101_and_named() {
        assert_error(
            extract(r#"{"transferId":"t1","amount":{"currency":"XOF","amount":10}}"#).await,
            3101,
            "Malformed syntax - /amount/amount invalid type: integer `10`, expected a string",
        );
        assert_error(
            extract(r#"{"transferId":"t1","amount":{"currency":"XOF","amount":"1"},"items":[{"name":"a"},{"name":1}]}"#).await,
            3101,
            "Malformed syntax - /items/1/name invalid type: integer `1`, expected a string",
        );
        assert_error(
            extract(r#""text""#).await,
            3101,
            "Malformed syntax - body invalid type: string \"text\", expected struct Body",
        );
    }

    #[tokio::test]
    async fn unknown_variant_is_3101() {
        let error = extract(
            r#"{"transferId":"t1","amount":{"currency":"XOF","amount":"1"},"state":"DONE"}"#,
        )
        .await
        .unwrap_err();
        assert_eq!(error.code, ErrorCode::MalformedSyntax);
        assert!(
            error
                .description()
                .starts_with("Malformed syntax - /state unknown variant `DONE`"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn unknown_member_is_3103_and_named() {
        assert_error(
            extract(r#"{"transferId":"t1","amount":{"currency":"XOF","amount":"1"},"extra":1}"#)
                .await,
            3103,
            "Too many elements - body must NOT have additional property 'extra'",
        );
        assert_error(
            extract(r#"{"transferId":"t1","amount":{"currency":"XOF","amount":"1","fee":"2"}}"#)
                .await,
            3103,
            "Too many elements - /amount must NOT have additional property 'fee'",
        );
    }

    #[tokio::test]
    async fn too_large_body_is_3104() {
        // No Content-Length: caught while reading.
        let big = format!(
            r#"{{"transferId":"{}"}}"#,
            "x".repeat(JSON_BODY_LEN_MAX_BYTES)
        );
        assert_error(
            extract(&big).await,
            3104,
            "Too large payload - body is larger than 1048576 bytes",
        );
        // A declared length over the limit is refused before reading.
        let error = extract_with_length(GOOD, Some("1048577"))
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::TooLargePayload);
        // Exactly at the limit is read.
        let padded = format!("{GOOD}{}", " ".repeat(JSON_BODY_LEN_MAX_BYTES - GOOD.len()));
        assert!(extract_with_length(&padded, Some("1048576")).await.is_ok());
    }

    #[tokio::test]
    async fn fspiop_response_has_status_type_and_body() {
        let error = FspiopError::with_detail(ErrorCode::TransferIdNotFound, "t1");
        let response = FspiopResponse::from(error).into_response();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"errorInformation":{"errorCode":"3208","errorDescription":"Transfer ID not found - t1"}}"#
        );

        let response = FspiopResponse(FspiopError::new(ErrorCode::ServiceCurrentlyUnavailable))
            .into_response();
        assert_eq!(response.status(), 503);
    }

    #[tokio::test]
    async fn json_and_empty_responses() {
        let response = json_response(201, &serde_json::json!({"a": 1}));
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        assert_eq!(&body[..], br#"{"a":1}"#);

        let response = empty_response(202);
        assert_eq!(response.status(), 202);
        assert!(response.headers().get("content-type").is_none());
        assert!(axum::body::to_bytes(response.into_body(), 16)
            .await
            .unwrap()
            .is_empty());

        assert_eq!(empty_response(42).status(), 500);
    }
}
