//! The row locks a unit of work takes on PostgreSQL before it reads what it
//! decides on (on SQLite, whose `BEGIN IMMEDIATE` lets one writer in at a
//! time, they are no-ops).
//!
//! PostgreSQL runs the store's transactions READ COMMITTED, so two units of
//! work see each other's commits between statements. Each locks, before
//! reading, what it decides on, always in one order so that none waits in a
//! circle:
//!
//! 1. a device request's clientToken row (`device_requests`, written first);
//!    thing groups, by name: `FOR UPDATE` to change a group's members,
//!    `FOR KEY SHARE` to create or extend a job targeting it (so a thing
//!    joining a group and a job for that group see each other);
//! 2. jobs, by id: `FOR UPDATE` for job-wide changes and sweeper ticks,
//!    `FOR KEY SHARE` for units that change some of a job's executions (device
//!    requests, timeouts, membership changes), which run side by side but
//!    never beside a job-wide change of the same job, and may still move the
//!    job's `due_at` (an update of a non-key column);
//! 3. things, by name, `FOR UPDATE`: a thing's executions and pending list
//!    change only under its lock, so the notices worked out from that list are
//!    exact (the timeout sweep skips locked things: `SKIP LOCKED`);
//! 4. the rows written: executions (version-checked), the job's counters
//!    (written at commit in key order, `Store::count`), outbox rows;
//! 5. outbox lanes, claimed `SKIP LOCKED`.

use crate::dialect::Lock;
use crate::sql::{json_list, RowExt, Sql};
use crate::{Result, Store};

impl<S: Sql> Store<S> {
    /// Locks the rows of `table` whose `key` is one of `keys`, in key
    /// order; returns the keys locked (all on SQLite; with
    /// [`Lock::UpdateSkipLocked`], those no one else holds).
    fn lock_rows(&self, table: &str, key: &str, keys: &[&str], lock: Lock) -> Result<Vec<String>> {
        let dialect = self.dialect();
        if !dialect.needs_row_locks() || keys.is_empty() {
            let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            keys.sort_unstable();
            keys.dedup();
            return Ok(keys);
        }
        let rows = self.sql.query(
            &format!(
                "SELECT {key} FROM {table} WHERE {key} IN (SELECT value FROM {}) ORDER BY {key}{}",
                dialect.json_list_source(1),
                dialect.lock(lock, table)
            ),
            &[json_list(keys.iter().copied())],
        )?;
        rows.iter().map(|r| Ok(r.text(0)?.to_owned())).collect()
    }

    /// Locks jobs (step 2 of the order above).
    pub(crate) fn lock_jobs(&self, job_ids: &[&str], lock: Lock) -> Result<Vec<String>> {
        self.lock_rows("jobs", "job_id", job_ids, lock)
    }

    /// Locks thing groups (step 1 of the order above).
    pub(crate) fn lock_groups(&self, group_names: &[String], lock: Lock) -> Result<Vec<String>> {
        let names: Vec<&str> = group_names.iter().map(String::as_str).collect();
        self.lock_rows("thing_groups", "group_name", &names, lock)
    }

    /// Whether this transaction is the one sweeper ticking `job_id` now: on
    /// PostgreSQL a transaction-scoped advisory lock that a second sweeper
    /// does not wait for but skips (a row lock would also wait for, or
    /// skip, every device request holding the job's key-share lock).
    pub(crate) fn claim_tick(&self, job_id: &str) -> Result<bool> {
        let Some(claim) = self.dialect().try_claim() else {
            return Ok(true);
        };
        let rows = self
            .sql
            .query(claim, &[format!("fleetjobs tick {job_id}").into()])?;
        Ok(rows.first().and_then(|r| r.first()) == Some(&crate::Value::Integer(1)))
    }

    /// Locks things (step 3 of the order above).
    pub(crate) fn lock_things(&self, thing_names: &[&str], lock: Lock) -> Result<Vec<String>> {
        self.lock_rows("things", "thing_name", thing_names, lock)
    }

    /// Locks one job for a job-wide change, then reads it.
    pub(crate) fn job_for_update(&self, job_id: &str) -> Result<fleetjobs_core::Job> {
        self.lock_jobs(&[job_id], Lock::Update)?;
        self.existing_job(job_id)
    }

    /// Locks the jobs a change of some of their executions on one thing
    /// reads, then the thing.
    pub(crate) fn lock_for_thing(&self, job_ids: &[&str], thing_name: &str) -> Result<()> {
        self.lock_jobs(job_ids, Lock::KeyShare)?;
        self.lock_things(&[thing_name], Lock::Update)?;
        Ok(())
    }
}
