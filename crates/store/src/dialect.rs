//! Every difference between the store's two SQL dialects, SQLite and
//! PostgreSQL, in one place.
//!
//! The store writes its SQL once, in the subset both databases read alike
//! (`?N` parameters, `ON CONFLICT`, `->>`, `CAST(… AS BIGINT)`, aliased
//! subqueries); where they differ it asks the backend's [`Dialect`] for the
//! fragment: the transaction's `BEGIN`, a JSON array parameter as a row
//! source, hex-encoded blobs, the row locks PostgreSQL needs where SQLite's
//! single writer already serializes (see ARCHITECTURE.md, the store), the
//! migrations' lock and the schema itself. A PostgreSQL backend turns `?N`
//! into `$N` with [`Dialect::postgres_placeholders`].

use std::borrow::Cow;

/// Which database a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The type of one element of a [`crate::sql::json_rows`] row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonColumn {
    Integer,
    Text,
    /// A blob, which travels as hex.
    Blob,
}

/// A row lock, taken where a unit of work reads what it decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Exclusive: job-wide changes and sweeper ticks on a job; device
    /// requests on their thing.
    Update,
    /// Shared, compatible with other sharers and with updates of non-key
    /// columns (a job's `due_at`), exclusive against [`Lock::Update`]:
    /// device requests and timeouts on the jobs they change executions of.
    KeyShare,
    /// Exclusive, skipping rows another transaction holds: claims that
    /// several sweepers and publishers split.
    UpdateSkipLocked,
}

impl Dialect {
    /// Starts a write transaction. SQLite takes the database's write lock
    /// up front; PostgreSQL runs READ COMMITTED and the units of work take
    /// row locks ([`Dialect::lock`]).
    pub fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN ISOLATION LEVEL READ COMMITTED",
        }
    }

    /// The clause that locks the rows of `table` a `SELECT` reads, appended
    /// to it; empty on SQLite, whose writers are serialized by
    /// `BEGIN IMMEDIATE`.
    pub fn lock(self, lock: Lock, table: &str) -> String {
        match (self, lock) {
            (Dialect::Sqlite, _) => String::new(),
            (Dialect::Postgres, Lock::Update) => format!(" FOR UPDATE OF {table}"),
            (Dialect::Postgres, Lock::KeyShare) => format!(" FOR KEY SHARE OF {table}"),
            (Dialect::Postgres, Lock::UpdateSkipLocked) => {
                format!(" FOR UPDATE OF {table} SKIP LOCKED")
            }
        }
    }

    /// Whether units of work must take row locks (see [`Dialect::lock`]).
    pub fn needs_row_locks(self) -> bool {
        self == Dialect::Postgres
    }

    /// A [`crate::sql::json_rows`] parameter as a row source whose rows
    /// have `value` (the row, a JSON array) and `key` (its position). The
    /// parameter is text on both: Spin's PostgreSQL interface sends a
    /// string as text, which a `jsonb` parameter would refuse.
    pub fn json_rows_source(self, param: usize) -> String {
        match self {
            Dialect::Sqlite => format!("json_each(?{param})"),
            Dialect::Postgres => {
                format!(
                    "jsonb_array_elements(CAST(?{param} AS TEXT)::jsonb) WITH ORDINALITY AS rows (value, key)"
                )
            }
        }
    }

    /// A [`crate::sql::json_list`] parameter as a row source of `value`s.
    pub fn json_list_source(self, param: usize) -> String {
        match self {
            Dialect::Sqlite => format!("json_each(?{param})"),
            Dialect::Postgres => {
                format!("jsonb_array_elements_text(CAST(?{param} AS TEXT)::jsonb) AS list (value)")
            }
        }
    }

    /// `value ->> 0, value ->> 1, …`: the elements of a
    /// [`Dialect::json_rows_source`] row as SQL values of the given types.
    pub fn json_row_columns(self, columns: &[JsonColumn]) -> String {
        columns
            .iter()
            .enumerate()
            .map(|(i, column)| match (self, column) {
                (_, JsonColumn::Text) => format!("value ->> {i}"),
                (Dialect::Sqlite, JsonColumn::Integer) => format!("value ->> {i}"),
                (Dialect::Postgres, JsonColumn::Integer) => {
                    format!("CAST(value ->> {i} AS BIGINT)")
                }
                (Dialect::Sqlite, JsonColumn::Blob) => format!("unhex(value ->> {i})"),
                (Dialect::Postgres, JsonColumn::Blob) => format!("decode(value ->> {i}, 'hex')"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The migrations of this dialect's schema ([`crate::schema`]).
    pub fn migrations(self) -> &'static [(i64, &'static [&'static str])] {
        match self {
            Dialect::Sqlite => crate::schema::MIGRATIONS,
            Dialect::Postgres => crate::schema::POSTGRES_MIGRATIONS,
        }
    }

    /// The `schema_migrations` table.
    pub fn create_migrations_table(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY,
                    applied_at INTEGER NOT NULL
                )"
            }
            Dialect::Postgres => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY,
                    applied_at BIGINT NOT NULL
                )"
            }
        }
    }

    /// Run first in a migration's transaction so that processes migrating
    /// at once take turns: SQLite's `BEGIN IMMEDIATE` already does; on
    /// PostgreSQL a transaction-scoped advisory lock per schema (creating
    /// `schema_migrations` races otherwise).
    pub fn migration_lock(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => {
                Some("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext('fleetjobs migrations ' || current_schema()))) AS locked")
            }
        }
    }

    /// A statement taking a transaction-scoped claim on the text `?1` that
    /// another transaction does not wait for: it gets 0 while this one
    /// holds it, 1 otherwise. None on SQLite, where one writer at a time
    /// holds every claim.
    pub fn try_claim(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(
                "SELECT CASE WHEN pg_try_advisory_xact_lock(hashtext(CAST(?1 AS TEXT)))
                 THEN 1 ELSE 0 END",
            ),
        }
    }

    /// PostgreSQL's `$N` for the store's `?N` (outside quoted text).
    pub fn postgres_placeholders(sql: &str) -> Cow<'_, str> {
        if !sql.contains('?') {
            return Cow::Borrowed(sql);
        }
        let mut out = String::with_capacity(sql.len());
        let mut quoted = false;
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\'' => quoted = !quoted,
                '?' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => {
                    out.push('$');
                    continue;
                }
                _ => {}
            }
            out.push(c);
        }
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            Dialect::postgres_placeholders("SELECT ?1, '?2', ?12 WHERE a ? b"),
            "SELECT $1, '?2', $12 WHERE a ? b"
        );
        assert!(matches!(
            Dialect::postgres_placeholders("SELECT 1"),
            Cow::Borrowed(_)
        ));
    }
}
