//! One payment end to end through the simulators (`mojaloop test-transaction`), paid by the
//! payer or, with `--request-to-pay`, requested by the payee; with `--bulk N`, a bulk payment
//! to N payees across the layout's payee DFSPs.

use super::*;

#[derive(Debug, Args)]
pub struct TestTransactionArgs {
    /// Payer DFSP (perffsp-N); with --request-to-pay, the payee DFSP that asks to be paid.
    #[arg(long, default_value = "perffsp-1")]
    from: String,
    /// Payee: a DFSP (perffsp-N, paying its test customer; perffsp-eur, the payee in EUR,
    /// paid through the FXP perffsp-fxp) or an MSISDN. With --request-to-pay, the payer asked:
    /// a DFSP (its test customer) or an MSISDN, looked up by the payee.
    #[arg(long, default_value = "perffsp-5")]
    to: String,
    /// The payee asks to be paid (FSPIOP request to pay): it looks the payer up and sends
    /// POST /transactionRequests; the payer quotes, has the payee's customer authorize with
    /// an OTP, and transfers.
    #[arg(long)]
    request_to_pay: bool,
    /// With --request-to-pay: no OTP authorization (the payer transfers after the quote).
    #[arg(long, requires = "request_to_pay")]
    no_otp: bool,
    /// A bulk payment: pay N payees (the payee DFSPs' customers, round robin over perffsp-5 …
    /// perffsp-8 of the guide's layout) with one bulk quote and one bulk transfer per payee
    /// DFSP (at most 1000 payees per payee DFSP). Exits non-zero when any transfer failed.
    #[arg(long, value_name = "N", conflicts_with_all = ["request_to_pay", "to"])]
    bulk: Option<usize>,
    /// With --bulk: no bulk quote on the wire (the simulator makes each payee DFSP's terms
    /// with its secret, as it would quote them): the switch's bulk transfers alone.
    #[arg(long, requires = "bulk")]
    skip_bulk_quote: bool,
    /// Amount in the payer's currency (USD).
    #[arg(long, default_value = "100")]
    amount: String,
    /// The ILP packet version the simulated payee makes (v4, FSPIOP 2.0; v1, what Mojaloop's
    /// SDK makes for FSPIOP 1.x). The switch accepts both by default.
    #[arg(long, default_value = "v4", value_parser = ["v4", "v1"])]
    ilp_version: String,
    #[command(flatten)]
    layout: Layout,
    #[command(flatten)]
    sim: Sim,
    #[command(flatten)]
    database: Database,
    #[command(flatten)]
    switch: Switch,
}

/// Where a committed transfer landed for settlement: its window and the window's state.
pub(super) async fn settlement_window(
    database: &Database,
    transfer_id: &str,
) -> Result<(u64, String)> {
    let url = store::database_url(&database.database_url, &database.central_ledger_database)?;
    let pool = store::connect(&url, 1, 5_000).await?;
    let row: Option<(Option<u64>, Option<String>)> = sqlx::query_as(
        "SELECT tf.settlementWindowId,
                (SELECT swsc.settlementWindowStateId FROM settlementWindowStateChange swsc
                  WHERE swsc.settlementWindowId = tf.settlementWindowId
                  ORDER BY swsc.settlementWindowStateChangeId DESC LIMIT 1)
           FROM transferFulfilment tf WHERE tf.transferId = ?",
    )
    .bind(transfer_id)
    .fetch_optional(&pool)
    .await?;
    pool.close().await;
    match row {
        Some((Some(window), state)) => Ok((window, state.unwrap_or_else(|| "?".into()))),
        Some((None, _)) => anyhow::bail!("the transfer has no settlement window"),
        None => anyhow::bail!("the transfer has no fulfilment record"),
    }
}

pub(super) fn ms(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}

pub(super) fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::Lookup => "Party Lookup",
        Phase::Quote => "Quote",
        Phase::Transfer => "Transfer",
        Phase::AnswerParty => "Payee party answer",
        Phase::AnswerQuote => "Payee quote answer",
        Phase::AnswerTransfer => "Payee transfer answer",
        Phase::FxQuote => "FX Quote",
        Phase::FxTransfer => "FX Transfer",
        Phase::AnswerFxQuote => "FXP quote answer",
        Phase::AnswerFxTransfer => "FXP transfer answer",
        Phase::TransactionRequest => "Transaction Request",
        Phase::Authorization => "Authorization",
        Phase::AnswerTransactionRequest => "Payer request answer",
        Phase::AnswerAuthorization => "Payee authorization answer",
        Phase::BulkQuote => "Bulk Quote",
        Phase::BulkTransfer => "Bulk Transfer",
        Phase::AnswerBulkQuote => "Payee bulk quote answer",
        Phase::AnswerBulkTransfer => "Payee bulk transfer answer",
    }
}

pub(super) fn failed_phase(error: &PaymentError) -> Option<Phase> {
    match error {
        PaymentError::Fspiop { phase, .. }
        | PaymentError::Request { phase, .. }
        | PaymentError::Timeout { phase, .. }
        | PaymentError::InvalidCallback { phase, .. }
        | PaymentError::Rejected { phase, .. } => Some(*phase),
        PaymentError::UnknownPayer(_) | PaymentError::Simulator(_) => None,
    }
}

/// How a failed payment is told: the FSPIOP error first.
pub(super) fn describe(error: &PaymentError) -> String {
    match error {
        PaymentError::Fspiop {
            code, description, ..
        } => format!("FSPIOP error {code}: {description}"),
        PaymentError::Timeout { timeout_ms, .. } => format!("no callback within {timeout_ms} ms"),
        PaymentError::Request { detail, .. } | PaymentError::InvalidCallback { detail, .. } => {
            detail.clone()
        }
        PaymentError::Rejected { detail, .. } => format!("rejected: {detail}"),
        PaymentError::UnknownPayer(name) => format!("the simulator does not run {name}"),
        PaymentError::Simulator(detail) => detail.clone(),
    }
}

/// The customer `to` names, and how to tell it: a DFSP's test customer, or an MSISDN whose
/// owner is looked up.
fn customer(to: &str) -> Option<(String, String)> {
    match layout::index_of(to) {
        Some(index) => Some((layout::test_msisdn(index), to.to_string())),
        None if !to.is_empty() && to.bytes().all(|b| b.is_ascii_digit()) => {
            Some((to.to_string(), "owner to be looked up".to_string()))
        }
        None => None,
    }
}

/// `mojaloop test-transaction`.
pub fn test_transaction(args: TestTransactionArgs) -> Result<Verdict> {
    let count = args.layout.dfsps;
    layout::check_count(count).map_err(anyhow::Error::msg)?;
    if args.request_to_pay {
        return request_to_pay(args);
    }
    if let Some(payees) = args.bulk {
        return bulk(args, payees);
    }
    let payer = dfsp_index(&args.from, count)?;
    let converts = args.to == layout::FX_PAYEE_NAME;
    let (payee_msisdn, payee_label) = match customer(&args.to) {
        Some(customer) => customer,
        None if converts => (layout::fx_test_msisdn(), args.to.clone()),
        None => anyhow::bail!("--to {} is neither perffsp-N nor an MSISDN", args.to),
    };
    let payer_msisdn = layout::test_msisdn(payer);
    runtime()?.block_on(async move {
        let sim = args.switch.simulator(&args.sim)?;
        heading("Transaction Test");
        println!("From: MSISDN {payer_msisdn} ({})", args.from);
        println!("To: MSISDN {payee_msisdn} ({payee_label})");
        println!("Amount: {} {}", args.amount, layout::CURRENCY);
        println!();
        let options = dfsp_sim::PayOptions {
            payer_msisdn: Some(payer_msisdn.clone()),
            ilp_version: fspiop::ilp::IlpVersion::from_name(&args.ilp_version),
            scenario: if converts {
                dfsp_sim::Scenario::Fx
            } else {
                dfsp_sim::Scenario::EndToEnd
            },
            ..Default::default()
        };
        let outcome = sim
            .pay(&args.from, &payee_msisdn, &args.amount, &options)
            .await;
        Ok(print_outcome(&outcome, &args.database, &args.from, converts).await)
    })
}

/// The positions (net debit: positive owes the hub) an FX payment moved: the payer's and the
/// FXP's in the source currency, the FXP's and the payee's in the target currency.
async fn fx_positions(
    database: &Database,
    report: &PaymentReport,
    payer: &str,
) -> Result<Vec<(String, String, String)>> {
    let url = store::database_url(&database.database_url, &database.central_ledger_database)?;
    let pool = store::connect(&url, 1, 5_000).await?;
    let mut rows = Vec::new();
    for (name, currency) in [
        (payer, &report.source_currency),
        (report.fxp.as_str(), &report.source_currency),
        (report.fxp.as_str(), &report.target_currency),
        (report.payee_fsp.as_str(), &report.target_currency),
    ] {
        rows.push((
            name.to_string(),
            currency.clone(),
            position(&pool, name, currency).await?,
        ));
    }
    let state: Option<(String,)> = sqlx::query_as(
        "SELECT transferStateId FROM fxTransferStateChange WHERE commitRequestId = ? ORDER BY fxTransferStateChangeId DESC LIMIT 1",
    )
    .bind(&report.commit_request_id)
    .fetch_optional(&pool)
    .await?;
    pool.close().await;
    rows.push((
        "FX transfer".to_string(),
        report.commit_request_id.clone(),
        state.map_or_else(|| "?".to_string(), |(s,)| s),
    ));
    Ok(rows)
}

/// The POSITION value of `name` in `currency` (`?` when it has none).
async fn position(pool: &sqlx::MySqlPool, name: &str, currency: &str) -> Result<String> {
    let value: Option<(String,)> = sqlx::query_as(
        "SELECT CAST(pp.value AS CHAR) FROM participantPosition pp
           JOIN participantCurrency pc ON pc.participantCurrencyId = pp.participantCurrencyId
           JOIN ledgerAccountType lat ON lat.ledgerAccountTypeId = pc.ledgerAccountTypeId AND lat.name = 'POSITION'
           JOIN participant p ON p.participantId = pc.participantId
          WHERE p.name = ? AND pc.currencyId = ?",
    )
    .bind(name)
    .bind(currency)
    .fetch_optional(pool)
    .await?;
    Ok(value.map_or_else(|| "?".to_string(), |(v,)| v))
}

/// The USD positions of `names`, in order.
async fn positions(database: &Database, names: &[&str]) -> Result<Vec<String>> {
    let url = store::database_url(&database.database_url, &database.central_ledger_database)?;
    let pool = store::connect(&url, 1, 5_000).await?;
    let mut values = Vec::with_capacity(names.len());
    for name in names {
        values.push(position(&pool, name, layout::CURRENCY).await?);
    }
    pool.close().await;
    Ok(values)
}

/// `mojaloop test-transaction --request-to-pay`: `--from` (the payee) asks `--to` (the payer)
/// to pay.
fn request_to_pay(args: TestTransactionArgs) -> Result<Verdict> {
    let count = args.layout.dfsps;
    let payee = dfsp_index(&args.from, count)?;
    let Some((payer_msisdn, payer_label)) = customer(&args.to) else {
        anyhow::bail!("--to {} is neither perffsp-N nor an MSISDN", args.to)
    };
    let payee_msisdn = layout::test_msisdn(payee);
    runtime()?.block_on(async move {
        let sim = args.switch.simulator(&args.sim)?;
        heading("Request to Pay Test");
        println!("Payee (requests): MSISDN {payee_msisdn} ({})", args.from);
        println!("Payer (asked): MSISDN {payer_msisdn} ({payer_label})");
        println!("Amount: {} {}", args.amount, layout::CURRENCY);
        println!(
            "Authorization: {}",
            if args.no_otp { "none" } else { "OTP" }
        );
        println!();
        let before = match layout::index_of(&args.to) {
            Some(_) => positions(&args.database, &[&args.to, &args.from])
                .await
                .ok(),
            None => None,
        };
        let options = dfsp_sim::RequestOptions {
            payee_msisdn: Some(payee_msisdn.clone()),
            without_otp: args.no_otp,
            ..Default::default()
        };
        let outcome = sim
            .request_to_pay(&args.from, &payer_msisdn, &args.amount, &options)
            .await;
        let report = match outcome {
            Ok(report) => report,
            Err(error) => {
                let order: &[Phase] = if args.no_otp {
                    &[
                        Phase::Lookup,
                        Phase::TransactionRequest,
                        Phase::Quote,
                        Phase::Transfer,
                    ]
                } else {
                    &[
                        Phase::Lookup,
                        Phase::TransactionRequest,
                        Phase::Quote,
                        Phase::Authorization,
                        Phase::Transfer,
                    ]
                };
                return Ok(print_failure(&error, order));
            }
        };
        println!(
            "[✓] {}: {} (payer at {})",
            phase_label(Phase::Lookup),
            ms(report.lookup),
            report.payer_fsp
        );
        println!(
            "[✓] {}: {} (RECEIVED, id {}, transactionId {})",
            phase_label(Phase::TransactionRequest),
            ms(report.transaction_request),
            report.transaction_request_id,
            report.transaction_id
        );
        println!(
            "[✓] {}: {} (by the payer, transactionRequestId carried)",
            phase_label(Phase::Quote),
            ms(report.quote)
        );
        if !args.no_otp {
            println!(
                "[✓] {}: {} (OTP entered at the payee, checked by the payer)",
                phase_label(Phase::Authorization),
                ms(report.authorization)
            );
        }
        if report.transfer_id.is_empty() {
            // The payer is not simulated here: its quote and transfer are not seen.
            println!(
                "[?] {}: not seen from the payee",
                phase_label(Phase::Transfer)
            );
            println!();
            println!(
                "Status: FAILED (the payer DFSP {} is not simulated by {})",
                report.payer_fsp,
                sim.base_url()
            );
            return Ok(Verdict::Negative);
        }
        println!(
            "[✓] {}: {} ({}, id {})",
            phase_label(Phase::Transfer),
            ms(report.transfer),
            report.transfer_state,
            report.transfer_id
        );
        match settlement_window(&args.database, &report.transfer_id).await {
            Ok((window, state)) => {
                println!("[✓] Settlement: recorded in settlement window {window} ({state})")
            }
            Err(error) => println!("[?] Settlement: window not readable ({error:#})"),
        }
        let names = [report.payer_fsp.as_str(), report.payee_fsp.as_str()];
        match positions(&args.database, &names).await {
            Ok(after) => {
                println!();
                println!("Positions (net debit; positive owes the hub), before → after:");
                for (index, name) in names.iter().enumerate() {
                    let was = before
                        .as_ref()
                        .and_then(|values| values.get(index))
                        .map_or("?", String::as_str);
                    let now = after.get(index).map_or("?", String::as_str);
                    println!("  {name} {}: {was} → {now}", layout::CURRENCY);
                }
            }
            Err(error) => println!("[?] Positions: not readable ({error:#})"),
        }
        println!();
        println!("Total time: {}", ms(report.total()));
        println!("Status: SUCCESS");
        Ok(Verdict::Positive)
    })
}

/// Each phase up to the one that failed, and the status line.
fn print_failure(error: &PaymentError, order: &[Phase]) -> Verdict {
    let failed = failed_phase(error);
    let at = failed.and_then(|phase| order.iter().position(|p| *p == phase));
    for (index, phase) in order.iter().enumerate() {
        match at {
            Some(at) if index < at => println!("[✓] {}", phase_label(*phase)),
            Some(at) if index == at => {
                println!("[✗] {}: {}", phase_label(*phase), describe(error))
            }
            _ => {}
        }
    }
    if at.is_none() {
        println!("[✗] {}", describe(error));
    }
    println!();
    println!("Status: FAILED ({})", describe(error));
    Verdict::Negative
}

/// The phases a payment runs, in order.
fn phases(converts: bool) -> &'static [Phase] {
    if converts {
        &[
            Phase::Lookup,
            Phase::FxQuote,
            Phase::Quote,
            Phase::FxTransfer,
            Phase::Transfer,
        ]
    } else {
        &[Phase::Lookup, Phase::Quote, Phase::Transfer]
    }
}

/// Prints each phase and the status line; the verdict follows the payment. `converts`: the
/// payment goes through an FXP.
pub(super) async fn print_outcome(
    outcome: &Result<PaymentReport, PaymentError>,
    database: &Database,
    payer: &str,
    converts: bool,
) -> Verdict {
    match outcome {
        Ok(report) => {
            println!("[✓] {}: {}", phase_label(Phase::Lookup), ms(report.lookup));
            if report.converted() {
                println!(
                    "[✓] {}: {} ({}: {} {} → {} {})",
                    phase_label(Phase::FxQuote),
                    ms(report.fx_quote),
                    report.fxp,
                    report.source_amount,
                    report.source_currency,
                    report.target_amount,
                    report.target_currency
                );
            }
            println!("[✓] {}: {}", phase_label(Phase::Quote), ms(report.quote));
            if report.converted() {
                println!(
                    "[✓] {}: {} (id {})",
                    phase_label(Phase::FxTransfer),
                    ms(report.fx_transfer),
                    report.commit_request_id
                );
            }
            println!(
                "[✓] {}: {} ({}, id {})",
                phase_label(Phase::Transfer),
                ms(report.transfer),
                report.transfer_state,
                report.transfer_id
            );
            match settlement_window(database, &report.transfer_id).await {
                Ok((window, state)) => {
                    println!("[✓] Settlement: recorded in settlement window {window} ({state})")
                }
                Err(error) => println!("[?] Settlement: window not readable ({error:#})"),
            }
            if report.converted() {
                match fx_positions(database, report, payer).await {
                    Ok(rows) => {
                        println!();
                        println!("Positions (net debit; positive owes the hub):");
                        for (name, currency, value) in rows {
                            println!("  {name} {currency}: {value}");
                        }
                    }
                    Err(error) => println!("[?] Positions: not readable ({error:#})"),
                }
            }
            println!();
            println!("Total time: {}", ms(report.total()));
            println!("Status: SUCCESS");
            Verdict::Positive
        }
        Err(error) => print_failure(error, phases(converts)),
    }
}

/// Failed transfers listed one by one, at most.
const BULK_FAILURES_LISTED_MAX: usize = 10;

/// `code ×count, …` of `errors`.
fn codes(errors: &std::collections::BTreeMap<String, u64>) -> String {
    errors
        .iter()
        .map(|(code, count)| format!("{code} ×{count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A position (`"100.0000"`, `?` unknown) as a number.
fn position_value(text: &str) -> Option<f64> {
    text.parse().ok()
}

/// One bulk's lines: its ids, both phases, the failed transfers. Whether every transfer of it
/// committed.
fn print_bulk(bulk: &dfsp_sim::BulkOutcome) -> bool {
    println!();
    println!("{} ({} payees):", bulk.payee_fsp, bulk.payees);
    println!(
        "  bulk quote {}, bulk transfer {}",
        bulk.bulk_quote_id,
        if bulk.bulk_transfer_id.is_empty() {
            "(none)"
        } else {
            bulk.bulk_transfer_id.as_str()
        }
    );
    let failed_in = bulk.error.as_ref().and_then(failed_phase);
    // Payees the payee DFSP refused at the quote, by code.
    let mut refused = std::collections::BTreeMap::new();
    for transfer in &bulk.transfers {
        if transfer.transfer_id.is_empty() && !transfer.error_code.is_empty() {
            *refused.entry(transfer.error_code.clone()).or_insert(0_u64) += 1;
        }
    }
    match (&bulk.error, failed_in) {
        (Some(error), Some(Phase::BulkQuote) | None) => {
            println!(
                "  [✗] {}: {}",
                phase_label(Phase::BulkQuote),
                describe(error)
            );
        }
        (None, _) if bulk.bulk_quote.is_zero() && bulk.quoted > 0 => println!(
            "  [–] {}: skipped ({} of {} payees' terms made by the simulated payee)",
            phase_label(Phase::BulkQuote),
            bulk.quoted,
            bulk.payees
        ),
        _ => println!(
            "  [{}] {}: {} ({} of {} quoted{})",
            if bulk.quoted == bulk.payees {
                "✓"
            } else {
                "✗"
            },
            phase_label(Phase::BulkQuote),
            ms(bulk.bulk_quote),
            bulk.quoted,
            bulk.payees,
            if refused.is_empty() {
                String::new()
            } else {
                format!("; refused: {}", codes(&refused))
            }
        ),
    }
    match (&bulk.error, failed_in) {
        (Some(error), Some(Phase::BulkTransfer)) => {
            println!(
                "  [✗] {}: {}",
                phase_label(Phase::BulkTransfer),
                describe(error)
            );
        }
        (Some(_), _) => {}
        (None, _) if bulk.bulk_transfer_id.is_empty() => println!(
            "  [✗] {}: not sent (nothing quoted)",
            phase_label(Phase::BulkTransfer)
        ),
        (None, _) => {
            let failed = bulk.quoted.saturating_sub(bulk.committed);
            println!(
                "  [{}] {}: {} ({}: {} committed, {} failed)",
                if failed == 0 { "✓" } else { "✗" },
                phase_label(Phase::BulkTransfer),
                ms(bulk.bulk_transfer),
                bulk.bulk_transfer_state,
                bulk.committed,
                failed
            );
        }
    }
    if let Some(error) = &bulk.error {
        println!(
            "      every transfer of this bulk failed with it ({})",
            error.code()
        );
        return false;
    }
    let failures: Vec<&dfsp_sim::IndividualOutcome> =
        bulk.transfers.iter().filter(|t| !t.committed).collect();
    for transfer in failures.iter().take(BULK_FAILURES_LISTED_MAX) {
        let id = if transfer.transfer_id.is_empty() {
            format!("quote {}", transfer.quote_id)
        } else {
            format!("transfer {}", transfer.transfer_id)
        };
        println!(
            "      ✗ MSISDN {} ({id}): {} {}",
            transfer.msisdn, transfer.error_code, transfer.error_description
        );
    }
    if failures.len() > BULK_FAILURES_LISTED_MAX {
        println!(
            "      … and {} more",
            failures.len() - BULK_FAILURES_LISTED_MAX
        );
    }
    bulk.error.is_none() && bulk.failed() == 0
}

/// `mojaloop test-transaction --bulk N`: `--from` pays N payees across the layout's payee
/// DFSPs, one bulk per payee DFSP.
fn bulk(args: TestTransactionArgs, count: usize) -> Result<Verdict> {
    let size = args.layout.dfsps;
    let payer = dfsp_index(&args.from, size)?;
    let payees: Vec<String> = (1..=size)
        .filter(|index| *index != payer && !layout::is_payer(*index, size))
        .map(layout::name)
        .collect();
    anyhow::ensure!(
        !payees.is_empty(),
        "a layout of {size} DFSPs has no payee DFSP for {} to pay",
        args.from
    );
    let most = fspiop::types::BULK_ITEMS_MAX * payees.len();
    anyhow::ensure!(
        (1..=most).contains(&count),
        "--bulk takes 1 to {most} payees ({} per payee DFSP, {} payee DFSPs)",
        fspiop::types::BULK_ITEMS_MAX,
        payees.len()
    );
    let payer_msisdn = layout::test_msisdn(payer);
    runtime()?.block_on(async move {
        let sim = args.switch.simulator(&args.sim)?;
        heading("Bulk Transaction Test");
        println!("From: MSISDN {payer_msisdn} ({})", args.from);
        println!(
            "To: {count} payees at {} (round robin; one bulk quote and one bulk transfer per payee DFSP)",
            payees.join(", ")
        );
        println!("Amount: {} {} each", args.amount, layout::CURRENCY);
        let names: Vec<&str> = std::iter::once(args.from.as_str())
            .chain(payees.iter().map(String::as_str))
            .collect();
        let before = positions(&args.database, &names).await.ok();
        let options = dfsp_sim::BulkOptions {
            payer_msisdn: Some(payer_msisdn.clone()),
            payee_fsps: payees.clone(),
            skip_bulk_quote: args.skip_bulk_quote,
            ..Default::default()
        };
        let report = match sim.bulk(&args.from, count, &args.amount, &options).await {
            Ok(report) => report,
            Err(error) => {
                println!();
                println!("[✗] {}", describe(&error));
                println!();
                println!("Status: FAILED ({})", describe(&error));
                return Ok(Verdict::Negative);
            }
        };
        let mut all_committed = true;
        for bulk in &report.bulks {
            all_committed &= print_bulk(bulk);
        }
        println!();
        if let Some(transfer) = report
            .bulks
            .iter()
            .flat_map(|b| b.transfers.iter())
            .find(|t| t.committed)
        {
            match settlement_window(&args.database, &transfer.transfer_id).await {
                Ok((window, state)) => println!(
                    "[✓] Settlement: recorded in settlement window {window} ({state})"
                ),
                Err(error) => println!("[?] Settlement: window not readable ({error:#})"),
            }
        }
        match positions(&args.database, &names).await {
            Ok(after) => {
                println!();
                println!("Positions (net debit; positive owes the hub), before → after:");
                let amount = position_value(&args.amount);
                for (index, name) in names.iter().enumerate() {
                    let was = before
                        .as_ref()
                        .and_then(|values| values.get(index))
                        .map_or("?", String::as_str);
                    let now = after.get(index).map_or("?", String::as_str);
                    // What the committed transfers should have moved it by.
                    let committed = if index == 0 {
                        Some(report.committed())
                    } else {
                        report
                            .bulks
                            .iter()
                            .find(|b| b.payee_fsp == *name)
                            .map(|b| b.committed)
                    };
                    let expected = match (committed, amount) {
                        (Some(n), Some(amount)) if index == 0 => Some(n as f64 * amount),
                        (Some(n), Some(amount)) => Some(-(n as f64) * amount),
                        _ => None,
                    };
                    let moved = position_value(now)
                        .zip(position_value(was))
                        .map(|(now, was)| now - was);
                    let check = match (moved, expected, committed) {
                        (Some(moved), Some(expected), Some(n)) => {
                            if (moved - expected).abs() < 1e-6 {
                                format!(" (✓ {n} committed × {})", args.amount)
                            } else {
                                format!(" (? {n} committed × {} would be {expected:+.4}; other payments at the same time?)", args.amount)
                            }
                        }
                        _ => String::new(),
                    };
                    println!("  {name} {}: {was} → {now}{check}", layout::CURRENCY);
                }
            }
            Err(error) => println!("[?] Positions: not readable ({error:#})"),
        }
        let (committed, failed) = (report.committed(), report.failed());
        println!();
        println!(
            "Transfers: {committed} committed, {failed} failed, of {count}"
        );
        if all_committed && failed == 0 && committed == count as u64 {
            println!("Status: SUCCESS");
            Ok(Verdict::Positive)
        } else {
            println!(
                "Status: FAILED ({failed} of {count} transfers failed: {})",
                codes(&report.errors_by_code())
            );
            Ok(Verdict::Negative)
        }
    })
}
