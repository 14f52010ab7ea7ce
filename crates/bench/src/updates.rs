//! Device status updates through the whole stack: a QoS1 publish on
//! `$emqx/things/{thing}/jobs/{jobId}/update`, the host's MQTT trigger, the
//! device-mqtt component running the update (a version bump committed to
//! SQLite), the reply published on `…/update/accepted`. Devices run a closed loop, one request outstanding
//! each, like the broker's own request/reply limit measured beside it.
//!
//! With `--database-url` the same on PostgreSQL, with `--hosts` hosts sharing
//! the device topics (`replicas.rs`), next to PostgreSQL's own single-row
//! commit rate instead of SQLite's.

use std::path::PathBuf;
use std::time::Duration;

use hyper::Method;
use serde_json::json;

use crate::host::{Host, HostArgs, API_TOKEN};
use crate::mqtt::{self, Conversation, Login, Window};
use crate::postgres::{self, Database, ServerCpu, COMMIT_CONNECTIONS, COMMIT_ROWS};
use crate::replicas::{cpu_costs, Replicas, StoreArgs, TOPIC_PREFIX};
use crate::{sqlite, thousands, Result, Row};

pub const BENCHMARK: &str = "device status updates through the whole stack \
     (MQTT QoS1 in → device-mqtt (the device operation runs in it), SQLite commit → \
     reply out), closed loop (goal ≥ 0.50)";
pub const POSTGRES_BENCHMARK: &str = "device status updates through the whole stack \
     on PostgreSQL (MQTT QoS1 in → device-mqtt, PostgreSQL commit → reply out), closed loop";
const JOB_ID: &str = "bench-updates";
/// limits.md measured single commits on a table of this size.
const SQLITE_ROWS: usize = 100_000;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    host: HostArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[arg(long, default_value = "spin.toml")]
    manifest: PathBuf,
    /// Devices, one MQTT connection and one outstanding request each.
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Seconds of load before counting.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Seconds counted.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Single-row commits timed for SQLite's limit.
    #[arg(long, default_value_t = 30_000)]
    commits: usize,
}

/// The row's name, also when it could not be measured.
pub fn benchmark(args: &Args) -> String {
    match args.store.database_url {
        None => BENCHMARK.to_owned(),
        Some(_) => format!(
            "{POSTGRES_BENCHMARK}, {} on one PostgreSQL and one mosquitto, {} authenticated devices",
            args.store.hosts_and_connections(),
            args.devices
        ),
    }
}

pub async fn run(args: Args) -> Result<Row> {
    if let Some(server) = args.store.postgres()? {
        let server = server.to_owned();
        return run_on_postgres(&args, server).await;
    }
    let window = window_of(&args);
    let host = Host::start(
        &args.host,
        "updates",
        &args.manifest,
        &[],
        &[("SPIN_VARIABLE_API_TOKEN", API_TOKEN)],
    )
    .await?;
    let (things, logins) = register_devices(&host, args.devices).await?;

    let broker = broker_limit(&host, args.devices, window).await?;

    eprintln!("updates: SQLite's single-commit limit");
    let scratch = tempfile::tempdir()?;
    let commits = args.commits;
    let sqlite = tokio::task::spawn_blocking(move || {
        sqlite::single_commit_rate(scratch.path(), SQLITE_ROWS, commits)
    })
    .await??;

    eprintln!("updates: {} devices through the host", args.devices);
    let devices = conversations(&things, logins, "$emqx/things");
    let stack = mqtt::closed_loop(host.mqtt_port, devices, update_request, window).await?;
    drop(host);

    let limit = broker.per_second.min(sqlite);
    let rejected = match stack.rejected {
        0 => String::new(),
        n => format!(", {n} rejected"),
    };
    Ok(Row {
        benchmark: format!("{BENCHMARK}, {} authenticated devices", args.devices),
        figure: format!(
            "{} updates/s, {}{rejected}",
            thousands(stack.per_second),
            stack.latency.summary()
        ),
        limit: format!(
            "{}/s, the lower of: broker QoS1 request/reply {}/s ({}), SQLite single-row commits {}/s",
            thousands(limit),
            thousands(broker.per_second),
            broker.latency.summary(),
            thousands(sqlite)
        ),
        ratio: stack.per_second / limit,
    })
}

/// The same devices and job on PostgreSQL (a database of its own), with
/// `--hosts` hosts taking the device requests through a shared subscription;
/// the limit's database side is PostgreSQL's single-row commit rate.
async fn run_on_postgres(args: &Args, server: String) -> Result<Row> {
    let window = window_of(args);
    let hosts = args.store.hosts;
    let database = tokio::task::spawn_blocking(move || Database::create(&server)).await??;
    let replicas = Replicas::start(
        &args.host,
        &format!("updates-postgres-{hosts}"),
        &args.manifest,
        &args.store,
        &database,
        &[],
        &[],
    )
    .await?;
    let host = replicas.first();
    let (things, logins) = register_devices(host, args.devices).await?;

    let broker = broker_limit(host, args.devices, window).await?;

    eprintln!("updates: PostgreSQL's single-commit limit, {COMMIT_CONNECTIONS} connections");
    let url = database.url.clone();
    let (warmup, measure) = (window.warmup, window.measure);
    let commits = tokio::task::spawn_blocking(move || {
        postgres::single_commit_rate(&url, COMMIT_ROWS, COMMIT_CONNECTIONS, warmup, measure)
    })
    .await??;

    eprintln!(
        "updates: {} devices through {}",
        args.devices,
        args.store.hosts_and_connections()
    );
    let devices = conversations(&things, logins, TOPIC_PREFIX);
    let (url, name) = (database.url.clone(), database.name.clone());
    let server_cpu = tokio::task::spawn_blocking(move || ServerCpu::start(url, name)).await??;
    let hosts_cpu = replicas.cpu_seconds()?;
    let stack = mqtt::closed_loop(host.mqtt_port, devices, update_request, window).await?;
    let hosts_cpu = replicas.cpu_since(&hosts_cpu)?;
    let server_cpu = tokio::task::spawn_blocking(move || server_cpu.seconds()).await??;
    drop(replicas);
    drop(database);

    let limit = broker.per_second.min(commits);
    let rejected = match stack.rejected {
        0 => String::new(),
        n => format!(", {n} rejected"),
    };
    // The CPU was spent over the whole loop, warm-up included, at about the
    // rate counted.
    let updates = stack.per_second * (window.warmup + window.measure).as_secs_f64();
    let costs = cpu_costs("update", updates, server_cpu, &hosts_cpu);
    Ok(Row {
        benchmark: benchmark(args),
        figure: format!(
            "{} updates/s, {}{rejected}{costs}",
            thousands(stack.per_second),
            stack.latency.summary()
        ),
        limit: format!(
            "{}/s, the lower of: broker QoS1 request/reply {}/s ({}), PostgreSQL single-row \
             commits {}/s (autocommit `UPDATE … WHERE id = $1` on {} rows, {COMMIT_CONNECTIONS} \
             connections)",
            thousands(limit),
            thousands(broker.per_second),
            broker.latency.summary(),
            thousands(commits),
            thousands(COMMIT_ROWS as f64),
        ),
        ratio: stack.per_second / limit,
    })
}

fn window_of(args: &Args) -> Window {
    Window {
        warmup: Duration::from_secs(args.warmup),
        measure: Duration::from_secs(args.seconds),
    }
}

/// The broker's QoS1 request/reply limit with `devices` clients, logged in
/// too (the limit is measured with what the devices pay), the same payload.
async fn broker_limit(host: &Host, devices: usize, window: Window) -> Result<mqtt::LoopReport> {
    eprintln!("updates: the broker's QoS1 request/reply limit, {devices} clients");
    let service = host.service_login()?;
    mqtt::request_reply_limit(host.mqtt_port, &service, devices, update_request, window).await
}

/// Registers `devices` things (each device logs in with its thing name and
/// device token) and one job targeting them all.
async fn register_devices(host: &Host, devices: usize) -> Result<(Vec<String>, Vec<Login>)> {
    let things: Vec<String> = (0..devices).map(|i| format!("device-{i:04}")).collect();
    let mut logins = Vec::with_capacity(things.len());
    for thing in &things {
        let created = host
            .api(
                Method::POST,
                "/api/v1/things",
                json!({"thingName": thing}),
                201,
            )
            .await?;
        logins.push(Login {
            username: thing.clone(),
            password: created["deviceToken"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        });
    }
    let job = json!({
        "jobId": JOB_ID,
        "targets": {"thingNames": things},
        "document": {"action": "updateFirmware", "version": "2.1.5"},
    });
    host.api(Method::POST, "/api/v1/jobs", job, 201).await?;
    Ok((things, logins))
}

/// Each device's closed loop on `{prefix}/{thing}/jobs/{JOB_ID}/update`.
fn conversations(things: &[String], logins: Vec<Login>, prefix: &str) -> Vec<Conversation> {
    things
        .iter()
        .zip(logins)
        .map(|(thing, login)| {
            let update = format!("{prefix}/{thing}/jobs/{JOB_ID}/update");
            Conversation {
                client_id: thing.clone(),
                login,
                reply_filter: format!("{update}/+"),
                accepted_topic: format!("{update}/accepted"),
                request_topic: update,
            }
        })
        .collect()
}

/// The `n`th status update of a device: IN_PROGRESS again with new details,
/// so each one is a real change (a version bump and a commit), under a fresh
/// clientToken. The broker's limit carries the same payload.
fn update_request(conversation: &Conversation, n: u64) -> Vec<u8> {
    json!({
        "status": "IN_PROGRESS",
        "statusDetails": {"n": n.to_string()},
        "clientToken": format!("{}-{n}", conversation.client_id),
    })
    .to_string()
    .into_bytes()
}
