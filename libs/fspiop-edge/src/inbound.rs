//! What every FSPIOP service does with an inbound request before judging it: read the body
//! within the API's limit, check the path's id, hash the body for duplicate detection.

use axum::body::{Body, Bytes};
use fspiop::{ErrorCode, FspiopError};
use sha2::Digest as _;

/// The FSPIOP API's payload limit (5 MiB): a larger body is 3104.
pub const BODY_LEN_MAX_BYTES: usize = 5_242_880;

/// Reads `body`, at most `len_max_bytes`: larger is 3104, unreadable 3101.
pub async fn read_body(body: Body, len_max_bytes: usize) -> Result<Bytes, FspiopError> {
    axum::body::to_bytes(body, len_max_bytes)
        .await
        .map_err(|error| {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_large {
                FspiopError::with_detail(
                    ErrorCode::TooLargePayload,
                    format!("body is larger than {len_max_bytes} bytes"),
                )
            } else {
                FspiopError::with_detail(ErrorCode::MalformedSyntax, "body could not be read")
            }
        })
}

/// The `{ID}` of a path must be a CorrelationId (UUID or ULID): 3100 otherwise, as Mojaloop's
/// OpenAPI pattern check answers.
pub fn check_path_id(id: &str) -> Result<(), FspiopError> {
    if fspiop::validate::is_correlation_id(id) {
        Ok(())
    } else {
        Err(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            format!("/params/id {id:?} must be a UUID or ULID"),
        ))
    }
}

/// Lower-case hex SHA-256 of the body's canonical JSON: key order and spacing do not make a
/// resend look new.
pub fn body_hash_hex(value: &serde_json::Value) -> String {
    let digest = sha2::Sha256::digest(fspiop::canonical::to_string(value).as_bytes());
    fspiop::hex::lower(&digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_hashes() {
        assert!(check_path_id("b51ec534-ee48-4575-b6a9-ead2955b8069").is_ok());
        assert_eq!(
            check_path_id("x").unwrap_err().code,
            ErrorCode::GenericValidationError
        );
        let a = serde_json::json!({"a": 1, "b": [1, 2]});
        let b: serde_json::Value = serde_json::from_str("{ \"b\": [1, 2], \"a\": 1 }").unwrap();
        assert_eq!(body_hash_hex(&a), body_hash_hex(&b));
        assert_eq!(body_hash_hex(&a).len(), 64);
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_3104() {
        let error = read_body(Body::from(vec![b'x'; 11]), 10).await.unwrap_err();
        assert_eq!(error.code, ErrorCode::TooLargePayload);
        assert_eq!(read_body(Body::from("{}"), 10).await.unwrap(), "{}");
    }
}
