//! One DFSP's figures, last transfers and last currency conversions (`mojaloop
//! debug-participant`).

use super::*;

#[derive(Debug, Args)]
pub struct DebugArgs {
    /// The DFSP to show.
    #[arg(long)]
    dfsp: String,
    /// How many of its latest transfers to list.
    #[arg(long, default_value_t = 10)]
    transfers: u32,
    #[command(flatten)]
    database: Database,
    #[command(flatten)]
    switch: Switch,
}

/// The latest transfers `name` took part in: time, id, payer, payee, amount, currency, state.
type TransferLine = (String, String, String, String, String, String, String);

pub(super) async fn last_transfers(
    database: &Database,
    name: &str,
    limit: u32,
) -> Result<Vec<TransferLine>> {
    let url = store::database_url(&database.database_url, &database.central_ledger_database)?;
    let pool = store::connect(&url, 1, 5_000).await?;
    let rows: Vec<TransferLine> = sqlx::query_as(
        "SELECT DATE_FORMAT(t.createdDate, '%Y-%m-%d %H:%i:%s'), t.transferId,
                COALESCE((SELECT p.name FROM transferParticipant tp JOIN participant p ON p.participantId = tp.participantId
                   JOIN transferParticipantRoleType r ON r.transferParticipantRoleTypeId = tp.transferParticipantRoleTypeId
                  WHERE tp.transferId = t.transferId AND r.name = 'PAYER_DFSP' LIMIT 1), '?'),
                COALESCE((SELECT p.name FROM transferParticipant tp JOIN participant p ON p.participantId = tp.participantId
                   JOIN transferParticipantRoleType r ON r.transferParticipantRoleTypeId = tp.transferParticipantRoleTypeId
                  WHERE tp.transferId = t.transferId AND r.name = 'PAYEE_DFSP' LIMIT 1), '?'),
                CAST(t.amount AS CHAR), t.currencyId,
                COALESCE((SELECT tsc.transferStateId FROM transferStateChange tsc
                  WHERE tsc.transferId = t.transferId ORDER BY tsc.transferStateChangeId DESC LIMIT 1), '?')
           FROM transfer t
          WHERE t.transferId IN (SELECT tp.transferId FROM transferParticipant tp
                                   JOIN participant p ON p.participantId = tp.participantId
                                  WHERE p.name = ?)
          ORDER BY t.createdDate DESC LIMIT ?",
    )
    .bind(name)
    .bind(limit)
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    Ok(rows)
}

/// The latest currency conversions `name` took part in (as initiator or FXP): time, id,
/// initiator, FXP, source, target, state.
pub(super) async fn last_conversions(
    database: &Database,
    name: &str,
    limit: u32,
) -> Result<Vec<TransferLine>> {
    let url = store::database_url(&database.database_url, &database.central_ledger_database)?;
    let pool = store::connect(&url, 1, 5_000).await?;
    let rows: Vec<TransferLine> = sqlx::query_as(
        "SELECT DATE_FORMAT(f.createdDate, '%Y-%m-%d %H:%i:%s'), f.commitRequestId,
                COALESCE((SELECT p.name FROM fxTransferParticipant fp JOIN participant p ON p.participantId = fp.participantId
                  WHERE fp.commitRequestId = f.commitRequestId AND fp.transferParticipantRoleTypeId = 6 LIMIT 1), '?'),
                COALESCE((SELECT p.name FROM fxTransferParticipant fp JOIN participant p ON p.participantId = fp.participantId
                  WHERE fp.commitRequestId = f.commitRequestId AND fp.transferParticipantRoleTypeId = 7 LIMIT 1), '?'),
                CAST(CONCAT(f.sourceAmount, ' ', f.sourceCurrency) AS CHAR),
                CAST(CONCAT(f.targetAmount, ' ', f.targetCurrency) AS CHAR),
                COALESCE((SELECT s.transferStateId FROM fxTransferStateChange s
                  WHERE s.commitRequestId = f.commitRequestId ORDER BY s.fxTransferStateChangeId DESC LIMIT 1), '?')
           FROM fxTransfer f
          WHERE f.commitRequestId IN (SELECT fp.commitRequestId FROM fxTransferParticipant fp
                                        JOIN participant p ON p.participantId = fp.participantId
                                       WHERE p.name = ?)
          ORDER BY f.createdDate DESC LIMIT ?",
    )
    .bind(name)
    .bind(limit)
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    Ok(rows)
}

pub(super) fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("?")
}

pub(super) fn number(value: &Value, pointer: &str) -> String {
    match value.pointer(pointer) {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "?".to_string(),
    }
}

/// `mojaloop debug-participant`.
pub fn debug_participant(args: DebugArgs) -> Result<Verdict> {
    let args = DebugArgs {
        switch: args.switch.secured(),
        ..args
    };
    runtime()?.block_on(async move {
        let http = args.switch.http()?;
        let ledger = args.switch.central_ledger_url.trim_end_matches('/');
        let name = args.dfsp.as_str();
        heading(&format!("Participant {name}"));
        let (status, participant) = http.get(&format!("{ledger}/participants/{name}")).await?;
        if status != 200 {
            println!("❌ not registered in the central ledger ({status}: {participant})");
            println!("   Provision it: mojaloop provision --dfsp {name}");
            return Ok(Verdict::Negative);
        }
        let active = participant.get("isActive").and_then(Value::as_u64) == Some(1);
        println!(
            "Status: {} (created {})",
            if active { "active" } else { "INACTIVE" },
            text(&participant, "/created")
        );

        println!();
        println!("Accounts and positions:");
        let accounts = http
            .get_ok(&format!("{ledger}/participants/{name}/accounts"))
            .await?;
        for account in accounts.as_array().into_iter().flatten() {
            let id = number(account, "/id");
            let kind = text(account, "/ledgerAccountType");
            let currency = text(account, "/currency");
            let reserved = number(account, "/reservedValue");
            println!(
                "  {kind:<12} {currency}  account {id:<4} value {:>16}  reserved {reserved:>10}  {}",
                number(account, "/value"),
                if account.get("isActive").and_then(Value::as_u64) == Some(1) {
                    "active"
                } else {
                    "INACTIVE"
                }
            );
        }

        println!();
        println!("Limits:");
        let limits = http
            .get_ok(&format!("{ledger}/participants/{name}/limits"))
            .await?;
        let mut any_limit = false;
        for limit in limits.as_array().into_iter().flatten() {
            any_limit = true;
            println!(
                "  {} {} {} (alarm at {}%)",
                text(limit, "/limit/type"),
                text(limit, "/currency"),
                number(limit, "/limit/value"),
                number(limit, "/limit/alarmPercentage")
            );
        }
        if !any_limit {
            println!("  ❌ none: the DFSP cannot send transfers");
        }

        println!();
        let endpoints = http
            .get_ok(&format!("{ledger}/participants/{name}/endpoints"))
            .await?;
        let endpoints = endpoints.as_array().cloned().unwrap_or_default();
        println!("Endpoints ({}):", endpoints.len());
        for endpoint in &endpoints {
            println!("  {:<45} {}", text(endpoint, "/type"), text(endpoint, "/value"));
        }

        println!();
        match layout::member(name, layout::DFSPS_MAX) {
            Some(member) if member.msisdns.is_empty() => match &member.fxp {
                Some(fxp) => println!(
                    "Oracle registrations: none (an FXP owns no MSISDNs; it converts {} to {} at {})",
                    fxp.source_currency, fxp.target_currency, fxp.rate
                ),
                None => println!("Oracle registrations: none (it owns no MSISDNs)"),
            },
            Some(member) => {
                let registered =
                    oracle_registrations(&http, &args.switch.oracle_url, &member).await;
                match registered {
                    Ok(count) => println!(
                        "Oracle registrations: {count} of {} MSISDNs ({} … {})",
                        member.msisdns.len(),
                        member.msisdns.first().map(String::as_str).unwrap_or(""),
                        member.msisdns.last().map(String::as_str).unwrap_or("")
                    ),
                    Err(error) => println!("Oracle registrations: not readable ({error:#})"),
                }
            }
            None => println!("Oracle registrations: {name} is outside the perffsp layout; not checked"),
        }

        println!();
        println!("Last transfers:");
        match last_transfers(&args.database, name, args.transfers).await {
            Ok(rows) if rows.is_empty() => println!("  none"),
            Ok(rows) => {
                for (at, id, payer, payee, amount, currency, state) in rows {
                    println!("  {at}  {id}  {payer} → {payee}  {amount} {currency}  {state}");
                }
            }
            Err(error) => println!("  not readable ({error:#})"),
        }
        match last_conversions(&args.database, name, args.transfers).await {
            Ok(rows) if rows.is_empty() => {}
            Ok(rows) => {
                println!();
                println!("Last currency conversions:");
                for (at, id, initiator, fxp, source, target, state) in rows {
                    println!("  {at}  {id}  {initiator} → {fxp}  {source} → {target}  {state}");
                }
            }
            Err(error) => println!("Last currency conversions: not readable ({error:#})"),
        }
        Ok(Verdict::Positive)
    })
}
