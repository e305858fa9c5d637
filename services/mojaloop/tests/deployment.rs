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
