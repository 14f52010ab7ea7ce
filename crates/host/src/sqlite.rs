//! `fermyon:spin/sqlite@2.0.0` and `spin:sqlite/sqlite@3.0.0`: each guest
//! `open` borrows one of the database's pooled connections (so `BEGIN …
//! COMMIT` across `execute` calls on it is a transaction; WAL, pragmas and
//! prepared statements are set up once), one statement per call.
//!
//! Writers queue in the host, not in SQLite: a statement that writes (or
//! `BEGIN IMMEDIATE`) first takes the database's writer slot, a fair async
//! lock held until the connection is back in autocommit (COMMIT, ROLLBACK,
//! or the end of a single statement). SQLite's sleeping busy handler is
//! then only a fallback for other processes. A connection dropped with a
//! transaction open (the guest finished or trapped) is rolled back and
//! frees the slot. SQLite calls still run in `block_in_place`, so a slow
//! one never stalls the runtime's other tasks.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;

use crate::runtime_config::{RuntimeConfig, StoreLocation};

/// How long a connection waits for another writer before `database is locked`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The configured databases, by label.
#[derive(Default)]
pub struct SqliteDatabases {
    databases: BTreeMap<String, Database>,
}

/// One database: where it is, its writer slot, and its idle connections.
struct Database {
    location: StoreLocation,
    writer: Arc<Mutex<()>>,
    idle: Arc<std::sync::Mutex<Vec<Connection>>>,
}

/// Idle connections kept per database file: open, in WAL mode, with their
/// prepared statements cached (reopening costs a directory check, the
/// pragmas and a WAL checkpoint when the last one closes).
const IDLE_CONNECTIONS: usize = 16;

/// What a guest's `connection` resource points at: a connection lent from
/// the database's pool (or its own, in memory).
pub struct SqliteHandle {
    conn: Option<Connection>,
    /// Where the connection goes back to; none for an in-memory database.
    idle: Option<Arc<std::sync::Mutex<Vec<Connection>>>>,
    writer: Arc<Mutex<()>>,
    /// The writer slot, while this connection writes.
    writing: Option<OwnedMutexGuard<()>>,
}

impl SqliteHandle {
    fn conn(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("held until the handle is dropped")
    }

    /// Runs one statement, taking the writer slot first if it writes, and
    /// giving it back once the connection is in autocommit again.
    async fn run(
        &mut self,
        sql: &str,
        params: Vec<SqlValue>,
    ) -> Result<(Vec<String>, Vec<Vec<SqlValue>>), Failure> {
        let writes = tokio::task::block_in_place(|| self.conn().prepare_cached(sql))
            .map(|statement| !statement.readonly())
            .unwrap_or(false);
        if writes && self.writing.is_none() {
            let slot = tokio::time::timeout(BUSY_TIMEOUT, self.writer.clone().lock_owned())
                .await
                .map_err(|_| Failure::Io("database is locked".into()))?;
            self.writing = Some(slot);
        }
        let outcome = tokio::task::block_in_place(|| execute(self.conn(), sql, params));
        if self.conn().is_autocommit() {
            self.writing = None;
        }
        outcome
    }
}

impl Drop for SqliteHandle {
    /// An unfinished transaction is rolled back before the connection goes
    /// back to the pool and the slot is freed.
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return;
        }
        // A guest's temporary tables must not reach the next guest.
        let has_temp_objects = conn
            .query_row("SELECT 1 FROM temp.sqlite_master LIMIT 1", [], |_| Ok(()))
            .is_ok();
        if has_temp_objects {
            return;
        }
        if let Some(idle) = &self.idle {
            let mut idle = idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < IDLE_CONNECTIONS {
                idle.push(conn);
            }
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
                        writer: Arc::default(),
                        idle: Arc::default(),
                    };
                    (label.clone(), database)
                })
                .collect(),
        }
    }

    fn open(&self, allowed: &[String], label: &str) -> Result<SqliteHandle, Failure> {
        if !allowed.iter().any(|l| l == label) {
            return Err(Failure::AccessDenied);
        }
        let database = self.databases.get(label).ok_or(Failure::NoSuchDatabase)?;
        let (conn, idle) = match &database.location {
            StoreLocation::InMemory => (Connection::open_in_memory(), None),
            StoreLocation::File(path) => {
                let pooled = database
                    .idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop();
                let conn = pooled.map_or_else(|| open_file(path), Ok);
                (conn, Some(database.idle.clone()))
            }
        };
        let conn = conn.map_err(|e| Failure::Io(e.to_string()))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| Failure::Io(e.to_string()))?;
        Ok(SqliteHandle {
            conn: Some(conn),
            idle,
            writer: database.writer.clone(),
            writing: None,
        })
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
                let opened = tokio::task::block_in_place(|| {
                    self.app.sqlite.open(&self.component.sqlite_databases, &database)
                });
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
            Ok(self.table.get(&connection)?.conn().last_insert_rowid())
        },
        async fn changes(&mut self, connection: Resource<SqliteHandle>) -> wasmtime::Result<u64> {
            Ok(self.table.get(&connection)?.conn().changes())
        }
    );
}
