//! Spin's PostgreSQL interface (`spin:postgres/postgres@4.0.0`, spin-sdk's
//! `pg4`), inside components.
//!
//! The interface sends each parameter as the type of its value and the
//! host checks it against the type the server inferred, so the store's SQL
//! fixes every parameter's type where it could differ (`CAST(?N AS …)`,
//! `BIGINT` columns for every integer): integers go as `int64`, text as
//! `str`, blobs as `binary`, NULL as `db-null`.

use spin_sdk::pg4::{Connection, DbValue, ParameterValue};

use crate::dialect::Dialect;
use crate::sql::{Row, Sql, SqlError, Value};

pub struct SpinPg {
    conn: Connection,
}

impl SpinPg {
    /// Connects to `url` (`postgres://user:password@host:port/database`),
    /// which spin.toml's `allowed_outbound_hosts` must allow.
    pub fn open(url: &str) -> Result<Self, SqlError> {
        Connection::open(url)
            .map(|conn| SpinPg { conn })
            .map_err(|e| SqlError::new(format!("opening PostgreSQL: {e:?}")))
    }
}

fn to_pg(value: &Value) -> ParameterValue {
    match value {
        Value::Null => ParameterValue::DbNull,
        Value::Integer(v) => ParameterValue::Int64(*v),
        Value::Real(v) => ParameterValue::Floating64(*v),
        Value::Text(v) => ParameterValue::Str(v.clone()),
        Value::Blob(v) => ParameterValue::Binary(v.clone()),
    }
}

fn from_pg(value: DbValue) -> Result<Value, SqlError> {
    Ok(match value {
        DbValue::DbNull => Value::Null,
        DbValue::Boolean(v) => Value::Integer(v.into()),
        DbValue::Int8(v) => Value::Integer(v.into()),
        DbValue::Int16(v) => Value::Integer(v.into()),
        DbValue::Int32(v) => Value::Integer(v.into()),
        DbValue::Int64(v) => Value::Integer(v),
        DbValue::Floating32(v) => Value::Real(v.into()),
        DbValue::Floating64(v) => Value::Real(v),
        DbValue::Str(v) => Value::Text(v),
        DbValue::Binary(v) => Value::Blob(v),
        other => return Err(SqlError::new(format!("unexpected column value {other:?}"))),
    })
}

fn error(e: spin_sdk::pg4::PgError) -> SqlError {
    SqlError::new(format!("{e:?}"))
}

impl Sql for SpinPg {
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let params: Vec<ParameterValue> = params.iter().map(to_pg).collect();
        let result = self
            .conn
            .query(&Dialect::postgres_placeholders(sql), &params)
            .map_err(error)?;
        result
            .rows
            .into_iter()
            .map(|row| row.into_iter().map(from_pg).collect())
            .collect()
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let params: Vec<ParameterValue> = params.iter().map(to_pg).collect();
        self.conn
            .execute(&Dialect::postgres_placeholders(sql), &params)
            .map_err(error)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}
