//! Tracing setup: human-readable lines on stderr, filtered by `RUST_LOG` when it is set and
//! valid, else by the service's default directives (for example
//! `"info,central_ledger=debug,sqlx=warn"`).

use tracing_subscriber::EnvFilter;

/// Directives used when both `RUST_LOG` and the service's defaults are unusable.
const FALLBACK_DIRECTIVES: &str = "info";

/// Installs the global subscriber, writing to stderr. Calling it again (another test, a
/// second init in one process) does nothing.
pub fn init(default_directives: &str) {
    let (filter, rejected) = filter(default_directives);
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal: piped to a file or a log collector, lines stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .is_ok();
    report(installed, rejected);
}

/// [`init`] for tests: output goes through the test harness's capture, so it shows only for
/// failing tests.
pub fn init_for_tests(default_directives: &str) {
    let (filter, rejected) = filter(default_directives);
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init()
        .is_ok();
    report(installed, rejected);
}

/// The filter, and the directives that were rejected on the way (`RUST_LOG` or defaults).
fn filter(default_directives: &str) -> (EnvFilter, Option<String>) {
    let mut rejected = None;
    if let Ok(from_env) = std::env::var(EnvFilter::DEFAULT_ENV) {
        match EnvFilter::try_new(&from_env) {
            Ok(filter) => return (filter, None),
            Err(_) => rejected = Some(format!("{}={from_env}", EnvFilter::DEFAULT_ENV)),
        }
    }
    match EnvFilter::try_new(default_directives) {
        Ok(filter) => (filter, rejected),
        Err(_) => (
            EnvFilter::new(FALLBACK_DIRECTIVES),
            Some(default_directives.to_string()),
        ),
    }
}

fn report(installed: bool, rejected: Option<String>) {
    if let (true, Some(directives)) = (installed, rejected) {
        tracing::warn!(%directives, "invalid log directives ignored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_is_idempotent() {
        init_for_tests("info");
        init("debug");
        init_for_tests("not a [valid directive");
        tracing::info!("still logging");
    }

    #[test]
    fn invalid_defaults_fall_back() {
        // RUST_LOG is not set by `cargo test`; if a developer sets it, it decides.
        if std::env::var(EnvFilter::DEFAULT_ENV).is_err() {
            let (filter, rejected) = filter("[[");
            assert_eq!(filter.to_string(), FALLBACK_DIRECTIVES);
            assert_eq!(rejected.as_deref(), Some("[["));
            let (filter, rejected) = filter_ok("warn,service_kit=debug");
            assert!(filter.contains("service_kit=debug"), "{filter}");
            assert!(rejected.is_none());
        }
    }

    fn filter_ok(directives: &str) -> (String, Option<String>) {
        let (filter, rejected) = filter(directives);
        (filter.to_string(), rejected)
    }
}
