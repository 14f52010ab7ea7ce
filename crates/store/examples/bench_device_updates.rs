//! Benchmark: device updates through the store (each one unit of work: the
//! thing's execution IN_PROGRESS again with new statusDetails, its
//! counters, due time and notices, in one transaction), several threads on
//! their own connections, on SQLite (a file) and on PostgreSQL (a fresh
//! schema at `FLEETJOBS_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`), each next to the limit
//! measured in the same run: the database's own one-row-update commits
//! with as many threads.
//!
//! `cargo run --release -p fleetjobs-store --example bench_device_updates [threads] [seconds]`

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use fleetjobs_core::execution::DeviceUpdate;
use fleetjobs_core::job::CreateJob;
use fleetjobs_core::model::ExecutionStatus;
use fleetjobs_store::backend::native::NativeSql;
use fleetjobs_store::backend::postgres::PgSql;
use fleetjobs_store::{params, Sql, Store, StoreOptions};

const THINGS: usize = 1_000;

/// Runs `work(thread, i)` on `threads` threads, each with its own `open()`ed
/// connection, for `seconds`; returns the calls per second.
fn rate<C>(
    threads: usize,
    seconds: f64,
    open: impl Fn() -> C + Sync,
    work: impl Fn(&C, usize, u64) + Sync,
) -> f64 {
    let done = AtomicBool::new(false);
    let count = AtomicU64::new(0);
    let barrier = Barrier::new(threads + 1);
    let started = std::thread::scope(|scope| {
        for thread in 0..threads {
            let (open, work, done, count, barrier) = (&open, &work, &done, &count, &barrier);
            scope.spawn(move || {
                let sql = open();
                barrier.wait();
                let mut i = 0;
                while !done.load(Ordering::Relaxed) {
                    work(&sql, thread, i);
                    i += 1;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        barrier.wait();
        let started = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(seconds));
        done.store(true, Ordering::Relaxed);
        started
    });
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// A job for the fleet, every execution started (so each update is a change).
fn seed<S: Sql>(store: &Store<S>) {
    store.migrate(common::noon()).unwrap();
    let names: Vec<String> = (0..THINGS).map(|i| format!("thing-{i:07}")).collect();
    store
        .register_group_of_things("fleet", &names, common::noon())
        .unwrap();
    let request: CreateJob = serde_json::from_value(serde_json::json!({
        "targets": {"thingGroupNames": ["fleet"]},
        "document": {"action": "updateFirmware"}
    }))
    .unwrap();
    store
        .create_job(request, "j".into(), common::noon())
        .unwrap();
    while store.existing_job("j").unwrap().rollout.pending_targets > 0 {
        store.sweep(common::noon(), &Default::default()).unwrap();
    }
    for name in &names {
        store.start_next(name, None, None, common::noon()).unwrap();
    }
    store.sql().execute("DELETE FROM outbox", &[]).unwrap();
    store
        .sql()
        .execute(
            "CREATE TABLE bench_commits (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)",
            &[],
        )
        .unwrap();
    for id in 0..64 {
        store
            .sql()
            .execute(
                "INSERT INTO bench_commits (id, n) VALUES (?1, 0)",
                params![id as i64],
            )
            .unwrap();
    }
}

/// Device updates/s and one-row commits/s with `threads` threads.
fn measure<S: Sql>(threads: usize, seconds: f64, open: impl Fn() -> S + Sync) -> (f64, f64) {
    seed(&Store::new(open(), StoreOptions::default()));
    let updates = rate(
        threads,
        seconds,
        || Store::new(open(), StoreOptions::default()),
        |store, thread, i| {
            // Each thread its own things, as one thing's requests are ordered.
            let thing = (thread + threads * i as usize) % THINGS;
            let mut update = DeviceUpdate::to(ExecutionStatus::InProgress);
            update.status_details = Some([("step".to_string(), i.to_string())].into());
            store
                .device_update(
                    &format!("thing-{thing:07}"),
                    "j",
                    None,
                    &update,
                    common::noon(),
                )
                .unwrap();
        },
    );
    let commits = rate(threads, seconds, &open, |sql, thread, _| {
        sql.execute("BEGIN", &[]).unwrap();
        sql.execute(
            "UPDATE bench_commits SET n = n + 1 WHERE id = ?1",
            params![thread as i64],
        )
        .unwrap();
        sql.execute("COMMIT", &[]).unwrap();
    });
    (updates, commits)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().map_or(4, |n| n.parse().expect("threads"));
    let seconds: f64 = args.next().map_or(5.0, |s| s.parse().expect("seconds"));

    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("bench.db");
    let sqlite = measure(threads, seconds, || NativeSql::open(&path).unwrap());

    let schema = common::PostgresSchema::create("bench");
    let config = schema.config();
    let postgres = measure(threads, seconds, || PgSql::connect_with(config).unwrap());
    drop(schema);

    println!("device updates through the store, {threads} threads, {seconds} s each:");
    for (name, (updates, commits)) in [("SQLite", sqlite), ("PostgreSQL", postgres)] {
        println!(
            "  {name:<10} {updates:>8.0} updates/s  vs {commits:>8.0} one-row commits/s: {:.2}",
            updates / commits
        );
    }
}
