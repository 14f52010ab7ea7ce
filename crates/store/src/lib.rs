//! The fleetjobs store: schema, migrations and every query, over the [`Sql`]
//! trait so the same SQL runs in Spin components and natively.
//!
//! The store persists what the core decides. Its operations (in [`ops`]) load
//! state, call the core, write the result, the per-status counters and the
//! outbox rows in one transaction. It never decides a rule itself.

mod apply;
pub mod backend;
mod codec;
mod commands;
pub mod dialect;
mod executions;
mod jobs;
mod locks;
pub mod ops;
mod outbox;
pub mod schema;
pub mod sql;
pub mod sweep;
mod things;
mod tokens;

use fleetjobs_core::{Rejection, Timestamp};

pub use codec::Page;
pub use commands::CommandQuery;
pub use dialect::Dialect;
pub use executions::ExecutionQuery;
pub use jobs::JobQuery;
pub use outbox::{lane_of, LaneClaim, OutboxMessage, Published, OUTBOX_LANES, OUTBOX_LEASE_MS};
pub use sql::{Sql, SqlError, Value};
pub use sweep::{SweepOptions, SweepReport};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request broke a rule; the caller answers with a 4xx.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// A service the change must be confirmed by (the broker) did not
    /// confirm it; the transaction rolls back.
    #[error("{0}")]
    Unavailable(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Settings that shape what the store writes.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Device topics live under `{topic_prefix}/{thing}/jobs/…`.
    pub topic_prefix: String,
    /// Command requests go to `{commands_prefix}/{thing}/executions/{id}/request`.
    pub commands_prefix: String,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            topic_prefix: fleetjobs_core::protocol::DEFAULT_TOPIC_PREFIX.into(),
            commands_prefix: fleetjobs_core::device_command::DEFAULT_COMMANDS_PREFIX.into(),
        }
    }
}

pub struct Store<S> {
    sql: S,
    options: StoreOptions,
    /// Whether a [`Store::transaction`] is open: an inner one joins it.
    in_transaction: std::cell::Cell<bool>,
    /// The open transaction's counter changes by (job, status), written
    /// at its end in key order (see [`Store::count`]).
    counts: std::cell::RefCell<std::collections::BTreeMap<(String, &'static str), i64>>,
    /// Whether the open transaction wrote outbox messages
    /// ([`Store::claim_lane_of`] looks for nothing otherwise).
    wrote_messages: std::cell::Cell<bool>,
}

impl<S: Sql> Store<S> {
    pub fn new(sql: S, options: StoreOptions) -> Self {
        Store {
            sql,
            options,
            in_transaction: std::cell::Cell::new(false),
            counts: Default::default(),
            wrote_messages: std::cell::Cell::new(false),
        }
    }

    pub fn sql(&self) -> &S {
        &self.sql
    }

    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// The SQL dialect of the backend.
    pub fn dialect(&self) -> Dialect {
        self.sql.dialect()
    }

    /// Applies the migrations this database has not seen yet. Safe to call on
    /// every open, from several processes at once.
    pub fn migrate(&self, now: Timestamp) -> Result<()> {
        let dialect = self.dialect();
        let migrations = dialect.migrations();
        // Fast path for every request of a component: already up to date,
        // so no write lock is taken.
        let latest = migrations.last().map_or(0, |(v, _)| *v);
        if self.schema_version().ok() == Some(latest) {
            return Ok(());
        }
        self.transaction(|store| {
            if let Some(lock) = dialect.migration_lock() {
                store.sql.query(lock, &[])?;
            }
            store.sql.execute(dialect.create_migrations_table(), &[])?;
            Ok(())
        })?;
        for (version, statements) in migrations {
            self.transaction(|store| {
                if let Some(lock) = dialect.migration_lock() {
                    store.sql.query(lock, &[])?;
                }
                let applied = store.sql.query(
                    "SELECT 1 FROM schema_migrations WHERE version = ?1",
                    params![*version],
                )?;
                if applied.is_empty() {
                    for statement in *statements {
                        store.sql.execute(statement, &[])?;
                    }
                    store.sql.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                        params![*version, now],
                    )?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The latest applied schema version.
    pub fn schema_version(&self) -> Result<i64> {
        let rows = self.sql.query(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?;
        Ok(sql::RowExt::int(&rows[0], 0)?)
    }

    /// Runs `work` in one write transaction. Any error rolls everything
    /// back: a rejected request writes nothing. Called inside another
    /// transaction, `work` joins it: its error rolls back the outer one too.
    ///
    /// On SQLite (`BEGIN IMMEDIATE`) the write lock is taken up front, so
    /// transactions run one at a time and concurrent writers queue on the
    /// busy timeout instead of failing mid-way. On PostgreSQL (READ
    /// COMMITTED) the units of work lock the rows they decide on (`locks.rs`).
    pub fn transaction<T>(&self, work: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        if self.in_transaction.get() {
            return work(self);
        }
        self.sql.execute(self.dialect().begin(), &[])?;
        self.in_transaction.set(true);
        self.wrote_messages.set(false);
        let outcome = work(self).and_then(|value| {
            self.flush_counts()?;
            Ok(value)
        });
        self.in_transaction.set(false);
        match outcome {
            Ok(value) => match self.sql.execute("COMMIT", &[]) {
                Ok(_) => Ok(value),
                Err(e) => {
                    let _ = self.sql.execute("ROLLBACK", &[]);
                    Err(e.into())
                }
            },
            Err(e) => {
                self.counts.borrow_mut().clear();
                let _ = self.sql.execute("ROLLBACK", &[]);
                Err(e)
            }
        }
    }
}
