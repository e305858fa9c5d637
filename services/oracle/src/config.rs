//! The oracle's configuration: `config.default.toml`, then a file, then environment variables
//! `ORACLE__SECTION__KEY`.

use std::path::Path;

use serde::Deserialize;

pub const DEFAULTS_TOML: &str = include_str!("config.default.toml");
pub const ENV_PREFIX: &str = "ORACLE";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub limits: LimitsConfig,
    /// Mutual TLS on the listener (`[tls]`).
    pub tls: service_kit::tls::TlsConfig,
    /// Tracing: spans of each hop exported over OTLP/HTTP when `otlp_endpoint` is set
    /// (`[telemetry]`).
    pub telemetry: service_kit::telemetry::TelemetryConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    /// Longest time a request may take, in milliseconds.
    pub request_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// MySQL server URL, without the database.
    pub url: String,
    /// The database on that server.
    pub name: String,
    pub pool_size_max: u32,
    pub acquire_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Party identifier types served (`MSISDN`).
    pub party_id_types: Vec<String>,
    /// Rows per multi-row INSERT of a bulk registration.
    pub bulk_insert_rows_max: usize,
    /// Most mappings returned for one identifier.
    pub party_list_len_max: u32,
}

impl Config {
    /// Loads the layered configuration and checks it.
    pub fn load(file: Option<&Path>) -> Result<Config, crate::Error> {
        let config: Config = service_kit::config::load(DEFAULTS_TOML, file, ENV_PREFIX)
            .map_err(|e| crate::Error::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The embedded defaults alone.
    pub fn defaults() -> Result<Config, crate::Error> {
        let config: Config = service_kit::config::load_from_env_map(
            DEFAULTS_TOML,
            None,
            ENV_PREFIX,
            Vec::<(String, String)>::new(),
        )
        .map_err(|e| crate::Error::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Every problem at once, so a bad deployment is fixed in one go.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let mut problems = Vec::new();
        if self.server.request_timeout_ms == 0 {
            problems.push("server.request_timeout_ms must be positive".to_string());
        }
        if self.database.pool_size_max == 0 {
            problems.push("database.pool_size_max must be positive".to_string());
        }
        if !(1..=10_000).contains(&self.limits.bulk_insert_rows_max) {
            problems.push("limits.bulk_insert_rows_max must be 1 to 10000".to_string());
        }
        if self.limits.party_list_len_max == 0 {
            problems.push("limits.party_list_len_max must be positive".to_string());
        }
        if self.limits.party_id_types.is_empty() {
            problems.push("limits.party_id_types must name at least one type".to_string());
        }
        problems.extend(self.tls.problems());
        problems.extend(self.telemetry.problems());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(crate::Error::Config(problems.join("; ")))
        }
    }

    /// The database URL with the database name.
    pub fn database_url(&self) -> Result<String, crate::Error> {
        store::database_url(&self.database.url, &self.database.name)
            .map_err(|e| crate::Error::Config(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_validate() {
        let config = Config::defaults().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.server.port, 3000);
        assert_eq!(config.limits.party_id_types, vec!["MSISDN".to_string()]);
    }

    #[test]
    fn validation_lists_every_problem() {
        let mut config = Config::defaults().unwrap_or_else(|e| panic!("{e}"));
        config.limits.bulk_insert_rows_max = 0;
        config.database.pool_size_max = 0;
        let message = config
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("bulk_insert_rows_max") && message.contains("pool_size_max"),
            "{message}"
        );
    }
}
