//! The deployment files speak the services' language: every `<SERVICE>__<SECTION>__<KEY>`
//! variable in docker-compose.yml names a key the service's configuration has, and every
//! other variable the compose file hands to `mojaloop` is one its commands read.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "test code: a failed expectation panics"
)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Every `.rs` file of a source folder, joined.
fn read_folder(relative: &str) -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(relative))
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{relative} has no sources");
    files
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names of the `NAME: value` environment entries of a compose file (keys in capitals).
fn compose_variables(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|line| {
            let (key, _) = line.trim().split_once(':')?;
            let capitals = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            capitals.then(|| key.to_string())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

const SERVICES: &[(&str, &str)] = &[
    (
        "CENTRAL_LEDGER",
        "services/central-ledger/src/config.default.toml",
    ),
    (
        "CENTRAL_SETTLEMENT",
        "services/central-settlement/src/config.default.toml",
    ),
    (
        "ML_API_ADAPTER",
        "services/ml-api-adapter/src/config.default.toml",
    ),
    (
        "QUOTING_SERVICE",
        "services/quoting-service/src/config.default.toml",
    ),
    (
        "ALS",
        "services/account-lookup-service/src/config.default.toml",
    ),
    ("ORACLE", "services/oracle/src/config.default.toml"),
    (
        "TRANSACTION_REQUESTS_SERVICE",
        "services/transaction-requests-service/src/config.default.toml",
    ),
];

/// Whether `[section] key` exists in the TOML text.
fn has_key(toml_text: &str, section: &str, key: &str) -> bool {
    let value: toml::Table = toml_text.parse().unwrap();
    value
        .get(section)
        .and_then(|s| s.as_table())
        .is_some_and(|table| table.contains_key(key))
}

#[test]
fn compose_variables_are_ones_the_services_read() {
    let compose = read("docker-compose.yml");
    let names = compose_variables(&compose);
    assert!(names.len() > 10, "{names:?}");
    let mojaloop_sources = [
        read_folder("services/mojaloop/src/ops"),
        read("services/mojaloop/src/up.rs"),
        read("services/mojaloop/src/settlement.rs"),
        read("perf/src/cli.rs"),
    ]
    .join("\n");
    let mut checked = 0;
    for name in &names {
        if let Some((prefix, path)) = SERVICES
            .iter()
            .find(|(prefix, _)| name.starts_with(&format!("{prefix}__")))
        {
            let rest = &name[prefix.len() + 2..];
            let (section, key) = rest
                .split_once("__")
                .unwrap_or_else(|| panic!("{name} is not {prefix}__SECTION__KEY"));
            assert!(
                has_key(&read(path), &section.to_lowercase(), &key.to_lowercase()),
                "{name}: no [{}] {} in {path}",
                section.to_lowercase(),
                key.to_lowercase()
            );
            checked += 1;
        } else if name.starts_with("MOJALOOP_") || name == "DATABASE_URL" {
            assert!(
                mojaloop_sources.contains(&format!("env = \"{name}\"")),
                "{name} is read by no mojaloop command"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} variables checked: {names:?}");
}

#[test]
fn a_misspelt_variable_would_be_caught() {
    let toml_text = read("services/central-ledger/src/config.default.toml");
    assert!(has_key(&toml_text, "database", "url"));
    assert!(!has_key(&toml_text, "database", "uri"));
    assert_eq!(
        compose_variables("  environment:\n    CENTRAL_LEDGER__DATABASE__URL: x\n    image: y\n"),
        vec!["CENTRAL_LEDGER__DATABASE__URL".to_string()]
    );
}

/// The lines of the top-level block `  <name>:` of a compose file's `services` (or of an
/// extension field at column 0 when `name` starts with `x-`), up to the next block.
fn block<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let (header, indent) = if name.starts_with("x-") {
        (format!("{name}:"), 0)
    } else {
        (format!("  {name}:"), 2)
    };
    let mut lines = text.lines().skip_while(|l| !l.starts_with(&header));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no {name} in the compose file"));
    let mut out = vec![first];
    out.extend(lines.take_while(|l| {
        l.trim().is_empty()
            || l.trim_start().starts_with('#')
            || l.len() - l.trim_start().len() > indent
    }));
    out
}

/// Every compose service that runs a switch process (`<<: *switch`).
fn switch_services(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .windows(2)
        .filter(|pair| pair[1].trim() == "<<: *switch")
        .filter_map(|pair| {
            let name = pair[0].strip_prefix("  ")?.strip_suffix(':')?;
            (!name.starts_with(' ')).then(|| name.to_string())
        })
        .collect()
}

/// The simulators (and so the perf profile, whose harness waits for them) start only once
/// every switch process is healthy: the ledger's `get` and `timeout` handlers were once left
/// out, and `docker compose --profile perf up perf` never started them.
#[test]
fn the_simulators_wait_for_every_switch_process() {
    let compose = read("docker-compose.yml");
    let services = switch_services(&compose);
    assert!(services.len() >= 12, "{services:?}");
    let sim = block(&compose, "sim-2dfsp").join("\n");
    let depends = sim
        .split("depends_on: &sim-depends")
        .nth(1)
        .unwrap_or_else(|| panic!("sim-2dfsp has no &sim-depends:\n{sim}"));
    for service in &services {
        assert!(
            depends.contains(&format!(
                "\n      {service}:\n        condition: service_healthy"
            )),
            "the simulators do not wait for {service}"
        );
    }
    // The perf harness waits for the simulators of the perf profile, which inherit the list.
    let perf = block(&compose, "perf").join("\n");
    assert!(
        perf.contains("sim-8dfsp:\n        condition: service_healthy"),
        "{perf}"
    );
    let sim8 = block(&compose, "sim-8dfsp").join("\n");
    assert!(
        sim8.contains("<<: *sim") && sim8.contains("\"perf\""),
        "{sim8}"
    );
}

/// `docker compose run --rm sim-8dfsp test-transaction` (the documented way to run operator
/// commands) finds the simulators' payer API inside the network, not at 127.0.0.1.
#[test]
fn operator_commands_inside_compose_find_the_simulators() {
    let compose = read("docker-compose.yml");
    let urls = block(&compose, "x-switch-urls").join("\n");
    assert!(
        urls.contains("MOJALOOP_SIM_URL: http://perffsp-1:4100"),
        "{urls}"
    );
    for service in ["sim-2dfsp", "perf"] {
        let text = block(&compose, service).join("\n");
        assert!(
            text.contains("<<: *switch-urls"),
            "{service} lacks the URL block"
        );
    }
}

/// The compose database is the one every test runs on (MariaDB 10.11; MySQL 8.0 as the
/// documented alternative), with settings both understand: no MySQL 8-only collation.
#[test]
fn compose_runs_the_database_the_tests_run_on() {
    let compose = read("docker-compose.yml");
    let mysql = block(&compose, "mysql").join("\n");
    assert!(
        mysql.contains("image: ${MOJALOOP_MYSQL_IMAGE:-mariadb:10.11}"),
        "{mysql}"
    );
    assert!(!compose.contains("0900_ai_ci"), "a MySQL 8-only collation");
    assert!(
        mysql.contains("--collation-server=utf8mb4_general_ci"),
        "{mysql}"
    );
    let kafka = block(&compose, "kafka").join("\n");
    assert!(
        kafka.contains("image: ${MOJALOOP_KAFKA_IMAGE:-apache/kafka:4.0.0}"),
        "{kafka}"
    );
}

/// KAFKA_TOPIC_PARTITIONS of the shell that runs compose reaches the topics job (it was once
/// escaped to the container's side, where nothing set it).
#[test]
fn topic_partitions_reach_the_topics_job() {
    let compose = read("docker-compose.yml");
    let topics = block(&compose, "kafka-topics").join("\n");
    assert!(
        topics.contains(r#""kafka-topics", "--brokers", "kafka:29092""#)
            && topics.contains(r#""--partitions", "${KAFKA_TOPIC_PARTITIONS:-3}""#),
        "{topics}"
    );
    assert!(
        !compose.contains("$${KAFKA_TOPIC_PARTITIONS"),
        "escaped to the container side"
    );
}
