//! SQLite's limits, on the backend the host's databases use (rusqlite, WAL,
//! synchronous=NORMAL, prepared statements: `NativeSql`). Blocking: run them
//! on a blocking thread.

use std::path::Path;
use std::time::Instant;

use fleetjobs_store::backend::native::NativeSql;
use fleetjobs_store::{params, Sql};

use crate::Result;

/// Commits/s of a single-row UPDATE, each its own transaction, one thread, on
/// a table of `rows` rows: the floor under a device update, which commits
/// one version bump.
pub fn single_commit_rate(dir: &Path, rows: usize, commits: usize) -> Result<f64> {
    let sql = NativeSql::open(dir.join("single-commit.db"))?;
    sql.execute(
        "CREATE TABLE rows (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, details TEXT NOT NULL)",
        &[],
    )?;
    sql.execute("BEGIN", &[])?;
    for id in 0..rows {
        sql.execute("INSERT INTO rows VALUES (?1, 1, '{}')", params![id as i64])?;
    }
    sql.execute("COMMIT", &[])?;

    let started = Instant::now();
    for n in 0..commits {
        // A prime stride visits rows all over the table, not one hot page.
        let id = (n * 7_919) % rows;
        sql.execute(
            "UPDATE rows SET version = version + 1, details = ?2 WHERE id = ?1",
            params![id as i64, format!("{{\"n\":\"{n}\"}}")],
        )?;
    }
    Ok(commits as f64 / started.elapsed().as_secs_f64())
}

/// Rows/s of a prepared insert of `rows` execution-shaped rows (with the
/// per-thing index) in one transaction: the floor under queueing a job's
/// executions. The same measure as `crates/store/examples/bench_create_job.rs`.
pub fn bulk_insert_rate(dir: &Path, rows: usize) -> Result<f64> {
    let sql = NativeSql::open(dir.join("bulk-insert.db"))?;
    sql.execute(
        "CREATE TABLE rows (job_id TEXT, thing_name TEXT, n INTEGER, status TEXT,
         queued_at INTEGER, PRIMARY KEY (job_id, thing_name, n))",
        &[],
    )?;
    sql.execute(
        "CREATE INDEX rows_by_thing ON rows (thing_name, status, queued_at)",
        &[],
    )?;
    let started = Instant::now();
    sql.execute("BEGIN", &[])?;
    for i in 0..rows {
        sql.execute(
            "INSERT INTO rows VALUES (?1, ?2, 1, 'QUEUED', ?3)",
            params!["bench", format!("thing-{i:06}"), i as i64],
        )?;
    }
    sql.execute("COMMIT", &[])?;
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_rates_are_measured() {
        let dir = tempfile::tempdir().unwrap();
        assert!(single_commit_rate(dir.path(), 100, 100).unwrap() > 0.0);
        assert!(bulk_insert_rate(dir.path(), 100).unwrap() > 0.0);
    }
}
