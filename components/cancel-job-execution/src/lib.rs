//! CancelJobExecution: `POST /api/v1/jobs/{jobId}/executions/{thingName}/cancel`
//! `{force?, expectedVersion?, statusDetails?}`.

use fleetjobs_api::request::json_body;
use fleetjobs_api::routes::Operation;
use fleetjobs_api::{views, ApiError};
use fleetjobs_component::{now, path_params, respond_and_publish, store};
use serde_json::Value;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Cancel {
    #[serde(default)]
    force: bool,
    #[serde(default)]
    expected_version: Option<i64>,
    #[serde(default)]
    status_details: Option<fleetjobs_core::model::StatusDetails>,
}

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let params = path_params(request, Operation::CancelJobExecution)?;
    let job_id = params.job_id()?;
    let thing = params.thing_name()?;
    let body: Cancel = json_body(request.body())?;
    let execution = store()?.cancel_execution(
        job_id,
        thing,
        body.force,
        body.expected_version,
        body.status_details.as_ref(),
        now(),
    )?;
    Ok((200, views::execution(&execution)))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond_and_publish(operate(&request))
}
