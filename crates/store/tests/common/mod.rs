#![allow(dead_code)] // each test file uses a different part

//! What the store's tests share. Every test runs on both backends: a test
//! written `#[backend_test] fn name() {…}` style — `both_backends!(name);`
//! above a plain `fn name()` — becomes `name::sqlite` and `name::postgres`,
//! and inside it [`memory_store`] and [`TestDb::new`] give a store of that
//! backend. PostgreSQL is at `FLEETJOBS_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`; `scripts/postgres.sh` makes
//! sure one answers); each database of a test is a fresh schema, dropped
//! when its last store goes, so tests run in parallel.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fleetjobs_core::job::CreateJob;
use fleetjobs_core::{Job, Timestamp};
use fleetjobs_store::backend::native::NativeSql;
use fleetjobs_store::backend::postgres::PgSql;
use fleetjobs_store::sql::{Row, Sql, SqlError, Value};
use fleetjobs_store::{Dialect, Store, StoreOptions};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

thread_local! {
    static BACKEND: Cell<Option<Backend>> = const { Cell::new(None) };
}

/// Runs `test` with `backend` as the one [`memory_store`] and
/// [`TestDb::new`] use on this thread.
pub fn with_backend<T>(backend: Backend, test: impl FnOnce() -> T) -> T {
    let previous = BACKEND.with(|b| b.replace(Some(backend)));
    struct Restore(Option<Backend>);
    impl Drop for Restore {
        fn drop(&mut self) {
            BACKEND.with(|b| b.set(self.0));
        }
    }
    let _restore = Restore(previous);
    test()
}

/// The backend of the running test.
pub fn backend() -> Backend {
    BACKEND
        .with(Cell::get)
        .expect("a store test runs through both_backends! (common::with_backend)")
}

/// `both_backends!(name);` above `fn name()`: the tests `name::sqlite` and
/// `name::postgres`.
#[allow(unused_macros)] // not by the property test
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    $crate::common::with_backend($crate::common::Backend::Sqlite, super::$name)
                }
                #[test]
                fn postgres() {
                    $crate::common::with_backend($crate::common::Backend::Postgres, super::$name)
                }
            }
        )*
    };
}

pub fn database_url() -> String {
    std::env::var("FLEETJOBS_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.into())
}

/// A fresh schema of the test database, dropped with its last handle.
pub struct Schema {
    config: postgres::Config,
    name: String,
}

impl Schema {
    fn create() -> Schema {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let url = database_url();
        let config: postgres::Config = url.parse().expect("FLEETJOBS_TEST_DATABASE_URL");
        let name = format!(
            "test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let mut client = config.connect(postgres::NoTls).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL does not answer at {url} ({e}); run scripts/postgres.sh \
                 or set FLEETJOBS_TEST_DATABASE_URL"
            )
        });
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap();
        Schema { config, name }
    }

    fn connect(&self) -> PgSql {
        let mut config = self.config.clone();
        // Commits need not wait for the disk: a test database is thrown away.
        config.options(&format!(
            "-c search_path={} -c synchronous_commit=off",
            self.name
        ));
        PgSql::connect_with(&config).unwrap()
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut client) = self.config.connect(postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {} CASCADE",
                self.name
            ));
        }
    }
}

/// A connection of either backend; a PostgreSQL one keeps its schema.
pub enum TestSql {
    Sqlite(NativeSql),
    // The connection closes before the schema's last handle drops it.
    Postgres(Box<PgSql>, Arc<Schema>),
}

impl Sql for TestSql {
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        match self {
            TestSql::Sqlite(s) => s.query(sql, params),
            TestSql::Postgres(s, _) => s.query(sql, params),
        }
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        match self {
            TestSql::Sqlite(s) => s.execute(sql, params),
            TestSql::Postgres(s, _) => s.execute(sql, params),
        }
    }

    fn dialect(&self) -> Dialect {
        match self {
            TestSql::Sqlite(s) => s.dialect(),
            TestSql::Postgres(s, _) => s.dialect(),
        }
    }
}

pub type TestStore = Store<TestSql>;

/// One database of the running test's backend that several connections
/// (threads) share: a SQLite file or a PostgreSQL schema.
#[derive(Clone)]
pub struct TestDb {
    inner: Arc<TestDbInner>,
}

enum TestDbInner {
    Sqlite(tempfile::TempDir),
    Postgres(Arc<Schema>),
}

impl TestDb {
    pub fn new() -> TestDb {
        let inner = match backend() {
            Backend::Sqlite => TestDbInner::Sqlite(tempfile::tempdir().unwrap()),
            Backend::Postgres => TestDbInner::Postgres(Arc::new(Schema::create())),
        };
        TestDb {
            inner: Arc::new(inner),
        }
    }

    /// A new connection, not migrated.
    pub fn connect(&self) -> TestStore {
        let sql = match &*self.inner {
            TestDbInner::Sqlite(dir) => {
                TestSql::Sqlite(NativeSql::open(self.sqlite_path_in(dir)).unwrap())
            }
            TestDbInner::Postgres(schema) => {
                TestSql::Postgres(Box::new(schema.connect()), schema.clone())
            }
        };
        Store::new(sql, StoreOptions::default())
    }

    /// A new connection, migrated.
    pub fn store(&self) -> TestStore {
        let store = self.connect();
        store.migrate(noon()).unwrap();
        store
    }

    fn sqlite_path_in(&self, dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("fleetjobs.db")
    }
}

pub fn noon() -> Timestamp {
    Timestamp::parse("2026-11-26T12:00:00Z").unwrap()
}

/// A migrated store of its own: SQLite in memory, or a fresh PostgreSQL
/// schema.
pub fn memory_store() -> TestStore {
    let sql = match backend() {
        Backend::Sqlite => TestSql::Sqlite(NativeSql::open_in_memory().unwrap()),
        Backend::Postgres => {
            let schema = Arc::new(Schema::create());
            TestSql::Postgres(Box::new(schema.connect()), schema)
        }
    };
    let store = Store::new(sql, StoreOptions::default());
    store.migrate(noon()).unwrap();
    store
}

pub fn things(store: &TestStore, names: &[&str]) {
    for name in names {
        store
            .insert_thing(name, &BTreeMap::new(), "hash", noon())
            .unwrap();
    }
}

pub fn group(store: &TestStore, group: &str, members: &[&str]) {
    store.insert_group(group, None, noon()).unwrap();
    things(store, members);
    for member in members {
        store.add_thing_to_group(group, member, noon()).unwrap();
    }
}

pub fn create_job(store: &TestStore, id: &str, body: serde_json::Value, now: Timestamp) -> Job {
    let request: CreateJob = serde_json::from_value(body).unwrap();
    store.create_job(request, id.to_owned(), now).unwrap()
}

pub fn job_for(things: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "targets": {"thingNames": things},
        "document": {"action": "updateFirmware", "version": "2.1.5"}
    })
}

/// The outbox as (topic, payload JSON), oldest first; drains it.
pub fn drain_outbox(store: &TestStore) -> Vec<(String, serde_json::Value)> {
    let mut messages = Vec::new();
    while let Some(claim) = store.claim_lane(noon(), 60_000, 100_000).unwrap() {
        store
            .release_lane(&claim, claim.messages.last().map(|m| m.id))
            .unwrap();
        messages.extend(claim.messages);
    }
    messages.sort_by_key(|m| m.id);
    messages
        .into_iter()
        .map(|m| (m.topic, serde_json::from_slice(&m.payload).unwrap()))
        .collect()
}

/// Sweeps until every target of `job_id` has its execution: CreateJob
/// releases the first batch, the sweeper the rest.
#[allow(dead_code)]
pub fn release_all(store: &TestStore, job_id: &str, now: Timestamp) {
    while store.existing_job(job_id).unwrap().rollout.pending_targets > 0 {
        store
            .sweep(now, &fleetjobs_store::SweepOptions::default())
            .unwrap();
    }
}
