//! The sweeper, on the cron trigger: all time-driven work (docs/lifecycle.md#sweeper) — paced
//! releases, schedules and maintenance windows, end behaviours, timeouts,
//! abort, completion, batched deletion, retention — then whatever the outbox
//! still holds. Each pass is bounded and safe to run twice at once
//! (`Store::sweep`).
//!
//! The cron trigger ticks every second; `sweep_every_seconds` says how many
//! ticks make a pass, so the schedule is a variable while spin.toml keeps a
//! plain cron expression.

use fleetjobs_component::{now, publish_outbox, store, variable, PublishBudget};
use fleetjobs_core::time::DAY_MS;
use fleetjobs_store::sweep::DEFAULT_RETENTION_DAYS;
use fleetjobs_store::{SweepOptions, SweepReport};

wit_bindgen::generate!({
    world: "spin-cron",
    path: "../../wit/cron.wit",
});

struct Sweeper;

export!(Sweeper);

/// How long a pass spends publishing the outbox: a job for 100,000 things
/// writes 200,000 messages, so a few passes catch up, each well within the
/// host's execution deadline.
const PASS_PUBLISH_BUDGET: PublishBudget = PublishBudget {
    time: std::time::Duration::from_secs(10),
    messages: usize::MAX,
};

fn number(name: &str, default: u64) -> Result<u64, Error> {
    let text = variable(name, &default.to_string());
    text.trim()
        .parse()
        .map_err(|_| Error::Other(format!("variable {name}: {text:?} is not a whole number")))
}

impl Guest for Sweeper {
    fn handle_cron_event(metadata: Metadata) -> Result<(), Error> {
        let every = number("sweep_every_seconds", 2)?.max(1);
        if !metadata.timestamp.is_multiple_of(every) {
            return Ok(());
        }
        let retention_days = number("retention_days", DEFAULT_RETENTION_DAYS as u64)?;
        let options = SweepOptions {
            retention_ms: retention_days as i64 * DAY_MS,
            ..SweepOptions::default()
        };
        let store = store().map_err(|e| Error::Other(e.message))?;
        let report = store
            .sweep(now(), &options)
            .map_err(|e| Error::Other(e.to_string()))?;
        if report != SweepReport::default() {
            println!("sweep: {report:?}");
        }
        publish_outbox(&store, PASS_PUBLISH_BUDGET);
        Ok(())
    }
}
