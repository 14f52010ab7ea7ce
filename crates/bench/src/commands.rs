//! Command round trips through the whole stack (docs/commands.md): an
//! operator's `POST /api/v1/commands` (gateway → send-command: the command
//! and its request committed to SQLite, the request published), the device
//! receiving `…/executions/{id}/request` and answering SUCCEEDED on
//! `…/response`, device-mqtt committing it and replying on
//! `…/response/accepted`. Each of the 100 devices runs a closed loop, one
//! command outstanding, beside the broker's own QoS1 request/reply limit
//! measured in the same run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hyper::Method;
use rumqttc::{Event, Packet, QoS};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::host::{Host, HostArgs, API_TOKEN};
use crate::latency::Latency;
use crate::mqtt::{self, Conversation, Login, Window};
use crate::{thousands, Result, Row};

pub const BENCHMARK: &str = "command round trips through the whole stack \
     (HTTP POST /api/v1/commands → SQLite commit → request out over MQTT → device answers → \
     device-mqtt, SQLite commit → accepted reply), closed loop";
const PREFIX: &str = "$emqx/commands/things";
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    host: HostArgs,
    #[arg(long, default_value = "spin.toml")]
    manifest: PathBuf,
    /// Devices, one MQTT connection and one outstanding command each.
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Seconds of load before counting.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Seconds counted.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

pub async fn run(args: Args) -> Result<Row> {
    let window = Window {
        warmup: Duration::from_secs(args.warmup),
        measure: Duration::from_secs(args.seconds),
    };
    let host = Host::start(
        &args.host,
        "commands",
        &args.manifest,
        &[],
        &[("SPIN_VARIABLE_API_TOKEN", API_TOKEN)],
    )
    .await?;
    let mut devices = Vec::with_capacity(args.devices);
    for i in 0..args.devices {
        let thing = format!("device-{i:04}");
        let created = host
            .api(
                Method::POST,
                "/api/v1/things",
                json!({"thingName": thing}),
                201,
            )
            .await?;
        let password = created["deviceToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        devices.push(Login {
            username: thing,
            password,
        });
    }

    eprintln!(
        "commands: the broker's QoS1 request/reply limit, {} clients",
        args.devices
    );
    let service = host.service_login()?;
    let payload = |_: &Conversation, n: u64| {
        json!({"status": "SUCCEEDED", "result": {"n": n}})
            .to_string()
            .into_bytes()
    };
    let broker =
        mqtt::request_reply_limit(host.mqtt_port, &service, args.devices, payload, window).await?;

    eprintln!("commands: {} devices through the host", args.devices);
    let host = std::sync::Arc::new(host);
    let (ready, mut readies) = mpsc::channel(args.devices);
    let (start, started) = watch::channel(None);
    let mut tasks = JoinSet::new();
    for login in devices {
        tasks.spawn(device(
            host.clone(),
            login,
            ready.clone(),
            started.clone(),
            window,
        ));
    }
    for _ in 0..args.devices {
        tokio::select! {
            _ = readies.recv() => {}
            Some(stopped) = tasks.join_next() => {
                stopped??;
                return Err("a device stopped before the run".into());
            }
            _ = tokio::time::sleep(TIMEOUT) => {
                return Err("the devices did not all connect and subscribe in 30 s".into());
            }
        }
    }
    start.send_replace(Some(Instant::now()));
    let mut latency = Latency::new();
    let (mut done, mut rejected) = (0u64, 0u64);
    while let Some(tally) = tasks.join_next().await {
        let (accepted, refused, seen) = tally??;
        done += accepted;
        rejected += refused;
        latency.merge(&seen);
    }
    drop(host);
    let per_second = done as f64 / window.measure.as_secs_f64();
    let rejected = match rejected {
        0 => String::new(),
        n => format!(", {n} rejected"),
    };
    Ok(Row {
        benchmark: format!("{BENCHMARK}, {} authenticated devices", args.devices),
        figure: format!(
            "{} commands/s, {}{rejected}",
            thousands(per_second),
            latency.summary()
        ),
        limit: format!(
            "broker QoS1 request/reply {}/s ({}); a command is two such round trips plus an HTTP call",
            thousands(broker.per_second),
            broker.latency.summary()
        ),
        ratio: per_second / broker.per_second,
    })
}

/// One device's closed loop: send a command to itself over HTTP, receive
/// the request, answer SUCCEEDED, wait for the accepted reply.
async fn device(
    host: std::sync::Arc<Host>,
    login: Login,
    ready: mpsc::Sender<()>,
    mut start: watch::Receiver<Option<Instant>>,
    window: Window,
) -> Result<(u64, u64, Latency)> {
    let thing = login.username.clone();
    let (client, mut eventloop) = mqtt::client(host.mqtt_port, &thing, &login);
    let base = format!("{PREFIX}/{thing}/executions");
    mqtt::subscribe(&client, &mut eventloop, &format!("{base}/+/request")).await?;
    mqtt::subscribe(&client, &mut eventloop, &format!("{base}/+/response/+")).await?;
    ready.send(()).await?;
    let started = start.wait_for(Option::is_some).await?.expect("started");
    let counts_from = started + window.warmup;
    let counts_until = counts_from + window.measure;
    let (mut accepted, mut rejected, mut latency) = (0, 0, Latency::new());
    for n in 0u64.. {
        let sent = Instant::now();
        if sent >= counts_until {
            break;
        }
        let body = json!({"thingName": thing, "action": "bench", "params": {"n": n}});
        let command = host
            .api(Method::POST, "/api/v1/commands", body, 201)
            .await?;
        let id = command["executionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let request = format!("{base}/{id}/request");
        let answer = async {
            loop {
                if let Event::Incoming(Packet::Publish(p)) = eventloop.poll().await? {
                    if p.topic == request {
                        return Ok::<_, crate::Error>(());
                    }
                }
            }
        };
        tokio::time::timeout(TIMEOUT, answer)
            .await
            .map_err(|_| format!("{thing}: no request {id} in 30 s"))??;
        client
            .publish(
                format!("{base}/{id}/response"),
                QoS::AtLeastOnce,
                false,
                json!({"status": "SUCCEEDED", "result": {"n": n}}).to_string(),
            )
            .await?;
        let reply_prefix = format!("{base}/{id}/response/");
        let reply = async {
            loop {
                if let Event::Incoming(Packet::Publish(p)) = eventloop.poll().await? {
                    if let Some(outcome) = p.topic.strip_prefix(&reply_prefix) {
                        return Ok::<_, crate::Error>(outcome == "accepted");
                    }
                }
            }
        };
        let ok = tokio::time::timeout(TIMEOUT, reply)
            .await
            .map_err(|_| format!("{thing}: no reply for {id} in 30 s"))??;
        let answered = Instant::now();
        if answered < counts_from || answered > counts_until {
            continue;
        }
        if ok {
            accepted += 1;
            latency.record(answered - sent);
        } else {
            rejected += 1;
        }
    }
    Ok((accepted, rejected, latency))
}
