//! Publishing the outbox: the notices a commit wrote go to the broker after
//! the commit, within a time budget; what is left waits for the sweeper.

use fleetjobs_api::ApiError;
use fleetjobs_store::backend::spin::SpinSql;
use fleetjobs_store::{LaneClaim, Published, Store};
use serde_json::Value;
use spin_sdk::http::Response;

use crate::http::respond;
use crate::mqtt::mqtt_connection;
use crate::storage::{now, store};

/// How many outbox messages one claim takes.
pub const OUTBOX_BATCH: usize = 500;
/// How much publishing a run does before it stops.
#[derive(Debug, Clone, Copy)]
pub struct PublishBudget {
    pub time: std::time::Duration,
    /// Messages, counted in whole claims of [`OUTBOX_BATCH`].
    pub messages: usize,
}

/// What a request publishes after its commit: the notices of at most one
/// release batch (a device request writes a few, a job's creation those of
/// its first batch), within 2 s. A larger backlog is the sweeper's, so a
/// request stays short.
pub const REQUEST_PUBLISH_BUDGET: PublishBudget = PublishBudget {
    time: std::time::Duration::from_secs(2),
    messages: 2 * fleetjobs_core::outcome::RELEASE_BATCH as usize,
};

/// Answers an operation that may have changed executions, then publishes
/// the notices its commit wrote (for at most [`REQUEST_PUBLISH_BUDGET`]).
pub fn respond_and_publish(outcome: Result<(u16, Value), ApiError>) -> Response {
    let response = respond(outcome);
    match store() {
        Ok(store) => publish_outbox(&store, REQUEST_PUBLISH_BUDGET),
        Err(e) => eprintln!("outbox: {}", e.message),
    }
    response
}

/// Publishes what the outbox holds, oldest first, within `budget`:
/// the notices a commit wrote, and any left over from a broker outage.
/// Called after the commit; a failure is logged and the messages stay for
/// the next publisher.
pub fn publish_outbox(store: &Store<SpinSql>, budget: PublishBudget) {
    publish_lanes(budget, |batch, publish| {
        store.publish_outbox(now(), batch, batch, publish)
    });
}

/// Publishes what a device request's commit wrote: the lane of its thing
/// (shared with a few others), within [`REQUEST_PUBLISH_BUDGET`], starting
/// with `claimed`, the lane as the request leased it in its own
/// transaction; other lanes are their own requests' and the sweeper's.
/// Nothing claimed: the lane was empty at the commit, or another publisher
/// holds it (what it did not take, the sweeper sends within a second).
pub fn publish_lane_of(store: &Store<SpinSql>, thing_name: &str, claimed: Option<LaneClaim>) {
    let Some(claim) = claimed else {
        return;
    };
    let mut claimed = Some(claim);
    publish_lanes(REQUEST_PUBLISH_BUDGET, |batch, publish| {
        match claimed.take() {
            Some(claim) => store.publish_claim(&claim, publish),
            None => store.publish_lane_of(thing_name, now(), batch, batch, publish),
        }
    });
}

type Publisher<'a> = &'a mut dyn FnMut(&str, &[u8]) -> Result<(), String>;

/// Runs `publish_batch` (a store publisher) in batches of [`OUTBOX_BATCH`]
/// on one MQTT connection, opened when the first message needs it, until a
/// batch comes back short or `budget` is spent.
fn publish_lanes(
    budget: PublishBudget,
    mut publish_batch: impl FnMut(usize, Publisher<'_>) -> fleetjobs_store::Result<Published>,
) {
    use spin_sdk::mqtt::{Connection, Qos};
    let started = std::time::Instant::now();
    let mut connection: Option<Connection> = None;
    let mut publish = |topic: &str, payload: &[u8]| {
        if connection.is_none() {
            connection = Some(mqtt_connection().map_err(|e| e.to_string())?);
        }
        let connection = connection.as_ref().expect("opened above");
        connection
            .publish(topic, payload, Qos::AtLeastOnce)
            .map_err(|e| e.to_string())
    };
    let mut total = 0;
    let outcome = loop {
        match publish_batch(OUTBOX_BATCH, &mut publish) {
            Ok(batch)
                if batch.failure.is_none()
                    && batch.count == OUTBOX_BATCH
                    && total + batch.count < budget.messages
                    && started.elapsed() < budget.time =>
            {
                total += batch.count;
            }
            Ok(mut last) => {
                last.count += total;
                break Ok(last);
            }
            Err(e) => break Err(e),
        }
    };
    match outcome {
        Ok(published) => {
            if let Some(failure) = published.failure {
                eprintln!(
                    "outbox: published {}, then stopped: {failure}",
                    published.count
                );
            }
        }
        Err(e) => eprintln!("outbox: {e}"),
    }
}
