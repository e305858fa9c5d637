//! Participants and endpoints from the central ledger's database, cached per participant for
//! `ttl_ms`. A lookup of a participant that does not exist is cached too, so a flood of
//! requests naming an unknown FSP costs one query per TTL.
//!
//! When the database cannot be read, an expired entry younger than [`STALE_SERVE_MAX`] is used
//! as it is (stale-if-error): the rows cannot change while nobody can write them, and without
//! them a request the switch already accepted could not be answered (its requester's callback
//! URL is here). A participant never read before still fails (2003).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::MySqlPool;

use crate::EdgeError;

/// One account of a participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub currency: String,
    pub ledger_account_type: String,
    pub is_active: bool,
}

/// A participant as the edge needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantInfo {
    pub name: String,
    pub is_active: bool,
    pub accounts: Vec<AccountInfo>,
}

impl ParticipantInfo {
    /// Whether the participant can transact in `currency`: it has an active POSITION account.
    pub fn has_active_position_account(&self, currency: &str) -> bool {
        self.accounts
            .iter()
            .any(|a| a.currency == currency && a.ledger_account_type == "POSITION" && a.is_active)
    }
}

#[derive(Debug)]
struct Entry {
    fetched: Instant,
    participant: Option<ParticipantInfo>,
    endpoints: HashMap<String, String>,
}

/// The cached directory; clones share one cache.
#[derive(Debug, Clone)]
pub struct Directory {
    pool: MySqlPool,
    ttl: Duration,
    cache: Arc<Mutex<HashMap<String, Arc<Entry>>>>,
}

/// Most participants the cache holds before it starts over.
const CACHE_ENTRIES_MAX: usize = 10_000;

/// The oldest entry used when the database cannot be read.
pub const STALE_SERVE_MAX: Duration = Duration::from_secs(3_600);

impl Directory {
    pub fn new(pool: MySqlPool, ttl_ms: u64) -> Directory {
        Directory {
            pool,
            ttl: Duration::from_millis(ttl_ms),
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Forgets everything (the `DELETE /endpointcache` of Mojaloop's services).
    pub fn invalidate(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }

    async fn entry(&self, name: &str) -> Result<Arc<Entry>, EdgeError> {
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|cache| cache.get(name).cloned());
        if let Some(entry) = &cached {
            if entry.fetched.elapsed() < self.ttl {
                return Ok(entry.clone());
            }
        }
        let entry = match self.fetch(name).await {
            Ok(entry) => Arc::new(entry),
            Err(error) => {
                return match cached {
                    Some(stale) if stale.fetched.elapsed() < STALE_SERVE_MAX => {
                        tracing::debug!(fsp = %name, %error, "directory unreadable; stale entry used");
                        Ok(stale)
                    }
                    _ => Err(error),
                }
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_ENTRIES_MAX {
                cache.clear();
            }
            cache.insert(name.to_string(), entry.clone());
        }
        Ok(entry)
    }

    async fn fetch(&self, name: &str) -> Result<Entry, EdgeError> {
        let participant: Option<(u32, bool)> =
            sqlx::query_as("SELECT participantId, isActive FROM participant WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        let fetched = Instant::now();
        let Some((id, is_active)) = participant else {
            return Ok(Entry {
                fetched,
                participant: None,
                endpoints: HashMap::new(),
            });
        };
        let accounts: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT pc.currencyId, lat.name, pc.isActive FROM participantCurrency pc
             JOIN ledgerAccountType lat ON lat.ledgerAccountTypeId = pc.ledgerAccountTypeId
             WHERE pc.participantId = ?",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let endpoints: Vec<(String, String)> = sqlx::query_as(
            "SELECT et.name, pe.value FROM participantEndpoint pe
             JOIN endpointType et ON et.endpointTypeId = pe.endpointTypeId
             WHERE pe.participantId = ? AND pe.isActive = 1",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Entry {
            fetched,
            participant: Some(ParticipantInfo {
                name: name.to_string(),
                is_active,
                accounts: accounts
                    .into_iter()
                    .map(|(currency, ledger_account_type, is_active)| AccountInfo {
                        currency,
                        ledger_account_type,
                        is_active,
                    })
                    .collect(),
            }),
            endpoints: endpoints.into_iter().collect(),
        })
    }

    /// The participant, or `None` when it does not exist.
    pub async fn participant(&self, name: &str) -> Result<Option<ParticipantInfo>, EdgeError> {
        Ok(self.entry(name).await?.participant.clone())
    }

    /// The participant's active endpoint of `endpoint_type` (a template), if registered.
    pub async fn endpoint(
        &self,
        fsp: &str,
        endpoint_type: &str,
    ) -> Result<Option<String>, EdgeError> {
        Ok(self.entry(fsp).await?.endpoints.get(endpoint_type).cloned())
    }
}
