//! StartNextPendingJobExecution: MQTT `…/jobs/start-next`, HTTP
//! `PUT /device/v1/things/{thing}/jobs/$next` → `{execution?}`. The head of
//! the thing's pending list, started if it was QUEUED; a repeated clientToken
//! gets the first reply.

use fleetjobs_api::device::{DeviceError, StartNextRequest};
use fleetjobs_component::device::{serve_device, DeviceCall};
use fleetjobs_core::protocol;
use serde_json::{Map, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(call: &mut DeviceCall<StartNextRequest>) -> Result<Value, DeviceError> {
    call.apply_once("start-next", |store| {
        let started = store.start_next(
            &call.thing_name,
            call.request.status_details.as_ref(),
            call.request.step_timeout_in_minutes,
            call.now,
        )?;
        let mut fields = Map::new();
        if let Some(execution) = started {
            let document = store.existing_job(&execution.job_id)?.document;
            fields.insert(
                "execution".into(),
                protocol::execution(&execution, Some(&document), call.form, call.now),
            );
        }
        Ok(fields)
    })
}

#[http_component]
fn handle(request: Request) -> Response {
    serve_device(&request, operate)
}
