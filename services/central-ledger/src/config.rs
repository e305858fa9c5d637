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
    /// Tracing: spans of each hop exported over OTLP/HTTP when `otlp_endpoint` is set
    /// (`[telemetry]`).
    pub telemetry: service_kit::telemetry::TelemetryConfig,
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
    /// Longest time the broker may hold a consumer's fetch waiting for data
    /// (`fetch.wait.max.ms`).
    pub consumer_fetch_wait_max_ms: u32,
    /// How long the producer waits to fill a batch before sending it (`linger.ms`).
    pub producer_linger_ms: u32,
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
    /// Most bulk messages a bulk handler takes before committing its offsets.
    pub bulk_batch_size_max: usize,
    pub timeout_interval_ms: u64,
    pub timeout_sweep_size_max: u32,
    /// Attempts at putting a batch's notifications on the bus before the handler stops
    /// (without committing the batch) and reports itself unhealthy.
    pub notify_attempts_max: u32,
    /// Pause before the second attempt; each later one waits this much longer.
    pub notify_retry_delay_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// How often the handlers' consumer lag is read; 0 turns it off.
    pub consumer_lag_interval_ms: u64,
    /// How often positions and net debit caps are read (admin handler only); 0 turns it off.
    pub positions_interval_ms: u64,
}

pub use service_kit::config::InvalidConfig;

/// Why the configuration could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Read(#[from] service_kit::config::ConfigError),
    #[error(transparent)]
    Invalid(#[from] InvalidConfig),
}

impl Config {
    /// Loads the layered configuration and validates it.
    pub fn load(file: Option<&Path>) -> Result<Config, LoadError> {
        let config: Config = service_kit::config::load(DEFAULTS_TOML, file, ENV_PREFIX)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what would fail later, or never show (a zero interval stops a handler; a batch
    /// wait past the Kafka session timeout gets the consumer thrown out of its group), and
    /// reports every problem at once.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let mut problems = service_kit::config::Problems::default();
        for problem in self.bus().tuning_problems() {
            problems.push(format!("kafka.{problem}"));
        }
        problems.positive("server.request_timeout_ms", self.server.request_timeout_ms);
        problems.positive(
            "database.pool_size_max",
            u64::from(self.database.pool_size_max),
        );
        problems.positive(
            "database.acquire_timeout_ms",
            self.database.acquire_timeout_ms,
        );
        problems.positive(
            "kafka.session_timeout_ms",
            u64::from(self.kafka.session_timeout_ms),
        );
        problems.positive(
            "kafka.topic_create_timeout_ms",
            self.kafka.topic_create_timeout_ms,
        );
        problems.positive("funds.transfer_validity_s", self.funds.transfer_validity_s);
        problems.positive(
            "transfers.batch_size_max",
            u64::try_from(self.transfers.batch_size_max).unwrap_or(u64::MAX),
        );
        problems.positive(
            "transfers.bulk_batch_size_max",
            u64::try_from(self.transfers.bulk_batch_size_max).unwrap_or(u64::MAX),
        );
        problems.positive(
            "transfers.timeout_interval_ms",
            self.transfers.timeout_interval_ms,
        );
        problems.positive(
            "transfers.notify_attempts_max",
            u64::from(self.transfers.notify_attempts_max),
        );
        problems.positive(
            "transfers.timeout_sweep_size_max",
            u64::from(self.transfers.timeout_sweep_size_max),
        );
        if self.kafka.topic_partitions < 1 {
            problems.push("kafka.topic_partitions must be at least 1".to_string());
        }
        if self.hub.name.trim().is_empty() {
            problems.push("hub.name must not be empty".to_string());
        }
        if self.transfers.batch_wait_ms >= u64::from(self.kafka.session_timeout_ms) {
            problems.push(format!(
                "transfers.batch_wait_ms ({}) must be shorter than kafka.session_timeout_ms ({}): a handler waiting that long for a batch is thrown out of its consumer group",
                self.transfers.batch_wait_ms, self.kafka.session_timeout_ms
            ));
        }
        if let Err(problem) = fspiop::ilp::IlpVersions::from_names(&self.transfers.ilp_versions) {
            problems.push(format!("transfers.ilp_versions: {problem}"));
        }
        for problem in self.telemetry.problems() {
            problems.push(problem);
        }
        problems.finish()
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
        bus.consumer_fetch_wait_max_ms = self.kafka.consumer_fetch_wait_max_ms;
        bus.producer_linger_ms = self.kafka.producer_linger_ms;
        bus
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Config::defaults().unwrap().validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_named_by_its_key() {
        let config: Config = service_kit::config::load_from_env_map(
            DEFAULTS_TOML,
            None,
            ENV_PREFIX,
            vec![
                (
                    "CENTRAL_LEDGER__TRANSFERS__TIMEOUT_INTERVAL_MS".to_string(),
                    "0".to_string(),
                ),
                (
                    "CENTRAL_LEDGER__TRANSFERS__BATCH_SIZE_MAX".to_string(),
                    "0".to_string(),
                ),
                (
                    "CENTRAL_LEDGER__TRANSFERS__BATCH_WAIT_MS".to_string(),
                    "60000".to_string(),
                ),
                (
                    "CENTRAL_LEDGER__TRANSFERS__ILP_VERSIONS".to_string(),
                    "[\"v2\"]".to_string(),
                ),
                (
                    "CENTRAL_LEDGER__KAFKA__CONSUMER_FETCH_WAIT_MAX_MS".to_string(),
                    "0".to_string(),
                ),
                (
                    "CENTRAL_LEDGER__KAFKA__PRODUCER_LINGER_MS".to_string(),
                    "1000000".to_string(),
                ),
            ],
        )
        .unwrap();
        let problems = config.validate().unwrap_err().problems;
        assert_eq!(problems.len(), 6, "{problems:?}");
        for key in [
            "kafka.consumer_fetch_wait_max_ms must be between 1 and 300000",
            "kafka.producer_linger_ms must be at most 900000",
            "transfers.timeout_interval_ms must be at least 1",
            "transfers.batch_size_max must be at least 1",
            "transfers.batch_wait_ms (60000) must be shorter than kafka.session_timeout_ms",
            "transfers.ilp_versions: \"v2\"",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(key)),
                "{key} not in {problems:?}"
            );
        }
    }
}
