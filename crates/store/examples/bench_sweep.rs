//! Benchmark: one sweeper pass over a database whose executions are all idle
//! (QUEUED, nothing due), at 1,000 and at 1,000,000 executions. A pass should
//! cost what is due, not what exists: the figure is the ratio of the two
//! median pass times, measured in the same run (1.0 is ideal).
//!
//! `cargo run --release -p fleetjobs-store --example bench_sweep [small] [large]`

mod common;

use std::time::{Duration, Instant};

use fleetjobs_core::job::CreateJob;
use fleetjobs_store::{Sql, SweepOptions};

const PASSES: usize = 30;

/// Median pass time over a store with `executions` idle executions.
fn median_pass(executions: usize) -> Duration {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let now = common::noon();
    let store = common::store_with_fleet(&dir, executions);
    let request: CreateJob = serde_json::from_value(serde_json::json!({
        "targets": {"thingGroupNames": ["fleet"]},
        "document": {"action": "updateFirmware"},
        "timeoutConfig": {"inProgressTimeoutInMinutes": 60}
    }))
    .unwrap();
    store.create_job(request, "idle".into(), now).unwrap();
    // The notifications went out long ago.
    store.sql().execute("DELETE FROM outbox", &[]).unwrap();

    let options = SweepOptions::default();
    let mut times: Vec<Duration> = (1..=PASSES)
        .map(|pass| {
            let at = now.plus_minutes(pass as i64);
            let started = Instant::now();
            let report = store.sweep(at, &options).unwrap();
            let elapsed = started.elapsed();
            assert_eq!(
                report.timed_out + report.completed + report.aborted,
                0,
                "idle"
            );
            elapsed
        })
        .collect();
    times.sort();
    times[PASSES / 2]
}

fn main() {
    let mut sizes = std::env::args()
        .skip(1)
        .map(|n| n.parse::<usize>().expect("a number of executions"));
    let small = sizes.next().unwrap_or(1_000);
    let large = sizes.next().unwrap_or(1_000_000);
    let small_pass = median_pass(small);
    let large_pass = median_pass(large);
    println!("sweeper pass over idle executions (median of {PASSES}):");
    println!(
        "  {small} executions: {:.3} ms",
        small_pass.as_secs_f64() * 1e3
    );
    println!(
        "  {large} executions: {:.3} ms",
        large_pass.as_secs_f64() * 1e3
    );
    println!(
        "  ratio {:.2} (1.00: a pass costs what is due, not what exists)",
        large_pass.as_secs_f64() / small_pass.as_secs_f64()
    );
}
