#[macro_use]
mod common;

use common::{backend, memory_store, noon, Backend, TestDb};

both_backends!(migrations_apply_once_and_again_is_a_no_op);
fn migrations_apply_once_and_again_is_a_no_op() {
    let store = memory_store();
    let latest = latest_version();
    assert_eq!(store.schema_version().unwrap(), latest);
    store.migrate(noon()).unwrap();
    store.migrate(noon()).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest);
}

both_backends!(two_processes_opening_one_database_both_migrate_cleanly);
fn two_processes_opening_one_database_both_migrate_cleanly() {
    let db = TestDb::new();
    let latest = latest_version();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                let store = db.connect();
                store.migrate(noon()).unwrap();
                store.schema_version().unwrap()
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), latest);
    }
    assert_eq!(db.store().schema_version().unwrap(), latest);
}

/// The last migration of the running backend's dialect.
fn latest_version() -> i64 {
    let dialect = match backend() {
        Backend::Sqlite => fleetjobs_store::Dialect::Sqlite,
        Backend::Postgres => fleetjobs_store::Dialect::Postgres,
    };
    dialect.migrations().last().unwrap().0
}
