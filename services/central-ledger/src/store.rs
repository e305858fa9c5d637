//! MySQL access for the admin API: participants, accounts, positions, limits, endpoints and
//! settlement models. Each write runs in one transaction, so no operation leaves an account
//! half created.

use fspiop::ErrorCode;
use ledger::Money;
use sqlx::mysql::MySqlPool;
use sqlx::{MySql, Transaction};

use crate::error::{Error, Result};

/// `DATETIME(3)` as ISO-8601 UTC with milliseconds (the session time zone is UTC).
macro_rules! iso {
    ($column:literal) => {
        concat!(
            "CONCAT(LEFT(DATE_FORMAT(",
            $column,
            ", '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')"
        )
    };
}

pub use ledger_book::HUB_PARTICIPANT_ID;
pub const LIMIT_TYPE_NET_DEBIT_CAP: &str = "NET_DEBIT_CAP";
pub const ACCOUNT_POSITION: &str = "POSITION";
pub const ACCOUNT_SETTLEMENT: &str = "SETTLEMENT";
pub const ACCOUNT_HUB_RECONCILIATION: &str = "HUB_RECONCILIATION";
pub const ACCOUNT_HUB_MULTILATERAL_SETTLEMENT: &str = "HUB_MULTILATERAL_SETTLEMENT";
/// Longest list any query returns.
pub const LIST_LEN_MAX: i64 = 10_000;

fn money(text: &str) -> Result<Money> {
    Money::parse(text).map_err(Error::Money)
}

#[derive(Debug, Clone)]
pub struct Participant {
    pub id: u32,
    pub name: String,
    pub is_active: bool,
    pub created: String,
    pub is_proxy: bool,
    pub accounts: Vec<Account>,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: u32,
    pub ledger_account_type: String,
    pub currency: String,
    pub is_active: bool,
    pub created_date: String,
    pub created_by: String,
}

#[derive(Debug, Clone)]
pub struct AccountPosition {
    pub id: u32,
    pub ledger_account_type: String,
    pub currency: String,
    pub is_active: bool,
    pub value: Money,
    pub reserved_value: Money,
    pub changed_date: String,
}

#[derive(Debug, Clone)]
pub struct Limit {
    pub participant: String,
    pub currency: String,
    pub limit_type: String,
    pub value: Money,
    pub alarm_percentage: Money,
}

#[derive(Debug, Clone)]
pub struct SettlementModel {
    pub id: u32,
    pub name: String,
    pub is_active: bool,
    pub granularity: String,
    pub interchange: String,
    pub delay: String,
    pub currency: Option<String>,
    pub require_liquidity_check: bool,
    pub ledger_account_type: String,
    pub settlement_account_type: String,
    pub auto_position_reset: bool,
}

#[derive(Debug, Clone)]
pub struct NewSettlementModel {
    pub name: String,
    pub granularity: String,
    pub interchange: String,
    pub delay: String,
    pub currency: Option<String>,
    pub require_liquidity_check: bool,
    pub ledger_account_type: String,
    pub settlement_account_type: String,
    pub auto_position_reset: bool,
}

#[derive(Debug, Clone)]
pub struct LedgerAccountType {
    pub id: u32,
    pub name: String,
    pub description: Option<String>,
    pub is_active: bool,
    pub is_settleable: bool,
    pub created_date: String,
}

#[derive(Clone, Debug)]
pub struct Store {
    pub pool: MySqlPool,
}

type ParticipantRow = (u32, String, bool, String, bool);
type AccountRow = (u32, u32, String, String, bool, String, String);

impl Store {
    pub fn new(pool: MySqlPool) -> Store {
        Store { pool }
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn currency_exists(&self, currency: &str) -> Result<bool> {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT currencyId FROM currency WHERE currencyId = ? AND isActive = 1")
                .bind(currency)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    // ---- participants --------------------------------------------------------------------

    async fn accounts_of(&self, participant_ids: &[u32]) -> Result<Vec<(u32, Account)>> {
        if participant_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; participant_ids.len()].join(",");
        let sql = format!(
            "SELECT pc.participantCurrencyId, pc.participantId, lat.name, pc.currencyId, pc.isActive, {}, pc.createdBy
             FROM participantCurrency pc JOIN ledgerAccountType lat ON lat.ledgerAccountTypeId = pc.ledgerAccountTypeId
             WHERE pc.participantId IN ({placeholders}) ORDER BY pc.participantCurrencyId",
            iso!("pc.createdDate")
        );
        let mut query = sqlx::query_as::<_, AccountRow>(&sql);
        for id in participant_ids {
            query = query.bind(id);
        }
        Ok(query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(
                |(
                    id,
                    participant_id,
                    ledger_account_type,
                    currency,
                    is_active,
                    created_date,
                    created_by,
                )| {
                    (
                        participant_id,
                        Account {
                            id,
                            ledger_account_type,
                            currency,
                            is_active,
                            created_date,
                            created_by,
                        },
                    )
                },
            )
            .collect())
    }

    fn assemble(rows: Vec<ParticipantRow>, accounts: Vec<(u32, Account)>) -> Vec<Participant> {
        rows.into_iter()
            .map(|(id, name, is_active, created, is_proxy)| Participant {
                id,
                name,
                is_active,
                created,
                is_proxy,
                accounts: accounts
                    .iter()
                    .filter(|(pid, _)| *pid == id)
                    .map(|(_, a)| a.clone())
                    .collect(),
            })
            .collect()
    }

    pub async fn find_participant(&self, name: &str) -> Result<Option<Participant>> {
        let sql = format!(
            "SELECT participantId, name, isActive, {}, isProxy FROM participant WHERE name = ?",
            iso!("createdDate")
        );
        let Some(row) = sqlx::query_as::<_, ParticipantRow>(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let accounts = self.accounts_of(&[row.0]).await?;
        Ok(Self::assemble(vec![row], accounts).into_iter().next())
    }

    /// The participant, or 3200.
    pub async fn participant(&self, name: &str) -> Result<Participant> {
        self.find_participant(name)
            .await?
            .ok_or_else(|| Error::not_found(format!("participant {name} not found")))
    }

    pub async fn list_participants(&self, is_proxy: Option<bool>) -> Result<Vec<Participant>> {
        let sql = format!(
            "SELECT participantId, name, isActive, {}, isProxy FROM participant
             WHERE (? IS NULL OR isProxy = ?) ORDER BY name LIMIT ?",
            iso!("createdDate")
        );
        let rows = sqlx::query_as::<_, ParticipantRow>(&sql)
            .bind(is_proxy)
            .bind(is_proxy)
            .bind(LIST_LEN_MAX)
            .fetch_all(&self.pool)
            .await?;
        let ids: Vec<u32> = rows.iter().map(|r| r.0).collect();
        let accounts = self.accounts_of(&ids).await?;
        Ok(Self::assemble(rows, accounts))
    }

    /// Creates a participant (or adds a currency to an existing one): one pair of inactive
    /// accounts per settlement model of the currency. Requires the hub's accounts in the
    /// currency and a settlement model.
    pub async fn create_participant(
        &self,
        name: &str,
        currency: &str,
        is_proxy: bool,
    ) -> Result<Participant> {
        let mut tx = self.pool.begin().await?;
        for (account_type, missing) in [
            (
                ACCOUNT_HUB_RECONCILIATION,
                "Hub reconciliation account for the specified currency does not exist",
            ),
            (
                ACCOUNT_HUB_MULTILATERAL_SETTLEMENT,
                "Hub multilateral net settlement account for the specified currency does not exist",
            ),
        ] {
            let found: Option<(u32,)> = sqlx::query_as(
                "SELECT pc.participantCurrencyId FROM participantCurrency pc
                 JOIN ledgerAccountType lat ON lat.ledgerAccountTypeId = pc.ledgerAccountTypeId
                 WHERE pc.participantId = ? AND pc.currencyId = ? AND lat.name = ?",
            )
            .bind(HUB_PARTICIPANT_ID)
            .bind(currency)
            .bind(account_type)
            .fetch_optional(&mut *tx)
            .await?;
            if found.is_none() {
                return Err(Error::client(ErrorCode::AddPartyInfoError, missing));
            }
        }
        let existing: Option<(u32,)> =
            sqlx::query_as("SELECT participantId FROM participant WHERE name = ? FOR UPDATE")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let participant_id = match existing {
            Some((id,)) => {
                let (count,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM participantCurrency WHERE participantId = ? AND currencyId = ?")
                        .bind(id)
                        .bind(currency)
                        .fetch_one(&mut *tx)
                        .await?;
                if count > 0 {
                    return Err(Error::client(
                        ErrorCode::GenericClientError,
                        "Participant currency has already been registered",
                    ));
                }
                id
            }
            None => {
                let inserted = sqlx::query(
                    "INSERT INTO participant (name, createdBy, isProxy) VALUES (?, 'admin-api', ?)",
                )
                .bind(name)
                .bind(is_proxy)
                .execute(&mut *tx)
                .await
                .map_err(Error::from);
                match inserted {
                    Ok(result) => u32::try_from(result.last_insert_id())
                        .map_err(|e| Error::Internal(e.to_string()))?,
                    Err(e) if e.is_unique_violation() => {
                        return Err(Error::client(
                            ErrorCode::GenericClientError,
                            "Participant currency has already been registered",
                        ))
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let models: Vec<(u32, u32, Option<String>)> = sqlx::query_as(
            "SELECT ledgerAccountTypeId, settlementAccountTypeId, currencyId FROM settlementModel
             WHERE isActive = 1 AND (currencyId = ? OR currencyId IS NULL)",
        )
        .bind(currency)
        .fetch_all(&mut *tx)
        .await?;
        let specific: Vec<_> = models.iter().filter(|m| m.2.is_some()).collect();
        let chosen: Vec<_> = if specific.is_empty() {
            models.iter().collect()
        } else {
            specific
        };
        if chosen.is_empty() {
            return Err(Error::client(
                ErrorCode::GenericSettlementError,
                "Unable to find a matching or default, Settlement Model",
            ));
        }
        let mut account_types: Vec<u32> = Vec::new();
        for (ledger_type, settlement_type, _) in chosen {
            for account_type in [*ledger_type, *settlement_type] {
                if !account_types.contains(&account_type) {
                    account_types.push(account_type);
                }
            }
        }
        for account_type in account_types {
            let inserted = sqlx::query(
                "INSERT INTO participantCurrency (participantId, currencyId, ledgerAccountTypeId, isActive, createdBy)
                 VALUES (?, ?, ?, 0, 'admin-api')",
            )
            .bind(participant_id)
            .bind(currency)
            .bind(account_type)
            .execute(&mut *tx)
            .await
            .map_err(Error::from);
            match inserted {
                Ok(_) => {}
                Err(e) if e.is_unique_violation() => {
                    return Err(Error::client(
                        ErrorCode::GenericClientError,
                        "Participant currency has already been registered",
                    ))
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        self.participant(name).await
    }

    pub async fn set_participant_active(&self, name: &str, active: bool) -> Result<Participant> {
        let result = sqlx::query("UPDATE participant SET isActive = ? WHERE name = ?")
            .bind(active)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 && self.find_participant(name).await?.is_none() {
            return Err(Error::not_found(format!("participant {name} not found")));
        }
        self.participant(name).await
    }

    // ---- hub accounts --------------------------------------------------------------------

    /// Creates an active hub account with a zero position.
    pub async fn create_hub_account(
        &self,
        name: &str,
        currency: &str,
        account_type: &str,
        allowed: &[String],
    ) -> Result<Participant> {
        let participant = self.find_participant(name).await?.ok_or_else(|| {
            Error::client(ErrorCode::AddPartyInfoError, "Participant was not found.")
        })?;
        let type_id: Option<(u32,)> =
            sqlx::query_as("SELECT ledgerAccountTypeId FROM ledgerAccountType WHERE name = ?")
                .bind(account_type)
                .fetch_optional(&self.pool)
                .await?;
        let Some((type_id,)) = type_id else {
            return Err(Error::client(
                ErrorCode::AddPartyInfoError,
                "Ledger account type was not found.",
            ));
        };
        if participant
            .accounts
            .iter()
            .any(|a| a.currency == currency && a.ledger_account_type == account_type)
        {
            return Err(Error::client(
                ErrorCode::AddPartyInfoError,
                "Hub account has already been registered.",
            ));
        }
        if participant.id != HUB_PARTICIPANT_ID {
            return Err(Error::client(
                ErrorCode::AddPartyInfoError,
                "Endpoint is reserved for creation of Hub account types only.",
            ));
        }
        if !allowed.iter().any(|t| t == account_type) {
            return Err(Error::client(
                ErrorCode::AddPartyInfoError,
                "The requested hub operator account type is not allowed.",
            ));
        }
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO participantCurrency (participantId, currencyId, ledgerAccountTypeId, isActive, createdBy)
             VALUES (?, ?, ?, 1, 'admin-api')",
        )
        .bind(participant.id)
        .bind(currency)
        .bind(type_id)
        .execute(&mut *tx)
        .await
        .map_err(Error::from);
        let account_id = match inserted {
            Ok(result) => result.last_insert_id(),
            Err(e) if e.is_unique_violation() => {
                return Err(Error::client(
                    ErrorCode::AddPartyInfoError,
                    "Hub account has already been registered.",
                ))
            }
            Err(e) => return Err(e),
        };
        sqlx::query("INSERT INTO participantPosition (participantCurrencyId, value, reservedValue) VALUES (?, 0, 0)")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.participant(name).await
    }

    // ---- accounts and positions ----------------------------------------------------------

    pub async fn accounts_with_positions(
        &self,
        participant_id: u32,
    ) -> Result<Vec<AccountPosition>> {
        let sql = format!(
            "SELECT pc.participantCurrencyId, lat.name, pc.currencyId, pc.isActive, CAST(pp.value AS CHAR),
                    CAST(pp.reservedValue AS CHAR), {}
             FROM participantCurrency pc
             JOIN ledgerAccountType lat ON lat.ledgerAccountTypeId = pc.ledgerAccountTypeId
             JOIN participantPosition pp ON pp.participantCurrencyId = pc.participantCurrencyId
             WHERE pc.participantId = ? ORDER BY pc.participantCurrencyId",
            iso!("pp.changedDate")
        );
        let rows: Vec<(u32, String, String, bool, String, String, String)> = sqlx::query_as(&sql)
            .bind(participant_id)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(
                |(id, ledger_account_type, currency, is_active, value, reserved, changed_date)| {
                    Ok(AccountPosition {
                        id,
                        ledger_account_type,
                        currency,
                        is_active,
                        value: money(&value)?,
                        reserved_value: money(&reserved)?,
                        changed_date,
                    })
                },
            )
            .collect()
    }

    /// Activates or deactivates a participant's POSITION account.
    pub async fn set_account_active(
        &self,
        participant: &Participant,
        account_id: u32,
        active: bool,
    ) -> Result<()> {
        let account = participant
            .accounts
            .iter()
            .find(|a| a.id == account_id)
            .ok_or_else(|| {
                Error::not_found(format!(
                    "account {account_id} of participant {} not found",
                    participant.name
                ))
            })?;
        if account.ledger_account_type != ACCOUNT_POSITION {
            return Err(Error::client(
                ErrorCode::GenericValidationError,
                "Only position account update is permitted",
            ));
        }
        sqlx::query("UPDATE participantCurrency SET isActive = ? WHERE participantCurrencyId = ?")
            .bind(active)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- limits and initial position -----------------------------------------------------

    /// Sets the NET_DEBIT_CAP and the initial position of a participant's currency and
    /// activates its accounts, all at once.
    pub async fn initial_position_and_limits(
        &self,
        participant: &Participant,
        currency: &str,
        limit_value: Money,
        initial_position: Money,
    ) -> Result<()> {
        let accounts: Vec<&Account> = participant
            .accounts
            .iter()
            .filter(|a| a.currency == currency)
            .collect();
        let position = accounts
            .iter()
            .find(|a| a.ledger_account_type == ACCOUNT_POSITION)
            .ok_or_else(|| {
                Error::not_found(format!(
                    "participant {} has no POSITION account in {currency}",
                    participant.name
                ))
            })?;
        let mut tx = self.pool.begin().await?;
        // Lock the accounts so two concurrent calls cannot both pass the check below.
        for account in &accounts {
            sqlx::query("SELECT participantCurrencyId FROM participantCurrency WHERE participantCurrencyId = ? FOR UPDATE")
                .bind(account.id)
                .execute(&mut *tx)
                .await?;
        }
        let ids: Vec<String> = accounts.iter().map(|a| a.id.to_string()).collect();
        let list = ids.join(",");
        let (existing,): (i64,) = sqlx::query_as(&format!(
            "SELECT (SELECT COUNT(*) FROM participantLimit WHERE participantCurrencyId = ?)
                  + (SELECT COUNT(*) FROM participantPosition WHERE participantCurrencyId IN ({list}))"
        ))
        .bind(position.id)
        .fetch_one(&mut *tx)
        .await?;
        if existing > 0 {
            return Err(Error::client(
                ErrorCode::GenericClientError,
                "Participant Limit or Initial Position already set",
            ));
        }
        sqlx::query(
            "INSERT INTO participantLimit (participantCurrencyId, participantLimitTypeId, value, isActive, createdBy)
             SELECT ?, participantLimitTypeId, ?, 1, 'admin-api' FROM participantLimitType WHERE name = ?",
        )
        .bind(position.id)
        .bind(limit_value.to_decimal_string())
        .bind(LIMIT_TYPE_NET_DEBIT_CAP)
        .execute(&mut *tx)
        .await?;
        for account in &accounts {
            let value = if account.id == position.id {
                initial_position
            } else {
                Money::ZERO
            };
            sqlx::query("INSERT INTO participantPosition (participantCurrencyId, value, reservedValue) VALUES (?, ?, 0)")
                .bind(account.id)
                .bind(value.to_decimal_string())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(&format!(
            "UPDATE participantCurrency SET isActive = 1 WHERE participantCurrencyId IN ({list})"
        ))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Active limits of active POSITION accounts of active participants.
    pub async fn limits(
        &self,
        participant: Option<&str>,
        currency: Option<&str>,
        limit_type: Option<&str>,
    ) -> Result<Vec<Limit>> {
        let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
            "SELECT p.name, pc.currencyId, lt.name, CAST(pl.value AS CHAR), CAST(pl.thresholdAlarmPercentage AS CHAR)
             FROM participantLimit pl
             JOIN participantLimitType lt ON lt.participantLimitTypeId = pl.participantLimitTypeId
             JOIN participantCurrency pc ON pc.participantCurrencyId = pl.participantCurrencyId
             JOIN participant p ON p.participantId = pc.participantId
             WHERE pl.isActive = 1 AND pc.isActive = 1 AND p.isActive = 1
               AND (? IS NULL OR p.name = ?) AND (? IS NULL OR pc.currencyId = ?) AND (? IS NULL OR lt.name = ?)
             ORDER BY p.name, pc.currencyId LIMIT ?",
        )
        .bind(participant)
        .bind(participant)
        .bind(currency)
        .bind(currency)
        .bind(limit_type)
        .bind(limit_type)
        .bind(LIST_LEN_MAX)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(participant, currency, limit_type, value, alarm)| {
                Ok(Limit {
                    participant,
                    currency,
                    limit_type,
                    value: money(&value)?,
                    alarm_percentage: money(&alarm)?,
                })
            })
            .collect()
    }

    /// Replaces the active limit: the old row is deactivated and a new one inserted.
    pub async fn adjust_limit(
        &self,
        participant: &Participant,
        currency: &str,
        limit_type: &str,
        value: Money,
        alarm_percentage: Money,
    ) -> Result<()> {
        let position = participant
            .accounts
            .iter()
            .find(|a| a.currency == currency && a.ledger_account_type == ACCOUNT_POSITION)
            .ok_or_else(|| {
                Error::not_found(format!(
                    "participant {} has no POSITION account in {currency}",
                    participant.name
                ))
            })?;
        let mut tx = self.pool.begin().await?;
        let current: Option<(u32, u32)> = sqlx::query_as(
            "SELECT pl.participantLimitId, pl.participantLimitTypeId FROM participantLimit pl
             JOIN participantLimitType lt ON lt.participantLimitTypeId = pl.participantLimitTypeId
             WHERE pl.participantCurrencyId = ? AND lt.name = ? AND pl.isActive = 1 FOR UPDATE",
        )
        .bind(position.id)
        .bind(limit_type)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((limit_id, type_id)) = current else {
            return Err(Error::not_found("Participant Limit does not exist"));
        };
        sqlx::query("UPDATE participantLimit SET isActive = 0 WHERE participantLimitId = ?")
            .bind(limit_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO participantLimit (participantCurrencyId, participantLimitTypeId, value, thresholdAlarmPercentage, isActive, createdBy)
             VALUES (?, ?, ?, ?, 1, 'admin-api')",
        )
        .bind(position.id)
        .bind(type_id)
        .bind(value.to_decimal_string())
        .bind(alarm_percentage.to_decimal_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- endpoints -----------------------------------------------------------------------

    pub async fn endpoint_type_exists(&self, name: &str) -> Result<bool> {
        let found: Option<(u32,)> = sqlx::query_as(
            "SELECT endpointTypeId FROM endpointType WHERE name = ? AND isActive = 1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Sets the participant's endpoint of a type (replacing the current one).
    pub async fn upsert_endpoint(
        &self,
        participant_id: u32,
        endpoint_type: &str,
        value: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO participantEndpoint (participantId, endpointTypeId, value, isActive, createdBy)
             SELECT ?, endpointTypeId, ?, 1, 'admin-api' FROM endpointType WHERE name = ?
             ON DUPLICATE KEY UPDATE value = VALUES(value), isActive = 1",
        )
        .bind(participant_id)
        .bind(value)
        .bind(endpoint_type)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn endpoints(
        &self,
        participant_id: u32,
        endpoint_type: Option<&str>,
    ) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT et.name, pe.value FROM participantEndpoint pe
             JOIN endpointType et ON et.endpointTypeId = pe.endpointTypeId
             WHERE pe.participantId = ? AND pe.isActive = 1 AND (? IS NULL OR et.name = ?) ORDER BY et.name",
        )
        .bind(participant_id)
        .bind(endpoint_type)
        .bind(endpoint_type)
        .fetch_all(&self.pool)
        .await?)
    }

    // ---- settlement models and ledger account types --------------------------------------

    pub async fn create_settlement_model(&self, model: &NewSettlementModel) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let mut type_ids = Vec::new();
        for name in [&model.ledger_account_type, &model.settlement_account_type] {
            let found: Option<(u32,)> =
                sqlx::query_as("SELECT ledgerAccountTypeId FROM ledgerAccountType WHERE name = ?")
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?;
            let (id,) = found.ok_or_else(|| {
                Error::client(
                    ErrorCode::AddPartyInfoError,
                    format!("Ledger account type {name} was not found"),
                )
            })?;
            type_ids.push(id);
        }
        let (ledger_type_id, settlement_type_id) = match type_ids.as_slice() {
            [a, b] => (*a, *b),
            _ => return Err(Error::Internal("account types".into())),
        };
        let duplicate: Option<(String,)> = sqlx::query_as(
            "SELECT name FROM settlementModel WHERE name = ? OR (ledgerAccountTypeId = ? AND currencyId <=> ?) LIMIT 1",
        )
        .bind(&model.name)
        .bind(ledger_type_id)
        .bind(&model.currency)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((existing,)) = duplicate {
            let detail = if existing == model.name {
                "Settlement Model already exists".to_string()
            } else {
                format!("Settlement model {existing} already covers this ledger account type and currency")
            };
            return Err(Error::client(ErrorCode::GenericClientError, detail));
        }
        let inserted = sqlx::query(
            "INSERT INTO settlementModel (name, isActive, settlementGranularityId, settlementInterchangeId, settlementDelayId,
                 currencyId, requireLiquidityCheck, ledgerAccountTypeId, settlementAccountTypeId, autoPositionReset)
             SELECT ?, 1, g.settlementGranularityId, i.settlementInterchangeId, d.settlementDelayId, ?, ?, ?, ?, ?
             FROM settlementGranularity g, settlementInterchange i, settlementDelay d
             WHERE g.name = ? AND i.name = ? AND d.name = ?",
        )
        .bind(&model.name)
        .bind(&model.currency)
        .bind(model.require_liquidity_check)
        .bind(ledger_type_id)
        .bind(settlement_type_id)
        .bind(model.auto_position_reset)
        .bind(&model.granularity)
        .bind(&model.interchange)
        .bind(&model.delay)
        .execute(&mut *tx)
        .await
        .map_err(Error::from);
        match inserted {
            Ok(result) if result.rows_affected() == 1 => {}
            Ok(_) => {
                return Err(Error::client(
                    ErrorCode::GenericClientError,
                    "Invalid settlement model values",
                ))
            }
            Err(e) if e.is_unique_violation() => {
                return Err(Error::client(
                    ErrorCode::GenericClientError,
                    "Settlement Model already exists",
                ))
            }
            Err(e) => return Err(e),
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn settlement_models(&self, name: Option<&str>) -> Result<Vec<SettlementModel>> {
        type Row = (
            u32,
            String,
            bool,
            String,
            String,
            String,
            Option<String>,
            bool,
            String,
            String,
            bool,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT sm.settlementModelId, sm.name, sm.isActive, g.name, i.name, d.name, sm.currencyId,
                    sm.requireLiquidityCheck, la.name, sa.name, sm.autoPositionReset
             FROM settlementModel sm
             JOIN settlementGranularity g ON g.settlementGranularityId = sm.settlementGranularityId
             JOIN settlementInterchange i ON i.settlementInterchangeId = sm.settlementInterchangeId
             JOIN settlementDelay d ON d.settlementDelayId = sm.settlementDelayId
             JOIN ledgerAccountType la ON la.ledgerAccountTypeId = sm.ledgerAccountTypeId
             JOIN ledgerAccountType sa ON sa.ledgerAccountTypeId = sm.settlementAccountTypeId
             WHERE (? IS NULL OR sm.name = ?) ORDER BY sm.settlementModelId",
        )
        .bind(name)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| SettlementModel {
                id: r.0,
                name: r.1,
                is_active: r.2,
                granularity: r.3,
                interchange: r.4,
                delay: r.5,
                currency: r.6,
                require_liquidity_check: r.7,
                ledger_account_type: r.8,
                settlement_account_type: r.9,
                auto_position_reset: r.10,
            })
            .collect())
    }

    pub async fn set_settlement_model_active(&self, name: &str, active: bool) -> Result<()> {
        let result = sqlx::query("UPDATE settlementModel SET isActive = ? WHERE name = ?")
            .bind(active)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 && self.settlement_models(Some(name)).await?.is_empty() {
            return Err(Error::not_found(format!(
                "settlement model {name} not found"
            )));
        }
        Ok(())
    }

    pub async fn ledger_account_types(&self) -> Result<Vec<LedgerAccountType>> {
        let sql = format!(
            "SELECT ledgerAccountTypeId, name, description, isActive, isSettleable, {} FROM ledgerAccountType ORDER BY ledgerAccountTypeId",
            iso!("createdDate")
        );
        let rows: Vec<(u32, String, Option<String>, bool, bool, String)> =
            sqlx::query_as(&sql).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, name, description, is_active, is_settleable, created_date)| {
                    LedgerAccountType {
                        id,
                        name,
                        description,
                        is_active,
                        is_settleable,
                        created_date,
                    }
                },
            )
            .collect())
    }

    pub async fn create_ledger_account_type(
        &self,
        name: &str,
        description: &str,
        is_active: bool,
        is_settleable: bool,
    ) -> Result<()> {
        let inserted = sqlx::query("INSERT INTO ledgerAccountType (name, description, isActive, isSettleable) VALUES (?, ?, ?, ?)")
            .bind(name)
            .bind(description)
            .bind(is_active)
            .bind(is_settleable)
            .execute(&self.pool)
            .await
            .map_err(Error::from);
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if e.is_unique_violation() => Err(Error::client(
                ErrorCode::GenericClientError,
                "Ledger account type already exists",
            )),
            Err(e) => Err(e),
        }
    }
}

/// A transaction, for the funds handler.
pub type Tx<'a> = Transaction<'a, MySql>;

/// Creates the configured database on the server when it does not exist.
pub async fn create_database_if_missing_for(config: &crate::Config) -> Result<()> {
    Ok(::store::create_database_if_missing(&config.database.url, &config.database.name).await?)
}
