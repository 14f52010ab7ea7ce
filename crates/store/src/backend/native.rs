//! rusqlite: native tests, tools and benchmarks.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Connection, ToSql};

use crate::sql::{Row, Sql, SqlError, Value};

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct NativeSql {
    conn: Connection,
}

fn error(e: rusqlite::Error) -> SqlError {
    SqlError::new(e.to_string())
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Integer(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Real(v) => ToSqlOutput::Borrowed(ValueRef::Real(*v)),
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Blob(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

impl NativeSql {
    /// Opens (or creates) a database file in WAL mode with a busy timeout, as
    /// the host opens Spin's SQLite databases.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SqlError> {
        Self::configure(Connection::open(path).map_err(error)?)
    }

    pub fn open_in_memory() -> Result<Self, SqlError> {
        Self::configure(Connection::open_in_memory().map_err(error)?)
    }

    fn configure(conn: Connection) -> Result<Self, SqlError> {
        conn.busy_timeout(BUSY_TIMEOUT).map_err(error)?;
        // Switching a new database to WAL needs an exclusive lock and SQLite
        // reports a competing opener as busy without calling the busy handler.
        let deadline = Instant::now() + BUSY_TIMEOUT;
        while let Err(e) = conn.pragma_update(None, "journal_mode", "WAL") {
            let busy = e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy);
            if !busy || Instant::now() >= deadline {
                return Err(error(e));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(error)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(NativeSql { conn })
    }
}

impl Sql for NativeSql {
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let mut statement = self.conn.prepare_cached(sql).map_err(error)?;
        let width = statement.column_count();
        let mut rows = statement.query(params_from_iter(params)).map_err(error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(error)? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(match row.get_ref(i).map_err(error)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Integer(v),
                    ValueRef::Real(v) => Value::Real(v),
                    ValueRef::Text(v) => Value::Text(String::from_utf8_lossy(v).into_owned()),
                    ValueRef::Blob(v) => Value::Blob(v.to_vec()),
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let mut statement = self.conn.prepare_cached(sql).map_err(error)?;
        let changed = statement.execute(params_from_iter(params)).map_err(error)?;
        Ok(changed as u64)
    }
}
