//! `fleetjobs up | build | check`: the command line, like `spin up` / `spin build`.
//!
//! One module per command: `up` runs the application, `build` runs the
//! components' build commands, `check` validates `spin.toml`.

mod build;
mod check;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use build::build;
use check::check;
use up::{up, UpArgs};

#[derive(Parser)]
#[command(
    name = "fleetjobs",
    version,
    about = "Runs a Spin application (spin.toml) on wasmtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the application: HTTP, cron and MQTT triggers.
    Up(UpArgs),
    /// Run each component's build command, like `spin build`.
    Build {
        #[arg(long = "from", short = 'f', default_value = "spin.toml")]
        manifest: PathBuf,
    },
    /// Validate spin.toml and print what it would run.
    Check {
        #[arg(long = "from", short = 'f', default_value = "spin.toml")]
        manifest: PathBuf,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Up(args) => tokio::runtime::Runtime::new()
            .map_err(|e| e.to_string())
            .and_then(|runtime| runtime.block_on(up(args))),
        Command::Build { manifest } => build(&manifest),
        Command::Check { manifest } => check(&manifest),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
