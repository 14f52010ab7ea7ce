//! DescribeJobExecution: `GET /api/v1/jobs/{jobId}/executions/{thingName}[?executionNumber=]`.

use fleetjobs_api::request::number_param;
use fleetjobs_api::routes::Operation;
use fleetjobs_api::{views, ApiError};
use fleetjobs_component::{path_params, respond, store};
use serde_json::Value;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let params = path_params(request, Operation::DescribeJobExecution)?;
    let job_id = params.job_id()?;
    let thing = params.thing_name()?;
    let number = number_param(request.query(), "executionNumber")?;
    let execution = store()?.execution(job_id, thing, number)?.ok_or_else(|| {
        ApiError::not_found(format!("job {job_id} has no execution on thing {thing}"))
    })?;
    Ok((200, views::execution(&execution)))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond(operate(&request))
}
