//! Create a job for a large thing group and notify every thing: from
//! `POST /api/v1/jobs` until every thing's notify-next has arrived at a
//! subscriber. The create request queues every execution and writes two
//! outbox messages per thing (notify, notify-next) in its transaction and
//! publishes for a bounded time; the sweeper publishes the rest in passes
//! (one a second here).
//!
//! With `--database-url` the same on PostgreSQL, with `--hosts` hosts
//! (`replicas.rs`) whose sweepers share the releasing and publishing, next
//! to PostgreSQL's own bulk insert rate instead of SQLite's.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fleetjobs_core::Timestamp;
use fleetjobs_store::backend::native::NativeSql;
use fleetjobs_store::backend::postgres::PgSql;
use fleetjobs_store::{Sql, Store, StoreOptions};
use hyper::Method;
use serde_json::json;

use crate::host::{Host, HostArgs, API_TOKEN};
use crate::mqtt::Login;
use crate::postgres::{self, Database, ServerCpu};
use crate::replicas::{cpu_costs, Replicas, StoreArgs, TOPIC_PREFIX};
use crate::{mqtt, sqlite, thousands, Result, Row};

pub const BENCHMARK: &str = "create a job for a thing group and notify every thing \
     (POST /api/v1/jobs until the last notify-next arrives; goal ≤ 10 s for 100,000)";
pub const POSTGRES_BENCHMARK: &str = "create a job for a thing group and notify every thing \
     on PostgreSQL (POST /api/v1/jobs until the last notify-next arrives)";
const GROUP: &str = "bench-fleet";
/// Messages timed for the broker's one-way limit: below mosquitto's queue
/// for one slow subscriber (`max_queued_messages` 100,000 in the managed
/// broker), so that none is dropped.
const ONE_WAY_MESSAGES: u64 = 50_000;
/// About a notify-next message with a small job document.
const NOTICE_BYTES: usize = 300;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    host: HostArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[arg(long, default_value = "spin.toml")]
    manifest: PathBuf,
    /// Things in the group.
    #[arg(long, default_value_t = 100_000)]
    things: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// The host's `--execution-deadline-ms`: 30 s, shorter than the host's
    /// default, since CreateJob and every sweeper pass answer in bounded time
    /// whatever the group's size.
    #[arg(long, default_value_t = 30_000)]
    deadline_ms: u64,
}

/// The row's name, also when it could not be measured.
pub fn benchmark(args: &Args) -> String {
    match args.store.database_url {
        None => BENCHMARK.to_owned(),
        Some(_) => format!(
            "{POSTGRES_BENCHMARK}: {} things, {} on one PostgreSQL and one mosquitto",
            thousands(args.things as f64),
            args.store.hosts_and_connections()
        ),
    }
}

pub async fn run(args: Args) -> Result<Row> {
    if let Some(server) = args.store.postgres()? {
        let server = server.to_owned();
        return run_on_postgres(&args, server).await;
    }
    let host = Host::start(
        &args.host,
        "notify",
        &args.manifest,
        &["--execution-deadline-ms", &args.deadline_ms.to_string()],
        &[
            ("SPIN_VARIABLE_API_TOKEN", API_TOKEN),
            ("SPIN_VARIABLE_SWEEP_EVERY_SECONDS", "1"),
        ],
    )
    .await?;
    eprintln!(
        "notify: seeding {} things into the host's database",
        args.things
    );
    let database = host.state_dir().join("sqlite_db.db");
    let things = args.things;
    tokio::task::spawn_blocking(move || seed_group(&database, things)).await??;

    eprintln!("notify: SQLite's bulk insert limit, the broker's one-way QoS1 limit");
    let scratch = tempfile::tempdir()?;
    let rows =
        tokio::task::spawn_blocking(move || sqlite::bulk_insert_rate(scratch.path(), things))
            .await??;
    let service = host.service_login()?;
    let messages =
        mqtt::one_way_rate(host.mqtt_port, &service, ONE_WAY_MESSAGES, NOTICE_BYTES).await?;

    eprintln!("notify: the job");
    // A filter that begins with `$emqx` does match the `$` topics.
    let (created, seconds) =
        create_and_notify(&host, &service, "$emqx/things", things, args.timeout).await?;
    let (_, peak_mb) = host.memory_mb()?;
    drop(host);

    let rate = things as f64 / seconds;
    // Each thing costs an execution row and two messages (notify, notify-next).
    let broker_things = messages / 2.0;
    let limit = rows.min(broker_things);
    Ok(Row {
        benchmark: format!("{BENCHMARK}: {} things", thousands(things as f64)),
        figure: format!(
            "{seconds:.1} s = {} things/s (the create request answered in {:.1} s; \
             the host's peak RSS {peak_mb:.0} MB)",
            thousands(rate),
            created.as_secs_f64()
        ),
        limit: format!(
            "{} things/s, the lower of: SQLite bulk insert of execution rows {} rows/s, \
             broker QoS1 one-way {} msg/s ÷ 2 messages per thing",
            thousands(limit),
            thousands(rows),
            thousands(messages)
        ),
        ratio: rate / limit,
    })
}

/// The same job on PostgreSQL (a database of its own, seeded before the
/// hosts start), `--hosts` hosts sharing it: the job is created on the
/// first, every host's sweeper releases and publishes.
async fn run_on_postgres(args: &Args, server: String) -> Result<Row> {
    let things = args.things;
    let hosts = args.store.hosts;
    eprintln!("notify: seeding {things} things into a PostgreSQL database of its own");
    let database = tokio::task::spawn_blocking(move || -> Result<Database> {
        let database = Database::create(&server)?;
        seed(PgSql::connect(&database.url)?, things)?;
        Ok(database)
    })
    .await??;
    let replicas = Replicas::start(
        &args.host,
        &format!("notify-postgres-{hosts}"),
        &args.manifest,
        &args.store,
        &database,
        &["--execution-deadline-ms", &args.deadline_ms.to_string()],
        &[("SPIN_VARIABLE_SWEEP_EVERY_SECONDS", "1")],
    )
    .await?;
    let host = replicas.first();

    eprintln!("notify: PostgreSQL's bulk insert limit, the broker's one-way QoS1 limit");
    let url = database.url.clone();
    let rows =
        tokio::task::spawn_blocking(move || postgres::bulk_insert_rate(&url, things)).await??;
    let service = host.service_login()?;
    let messages =
        mqtt::one_way_rate(host.mqtt_port, &service, ONE_WAY_MESSAGES, NOTICE_BYTES).await?;

    eprintln!("notify: the job, {}", args.store.hosts_and_connections());
    let (url, name) = (database.url.clone(), database.name.clone());
    let server_cpu = tokio::task::spawn_blocking(move || ServerCpu::start(url, name)).await??;
    let hosts_cpu = replicas.cpu_seconds()?;
    let (created, seconds) =
        create_and_notify(host, &service, TOPIC_PREFIX, things, args.timeout).await?;
    let hosts_cpu = replicas.cpu_since(&hosts_cpu)?;
    let server_cpu = tokio::task::spawn_blocking(move || server_cpu.seconds()).await??;
    let costs = cpu_costs("thing", things as f64, server_cpu, &hosts_cpu);
    let peaks = replicas
        .hosts()
        .iter()
        .map(|host| Ok(format!("{:.0}", host.memory_mb()?.1)))
        .collect::<Result<Vec<_>>>()?;
    drop(replicas);
    drop(database);

    let rate = things as f64 / seconds;
    let broker_things = messages / 2.0;
    let limit = rows.min(broker_things);
    let peak = match peaks.len() {
        1 => format!("the host's peak RSS {} MB", peaks[0]),
        _ => format!("the hosts' peak RSS {} MB", peaks.join(", ")),
    };
    Ok(Row {
        benchmark: benchmark(args),
        figure: format!(
            "{seconds:.1} s = {} things/s (the create request answered in {:.1} s; {peak}{costs})",
            thousands(rate),
            created.as_secs_f64()
        ),
        limit: format!(
            "{} things/s, the lower of: PostgreSQL bulk insert of execution rows \
             (`INSERT … SELECT … FROM generate_series`) {} rows/s, broker QoS1 one-way {} msg/s \
             ÷ 2 messages per thing",
            thousands(limit),
            thousands(rows),
            thousands(messages)
        ),
        ratio: rate / limit,
    })
}

/// Subscribes to every thing's notify-next under `prefix`, creates the job
/// for [`GROUP`] on `host` and waits until each of `things` things got its
/// notice. Returns how long the create request took and the seconds until
/// the last notice.
async fn create_and_notify(
    host: &Host,
    service: &Login,
    prefix: &str,
    things: usize,
    timeout: u64,
) -> Result<(Duration, f64)> {
    let (subscriber, mut inbox) = mqtt::client(host.mqtt_port, "bench-notify-next", service);
    let filter = format!("{prefix}/+/jobs/notify-next");
    mqtt::subscribe(&subscriber, &mut inbox, &filter).await?;
    let all_notified = tokio::spawn(async move {
        // Distinct things: a redelivered QoS1 message must not count twice.
        let mut notified = HashSet::with_capacity(things);
        while notified.len() < things {
            if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(notice)) = inbox.poll().await?
            {
                notified.insert(notice.topic);
            }
        }
        Ok::<_, crate::Error>(Instant::now())
    });
    let job = json!({
        "jobId": "bench-notify",
        "targets": {"thingGroupNames": [GROUP]},
        "document": {"action": "updateFirmware", "version": "2.1.5",
            "url": "https://firmware.example.com/thermostat-v2.1.5.bin"},
    });
    let started = Instant::now();
    host.api(Method::POST, "/api/v1/jobs", job, 201).await?;
    let created = started.elapsed();
    let finished = tokio::time::timeout(Duration::from_secs(timeout), all_notified)
        .await
        .map_err(|_| format!("not every thing was notified in {timeout} s"))???;
    drop(subscriber);
    Ok((created, (finished - started).as_secs_f64()))
}

/// Registers `things` things in the group [`GROUP`] straight into the host's
/// database, in one transaction: far faster than the API, and not what is
/// measured.
fn seed_group(database: &Path, things: usize) -> Result<()> {
    seed(NativeSql::open(database)?, things)
}

/// [`seed_group`] on any backend.
fn seed<S: Sql>(sql: S, things: usize) -> Result<()> {
    let store = Store::new(sql, StoreOptions::default());
    let now = Timestamp(0);
    store.migrate(now)?;
    let names: Vec<String> = (0..things).map(|i| format!("thing-{i:06}")).collect();
    store.register_group_of_things(GROUP, &names, now)?;
    Ok(())
}
