//! DescribeJob: `GET /api/v1/jobs/{jobId}` → the job with its counters.

use fleetjobs_api::routes::Operation;
use fleetjobs_api::{views, ApiError};
use fleetjobs_component::{path_params, respond, store};
use serde_json::Value;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn describe(request: &Request) -> Result<(u16, Value), ApiError> {
    let params = path_params(request, Operation::DescribeJob)?;
    let job_id = params.job_id()?;
    let store = store()?;
    let job = store.existing_job(job_id)?;
    let counts = store.status_counts(job_id)?;
    Ok((200, views::job(&job, &counts)))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond(describe(&request))
}
