//! UpdateJob: `PATCH /api/v1/jobs/{jobId}`.

use fleetjobs_api::request::json_body;
use fleetjobs_api::routes::Operation;
use fleetjobs_api::{views, ApiError};
use fleetjobs_component::{now, path_params, respond, store};
use serde_json::Value;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let params = path_params(request, Operation::UpdateJob)?;
    let job_id = params.job_id()?;
    let update = json_body(request.body())?;
    let store = store()?;
    let job = store.update_job(job_id, update, now())?;
    let counts = store.status_counts(job_id)?;
    Ok((200, views::job(&job, &counts)))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond(operate(&request))
}
