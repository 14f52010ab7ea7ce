//! UpdateJobExecution from the device: MQTT `…/jobs/{jobId}/update`, HTTP
//! `POST /device/v1/things/{thing}/jobs/{jobId}` → `{executionState?,
//! jobDocument?}`. A repeated clientToken gets the first reply.

use fleetjobs_api::device::{execution_state, DeviceError, UpdateRequest};
use fleetjobs_component::device::{serve_device, DeviceCall};
use fleetjobs_core::execution::DeviceUpdate;
use fleetjobs_core::protocol;
use serde_json::{Map, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(call: &mut DeviceCall<UpdateRequest>) -> Result<Value, DeviceError> {
    let job_id = call.job_id()?.to_owned();
    let update = DeviceUpdate {
        status: call.request.status,
        status_details: call.request.status_details.clone(),
        expected_version: call.request.expected_version.map(|v| v.0),
        step_timeout_in_minutes: call.request.step_timeout_in_minutes,
    };
    call.apply_once(&format!("{job_id}/update"), |store| {
        let execution = store.device_update(
            &call.thing_name,
            &job_id,
            call.request.execution_number.map(|n| n.0),
            &update,
            call.now,
        )?;
        let mut fields = Map::new();
        if call.request.include_job_execution_state == Some(true) {
            fields.insert("executionState".into(), execution_state(&execution.state()));
        }
        if call.request.include_job_document == Some(true) {
            let document = store.existing_job(&job_id)?.document;
            fields.insert(
                "jobDocument".into(),
                protocol::job_document(&document, call.form),
            );
        }
        Ok(fields)
    })
}

#[http_component]
fn handle(request: Request) -> Response {
    serve_device(&request, operate)
}
