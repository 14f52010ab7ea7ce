//! `fleetjobs-sim run`: a fleet of simulated devices with a live summary.

use std::process::ExitCode;
use std::time::Duration;

use fleetjobs_simulator::{Behaviour, Fleet, FleetConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
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
    /// A file of `thingName deviceToken` lines: the devices to run (instead of
    /// --things and --name-prefix), each logging in with its name and token.
    #[arg(long)]
    credentials: Option<std::path::PathBuf>,
    /// Share of the devices that report FAILED.
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    fail: f64,
    /// Share of the devices that report REJECTED at once.
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    reject: f64,
    /// Share of the devices that start their first job and never report again.
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    hang: f64,
    /// Share of the devices that go offline at start and come back after --offline-secs.
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    offline: f64,
    /// Share of the devices that pause ten times longer between steps.
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    slow: f64,
    /// Pause between progress steps, in milliseconds.
    #[arg(long, default_value_t = 50)]
    step_delay_ms: u64,
    /// IN_PROGRESS updates before the final status.
    #[arg(long, default_value_t = 2)]
    progress_steps: u32,
    /// How long the offline devices stay away, in seconds.
    #[arg(long, default_value_t = 10)]
    offline_secs: u64,
    /// Seconds to wait for a connection or a reply.
    #[arg(long, default_value_t = 10)]
    timeout_secs: u64,
    /// Also answer commands on each device's connection: succeed, fail,
    /// reject, progress, ignore or late (after --command-late-ms).
    #[arg(long)]
    commands: Option<String>,
    /// Topic prefix in front of `/{thing}/executions/...` for --commands.
    #[arg(long, default_value = "$emqx/commands/things")]
    commands_prefix: String,
    /// How late `--commands late` answers, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    command_late_ms: u64,
    /// Milliseconds between two summary lines.
    #[arg(long, default_value_t = 1000)]
    summary_interval_ms: u64,
}

fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!("{text:?} is not a share between 0 and 1")),
    }
}

/// `(thing, token)` from each `thingName deviceToken` line.
pub(crate) fn read_credentials(path: &std::path::Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(
            |(i, line)| match line.split_whitespace().collect::<Vec<_>>()[..] {
                [thing, token] => Ok((thing.to_owned(), token.to_owned())),
                _ => Err(format!(
                    "{}:{}: expected `thingName deviceToken`",
                    path.display(),
                    i + 1
                )),
            },
        )
        .collect()
}

pub fn run(args: Args) -> ExitCode {
    let logins = match &args.credentials {
        Some(path) => match read_credentials(path) {
            Ok(logins) => logins,
            Err(e) => {
                eprintln!("fleetjobs-sim: {e}");
                return ExitCode::from(2);
            }
        },
        None => Vec::new(),
    };
    let things = match logins.is_empty() {
        true => (1..=args.things)
            .map(|n| format!("{}{n}", args.name_prefix))
            .collect(),
        false => logins.iter().map(|(thing, _)| thing.clone()).collect(),
    };
    let mut config = FleetConfig::new(&args.mqtt_url, &args.prefix, things);
    config.tokens = logins.into_iter().collect();
    config.mix = vec![
        (Behaviour::Fail, args.fail),
        (Behaviour::Reject, args.reject),
        (Behaviour::Hang, args.hang),
        (Behaviour::Offline, args.offline),
        (Behaviour::Slow, args.slow),
    ];
    let shares: f64 = config.mix.iter().map(|(_, share)| share).sum();
    if shares > 1.0 {
        eprintln!("fleetjobs-sim: the shares add up to {shares}, more than the whole fleet");
        return ExitCode::from(2);
    }
    config.step_delay = Duration::from_millis(args.step_delay_ms);
    config.progress_steps = args.progress_steps;
    config.offline_for = Duration::from_secs(args.offline_secs);
    config.connect_timeout = Duration::from_secs(args.timeout_secs);
    config.call_timeout = Duration::from_secs(args.timeout_secs);
    if let Some(name) = &args.commands {
        match crate::commands::parse_behaviour(name, args.command_late_ms) {
            Ok(behaviour) => config.commands = Some((args.commands_prefix.clone(), behaviour)),
            Err(e) => {
                eprintln!("fleetjobs-sim: --commands: {e}");
                return ExitCode::from(2);
            }
        }
    }

    let fleet = match Fleet::start(config) {
        Ok(fleet) => fleet,
        Err(e) => {
            eprintln!("fleetjobs-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Until killed: the broker keeps each device's session, so nothing is lost by dying.
    loop {
        println!("{}", fleet.summary());
        std::thread::sleep(Duration::from_millis(args.summary_interval_ms));
    }
}
