//! Benchmark: create a job for 100,000 things through the store on rusqlite
//! (the request queues the group's things and releases the first batch,
//! sweeper passes the rest: every execution, counted, with notify and
//! notify-next for each thing in the outbox), next to the limit measured in the same run:
//! SQLite's bulk insert of as many execution-shaped rows in one transaction.
//!
//! `cargo run --release -p fleetjobs-store --example bench_create_job [things]`

mod common;

use std::time::Instant;

use fleetjobs_core::job::CreateJob;
use fleetjobs_store::backend::native::NativeSql;
use fleetjobs_store::{params, Sql, SweepOptions};

fn main() {
    let things: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("the number of things"))
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let now = common::noon();
    let store = common::store_with_fleet(&dir, things);

    let limit = bulk_insert_rate(&dir, things);

    let request: CreateJob = serde_json::from_value(serde_json::json!({
        "targets": {"thingGroupNames": ["fleet"]},
        "document": {"action": "updateFirmware", "params": {"version": "2.1.5",
            "url": "https://firmware.example.com/thermostat-v2.1.5.bin"}}
    }))
    .unwrap();
    let started = Instant::now();
    store.create_job(request, "bench".into(), now).unwrap();
    let request_seconds = started.elapsed().as_secs_f64();
    // The request releases the first batch; sweeper passes the rest.
    let sweep = SweepOptions {
        release_batches: usize::MAX,
        release_backlog: usize::MAX,
        ..SweepOptions::default()
    };
    while store.existing_job("bench").unwrap().rollout.pending_targets > 0 {
        store.sweep(now, &sweep).unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("the create request itself: {request_seconds:.3} s");
    let outbox = store.outbox_len().unwrap();
    assert_eq!(outbox, 2 * things as u64);

    let rate = things as f64 / seconds;
    println!("create job for {things} things (queued, counted, {outbox} notifications in the outbox): {seconds:.2} s");
    println!("  {rate:.0} executions/s = {:.2} of SQLite's bulk insert rate measured now ({limit:.0} rows/s)", rate / limit);
}

/// Rows/s of a plain prepared insert of execution-shaped rows in one transaction.
fn bulk_insert_rate(dir: &tempfile::TempDir, rows: usize) -> f64 {
    let sql = NativeSql::open(dir.path().join("limit.db")).unwrap();
    sql.execute(
        "CREATE TABLE rows (job_id TEXT, thing_name TEXT, n INTEGER, status TEXT,
         queued_at INTEGER, PRIMARY KEY (job_id, thing_name, n))",
        &[],
    )
    .unwrap();
    sql.execute(
        "CREATE INDEX rows_by_thing ON rows (thing_name, status, queued_at)",
        &[],
    )
    .unwrap();
    let started = Instant::now();
    sql.execute("BEGIN", &[]).unwrap();
    for i in 0..rows {
        sql.execute(
            "INSERT INTO rows VALUES (?1, ?2, 1, 'QUEUED', ?3)",
            params!["bench", format!("thing-{i:06}"), i as i64],
        )
        .unwrap();
    }
    sql.execute("COMMIT", &[]).unwrap();
    rows as f64 / started.elapsed().as_secs_f64()
}
