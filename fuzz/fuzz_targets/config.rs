//! The layered configuration loader (`libs/service-kit/src/config.rs`, compiled in from its
//! source: the service-kit crate itself pulls in Kafka and the HTTP stack): embedded
//! defaults, a TOML file and environment variables, into a typed config with
//! `deny_unknown_fields` sections like the services'. The input is the file's text, then a
//! NUL byte, then `NAME=value` lines. An accepted config's shared sections are checked as the
//! services check them.
#![no_main]
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a fuzz target asserts by panicking"
)]

#[allow(dead_code, reason = "only the loader is fuzzed")]
#[path = "../../libs/service-kit/src/config.rs"]
mod config;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

const DEFAULTS: &str = r#"
[server]
host = "0.0.0.0"
port = 3000
request_timeout_ms = 30000

[kafka]
brokers = "localhost:9092"
session_timeout_ms = 30000
topic_partitions = 1
ratio = 0.5

[hub]
name = "Hub"
account_types = ["POSITION", "SETTLEMENT"]

[protocol_versions]
content_supported = ["1.0", "1.1", "2.0"]
accept_supported = ["1", "1.0", "1.1", "2", "2.0"]
content_default = "1.1"
accept_default = "1"

[validation]
reject_additional_properties = false
"#;

const ENV_PREFIX: &str = "FUZZ";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "read by serde only")]
struct Config {
    server: Server,
    kafka: Kafka,
    hub: Hub,
    protocol_versions: config::ProtocolVersionsConfig,
    validation: config::ValidationConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "read by serde only")]
struct Server {
    host: String,
    port: u16,
    request_timeout_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "read by serde only")]
struct Kafka {
    brokers: String,
    session_timeout_ms: u32,
    topic_partitions: i32,
    ratio: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "read by serde only")]
struct Hub {
    name: String,
    account_types: Vec<String>,
}

fuzz_target!(|data: &[u8]| {
    let (file, env) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let (Ok(file), Ok(env)) = (std::str::from_utf8(file), std::str::from_utf8(env)) else {
        return;
    };
    let vars: Vec<(String, String)> = env
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let path = Path::new("fuzz.toml");
    // With the file and without it (the defaults plus the environment alone).
    for file in [Some((path, file)), None] {
        match config::load_layers::<Config, _>(DEFAULTS, file, ENV_PREFIX, vars.clone()) {
            Ok(config) => {
                let _ = config.protocol_versions.to_versions();
                let _ = config.validation.unknown_fields();
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    if file.is_empty() && vars.is_empty() {
        let loaded = config::load_layers::<Config, _>(DEFAULTS, None, ENV_PREFIX, vars);
        assert!(loaded.is_ok(), "the defaults alone load: {loaded:?}");
    }
});
