//! DescribeJobExecution for the device: MQTT `…/jobs/{jobId}/get`, HTTP
//! `GET /device/v1/things/{thing}/jobs/{jobId}?executionNumber=&includeJobDocument=`
//! → `{execution?}`. `$next` is the head of the pending list (no execution
//! key when nothing is pending).

use fleetjobs_api::device::{DescribeRequest, DeviceError};
use fleetjobs_api::request::{number_param, optional_bool_param};
use fleetjobs_component::device::{serve_device, DeviceCall};
use fleetjobs_component::store;
use fleetjobs_core::protocol::{self, NEXT_JOB};
use serde_json::{Map, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(call: &mut DeviceCall<DescribeRequest>) -> Result<Value, DeviceError> {
    // Over HTTP the options come in the query string.
    let invalid = |e: fleetjobs_api::ApiError| DeviceError::invalid(e.message);
    let execution_number = match number_param(&call.query, "executionNumber").map_err(invalid)? {
        Some(number) => Some(number),
        None => call.request.execution_number.map(|n| n.0),
    };
    let include_document = optional_bool_param(&call.query, "includeJobDocument")
        .map_err(invalid)?
        .or(call.request.include_job_document)
        .unwrap_or(true);

    let store = store()?;
    let job_id = call.job_id()?.to_owned();
    let execution = if job_id == NEXT_JOB {
        store
            .pending_for_thing(&call.thing_name)?
            .into_iter()
            .next()
    } else {
        let execution = store
            .execution(&job_id, &call.thing_name, execution_number)?
            .ok_or_else(|| {
                DeviceError::not_found(format!(
                    "job {job_id} has no execution on thing {}",
                    call.thing_name
                ))
            })?;
        if execution.status.is_terminal() {
            return Err(DeviceError::new(
                410,
                "TerminalStateReached",
                format!(
                    "the execution of job {job_id} on {} is {}",
                    call.thing_name, execution.status
                ),
            ));
        }
        Some(execution)
    };
    let mut fields = Map::new();
    if let Some(execution) = execution {
        let document = match include_document {
            true => Some(store.existing_job(&execution.job_id)?.document),
            false => None,
        };
        fields.insert(
            "execution".into(),
            protocol::execution(&execution, document.as_ref(), call.form, call.now),
        );
    }
    Ok(call.reply(fields))
}

#[http_component]
fn handle(request: Request) -> Response {
    serve_device(&request, operate)
}
