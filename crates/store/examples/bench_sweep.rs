//! Benchmark: one sweeper pass over a database where nothing is due, small
//! against large, measured in the same run. A pass should cost what is due,
//! not what exists: the figure is the ratio of the two median pass times
//! (1.0 is ideal).
//! - `executions`: one job whose executions are all idle (QUEUED), at 1,000
//!   and at 1,000,000 executions;
//! - `jobs`: that many active CONTINUOUS jobs with nothing to do, at 10 and
//!   at 10,000 jobs.
//!
//! `cargo run --release -p fleetjobs-store --example bench_sweep [executions|jobs] [small] [large]`

mod common;

use std::time::{Duration, Instant};

use fleetjobs_core::job::CreateJob;
use fleetjobs_core::Timestamp;
use fleetjobs_store::backend::native::NativeSql;
use fleetjobs_store::{Sql, Store, SweepOptions};

const PASSES: usize = 30;

fn create(store: &Store<NativeSql>, job_id: String, body: serde_json::Value, now: Timestamp) {
    let request: CreateJob = serde_json::from_value(body).unwrap();
    store.create_job(request, job_id, now).unwrap();
}

/// One job with `executions` idle executions.
fn idle_executions(store: &Store<NativeSql>, now: Timestamp) {
    let body = serde_json::json!({
        "targets": {"thingGroupNames": ["fleet"]},
        "document": {"action": "updateFirmware"},
        "timeoutConfig": {"inProgressTimeoutInMinutes": 60}
    });
    create(store, "idle".into(), body, now);
}

/// `jobs` CONTINUOUS jobs for the group (of one thing), each done with it.
fn idle_jobs(store: &Store<NativeSql>, jobs: usize, now: Timestamp) {
    for i in 0..jobs {
        let body = serde_json::json!({
            "targets": {"thingGroupNames": ["fleet"]},
            "document": {"action": "configure", "n": i},
            "targetSelection": "CONTINUOUS",
        });
        create(store, format!("continuous-{i:06}"), body, now);
    }
}

/// Median time of a pass at each of the next minutes, once what creating
/// made due has been swept.
fn median_idle_pass(store: &Store<NativeSql>, now: Timestamp) -> Duration {
    // The notifications went out long ago.
    store.sql().execute("DELETE FROM outbox", &[]).unwrap();
    let options = SweepOptions::default();
    while !store.due_job_ids(now, 1).unwrap().is_empty() {
        store.sweep(now, &options).unwrap();
    }
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

fn median_pass(kind: &str, size: usize) -> Duration {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let now = common::noon();
    match kind {
        "jobs" => {
            let store = common::store_with_fleet(&dir, 1);
            idle_jobs(&store, size, now);
            median_idle_pass(&store, now)
        }
        _ => {
            let store = common::store_with_fleet(&dir, size);
            idle_executions(&store, now);
            median_idle_pass(&store, now)
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let kind = match args.peek().map(String::as_str) {
        Some("jobs") | Some("executions") => args.next().unwrap(),
        _ => "executions".to_owned(),
    };
    let (default_small, default_large) = match kind.as_str() {
        "jobs" => (10, 10_000),
        _ => (1_000, 1_000_000),
    };
    let mut sizes = args.map(|n| n.parse::<usize>().expect("a number"));
    let small = sizes.next().unwrap_or(default_small);
    let large = sizes.next().unwrap_or(default_large);
    let small_pass = median_pass(&kind, small);
    let large_pass = median_pass(&kind, large);
    println!("sweeper pass over idle {kind} (median of {PASSES}):");
    println!("  {small} {kind}: {:.3} ms", small_pass.as_secs_f64() * 1e3);
    println!("  {large} {kind}: {:.3} ms", large_pass.as_secs_f64() * 1e3);
    println!(
        "  ratio {:.2} (1.00: a pass costs what is due, not what exists)",
        large_pass.as_secs_f64() / small_pass.as_secs_f64()
    );
}
