//! The `oracleMSISDN` table: one row per (identifier, sub-id) with the DFSP that holds it.
//!
//! A mapping without a sub-id is stored with `subId = ''` (as Mojaloop's reference oracle
//! does), so the primary key `(id, subId)` makes each mapping unique.

use std::collections::HashSet;

use sqlx::{MySqlPool, QueryBuilder, Row};

use crate::error::{Error, Result};

/// The migrations of the oracle's database (`migrations/oracle`).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/oracle");

/// One party-to-DFSP mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The party identifier (the MSISDN).
    pub id: String,
    /// The sub-id or type; empty when the mapping has none.
    pub sub_id: String,
    /// The DFSP holding the party.
    pub fsp_id: String,
    /// The currency the mapping is for, if it was registered with one.
    pub currency: Option<String>,
}

/// What happened to one row of a bulk registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkOutcome {
    Inserted,
    /// Not inserted: the mapping exists already (or appears twice in the request).
    Duplicate,
}

/// The oracle's storage.
#[derive(Clone)]
pub struct Store {
    pub pool: MySqlPool,
}

impl Store {
    pub fn new(pool: MySqlPool) -> Store {
        Store { pool }
    }

    /// Mappings of `id`: with `sub_id` only that one, else all (the one without a sub-id
    /// first); with `currency` only mappings registered for it or for no currency. At most
    /// `limit` rows.
    pub async fn find(
        &self,
        id: &str,
        sub_id: Option<&str>,
        currency: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Mapping>> {
        let mut query =
            QueryBuilder::new("SELECT id, subId, fspId, currency FROM oracleMSISDN WHERE id = ");
        query.push_bind(id);
        if let Some(sub_id) = sub_id {
            query.push(" AND subId = ").push_bind(sub_id);
        }
        if let Some(currency) = currency {
            query
                .push(" AND (currency IS NULL OR currency = ")
                .push_bind(currency)
                .push(")");
        }
        query.push(" ORDER BY subId LIMIT ").push_bind(limit);
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter().map(mapping_of_row).collect()
    }

    /// Inserts one mapping. A mapping that exists already for the same DFSP is a resend: its
    /// currency is updated when one is given and the answer is `Ok(false)`. One held by
    /// another DFSP is [`Error::duplicate`]. `Ok(true)`: inserted.
    pub async fn insert(&self, mapping: &Mapping) -> Result<bool> {
        let result = sqlx::query(
            "INSERT INTO oracleMSISDN (id, subId, fspId, currency) VALUES (?, ?, ?, ?)",
        )
        .bind(&mapping.id)
        .bind(&mapping.sub_id)
        .bind(&mapping.fsp_id)
        .bind(&mapping.currency)
        .execute(&self.pool)
        .await
        .map_err(Error::from);
        match result {
            Ok(_) => Ok(true),
            Err(error) if error.is_unique_violation() => {
                // Only the holder's own resend changes the row (its currency).
                let resent = sqlx::query(
                    "UPDATE oracleMSISDN SET currency = COALESCE(?, currency) \
                     WHERE id = ? AND subId = ? AND fspId = ?",
                )
                .bind(&mapping.currency)
                .bind(&mapping.id)
                .bind(&mapping.sub_id)
                .bind(&mapping.fsp_id)
                .execute(&self.pool)
                .await?;
                let held_by_sender = resent.rows_affected() > 0
                    || sqlx::query(
                        "SELECT 1 FROM oracleMSISDN WHERE id = ? AND subId = ? AND fspId = ?",
                    )
                    .bind(&mapping.id)
                    .bind(&mapping.sub_id)
                    .bind(&mapping.fsp_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .is_some();
                if held_by_sender {
                    Ok(false)
                } else {
                    Err(Error::duplicate(format!(
                        "Party already exists [id: {}]",
                        mapping.id
                    )))
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Changes the DFSP (and the currency, when given) of an existing mapping. `false` when
    /// there is no such mapping.
    pub async fn update(&self, mapping: &Mapping) -> Result<bool> {
        let result = sqlx::query(
            "UPDATE oracleMSISDN SET fspId = ?, currency = COALESCE(?, currency) WHERE id = ? AND subId = ?",
        )
        .bind(&mapping.fsp_id)
        .bind(&mapping.currency)
        .bind(&mapping.id)
        .bind(&mapping.sub_id)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() > 0 {
            return Ok(true);
        }
        // Zero changed rows also when the values were already these: check it exists.
        let exists = sqlx::query("SELECT 1 FROM oracleMSISDN WHERE id = ? AND subId = ?")
            .bind(&mapping.id)
            .bind(&mapping.sub_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(exists.is_some())
    }

    /// Deletes the mapping with `sub_id`, or every mapping of `id` when `sub_id` is `None`.
    /// Returns how many were deleted.
    pub async fn delete(&self, id: &str, sub_id: Option<&str>) -> Result<u64> {
        let mut query = QueryBuilder::new("DELETE FROM oracleMSISDN WHERE id = ");
        query.push_bind(id);
        if let Some(sub_id) = sub_id {
            query.push(" AND subId = ").push_bind(sub_id);
        }
        Ok(query.build().execute(&self.pool).await?.rows_affected())
    }

    /// Inserts many mappings with multi-row INSERTs of at most `chunk_rows` rows, reporting
    /// per row whether it was inserted or already existed. Existing keys are found with one
    /// SELECT per chunk first; should another writer insert one of the keys in between, the
    /// chunk is retried row by row so every row still gets its own exact outcome.
    pub async fn insert_bulk(
        &self,
        rows: &[Mapping],
        chunk_rows: usize,
    ) -> Result<Vec<BulkOutcome>> {
        let mut outcomes = vec![BulkOutcome::Inserted; rows.len()];
        let mut seen = HashSet::new();
        let mut candidates = Vec::with_capacity(rows.len());
        for (index, row) in rows.iter().enumerate() {
            if seen.insert((row.id.as_str(), row.sub_id.as_str())) {
                candidates.push((index, row));
            } else if let Some(outcome) = outcomes.get_mut(index) {
                *outcome = BulkOutcome::Duplicate;
            }
        }
        for chunk in candidates.chunks(chunk_rows.max(1)) {
            let existing = self
                .existing_keys(chunk.iter().map(|(_, row)| row.id.as_str()))
                .await?;
            let mut fresh = Vec::with_capacity(chunk.len());
            for (index, row) in chunk {
                if existing.contains(&(row.id.clone(), row.sub_id.clone())) {
                    if let Some(outcome) = outcomes.get_mut(*index) {
                        *outcome = BulkOutcome::Duplicate;
                    }
                } else {
                    fresh.push((*index, *row));
                }
            }
            if fresh.is_empty() {
                continue;
            }
            let mut insert =
                QueryBuilder::new("INSERT INTO oracleMSISDN (id, subId, fspId, currency) ");
            insert.push_values(fresh.iter(), |mut values, (_, row)| {
                values
                    .push_bind(&row.id)
                    .push_bind(&row.sub_id)
                    .push_bind(&row.fsp_id)
                    .push_bind(&row.currency);
            });
            match insert
                .build()
                .execute(&self.pool)
                .await
                .map_err(Error::from)
            {
                Ok(_) => {}
                Err(error) if error.is_unique_violation() => {
                    // A concurrent writer took one of the keys: the statement inserted nothing
                    // (it is atomic), so go row by row.
                    for (index, row) in fresh {
                        match self.insert(row).await {
                            Ok(true) => {}
                            // A bulk registration reports every existing key as a duplicate.
                            Ok(false) | Err(Error::Client(409, _)) => {
                                if let Some(outcome) = outcomes.get_mut(index) {
                                    *outcome = BulkOutcome::Duplicate;
                                }
                            }
                            Err(error) => return Err(error),
                        }
                    }
                }
                Err(error) => return Err(error),
            }
        }
        Ok(outcomes)
    }

    /// The `(id, subId)` keys stored for these identifiers.
    async fn existing_keys<'a>(
        &self,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<HashSet<(String, String)>> {
        let mut query = QueryBuilder::new("SELECT id, subId FROM oracleMSISDN WHERE id IN (");
        let mut separated = query.separated(", ");
        for id in ids {
            separated.push_bind(id);
        }
        query.push(")");
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<String, _>("id")?,
                    row.try_get::<String, _>("subId")?,
                ))
            })
            .collect()
    }

    /// Whether the database answers.
    pub async fn healthy(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

fn mapping_of_row(row: &sqlx::mysql::MySqlRow) -> Result<Mapping> {
    Ok(Mapping {
        id: row.try_get("id")?,
        sub_id: row.try_get("subId")?,
        fsp_id: row.try_get("fspId")?,
        currency: row.try_get("currency")?,
    })
}
