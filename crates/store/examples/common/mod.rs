#![allow(dead_code)] // each example uses a different part

//! What the store benchmarks share: a store on a temporary file with a
//! group of registered things.

use fleetjobs_core::Timestamp;
use fleetjobs_store::backend::native::NativeSql;
use fleetjobs_store::backend::postgres::PgSql;
use fleetjobs_store::{Sql, Store, StoreOptions};

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

/// A fresh schema `{prefix}_{pid}` on the PostgreSQL at
/// `FLEETJOBS_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
/// dropped with everything in it when this goes.
pub struct PostgresSchema {
    admin: PgSql,
    config: postgres::Config,
    name: String,
}

impl PostgresSchema {
    pub fn create(prefix: &str) -> Self {
        let url = std::env::var("FLEETJOBS_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("{prefix}_{}", std::process::id());
        let admin = PgSql::connect(&url).expect("PostgreSQL answers (scripts/postgres.sh)");
        admin
            .execute(&format!("CREATE SCHEMA {name}"), &[])
            .unwrap();
        let mut config: postgres::Config = url.parse().unwrap();
        config.options(&format!("-c search_path={name}"));
        PostgresSchema {
            admin,
            config,
            name,
        }
    }

    /// What connects to the schema's tables (`PgSql::connect_with`).
    pub fn config(&self) -> &postgres::Config {
        &self.config
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        let _ = self
            .admin
            .execute(&format!("DROP SCHEMA {} CASCADE", self.name), &[]);
    }
}
