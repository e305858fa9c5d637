//! The service's configuration: `config.default.toml`, then a file, then environment
//! variables `CENTRAL_LEDGER__SECTION__KEY`.

use std::path::Path;

use serde::Deserialize;

pub const DEFAULTS_TOML: &str = include_str!("config.default.toml");
pub const ENV_PREFIX: &str = "CENTRAL_LEDGER";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub kafka: KafkaConfig,
    pub hub: HubConfig,
    pub funds: FundsConfig,
    pub transfers: TransfersConfig,
    pub metrics: MetricsConfig,
    /// Mutual TLS on the listener (`[tls]`).
    pub tls: service_kit::tls::TlsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub hostname_url: String,
    pub request_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub name: String,
    pub pool_size_max: u32,
    pub acquire_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    pub brokers: String,
    pub client_id: String,
    pub session_timeout_ms: u32,
    pub topic_partitions: i32,
    pub topic_create_timeout_ms: u64,
    pub topic_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    pub name: String,
    pub account_types: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundsConfig {
    pub transfer_validity_s: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransfersConfig {
    pub on_us_allowed: bool,
    pub ilp_check: bool,
    /// Packet versions accepted (`"v1"`, `"v4"`); each packet is decoded by its type byte.
    pub ilp_versions: Vec<String>,
    pub batch_size_max: usize,
    pub batch_wait_ms: u64,
    pub timeout_interval_ms: u64,
    pub timeout_sweep_size_max: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// How often the handlers' consumer lag is read; 0 turns it off.
    pub consumer_lag_interval_ms: u64,
    /// How often positions and net debit caps are read (admin handler only); 0 turns it off.
    pub positions_interval_ms: u64,
}

impl Config {
    /// Loads the layered configuration.
    pub fn load(file: Option<&Path>) -> Result<Config, service_kit::config::ConfigError> {
        service_kit::config::load(DEFAULTS_TOML, file, ENV_PREFIX)
    }

    /// The embedded defaults alone.
    pub fn defaults() -> Result<Config, service_kit::config::ConfigError> {
        service_kit::config::load_from_env_map(
            DEFAULTS_TOML,
            None,
            ENV_PREFIX,
            Vec::<(String, String)>::new(),
        )
    }

    /// The database URL with the database name.
    pub fn database_url(&self) -> Result<String, store::Error> {
        store::database_url(&self.database.url, &self.database.name)
    }

    /// A topic or consumer-group name with the configured prefix.
    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.kafka.topic_prefix)
    }

    pub fn bus(&self) -> bus::BusConfig {
        let mut bus = bus::BusConfig::new(self.kafka.brokers.clone(), self.kafka.client_id.clone());
        bus.session_timeout_ms = self.kafka.session_timeout_ms;
        bus
    }
}
