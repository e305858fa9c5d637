//! The service's configuration: `config.default.toml` (which documents every key), then a
//! file, then environment variables `ML_API_ADAPTER__SECTION__KEY`; then [`Config::validate`]
//! reports every problem at once.

use std::path::Path;

use fspiop::headers::ProtocolVersions;
use serde::Deserialize;

/// The embedded defaults.
pub const DEFAULTS_TOML: &str = include_str!("config.default.toml");
/// Prefix of the environment variables.
pub const ENV_PREFIX: &str = "ML_API_ADAPTER";

/// Everything the service reads at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub hub: HubConfig,
    pub transfers: TransfersConfig,
    pub kafka: KafkaConfig,
    pub notification: NotificationConfig,
    pub central_ledger_database: DirectoryDatabaseConfig,
    pub http_client: HttpClientConfig,
    pub protocol_versions: service_kit::config::ProtocolVersionsConfig,
    pub metrics: MetricsConfig,
    pub jws: service_kit::jws::JwsConfig,
    /// Mutual TLS on the listener and the callbacks' client certificate (`[tls]`).
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
    /// Base URL listed by `GET /`.
    pub hostname_url: String,
    /// Longest a request may take before it is answered with 2004.
    pub request_timeout_ms: u64,
}

/// The hub operator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// FSPIOP-Source of hub-originated callbacks.
    pub name: String,
}

/// Transfer rules of the API and the notification handler.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransfersConfig {
    /// Oldest accepted `completedTimestamp`, seconds before now.
    pub max_fulfil_timeout_duration_s: u64,
    /// Latest accepted `completedTimestamp`, milliseconds after now.
    pub max_callback_time_lag_dilation_ms: u64,
    /// Whether the payee also gets the outcome it caused (commit, reject, abort).
    pub send_transfer_confirmation_to_payee: bool,
}

/// The broker.
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
    /// Longest wait for the broker's acknowledgement of a produced request.
    pub produce_timeout_ms: u32,
    pub topic_partitions: i32,
    pub topic_create_timeout_ms: u64,
    /// Prefix of every topic and consumer group name.
    pub topic_prefix: String,
}

/// The notification handler.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationConfig {
    pub enabled: bool,
    /// Callbacks being sent at once, to all DFSPs.
    pub callback_concurrency_max: usize,
    /// Callbacks being sent at once to one DFSP.
    pub callback_per_dfsp_max: usize,
    /// Messages read and not yet delivered.
    pub in_flight_max: usize,
    /// Longest wait for callbacks in flight at shutdown.
    pub drain_timeout_ms: u64,
}

/// The central ledger database (participants' endpoints).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryDatabaseConfig {
    /// Server URL, without the database.
    pub url: String,
    /// Database name.
    pub name: String,
    pub pool_size_max: u32,
    pub acquire_timeout_ms: u64,
    /// Time endpoints stay cached.
    pub cache_ttl_ms: u64,
}

/// Outbound HTTP (callbacks).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpClientConfig {
    pub request_timeout_ms: u64,
    pub idle_connections_per_host_max: usize,
}

/// What `/metrics` shows besides requests and callbacks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// How often the notification handler's consumer lag is read; 0 turns it off.
    pub consumer_lag_interval_ms: u64,
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
        for problem in self.bus().tuning_problems() {
            problems.push(format!("kafka.{problem}"));
        }
        if let Err(problem) = self.protocol_versions() {
            problems.push(problem);
        }
        if self.hub.name.is_empty() {
            problems.push("hub.name must not be empty".to_string());
        }
        if self.server.request_timeout_ms == 0 {
            problems.push("server.request_timeout_ms must be at least 1".to_string());
        }
        if self.kafka.produce_timeout_ms == 0 {
            problems.push("kafka.produce_timeout_ms must be at least 1".to_string());
        }
        if u64::from(self.kafka.produce_timeout_ms) >= self.server.request_timeout_ms {
            problems.push(
                "kafka.produce_timeout_ms must be below server.request_timeout_ms".to_string(),
            );
        }
        if self.kafka.topic_partitions < 1 {
            problems.push("kafka.topic_partitions must be at least 1".to_string());
        }
        if self.notification.callback_concurrency_max == 0 {
            problems.push("notification.callback_concurrency_max must be at least 1".to_string());
        }
        if self.notification.callback_per_dfsp_max == 0 {
            problems.push("notification.callback_per_dfsp_max must be at least 1".to_string());
        }
        if self.notification.in_flight_max == 0 {
            problems.push("notification.in_flight_max must be at least 1".to_string());
        }
        if self.central_ledger_database.pool_size_max == 0 {
            problems.push("central_ledger_database.pool_size_max must be at least 1".to_string());
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

    /// A topic or consumer-group name with the configured prefix.
    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.kafka.topic_prefix)
    }

    /// The Kafka client settings: delivery reports come within `produce_timeout_ms`.
    pub fn bus(&self) -> bus::BusConfig {
        let mut bus = bus::BusConfig::new(self.kafka.brokers.clone(), self.kafka.client_id.clone());
        bus.session_timeout_ms = self.kafka.session_timeout_ms;
        bus.consumer_fetch_wait_max_ms = self.kafka.consumer_fetch_wait_max_ms;
        bus.producer_linger_ms = self.kafka.producer_linger_ms;
        bus.producer_delivery_timeout_ms = self.kafka.produce_timeout_ms;
        bus
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    #[test]
    fn defaults_load_and_validate() {
        let config = Config::defaults().unwrap();
        assert_eq!(config.server.port, 3000);
        assert_eq!(config.transfers.max_fulfil_timeout_duration_s, 300);
        assert_eq!(config.transfers.max_callback_time_lag_dilation_ms, 200);
        assert!(!config.transfers.send_transfer_confirmation_to_payee);
        assert!(config.notification.enabled);
        assert_eq!(
            config.protocol_versions().unwrap(),
            ProtocolVersions::default()
        );
        assert_eq!(
            config.central_ledger_database_url().unwrap(),
            "mysql://root@127.0.0.1:3306/central_ledger"
        );
        assert_eq!(
            config.topic(bus::TOPIC_TRANSFER_PREPARE),
            "topic-transfer-prepare"
        );
        assert_eq!(config.bus().producer_delivery_timeout_ms, 10_000);
    }

    #[test]
    fn environment_overrides_and_unknown_keys() {
        let config: Config = service_kit::config::load_from_env_map(
            DEFAULTS_TOML,
            None,
            ENV_PREFIX,
            vec![
                (
                    "ML_API_ADAPTER__TRANSFERS__SEND_TRANSFER_CONFIRMATION_TO_PAYEE".to_string(),
                    "true".to_string(),
                ),
                (
                    "ML_API_ADAPTER__KAFKA__TOPIC_PREFIX".to_string(),
                    "x-".to_string(),
                ),
            ],
        )
        .unwrap();
        assert!(config.transfers.send_transfer_confirmation_to_payee);
        assert_eq!(
            config.topic("topic-notification-event"),
            "x-topic-notification-event"
        );
        let unknown = service_kit::config::load_from_env_map::<Config, _>(
            DEFAULTS_TOML,
            None,
            ENV_PREFIX,
            vec![("ML_API_ADAPTER__KAFKA__NOPE".to_string(), "1".to_string())],
        );
        assert!(unknown.unwrap_err().to_string().contains("kafka.nope"));
    }

    #[test]
    fn every_problem_is_reported() {
        let mut config = Config::defaults().unwrap();
        config.notification.callback_concurrency_max = 0;
        config.kafka.produce_timeout_ms = 40_000;
        config.protocol_versions.content_default = "1".into();
        config.hub.name = String::new();
        let problems = config.validate().unwrap_err().problems;
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("content_default"), "{problems:?}");
    }
}
