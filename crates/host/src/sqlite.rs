//! `fermyon:spin/sqlite@2.0.0` and `spin:sqlite/sqlite@3.0.0`: a guest's
//! `connection` borrows one of the database's pooled connections for each
//! statement, and keeps it while a transaction is open on it (so `BEGIN …
//! COMMIT` across `execute` calls is a transaction; WAL, pragmas and
//! prepared statements are set up once). Between statements it holds none,
//! so the pool is as large as the statements running at once, not as the
//! guests alive (64 instances of a trigger waiting for the writer would
//! otherwise each hold one, and connections beyond the pool's would be
//! opened, their schema read and their statements parsed, for one request).
//!
//! Nothing on a request's path waits inside SQLite:
//! - writers queue in the host, not in SQLite: a statement that writes (or
//!   `BEGIN IMMEDIATE` / `EXCLUSIVE`, which take SQLite's write lock at once)
//!   first takes the database's writer slot, a fair async lock held until the
//!   connection is back in autocommit (COMMIT, ROLLBACK, or the end of a
//!   single statement). SQLite's sleeping busy handler is only a fallback for
//!   other processes sharing the file;
//! - a write transaction begun in autocommit (`BEGIN IMMEDIATE` /
//!   `EXCLUSIVE`) runs on the writer's own connection, which comes with the
//!   slot: SQLite empties a connection's page cache whenever another
//!   connection has committed, so the pooled connections read every page
//!   afresh (a `pread` each), while the writer's cache stays warm. Back in
//!   autocommit the guest's statements run on its own connection again, and
//!   `changes` / `last-insert-rowid` report what one connection would
//!   (`GuestCounts`);
//! - commits do not sync (WAL with `synchronous=NORMAL`) and do not
//!   checkpoint: the pooled connections have automatic checkpoints off, and
//!   a background thread checkpoints the WAL after every
//!   [`COMMITS_PER_CHECKPOINT`] commits (the only fsyncs).
//!
//! So a statement is CPU work of microseconds, run where the guest runs, like
//! the guest's own code; only opening a new connection (a directory check and
//! the pragmas) goes to `block_in_place`.
//!
//! A connection dropped with a transaction open (the guest finished or
//! trapped) is rolled back and frees the slot.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;

use crate::runtime_config::{RuntimeConfig, StoreLocation};

/// How long a connection waits for another writer before `database is locked`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Commits between two background WAL checkpoints.
const COMMITS_PER_CHECKPOINT: u64 = 1000;

/// Each pooled connection's page cache, in KiB (SQLite's `cache_size`
/// takes a negative number for KiB).
const PAGE_CACHE_KIB: i64 = -512;

/// The writer's page cache, in KiB: one per database, and it stays valid.
const WRITER_CACHE_KIB: i64 = -16 * 1024;

/// Prepared statements kept per connection (rusqlite's default of 16 is
/// fewer than one application's statements: they would be parsed again and
/// again).
const STATEMENT_CACHE: usize = 256;

/// The configured databases, by label, and what their statements cost.
#[derive(Default)]
pub struct SqliteDatabases {
    databases: BTreeMap<String, Arc<Database>>,
    stats: Arc<SqliteStats>,
}

/// Counters for the host's test hook (`/.well-known/fleetjobs/metrics`).
#[derive(Debug, Default)]
pub struct SqliteStats {
    /// Statements parsed and prepared (a connection's first use of a text).
    pub prepared: AtomicU64,
    /// Statements run.
    pub run: AtomicU64,
    /// Background WAL checkpoints.
    pub checkpoints: AtomicU64,
    /// Connections opened (the pool's and the writers').
    pub opened: AtomicU64,
}

/// One database: where it is, its writer slot, its idle connections and its
/// commits since the last checkpoint.
struct Database {
    location: StoreLocation,
    writer: WriterSlot,
    idle: std::sync::Mutex<Vec<Pooled>>,
    /// Held while a connection is opened: guests finding the pool empty at
    /// once wait for that one (opening goes to `block_in_place`, which
    /// frees the worker for the next guest, which would open another).
    opening: Mutex<()>,
    commits: AtomicU64,
}

/// One writer at a time, and the connection write transactions run on
/// (opened by the first; none for an in-memory database, where each guest
/// connection is a database of its own).
type WriterSlot = Arc<Mutex<Option<Pooled>>>;

/// Idle connections kept per database file: open, in WAL mode, with their
/// prepared statements cached.
const IDLE_CONNECTIONS: usize = 16;

/// A connection and the statement texts it has prepared (its cache).
struct Pooled {
    conn: Connection,
    prepared: HashSet<String>,
    /// A guest ran a statement that can leave state on the connection (a
    /// temporary object, an attached database, a pragma): it is closed, not
    /// lent to another guest.
    guest_state: bool,
}

impl Pooled {
    /// Prepares `sql` (from the cache after its first use) and says whether
    /// it takes the write lock.
    fn prepare(&mut self, sql: &str, stats: &SqliteStats) -> Result<bool, Failure> {
        if !self.prepared.contains(sql) {
            stats.prepared.fetch_add(1, Ordering::Relaxed);
            if self.prepared.len() >= STATEMENT_CACHE {
                self.prepared.clear();
                self.conn.flush_prepared_statement_cache();
            }
            self.prepared.insert(sql.to_owned());
        }
        let statement = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| Failure::Io(e.to_string()))?;
        Ok(takes_write_lock(&statement, sql))
    }

    /// Runs `sql` and notes whether it may have left guest state behind.
    fn run(
        &mut self,
        sql: &str,
        params: Vec<SqlValue>,
    ) -> Result<(Vec<String>, Vec<Vec<SqlValue>>), Failure> {
        self.guest_state |= may_leave_state(sql);
        execute(&self.conn, sql, params)
    }
}

/// What `changes` and `last-insert-rowid` report.
#[derive(Clone, Copy, Default)]
struct WriteCounts {
    changes: u64,
    last_insert_rowid: i64,
}

/// `changes` and `last-insert-rowid` as one connection would report them,
/// while a guest's statements run on two (its own and, for a write
/// transaction, the writer's), both pooled, with counts left by earlier
/// guests. On each switch the connection's row id is set to the guest's and
/// its counters are noted; after each statement the row id is taken, and the
/// change count once the counters moved (so a write that changes no row,
/// on a connection whose last count was 0 too, keeps the guest's earlier
/// count: SQLite has no call to set it).
#[derive(Default)]
struct GuestCounts {
    counts: WriteCounts,
    /// The connection's `(changes(), total_changes())` as last seen.
    seen: (u64, u64),
}

impl GuestCounts {
    fn switch_to(&mut self, conn: &Connection) {
        // SAFETY: the connection is open and only this guest's (lent, or
        // the writer's while the slot is held); the call sets an integer.
        unsafe {
            rusqlite::ffi::sqlite3_set_last_insert_rowid(
                conn.handle(),
                self.counts.last_insert_rowid,
            )
        };
        self.seen = (conn.changes(), conn.total_changes());
    }

    fn after_statement(&mut self, conn: &Connection) {
        let seen = (conn.changes(), conn.total_changes());
        if seen != self.seen {
            self.counts.changes = seen.0;
            self.seen = seen;
        }
        self.counts.last_insert_rowid = conn.last_insert_rowid();
    }
}

/// Whether a statement can change its connection beyond the database file:
/// `TEMP` / `TEMPORARY` objects (also `temp.name`), `ATTACH`, `PRAGMA`. By
/// its words, so a false alarm (such a word in a string) only costs a
/// connection.
fn may_leave_state(sql: &str) -> bool {
    const WORDS: [&str; 4] = ["TEMP", "TEMPORARY", "ATTACH", "PRAGMA"];
    sql.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|word| WORDS.iter().any(|w| word.eq_ignore_ascii_case(w)))
}

/// What a guest's `connection` resource points at: the connection lent
/// from the database's pool for its statement or open transaction (or its
/// own for good, in memory).
pub struct SqliteHandle {
    pooled: Option<Pooled>,
    /// The database file it borrows from; none for an in-memory database.
    database: Option<Arc<Database>>,
    writer: WriterSlot,
    /// The writer slot, while this connection writes.
    writing: Option<OwnedMutexGuard<Option<Pooled>>>,
    /// Whether the open transaction runs on the writer's connection.
    on_writer: bool,
    counts: GuestCounts,
    stats: Arc<SqliteStats>,
}

/// Whether a statement takes SQLite's write lock: it writes, or it begins an
/// IMMEDIATE or EXCLUSIVE transaction (SQLite calls those read-only).
fn takes_write_lock(statement: &rusqlite::Statement<'_>, sql: &str) -> bool {
    !statement.readonly() || begins_write_transaction(sql)
}

/// `BEGIN IMMEDIATE` or `BEGIN EXCLUSIVE`.
fn begins_write_transaction(sql: &str) -> bool {
    let mut words = sql.split_whitespace();
    words
        .next()
        .is_some_and(|word| word.eq_ignore_ascii_case("BEGIN"))
        && words.next().is_some_and(|word| {
            word.eq_ignore_ascii_case("IMMEDIATE") || word.eq_ignore_ascii_case("EXCLUSIVE")
        })
}

impl SqliteHandle {
    /// The guest's own connection, borrowed from the pool if it holds none.
    async fn own(&mut self) -> Result<&mut Pooled, Failure> {
        if self.pooled.is_none() {
            let database = self.database.as_ref().expect("in memory, it is held");
            let pooled = database.borrow(&self.stats).await?;
            self.counts.switch_to(&pooled.conn);
            self.pooled = Some(pooled);
        }
        Ok(self.pooled.as_mut().expect("just borrowed"))
    }

    /// Gives the guest's own connection back to the pool unless a
    /// transaction is open on it (in memory, the connection is the
    /// database); whether it did.
    fn give_back_between_statements(&mut self) -> bool {
        let (Some(database), Some(pooled)) = (&self.database, &self.pooled) else {
            return false;
        };
        let free = pooled.conn.is_autocommit();
        if free {
            database.give_back(self.pooled.take().expect("checked"));
        }
        free
    }

    /// `changes()` and `last_insert_rowid()` as the guest sees them.
    fn counts(&self) -> WriteCounts {
        self.counts.counts
    }

    /// Runs one statement, taking the writer slot first if it writes (and
    /// the writer's connection with it if it begins a write transaction),
    /// and giving the slot back once the connection is in autocommit again.
    async fn run(
        &mut self,
        sql: &str,
        params: Vec<SqlValue>,
    ) -> Result<(Vec<String>, Vec<Vec<SqlValue>>), Failure> {
        let stats = self.stats.clone();
        // Outside a write, whether it takes the slot decides where it runs.
        let mut prepared_on_own = self.writing.is_none();
        if prepared_on_own && self.own().await?.prepare(sql, &stats)? {
            // While it waits for the writer, the guest holds no connection
            // (unless a transaction is open on its own).
            if self.give_back_between_statements() {
                prepared_on_own = false;
            }
            self.take_writer_slot(sql).await?;
        }
        stats.run.fetch_add(1, Ordering::Relaxed);
        let (outcome, autocommit) = if self.on_writer {
            let writer = self
                .writing
                .as_mut()
                .and_then(|slot| slot.as_mut())
                .expect("taken with the slot");
            let outcome = writer
                .prepare(sql, &stats)
                .and_then(|_| writer.run(sql, params));
            self.counts.after_statement(&writer.conn);
            let autocommit = writer.conn.is_autocommit();
            if autocommit {
                self.on_writer = false;
                if writer.guest_state {
                    // The next guest must not find this one's state.
                    **self.writing.as_mut().expect("held") = None;
                }
                if let Some(own) = &self.pooled {
                    self.counts.switch_to(&own.conn);
                }
            }
            (outcome, autocommit)
        } else {
            let own = self.own().await?;
            let outcome = match prepared_on_own {
                true => own.run(sql, params),
                false => own.prepare(sql, &stats).and_then(|_| own.run(sql, params)),
            };
            let autocommit = own.conn.is_autocommit();
            self.counts
                .after_statement(&self.pooled.as_ref().expect("borrowed").conn);
            (outcome, autocommit)
        };
        if self.writing.is_some() && autocommit {
            self.writing = None;
            self.committed();
        }
        self.give_back_between_statements();
        outcome
    }

    /// Waits for the writer slot. A write transaction begun in autocommit
    /// runs on the writer's connection (opened here the first time).
    async fn take_writer_slot(&mut self, sql: &str) -> Result<(), Failure> {
        let mut slot = tokio::time::timeout(BUSY_TIMEOUT, self.writer.clone().lock_owned())
            .await
            .map_err(|_| Failure::Io("database is locked".into()))?;
        let begins_transaction = begins_write_transaction(sql)
            && self
                .pooled
                .as_ref()
                .is_none_or(|own| own.conn.is_autocommit());
        if let (true, Some(database)) = (begins_transaction, &self.database) {
            if let (None, StoreLocation::File(path)) = (&*slot, &database.location) {
                *slot = Some(open_pooled(path, WRITER_CACHE_KIB, &self.stats)?);
            }
            if let Some(writer) = &*slot {
                self.counts.switch_to(&writer.conn);
                self.on_writer = true;
            }
        }
        self.writing = Some(slot);
        Ok(())
    }

    /// Counts a commit; every [`COMMITS_PER_CHECKPOINT`] a background thread
    /// checkpoints the WAL into the database file.
    fn committed(&self) {
        let Some(database) = &self.database else {
            return;
        };
        let StoreLocation::File(path) = &database.location else {
            return;
        };
        if database.commits.fetch_add(1, Ordering::Relaxed) + 1 < COMMITS_PER_CHECKPOINT {
            return;
        }
        database.commits.store(0, Ordering::Relaxed);
        let path = path.clone();
        let stats = self.stats.clone();
        tokio::task::spawn_blocking(move || {
            // PASSIVE: never waits for readers or writers; what it cannot
            // copy now goes with the next one.
            let checkpoint = open_file(&path)
                .and_then(|conn| conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())));
            match checkpoint {
                Ok(()) => {
                    stats.checkpoints.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(path = %path.display(), "WAL checkpoint failed: {e}"),
            }
        });
    }
}

impl Drop for SqliteHandle {
    /// An unfinished transaction is rolled back before its connection goes
    /// back to the pool (or stays the writer's) and the slot is freed.
    fn drop(&mut self) {
        if let (true, Some(slot)) = (self.on_writer, self.writing.as_mut()) {
            let rolled_back = slot
                .as_ref()
                .is_some_and(|writer| writer.conn.execute_batch("ROLLBACK").is_ok());
            if !rolled_back || slot.as_ref().is_some_and(|writer| writer.guest_state) {
                **slot = None;
            }
        }
        let Some(pooled) = self.pooled.take() else {
            return;
        };
        if !pooled.conn.is_autocommit() && pooled.conn.execute_batch("ROLLBACK").is_err() {
            return;
        }
        if let Some(database) = &self.database {
            database.give_back(pooled);
        }
    }
}

impl Database {
    /// An idle connection, or a new one.
    async fn borrow(&self, stats: &SqliteStats) -> Result<Pooled, Failure> {
        let idle = || self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(pooled) = idle() {
            return Ok(pooled);
        }
        let _opening = self.opening.lock().await;
        match (idle(), &self.location) {
            (Some(pooled), _) => Ok(pooled),
            (None, StoreLocation::File(path)) => open_pooled(path, PAGE_CACHE_KIB, stats),
            (None, StoreLocation::InMemory) => unreachable!("in memory, nothing is pooled"),
        }
    }

    /// Keeps a connection in autocommit for the next guest, unless a guest
    /// left state on it or the pool is full.
    fn give_back(&self, pooled: Pooled) {
        if pooled.guest_state {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(pooled);
        }
    }
}

/// Why a database operation failed, before mapping to either interface.
enum Failure {
    NoSuchDatabase,
    AccessDenied,
    Io(String),
}

impl SqliteDatabases {
    pub fn new(config: &RuntimeConfig) -> Self {
        SqliteDatabases {
            databases: config
                .sqlite_databases
                .iter()
                .map(|(label, location)| {
                    let database = Database {
                        location: location.clone(),
                        writer: WriterSlot::default(),
                        idle: Default::default(),
                        opening: Mutex::new(()),
                        commits: AtomicU64::new(0),
                    };
                    (label.clone(), Arc::new(database))
                })
                .collect(),
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> &SqliteStats {
        &self.stats
    }

    async fn open(&self, allowed: &[String], label: &str) -> Result<SqliteHandle, Failure> {
        if !allowed.iter().any(|l| l == label) {
            return Err(Failure::AccessDenied);
        }
        let database = self.databases.get(label).ok_or(Failure::NoSuchDatabase)?;
        // In memory, the connection is the database: the guest keeps it. A
        // file's is borrowed per statement; one is borrowed and given back
        // now, so that a database that cannot be opened fails here.
        let (pooled, lent_from) = match &database.location {
            StoreLocation::InMemory => {
                let conn = Connection::open_in_memory().map_err(|e| Failure::Io(e.to_string()))?;
                (Some(new_pooled(conn)), None)
            }
            StoreLocation::File(_) => {
                database.give_back(database.borrow(&self.stats).await?);
                (None, Some(database.clone()))
            }
        };
        let mut counts = GuestCounts::default();
        if let Some(pooled) = &pooled {
            counts.switch_to(&pooled.conn);
        }
        Ok(SqliteHandle {
            pooled,
            database: lent_from,
            writer: database.writer.clone(),
            writing: None,
            on_writer: false,
            counts,
            stats: self.stats.clone(),
        })
    }
}

fn new_pooled(conn: Connection) -> Pooled {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Pooled {
        conn,
        prepared: HashSet::new(),
        guest_state: false,
    }
}

fn open_file(path: &PathBuf) -> rusqlite::Result<Connection> {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// A connection for the pool or the writer (opened off the runtime's
/// threads: a directory check, the file, the pragmas): checkpoints are the
/// background thread's. A pooled connection's page cache is small (another
/// connection's commit empties it anyway, and a pool of full caches would
/// hold the memory of a burst for good); the writer's is larger.
fn open_pooled(path: &PathBuf, cache_kib: i64, stats: &SqliteStats) -> Result<Pooled, Failure> {
    let open = || {
        let conn = open_file(path)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "cache_size", cache_kib)?;
        Ok::<_, rusqlite::Error>(conn)
    };
    let conn = tokio::task::block_in_place(open).map_err(|e| Failure::Io(e.to_string()))?;
    stats.opened.fetch_add(1, Ordering::Relaxed);
    Ok(new_pooled(conn))
}

/// Runs exactly one statement (rusqlite refuses trailing statements).
fn execute(
    conn: &Connection,
    sql: &str,
    params: Vec<SqlValue>,
) -> Result<(Vec<String>, Vec<Vec<SqlValue>>), Failure> {
    let io = |e: rusqlite::Error| Failure::Io(e.to_string());
    let mut statement = conn.prepare_cached(sql).map_err(io)?;
    let columns: Vec<String> = statement.column_names().map(str::to_owned).collect();
    let width = columns.len();
    let mut rows = statement
        .query(rusqlite::params_from_iter(params))
        .map_err(io)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(io)? {
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(match row.get_ref(i).map_err(io)? {
                ValueRef::Null => SqlValue::Null,
                ValueRef::Integer(v) => SqlValue::Integer(v),
                ValueRef::Real(v) => SqlValue::Real(v),
                ValueRef::Text(v) => SqlValue::Text(String::from_utf8_lossy(v).into_owned()),
                ValueRef::Blob(v) => SqlValue::Blob(v.to_vec()),
            });
        }
        out.push(values);
    }
    Ok((columns, out))
}

/// The two interfaces have identical shapes in different modules: one
/// implementation, instantiated for each.
macro_rules! sqlite_interface {
    ($module:path $(, $extra:item)*) => {
        use $module::{Error, Host, HostConnection, QueryResult, RowResult, Value};

        impl From<Failure> for Error {
            fn from(failure: Failure) -> Self {
                match failure {
                    Failure::NoSuchDatabase => Error::NoSuchDatabase,
                    Failure::AccessDenied => Error::AccessDenied,
                    Failure::Io(message) => Error::Io(message),
                }
            }
        }

        fn to_sql(value: Value) -> SqlValue {
            match value {
                Value::Integer(v) => SqlValue::Integer(v),
                Value::Real(v) => SqlValue::Real(v),
                Value::Text(v) => SqlValue::Text(v),
                Value::Blob(v) => SqlValue::Blob(v),
                Value::Null => SqlValue::Null,
            }
        }

        fn from_sql(value: SqlValue) -> Value {
            match value {
                SqlValue::Integer(v) => Value::Integer(v),
                SqlValue::Real(v) => Value::Real(v),
                SqlValue::Text(v) => Value::Text(v),
                SqlValue::Blob(v) => Value::Blob(v),
                SqlValue::Null => Value::Null,
            }
        }

        impl Host for HostState {}

        impl HostConnection for HostState {
            async fn open(&mut self, database: String) -> wasmtime::Result<Result<Resource<SqliteHandle>, Error>> {
                let opened = self.app.sqlite.open(&self.component.sqlite_databases, &database).await;
                match opened {
                    Ok(handle) => Ok(Ok(self.table.push(handle)?)),
                    Err(failure) => Ok(Err(failure.into())),
                }
            }

            async fn execute(
                &mut self,
                connection: Resource<SqliteHandle>,
                statement: String,
                parameters: Vec<Value>,
            ) -> wasmtime::Result<Result<QueryResult, Error>> {
                let handle = self.table.get_mut(&connection)?;
                let params = parameters.into_iter().map(to_sql).collect();
                Ok(handle.run(&statement, params).await
                    .map(|(columns, rows)| QueryResult {
                        columns,
                        rows: rows
                            .into_iter()
                            .map(|values| RowResult { values: values.into_iter().map(from_sql).collect() })
                            .collect(),
                    })
                    .map_err(Error::from))
            }

            $($extra)*

            async fn drop(&mut self, connection: Resource<SqliteHandle>) -> wasmtime::Result<()> {
                self.table.delete(connection)?;
                Ok(())
            }
        }
    };
}

mod v2 {
    use wasmtime::component::Resource;

    use super::{Failure, SqlValue, SqliteHandle};
    use crate::app::HostState;

    sqlite_interface!(crate::bindings::fermyon::spin::sqlite);
}

mod v3 {
    use wasmtime::component::Resource;

    use super::{Failure, SqlValue, SqliteHandle};
    use crate::app::HostState;

    sqlite_interface!(
        crate::bindings::spin::sqlite::sqlite,
        async fn last_insert_rowid(
            &mut self,
            connection: Resource<SqliteHandle>,
        ) -> wasmtime::Result<i64> {
            Ok(self.table.get(&connection)?.counts().last_insert_rowid)
        },
        async fn changes(&mut self, connection: Resource<SqliteHandle>) -> wasmtime::Result<u64> {
            Ok(self.table.get(&connection)?.counts().changes)
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_transactions_begin_immediate_or_exclusive() {
        assert!(begins_write_transaction("BEGIN IMMEDIATE"));
        assert!(begins_write_transaction("  begin\n exclusive TRANSACTION"));
        assert!(!begins_write_transaction("BEGIN"));
        assert!(!begins_write_transaction("BEGIN DEFERRED"));
        assert!(!begins_write_transaction("SELECT 'BEGIN IMMEDIATE'"));
    }

    #[test]
    fn statements_that_may_leave_state_on_a_connection() {
        assert!(may_leave_state("CREATE TEMP TABLE t (n)"));
        assert!(may_leave_state("create temporary view v as select 1"));
        assert!(may_leave_state("CREATE TABLE temp.t (n)"));
        assert!(may_leave_state("ATTACH DATABASE 'x.db' AS x"));
        assert!(may_leave_state("pragma foreign_keys = on"));
        assert!(!may_leave_state("SELECT temperature, temp_c FROM readings"));
        assert!(!may_leave_state("INSERT INTO t (n) VALUES (1)"));
    }
}
