//! SendCommand: `POST /api/v1/commands[?wait=N]` `{thingName, action, params?, ttl?}`
//! → 201 with the execution (docs/commands.md). The command and its request
//! commit together; the request is published right after, with the rest of
//! its thing's outbox lane. With `wait`, the
//! answer comes once the execution is terminal or after N seconds (N at
//! most the ttl and 60), whichever is first.

use std::time::{Duration, Instant};

use fleetjobs_api::request::{json_body, number_param, MAX_WAIT_SECONDS};
use fleetjobs_api::{views, ApiError};
use fleetjobs_component::outbox::{publish_lane_of, OUTBOX_BATCH};
use fleetjobs_component::{now, respond, store};
use fleetjobs_core::device_command::{SendCommand, DEFAULT_TTL_SECONDS};
use fleetjobs_store::OUTBOX_LEASE_MS;
use serde_json::Value;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

/// How often a waiting request reads the execution again.
const POLL: Duration = Duration::from_millis(20);

fn send(request: &Request) -> Result<(u16, Value), ApiError> {
    let wait = number_param(request.query(), "wait")?.unwrap_or(0);
    let body: SendCommand = json_body(request.body())?;
    let ttl = body.ttl.unwrap_or(DEFAULT_TTL_SECONDS);
    // A ttl out of range is the core's to refuse; wait is checked against
    // a valid one.
    if !(0..=MAX_WAIT_SECONDS).contains(&wait) || (ttl >= 1 && wait > ttl) {
        return Err(ApiError::invalid(format!(
            "wait: {wait} must be 0-{MAX_WAIT_SECONDS} seconds and at most the ttl ({ttl})"
        )));
    }
    let store = store()?;
    let now = now();
    let (mut command, claimed) = store.transaction(|store| {
        let command = store.send_command(body, uuid::Uuid::new_v4().to_string(), now)?;
        // The request is in its thing's outbox lane: leased in this same
        // transaction, publishing it needs no second one to start; only
        // that lane (the others are their own requests' and the sweeper's).
        let claimed =
            store.claim_lane_of(&command.thing_name, now, OUTBOX_LEASE_MS, OUTBOX_BATCH)?;
        Ok((command, claimed))
    })?;
    publish_lane_of(&store, &command.thing_name, claimed);
    let until = Instant::now() + Duration::from_secs(wait as u64);
    while !command.status.is_terminal() && Instant::now() < until {
        std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        command = store.existing_command(&command.execution_id)?;
    }
    Ok((201, views::command(&command)))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond(send(&request))
}
