//! MySQL access shared by the services: connection pools, database creation and migrations.
//!
//! The schema lives in `migrations/` at the workspace root, one directory per database, as
//! reversible sqlx migrations (`<version>_<name>.up.sql` / `.down.sql`). They are embedded in the
//! binary at compile time, so a deployed service needs no migration files beside it.
//!
//! Connections run in UTC (sqlx sets `time_zone = '+00:00'`) with `utf8mb4`.

use std::time::Duration;

use sqlx::mysql::{MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::{Connection, Executor};

/// The central ledger's schema: `migrations/central_ledger`.
///
/// Adding a migration file is not noticed by an incremental build until this crate is rebuilt;
/// see `migrate!` in the sqlx docs for a `build.rs` that fixes that.
pub static CENTRAL_LEDGER_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("../../migrations/central_ledger");

/// Longest database name MySQL accepts.
pub const DATABASE_NAME_LENGTH_MAX: usize = 64;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A database name outside `[A-Za-z0-9_]{1,64}`.
    #[error("invalid database name {0:?}: use 1 to 64 characters from [A-Za-z0-9_]")]
    InvalidDatabaseName(String),
    /// Pool settings that cannot work.
    #[error("invalid pool settings: {0}")]
    InvalidPoolSettings(String),
    /// Connecting to the server failed (unreachable, refused, bad credentials, timeout).
    #[error("connecting to MySQL failed")]
    Connect(#[source] sqlx::Error),
    /// A statement failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Applying or reverting migrations failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A pool of at most `pool_size_max` connections to `url` (which names the database). Waiting
/// for a free connection, and the first connect, give up after `acquire_timeout_ms`.
pub async fn connect(url: &str, pool_size_max: u32, acquire_timeout_ms: u64) -> Result<MySqlPool> {
    if pool_size_max == 0 {
        return Err(Error::InvalidPoolSettings("pool_size_max is 0".to_owned()));
    }
    if acquire_timeout_ms == 0 {
        return Err(Error::InvalidPoolSettings(
            "acquire_timeout_ms is 0".to_owned(),
        ));
    }
    MySqlPoolOptions::new()
        .max_connections(pool_size_max)
        .acquire_timeout(Duration::from_millis(acquire_timeout_ms))
        .connect(url)
        .await
        .map_err(Error::Connect)
}

/// Creates database `name` (utf8mb4) on the server at `server_url` (a URL without a database
/// path) unless it exists.
pub async fn create_database_if_missing(server_url: &str, name: &str) -> Result<()> {
    validate_database_name(name)?;
    let mut connection = MySqlConnection::connect(server_url)
        .await
        .map_err(Error::Connect)?;
    // The name is validated above and cannot be a bind parameter.
    let statement = format!("CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4");
    connection.execute(statement.as_str()).await?;
    connection.close().await?;
    Ok(())
}

/// Drops database `name` on the server at `server_url` if it exists. For tests and tooling.
pub async fn drop_database_if_exists(server_url: &str, name: &str) -> Result<()> {
    validate_database_name(name)?;
    let mut connection = MySqlConnection::connect(server_url)
        .await
        .map_err(Error::Connect)?;
    let statement = format!("DROP DATABASE IF EXISTS `{name}`");
    connection.execute(statement.as_str()).await?;
    connection.close().await?;
    Ok(())
}

/// The URL of database `name` on the server at `server_url`: the name goes into the path, and
/// any `?query` of `server_url` is kept.
pub fn database_url(server_url: &str, name: &str) -> Result<String> {
    validate_database_name(name)?;
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let base = base.trim_end_matches('/');
    Ok(match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    })
}

/// Applies every central ledger migration not applied yet. Applied ones are left alone, so this
/// is a no-op on an up-to-date database.
pub async fn migrate_central_ledger(pool: &MySqlPool) -> Result<()> {
    CENTRAL_LEDGER_MIGRATIONS.run(pool).await?;
    Ok(())
}

/// Accepts `[A-Za-z0-9_]{1,64}`, which needs no quoting beyond backticks.
fn validate_database_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= DATABASE_NAME_LENGTH_MAX
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidDatabaseName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_restricted_to_word_characters() {
        for valid in ["central_ledger", "t_0123abcd", "A", &"x".repeat(64)] {
            assert!(validate_database_name(valid).is_ok(), "{valid}");
        }
        for invalid in ["", "a-b", "a b", "a`b", "a;b", "é", &"x".repeat(65)] {
            assert!(
                matches!(
                    validate_database_name(invalid),
                    Err(Error::InvalidDatabaseName(_))
                ),
                "{invalid}"
            );
        }
    }

    #[test]
    fn database_url_puts_the_name_before_the_query() -> Result<()> {
        assert_eq!(
            database_url("mysql://root@127.0.0.1:3306", "db")?,
            "mysql://root@127.0.0.1:3306/db"
        );
        assert_eq!(
            database_url("mysql://root@127.0.0.1:3306/", "db")?,
            "mysql://root@127.0.0.1:3306/db"
        );
        assert_eq!(
            database_url("mysql://root@h:3306?ssl-mode=disabled", "db")?,
            "mysql://root@h:3306/db?ssl-mode=disabled"
        );
        assert!(database_url("mysql://h", "a;b").is_err());
        Ok(())
    }

    #[test]
    fn migrations_are_embedded_and_reversible() {
        assert!(CENTRAL_LEDGER_MIGRATIONS.iter().count() >= 2);
        assert!(CENTRAL_LEDGER_MIGRATIONS
            .iter()
            .any(|migration| migration.migration_type.is_down_migration()));
    }
}
