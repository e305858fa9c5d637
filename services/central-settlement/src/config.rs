//! The service's configuration: `config.default.toml`, then a file, then environment
//! variables `CENTRAL_SETTLEMENT__SECTION__KEY`.

use std::path::Path;

use serde::Deserialize;

pub const DEFAULTS_TOML: &str = include_str!("config.default.toml");
pub const ENV_PREFIX: &str = "CENTRAL_SETTLEMENT";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub kafka: KafkaConfig,
    pub hub: HubConfig,
    pub windows: WindowsConfig,
    pub settlements: SettlementsConfig,
    pub gross: GrossConfig,
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsConfig {
    pub close_attempts_max: u32,
    pub close_retry_delay_ms: u64,
    pub processing_sweep_interval_ms: u64,
    pub processing_age_min_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementsConfig {
    pub transfer_validity_s: u64,
    pub list_len_max: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub consumer_lag_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrossConfig {
    pub enabled: bool,
    pub models_cache_ms: u64,
    pub batch_size_max: usize,
    pub batch_wait_ms: u64,
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

    /// Checks what would fail later or never show (a zero sweep interval, no close attempt, a
    /// batch wait past the Kafka session timeout), reporting every problem at once.
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
        problems.positive(
            "windows.close_attempts_max",
            u64::from(self.windows.close_attempts_max),
        );
        problems.positive(
            "windows.processing_sweep_interval_ms",
            self.windows.processing_sweep_interval_ms,
        );
        problems.positive(
            "settlements.transfer_validity_s",
            self.settlements.transfer_validity_s,
        );
        problems.positive(
            "settlements.list_len_max",
            u64::from(self.settlements.list_len_max),
        );
        problems.positive(
            "gross.batch_size_max",
            u64::try_from(self.gross.batch_size_max).unwrap_or(u64::MAX),
        );
        if self.kafka.topic_partitions < 1 {
            problems.push("kafka.topic_partitions must be at least 1".to_string());
        }
        if self.hub.name.trim().is_empty() {
            problems.push("hub.name must not be empty".to_string());
        }
        if self.gross.batch_wait_ms >= u64::from(self.kafka.session_timeout_ms) {
            problems.push(format!(
                "gross.batch_wait_ms ({}) must be shorter than kafka.session_timeout_ms ({})",
                self.gross.batch_wait_ms, self.kafka.session_timeout_ms
            ));
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
    use super::*;

    #[test]
    fn defaults_load() {
        let config = Config::defaults().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.server.port, 3007);
        assert_eq!(config.windows.close_attempts_max, 3);
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_named_by_its_key() {
        let mut config = Config::defaults().unwrap_or_else(|e| panic!("{e}"));
        config.windows.processing_sweep_interval_ms = 0;
        config.windows.close_attempts_max = 0;
        config.gross.batch_wait_ms = 6000;
        let problems = config
            .validate()
            .err()
            .map(|e| e.problems)
            .unwrap_or_default();
        assert_eq!(
            problems,
            vec![
                "windows.close_attempts_max must be at least 1".to_string(),
                "windows.processing_sweep_interval_ms must be at least 1".to_string(),
                "gross.batch_wait_ms (6000) must be shorter than kafka.session_timeout_ms (6000)"
                    .to_string(),
            ]
        );
    }
}
