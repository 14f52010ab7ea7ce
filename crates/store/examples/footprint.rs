//! What a job costs the database, for sizing (docs/scale-out.md): registers
//! a group of things in a fresh PostgreSQL schema, creates a job for it,
//! releases every execution as the sweeper does, then prints each table's
//! size (rows, indexes and TOAST) per thing, and the same on SQLite.
//!
//! `cargo run --release -p fleetjobs-store --example footprint [things]`
//! (PostgreSQL at `FLEETJOBS_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`)

mod common;

use fleetjobs_core::job::CreateJob;
use fleetjobs_store::backend::native::NativeSql;
use fleetjobs_store::backend::postgres::PgSql;
use fleetjobs_store::sql::RowExt;
use fleetjobs_store::{Sql, Store, StoreOptions, SweepOptions};

fn main() {
    let things: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("the number of things"))
        .unwrap_or(100_000);

    let schema = common::PostgresSchema::create("footprint");
    let store = Store::new(
        PgSql::connect_with(schema.config()).unwrap(),
        StoreOptions::default(),
    );
    fill(&store, things);
    let sizes = store
        .sql()
        .query(
            "SELECT c.relname, pg_total_relation_size(c.oid), c.reltuples::BIGINT
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind = 'r'
             ORDER BY 2 DESC",
            &[],
        )
        .unwrap();
    println!("PostgreSQL, a job for {things} things, every execution released (bytes per thing):");
    let mut total = 0;
    for row in &sizes {
        let bytes = row.int(1).unwrap();
        total += bytes;
        if bytes > 64 << 10 {
            println!(
                "  {:<24} {:>7.0}",
                row.text(0).unwrap(),
                bytes as f64 / things as f64
            );
        }
    }
    println!(
        "  {:<24} {:>7.0}",
        "all tables",
        total as f64 / things as f64
    );
    drop(store);
    drop(schema);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("footprint.db");
    let store = Store::new(NativeSql::open(&path).unwrap(), StoreOptions::default());
    fill(&store, things);
    drop(store);
    let bytes = std::fs::metadata(&path).unwrap().len()
        + std::fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len());
    println!(
        "SQLite, the same: {:.0} bytes per thing (the whole file)",
        bytes as f64 / things as f64
    );
}

/// Registers `things` things in the group "fleet", creates a job for it and
/// releases every execution (each with notify and notify-next in the outbox).
fn fill<S: Sql>(store: &Store<S>, things: usize) {
    let now = common::noon();
    store.migrate(now).unwrap();
    let names: Vec<String> = (0..things).map(|i| format!("thing-{i:07}")).collect();
    store
        .register_group_of_things("fleet", &names, now)
        .unwrap();
    let request: CreateJob = serde_json::from_value(serde_json::json!({
        "targets": {"thingGroupNames": ["fleet"]},
        "document": {"action": "updateFirmware", "params": {"version": "2.1.5",
            "url": "https://firmware.example.com/thermostat-v2.1.5.bin"}}
    }))
    .unwrap();
    store.create_job(request, "footprint".into(), now).unwrap();
    let sweep = SweepOptions {
        release_batches: usize::MAX,
        release_backlog: usize::MAX,
        ..SweepOptions::default()
    };
    while store
        .existing_job("footprint")
        .unwrap()
        .rollout
        .pending_targets
        > 0
    {
        store.sweep(now, &sweep).unwrap();
    }
}
