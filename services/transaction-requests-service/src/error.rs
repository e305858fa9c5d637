//! The service's error type: what can stop it from starting or running. Failures while a
//! request is processed are FSPIOP errors sent back to its sender (see `relay`).

/// Why the service cannot start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] service_kit::config::ConfigError),
    #[error(transparent)]
    InvalidConfig(#[from] crate::config::InvalidConfig),
    #[error("database: {0}")]
    Store(#[from] store::Error),
    #[error("outbound HTTP: {0}")]
    Edge(#[from] fspiop_edge::EdgeError),
    #[error("HTTP server: {0}")]
    Serve(#[from] std::io::Error),
    #[error("JWS: {0}")]
    Jws(#[from] service_kit::jws::JwsSetupError),
}

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
