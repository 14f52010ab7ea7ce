//! Several `fleetjobs up` on one PostgreSQL and one broker, as
//! docs/scale-out.md runs replicas: the first host manages the mosquitto
//! (its limits are measured on it, as for one host), the others connect to
//! it with the first host's service login; every host subscribes to the
//! device topics through `$share/fleetjobs/`, so the broker hands each
//! request to one of them. One host on PostgreSQL runs the same way, so that
//! one and three hosts compare.

use std::path::Path;

use crate::host::{Host, HostArgs, API_TOKEN};
use crate::postgres::{Database, DEFAULT_SERVER_URL};
use crate::Result;

/// The device topics' prefix: mosquitto does not deliver shared
/// subscriptions on `$`-prefixed topics, so not `$emqx/things`.
pub const TOPIC_PREFIX: &str = "fleet/things";
const COMMANDS_PREFIX: &str = "fleet/commands/things";
const SHARE: &str = "$share/fleetjobs/";

/// Where a row runs: the host's embedded SQLite (no `--database-url`), or
/// PostgreSQL with one or more hosts.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// Run on PostgreSQL: a fresh database is made on this server (through
    /// the URL's database, e.g. postgres://postgres@127.0.0.1:5432/test) and
    /// dropped afterwards. Without it the host runs on its embedded SQLite.
    #[arg(long, num_args = 0..=1, default_missing_value = DEFAULT_SERVER_URL)]
    pub database_url: Option<String>,
    /// Hosts sharing the PostgreSQL database and the first one's broker.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub hosts: u16,
    /// PostgreSQL connections of all the hosts together, split evenly
    /// (`fleetjobs up --postgres-pool-size`): the server's max_connections
    /// (100 by default) also serves the bench's own connections and
    /// whatever else uses the server.
    #[arg(long, default_value_t = 60)]
    pub postgres_connections: u16,
}

impl StoreArgs {
    /// The PostgreSQL server, if the row runs on one. More than one host
    /// needs PostgreSQL: replicas must not each have a SQLite of their own.
    pub fn postgres(&self) -> Result<Option<&str>> {
        match (&self.database_url, self.hosts) {
            (Some(url), _) => Ok(Some(url)),
            (None, 1) => Ok(None),
            (None, _) => Err("--hosts above 1 needs --database-url".into()),
        }
    }

    /// "1 host" / "3 hosts".
    pub fn hosts_text(&self) -> String {
        match self.hosts {
            1 => "1 host".to_owned(),
            n => format!("{n} hosts"),
        }
    }

    /// Each host's `--postgres-pool-size`.
    pub fn pool_size(&self) -> u16 {
        (self.postgres_connections / self.hosts).max(1)
    }

    /// "1 host (60 PostgreSQL connections)" / "3 hosts (20 PostgreSQL
    /// connections each)".
    pub fn hosts_and_connections(&self) -> String {
        let each = if self.hosts > 1 { " each" } else { "" };
        format!(
            "{} ({} PostgreSQL connections{each})",
            self.hosts_text(),
            self.pool_size()
        )
    }
}

/// The hosts of a row on PostgreSQL, stopped (the first, with its broker,
/// last) when dropped.
pub struct Replicas {
    hosts: Vec<Host>,
}

impl Replicas {
    /// Starts `store.hosts` hosts on `database`, with `options` and `env`
    /// added to each; their logs are `<name>-<i>.log`.
    pub async fn start(
        args: &HostArgs,
        name: &str,
        manifest: &Path,
        store: &StoreArgs,
        database: &Database,
        options: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Replicas> {
        let pool_size = store.pool_size().to_string();
        let mut options = options.to_vec();
        options.extend(["--postgres-pool-size", &pool_size]);
        let database_url = database.components_url();
        let mut shared: Vec<(&str, &str)> = vec![
            ("SPIN_VARIABLE_API_TOKEN", API_TOKEN),
            ("SPIN_VARIABLE_DATABASE_URL", &database_url),
            ("SPIN_VARIABLE_DATABASE_HOST", &database.host),
            ("SPIN_VARIABLE_MQTT_SHARE", SHARE),
            ("SPIN_VARIABLE_TOPIC_PREFIX", TOPIC_PREFIX),
            ("SPIN_VARIABLE_COMMANDS_PREFIX", COMMANDS_PREFIX),
        ];
        shared.extend_from_slice(env);
        let first = Host::start(args, &format!("{name}-1"), manifest, &options, &shared).await?;
        let broker_url = format!("mqtt://127.0.0.1:{}", first.mqtt_port);
        let login = first.service_login()?;
        let mut replicas = Replicas { hosts: vec![first] };
        options.extend(["--mqtt-url", &broker_url]);
        shared.extend([
            ("SPIN_VARIABLE_MQTT_USERNAME", login.username.as_str()),
            ("SPIN_VARIABLE_MQTT_PASSWORD", login.password.as_str()),
        ]);
        for i in 2..=store.hosts {
            let log = format!("{name}-{i}");
            let host = Host::start(args, &log, manifest, &options, &shared).await?;
            replicas.hosts.push(host);
        }
        Ok(replicas)
    }

    /// The host that manages the broker; the control plane is called on it.
    pub fn first(&self) -> &Host {
        &self.hosts[0]
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Each host's CPU time so far, in seconds.
    pub fn cpu_seconds(&self) -> Result<Vec<f64>> {
        self.hosts.iter().map(Host::cpu_seconds).collect()
    }

    /// Each host's CPU seconds since `before` (from [`Replicas::cpu_seconds`]).
    pub fn cpu_since(&self, before: &[f64]) -> Result<Vec<f64>> {
        Ok(self
            .cpu_seconds()?
            .iter()
            .zip(before)
            .map(|(after, before)| after - before)
            .collect())
    }
}

/// What one `unit` cost in CPU: "; CPU per update: PostgreSQL 2.50 ms, the
/// hosts 1.20 ms (each host's CPU 5.0, 4.9, 5.1 s)", from the seconds the
/// server's backends (None: not known) and each host spent on `units` units.
pub fn cpu_costs(unit: &str, units: f64, server: Option<f64>, hosts: &[f64]) -> String {
    let per_unit = |seconds: f64| format!("{:.2} ms", seconds * 1000.0 / units);
    let mut text = format!("; CPU per {unit}:");
    if let Some(server) = server {
        text += &format!(" PostgreSQL {},", per_unit(server));
    }
    let total: f64 = hosts.iter().sum();
    match hosts {
        [_] => text += &format!(" the host {}", per_unit(total)),
        _ => {
            let each: Vec<String> = hosts.iter().map(|s| format!("{s:.1}")).collect();
            text += &format!(
                " the hosts {} (each host's CPU {} s)",
                per_unit(total),
                each.join(", ")
            );
        }
    }
    text
}

impl Drop for Replicas {
    fn drop(&mut self) {
        // The others first, while the broker they talk to is still there.
        while self.hosts.len() > 1 {
            self.hosts.pop();
        }
    }
}
