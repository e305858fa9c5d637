//! `mojaloop`: the switch's front door. It runs the whole switch (`up`) or one service
//! (`serve`), prepares databases (`migrate`), carries the operator commands for a running
//! switch (`sim`, `provision`, `verify-participants`, `test-transaction`, `validate`,
//! `debug-participant`, `settlement`) and the protocol tools for DFSP integrators (`jws`, `ilp`).

mod certs;
mod localdb;
mod ops;
mod serve;
mod settlement;
mod tools;
mod up;

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: under load glibc's allocator took about a quarter of the
/// switch's CPU time (perf/README.md, "Where the time goes").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "mojaloop", version, about = "The Mojaloop switch, reimplemented in Rust", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole switch in one process (every service on its usual port).
    Up(up::UpArgs),
    /// Run the simulated DFSPs perffsp-1 … perffsp-N on their own (payee answers and a payer API).
    Sim(ops::SimArgs),
    /// Onboard the simulated DFSPs: hub accounts, participants, limits, funds, callback
    /// endpoints and MSISDNs in the oracle. Safe to run again.
    Provision(ops::ProvisionArgs),
    /// Check that every DFSP is onboarded and its 100 MSISDNs are registered.
    VerifyParticipants(ops::VerifyArgs),
    /// Send one payment between simulated DFSPs and show each phase.
    TestTransaction(ops::TestTransactionArgs),
    /// Check the services, the DFSPs, the security layers and a few end-to-end payments.
    Validate(ops::ValidateArgs),
    /// Show what the switch holds for one DFSP: accounts, positions, limits, endpoints, oracle
    /// registrations and last transfers.
    DebugParticipant(ops::DebugArgs),
    /// Settle what the DFSPs owe each other: close windows, create settlements, walk them to
    /// SETTLED (positions are reset as DFSPs settle).
    #[command(subcommand)]
    Settlement(settlement::SettlementCommand),
    /// Load the switch through the simulated DFSPs and report per-phase latency (perf/).
    #[command(subcommand)]
    Perf(perf::cli::PerfCommand),
    /// Ask a health URL; exit 0 when it answers 2xx (container health checks).
    Health(ops::HealthArgs),
    /// Run one service of the switch.
    #[command(subcommand)]
    Serve(serve::ServiceCommand),
    /// Create the databases if missing and apply the migrations.
    Migrate(serve::MigrateArgs),
    /// Create the switch's Kafka topics with a partition count (the compose and Helm topic
    /// jobs), and show what the broker lists for each.
    KafkaTopics(serve::KafkaTopicsArgs),
    /// Sign and verify FSPIOP requests (the FSPIOP-Signature header), as Mojaloop's SDK does.
    #[command(subcommand)]
    Jws(tools::JwsCommand),
    /// Build, decode and check ILP packets, conditions and fulfilments, as a payee DFSP does.
    #[command(subcommand)]
    Ilp(tools::IlpCommand),
    /// Create a local CA and certificates for the hub and perffsp-1 … perffsp-N (mutual TLS
    /// for tests and local runs: `mojaloop up --tls-dir DIR`).
    Certs(certs::CertsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Up(args) => up::up(args),
        Command::Sim(args) => ops::sim(args),
        Command::Health(args) => ops::health(args),
        Command::Provision(args) => ops::provision(args),
        Command::VerifyParticipants(args) => ops::verify_participants(args),
        Command::TestTransaction(args) => ops::test_transaction(args),
        Command::Validate(args) => ops::validate(args),
        Command::DebugParticipant(args) => ops::debug_participant(args),
        Command::Perf(command) => perf::cli::execute(command).map(|passed| {
            if passed {
                tools::Verdict::Positive
            } else {
                tools::Verdict::Negative
            }
        }),
        Command::Settlement(command) => settlement::run(command),
        Command::Serve(service) => serve::serve(service),
        Command::Migrate(args) => serve::migrate(args),
        Command::KafkaTopics(args) => serve::kafka_topics(args),
        Command::Jws(command) => tools::run_jws(command),
        Command::Ilp(command) => tools::run_ilp(command),
        Command::Certs(args) => certs::certs(args),
    };
    match outcome {
        Ok(tools::Verdict::Positive) => ExitCode::SUCCESS,
        Ok(tools::Verdict::Negative) => ExitCode::from(1),
        Err(error) => {
            eprintln!("mojaloop: {error:#}");
            ExitCode::from(2)
        }
    }
}
