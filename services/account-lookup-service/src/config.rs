//! The service's configuration: `config.default.toml`, then a file, then environment variables
//! `ALS__SECTION__KEY`. [`Config::validate`] lists every problem at once.

use std::path::Path;

use fspiop::headers::{ProtocolVersions, Version};
use serde::Deserialize;

pub const DEFAULTS_TOML: &str = include_str!("config.default.toml");
pub const ENV_PREFIX: &str = "ALS";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub directory: DirectoryConfig,
    pub hub: HubConfig,
    pub protocol: ProtocolConfig,
    pub callbacks: CallbacksConfig,
    pub oracle: OracleConfig,
    pub limits: LimitsConfig,
    pub jws: service_kit::jws::JwsConfig,
    /// Mutual TLS on both listeners and the client certificate of calls to DFSPs and oracles
    /// (`[tls]`).
    pub tls: service_kit::tls::TlsConfig,
    /// Tracing: spans of each hop exported over OTLP/HTTP when `otlp_endpoint` is set
    /// (`[telemetry]`).
    pub telemetry: service_kit::telemetry::TelemetryConfig,
    /// How strictly request bodies are read (`[validation]`).
    pub validation: service_kit::config::ValidationConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub host: String,
    /// FSPIOP API port.
    pub port: u16,
    /// Admin API port.
    pub admin_port: u16,
    /// Longest synchronous handling of a request, in milliseconds.
    pub request_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// MySQL server URL, without the database.
    pub url: String,
    /// The ALS database on that server.
    pub name: String,
    pub pool_size_max: u32,
    pub acquire_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// URL of the central ledger's database, database name included.
    pub central_ledger_database_url: String,
    pub pool_size_max: u32,
    pub acquire_timeout_ms: u64,
    /// Lifetime of a cached participant with its endpoints, in milliseconds.
    pub cache_ttl_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolConfig {
    pub content_versions: Vec<String>,
    pub accept_versions: Vec<String>,
    pub content_default: String,
    pub accept_default: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbacksConfig {
    /// Longest request to a DFSP, connection included, in milliseconds.
    pub request_timeout_ms: u64,
    pub idle_connections_per_host_max: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OracleConfig {
    /// Longest request to an oracle, connection included, in milliseconds.
    pub request_timeout_ms: u64,
    pub idle_connections_per_host_max: usize,
    /// Lifetime of the cached oracle registry, in milliseconds.
    pub registry_cache_ttl_ms: u64,
    pub lookup_cache_enabled: bool,
    /// Lifetime of a cached oracle lookup answer, in milliseconds.
    pub lookup_cache_ttl_ms: u64,
    /// Most cached lookup answers.
    pub lookup_cache_entries_max: usize,
    pub delete_validation_enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most asynchronous tasks in flight.
    pub async_tasks_max: u32,
    /// How long shutdown waits for in-flight tasks, in milliseconds.
    pub shutdown_drain_timeout_ms: u64,
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

    /// Every problem at once.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let mut problems = Vec::new();
        if let Err(problem) = self.protocol_versions() {
            problems.push(problem);
        }
        let positive = [
            ("server.request_timeout_ms", self.server.request_timeout_ms),
            (
                "database.acquire_timeout_ms",
                self.database.acquire_timeout_ms,
            ),
            (
                "directory.acquire_timeout_ms",
                self.directory.acquire_timeout_ms,
            ),
            (
                "callbacks.request_timeout_ms",
                self.callbacks.request_timeout_ms,
            ),
            ("oracle.request_timeout_ms", self.oracle.request_timeout_ms),
            (
                "database.pool_size_max",
                u64::from(self.database.pool_size_max),
            ),
            (
                "directory.pool_size_max",
                u64::from(self.directory.pool_size_max),
            ),
            (
                "limits.async_tasks_max",
                u64::from(self.limits.async_tasks_max),
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                problems.push(format!("{key} must be positive"));
            }
        }
        if self.oracle.lookup_cache_enabled && self.oracle.lookup_cache_entries_max == 0 {
            problems.push(
                "oracle.lookup_cache_entries_max must be positive when the cache is enabled"
                    .to_string(),
            );
        }
        if !fspiop::headers::is_valid_fsp_id(&self.hub.name) {
            problems.push("hub.name must be an FspId (1 to 32 characters)".to_string());
        }
        if self.server.port == self.server.admin_port && self.server.port != 0 {
            problems.push("server.port and server.admin_port must differ".to_string());
        }
        problems.extend(self.tls.problems());
        problems.extend(self.telemetry.problems());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(crate::Error::Config(problems.join("; ")))
        }
    }

    /// The protocol versions as `fspiop` uses them.
    pub fn protocol_versions(&self) -> Result<ProtocolVersions, String> {
        let parse = |key: &str, text: &str, minor_required: bool| {
            Version::parse(text)
                .filter(|v| !minor_required || v.minor.is_some())
                .ok_or_else(|| {
                    format!(
                        "protocol.{key}: {text:?} is not a version{}",
                        if minor_required { " x.y" } else { "" }
                    )
                })
        };
        let list = |key: &str, texts: &[String], minor_required: bool| {
            if texts.is_empty() {
                return Err(format!("protocol.{key} must list at least one version"));
            }
            texts
                .iter()
                .map(|t| parse(key, t, minor_required))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(ProtocolVersions {
            content_supported: list("content_versions", &self.protocol.content_versions, true)?,
            accept_supported: list("accept_versions", &self.protocol.accept_versions, false)?,
            content_default: parse("content_default", &self.protocol.content_default, true)?,
            accept_default: parse("accept_default", &self.protocol.accept_default, false)?,
        })
    }

    /// The ALS database URL with the database name.
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
        let config = Config::defaults().unwrap();
        assert_eq!((config.server.port, config.server.admin_port), (4002, 4001));
        assert_eq!(
            config.protocol_versions().unwrap(),
            ProtocolVersions::default()
        );
        assert!(!config.oracle.lookup_cache_enabled);
    }

    #[test]
    fn validation_lists_every_problem() {
        let mut config = Config::defaults().unwrap();
        config.protocol.content_default = "2".to_string();
        config.limits.async_tasks_max = 0;
        config.hub.name = String::new();
        let message = config
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        for expected in ["content_default", "async_tasks_max", "hub.name"] {
            assert!(message.contains(expected), "{message}");
        }
    }
}
