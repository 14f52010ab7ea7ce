//! GetJobDocument: `GET /api/v1/jobs/{jobId}/document`.

use fleetjobs_api::routes::Operation;
use fleetjobs_api::ApiError;
use fleetjobs_component::{path_params, respond, store};
use serde_json::{json, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let params = path_params(request, Operation::GetJobDocument)?;
    let job_id = params.job_id()?;
    let job = store()?.existing_job(job_id)?;
    Ok((200, json!({"document": job.document})))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond(operate(&request))
}
