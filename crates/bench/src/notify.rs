//! Create a job for a large thing group and notify every thing: from
//! `POST /api/v1/jobs` until every thing's notify-next has arrived at a
//! subscriber. The create request queues every execution and writes two
//! outbox messages per thing (notify, notify-next) in its transaction and
//! publishes for a bounded time; the sweeper publishes the rest in passes
//! (one a second here).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fleetjobs_core::Timestamp;
use fleetjobs_store::backend::native::NativeSql;
use fleetjobs_store::{Store, StoreOptions};
use hyper::Method;
use serde_json::json;

use crate::host::{Host, HostArgs, API_TOKEN};
use crate::{mqtt, sqlite, thousands, Result, Row};

pub const BENCHMARK: &str = "create a job for a thing group and notify every thing \
     (POST /api/v1/jobs until the last notify-next arrives; goal ≤ 10 s for 100,000)";
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

pub async fn run(args: Args) -> Result<Row> {
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
    let (subscriber, mut inbox) = mqtt::client(host.mqtt_port, "bench-notify-next", &service);
    // A filter that begins with `$emqx` does match the `$` topics.
    mqtt::subscribe(&subscriber, &mut inbox, "$emqx/things/+/jobs/notify-next").await?;
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
    let finished = tokio::time::timeout(Duration::from_secs(args.timeout), all_notified)
        .await
        .map_err(|_| format!("not every thing was notified in {} s", args.timeout))???;
    let (_, peak_mb) = host.memory_mb()?;
    drop(host);

    let seconds = (finished - started).as_secs_f64();
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

/// Registers `things` things in the group [`GROUP`] straight into the host's
/// database, in one transaction: far faster than the API, and not what is
/// measured.
fn seed_group(database: &Path, things: usize) -> Result<()> {
    let store = Store::new(NativeSql::open(database)?, StoreOptions::default());
    let now = Timestamp(0);
    store.migrate(now)?;
    let names: Vec<String> = (0..things).map(|i| format!("thing-{i:06}")).collect();
    store.register_group_of_things(GROUP, &names, now)?;
    Ok(())
}
