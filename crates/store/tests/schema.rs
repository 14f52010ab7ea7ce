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

/// SQLite's migration 6 moves the remembered replies into a table of their
/// own: a device repeating a request made before it still gets its reply.
#[test]
fn replies_remembered_before_migration_6_are_still_recalled() {
    use fleetjobs_store::backend::native::NativeSql;
    use fleetjobs_store::schema::MIGRATIONS;
    use fleetjobs_store::{params, Dialect, Sql, Store, StoreOptions};

    let sql = NativeSql::open_in_memory().unwrap();
    sql.execute(Dialect::Sqlite.create_migrations_table(), &[])
        .unwrap();
    for (version, statements) in MIGRATIONS.iter().filter(|(version, _)| *version < 6) {
        for statement in *statements {
            sql.execute(statement, &[]).unwrap();
        }
        sql.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
            params![*version],
        )
        .unwrap();
    }
    sql.execute(
        "INSERT INTO device_requests (thing_name, client_token, reply, created_at)
         VALUES ('t1', 'jobs/j1/update token-1', '{\"timestamp\":1}', 5)",
        &[],
    )
    .unwrap();

    let store = Store::new(sql, StoreOptions::default());
    store.migrate(noon()).unwrap();
    assert_eq!(store.schema_version().unwrap(), 6);
    assert_eq!(
        store
            .recall_reply("t1", "jobs/j1/update token-1")
            .unwrap()
            .as_deref(),
        Some("{\"timestamp\":1}")
    );
    assert_eq!(store.forget_replies(noon()).unwrap(), 1);
}
