//! The service's configuration: `config.default.toml` (which documents every key), then a
//! file, then environment variables `QUOTING_SERVICE__SECTION__KEY`; then [`Config::validate`]
//! reports every problem at once.

use std::path::Path;

use fspiop::headers::ProtocolVersions;
use fspiop::ilp::IlpVersions;
use serde::Deserialize;

/// The embedded defaults.
pub const DEFAULTS_TOML: &str = include_str!("config.default.toml");
/// Prefix of the environment variables.
pub const ENV_PREFIX: &str = "QUOTING_SERVICE";
/// Most rows one multi-row insert may carry (keeps the statement far below MySQL's 65 535
/// placeholders).
pub const WRITE_BATCH_MAX_LIMIT: usize = 1000;

/// Everything the service reads at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub hub: HubConfig,
    pub quotes: QuotesConfig,
    pub central_ledger_database: DirectoryDatabaseConfig,
    pub quotes_database: QuotesDatabaseConfig,
    pub http_client: HttpClientConfig,
    pub protocol_versions: service_kit::config::ProtocolVersionsConfig,
    pub jws: service_kit::jws::JwsConfig,
    /// Mutual TLS on the listener and the forwarding client's certificate (`[tls]`).
    pub tls: service_kit::tls::TlsConfig,
    /// Tracing: spans of each hop exported over OTLP/HTTP when `otlp_endpoint` is set
    /// (`[telemetry]`).
    pub telemetry: service_kit::telemetry::TelemetryConfig,
    /// How strictly request bodies are read (`[validation]`).
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
}

/// The hub operator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// FSPIOP-Source of hub-originated error callbacks.
    pub name: String,
}

/// Whether quotes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Quotes, responses and errors are stored; resends are detected by hash.
    Persistent,
    /// Nothing is stored; every request is relayed.
    PassThrough,
}

/// The quoting behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotesConfig {
    pub mode: Mode,
    /// Whether the ILP packet of a quote response is checked against the response.
    pub ilp_check: bool,
    /// The packet versions accepted: `["v1", "v4"]` (default), or one of them.
    pub ilp_versions: Vec<String>,
    /// Requests in asynchronous processing at once.
    pub forward_concurrency_max: usize,
}

/// The central ledger database (participants and endpoints).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryDatabaseConfig {
    /// Server URL, without the database.
    pub url: String,
    /// Database name.
    pub name: String,
    pub pool_size_max: u32,
    pub acquire_timeout_ms: u64,
    /// Time participants and endpoints stay cached.
    pub cache_ttl_ms: u64,
}

/// The quotes database (persistent mode).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotesDatabaseConfig {
    /// Server URL, without the database.
    pub url: String,
    /// Database name.
    pub name: String,
    pub pool_size_max: u32,
    pub acquire_timeout_ms: u64,
    /// Capacity of the writer's queue, in writes.
    pub write_queue_max: usize,
    /// Rows per multi-row insert, at most [`WRITE_BATCH_MAX_LIMIT`].
    pub write_batch_max: usize,
}

/// Outbound HTTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpClientConfig {
    pub request_timeout_ms: u64,
    pub idle_connections_per_host_max: usize,
}

pub use service_kit::config::InvalidConfig;

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
        if let Err(problem) = IlpVersions::from_names(&self.quotes.ilp_versions) {
            problems.push(format!("quotes.ilp_versions: {problem}"));
        }
        if self.quotes.forward_concurrency_max == 0 {
            problems.push("quotes.forward_concurrency_max must be at least 1".to_string());
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
        if self.http_client.request_timeout_ms == 0 {
            problems.push("http_client.request_timeout_ms must be at least 1".to_string());
        }
        if self.quotes.mode == Mode::Persistent {
            let db = &self.quotes_database;
            if db.pool_size_max == 0 {
                problems.push("quotes_database.pool_size_max must be at least 1".to_string());
            }
            if db.write_queue_max == 0 {
                problems.push("quotes_database.write_queue_max must be at least 1".to_string());
            }
            if !(1..=WRITE_BATCH_MAX_LIMIT).contains(&db.write_batch_max) {
                problems.push(format!(
                    "quotes_database.write_batch_max must be 1 to {WRITE_BATCH_MAX_LIMIT}"
                ));
            }
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

    /// The ILP packet versions accepted (both when the list is not valid; `validate` reports
    /// that).
    pub fn ilp_versions(&self) -> IlpVersions {
        IlpVersions::from_names(&self.quotes.ilp_versions).unwrap_or(IlpVersions::BOTH)
    }

    /// The central ledger database URL with the database name.
    pub fn central_ledger_database_url(&self) -> Result<String, store::Error> {
        store::database_url(
            &self.central_ledger_database.url,
            &self.central_ledger_database.name,
        )
    }

    /// The quotes database URL with the database name.
    pub fn quotes_database_url(&self) -> Result<String, store::Error> {
        store::database_url(&self.quotes_database.url, &self.quotes_database.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_validate() {
        let config = Config::defaults().unwrap();
        assert_eq!(config.server.port, 3002);
        assert_eq!(config.quotes.mode, Mode::Persistent);
        assert!(config.quotes.ilp_check);
        assert_eq!(config.ilp_versions(), IlpVersions::BOTH);
        assert_eq!(
            config.protocol_versions().unwrap(),
            ProtocolVersions::default()
        );
        assert_eq!(
            config.central_ledger_database_url().unwrap(),
            "mysql://root@127.0.0.1:3306/central_ledger"
        );
    }

    #[test]
    fn environment_selects_pass_through() {
        let config: Config = service_kit::config::load_from_env_map(
            DEFAULTS_TOML,
            None,
            ENV_PREFIX,
            vec![
                (
                    "QUOTING_SERVICE__QUOTES__MODE".to_string(),
                    "pass-through".to_string(),
                ),
                (
                    "QUOTING_SERVICE__QUOTES__ILP_VERSIONS".to_string(),
                    "[\"v1\"]".to_string(),
                ),
            ],
        )
        .unwrap();
        assert_eq!(config.quotes.mode, Mode::PassThrough);
        assert_eq!(
            config.ilp_versions(),
            IlpVersions::only(fspiop::ilp::IlpVersion::V1)
        );
        assert!(config.validate().is_ok());
    }

    #[test]
    fn every_problem_is_reported() {
        let mut config = Config::defaults().unwrap();
        config.quotes.ilp_versions = vec!["v2".into()];
        config.quotes.forward_concurrency_max = 0;
        config.quotes_database.write_batch_max = 5000;
        config.protocol_versions.content_supported = vec!["1".into()];
        let problems = config.validate().unwrap_err().problems;
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("content_supported"), "{problems:?}");

        // The quotes database is not looked at in pass-through mode.
        config.quotes.mode = Mode::PassThrough;
        assert_eq!(config.validate().unwrap_err().problems.len(), 3);
    }
}
