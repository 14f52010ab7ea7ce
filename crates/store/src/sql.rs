//! The one seam between the store and a database: run a statement with
//! positional parameters (`?1`, `?2`, …) and get rows of plain values.
//!
//! Every backend runs the same SQL; where SQLite and PostgreSQL differ, the
//! store asks the backend's [`Dialect`] (`dialect.rs`, the one place that
//! knows the differences).

use fleetjobs_core::Timestamp;

pub use crate::dialect::Dialect;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

pub type Row = Vec<Value>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("database error: {message}")]
pub struct SqlError {
    pub message: String,
}

impl SqlError {
    pub fn new(message: impl Into<String>) -> Self {
        SqlError {
            message: message.into(),
        }
    }
}

pub trait Sql {
    /// Runs one statement and returns its rows.
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError>;

    /// Runs one statement and returns how many rows it changed.
    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError>;

    /// The SQL this backend speaks.
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Integer(v as i64)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Integer(v as i64)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}

impl From<Timestamp> for Value {
    fn from(v: Timestamp) -> Self {
        Value::Integer(v.0)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Builds a parameter slice: `params![job_id, now]`.
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::sql::Value::from($value)),*][..]
    };
}

/// Many rows as one parameter: a JSON array of arrays, which an
/// `INSERT … SELECT` [`Dialect::json_row_columns`] `FROM`
/// [`Dialect::json_rows_source`] writes in one statement — one call through
/// Spin's interface instead of one per row. A blob travels as hex.
pub fn json_rows(rows: impl IntoIterator<Item = Vec<Value>>) -> Value {
    let array: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|value| match value {
                    Value::Null => serde_json::Value::Null,
                    Value::Integer(i) => i.into(),
                    Value::Real(r) => r.into(),
                    Value::Text(t) => t.into(),
                    Value::Blob(bytes) => hex(&bytes).into(),
                })
                .collect()
        })
        .collect();
    Value::Text(serde_json::Value::Array(array).to_string())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    text
}

/// Names as one parameter, for `IN (SELECT value FROM `
/// [`Dialect::json_list_source`]`)`.
pub fn json_list<'a>(names: impl IntoIterator<Item = &'a str>) -> Value {
    Value::Text(serde_json::Value::from_iter(names).to_string())
}

/// Typed reads of a result column.
pub trait RowExt {
    fn int(&self, i: usize) -> Result<i64, SqlError>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, SqlError>;
    fn text(&self, i: usize) -> Result<&str, SqlError>;
    fn opt_text(&self, i: usize) -> Result<Option<&str>, SqlError>;
    fn blob(&self, i: usize) -> Result<&[u8], SqlError>;

    fn timestamp(&self, i: usize) -> Result<Timestamp, SqlError> {
        self.int(i).map(Timestamp)
    }

    fn opt_timestamp(&self, i: usize) -> Result<Option<Timestamp>, SqlError> {
        self.opt_int(i).map(|v| v.map(Timestamp))
    }
}

fn column_error(i: usize, wanted: &str, got: Option<&Value>) -> SqlError {
    SqlError::new(format!("column {i}: expected {wanted}, found {got:?}"))
}

impl RowExt for Row {
    fn int(&self, i: usize) -> Result<i64, SqlError> {
        match self.get(i) {
            Some(Value::Integer(v)) => Ok(*v),
            other => Err(column_error(i, "an integer", other)),
        }
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, SqlError> {
        match self.get(i) {
            Some(Value::Null) => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    fn text(&self, i: usize) -> Result<&str, SqlError> {
        match self.get(i) {
            Some(Value::Text(v)) => Ok(v),
            other => Err(column_error(i, "text", other)),
        }
    }

    fn opt_text(&self, i: usize) -> Result<Option<&str>, SqlError> {
        match self.get(i) {
            Some(Value::Null) => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    fn blob(&self, i: usize) -> Result<&[u8], SqlError> {
        match self.get(i) {
            Some(Value::Blob(v)) => Ok(v),
            Some(Value::Text(v)) => Ok(v.as_bytes()),
            other => Err(column_error(i, "a blob", other)),
        }
    }
}
