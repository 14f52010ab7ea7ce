#![allow(dead_code)] // each example uses a different part

//! What the store benchmarks share: a store on a temporary file with a
//! group of registered things.

use fleetjobs_core::Timestamp;
use fleetjobs_store::backend::native::NativeSql;
use fleetjobs_store::{Store, StoreOptions};

/// The benchmarks' "now".
pub fn noon() -> Timestamp {
    Timestamp::parse("2026-11-26T12:00:00Z").unwrap()
}

/// A migrated store in `dir` with `things` things in the group "fleet".
pub fn store_with_fleet(dir: &tempfile::TempDir, things: usize) -> Store<NativeSql> {
    let store = Store::new(
        NativeSql::open(dir.path().join("bench.db")).unwrap(),
        StoreOptions::default(),
    );
    store.migrate(noon()).unwrap();
    let names: Vec<String> = (0..things).map(|i| format!("thing-{i:07}")).collect();
    store
        .register_group_of_things("fleet", &names, noon())
        .unwrap();
    store
}
