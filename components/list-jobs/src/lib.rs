//! ListJobs: `GET /api/v1/jobs?status=&jobType=&thingGroupName=&limit=&nextToken=`.

use fleetjobs_api::request::{enum_param, page_params, query_param};
use fleetjobs_api::{views, ApiError};
use fleetjobs_component::{respond, store};
use serde_json::Value;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let query = request.query();
    let (limit, next_token) = page_params(query)?;
    let filter = fleetjobs_store::JobQuery {
        status: enum_param(
            query,
            "status",
            fleetjobs_core::JobStatus::parse,
            "SCHEDULED, IN_PROGRESS, CANCELED, COMPLETED, DELETION_IN_PROGRESS",
        )?,
        job_type: enum_param(
            query,
            "jobType",
            fleetjobs_core::JobType::parse,
            "SNAPSHOT, CONTINUOUS",
        )?,
        thing_group_name: query_param(query, "thingGroupName")?,
        limit,
        next_token,
    };
    let page = store()?.list_jobs(&filter)?;
    Ok((200, views::page("jobs", page, views::job_summary)))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond(operate(&request))
}
