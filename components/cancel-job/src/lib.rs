//! CancelJob: `POST /api/v1/jobs/{jobId}/cancel` `{reasonCode?, comment?, force?}`.

use fleetjobs_api::request::json_body;
use fleetjobs_api::routes::Operation;
use fleetjobs_api::ApiError;
use fleetjobs_component::{now, path_params, respond_and_publish, store};
use serde_json::{json, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let params = path_params(request, Operation::CancelJob)?;
    let job_id = params.job_id()?;
    let cancel: fleetjobs_core::job::CancelJob = json_body(request.body())?;
    let job = store()?.cancel_job(job_id, &cancel, now())?;
    Ok((200, json!({"jobId": job.job_id, "status": job.status})))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond_and_publish(operate(&request))
}
