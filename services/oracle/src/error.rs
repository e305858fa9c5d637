//! The oracle's one error type and its single mapping to an HTTP status and FSPIOP error.
//!
//! Statuses follow Mojaloop's reference oracle: unknown party 404 (3200), duplicate 409
//! (3003), bad input 400, database unreachable 503 (2003), anything else 500 (2001).

use fspiop::{ErrorCode, FspiopError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A client-visible failure with its HTTP status and FSPIOP error.
    #[error("{1}")]
    Client(u16, FspiopError),
    /// A database failure.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Configuration or startup failure.
    #[error("configuration: {0}")]
    Config(String),
    /// Anything else (never shown to clients).
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// 400 with `code` and `detail`.
    pub fn bad_request(code: ErrorCode, detail: impl Into<String>) -> Error {
        Error::Client(400, FspiopError::with_detail(code, detail))
    }

    /// 404 / 3200, as the reference oracle answers for an unknown party.
    pub fn not_found(detail: impl Into<String>) -> Error {
        Error::Client(404, FspiopError::with_detail(ErrorCode::IdNotFound, detail))
    }

    /// 409 / 3003 for a mapping that already exists.
    pub fn duplicate(detail: impl Into<String>) -> Error {
        Error::Client(
            409,
            FspiopError::with_detail(ErrorCode::AddPartyInfoError, detail),
        )
    }

    /// Whether this is MySQL refusing a duplicate key.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Error::Db(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// The HTTP status and FSPIOP error answered. Internal failures reveal only their class.
    pub fn to_response_parts(&self) -> (u16, FspiopError) {
        match self {
            Error::Client(status, error) => (*status, error.clone()),
            Error::Db(error) if is_unavailable(error) => (
                503,
                FspiopError::with_detail(
                    ErrorCode::ServiceCurrentlyUnavailable,
                    "[DB] the database is unavailable",
                ),
            ),
            Error::Db(_) | Error::Config(_) | Error::Internal(_) => {
                (500, FspiopError::new(ErrorCode::InternalServerError))
            }
        }
    }
}

/// Whether a database error means "cannot reach the database" (the one classification,
/// `store::classify`).
pub use store::is_unavailable;

impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        let (status, error) = self.to_response_parts();
        if status >= 500 {
            tracing::error!(error = %self, "request failed");
        }
        service_kit::http::json_response(status, &error.to_body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        let (status, error) = Error::not_found("x").to_response_parts();
        assert_eq!((status, error.code.code()), (404, 3200));
        let (status, error) = Error::duplicate("x").to_response_parts();
        assert_eq!((status, error.code.code()), (409, 3003));
        let (status, error) = Error::Db(sqlx::Error::PoolTimedOut).to_response_parts();
        assert_eq!((status, error.code.code()), (503, 2003));
        let (status, error) = Error::Db(sqlx::Error::RowNotFound).to_response_parts();
        assert_eq!((status, error.code.code()), (500, 2001));
        assert_eq!(error.description(), "Internal server error");
    }
}
