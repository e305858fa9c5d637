//! The service's one error type and its single mapping to FSPIOP.

use fspiop::{ErrorCode, FspiopError};
use fspiop_edge::EdgeError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A client-visible failure with its FSPIOP code.
    #[error("{0}")]
    Fspiop(#[from] FspiopError),
    /// The ALS database.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The participant directory (central ledger database) or the HTTP client.
    #[error("{0}")]
    Edge(#[from] EdgeError),
    /// Configuration or startup.
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn client(code: ErrorCode, detail: impl Into<String>) -> Error {
        Error::Fspiop(FspiopError::with_detail(code, detail))
    }

    /// The FSPIOP error answered (synchronously or in a callback). Internal failures reveal
    /// nothing but their class; the cause goes to the log.
    pub fn to_fspiop(&self) -> FspiopError {
        match self {
            Error::Fspiop(error) => error.clone(),
            Error::Db(error) if is_unavailable(error) => FspiopError::with_detail(
                ErrorCode::ServiceCurrentlyUnavailable,
                "database unavailable",
            ),
            Error::Edge(EdgeError::Db(_)) => FspiopError::with_detail(
                ErrorCode::ServiceCurrentlyUnavailable,
                "participant directory unavailable",
            ),
            Error::Db(_)
            | Error::Edge(EdgeError::Client(_))
            | Error::Config(_)
            | Error::Internal(_) => FspiopError::new(ErrorCode::InternalServerError),
        }
    }
}

/// Whether a database error means "cannot reach the database" (the one classification,
/// `store::classify`).
pub use store::is_unavailable;

impl From<Error> for FspiopError {
    fn from(error: Error) -> FspiopError {
        if !matches!(error, Error::Fspiop(_)) {
            tracing::error!(error = %error, "request failed");
        }
        error.to_fspiop()
    }
}

impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        service_kit::http::FspiopResponse(FspiopError::from(self)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        assert_eq!(
            Error::Db(sqlx::Error::PoolTimedOut).to_fspiop().code,
            ErrorCode::ServiceCurrentlyUnavailable
        );
        assert_eq!(
            Error::Db(sqlx::Error::RowNotFound).to_fspiop().code,
            ErrorCode::InternalServerError
        );
        assert_eq!(
            Error::Edge(EdgeError::Db(sqlx::Error::PoolClosed))
                .to_fspiop()
                .code,
            ErrorCode::ServiceCurrentlyUnavailable
        );
        let client = Error::client(ErrorCode::PartyNotFound, "x").to_fspiop();
        assert_eq!(client.description(), "Party not found - x");
    }
}
