//! `spin:postgres/postgres@4.0.0` (spin-sdk 5.2's `pg4`) and `@3.0.0`
//! (`pg3`), on tokio-postgres pooled by deadpool-postgres, as Spin 3.6's
//! `factor-outbound-pg` does it:
//!
//! - `open` checks each host of the connection string (URL or `key=value`
//!   form) against `allowed_outbound_hosts` as `postgres://host[:port]` (5432
//!   when the string gives no port; Unix sockets are refused), then leases a
//!   client from the address' pool (64 clients per address, the 16 most
//!   recently used addresses kept). The guest's `connection` holds that
//!   client until it drops it, so `BEGIN … COMMIT` across calls is one
//!   transaction;
//! - TLS as the connection string says: `sslmode=disable` is plain TCP,
//!   `prefer` (the default) and `require` negotiate TLS and verify the
//!   server's certificate and name against the system's roots (rustls here,
//!   native-tls in Spin), so a self-signed server fails to connect, as on Spin;
//! - each statement is prepared unnamed and run (nothing is cached across
//!   guests, so a schema change never meets a stale plan); parameters and
//!   rows are converted by [`types`], Spin's mapping; a result over 128 MiB
//!   is refused;
//! - errors are Spin's variants: `connection-failed` (a denied address, a
//!   connection that cannot be made), `bad-parameter` (a parameter `query`
//!   cannot convert; `execute` calls it `value-conversion-failed`, as Spin
//!   does), and `query-failed` with the server's SQLSTATE, severity, message,
//!   detail and other fields (v4) or its text (v3).
//!
//! A client comes back to its pool clean: when the guest drops its
//! connection (or traps, or runs out of time), a query still running is
//! cancelled, and a background task rolls back any transaction and resets
//! the session (`ROLLBACK` and what `DISCARD ALL` does but deallocating
//! statements) before the client is lent again; a client that cannot be
//! reset is closed. Spin resets a client when it is next lent (deadpool's
//! `Clean` recycling) and does not roll back, so an unfinished transaction
//! there holds its locks until then; here it never outlives its guest.

// The interface's own error (with v4's server details) is what these
// functions return, large as it is.
#![allow(clippy::result_large_err)]

mod types;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use futures_util::TryStreamExt;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;
use tokio_postgres::config::{Host as PgHost, SslMode};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;
use wasmtime::component::Resource;

use crate::app::HostState;
use crate::bindings::spin::postgres3_0_0::postgres as v3;
use crate::bindings::spin::postgres4_0_0::postgres as v4;
use crate::outbound::AllowedHosts;

/// Clients per address by default (Spin's `CONNECTION_POOL_SIZE`).
pub const POOL_SIZE: usize = 64;

/// Addresses whose pools are kept (Spin's `CONNECTION_POOL_CACHE_CAPACITY`).
const POOLS_KEPT: usize = 16;

/// The largest result a guest is handed (Spin's `MAX_HOST_BUFFERED_BYTES`).
const MAX_RESULT_BYTES: usize = 128 << 20;

/// How long resetting a returned client may take before it is closed instead.
const RESET_TIMEOUT: Duration = Duration::from_secs(10);

/// What a client runs when its guest is done with it: the end of any
/// transaction, then a session as new (`DISCARD ALL` without `DEALLOCATE ALL`
/// and `DISCARD PLANS`, which cannot run in a transaction block and would
/// empty tokio-postgres' statements).
const RESET_SQL: &str = "ROLLBACK; CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; \
                         UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; \
                         DISCARD SEQUENCES";

/// How a pool's clients talk to the server.
#[derive(Clone)]
enum Tls {
    /// `sslmode=disable`.
    Off,
    /// `prefer` or `require`.
    Rustls(MakeRustlsConnect),
}

/// The pools, by connection string, most recently used last.
pub struct PostgresPools {
    /// Clients per address: replicas sharing one server must stay within
    /// its `max_connections` together.
    pool_size: usize,
    pools: Mutex<VecDeque<(String, AddressPool)>>,
    /// The TLS client configuration, built on first use (reading the
    /// system's roots is file I/O).
    tls: OnceCell<MakeRustlsConnect>,
}

impl PostgresPools {
    pub fn new(pool_size: usize) -> Self {
        PostgresPools {
            pool_size,
            pools: Mutex::default(),
            tls: OnceCell::new(),
        }
    }
}

#[derive(Clone)]
struct AddressPool {
    pool: Pool,
    tls: Tls,
}

/// What a guest's `connection` resource holds: a client leased from its
/// address' pool, until the guest drops it.
pub struct PgHandle {
    client: Option<Object>,
    tls: Tls,
    /// A statement is running (if the guest is stopped meanwhile, it is
    /// cancelled on the server).
    running: AtomicBool,
}

/// Marks the handle's statement as running until [`Running::done`]. A
/// statement whose future is dropped before (its guest stopped) stays
/// marked, so dropping the handle cancels it on the server.
struct Running<'a>(&'a AtomicBool);

impl<'a> Running<'a> {
    fn start(flag: &'a AtomicBool) -> Self {
        flag.store(true, Ordering::Relaxed);
        Running(flag)
    }

    fn done(self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

impl PgHandle {
    fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("held until the handle is dropped")
    }

    async fn execute(
        &self,
        statement: &str,
        params: &[v4::ParameterValue],
    ) -> Result<u64, v4::Error> {
        let params = types::to_sql_all(params).map_err(v4::Error::ValueConversionFailed)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let running = Running::start(&self.running);
        let result = self.client().execute(statement, &refs).await;
        running.done();
        result.map_err(query_failed)
    }

    async fn query(
        &self,
        statement: &str,
        params: &[v4::ParameterValue],
    ) -> Result<v4::RowSet, v4::Error> {
        let params = types::to_sql_all(params).map_err(v4::Error::BadParameter)?;
        let running = Running::start(&self.running);
        let result = self.query_rows(statement, params).await;
        running.done();
        result
    }

    async fn query_rows(
        &self,
        statement: &str,
        params: Vec<types::SqlParam>,
    ) -> Result<v4::RowSet, v4::Error> {
        let rows = self
            .client()
            .query_raw(statement, params)
            .await
            .map_err(query_failed)?;
        let mut rows = std::pin::pin!(rows);
        let mut columns = None;
        let mut out = Vec::new();
        let mut size = std::mem::size_of::<v4::RowSet>();
        // As in Spin, failures while reading the rows are text, and the
        // columns come from the first row (an empty result has none).
        let text = |message: String| v4::Error::QueryFailed(v4::QueryError::Text(message));
        while let Some(row) = rows.try_next().await.map_err(|e| text(format!("{e:?}")))? {
            if columns.is_none() {
                columns = Some(types::columns(&row));
            }
            let values = types::row(&row).map_err(text)?;
            size += values.iter().map(types::memory_size).sum::<usize>();
            if size > MAX_RESULT_BYTES {
                return Err(text(format!(
                    "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
                )));
            }
            out.push(values);
        }
        Ok(v4::RowSet {
            columns: columns.unwrap_or_default(),
            rows: out,
        })
    }
}

impl Drop for PgHandle {
    /// The client goes back to its pool once a background task has cancelled
    /// what still runs, ended any transaction and reset the session; or is
    /// closed if that fails.
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            drop(Object::take(client));
            return;
        };
        let cancel = self
            .running
            .load(Ordering::Relaxed)
            .then(|| (client.cancel_token(), self.tls.clone()));
        runtime.spawn(async move {
            if let Some((token, tls)) = cancel {
                let cancelled = match tls {
                    Tls::Off => token.cancel_query(NoTls).await,
                    Tls::Rustls(tls) => token.cancel_query(tls).await,
                };
                if let Err(e) = cancelled {
                    tracing::debug!("PostgreSQL: cancelling a dropped guest's query: {e}");
                }
            }
            // The cancel reaches the server on a connection of its own: if
            // the guest's statement was not running yet (its future dropped
            // before it was sent), the cancel can land on the reset instead,
            // which is then run again (a cancel acts once).
            let reset = async {
                match client.batch_execute(RESET_SQL).await {
                    Err(e)
                        if e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) =>
                    {
                        client.batch_execute(RESET_SQL).await
                    }
                    other => other,
                }
            };
            match tokio::time::timeout(RESET_TIMEOUT, reset).await {
                Ok(Ok(())) => drop(client),
                Ok(Err(e)) => {
                    tracing::debug!("PostgreSQL: closing a client that did not reset: {e}");
                    drop(Object::take(client));
                }
                Err(_) => {
                    tracing::debug!("PostgreSQL: closing a client that did not reset in time");
                    drop(Object::take(client));
                }
            }
        });
    }
}

/// Spin's `query-failed`: the server's error with its fields, or the
/// driver's text.
fn query_failed(error: tokio_postgres::Error) -> v4::Error {
    let as_text = format!("{error:?}");
    let Some(db) = error.as_db_error() else {
        return v4::Error::QueryFailed(v4::QueryError::Text(as_text));
    };
    let mut extras = Vec::new();
    let mut extra = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            extras.push((name.to_owned(), value));
        }
    };
    // Spin's names for them.
    extra("column", db.column().map(str::to_owned));
    extra("constraint", db.constraint().map(str::to_owned));
    extra("routine", db.routine().map(str::to_owned));
    extra("hint", db.hint().map(str::to_owned));
    extra("table", db.table().map(str::to_owned));
    extra("datatype", db.datatype().map(str::to_owned));
    extra("schema", db.schema().map(str::to_owned));
    extra("file", db.file().map(str::to_owned));
    extra("line", db.line().map(|line| line.to_string()));
    extra("where_", db.where_().map(str::to_owned));
    v4::Error::QueryFailed(v4::QueryError::DbError(v4::DbError {
        as_text,
        severity: db.severity().to_owned(),
        code: db.code().code().to_owned(),
        message: db.message().to_owned(),
        detail: db.detail().map(str::to_owned),
        extras,
    }))
}

/// Error text with its causes, `outer: inner: …`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Checks every host of `address` against `allowed`, as Spin does: each TCP
/// host with the port at its index, or no port (the scheme's 5432) when
/// there is none there, as `postgres://host[:port]`.
fn check_address(
    allowed: &AllowedHosts,
    component: &str,
    address: &str,
) -> Result<Config, v4::Error> {
    let config: Config = address
        .parse()
        .map_err(|e: tokio_postgres::Error| v4::Error::ConnectionFailed(e.to_string()))?;
    let ports = config.get_ports();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let host = match host {
            PgHost::Tcp(host) if host.contains(':') => format!("[{host}]"),
            PgHost::Tcp(host) => host.clone(),
            PgHost::Unix(_) => {
                return Err(v4::Error::ConnectionFailed(
                    "Unix sockets are not supported on WebAssembly".into(),
                ))
            }
        };
        let destination = match ports.get(i) {
            Some(port) => format!("postgres://{host}:{port}"),
            None => format!("postgres://{host}"),
        };
        if !allowed.allows_url(&destination) {
            tracing::warn!(
                component = %component,
                "A component tried to make an outbound network connection to disallowed \
                 destination '{destination}'. To allow this request, add \
                 'allowed_outbound_hosts = [\"{destination}\"]' to the manifest component section."
            );
            return Err(v4::Error::ConnectionFailed(format!(
                "address {destination} is not permitted"
            )));
        }
    }
    Ok(config)
}

impl PostgresPools {
    /// The rustls connector: the system's roots, ring's primitives.
    async fn rustls(&self) -> Result<MakeRustlsConnect, v4::Error> {
        let make = || -> Result<MakeRustlsConnect, String> {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                if let Some(error) = found.errors.first() {
                    tracing::warn!("PostgreSQL TLS: no system root certificates: {error}");
                }
            }
            roots.add_parsable_certificates(found.certs);
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(MakeRustlsConnect::new(config))
        };
        self.tls
            .get_or_try_init(|| async {
                tokio::task::spawn_blocking(make)
                    .await
                    .map_err(|e| e.to_string())?
            })
            .await
            .cloned()
            .map_err(|e| v4::Error::ConnectionFailed(format!("TLS setup: {e}")))
    }

    /// The pool of `address`, made on first use.
    async fn pool(&self, address: &str, config: Config) -> Result<AddressPool, v4::Error> {
        let found = {
            let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
            let index = pools.iter().position(|(a, _)| a == address);
            index.and_then(|i| pools.remove(i)).map(|entry| {
                let pool = entry.1.clone();
                pools.push_back(entry);
                pool
            })
        };
        if let Some(pool) = found {
            return Ok(pool);
        }
        let tls = match config.get_ssl_mode() {
            SslMode::Disable => Tls::Off,
            _ => Tls::Rustls(self.rustls().await?),
        };
        let manager = Manager::from_connect(
            config,
            Connector { tls: tls.clone() },
            ManagerConfig {
                // Clients are reset when they come back (`PgHandle`'s drop).
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .build()
            .map_err(|e| {
                v4::Error::ConnectionFailed(format!("building the connection pool: {e}"))
            })?;
        let made = AddressPool { pool, tls };
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        // Another guest may have made one meanwhile: use the first.
        if let Some((_, pool)) = pools.iter().find(|(a, _)| a == address) {
            return Ok(pool.clone());
        }
        if pools.len() >= POOLS_KEPT {
            pools.pop_front();
        }
        pools.push_back((address.to_owned(), made.clone()));
        Ok(made)
    }

    /// Leases a client of `address` for a guest.
    async fn open(
        &self,
        allowed: &AllowedHosts,
        component: &str,
        address: &str,
    ) -> Result<PgHandle, v4::Error> {
        let config = check_address(allowed, component, address)?;
        let pool = self.pool(address, config).await?;
        let client = pool
            .pool
            .get()
            .await
            .map_err(|e| v4::Error::ConnectionFailed(chain(&e)))?;
        Ok(PgHandle {
            client: Some(client),
            tls: pool.tls,
            running: AtomicBool::new(false),
        })
    }
}

type ConnectFuture<'a> = Pin<
    Box<dyn Future<Output = Result<(Client, JoinHandle<()>), tokio_postgres::Error>> + Send + 'a>,
>;

/// Makes a pool's connections, each driven by a task of its own; the
/// server's notices (e.g. `ROLLBACK` outside a transaction) go to the debug
/// log rather than tokio-postgres' `info` one.
struct Connector {
    tls: Tls,
}

impl deadpool_postgres::Connect for Connector {
    fn connect(&self, config: &Config) -> ConnectFuture<'_> {
        let config = config.clone();
        let tls = self.tls.clone();
        Box::pin(async move {
            match tls {
                Tls::Off => connect(config, NoTls).await,
                Tls::Rustls(tls) => connect(config, tls).await,
            }
        })
    }
}

async fn connect<T>(
    config: Config,
    tls: T,
) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket> + Send,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, mut connection) = config.connect(tls).await?;
    let task = tokio::spawn(async move {
        let ended = std::future::poll_fn(|cx| loop {
            match connection.poll_message(cx) {
                Poll::Ready(Some(Ok(AsyncMessage::Notice(notice)))) => {
                    tracing::debug!("PostgreSQL {}: {}", notice.severity(), notice.message());
                }
                Poll::Ready(Some(Ok(_))) => {}
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        })
        .await;
        if let Err(e) = ended {
            tracing::debug!("PostgreSQL connection ended: {e}");
        }
    });
    Ok((client, task))
}

impl HostState {
    async fn pg_open(&mut self, address: &str) -> Result<Resource<PgHandle>, v4::Error> {
        let handle = self
            .app
            .postgres
            .open(&self.component.allowed_hosts, &self.component.id, address)
            .await?;
        self.table
            .push(handle)
            .map_err(|_| v4::Error::ConnectionFailed("too many connections".into()))
    }
}

impl v4::Host for HostState {}

impl v4::HostConnection for HostState {
    async fn open(
        &mut self,
        address: String,
    ) -> wasmtime::Result<Result<Resource<PgHandle>, v4::Error>> {
        Ok(self.pg_open(&address).await)
    }

    async fn query(
        &mut self,
        connection: Resource<PgHandle>,
        statement: String,
        params: Vec<v4::ParameterValue>,
    ) -> wasmtime::Result<Result<v4::RowSet, v4::Error>> {
        let handle = self.table.get(&connection)?;
        Ok(handle.query(&statement, &params).await)
    }

    async fn execute(
        &mut self,
        connection: Resource<PgHandle>,
        statement: String,
        params: Vec<v4::ParameterValue>,
    ) -> wasmtime::Result<Result<u64, v4::Error>> {
        let handle = self.table.get(&connection)?;
        Ok(handle.execute(&statement, &params).await)
    }

    async fn drop(&mut self, connection: Resource<PgHandle>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

/// `@3.0.0` runs on the `@4.0.0` implementation: its parameters are a subset
/// of v4's, and v4's results and errors narrow to v3's as Spin narrows them.
impl v3::Host for HostState {}

impl v3::HostConnection for HostState {
    async fn open(
        &mut self,
        address: String,
    ) -> wasmtime::Result<Result<Resource<PgHandle>, v3::Error>> {
        Ok(self.pg_open(&address).await.map_err(Into::into))
    }

    async fn query(
        &mut self,
        connection: Resource<PgHandle>,
        statement: String,
        params: Vec<v3::ParameterValue>,
    ) -> wasmtime::Result<Result<v3::RowSet, v3::Error>> {
        let params: Vec<_> = params.into_iter().map(Into::into).collect();
        let handle = self.table.get(&connection)?;
        Ok(handle
            .query(&statement, &params)
            .await
            .map(Into::into)
            .map_err(Into::into))
    }

    async fn execute(
        &mut self,
        connection: Resource<PgHandle>,
        statement: String,
        params: Vec<v3::ParameterValue>,
    ) -> wasmtime::Result<Result<u64, v3::Error>> {
        let params: Vec<_> = params.into_iter().map(Into::into).collect();
        let handle = self.table.get(&connection)?;
        Ok(handle
            .execute(&statement, &params)
            .await
            .map_err(Into::into))
    }

    async fn drop(&mut self, connection: Resource<PgHandle>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn refused(allowed_hosts: &AllowedHosts, address: &str) -> Option<String> {
        match check_address(allowed_hosts, "c", address) {
            Ok(_) => None,
            Err(v4::Error::ConnectionFailed(message)) => Some(message),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn addresses_are_checked_as_postgres_urls_with_the_well_known_port() {
        let hosts = allowed(&["postgres://db.example:5432", "postgres://127.0.0.1:6000"]);
        assert_eq!(refused(&hosts, "postgres://u@db.example/app"), None);
        assert_eq!(refused(&hosts, "host=db.example user=u dbname=app"), None);
        assert_eq!(refused(&hosts, "host=127.0.0.1 port=6000 user=u"), None);
        assert_eq!(
            refused(&hosts, "postgres://u@db.example:5433/app").as_deref(),
            Some("address postgres://db.example:5433 is not permitted")
        );
        assert_eq!(
            refused(&hosts, "host=127.0.0.1 user=u").as_deref(),
            Some("address postgres://127.0.0.1 is not permitted")
        );
        // Every host of a list must be allowed.
        assert!(refused(&hosts, "host=db.example,other.example port=5432,5432").is_some());
        let any = allowed(&["*://*:*"]);
        assert!(refused(&any, "host=/var/run/postgresql user=u")
            .is_some_and(|m| m.contains("Unix sockets")));
        assert!(refused(&any, "postgres://[::1]:5432/x").is_none());
        assert!(refused(&any, "not a connection string").is_some());
    }

    /// The test database (scripts/postgres.sh makes sure it answers), TLS off.
    fn database_url() -> String {
        let url = std::env::var("FLEETJOBS_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}sslmode=disable")
    }

    async fn one(handle: &PgHandle, sql: &str) -> String {
        let set = handle.query(sql, &[]).await.unwrap();
        format!("{:?}", set.rows[0][0])
    }

    /// Waits until every client of the address is back in its pool.
    async fn all_back(pools: &PostgresPools, address: &str) {
        let pool = pools.pool(address, address.parse().unwrap()).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while pool.pool.status().available != pool.pool.status().size {
            assert!(
                std::time::Instant::now() < deadline,
                "a client never came back"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_comes_back_with_its_transaction_rolled_back_and_its_session_reset() {
        let pools = PostgresPools::new(4);
        let any = allowed(&["*://*:*"]);
        let address = database_url();
        let first = pools.open(&any, "c", &address).await.unwrap();
        let pid = one(&first, "SELECT pg_backend_pid()").await;
        for sql in [
            "SET lock_timeout = '7s'",
            "CREATE TEMP TABLE fleetjobs_reset_check (x int)",
            "BEGIN",
            "SET LOCAL statement_timeout = '9s'",
        ] {
            first.execute(sql, &[]).await.unwrap();
        }
        drop(first);
        all_back(&pools, &address).await;
        // The pool has one client: the same session, as new.
        let again = pools.open(&any, "c", &address).await.unwrap();
        assert_eq!(one(&again, "SELECT pg_backend_pid()").await, pid);
        assert_eq!(
            one(&again, "SHOW lock_timeout").await,
            "DbValue::Str(\"0\")"
        );
        assert_eq!(
            one(&again, "SELECT count(*) FROM pg_class WHERE relname = 'fleetjobs_reset_check' AND relpersistence = 't'").await,
            "DbValue::Int64(0)"
        );
        // Not in a transaction any more: a new one starts.
        again.execute("BEGIN", &[]).await.unwrap();
        again.execute("ROLLBACK", &[]).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_statement_still_running_when_its_guest_goes_is_cancelled() {
        let pools = PostgresPools::new(4);
        let any = allowed(&["*://*:*"]);
        let address = database_url();
        let sleeper = pools.open(&any, "c", &address).await.unwrap();
        let pid = one(&sleeper, "SELECT pg_backend_pid()").await;
        sleeper.execute("BEGIN", &[]).await.unwrap();
        // The guest is stopped while its statement runs (its future dropped).
        let stopped = tokio::time::timeout(
            Duration::from_millis(300),
            sleeper.query("SELECT pg_sleep(600)", &[]),
        )
        .await;
        assert!(stopped.is_err());
        let started = std::time::Instant::now();
        drop(sleeper);
        all_back(&pools, &address).await;
        // Back at once, and the same session: its reset did not wait behind
        // the sleep (nor time out and close it).
        assert!(started.elapsed() < Duration::from_secs(5));
        let again = pools.open(&any, "c", &address).await.unwrap();
        assert_eq!(one(&again, "SELECT pg_backend_pid()").await, pid);
    }
}
