//! `fleetjobs-bench`: the benchmarks of README.md#benchmarks that need the whole stack.
//!
//! Each subcommand measures one figure and, in the same run on the same
//! machine, the limit it is compared with: the machines are shared and noisy,
//! so only the ratio carries from one run to the next. It prints one markdown
//! table row, `| benchmark | figure | limit | ratio |`, on stdout (progress goes
//! to stderr); `scripts/bench.sh` builds everything, runs them and prints the
//! table.

mod commands;
mod host;
mod host_overhead;
mod http;
mod latency;
mod mqtt;
mod notify;
mod postgres;
mod replicas;
mod rss;
mod sqlite;
mod sqlite_interface;
mod updates;

use std::fmt;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Parser)]
#[command(
    name = "fleetjobs-bench",
    about = "fleetjobs benchmarks: one markdown table row per run"
)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Device status updates through the whole stack, vs the broker's QoS1
    /// request/reply rate and SQLite's single-commit rate (with
    /// `--database-url`: on PostgreSQL with `--hosts` hosts, vs PostgreSQL's).
    Updates(updates::Args),
    /// Command round trips (HTTP send → device → response committed), vs
    /// the broker's QoS1 request/reply rate.
    Commands(commands::Args),
    /// Create a job for a large thing group and notify every thing, vs
    /// SQLite's bulk insert rate and the broker's one-way QoS1 rate (with
    /// `--database-url`: on PostgreSQL with `--hosts` hosts, vs PostgreSQL's).
    Notify(notify::Args),
    /// `fleetjobs up` vs `wasmtime serve` on the same trivial component.
    HostOverhead(host_overhead::Args),
    /// A guest's write transactions through the host's SQLite interface vs
    /// rusqlite doing the same directly.
    SqliteInterface(sqlite_interface::Args),
    /// The host's RSS after many distinct devices spoke once, and after they
    /// went quiet, vs at start.
    Rss(rss::Args),
}

/// One row of the table.
pub struct Row {
    pub benchmark: String,
    pub figure: String,
    pub limit: String,
    /// The figure over the limit; each benchmark's text gives its goal.
    pub ratio: f64,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "| {} | {} | {} | {:.2} |",
            self.benchmark, self.figure, self.limit, self.ratio
        )
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let (benchmark, result) = match cli.bench {
        Bench::Updates(args) => (
            updates::benchmark(&args),
            runtime.block_on(updates::run(args)),
        ),
        Bench::Notify(args) => (
            notify::benchmark(&args),
            runtime.block_on(notify::run(args)),
        ),
        Bench::Commands(args) => (
            commands::BENCHMARK.to_owned(),
            runtime.block_on(commands::run(args)),
        ),
        Bench::HostOverhead(args) => (
            host_overhead::BENCHMARK.to_owned(),
            runtime.block_on(host_overhead::run(args)),
        ),
        Bench::Rss(args) => (rss::BENCHMARK.to_owned(), runtime.block_on(rss::run(args))),
        Bench::SqliteInterface(args) => (
            sqlite_interface::BENCHMARK.to_owned(),
            runtime.block_on(sqlite_interface::run(args)),
        ),
    };
    // Stop the clients still polling before the children they talk to go.
    runtime.shutdown_background();
    match result {
        Ok(row) => {
            println!("{row}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            // The table still gets its row, with the reason on one line.
            let reason = error
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            println!("| {benchmark} | not measured: {reason} | | |");
            ExitCode::FAILURE
        }
    }
}

/// `value` with thousands separators, rounded: tables are read by people.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(22_700.4), "22,700");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }

    #[test]
    fn a_row_is_a_markdown_table_row() {
        let row = Row {
            benchmark: "b".into(),
            figure: "f".into(),
            limit: "l".into(),
            ratio: 0.456,
        };
        assert_eq!(row.to_string(), "| b | f | l | 0.46 |");
    }
}
