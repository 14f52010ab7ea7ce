//! GetPendingJobExecutions: MQTT `…/jobs/get`, HTTP
//! `GET /device/v1/things/{thing}/jobs` → `{inProgressJobs, queuedJobs}`.

use fleetjobs_api::device::{DeviceError, GetPendingRequest};
use fleetjobs_component::device::{serve_device, DeviceCall};
use fleetjobs_component::store;
use fleetjobs_core::protocol;
use serde_json::{json, Map, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(call: &mut DeviceCall<GetPendingRequest>) -> Result<Value, DeviceError> {
    let pending = store()?.pending_for_thing(&call.thing_name)?;
    let (in_progress, queued) = protocol::pending_jobs(&pending);
    let mut fields = Map::new();
    fields.insert("inProgressJobs".into(), json!(in_progress));
    fields.insert("queuedJobs".into(), json!(queued));
    Ok(call.reply(fields))
}

#[http_component]
fn handle(request: Request) -> Response {
    serve_device(&request, operate)
}
