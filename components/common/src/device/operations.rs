//! The four device operations (docs/device-protocol.md#operations), each written once: the HTTP
//! device components serve one each, `device-mqtt` all four.

use fleetjobs_api::device::{
    execution_state, DescribeRequest, DeviceError, GetPendingRequest, StartNextRequest,
    UpdateRequest,
};
use fleetjobs_api::request::{number_param, optional_bool_param};
use fleetjobs_core::execution::DeviceUpdate;
use fleetjobs_core::protocol::{self, DeviceOperation, NEXT_JOB};
use serde_json::{json, Map, Value};

use super::{DeviceCall, DeviceInput};
use crate::store;

/// Runs the operation a device's MQTT topic names.
pub fn run(operation: DeviceOperation, input: DeviceInput) -> Result<Value, DeviceError> {
    match operation {
        DeviceOperation::GetPending => input.run(get_pending),
        DeviceOperation::StartNext => input.run(start_next),
        DeviceOperation::Describe { job_id } => DeviceInput {
            job_id: Some(job_id),
            ..input
        }
        .run(describe),
        DeviceOperation::Update { job_id } => DeviceInput {
            job_id: Some(job_id),
            ..input
        }
        .run(update),
    }
}

/// GetPendingJobExecutions → `{inProgressJobs, queuedJobs}`.
pub fn get_pending(call: &mut DeviceCall<GetPendingRequest>) -> Result<Value, DeviceError> {
    let pending = store()?.pending_for_thing(&call.thing_name)?;
    let (in_progress, queued) = protocol::pending_jobs(&pending);
    let mut fields = Map::new();
    fields.insert("inProgressJobs".into(), json!(in_progress));
    fields.insert("queuedJobs".into(), json!(queued));
    Ok(call.reply(fields))
}

/// StartNextPendingJobExecution → `{execution?}`: the head of the thing's
/// pending list, started if it was QUEUED.
pub fn start_next(call: &mut DeviceCall<StartNextRequest>) -> Result<Value, DeviceError> {
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

/// DescribeJobExecution for the device → `{execution?}`; `$next` is the
/// head of the pending list (no execution key when nothing is pending).
pub fn describe(call: &mut DeviceCall<DescribeRequest>) -> Result<Value, DeviceError> {
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
        execution.describable_by_device()?;
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

/// UpdateJobExecution from the device → `{executionState?, jobDocument?}`.
pub fn update(call: &mut DeviceCall<UpdateRequest>) -> Result<Value, DeviceError> {
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
