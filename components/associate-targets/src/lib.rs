//! AssociateTargetsWithJob: `POST /api/v1/jobs/{jobId}/targets`
//! `{targets: {thingNames?, thingGroupNames?}}` (continuous jobs).

use fleetjobs_api::request::json_body;
use fleetjobs_api::routes::Operation;
use fleetjobs_api::ApiError;
use fleetjobs_component::{now, path_params, respond_and_publish, store};
use serde_json::{json, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Associate {
    targets: fleetjobs_core::model::Targets,
}

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let params = path_params(request, Operation::AssociateTargetsWithJob)?;
    let job_id = params.job_id()?;
    let body: Associate = json_body(request.body())?;
    let job = store()?.associate_targets(job_id, &body.targets, now())?;
    Ok((200, json!({"jobId": job.job_id, "targets": job.targets})))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond_and_publish(operate(&request))
}
