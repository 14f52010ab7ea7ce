//! PostgreSQL for the rows on a shared store (issue 18): a fresh database
//! per row, and PostgreSQL's own limits measured beside the figures. The
//! `postgres` crate runs its own runtime: everything here is blocking, run
//! it on a blocking thread (dropping a [`Database`] is safe anywhere).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use fleetjobs_core::Timestamp;
use fleetjobs_store::backend::postgres::PgSql;
use fleetjobs_store::sql::RowExt;
use fleetjobs_store::{params, Sql, Store, StoreOptions};

use crate::host::process_cpu_seconds;
use crate::Result;

/// The default of `--database-url`, as the store's tests and
/// `scripts/postgres.sh` use it.
pub const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Rows of the single-commit table, as for SQLite's limit (limits.md).
pub const COMMIT_ROWS: usize = 100_000;
/// Connections committing at once for PostgreSQL's single-commit limit:
/// a server's rate is a concurrent one (group commit), as the hosts use it.
pub const COMMIT_CONNECTIONS: usize = 16;

/// Databases made by this process so far.
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// A database of its own for one row, `fleetjobs_bench_<pid>_<n>`, made on
/// the server of `server_url` (through its database) with the store's
/// schema, and dropped (`WITH (FORCE)`) when this is dropped.
pub struct Database {
    server_url: String,
    pub name: String,
    /// The database's URL for the bench's own connections.
    pub url: String,
    /// `host:port`, the components' `database_host`.
    pub host: String,
}

impl Database {
    pub fn create(server_url: &str) -> Result<Database> {
        let name = format!(
            "fleetjobs_bench_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        let url = database_url(server_url, &name)?;
        let host = host_port(server_url)?;
        let admin = PgSql::connect(server_url).map_err(|e| {
            format!("PostgreSQL at {server_url} (scripts/postgres.sh makes it answer): {e}")
        })?;
        admin.execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), &[])?;
        admin.execute(&format!("CREATE DATABASE {name}"), &[])?;
        let database = Database {
            server_url: server_url.to_owned(),
            name,
            url,
            host,
        };
        // Migrated here, not by the hosts' first requests all at once.
        Store::new(PgSql::connect(&database.url)?, StoreOptions::default())
            .migrate(Timestamp(0))?;
        Ok(database)
    }

    /// The URL the hosts' components connect with: without TLS, as a local
    /// benchmark runs (Debian's server offers a self-signed certificate,
    /// which the host's TLS, as Spin's, would refuse), unless the URL says.
    pub fn components_url(&self) -> String {
        if self.url.contains("sslmode=") {
            return self.url.clone();
        }
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}sslmode=disable", self.url)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        // A thread of its own: the `postgres` crate must not block a runtime.
        let dropped = std::thread::spawn(move || {
            PgSql::connect(&server_url)?
                .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), &[])
        })
        .join();
        if !matches!(dropped, Ok(Ok(_))) {
            eprintln!("could not drop the database {}", self.name);
        }
    }
}

/// The CPU time the server spent for one database: its backends' CPU
/// (from /proc, so for a server on this machine) at a start, and later the
/// difference. The hosts' pooled backends live as long as their host, so
/// the difference is what the hosts' work cost the server, whatever else
/// the server serves meanwhile.
pub struct ServerCpu {
    url: String,
    name: String,
    start: HashMap<i64, f64>,
}

impl ServerCpu {
    /// For the database `name` at `url` ([`Database`]'s fields).
    pub fn start(url: String, name: String) -> Result<ServerCpu> {
        let start = backends_cpu(&url, &name)?;
        Ok(ServerCpu { url, name, start })
    }

    /// Seconds since the start; None when no backend could be read (a
    /// server on another machine).
    pub fn seconds(&self) -> Result<Option<f64>> {
        let now = backends_cpu(&self.url, &self.name)?;
        if now.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            now.iter()
                .map(|(pid, cpu)| cpu - self.start.get(pid).unwrap_or(&0.0))
                .sum(),
        ))
    }
}

/// The CPU seconds of each backend serving `name` (but this connection's),
/// by process id; those /proc does not show are left out.
fn backends_cpu(url: &str, name: &str) -> Result<HashMap<i64, f64>> {
    let rows = PgSql::connect(url)?.query(
        "SELECT pid FROM pg_stat_activity WHERE datname = CAST(?1 AS TEXT) \
         AND pid <> pg_backend_pid()",
        params![name],
    )?;
    let mut cpu = HashMap::new();
    for row in rows {
        let pid = row.int(0)?;
        if let Ok(seconds) = process_cpu_seconds(pid as u32) {
            cpu.insert(pid, seconds);
        }
    }
    Ok(cpu)
}

/// `server_url` with its database replaced by `name` (options kept).
fn database_url(server_url: &str, name: &str) -> Result<String> {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let authority = base
        .strip_prefix("postgres://")
        .or_else(|| base.strip_prefix("postgresql://"))
        .ok_or_else(|| format!("not a postgres:// URL: {server_url}"))?;
    let server = if authority.contains('/') {
        base.rsplit_once('/').map_or(base, |(server, _)| server)
    } else {
        base
    };
    Ok(match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    })
}

/// The URL's `host:port` (5432 when it names none).
fn host_port(server_url: &str) -> Result<String> {
    let rest = server_url
        .strip_prefix("postgres://")
        .or_else(|| server_url.strip_prefix("postgresql://"))
        .ok_or_else(|| format!("not a postgres:// URL: {server_url}"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.is_empty() {
        return Err(format!("no host in {server_url}").into());
    }
    let has_port = match host.rsplit_once(':') {
        // `[::1]` alone has colons but no port.
        Some((_, port)) => port.chars().all(|c| c.is_ascii_digit()) && !host.ends_with(']'),
        None => false,
    };
    Ok(if has_port {
        host.to_owned()
    } else {
        format!("{host}:5432")
    })
}

/// Commits/s of single-row `UPDATE … WHERE id = $1` autocommits on a table
/// of `rows` rows from `connections` connections at once, each in a closed
/// loop, counted for `measure` after `warmup`: the floor under a device
/// update on PostgreSQL, which commits one version bump. The table is
/// dropped afterwards.
pub fn single_commit_rate(
    url: &str,
    rows: usize,
    connections: usize,
    warmup: Duration,
    measure: Duration,
) -> Result<f64> {
    let setup = PgSql::connect(url)?;
    setup.execute("DROP TABLE IF EXISTS bench_commits", &[])?;
    setup.execute(
        "CREATE TABLE bench_commits (id BIGINT PRIMARY KEY, version BIGINT NOT NULL, \
         details TEXT NOT NULL)",
        &[],
    )?;
    setup.execute(
        "INSERT INTO bench_commits SELECT i, 1, '{}' FROM generate_series(0, CAST(?1 AS BIGINT) - 1) AS i",
        params![rows as i64],
    )?;
    setup.execute("ANALYZE bench_commits", &[])?;

    let start = Arc::new(Barrier::new(connections));
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let (url, start) = (url.to_owned(), start.clone());
            std::thread::spawn(move || -> Result<u64> {
                let sql = PgSql::connect(&url)?;
                start.wait();
                let counts_from = Instant::now() + warmup;
                let counts_until = counts_from + measure;
                let mut counted = 0;
                for n in 0.. {
                    let now = Instant::now();
                    if now >= counts_until {
                        break;
                    }
                    // Distinct rows for distinct (worker, n), all over the
                    // table: a prime stride, as SQLite's limit does.
                    let id = ((worker + n * connections) * 7_919) % rows;
                    sql.execute(
                        "UPDATE bench_commits SET version = version + 1, details = ?2 WHERE id = ?1",
                        params![id as i64, format!("{{\"n\":\"{n}\"}}")],
                    )?;
                    if now >= counts_from {
                        counted += 1;
                    }
                }
                Ok(counted)
            })
        })
        .collect();
    let mut commits = 0;
    let mut failure = None;
    for worker in workers {
        match worker.join() {
            Ok(Ok(counted)) => commits += counted,
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some("a committing thread panicked".into()),
        }
    }
    setup.execute("DROP TABLE bench_commits", &[])?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(commits as f64 / measure.as_secs_f64())
}

/// Rows/s of one `INSERT … SELECT … FROM generate_series` of `rows`
/// execution-shaped rows (the executions' key and per-thing index, text
/// compared as bytes as the store's schema does), committed: the floor under
/// queueing a job's executions on PostgreSQL. The table is dropped afterwards.
pub fn bulk_insert_rate(url: &str, rows: usize) -> Result<f64> {
    let sql = PgSql::connect(url)?;
    sql.execute("DROP TABLE IF EXISTS bench_bulk", &[])?;
    sql.execute(
        r#"CREATE TABLE bench_bulk (job_id TEXT COLLATE "C" NOT NULL,
           thing_name TEXT COLLATE "C" NOT NULL, n BIGINT NOT NULL,
           status TEXT COLLATE "C" NOT NULL, queued_at BIGINT NOT NULL,
           PRIMARY KEY (job_id, thing_name, n))"#,
        &[],
    )?;
    sql.execute(
        "CREATE INDEX bench_bulk_by_thing ON bench_bulk (thing_name, status, queued_at)",
        &[],
    )?;
    let started = Instant::now();
    sql.execute(
        "INSERT INTO bench_bulk SELECT 'bench', 'thing-' || lpad(CAST(i AS TEXT), 6, '0'), 1, \
         'QUEUED', i FROM generate_series(0, CAST(?1 AS BIGINT) - 1) AS i",
        params![rows as i64],
    )?;
    let elapsed = started.elapsed();
    sql.execute("DROP TABLE bench_bulk", &[])?;
    Ok(rows as f64 / elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_of_its_own_on_the_same_server() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/test", "b").unwrap(),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            database_url("postgres://u:p@db:5433/test?sslmode=disable", "b").unwrap(),
            "postgres://u:p@db:5433/b?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://db", "b").unwrap(),
            "postgres://db/b"
        );
        assert!(database_url("mysql://db/test", "b").is_err());
    }

    /// On the PostgreSQL the store's tests use (`scripts/postgres.sh`).
    #[test]
    fn both_rates_are_measured_in_a_database_dropped_afterwards() {
        let server = std::env::var("FLEETJOBS_TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_SERVER_URL.to_owned());
        let database = Database::create(&server).unwrap();
        let short = Duration::from_millis(200);
        assert!(single_commit_rate(&database.url, 100, 4, short, short).unwrap() > 0.0);
        assert!(bulk_insert_rate(&database.url, 100).unwrap() > 0.0);
        let cpu = ServerCpu::start(database.url.clone(), database.name.clone()).unwrap();
        let busy = PgSql::connect(&database.url).unwrap();
        busy.execute("SELECT count(*) FROM generate_series(1, 3000000)", &[])
            .unwrap();
        assert!(cpu.seconds().unwrap().unwrap() > 0.0);
        drop(busy);
        let name = database.name.clone();
        drop(database);
        let left = PgSql::connect(&server)
            .unwrap()
            .query(
                "SELECT 1 FROM pg_database WHERE datname = ?1",
                params![name.as_str()],
            )
            .unwrap();
        assert!(left.is_empty());
    }

    #[test]
    fn the_components_host_is_the_urls() {
        assert_eq!(
            host_port("postgres://postgres@127.0.0.1:5432/test").unwrap(),
            "127.0.0.1:5432"
        );
        assert_eq!(host_port("postgres://u:p@db/test").unwrap(), "db:5432");
        assert_eq!(
            host_port("postgresql://[::1]:6432/x?a=b").unwrap(),
            "[::1]:6432"
        );
        assert_eq!(host_port("postgres://[::1]/x").unwrap(), "[::1]:5432");
    }
}
