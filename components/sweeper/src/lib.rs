//! The sweeper, on the cron trigger: all time-driven work, each pass bounded
//! and safe to run twice at once (design §1). So far it publishes what the
//! outbox still holds (notices a broker outage kept from going out).

use fleetjobs_component::publish_outbox;

wit_bindgen::generate!({
    world: "spin-cron",
    path: "../../wit/cron.wit",
});

struct Sweeper;

export!(Sweeper);

impl Guest for Sweeper {
    fn handle_cron_event(_metadata: Metadata) -> Result<(), Error> {
        publish_outbox();
        Ok(())
    }
}
