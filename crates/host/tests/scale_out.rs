//! Several hosts, one fleet (issue 18, docs/scale-out.md): three `fleetjobs
//! up` on the repository's spin.toml against one PostgreSQL and one
//! mosquitto (with dynamic security), the device requests shared between
//! them by a `$share/` subscription, the control plane called on all three.
//! A paced job with abort and timeout configuration runs on 1,000 simulated
//! devices; one host is killed (SIGKILL) in the middle; the job completes on
//! the other two and every execution's history was applied exactly once.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::fleet::*;
use common::*;
use fleetjobs::broker::ManagedBroker;
use fleetjobs_simulator::{Behaviour, Fleet, FleetConfig};
use fleetjobs_store::backend::postgres::PgSql;
use fleetjobs_store::sql::{RowExt, Sql};
use serde_json::{json, Value};

const DEVICES: usize = 1_000;
/// mosquitto shares only topics that do not start with `$`.
const TOPIC_PREFIX: &str = "fleet/things";
const COMMANDS_PREFIX: &str = "fleet/commands/things";
const SHARE: &str = "$share/fleetjobs/";
const PROGRESS_STEPS: u32 = 2;
const JOB: &str = "scale-out-firmware";
/// The whole run is large on purpose: registering the fleet, a two-minute
/// rollout window, a one-minute timeout.
const LONG: Duration = Duration::from_secs(600);

/// The PostgreSQL the test script makes sure of; each test gets a database
/// of its own.
fn admin_url() -> String {
    std::env::var("FLEETJOBS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh database on the test PostgreSQL, dropped at the end.
struct Database {
    name: String,
    url: String,
}

impl Database {
    fn create() -> Database {
        let admin = PgSql::connect(&admin_url())
            .unwrap_or_else(|e| panic!("PostgreSQL at {} (scripts/postgres.sh): {e}", admin_url()));
        let name = format!(
            "fleetjobs_scale_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
        );
        admin
            .execute(&format!("CREATE DATABASE {name}"), &[])
            .unwrap();
        let base = admin_url();
        let server = base.rsplit_once('/').unwrap().0;
        Database {
            // The test server's certificate (Debian's snakeoil) names
            // localhost only; a client that tries TLS first fails, on Spin too.
            url: format!("{server}/{name}?sslmode=disable"),
            name,
        }
    }

    fn sql(&self) -> PgSql {
        PgSql::connect(&self.url).unwrap()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(admin) = PgSql::connect(&admin_url()) {
            let _ = admin.execute(
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
                &[],
            );
        }
    }
}

/// A replica: the app on PostgreSQL and the shared broker.
fn replica(database: &Database, broker: &ManagedBroker) -> Host {
    let login = broker.service_account();
    let url = broker.url();
    // Three hosts and the test's own connections within the test server's
    // max_connections (100).
    fleetjobs(
        &["--mqtt-url", &url, "--postgres-pool-size", "24"],
        &[
            ("SPIN_VARIABLE_DATABASE_URL", &database.url),
            ("SPIN_VARIABLE_DATABASE_HOST", "127.0.0.1:5432"),
            ("SPIN_VARIABLE_MQTT_SHARE", SHARE),
            ("SPIN_VARIABLE_TOPIC_PREFIX", TOPIC_PREFIX),
            ("SPIN_VARIABLE_COMMANDS_PREFIX", COMMANDS_PREFIX),
            ("SPIN_VARIABLE_MQTT_USERNAME", &login.username),
            ("SPIN_VARIABLE_MQTT_PASSWORD", &login.password),
            ("SPIN_VARIABLE_SWEEP_EVERY_SECONDS", "1"),
        ],
    )
}

fn counter(job: &Value, name: &str) -> u64 {
    job["jobProcessDetails"][name].as_u64().unwrap_or(0)
}

#[test]
fn three_hosts_share_one_fleet_and_lose_nothing_when_one_is_killed() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let broker_dir = tempfile::tempdir().unwrap();
    let broker = runtime
        .block_on(ManagedBroker::start(
            broker_dir.path(),
            free_port(),
            &["$share".to_owned()],
        ))
        .unwrap();
    let database = Database::create();
    let mut hosts: Vec<Host> = (0..3).map(|_| replica(&database, &broker)).collect();

    // Registered through all three.
    let things = create_fleet_on(&hosts.iter().collect::<Vec<_>>(), "scale", DEVICES);
    let mut config = FleetConfig::new(&broker.url(), TOPIC_PREFIX, things.clone());
    config.tokens = hosts[0].device_tokens(&things);
    config.mix = vec![(Behaviour::Fail, 0.05), (Behaviour::Hang, 0.01)];
    config.progress_steps = PROGRESS_STEPS;
    config.step_delay = Duration::from_millis(20);
    let fleet = Fleet::start(config).expect("the fleet connects");

    // Paced: 500 executions in the first minute, the rest in the next one;
    // the hanging devices time out after a minute; a failure rate of half
    // the fleet would cancel the job (5% fail, so it completes).
    create_job(
        &hosts[1],
        &json!({
            "jobId": JOB,
            "targets": {"thingGroupNames": ["scale"]},
            "document": {"action": "updateFirmware", "version": "3.0.0"},
            "jobExecutionsRolloutConfig": {"maximumPerMinute": 500},
            "abortConfig": {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL",
                "thresholdPercentage": 50, "minNumberOfExecutedThings": 100}]},
            "timeoutConfig": {"inProgressTimeoutInMinutes": 1},
        }),
    );

    // Kill one host while devices are busy with the first window.
    let mut round = 0usize;
    eventually_within(LONG, "a quarter of the fleet to succeed", || {
        round += 1;
        let job = describe_job(&hosts[round % 3], JOB);
        (counter(&job, "numberOfSucceededThings") >= DEVICES as u64 / 4).then_some(())
    });
    hosts[2].kill();
    let survivors = [&hosts[0], &hosts[1]];

    let job = eventually_within(LONG, "the job to complete on the two hosts left", || {
        round += 1;
        let job = describe_job(survivors[round % 2], JOB);
        (job["status"] == "COMPLETED").then_some(job)
    });
    let failing = (DEVICES as f64 * 0.05).round() as u64;
    let hanging = (DEVICES as f64 * 0.01).round() as u64;
    assert_eq!(counter(&job, "numberOfFailedThings"), failing, "{job}");
    assert_eq!(counter(&job, "numberOfTimedOutThings"), hanging, "{job}");
    assert_eq!(
        counter(&job, "numberOfSucceededThings"),
        DEVICES as u64 - failing - hanging,
        "{job}"
    );
    fleet.stop();

    let sql = database.sql();
    // The counters equal a recount of the executions.
    let recount: BTreeMap<String, i64> = sql
        .query(
            "SELECT status, count(*) FROM executions WHERE job_id = ?1 GROUP BY status",
            &[JOB.into()],
        )
        .unwrap()
        .iter()
        .map(|row| (row.text(0).unwrap().to_owned(), row.int(1).unwrap()))
        .collect();
    let counters: BTreeMap<String, i64> = sql
        .query(
            "SELECT status, count FROM job_status_counts WHERE job_id = ?1 AND count <> 0",
            &[JOB.into()],
        )
        .unwrap()
        .iter()
        .map(|row| (row.text(0).unwrap().to_owned(), row.int(1).unwrap()))
        .collect();
    assert_eq!(counters, recount);

    // Every succeeded execution went QUEUED → IN_PROGRESS (start-next) →
    // PROGRESS_STEPS progress updates → SUCCEEDED, each applied once: its
    // version is exactly that, and each of its updates' clientTokens was
    // recorded once.
    let versions = sql
        .query(
            "SELECT thing_name, version_number FROM executions
             WHERE job_id = ?1 AND status = 'SUCCEEDED'",
            &[JOB.into()],
        )
        .unwrap();
    assert_eq!(versions.len() as u64, DEVICES as u64 - failing - hanging);
    let expected = 2 + i64::from(PROGRESS_STEPS) + 1;
    for row in &versions {
        assert_eq!(
            row.int(1).unwrap(),
            expected,
            "{}'s execution: versions are not contiguous",
            row.text(0).unwrap()
        );
    }
    let tokens = sql
        .query(
            "SELECT thing_name, count(*) FROM device_requests
             WHERE client_token LIKE ?1 GROUP BY thing_name",
            &[format!("{JOB}/update %").into()],
        )
        .unwrap();
    let updates: BTreeMap<&str, i64> = tokens
        .iter()
        .map(|row| (row.text(0).unwrap(), row.int(1).unwrap()))
        .collect();
    for row in &versions {
        assert_eq!(
            updates.get(row.text(0).unwrap()).copied(),
            Some(i64::from(PROGRESS_STEPS) + 1),
            "{}'s updates, each clientToken once",
            row.text(0).unwrap()
        );
    }

    drop(hosts);
    runtime.block_on(broker.stop());
}

#[test]
fn a_database_that_does_not_answer_is_a_503_that_names_nothing_inside() {
    let port = free_port().to_string();
    let host = fleetjobs(
        &[],
        &[
            (
                "SPIN_VARIABLE_DATABASE_URL",
                &format!("postgres://fleetjobs:s3cret@127.0.0.1:{port}/fleet?sslmode=disable"),
            ),
            ("SPIN_VARIABLE_DATABASE_HOST", &format!("127.0.0.1:{port}")),
        ],
    );
    let (status, reply) = api(&host, "GET", "/api/v1/jobs", &Value::Null);
    assert_eq!(status, 503, "{reply}");
    assert_eq!(reply["error"]["code"], "ServiceUnavailable", "{reply}");
    let text = reply.to_string();
    for secret in ["127.0.0.1", &port, "fleetjobs", "s3cret", "refused"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
