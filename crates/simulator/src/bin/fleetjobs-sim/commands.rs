//! `fleetjobs-sim commands`: devices answering commands (EMQX Fleets'
//! topics) by one behaviour, with a summary line every second until killed.

use std::process::ExitCode;
use std::time::Duration;

use fleetjobs_simulator::{CommandBehaviour, CommandDevice};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Broker URL, e.g. mqtt://127.0.0.1:1883 (no client_id: it is the thing name).
    #[arg(long, env = "FLEETJOBS_SIM_MQTT_URL")]
    mqtt_url: String,
    /// Topic prefix in front of `/{thing}/executions/...`.
    #[arg(long, default_value = "$emqx/commands/things")]
    prefix: String,
    /// A file of `thingName deviceToken` lines: the devices to run, each
    /// logging in with its name and token.
    #[arg(long)]
    credentials: std::path::PathBuf,
    /// How every device answers: succeed (with a result), fail, reject,
    /// progress (IN_PROGRESS, then SUCCEEDED), ignore, or late (SUCCEEDED
    /// after --late-ms).
    #[arg(long, default_value = "succeed")]
    behaviour: String,
    /// How late the `late` devices answer, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    late_ms: u64,
    /// Seconds to wait for a connection.
    #[arg(long, default_value_t = 10)]
    timeout_secs: u64,
}

/// A behaviour by name: succeed, fail, reject, progress, ignore or late
/// (answering after `late_ms`).
pub(crate) fn parse_behaviour(name: &str, late_ms: u64) -> Result<CommandBehaviour, String> {
    Ok(match name {
        "succeed" => CommandBehaviour::Succeed,
        "fail" => CommandBehaviour::Fail,
        "reject" => CommandBehaviour::Reject,
        "progress" => CommandBehaviour::ProgressThenSucceed,
        "ignore" => CommandBehaviour::Ignore,
        "late" => CommandBehaviour::Late(Duration::from_millis(late_ms)),
        other => {
            return Err(format!(
                "--behaviour {other:?}: use succeed, fail, reject, progress, ignore or late"
            ))
        }
    })
}

pub fn run(args: Args) -> ExitCode {
    let setup = parse_behaviour(&args.behaviour, args.late_ms)
        .and_then(|behaviour| Ok((behaviour, crate::run::read_credentials(&args.credentials)?)));
    let (behaviour, logins) = match setup {
        Ok(setup) => setup,
        Err(e) => {
            eprintln!("fleetjobs-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let timeout = Duration::from_secs(args.timeout_secs);
    let mut devices = Vec::with_capacity(logins.len());
    for (thing, token) in &logins {
        match CommandDevice::connect(
            &args.mqtt_url,
            &args.prefix,
            thing,
            Some(token),
            behaviour,
            timeout,
        ) {
            Ok(device) => devices.push(device),
            Err(e) => {
                eprintln!("fleetjobs-sim: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!(
        "fleetjobs-sim: {} devices answering commands ({})",
        devices.len(),
        args.behaviour
    );
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let sum = |f: fn(&CommandDevice) -> u64| devices.iter().map(f).sum::<u64>();
        println!(
            "requests {} · accepted answers {} · dropped (expired) {}",
            sum(CommandDevice::received),
            sum(CommandDevice::accepted),
            sum(CommandDevice::dropped)
        );
    }
}
