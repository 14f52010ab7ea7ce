//! CreateJob: `POST /api/v1/jobs` → 201 `{jobId, description?}`.

use fleetjobs_api::request::json_body;
use fleetjobs_api::ApiError;
use fleetjobs_component::{now, respond_and_publish, store};
use fleetjobs_core::job::CreateJob;
use serde_json::{json, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn create(request: &Request) -> Result<(u16, Value), ApiError> {
    let body: CreateJob = json_body(request.body())?;
    let store = store()?;
    let job = store.create_job(body, uuid::Uuid::new_v4().to_string(), now())?;
    let mut reply = json!({"jobId": job.job_id});
    if let Some(description) = &job.description {
        reply["description"] = json!(description);
    }
    Ok((201, reply))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond_and_publish(create(&request))
}
