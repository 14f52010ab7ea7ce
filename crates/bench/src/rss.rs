//! The host's memory against the devices it has heard from: its RSS at
//! start, after one request (`…/jobs/get`) from each of 10,000 and then
//! 100,000 more distinct devices, and after they went quiet (the MQTT
//! trigger's lanes retired). Goal: back within 50 MB of the start.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use rumqttc::QoS;

use crate::host::{Host, HostArgs};
use crate::{http, mqtt, Result, Row};

pub const BENCHMARK: &str = "the host's RSS after one request from each of 10,000 and \
     100,000 distinct devices and after they go quiet, vs at start \
     (goal: after quiet within 50 MB of the start)";
/// How long the host stays quiet before its RSS is read.
const SETTLE: Duration = Duration::from_secs(10);
/// What the goal allows above the RSS at start.
const ALLOWED_MB: f64 = 50.0;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    host: HostArgs,
    #[arg(long, default_value = "spin.toml")]
    manifest: std::path::PathBuf,
    /// Seconds to wait for the host to go quiet.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

pub async fn run(args: Args) -> Result<Row> {
    let host = Host::start(
        &args.host,
        "rss",
        &args.manifest,
        &["--test-clock"],
        &[("SPIN_VARIABLE_API_TOKEN", crate::host::API_TOKEN)],
    )
    .await?;
    let login = host.service_login()?;
    let (client, mut eventloop) = mqtt::client(host.mqtt_port, "bench-rss", &login);
    tokio::spawn(async move {
        loop {
            if eventloop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let quiet = Duration::from_secs(args.timeout);
    wait_quiet(&host, quiet).await?;
    let (start, _) = host.memory_mb()?;
    let mut seen = 0;
    let mut after = Vec::new();
    for devices in [10_000, 100_000] {
        eprintln!("rss: one request from each of {devices} more devices");
        for i in seen..seen + devices {
            let topic = format!("$emqx/things/rss-{i:06}/jobs/get");
            client.publish(topic, QoS::AtLeastOnce, false, "{}").await?;
        }
        seen += devices;
        let (now, _) = host.memory_mb()?;
        after.push(now);
    }
    wait_quiet(&host, quiet).await?;
    let (quiet_mb, peak_mb) = host.memory_mb()?;
    Ok(Row {
        benchmark: BENCHMARK.to_owned(),
        figure: format!(
            "{:.0} MB after 10,000 devices, {:.0} MB after 110,000 (peak {peak_mb:.0} MB), \
             {quiet_mb:.0} MB once quiet",
            after[0], after[1]
        ),
        limit: format!("{start:.0} MB at start + {ALLOWED_MB:.0} MB"),
        ratio: (quiet_mb - start).max(0.0) / ALLOWED_MB,
    })
}

/// Waits until the MQTT trigger has nothing in the host and no lane left
/// (the host's test hook), then [`SETTLE`] for the allocator to give back
/// what it keeps for reuse.
async fn wait_quiet(host: &Host, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let (status, body) = http::request(
            host.http_port,
            Method::GET,
            "/.well-known/fleetjobs/metrics",
            None,
            Bytes::new(),
        )
        .await?;
        let metrics: serde_json::Value = serde_json::from_slice(&body)?;
        let trigger = &metrics["mqttTrigger"];
        if status == 200 && trigger["lanes"] == 0 && trigger["messagesInHost"] == 0 {
            tokio::time::sleep(SETTLE).await;
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the host did not go quiet: {metrics}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
