//! The service's configuration: `config.default.toml` (which documents every key), then a
//! file, then environment variables `TRANSACTION_REQUESTS_SERVICE__SECTION__KEY`; then
//! [`Config::validate`] reports every problem at once.

use std::path::Path;

use fspiop::headers::ProtocolVersions;
use serde::Deserialize;

pub use service_kit::config::InvalidConfig;

/// The embedded defaults.
pub const DEFAULTS_TOML: &str = include_str!("config.default.toml");
/// Prefix of the environment variables.
pub const ENV_PREFIX: &str = "TRANSACTION_REQUESTS_SERVICE";
/// Most requests in progress at once the configuration may ask for.
pub const FORWARD_CONCURRENCY_MAX_LIMIT: usize = 1_000_000;

/// Everything the service reads at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub hub: HubConfig,
    pub central_ledger_database: DirectoryDatabaseConfig,
    pub transaction_requests_database: DatabaseConfig,
    pub http_client: HttpClientConfig,
    pub protocol_versions: service_kit::config::ProtocolVersionsConfig,
    pub jws: service_kit::jws::JwsConfig,
    pub tls: service_kit::tls::TlsConfig,
    /// Tracing: spans of each hop exported over OTLP/HTTP when `otlp_endpoint` is set
    /// (`[telemetry]`).
    pub telemetry: service_kit::telemetry::TelemetryConfig,
    pub validation: service_kit::config::ValidationConfig,
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    /// Longest wait for a forwarding slot before a request is answered with 2005.
    pub request_timeout_ms: u64,
    /// Requests in asynchronous processing at once.
    pub forward_concurrency_max: usize,
}

/// The hub operator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// FSPIOP-Source of hub-originated error callbacks.
    pub name: String,
}

/// The central ledger database (participants and endpoints, read only).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryDatabaseConfig {
    pub url: String,
    pub name: String,
    pub pool_size_max: u32,
    pub acquire_timeout_ms: u64,
    /// Time participants and endpoints stay cached.
    pub cache_ttl_ms: u64,
}

/// The transaction requests database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub name: String,
    pub pool_size_max: u32,
    pub acquire_timeout_ms: u64,
}

/// Outbound HTTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpClientConfig {
    pub request_timeout_ms: u64,
    pub idle_connections_per_host_max: usize,
}

impl Config {
    /// Loads the layered configuration and validates it.
    pub fn load(file: Option<&Path>) -> Result<Config, crate::Error> {
        let config: Config = service_kit::config::load(DEFAULTS_TOML, file, ENV_PREFIX)?;
        config.validate()?;
        Ok(config)
    }

    /// The embedded defaults alone (validated).
    pub fn defaults() -> Result<Config, crate::Error> {
        let config: Config = service_kit::config::load_from_env_map(
            DEFAULTS_TOML,
            None,
            ENV_PREFIX,
            Vec::<(String, String)>::new(),
        )?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and formats, reporting all problems.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let mut problems = Vec::new();
        if let Err(problem) = self.protocol_versions() {
            problems.push(problem);
        }
        if !(1..=FORWARD_CONCURRENCY_MAX_LIMIT).contains(&self.server.forward_concurrency_max) {
            problems.push(format!(
                "server.forward_concurrency_max must be 1 to {FORWARD_CONCURRENCY_MAX_LIMIT}"
            ));
        }
        if self.server.request_timeout_ms == 0 {
            problems.push("server.request_timeout_ms must be at least 1".to_string());
        }
        if self.hub.name.is_empty() {
            problems.push("hub.name must not be empty".to_string());
        }
        if self.central_ledger_database.pool_size_max == 0 {
            problems.push("central_ledger_database.pool_size_max must be at least 1".to_string());
        }
        if self.transaction_requests_database.pool_size_max == 0 {
            problems
                .push("transaction_requests_database.pool_size_max must be at least 1".to_string());
        }
        if self.http_client.request_timeout_ms == 0 {
            problems.push("http_client.request_timeout_ms must be at least 1".to_string());
        }
        problems.extend(self.tls.problems());
        problems.extend(self.telemetry.problems());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(InvalidConfig { problems })
        }
    }

    /// The configured protocol versions, or the first problem with them.
    pub fn protocol_versions(&self) -> Result<ProtocolVersions, String> {
        self.protocol_versions.to_versions()
    }

    /// The central ledger database URL with the database name.
    pub fn central_ledger_database_url(&self) -> Result<String, store::Error> {
        store::database_url(
            &self.central_ledger_database.url,
            &self.central_ledger_database.name,
        )
    }

    /// The transaction requests database URL with the database name.
    pub fn transaction_requests_database_url(&self) -> Result<String, store::Error> {
        let db = &self.transaction_requests_database;
        store::database_url(&db.url, &db.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_validate() {
        let config = Config::defaults().unwrap();
        assert_eq!(config.server.port, 4003);
        assert_eq!(
            config.transaction_requests_database.name,
            "transaction_requests"
        );
        assert_eq!(
            config.protocol_versions().unwrap(),
            ProtocolVersions::default()
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let mut config = Config::defaults().unwrap();
        config.server.forward_concurrency_max = 0;
        config.hub.name.clear();
        config.transaction_requests_database.pool_size_max = 0;
        let problems = config.validate().unwrap_err().problems;
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
