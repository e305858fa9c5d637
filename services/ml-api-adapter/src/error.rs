//! The service's one error type and its single mapping to FSPIOP.

use fspiop::{ErrorCode, FspiopError};

/// Everything that can go wrong in this service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A client-visible failure with its FSPIOP code.
    #[error("{0}")]
    Fspiop(#[from] FspiopError),
    /// The configuration could not be loaded.
    #[error(transparent)]
    Config(#[from] service_kit::config::ConfigError),
    /// The configuration loaded but cannot work.
    #[error(transparent)]
    InvalidConfig(#[from] crate::config::InvalidConfig),
    /// The broker refused or did not acknowledge in time.
    #[error("message bus")]
    Bus(#[from] bus::Error),
    /// A message that could not be serialised.
    #[error("JSON")]
    Json(#[from] serde_json::Error),
    /// The central ledger database (endpoints) could not be reached.
    #[error("central ledger database: {0}")]
    Store(#[from] store::Error),
    /// Anything else (a bug, the HTTP client, the listener).
    #[error("{0}")]
    Internal(String),
}

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The FSPIOP error answered to a client. Internal failures reveal nothing but their class;
    /// the cause goes to the log.
    pub fn to_fspiop(&self) -> FspiopError {
        match self {
            Error::Fspiop(error) => error.clone(),
            Error::Bus(_) => FspiopError::with_detail(
                ErrorCode::ServiceCurrentlyUnavailable,
                "message bus unavailable",
            ),
            Error::Store(error) => error.to_fspiop(),
            Error::Config(_) | Error::InvalidConfig(_) | Error::Internal(_) | Error::Json(_) => {
                FspiopError::new(ErrorCode::InternalServerError)
            }
        }
    }
}

impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        if !matches!(self, Error::Fspiop(_)) {
            let cause = std::error::Error::source(&self).map(ToString::to_string);
            tracing::error!(error.message = %self, cause, "request failed");
        }
        service_kit::http::FspiopResponse(self.to_fspiop()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_reveal_only_their_class() {
        assert_eq!(
            Error::Bus(bus::Error::Refused {
                topic: "broker down at 10.0.0.1".into()
            })
            .to_fspiop()
            .description(),
            "Service currently unavailable - message bus unavailable"
        );
        assert_eq!(
            Error::Bus(bus::Error::Refused {
                topic: String::new()
            })
            .to_fspiop()
            .http_status(),
            503
        );
        assert_eq!(
            Error::Internal("secret".into()).to_fspiop().description(),
            "Internal server error"
        );
        let client = Error::from(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            "x",
        ));
        assert_eq!(client.to_fspiop().code, ErrorCode::GenericValidationError);
    }
}
