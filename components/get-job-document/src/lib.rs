//! GetJobDocument: `GET /api/v1/jobs/{jobId}/document`.

use fleetjobs_api::ApiError;
use fleetjobs_component::{api_segments, no_route, respond, store};
use serde_json::{json, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let [_, job_id, _] = &api_segments(request)?[..] else {
        return Err(no_route(request));
    };
    let job = store()?.existing_job(job_id)?;
    Ok((200, json!({"document": job.document})))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond(operate(&request))
}
