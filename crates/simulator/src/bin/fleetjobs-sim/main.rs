//! `fleetjobs-sim`: simulated AWS IoT Jobs devices, and a view of a job's progress.
//!
//! - `run` starts a [`Fleet`](fleetjobs_simulator::Fleet) of devices that run
//!   the jobs they are handed (all succeed by default; shares of the fleet can
//!   fail, reject, hang, connect late or run slowly) and prints a summary line
//!   every second until killed.
//! - `commands` connects devices that answer commands by one behaviour
//!   (succeed, fail, reject, progress, ignore, late), with a summary line
//!   every second until killed.
//! - `watch` polls the control plane for one job and redraws a progress bar
//!   per execution status until the job is COMPLETED or CANCELED.

mod commands;
mod run;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "fleetjobs-sim",
    about = "Simulated AWS IoT Jobs devices over MQTT"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a fleet of simulated devices until killed, printing a summary line every second.
    Run(run::Args),
    /// Run devices answering commands (succeed, fail, reject, progress,
    /// ignore, late) until killed, printing a summary line every second.
    Commands(commands::Args),
    /// Draw a job's progress per execution status until the job is COMPLETED or CANCELED.
    Watch(watch::Args),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(args) => run::run(args),
        Command::Watch(args) => watch::watch(args),
        Command::Commands(args) => commands::run(args),
    }
}
