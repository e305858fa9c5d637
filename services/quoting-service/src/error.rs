//! The service's error type: what can stop it from starting or running. Failures while a
//! quote is processed are not errors of this type: they are FSPIOP errors sent back to the
//! requester in an error callback (see `process`).

/// Why the service cannot start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration could not be loaded.
    #[error(transparent)]
    Config(#[from] service_kit::config::ConfigError),
    /// The configuration loaded but cannot work.
    #[error(transparent)]
    InvalidConfig(#[from] crate::config::InvalidConfig),
    /// A database could not be created, connected to or migrated.
    #[error("database: {0}")]
    Store(#[from] store::Error),
    /// The outbound HTTP client could not be built.
    #[error("outbound HTTP: {0}")]
    Edge(#[from] fspiop_edge::EdgeError),
    /// The HTTP server failed.
    #[error("HTTP server: {0}")]
    Serve(#[from] std::io::Error),
    /// The JWS keys could not be loaded.
    #[error("JWS: {0}")]
    Jws(#[from] service_kit::jws::JwsSetupError),
}

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
