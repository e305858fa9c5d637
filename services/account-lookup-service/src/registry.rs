//! The oracle registry in the ALS database (`oracleEndpoint` with its reference tables): which
//! oracle serves which party identifier type, optionally per currency, and which one is the
//! default. Lookups read an in-memory copy of the active rows, refreshed after
//! `registry_cache_ttl_ms` and at once when this process's admin API changes a row.
//!
//! Selection ([`select`]): the active rows for the type (for a GET that names a currency, the
//! rows for that currency, else the type's rows without a currency); one row is used as is;
//! among several, the last one flagged default, else the first.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::{MySqlPool, QueryBuilder, Row};

use crate::error::Result;

/// The migrations of the ALS database (`migrations/account_lookup`).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/account_lookup");

/// Who creates oracle rows (Mojaloop writes `Admin`).
const CREATED_BY: &str = "Admin";

/// One registered oracle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleRow {
    pub id: u32,
    pub party_id_type: String,
    pub endpoint_type: String,
    pub currency: Option<String>,
    /// The oracle's base URL.
    pub value: String,
    pub is_default: bool,
}

/// A new or replacement registration, ids resolved.
#[derive(Debug, Clone)]
pub struct OracleWrite {
    pub party_id_type_id: u32,
    pub endpoint_type_id: u32,
    pub currency: Option<String>,
    pub value: String,
    pub is_default: bool,
}

/// The registry: database access and the cached active rows.
#[derive(Clone)]
pub struct Registry {
    pool: MySqlPool,
    ttl: Duration,
    cache: Arc<Mutex<Option<CachedRows>>>,
}

/// The active rows and when they were read.
type CachedRows = (Instant, Arc<Vec<OracleRow>>);

const SELECT_ROWS: &str = "SELECT oe.oracleEndpointId, pt.name AS partyIdType, et.type AS endpointType, oe.currencyId, oe.value, oe.isDefault
     FROM oracleEndpoint oe
     JOIN partyIdType pt ON pt.partyIdTypeId = oe.partyIdTypeId
     JOIN endpointType et ON et.endpointTypeId = oe.endpointTypeId
     WHERE oe.isActive = 1 AND pt.isActive = 1 AND et.isActive = 1";

impl Registry {
    pub fn new(pool: MySqlPool, ttl_ms: u64) -> Registry {
        Registry {
            pool,
            ttl: Duration::from_millis(ttl_ms),
            cache: Arc::new(Mutex::new(None)),
        }
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Drops the cached rows (after a change through the admin API).
    pub fn invalidate(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            *cache = None;
        }
    }

    /// The active rows, from the cache when fresh.
    ///
    /// When the database cannot be read, rows read less than
    /// [`fspiop_edge::STALE_SERVE_MAX`] ago are used as they are (as the participant
    /// directory does): nobody can change them meanwhile.
    pub async fn active(&self) -> Result<Arc<Vec<OracleRow>>> {
        let cached = self.cache.lock().ok().and_then(|cache| cache.clone());
        if let Some((fetched, rows)) = &cached {
            if fetched.elapsed() < self.ttl {
                return Ok(rows.clone());
            }
        }
        let rows = match self.list(None, None).await {
            Ok(rows) => Arc::new(rows),
            Err(error) => {
                return match cached {
                    Some((fetched, rows)) if fetched.elapsed() < fspiop_edge::STALE_SERVE_MAX => {
                        tracing::debug!(%error, "oracle registry unreadable; stale rows used");
                        Ok(rows)
                    }
                    _ => Err(error),
                }
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some((Instant::now(), rows.clone()));
        }
        Ok(rows)
    }

    /// Active rows, optionally of one type and one currency, by id.
    pub async fn list(
        &self,
        party_id_type: Option<&str>,
        currency: Option<&str>,
    ) -> Result<Vec<OracleRow>> {
        let mut query = QueryBuilder::new(SELECT_ROWS);
        if let Some(party_id_type) = party_id_type {
            query.push(" AND pt.name = ").push_bind(party_id_type);
        }
        if let Some(currency) = currency {
            query.push(" AND oe.currencyId = ").push_bind(currency);
        }
        query.push(" ORDER BY oe.oracleEndpointId");
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter().map(row_of).collect()
    }

    /// The active row with this id.
    pub async fn find(&self, id: u32) -> Result<Option<OracleRow>> {
        let mut query = QueryBuilder::new(SELECT_ROWS);
        query.push(" AND oe.oracleEndpointId = ").push_bind(id);
        let row = query.build().fetch_optional(&self.pool).await?;
        row.as_ref().map(row_of).transpose()
    }

    /// The id of an active party identifier type.
    pub async fn party_id_type_id(&self, name: &str) -> Result<Option<u32>> {
        let row: Option<(u32,)> =
            sqlx::query_as("SELECT partyIdTypeId FROM partyIdType WHERE name = ? AND isActive = 1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(id,)| id))
    }

    /// The id of an active endpoint type.
    pub async fn endpoint_type_id(&self, name: &str) -> Result<Option<u32>> {
        let row: Option<(u32,)> = sqlx::query_as(
            "SELECT endpointTypeId FROM endpointType WHERE type = ? AND isActive = 1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id,)| id))
    }

    /// Whether an active row other than `except` has the same type, endpoint type and
    /// currency (a missing currency matching a missing one).
    pub async fn has_active_duplicate(
        &self,
        write: &OracleWrite,
        except: Option<u32>,
    ) -> Result<bool> {
        let row: Option<(u32,)> = sqlx::query_as(
            "SELECT oracleEndpointId FROM oracleEndpoint
             WHERE isActive = 1 AND partyIdTypeId = ? AND endpointTypeId = ? AND currencyId <=> ? AND oracleEndpointId <> ?
             LIMIT 1",
        )
        .bind(write.party_id_type_id)
        .bind(write.endpoint_type_id)
        .bind(&write.currency)
        .bind(except.unwrap_or(0))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Registers an oracle; returns its id.
    pub async fn create(&self, write: &OracleWrite) -> Result<u64> {
        let result = sqlx::query(
            "INSERT INTO oracleEndpoint (partyIdTypeId, endpointTypeId, currencyId, value, isDefault, createdBy) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(write.party_id_type_id)
        .bind(write.endpoint_type_id)
        .bind(&write.currency)
        .bind(&write.value)
        .bind(write.is_default)
        .bind(CREATED_BY)
        .execute(&self.pool)
        .await?;
        self.invalidate();
        Ok(result.last_insert_id())
    }

    /// Replaces an oracle's registration.
    pub async fn update(&self, id: u32, write: &OracleWrite) -> Result<()> {
        sqlx::query(
            "UPDATE oracleEndpoint SET partyIdTypeId = ?, endpointTypeId = ?, currencyId = ?, value = ?, isDefault = ?
             WHERE oracleEndpointId = ? AND isActive = 1",
        )
        .bind(write.party_id_type_id)
        .bind(write.endpoint_type_id)
        .bind(&write.currency)
        .bind(&write.value)
        .bind(write.is_default)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.invalidate();
        Ok(())
    }

    /// Soft-deletes an oracle (`isActive = 0`).
    pub async fn deactivate(&self, id: u32) -> Result<()> {
        sqlx::query("UPDATE oracleEndpoint SET isActive = 0 WHERE oracleEndpointId = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        self.invalidate();
        Ok(())
    }

    /// Whether the database answers.
    pub async fn healthy(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

fn row_of(row: &sqlx::mysql::MySqlRow) -> Result<OracleRow> {
    Ok(OracleRow {
        id: row.try_get("oracleEndpointId")?,
        party_id_type: row.try_get("partyIdType")?,
        endpoint_type: row.try_get("endpointType")?,
        currency: row.try_get("currencyId")?,
        value: row.try_get("value")?,
        is_default: row.try_get("isDefault")?,
    })
}

/// The oracle serving `party_id_type` (and `currency`, for lookups that name one), per the
/// rules in the module documentation.
pub fn select<'a>(
    rows: &'a [OracleRow],
    party_id_type: &str,
    currency: Option<&str>,
) -> Option<&'a OracleRow> {
    let of_type = || {
        rows.iter()
            .filter(move |row| row.party_id_type == party_id_type)
    };
    let candidates: Vec<&OracleRow> = match currency {
        Some(currency) => {
            let for_currency: Vec<&OracleRow> = of_type()
                .filter(|row| row.currency.as_deref() == Some(currency))
                .collect();
            if for_currency.is_empty() {
                of_type().filter(|row| row.currency.is_none()).collect()
            } else {
                for_currency
            }
        }
        None => of_type().collect(),
    };
    match candidates.as_slice() {
        [] => None,
        [only] => Some(*only),
        several => several
            .iter()
            .rev()
            .find(|row| row.is_default)
            .or(several.first())
            .copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u32, party_id_type: &str, currency: Option<&str>, is_default: bool) -> OracleRow {
        OracleRow {
            id,
            party_id_type: party_id_type.to_string(),
            endpoint_type: "URL".to_string(),
            currency: currency.map(str::to_string),
            value: format!("http://oracle-{id}"),
            is_default,
        }
    }

    fn selected(rows: &[OracleRow], party_id_type: &str, currency: Option<&str>) -> Option<u32> {
        select(rows, party_id_type, currency).map(|row| row.id)
    }

    #[test]
    fn selection_rules() {
        let rows = vec![
            row(1, "MSISDN", None, false),
            row(2, "MSISDN", Some("USD"), false),
            row(3, "MSISDN", Some("EUR"), true),
            row(4, "EMAIL", None, false),
            row(5, "MSISDN", Some("USD"), true),
        ];
        assert_eq!(
            selected(&rows, "EMAIL", None),
            Some(4),
            "one row is used as is"
        );
        assert_eq!(
            selected(&rows, "MSISDN", None),
            Some(5),
            "the last default wins"
        );
        assert_eq!(selected(&rows, "MSISDN", Some("USD")), Some(5));
        assert_eq!(selected(&rows, "MSISDN", Some("EUR")), Some(3));
        assert_eq!(
            selected(&rows, "MSISDN", Some("XOF")),
            Some(1),
            "no row for the currency: the type's row without one"
        );
        assert_eq!(selected(&rows, "IBAN", None), None);
        assert_eq!(selected(&rows, "EMAIL", Some("USD")), Some(4));
        let no_default = vec![
            row(7, "ALIAS", None, false),
            row(8, "ALIAS", Some("USD"), false),
        ];
        assert_eq!(
            selected(&no_default, "ALIAS", None),
            Some(7),
            "no default: the first"
        );
    }
}
