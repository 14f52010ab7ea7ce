//! DeleteJobExecution: `DELETE /api/v1/jobs/{jobId}/executions/{thingName}[?executionNumber=&force=true]`.

use fleetjobs_api::request::{bool_param, number_param};
use fleetjobs_api::routes::Operation;
use fleetjobs_api::ApiError;
use fleetjobs_component::{now, path_params, respond_and_publish, store};
use serde_json::Value;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let params = path_params(request, Operation::DeleteJobExecution)?;
    let job_id = params.job_id()?;
    let thing = params.thing_name()?;
    let query = request.query();
    let force = bool_param(query, "force")?;
    let store = store()?;
    let number = match number_param(query, "executionNumber")? {
        Some(number) => number,
        None => {
            store
                .execution(job_id, thing, None)?
                .ok_or_else(|| {
                    ApiError::not_found(format!("job {job_id} has no execution on thing {thing}"))
                })?
                .execution_number
        }
    };
    store.delete_execution(job_id, thing, number, force, now())?;
    Ok((204, Value::Null))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond_and_publish(operate(&request))
}
