//! MySQL access shared by the services: connection pools, database creation and migrations.
//!
//! The schema lives in `migrations/` at the workspace root, one directory per database, as
//! reversible sqlx migrations (`<version>_<name>.up.sql` / `.down.sql`). They are embedded in the
//! binary at compile time, so a deployed service needs no migration files beside it.
//!
//! Connections run in UTC (sqlx sets `time_zone = '+00:00'`) with `utf8mb4`.

pub mod bulk;

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

impl Error {
    /// The FSPIOP error a caller is answered with (see [`to_fspiop`]): connecting that failed
    /// is the database being unavailable.
    pub fn to_fspiop(&self) -> fspiop::FspiopError {
        match self {
            Error::Connect(_) => fspiop::FspiopError::with_detail(
                fspiop::ErrorCode::ServiceCurrentlyUnavailable,
                "the database is unavailable",
            ),
            Error::Database(error) => to_fspiop(error),
            Error::InvalidDatabaseName(_) | Error::InvalidPoolSettings(_) | Error::Migrate(_) => {
                fspiop::FspiopError::new(fspiop::ErrorCode::InternalServerError)
            }
        }
    }
}

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How long a statement waits for a row lock another transaction holds before it fails (MySQL
/// error 1205, classed [`Class::Unavailable`]), set on every connection of [`connect`]. A
/// blocked batch fails fast and is retried by its handler instead of waiting MySQL's default
/// 50 s while its messages' senders time out.
pub const LOCK_WAIT_TIMEOUT_S: u32 = 5;

/// What a failed statement means to its caller: the one classification every service maps to
/// FSPIOP ([`to_fspiop`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The row asked for does not exist.
    NotFound,
    /// A unique key refused the row (an idempotency check, a name taken).
    Duplicate,
    /// The database cannot answer now: unreachable, pool exhausted or closed, the connection
    /// lost, a lock wait timed out or a deadlock chose this transaction. Retrying later may
    /// succeed.
    Unavailable,
    /// Anything else: a bug or a schema mismatch.
    Other,
}

/// MySQL's error numbers for a lock wait timeout, a deadlock, too many connections, and a
/// server shutting down.
const TRANSIENT_MYSQL_ERRORS: [u16; 4] = [1205, 1213, 1040, 1053];

/// Classifies a failed statement.
pub fn classify(error: &sqlx::Error) -> Class {
    match error {
        sqlx::Error::RowNotFound => Class::NotFound,
        sqlx::Error::Database(e) if e.is_unique_violation() => Class::Duplicate,
        sqlx::Error::Database(e)
            if e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .is_some_and(|e| TRANSIENT_MYSQL_ERRORS.contains(&e.number())) =>
        {
            Class::Unavailable
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => Class::Unavailable,
        _ => Class::Other,
    }
}

/// Whether the database could not answer (see [`Class::Unavailable`]).
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    classify(error) == Class::Unavailable
}

/// The FSPIOP error a failed statement is answered with when nothing more specific applies:
/// 2003 (HTTP 503) when the database is unavailable, in every service; otherwise 2001 (500),
/// revealing nothing of the cause (which the caller logs).
pub fn to_fspiop(error: &sqlx::Error) -> fspiop::FspiopError {
    match classify(error) {
        Class::Unavailable => fspiop::FspiopError::with_detail(
            fspiop::ErrorCode::ServiceCurrentlyUnavailable,
            "the database is unavailable",
        ),
        Class::NotFound | Class::Duplicate | Class::Other => {
            fspiop::FspiopError::new(fspiop::ErrorCode::InternalServerError)
        }
    }
}

/// A pool of at most `pool_size_max` connections to `url` (which names the database). Waiting
/// for a free connection, and the first connect, give up after `acquire_timeout_ms`; a row
/// lock wait after [`LOCK_WAIT_TIMEOUT_S`].
pub async fn connect(url: &str, pool_size_max: u32, acquire_timeout_ms: u64) -> Result<MySqlPool> {
    pool_options(pool_size_max, acquire_timeout_ms)?
        .connect(url)
        .await
        .map_err(Error::Connect)
}

/// [`connect`] without connecting yet: the first use connects (for a service that needs the
/// database for some requests only, so it starts without it).
pub fn connect_lazy(url: &str, pool_size_max: u32, acquire_timeout_ms: u64) -> Result<MySqlPool> {
    pool_options(pool_size_max, acquire_timeout_ms)?
        .connect_lazy(url)
        .map_err(Error::Connect)
}

fn pool_options(pool_size_max: u32, acquire_timeout_ms: u64) -> Result<MySqlPoolOptions> {
    if pool_size_max == 0 {
        return Err(Error::InvalidPoolSettings("pool_size_max is 0".to_owned()));
    }
    if acquire_timeout_ms == 0 {
        return Err(Error::InvalidPoolSettings(
            "acquire_timeout_ms is 0".to_owned(),
        ));
    }
    Ok(MySqlPoolOptions::new()
        .max_connections(pool_size_max)
        .acquire_timeout(Duration::from_millis(acquire_timeout_ms))
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection
                    .execute(
                        format!("SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_TIMEOUT_S}")
                            .as_str(),
                    )
                    .await
                    .map(|_| ())
            })
        }))
}

/// Closes `pool` once every connection is back in it (waiting up to `timeout_ms`), so each says
/// goodbye: a connection still on its way back when the pool closes is dropped, and the server
/// logs an "Aborted connection" warning. For a process about
/// to exit (`mojaloop migrate`, a service shutting down).
pub async fn close(pool: &MySqlPool, timeout_ms: u64) {
    let closing = async {
        // A connection on its way back to the pool (its return runs as a task of its own) is
        // dropped without a goodbye if the pool closes first: wait until every one is idle.
        while usize::try_from(pool.size()).unwrap_or(usize::MAX) > pool.num_idle() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        pool.close().await;
    };
    let _ = tokio::time::timeout(Duration::from_millis(timeout_ms), closing).await;
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

/// Milliseconds since the epoch as a MySQL `DATETIME(3)` literal (`YYYY-MM-DD HH:MM:SS.mmm`,
/// UTC).
pub fn datetime_literal(ms: i64) -> String {
    let iso = fspiop::datetime::format_date_time(ms);
    iso.trim_end_matches('Z').replacen('T', " ", 1)
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

/// The length an `IN (…)` list of `len` bound values is padded to: 1, 2, 3, 4, 6, 8, 12, 16,
/// 24, 32, … (each step at most half again the one before).
///
/// sqlx keeps prepared statements per connection by their SQL text, 100 of them; a batch's
/// `IN` list of every length from 1 to the batch's largest is a statement of its own, and
/// past 100 each is prepared, used once and closed again: two round trips more for one
/// statement. Measured at 600 payments/s, prepares and closes were a third of all MariaDB
/// round trips. Padded, a statement has a few shapes (11 up to 64 values), so they stay
/// prepared.
pub fn in_list_len(len: usize) -> usize {
    let mut size = usize::from(len > 0);
    while size < len {
        size = if size < 2 {
            size + 1
        } else if size.is_power_of_two() {
            size + size / 2
        } else {
            size / 3 * 4
        };
    }
    size
}

/// Appends `values` as bound parameters and the closing parenthesis of an `IN (` list, padded
/// to [`in_list_len`] by repeating the last value (an `IN` list matches a value once however
/// often it is listed). `values` must not be empty: `IN ()` is not SQL.
pub fn push_in_list<T>(builder: &mut sqlx::QueryBuilder<'_, sqlx::MySql>, values: &[T])
where
    T: Clone + Send + for<'q> sqlx::Encode<'q, sqlx::MySql> + sqlx::Type<sqlx::MySql> + 'static,
{
    let mut separated = builder.separated(", ");
    for value in values {
        separated.push_bind(value.clone());
    }
    if let Some(last) = values.last() {
        for _ in values.len()..in_list_len(values.len()) {
            separated.push_bind(last.clone());
        }
    }
    separated.push_unseparated(")");
}

#[cfg(test)]
mod tests {
    #[test]
    fn in_lists_are_padded_to_a_few_lengths() {
        let lengths: Vec<usize> = (0..=64).map(super::in_list_len).collect();
        let mut shapes = lengths.clone();
        shapes.dedup();
        assert_eq!(shapes, [0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]);
        for (len, padded) in lengths.iter().enumerate() {
            assert!(
                *padded >= len && *padded * 2 <= len * 3 + 2,
                "{len} -> {padded}"
            );
        }
        assert_eq!(super::in_list_len(1000), 1024);
        let mut query = sqlx::QueryBuilder::<sqlx::MySql>::new("SELECT 1 WHERE x IN (");
        super::push_in_list(
            &mut query,
            &[
                "a".to_string(),
                "b".to_string(),
                "c".to_string(),
                "d".to_string(),
                "e".to_string(),
            ],
        );
        assert_eq!(query.sql(), "SELECT 1 WHERE x IN (?, ?, ?, ?, ?, ?)");
    }

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
    fn an_outage_is_unavailable_and_answered_2003() {
        for error in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Io(std::io::Error::other("connection reset")),
        ] {
            assert_eq!(classify(&error), Class::Unavailable, "{error}");
            let answer = to_fspiop(&error);
            assert_eq!(answer.code, fspiop::ErrorCode::ServiceCurrentlyUnavailable);
            assert_eq!(answer.http_status(), 503);
        }
        assert_eq!(classify(&sqlx::Error::RowNotFound), Class::NotFound);
        assert_eq!(
            to_fspiop(&sqlx::Error::RowNotFound).code,
            fspiop::ErrorCode::InternalServerError
        );
    }

    #[test]
    fn migrations_are_embedded_and_reversible() {
        assert!(CENTRAL_LEDGER_MIGRATIONS.iter().count() >= 2);
        assert!(CENTRAL_LEDGER_MIGRATIONS
            .iter()
            .any(|migration| migration.migration_type.is_down_migration()));
    }
}
