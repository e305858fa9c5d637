//! The service's one error type and its single mapping to FSPIOP.

use fspiop::{ErrorCode, FspiopError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A client-visible failure with its FSPIOP code.
    #[error("{0}")]
    Fspiop(#[from] FspiopError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("message bus")]
    Bus(#[from] bus::Error),
    /// A stored amount that is not a `DECIMAL(18,4)` (a broken row, never client input).
    #[error("stored amount")]
    Money(#[from] ledger::MoneyError),
    #[error("JSON")]
    Json(#[from] serde_json::Error),
    #[error("database setup")]
    Store(#[from] store::Error),
    #[error("{0}")]
    Internal(String),
    /// A rule of the ledger would have been broken (see `ledger_book::invariant!`); the
    /// transaction was rolled back.
    #[error("ledger invariant broken: {0}")]
    Invariant(String),
}

impl From<ledger_book::Error> for Error {
    fn from(error: ledger_book::Error) -> Error {
        match error {
            ledger_book::Error::Db(e) => Error::Db(e),
            ledger_book::Error::Invariant(message) => Error::Invariant(message),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn client(code: ErrorCode, detail: impl Into<String>) -> Error {
        Error::Fspiop(FspiopError::with_detail(code, detail))
    }

    pub fn not_found(detail: impl Into<String>) -> Error {
        Error::client(ErrorCode::IdNotFound, detail)
    }

    /// Whether a ledger invariant was broken (counted by the handlers).
    pub fn is_invariant(&self) -> bool {
        matches!(self, Error::Invariant(_))
    }

    /// Whether this is MySQL refusing a duplicate key.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Error::Db(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// The FSPIOP error answered to the client. Internal failures reveal nothing but their
    /// class; the cause goes to the log.
    pub fn to_fspiop(&self) -> FspiopError {
        match self {
            Error::Fspiop(error) => error.clone(),
            Error::Db(error) => store::to_fspiop(error),
            Error::Store(error) => error.to_fspiop(),
            Error::Internal(_) | Error::Invariant(_) | Error::Money(_) | Error::Json(_) => {
                FspiopError::new(ErrorCode::InternalServerError)
            }
            Error::Bus(_) => FspiopError::with_detail(
                ErrorCode::ServiceCurrentlyUnavailable,
                "message bus unavailable",
            ),
        }
    }
}

impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        if !matches!(self, Error::Fspiop(_)) {
            let cause = std::error::Error::source(&self).map(ToString::to_string);
            tracing::error!(error = %self, cause, "request failed");
        }
        service_kit::http::FspiopResponse(self.to_fspiop()).into_response()
    }
}
