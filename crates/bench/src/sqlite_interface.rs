//! The host's SQLite interface alone: a guest (`tests/components/sqlite`)
//! doing one write transaction per request (`BEGIN IMMEDIATE`, a one-row
//! UPDATE, `COMMIT`), many requests at once, against rusqlite doing the same
//! transactions directly on one thread.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};

use fleetjobs_store::backend::native::NativeSql;
use fleetjobs_store::{params, Sql};

use crate::host::{test_component_app, Host, HostArgs};
use crate::{http, thousands, Result, Row};

pub const BENCHMARK: &str = "the host's SQLite interface: a guest doing one write transaction \
     per request (BEGIN IMMEDIATE, a one-row UPDATE, COMMIT), transactions/s vs rusqlite doing \
     the same directly";
const ROWS: i64 = 10_000;
/// Fills the table with rows 1 to `?1`.
const FILL: &str = "WITH RECURSIVE n(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM n WHERE id < ?1)
     INSERT INTO rows SELECT id, 1, '{}' FROM n";

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    host: HostArgs,
    /// The guest (tests/components/build.sh builds it).
    #[arg(
        long,
        default_value = "tests/components/target/wasm32-wasip2/release/sqlite.wasm"
    )]
    component: PathBuf,
    /// Concurrent HTTP connections, one request outstanding each.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

fn statements(statements: Value) -> Bytes {
    Bytes::from(json!({"api": "v3", "statements": statements}).to_string())
}

pub async fn run(args: Args) -> Result<Row> {
    let (_, app) = test_component_app(&args.component, manifest_text)?;
    let manifest = app.path().join("spin.toml");
    let host = Host::start(&args.host, "sqlite-interface", &manifest, &[], &[]).await?;
    let setup = statements(json!([
        {"sql": "CREATE TABLE rows (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, details TEXT NOT NULL)"},
        {"sql": FILL, "params": [ROWS]},
    ]));
    let (status, body) =
        http::request(host.http_port, Method::POST, "/sqlite", None, setup).await?;
    let body = String::from_utf8_lossy(&body);
    if status != 200 || body.contains("error") {
        return Err(format!("setting up the table: {status} {body}").into());
    }

    eprintln!(
        "sqlite-interface: {} connections to the guest",
        args.connections
    );
    let duration = Duration::from_secs(args.seconds);
    let guest = http::load_requests(host.http_port, args.connections, duration, |n| {
        let id = (n as i64 * 7_919) % ROWS + 1;
        let body = statements(json!([
            {"sql": "BEGIN IMMEDIATE"},
            {"sql": "UPDATE rows SET version = version + 1, details = ?2 WHERE id = ?1",
             "params": [id, format!("{{\"n\":\"{n}\"}}")]},
            {"sql": "COMMIT"},
        ]));
        (Method::POST, "/sqlite".to_owned(), body)
    })
    .await?;

    eprintln!("sqlite-interface: rusqlite directly");
    let dir = tempfile::tempdir()?;
    let direct = {
        let path = dir.path().to_owned();
        tokio::task::spawn_blocking(move || direct_rate(&path, duration)).await??
    };
    Ok(Row {
        benchmark: format!("{BENCHMARK}, {} connections", args.connections),
        figure: format!("{} transactions/s through the host", thousands(guest)),
        limit: format!("rusqlite directly: {} transactions/s", thousands(direct)),
        ratio: guest / direct,
    })
}

/// The same transactions on rusqlite (`NativeSql`: WAL, synchronous=NORMAL,
/// prepared statements, as the host's connections), one thread.
fn direct_rate(dir: &Path, duration: Duration) -> Result<f64> {
    let sql = NativeSql::open(dir.join("direct.db"))?;
    sql.execute(
        "CREATE TABLE rows (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, details TEXT NOT NULL)",
        &[],
    )?;
    sql.execute(FILL, params![ROWS])?;
    let until = Instant::now() + duration;
    let mut n = 0_i64;
    while Instant::now() < until {
        let id = (n * 7_919) % ROWS + 1;
        sql.execute("BEGIN IMMEDIATE", &[])?;
        sql.execute(
            "UPDATE rows SET version = version + 1, details = ?2 WHERE id = ?1",
            params![id, format!("{{\"n\":\"{n}\"}}")],
        )?;
        sql.execute("COMMIT", &[])?;
        n += 1;
    }
    Ok(n as f64 / duration.as_secs_f64())
}

/// A one-component application: the SQLite guest on `/sqlite`.
fn manifest_text(component: &Path) -> String {
    format!(
        "spin_manifest_version = 2\n\n\
         [application]\nname = \"bench-sqlite\"\n\n\
         [[trigger.http]]\nroute = \"/sqlite\"\ncomponent = \"sqlite\"\n\n\
         [component.sqlite]\nsource = \"{}\"\nsqlite_databases = [\"default\"]\n",
        component.display()
    )
}
