//! PostgreSQL on the `postgres` crate (synchronous): native tests, tools and
//! benchmarks against a shared database.
//!
//! Statements are prepared once per connection and cached by their text.
//! Parameters are checked against the types the server inferred for them
//! (the prepared statement's) exactly as Spin's interface checks them, so
//! the native tests vouch for the SQL the components send; result columns
//! come back as the [`Value`] of their type.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;

use bytes::BytesMut;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, Config, NoTls, Row as PgRow, Statement};

use crate::dialect::Dialect;
use crate::sql::{Row, Sql, SqlError, Value};

/// Prepared statements kept per connection at most; past that the cache
/// starts again (the store has a few hundred distinct statements).
const STATEMENT_CACHE: usize = 512;

pub struct PgSql {
    client: RefCell<Client>,
    statements: RefCell<HashMap<String, Statement>>,
}

/// The error's text with its SQLSTATE (`40P01`: deadlock, `40001`:
/// serialization failure), so a caller can tell what happened.
fn error(e: postgres::Error) -> SqlError {
    match e.as_db_error() {
        Some(db) => SqlError::new(format!("{} ({})", db.message(), db.code().code())),
        None => SqlError::new(e.to_string()),
    }
}

impl PgSql {
    /// Connects to `url` (`postgres://user@host:port/database?options`).
    pub fn connect(url: &str) -> Result<Self, SqlError> {
        let config: Config = url
            .parse()
            .map_err(|e| SqlError::new(format!("database URL: {e}")))?;
        Self::connect_with(&config)
    }

    /// Connects with a prepared configuration (say, with a `search_path`
    /// in its options).
    pub fn connect_with(config: &Config) -> Result<Self, SqlError> {
        let client = config.connect(NoTls).map_err(error)?;
        Ok(PgSql {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
        })
    }

    fn statement(&self, sql: &str) -> Result<Statement, SqlError> {
        if let Some(statement) = self.statements.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let text = Dialect::postgres_placeholders(sql);
        let statement = self.client.borrow_mut().prepare(&text).map_err(error)?;
        let mut statements = self.statements.borrow_mut();
        if statements.len() >= STATEMENT_CACHE {
            statements.clear();
        }
        statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn run(&self, sql: &str, params: &[Value]) -> Result<Vec<PgRow>, SqlError> {
        let statement = self.statement(sql)?;
        if statement.params().len() != params.len() {
            return Err(SqlError::new(format!(
                "{} parameters given, the statement has {}: {sql}",
                params.len(),
                statement.params().len()
            )));
        }
        let params: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.client
            .borrow_mut()
            .query(&statement, &params)
            .map_err(error)
    }
}

fn column(row: &PgRow, i: usize) -> Result<Value, SqlError> {
    let ty = row.columns()[i].type_();
    let value = |e: postgres::Error| SqlError::new(format!("column {i}: {e}"));
    Ok(match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i).map_err(value)?.into(),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(value)?
            .map(i64::from)
            .into(),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(value)?
            .map(i64::from)
            .into(),
        Type::BOOL => row.try_get::<_, Option<bool>>(i).map_err(value)?.into(),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)
            .map_err(value)?
            .map_or(Value::Null, Value::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)
            .map_err(value)?
            .map_or(Value::Null, |v| Value::Real(v.into())),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i).map_err(value)?.into(),
        Type::VOID => Value::Null,
        _ => row.try_get::<_, Option<String>>(i).map_err(value)?.into(),
    })
}

impl Sql for PgSql {
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        self.run(sql, params)?
            .iter()
            .map(|row| (0..row.len()).map(|i| column(row, i)).collect())
            .collect()
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.client
            .borrow_mut()
            .execute(&statement, &params)
            .map_err(error)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

/// A [`Value`] sent as its own type, as Spin's PostgreSQL interface sends
/// it (`spin_pg.rs`), so that what passes here passes there: an integer to
/// a `BIGINT` parameter, text to a text one, a blob to `BYTEA`, NULL to any.
/// The store's SQL fixes each parameter's type where the server could infer
/// another (`CAST(?N AS …)`).
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Integer(v), &Type::INT8) => v.to_sql(ty, out),
            (Value::Real(v), &Type::FLOAT8) => v.to_sql(ty, out),
            (Value::Text(v), &Type::TEXT | &Type::VARCHAR | &Type::BPCHAR | &Type::NAME) => {
                v.as_str().to_sql(ty, out)
            }
            (Value::Blob(v), &Type::BYTEA) => v.as_slice().to_sql(ty, out),
            _ => Err(format!("a {self:?} cannot be sent as {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
