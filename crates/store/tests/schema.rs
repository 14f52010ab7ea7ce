mod common;

use common::{file_store, memory_store, noon};
use fleetjobs_store::schema::MIGRATIONS;

#[test]
fn migrations_apply_once_and_again_is_a_no_op() {
    let store = memory_store();
    let latest = MIGRATIONS.last().unwrap().0;
    assert_eq!(store.schema_version().unwrap(), latest);
    store.migrate(noon()).unwrap();
    store.migrate(noon()).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest);
}

#[test]
fn two_processes_opening_one_database_both_migrate_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let path = dir.path().to_owned();
            std::thread::spawn(move || {
                let store = fleetjobs_store::Store::new(
                    fleetjobs_store::backend::native::NativeSql::open(path.join("fleetjobs.db"))
                        .unwrap(),
                    Default::default(),
                );
                store.migrate(noon()).unwrap();
                store.schema_version().unwrap()
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), MIGRATIONS.last().unwrap().0);
    }
    assert_eq!(
        file_store(&dir).schema_version().unwrap(),
        MIGRATIONS.last().unwrap().0
    );
}
