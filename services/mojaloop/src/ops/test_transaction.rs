//! One payment end to end through the simulators (`mojaloop test-transaction`).

use super::*;

#[derive(Debug, Args)]
pub struct TestTransactionArgs {
    /// Payer DFSP (perffsp-N).
    #[arg(long, default_value = "perffsp-1")]
    from: String,
    /// Payee: a DFSP (perffsp-N, paying its test customer) or an MSISDN.
    #[arg(long, default_value = "perffsp-5")]
    to: String,
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
    }
}

pub(super) fn failed_phase(error: &PaymentError) -> Option<Phase> {
    match error {
        PaymentError::Fspiop { phase, .. }
        | PaymentError::Request { phase, .. }
        | PaymentError::Timeout { phase, .. }
        | PaymentError::InvalidCallback { phase, .. } => Some(*phase),
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
        PaymentError::UnknownPayer(name) => format!("the simulator does not run {name}"),
        PaymentError::Simulator(detail) => detail.clone(),
    }
}

/// `mojaloop test-transaction`.
pub fn test_transaction(args: TestTransactionArgs) -> Result<Verdict> {
    let count = args.layout.dfsps;
    layout::check_count(count).map_err(anyhow::Error::msg)?;
    let payer = dfsp_index(&args.from, count)?;
    let (payee_msisdn, payee_label) = match layout::index_of(&args.to) {
        Some(index) => (layout::test_msisdn(index), args.to.clone()),
        None if !args.to.is_empty() && args.to.bytes().all(|b| b.is_ascii_digit()) => {
            (args.to.clone(), "owner to be looked up".to_string())
        }
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
            ..Default::default()
        };
        let outcome = sim
            .pay(&args.from, &payee_msisdn, &args.amount, &options)
            .await;
        Ok(print_outcome(&outcome, &args.database).await)
    })
}

/// Prints each phase and the status line; the verdict follows the payment.
pub(super) async fn print_outcome(
    outcome: &Result<PaymentReport, PaymentError>,
    database: &Database,
) -> Verdict {
    match outcome {
        Ok(report) => {
            println!("[✓] {}: {}", phase_label(Phase::Lookup), ms(report.lookup));
            println!("[✓] {}: {}", phase_label(Phase::Quote), ms(report.quote));
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
            println!();
            println!("Total time: {}", ms(report.total()));
            println!("Status: SUCCESS");
            Verdict::Positive
        }
        Err(error) => {
            let failed = failed_phase(error);
            for phase in [Phase::Lookup, Phase::Quote, Phase::Transfer] {
                match failed {
                    Some(at) if phase < at => println!("[✓] {}", phase_label(phase)),
                    Some(at) if phase == at => {
                        println!("[✗] {}: {}", phase_label(phase), describe(error))
                    }
                    _ => {}
                }
            }
            if failed.is_none() {
                println!("[✗] {}", describe(error));
            }
            println!();
            println!("Status: FAILED ({})", describe(error));
            Verdict::Negative
        }
    }
}
