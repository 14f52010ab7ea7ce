//! The host's memory against the devices it has heard from: its RSS at
//! start, after one request (`…/jobs/get`) from each of 10,000 and then
//! 100,000 more distinct devices, and after they went quiet (the MQTT
//! trigger's lanes retired). Goal: back within 50 MB of the start.
//! It also prints (stderr) the host's resident memory by kind of mapping at
//! start and once quiet: allocator arenas, glibc heaps and stacks, wasmtime's
//! pool, mapped files.

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
    let at_start = breakdown(&host)?;
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
    let once_quiet = breakdown(&host)?;
    eprintln!("rss: resident MB by kind of mapping, at start -> once quiet:");
    let mut kinds: Vec<&String> = at_start.keys().chain(once_quiet.keys()).collect();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        let (before, after) = (
            at_start.get(kind).copied().unwrap_or(0.0),
            once_quiet.get(kind).copied().unwrap_or(0.0),
        );
        if before.max(after) >= 0.5 {
            eprintln!("rss:   {kind:<40} {before:7.1} -> {after:7.1}");
        }
    }
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
            eprintln!("rss: quiet; the MQTT trigger: {trigger}");
            tokio::time::sleep(SETTLE).await;
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the host did not go quiet: {metrics}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The host's resident memory in MB by kind of mapping (from
/// `/proc/<pid>/smaps`): mimalloc's arenas, wasmtime's pooled
/// instance slots (large anonymous reservations), memory images (memfd),
/// and each mapped file (the binary, compiled components, databases).
fn breakdown(host: &Host) -> Result<std::collections::BTreeMap<String, f64>> {
    let smaps = std::fs::read_to_string(format!("/proc/{}/smaps", host.pid()))?;
    let mut by_kind = std::collections::BTreeMap::new();
    let mut kind = String::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            let (low, high) = first.split_once('-').unwrap_or_default();
            let size = u64::from_str_radix(high, 16)
                .unwrap_or(0)
                .saturating_sub(u64::from_str_radix(low, 16).unwrap_or(0));
            let name = fields.nth(4).unwrap_or_default();
            kind = match name {
                "" if size > 64 << 30 => "anonymous, > 64 GiB (wasmtime's pool)".to_owned(),
                "" if size >= 1 << 30 => format!("anonymous, {} GiB (mimalloc arenas)", size >> 30),
                "" => "anonymous, < 1 GiB (glibc heaps, stacks)".to_owned(),
                name if name.starts_with("/memfd:") => format!("memfd {name}"),
                name => match name.rsplit_once('.') {
                    Some((_, ext)) if ext.len() <= 6 => format!("file *.{ext}"),
                    _ => format!("file {name}"),
                },
            };
        } else if first == "Rss:" {
            let kb: f64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
            *by_kind.entry(kind.clone()).or_insert(0.0) += kb / 1024.0;
        }
    }
    Ok(by_kind)
}
