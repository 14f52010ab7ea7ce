//! Spin's SQLite interface (`spin:sqlite/sqlite@3.0.0`), inside
//! components, and [`SpinSql`], the store's database in a component: that
//! or PostgreSQL (`spin_pg.rs`).

use spin_sdk::sqlite3::{Connection, Value as SpinValue};

use super::spin_pg::SpinPg;
use crate::dialect::Dialect;
use crate::sql::{Row, Sql, SqlError, Value};

/// A component's database: Spin's SQLite (a label of spin.toml) or
/// Spin's PostgreSQL (a URL).
pub enum SpinSql {
    Sqlite(SpinSqlite),
    Postgres(SpinPg),
}

impl SpinSql {
    /// Opens a SQLite database label granted to the component in spin.toml.
    pub fn open(label: &str) -> Result<Self, SqlError> {
        SpinSqlite::open(label).map(SpinSql::Sqlite)
    }

    /// Connects to PostgreSQL at `url` (`postgres://…`).
    pub fn open_postgres(url: &str) -> Result<Self, SqlError> {
        SpinPg::open(url).map(SpinSql::Postgres)
    }
}

impl Sql for SpinSql {
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        match self {
            SpinSql::Sqlite(s) => s.query(sql, params),
            SpinSql::Postgres(s) => s.query(sql, params),
        }
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        match self {
            SpinSql::Sqlite(s) => s.execute(sql, params),
            SpinSql::Postgres(s) => s.execute(sql, params),
        }
    }

    fn dialect(&self) -> Dialect {
        match self {
            SpinSql::Sqlite(s) => s.dialect(),
            SpinSql::Postgres(s) => s.dialect(),
        }
    }
}

/// Spin's SQLite interface.
pub struct SpinSqlite {
    conn: Connection,
}

impl SpinSqlite {
    /// Opens a database label granted to the component in spin.toml.
    pub fn open(label: &str) -> Result<Self, SqlError> {
        Connection::open(label)
            .map(|conn| SpinSqlite { conn })
            .map_err(|e| SqlError::new(format!("opening database {label:?}: {e}")))
    }
}

fn to_spin(value: &Value) -> SpinValue {
    match value {
        Value::Null => SpinValue::Null,
        Value::Integer(v) => SpinValue::Integer(*v),
        Value::Real(v) => SpinValue::Real(*v),
        Value::Text(v) => SpinValue::Text(v.clone()),
        Value::Blob(v) => SpinValue::Blob(v.clone()),
    }
}

fn from_spin(value: SpinValue) -> Value {
    match value {
        SpinValue::Null => Value::Null,
        SpinValue::Integer(v) => Value::Integer(v),
        SpinValue::Real(v) => Value::Real(v),
        SpinValue::Text(v) => Value::Text(v),
        SpinValue::Blob(v) => Value::Blob(v),
    }
}

impl Sql for SpinSqlite {
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let params: Vec<SpinValue> = params.iter().map(to_spin).collect();
        let result = self
            .conn
            .execute(sql, &params)
            .map_err(|e| SqlError::new(e.to_string()))?;
        Ok(result
            .rows
            .into_iter()
            .map(|row| row.values.into_iter().map(from_spin).collect())
            .collect())
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        self.query(sql, params)?;
        // A host call, not a statement: the v2 interface had no change
        // count, and `SELECT changes()` after each write was a sixth of a
        // device update's statements.
        Ok(self.conn.changes())
    }
}
