//! Migration tests against a real MySQL (or MariaDB) at `DATABASE_URL`
//! (default `mysql://root@127.0.0.1:3306`, a server URL without a database).
//!
//! Each test works in its own database, `t_<uuid>`, so the tests run in parallel, and drops it at
//! the end whether the test passed or not. They fail, never skip, when no server answers.

use std::collections::BTreeSet;

use sqlx::mysql::MySqlPool;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const DATABASE_URL_DEFAULT: &str = "mysql://root@127.0.0.1:3306";
const POOL_SIZE_MAX: u32 = 2;
const ACQUIRE_TIMEOUT_MS: u64 = 10_000;

/// The reference tables the first migration creates, with their seed row counts.
const REFERENCE_TABLES: &[(&str, i64)] = &[
    ("currency", 164),
    ("endpointType", 62),
    ("ledgerAccountType", 6),
    ("ledgerEntryType", 10),
    ("participantLimitType", 1),
    ("settlementDelay", 2),
    ("settlementGranularity", 2),
    ("settlementInterchange", 2),
    ("settlementState", 7),
    ("settlementWindowState", 7),
    ("transferParticipantRoleType", 7),
    ("transferState", 16),
];

fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DATABASE_URL_DEFAULT.to_owned())
}

/// Turns "cannot connect" into a message that says what to start.
fn explain(error: store::Error) -> Box<dyn std::error::Error + Send + Sync> {
    match error {
        store::Error::Connect(source) => format!(
            "no MySQL answers at DATABASE_URL={} as configured ({source}); start one with \
             `bash .ci/run` (MariaDB) or `docker-compose up -d mysql`, or point DATABASE_URL at a \
             running server",
            server_url()
        )
        .into(),
        other => other.into(),
    }
}

/// Creates a fresh database, runs `body` against a pool on it, then drops the database.
async fn with_database<F, Fut>(body: F) -> TestResult
where
    F: FnOnce(String, MySqlPool) -> Fut,
    Fut: std::future::Future<Output = TestResult>,
{
    let server_url = server_url();
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    store::create_database_if_missing(&server_url, &name)
        .await
        .map_err(explain)?;
    let outcome = match store::connect(
        &store::database_url(&server_url, &name)?,
        POOL_SIZE_MAX,
        ACQUIRE_TIMEOUT_MS,
    )
    .await
    {
        Ok(pool) => {
            let outcome = body(name.clone(), pool.clone()).await;
            pool.close().await;
            outcome
        }
        Err(error) => Err(explain(error)),
    };
    let dropped = store::drop_database_if_exists(&server_url, &name).await;
    outcome?;
    Ok(dropped?)
}

async fn table_names(pool: &MySqlPool, database: &str) -> TestResult<BTreeSet<String>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
    )
    .bind(database)
    .fetch_all(pool)
    .await?;
    Ok(names.into_iter().collect())
}

async fn row_count(pool: &MySqlPool, table: &str) -> TestResult<i64> {
    // Table names come from the constant above, never from input.
    let statement = format!("SELECT COUNT(*) FROM `{table}`");
    Ok(sqlx::query_scalar(&statement).fetch_one(pool).await?)
}

async fn applied_migration_count(pool: &MySqlPool) -> TestResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(pool)
            .await?,
    )
}

/// The reference tables exist, are InnoDB/utf8mb4, and hold their seed rows.
async fn assert_reference_data(pool: &MySqlPool, database: &str) -> TestResult {
    let tables = table_names(pool, database).await?;
    for (table, rows) in REFERENCE_TABLES {
        assert!(tables.contains(*table), "{table} missing from {tables:?}");
        assert_eq!(row_count(pool, table).await?, *rows, "rows of {table}");
    }
    let not_innodb_utf8mb4: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME <> '_sqlx_migrations'
           AND (ENGINE <> 'InnoDB' OR TABLE_COLLATION NOT LIKE 'utf8mb4%')",
    )
    .bind(database)
    .fetch_all(pool)
    .await?;
    assert!(not_innodb_utf8mb4.is_empty(), "{not_innodb_utf8mb4:?}");

    let committed: String = sqlx::query_scalar(
        "SELECT enumeration FROM transferState WHERE transferStateId = 'COMMITTED'",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(committed, "COMMITTED");
    let received: String = sqlx::query_scalar(
        "SELECT enumeration FROM transferState WHERE transferStateId = 'RECEIVED_PREPARE'",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(received, "RECEIVED");

    // Mojaloop's ids: the shared enum hard-codes 1-5.
    for (id, name) in [
        (1_u32, "ALARM_NOTIFICATION_URL"),
        (3, "FSPIOP_CALLBACK_URL_TRANSFER_POST"),
        (4, "FSPIOP_CALLBACK_URL_TRANSFER_PUT"),
        (5, "FSPIOP_CALLBACK_URL_TRANSFER_ERROR"),
    ] {
        let found: u32 =
            sqlx::query_scalar("SELECT endpointTypeId FROM endpointType WHERE name = ?")
                .bind(name)
                .fetch_one(pool)
                .await?;
        assert_eq!(found, id, "{name}");
    }
    let fspiop_types: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM endpointType WHERE name LIKE 'FSPIOP\\_CALLBACK\\_URL\\_%'",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(fspiop_types, 28);

    for (currency, scale) in [
        ("USD", 2_u32),
        ("EUR", 2),
        ("JPY", 0),
        ("XOF", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("XTS", 4),
        ("XXX", 4),
    ] {
        let found: u32 = sqlx::query_scalar("SELECT scale FROM currency WHERE currencyId = ?")
            .bind(currency)
            .fetch_one(pool)
            .await?;
        assert_eq!(found, scale, "scale of {currency}");
    }

    let (position_id, settleable): (u32, bool) = sqlx::query_as(
        "SELECT ledgerAccountTypeId, isSettleable FROM ledgerAccountType WHERE name = 'POSITION'",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!((position_id, settleable), (1, true));
    let principle_account: Option<u32> = sqlx::query_scalar(
        "SELECT ledgerAccountTypeId FROM ledgerEntryType WHERE name = 'PRINCIPLE_VALUE'",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(principle_account, Some(1));
    let net_debit_cap: u32 = sqlx::query_scalar(
        "SELECT participantLimitTypeId FROM participantLimitType WHERE name = 'NET_DEBIT_CAP'",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(net_debit_cap, 1);
    let open: String = sqlx::query_scalar(
        "SELECT enumeration FROM settlementWindowState WHERE settlementWindowStateId = 'OPEN'",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(open, "OPEN");
    Ok(())
}

#[tokio::test]
async fn migrations_apply_seed_rerun_as_a_no_op_and_revert() -> TestResult {
    with_database(|database, pool| async move {
        store::migrate_central_ledger(&pool).await?;
        let migrations = applied_migration_count(&pool).await?;
        let up_migrations = store::CENTRAL_LEDGER_MIGRATIONS
            .iter()
            .filter(|migration| !migration.migration_type.is_down_migration())
            .count();
        assert_eq!(migrations, i64::try_from(up_migrations)?);
        assert_reference_data(&pool, &database).await?;

        // A second run applies nothing and changes nothing.
        store::migrate_central_ledger(&pool).await?;
        assert_eq!(applied_migration_count(&pool).await?, migrations);
        assert_reference_data(&pool, &database).await?;

        // Reverting everything leaves only sqlx's bookkeeping table, now empty.
        store::CENTRAL_LEDGER_MIGRATIONS.undo(&pool, 0).await?;
        let tables = table_names(&pool, &database).await?;
        assert_eq!(tables, BTreeSet::from(["_sqlx_migrations".to_owned()]));
        assert_eq!(applied_migration_count(&pool).await?, 0);

        // The down migration left nothing that stops a fresh apply.
        store::migrate_central_ledger(&pool).await?;
        assert_reference_data(&pool, &database).await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn create_database_if_missing_is_idempotent_and_uses_utf8mb4() -> TestResult {
    with_database(|database, pool| async move {
        // with_database created it already; creating it again is fine and keeps its content.
        sqlx::query("CREATE TABLE marker (id INT PRIMARY KEY)")
            .execute(&pool)
            .await?;
        store::create_database_if_missing(&server_url(), &database).await?;
        let charset: String = sqlx::query_scalar(
            "SELECT CAST(DEFAULT_CHARACTER_SET_NAME AS CHAR) FROM information_schema.SCHEMATA
             WHERE SCHEMA_NAME = ?",
        )
        .bind(&database)
        .fetch_one(&pool)
        .await?;
        assert_eq!(charset, "utf8mb4");
        assert!(table_names(&pool, &database).await?.contains("marker"));
        Ok(())
    })
    .await
}

#[tokio::test]
async fn unsafe_database_names_are_refused_before_reaching_the_server() {
    for name in ["", "x; DROP DATABASE mysql", "a`b", "t-1"] {
        assert!(
            matches!(
                store::create_database_if_missing(&server_url(), name).await,
                Err(store::Error::InvalidDatabaseName(_))
            ),
            "{name:?}"
        );
    }
}

#[tokio::test]
async fn connecting_to_a_missing_database_is_a_connect_error() -> TestResult {
    // Proves the server is there first, so the error below is about the database.
    with_database(|_database, _pool| async move { Ok(()) }).await?;
    let missing = format!("t_missing_{}", uuid::Uuid::new_v4().simple());
    let result = store::connect(
        &store::database_url(&server_url(), &missing)?,
        POOL_SIZE_MAX,
        ACQUIRE_TIMEOUT_MS,
    )
    .await;
    assert!(
        matches!(result, Err(store::Error::Connect(_))),
        "{result:?}"
    );
    Ok(())
}
