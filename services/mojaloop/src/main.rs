//! `mojaloop`: the switch's front door. It runs services (`serve`), prepares databases
//! (`migrate`) and carries the protocol tools for DFSP integrators (`jws`, `ilp`).

mod serve;
mod tools;
mod up;

use std::process::ExitCode;

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
    /// Run one service of the switch.
    #[command(subcommand)]
    Serve(serve::ServiceCommand),
    /// Create the databases if missing and apply the migrations.
    Migrate(serve::MigrateArgs),
    /// Sign and verify FSPIOP requests (the FSPIOP-Signature header), as Mojaloop's SDK does.
    #[command(subcommand)]
    Jws(tools::JwsCommand),
    /// Build, decode and check ILP packets, conditions and fulfilments, as a payee DFSP does.
    #[command(subcommand)]
    Ilp(tools::IlpCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Up(args) => up::up(args),
        Command::Serve(service) => serve::serve(service),
        Command::Migrate(args) => serve::migrate(args),
        Command::Jws(command) => tools::run_jws(command),
        Command::Ilp(command) => tools::run_ilp(command),
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
