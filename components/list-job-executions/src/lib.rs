//! ListJobExecutionsForJob: `GET /api/v1/jobs/{jobId}/executions?status=&limit=&nextToken=`.

use fleetjobs_api::request::execution_query;
use fleetjobs_api::routes::Operation;
use fleetjobs_api::{views, ApiError};
use fleetjobs_component::{path_params, respond, store};
use serde_json::Value;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let params = path_params(request, Operation::ListJobExecutionsForJob)?;
    let job_id = params.job_id()?;
    let store = store()?;
    store.existing_job(job_id)?;
    let page = store.executions_of_job(job_id, &execution_query(request.query())?)?;
    Ok((
        200,
        views::page("executionSummaries", page, views::execution),
    ))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond(operate(&request))
}
