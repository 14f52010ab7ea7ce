//! `fleetjobs-sim`: a fleet of simulated devices that run every job they are
//! handed. Each device starts the next pending execution (now, and on every
//! notify-next that carries one), reports it IN_PROGRESS, then SUCCEEDED, and
//! prints a line per finished job. Runs until killed.

use std::time::Duration;

use clap::Parser;
use fleetjobs_simulator::{Device, Error, NoticeKind};
use serde_json::{json, Value};

#[derive(Parser, Debug)]
#[command(
    name = "fleetjobs-sim",
    about = "Simulated AWS IoT Jobs devices over MQTT"
)]
struct Args {
    /// Broker URL, e.g. mqtt://127.0.0.1:1883 (no client_id: it is the thing name).
    #[arg(long, env = "FLEETJOBS_SIM_MQTT_URL")]
    mqtt_url: String,
    /// Topic prefix in front of `/{thing}/jobs/...`.
    #[arg(long, default_value = "$emqx/things")]
    prefix: String,
    /// How many devices to run.
    #[arg(long, default_value_t = 1)]
    things: usize,
    /// Thing names are this prefix followed by 1..=N.
    #[arg(long, default_value = "device-")]
    name_prefix: String,
    /// Seconds to wait for a connection or a reply.
    #[arg(long, default_value_t = 10)]
    timeout_secs: u64,
}

/// The execution in a start-next reply or a notify-next notice, if any.
fn job_id(body: &Value) -> Option<String> {
    body.get("execution")?
        .get("jobId")?
        .as_str()
        .map(str::to_owned)
}

/// Starts and completes pending executions until none is left.
fn run_pending(device: &Device) -> Result<(), Error> {
    loop {
        let reply = device.start_next(json!({}))?;
        let Some(job) = job_id(&reply.body).filter(|_| reply.accepted) else {
            if !reply.accepted {
                eprintln!("{}: start-next rejected: {}", device.thing(), reply.body);
            }
            return Ok(());
        };
        for status in ["IN_PROGRESS", "SUCCEEDED"] {
            let reply = device.update(&job, json!({ "status": status }))?;
            if !reply.accepted {
                eprintln!(
                    "{}: update {job} to {status} rejected: {}",
                    device.thing(),
                    reply.body
                );
                return Ok(());
            }
        }
        println!("{} {job} SUCCEEDED", device.thing());
    }
}

fn run_device(device: Device) -> Result<(), Error> {
    loop {
        match run_pending(&device) {
            Ok(()) => {}
            // A slow or restarting service: try again on the next notice.
            Err(e @ Error::Timeout { .. }) => eprintln!("{e}"),
            Err(e) => return Err(e),
        }
        match device.notice_where(Duration::from_secs(3600), |notice| {
            notice.kind == NoticeKind::NotifyNext && job_id(&notice.body).is_some()
        }) {
            Ok(_) | Err(Error::Timeout { .. }) => {}
            Err(e) => return Err(e),
        }
    }
}

fn main() {
    let args = Args::parse();
    let timeout = Duration::from_secs(args.timeout_secs);
    let workers: Vec<_> = (1..=args.things)
        .map(|n| {
            let thing = format!("{}{n}", args.name_prefix);
            let (url, prefix) = (args.mqtt_url.clone(), args.prefix.clone());
            std::thread::spawn(move || {
                let result = Device::connect(&url, &prefix, &thing, timeout).and_then(run_device);
                if let Err(e) = result {
                    eprintln!("{thing}: {e}");
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
}
