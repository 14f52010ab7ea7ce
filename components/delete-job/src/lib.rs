//! DeleteJob: `DELETE /api/v1/jobs/{jobId}[?force=true]`. The job shows
//! DELETION_IN_PROGRESS until its executions are gone; a few batches go now,
//! the sweeper finishes the rest.

use fleetjobs_api::request::bool_param;
use fleetjobs_api::routes::Operation;
use fleetjobs_api::ApiError;
use fleetjobs_component::{now, path_params, respond_and_publish, store};
use serde_json::Value;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let params = path_params(request, Operation::DeleteJob)?;
    let job_id = params.job_id()?;
    let force = bool_param(request.query(), "force")?;
    let store = store()?;
    store.delete_job(job_id, force, now())?;
    store.purge_job_inline(job_id, now())?;
    Ok((204, Value::Null))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond_and_publish(operate(&request))
}
