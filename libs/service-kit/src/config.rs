//! Layered configuration: embedded defaults, then an optional TOML file, then environment
//! variables, deserialised into the service's one typed `Config`.
//!
//! 1. The embedded defaults (`include_str!("../config.default.toml")`), which must name every
//!    key: they double as the documentation of the configuration.
//! 2. The file given with `--config`, deep-merged over the defaults: tables merge key by key,
//!    every other value (arrays included) replaces the default.
//! 3. Environment variables `<PREFIX>__SECTION__FIELD`: the prefix is compared without regard
//!    to ASCII case, `__` separates nesting levels, and each level is matched to the existing
//!    TOML key without regard to case (`LEDGER__DATABASE__POOL_SIZE_MAX` sets
//!    `database.pool_size_max`). A variable whose key is absent from the defaults and the file
//!    is added under the lower-cased name, so an unknown key is still reported.
//!
//! Environment values are typed as follows: if the key already holds a string, the value
//! stays a string (so `PASSWORD=1234` is not turned into a number); if it holds an array, a
//! TOML array literal (`["a", "b"]`) is parsed; otherwise `true`/`false` (any case) become
//! booleans, integers and finite decimal floats become numbers, and anything else a string.
//!
//! The target type should carry `#[serde(deny_unknown_fields)]` on every section: an unknown
//! or misspelt key is then an error naming its full path and the layer that set it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::{Table, Value};

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The embedded defaults.
    Defaults,
    /// The configuration file.
    File(PathBuf),
    /// An environment variable, by name.
    Env(String),
    /// No layer set the key (a missing required key).
    Unset,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Defaults => f.write_str("the embedded defaults"),
            Origin::File(path) => write!(f, "file {}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Unset => f.write_str("no layer"),
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The defaults or the file are not valid TOML.
    #[error("{origin} is not valid TOML: {message}")]
    Syntax { origin: Origin, message: String },
    /// An environment variable cannot be applied (empty level, or a value where a section
    /// is, or the other way round).
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    /// The merged configuration does not fit the target type: an unknown key, a missing
    /// key, a wrong type or value. `key` is the full dotted path.
    #[error("configuration key `{key}` (set by {origin}): {message}")]
    Invalid {
        key: String,
        origin: Origin,
        message: String,
    },
}

/// Loads `T` from the embedded defaults, the optional file and the process environment.
pub fn load<T: DeserializeOwned>(
    defaults_toml: &str,
    file: Option<&Path>,
    env_prefix: &str,
) -> Result<T, ConfigError> {
    // vars_os, not vars: a variable that is not UTF-8 must not panic the service; such a
    // variable cannot be one of ours anyway.
    let vars = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)));
    load_from_env_map(defaults_toml, file, env_prefix, vars)
}

/// [`load`] with the environment given explicitly (for tests and tools).
pub fn load_from_env_map<T, I>(
    defaults_toml: &str,
    file: Option<&Path>,
    env_prefix: &str,
    vars: I,
) -> Result<T, ConfigError>
where
    T: DeserializeOwned,
    I: IntoIterator<Item = (String, String)>,
{
    let file = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            Some((path.to_path_buf(), text))
        }
        None => None,
    };
    load_layers(
        defaults_toml,
        file.as_ref()
            .map(|(path, text)| (path.as_path(), text.as_str())),
        env_prefix,
        vars,
    )
}

/// The three layers with the file's text already read (no IO: what the configuration fuzz
/// target drives, `fuzz/fuzz_targets/config.rs`).
pub fn load_layers<T, I>(
    defaults_toml: &str,
    file: Option<(&Path, &str)>,
    env_prefix: &str,
    vars: I,
) -> Result<T, ConfigError>
where
    T: DeserializeOwned,
    I: IntoIterator<Item = (String, String)>,
{
    let mut origins = Origins::default();
    let mut merged = parse_table(defaults_toml, &Origin::Defaults)?;
    origins.record_table(&merged, "", &Origin::Defaults);

    if let Some((path, text)) = file {
        let origin = Origin::File(path.to_path_buf());
        let overlay = parse_table(text, &origin)?;
        merge(&mut merged, overlay, "", &origin, &mut origins);
    }

    apply_env(&mut merged, env_prefix, vars, &mut origins)?;

    serde_path_to_error::deserialize::<_, T>(Value::Table(merged)).map_err(|error| {
        let mut key = path_to_key(error.path());
        let message = error.inner().message().to_string();
        // serde reports a missing field at its parent; name the field itself.
        if let Some(field) = backticked_after(&message, "missing field ") {
            key = join_key(&key, field);
        }
        let origin = origins.find(&key);
        ConfigError::Invalid {
            key,
            origin,
            message,
        }
    })
}

fn parse_table(text: &str, origin: &Origin) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|error| ConfigError::Syntax {
        origin: origin.clone(),
        message: error.message().to_string(),
    })
}

/// Deep-merges `overlay` into `base`: tables merge, anything else replaces.
fn merge(base: &mut Table, overlay: Table, prefix: &str, origin: &Origin, origins: &mut Origins) {
    for (key, value) in overlay {
        let path = join_key(prefix, &key);
        match (base.get_mut(&key), value) {
            (Some(Value::Table(base_table)), Value::Table(overlay_table)) => {
                merge(base_table, overlay_table, &path, origin, origins);
            }
            (_, value) => {
                origins.forget(&path);
                origins.record_value(&value, &path, origin);
                base.insert(key, value);
            }
        }
    }
}

fn apply_env<I>(
    merged: &mut Table,
    env_prefix: &str,
    vars: I,
    origins: &mut Origins,
) -> Result<(), ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    if env_prefix.is_empty() {
        return Ok(());
    }
    let marker = format!("{env_prefix}__");
    // Sorted, so that two spellings of one key resolve the same way on every start.
    let mut ours: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(name, _)| {
            name.get(..marker.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(&marker))
        })
        .collect();
    ours.sort();
    for (name, raw) in ours {
        let rest = name.get(marker.len()..).unwrap_or_default();
        let levels: Vec<&str> = rest.split("__").collect();
        if levels.iter().any(|level| level.is_empty()) {
            return Err(ConfigError::Env {
                var: name,
                message: "empty key level (check the `__` separators)".into(),
            });
        }
        set_env_value(merged, &levels, &raw, &name, origins)?;
    }
    Ok(())
}

fn set_env_value(
    root: &mut Table,
    levels: &[&str],
    raw: &str,
    var: &str,
    origins: &mut Origins,
) -> Result<(), ConfigError> {
    let Some((last, parents)) = levels.split_last() else {
        return Err(ConfigError::Env {
            var: var.to_string(),
            message: "no key after the prefix".into(),
        });
    };
    let mut table = root;
    let mut path = String::new();
    for level in parents {
        let key = matching_key(table, level);
        path = join_key(&path, &key);
        let entry = table
            .entry(key)
            .or_insert_with(|| Value::Table(Table::new()));
        match entry {
            Value::Table(inner) => table = inner,
            _ => {
                return Err(ConfigError::Env {
                    var: var.to_string(),
                    message: format!("`{path}` is a value, not a section"),
                })
            }
        }
    }
    let key = matching_key(table, last);
    path = join_key(&path, &key);
    let value = match table.get(&key) {
        Some(Value::Table(_)) => {
            return Err(ConfigError::Env {
                var: var.to_string(),
                message: format!("`{path}` is a section, not a value"),
            })
        }
        existing => env_value(raw, existing),
    };
    table.insert(key, value);
    origins.forget(&path);
    origins.record(&path, &Origin::Env(var.to_string()));
    Ok(())
}

/// The existing key equal to `level` without regard to case, else `level` lower-cased.
fn matching_key(table: &Table, level: &str) -> String {
    table
        .keys()
        .find(|key| key.eq_ignore_ascii_case(level))
        .cloned()
        .unwrap_or_else(|| level.to_ascii_lowercase())
}

/// Types an environment value (see the module documentation).
fn env_value(raw: &str, existing: Option<&Value>) -> Value {
    match existing {
        Some(Value::String(_)) => return Value::String(raw.to_string()),
        Some(Value::Array(_)) => {
            if let Some(array) = parse_array(raw) {
                return array;
            }
        }
        _ => {}
    }
    if raw.eq_ignore_ascii_case("true") {
        return Value::Boolean(true);
    }
    if raw.eq_ignore_ascii_case("false") {
        return Value::Boolean(false);
    }
    if let Ok(integer) = raw.parse::<i64>() {
        return Value::Integer(integer);
    }
    let looks_decimal = !raw.is_empty()
        && raw.bytes().any(|b| b.is_ascii_digit())
        && raw
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if looks_decimal {
        if let Ok(float) = raw.parse::<f64>() {
            if float.is_finite() {
                return Value::Float(float);
            }
        }
    }
    Value::String(raw.to_string())
}

fn parse_array(raw: &str) -> Option<Value> {
    let mut table = format!("value = {raw}").parse::<Table>().ok()?;
    if table.len() != 1 {
        return None;
    }
    match table.remove("value")? {
        array @ Value::Array(_) => Some(array),
        _ => None,
    }
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn path_to_key(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut key = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => key = join_key(&key, &index.to_string()),
            Segment::Map { key: name } => key = join_key(&key, name),
            Segment::Enum { variant } => key = join_key(&key, variant),
            Segment::Unknown => key = join_key(&key, "?"),
        }
    }
    key
}

/// The text between the backticks right after `lead` in `message`, if `message` starts so.
fn backticked_after<'a>(message: &'a str, lead: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(lead)?.strip_prefix('`')?;
    rest.split('`').next()
}

/// Which layer set each leaf key (arrays count as leaves).
#[derive(Default)]
struct Origins {
    by_key: BTreeMap<String, Origin>,
}

impl Origins {
    fn record(&mut self, key: &str, origin: &Origin) {
        self.by_key.insert(key.to_string(), origin.clone());
    }

    fn record_value(&mut self, value: &Value, key: &str, origin: &Origin) {
        match value {
            Value::Table(table) => self.record_table(table, key, origin),
            _ => self.record(key, origin),
        }
    }

    fn record_table(&mut self, table: &Table, prefix: &str, origin: &Origin) {
        if table.is_empty() && !prefix.is_empty() {
            self.record(prefix, origin);
        }
        for (key, value) in table {
            self.record_value(value, &join_key(prefix, key), origin);
        }
    }

    /// Drops `key` and everything below it (it is about to be replaced).
    fn forget(&mut self, key: &str) {
        let below = format!("{key}.");
        self.by_key
            .retain(|recorded, _| recorded != key && !recorded.starts_with(&below));
    }

    /// The layer that set `key`, something below it, or the nearest key above it.
    fn find(&self, key: &str) -> Origin {
        if let Some(origin) = self.by_key.get(key) {
            return origin.clone();
        }
        let below = format!("{key}.");
        if let Some((_, origin)) = self
            .by_key
            .range(below.clone()..)
            .next()
            .filter(|(k, _)| k.starts_with(&below))
        {
            return origin.clone();
        }
        let mut ancestor = key;
        while let Some((parent, _)) = ancestor.rsplit_once('.') {
            if let Some(origin) = self.by_key.get(parent) {
                return origin.clone();
            }
            ancestor = parent;
        }
        Origin::Unset
    }
}

/// A configuration that loaded but cannot work; lists every problem, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", problems.join("; "))]
pub struct InvalidConfig {
    pub problems: Vec<String>,
}

/// Collects a service's configuration problems, so `validate` reports them all at once.
#[derive(Debug, Default)]
pub struct Problems(Vec<String>);

impl Problems {
    /// `key` must be at least 1 (an interval, size or timeout of 0 stops what uses it).
    pub fn positive(&mut self, key: &str, value: u64) {
        if value == 0 {
            self.0.push(format!("{key} must be at least 1"));
        }
    }

    pub fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    /// `Ok` when nothing was recorded.
    pub fn finish(self) -> Result<(), InvalidConfig> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(InvalidConfig { problems: self.0 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Config {
        server: Server,
        database: Database,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Server {
        host: String,
        port: u16,
        request_timeout_ms: u64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Database {
        url: String,
        password: String,
        pool_size_max: u32,
        ratio: f64,
        migrate: bool,
        hosts: Vec<String>,
    }

    const DEFAULTS: &str = r#"
        [server]
        host = "0.0.0.0"
        port = 3001
        request_timeout_ms = 5000

        [database]
        url = "mysql://localhost/central_ledger"
        password = "secret"
        pool_size_max = 10
        ratio = 0.5
        migrate = false
        hosts = ["a"]
    "#;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load_text(file: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        load_layers(
            DEFAULTS,
            file.map(|text| (Path::new("/etc/ledger.toml"), text)),
            "LEDGER",
            env(vars),
        )
    }

    #[test]
    fn defaults_alone() {
        let config = load_text(None, &[]).unwrap();
        assert_eq!(config.server.port, 3001);
        assert_eq!(config.database.hosts, vec!["a".to_string()]);
        assert!(!config.database.migrate);
    }

    #[test]
    fn file_deep_merges_over_defaults() {
        let config = load_text(
            Some("[server]\nport = 4000\n[database]\nhosts = [\"x\", \"y\"]\n"),
            &[],
        )
        .unwrap();
        assert_eq!(config.server.port, 4000);
        assert_eq!(
            config.server.host, "0.0.0.0",
            "sibling keys of the section are kept"
        );
        assert_eq!(config.server.request_timeout_ms, 5000);
        assert_eq!(
            config.database.hosts,
            vec!["x".to_string(), "y".to_string()],
            "arrays replace"
        );
        assert_eq!(config.database.pool_size_max, 10);
    }

    #[test]
    fn env_overrides_file_and_defaults() {
        let config = load_text(
            Some("[server]\nport = 4000\n"),
            &[
                ("LEDGER__SERVER__PORT", "5000"),
                ("ledger__Database__Pool_Size_Max", "20"),
                ("LEDGER__DATABASE__RATIO", "0.75"),
                ("LEDGER__DATABASE__MIGRATE", "TRUE"),
                ("LEDGER__DATABASE__URL", "mysql://db:3306/x"),
                ("LEDGER__DATABASE__HOSTS", r#"["p", "q"]"#),
                ("OTHER__SERVER__PORT", "1"),
                ("LEDGER_SERVER_PORT", "2"),
                ("PATH", "/usr/bin"),
            ],
        )
        .unwrap();
        assert_eq!(config.server.port, 5000);
        assert_eq!(config.database.pool_size_max, 20);
        assert_eq!(config.database.ratio, 0.75);
        assert!(config.database.migrate);
        assert_eq!(config.database.url, "mysql://db:3306/x");
        assert_eq!(
            config.database.hosts,
            vec!["p".to_string(), "q".to_string()]
        );
    }

    #[test]
    fn env_value_for_a_string_key_stays_a_string() {
        let config = load_text(None, &[("LEDGER__DATABASE__PASSWORD", "1234")]).unwrap();
        assert_eq!(config.database.password, "1234");
    }

    #[test]
    fn env_value_typing_without_an_existing_key() {
        assert_eq!(env_value("42", None), Value::Integer(42));
        assert_eq!(env_value("-7", None), Value::Integer(-7));
        assert_eq!(env_value("1.5", None), Value::Float(1.5));
        assert_eq!(env_value("1e3", None), Value::Float(1000.0));
        assert_eq!(env_value("false", None), Value::Boolean(false));
        assert_eq!(env_value("inf", None), Value::String("inf".into()));
        assert_eq!(env_value("NaN", None), Value::String("NaN".into()));
        assert_eq!(
            env_value("10.0.0.1", None),
            Value::String("10.0.0.1".into())
        );
        assert_eq!(env_value("", None), Value::String(String::new()));
        assert_eq!(env_value("[1, 2]", None), Value::String("[1, 2]".into()));
    }

    #[test]
    fn unknown_key_in_file_is_named_with_its_origin() {
        let error = load_text(Some("[server]\nprot = 4000\n"), &[]).unwrap_err();
        let ConfigError::Invalid {
            key,
            origin,
            message,
        } = &error
        else {
            panic!("{error:?}")
        };
        assert_eq!(key, "server.prot");
        assert_eq!(origin, &Origin::File(PathBuf::from("/etc/ledger.toml")));
        assert!(message.contains("unknown field `prot`"), "{message}");
        assert!(error.to_string().starts_with("configuration key `server.prot` (set by file /etc/ledger.toml): unknown field `prot`"), "{error}");
    }

    #[test]
    fn unknown_key_from_env_is_named_with_its_variable() {
        let error = load_text(None, &[("LEDGER__SERVER__PROT", "1")]).unwrap_err();
        let ConfigError::Invalid { key, origin, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(key, "server.prot");
        assert_eq!(origin, &Origin::Env("LEDGER__SERVER__PROT".into()));
    }

    #[test]
    fn unknown_section_is_named() {
        let error = load_text(Some("[kafka]\nbrokers = \"x\"\n"), &[]).unwrap_err();
        let ConfigError::Invalid { key, origin, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(key, "kafka");
        assert_eq!(origin, &Origin::File(PathBuf::from("/etc/ledger.toml")));
    }

    #[test]
    fn wrong_type_names_the_key_and_layer() {
        let error = load_text(None, &[("LEDGER__SERVER__PORT", "http")]).unwrap_err();
        let ConfigError::Invalid {
            key,
            origin,
            message,
        } = &error
        else {
            panic!("{error:?}")
        };
        assert_eq!(key, "server.port");
        assert_eq!(origin, &Origin::Env("LEDGER__SERVER__PORT".into()));
        assert!(message.contains("invalid type"), "{message}");

        let error = load_text(None, &[("LEDGER__SERVER__PORT", "70000")]).unwrap_err();
        let ConfigError::Invalid { key, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(key, "server.port");
    }

    #[test]
    fn missing_key_names_the_field() {
        let defaults = DEFAULTS.replace("port = 3001", "");
        let error = load_layers::<Config, _>(&defaults, None, "LEDGER", env(&[])).unwrap_err();
        let ConfigError::Invalid { key, message, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(key, "server.port");
        assert!(message.contains("missing field `port`"), "{message}");
    }

    #[test]
    fn env_shape_errors() {
        let error = load_text(None, &[("LEDGER__SERVER", "1")]).unwrap_err();
        assert!(
            matches!(&error, ConfigError::Env { var, message } if var == "LEDGER__SERVER" && message.contains("section")),
            "{error:?}"
        );

        let error = load_text(None, &[("LEDGER__SERVER__PORT__X", "1")]).unwrap_err();
        assert!(
            matches!(&error, ConfigError::Env { message, .. } if message.contains("`server.port` is a value")),
            "{error:?}"
        );

        let error = load_text(None, &[("LEDGER__SERVER____PORT", "1")]).unwrap_err();
        assert!(
            matches!(&error, ConfigError::Env { message, .. } if message.contains("empty")),
            "{error:?}"
        );
    }

    #[test]
    fn syntax_errors_name_the_layer() {
        let error = load_text(Some("[server\n"), &[]).unwrap_err();
        assert!(
            matches!(
                &error,
                ConfigError::Syntax {
                    origin: Origin::File(_),
                    ..
                }
            ),
            "{error:?}"
        );
        let error = load_layers::<Config, _>("port = ", None, "LEDGER", env(&[])).unwrap_err();
        assert!(
            matches!(
                &error,
                ConfigError::Syntax {
                    origin: Origin::Defaults,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn reads_the_file_from_disk() {
        let path =
            std::env::temp_dir().join(format!("service-kit-config-{}.toml", std::process::id()));
        std::fs::write(&path, "[server]\nport = 4100\n").unwrap();
        let result: Result<Config, _> =
            load_from_env_map(DEFAULTS, Some(&path), "LEDGER", env(&[]));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(result.unwrap().server.port, 4100);

        let missing = std::env::temp_dir().join("service-kit-config-does-not-exist.toml");
        let error = load_from_env_map::<Config, _>(DEFAULTS, Some(&missing), "LEDGER", env(&[]))
            .unwrap_err();
        assert!(matches!(error, ConfigError::Read { .. }));
    }

    #[test]
    fn load_reads_the_process_environment() {
        // No variable of the process has this prefix, so the defaults come through.
        let config: Config = load(DEFAULTS, None, "SERVICE_KIT_TEST_PREFIX_UNUSED").unwrap();
        assert_eq!(config.server.port, 3001);
    }
}

/// The `[protocol_versions]` section services share: accepted and default FSPIOP versions as
/// text (`"1.1"`, `"1"`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolVersionsConfig {
    pub content_supported: Vec<String>,
    pub accept_supported: Vec<String>,
    pub content_default: String,
    pub accept_default: String,
}

impl ProtocolVersionsConfig {
    /// The versions as `fspiop` uses them, or the first problem (naming the key).
    pub fn to_versions(&self) -> Result<fspiop::headers::ProtocolVersions, String> {
        fn version(
            key: &str,
            text: &str,
            minor_required: bool,
        ) -> Result<fspiop::headers::Version, String> {
            match fspiop::headers::Version::parse(text) {
                Some(v) if v.minor.is_some() || !minor_required => Ok(v),
                _ if minor_required => Err(format!(
                    "protocol_versions.{key}: {text:?} is not a version x.y"
                )),
                _ => Err(format!(
                    "protocol_versions.{key}: {text:?} is not a version x or x.y"
                )),
            }
        }
        let list = |key: &str, texts: &[String], minor_required: bool| {
            if texts.is_empty() {
                return Err(format!("protocol_versions.{key} must not be empty"));
            }
            texts
                .iter()
                .map(|text| version(key, text, minor_required))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(fspiop::headers::ProtocolVersions {
            content_supported: list("content_supported", &self.content_supported, true)?,
            accept_supported: list("accept_supported", &self.accept_supported, false)?,
            content_default: version("content_default", &self.content_default, true)?,
            accept_default: version("accept_default", &self.accept_default, false)?,
        })
    }
}

#[cfg(test)]
mod protocol_versions_tests {
    use super::ProtocolVersionsConfig;

    #[test]
    fn versions_parse_and_refuse_bad_text() {
        let good = ProtocolVersionsConfig {
            content_supported: vec!["1.1".into(), "2.0".into()],
            accept_supported: vec!["1".into()],
            content_default: "1.1".into(),
            accept_default: "1".into(),
        };
        assert_eq!(good.to_versions().map(|v| v.content_supported.len()), Ok(2));
        let bad = ProtocolVersionsConfig {
            content_default: "1".into(),
            ..good.clone()
        };
        assert_eq!(
            bad.to_versions().err().as_deref(),
            Some("protocol_versions.content_default: \"1\" is not a version x.y")
        );
        let empty = ProtocolVersionsConfig {
            accept_supported: vec![],
            ..good
        };
        assert!(empty.to_versions().is_err());
    }
}

/// The `[validation]` section of the FSPIOP-facing services: how strictly request bodies are
/// read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {
    /// Refuse a body with a member the API definition does not name (3103 Too many elements).
    /// Off by default: the FSPIOP API definition and Mojaloop accept such members, and the
    /// switch forwards the body as received, so the receiving DFSP sees them.
    pub reject_additional_properties: bool,
}

impl ValidationConfig {
    /// The body-validation mode the setting stands for.
    pub fn unknown_fields(&self) -> fspiop::validate::UnknownFields {
        if self.reject_additional_properties {
            fspiop::validate::UnknownFields::Reject
        } else {
            fspiop::validate::UnknownFields::Allow
        }
    }
}

#[cfg(test)]
mod validation_tests {
    use super::ValidationConfig;
    use fspiop::validate::UnknownFields;

    #[test]
    fn additional_properties_are_allowed_unless_asked() {
        assert_eq!(
            ValidationConfig::default().unknown_fields(),
            UnknownFields::Allow
        );
        let strict = ValidationConfig {
            reject_additional_properties: true,
        };
        assert_eq!(strict.unknown_fields(), UnknownFields::Reject);
    }
}
