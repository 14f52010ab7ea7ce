//! ListCommands: `GET /api/v1/commands?thingName=&status=&limit=&nextToken=`,
//! newest first.

use fleetjobs_api::request::{enum_param, page_params, query_param};
use fleetjobs_api::{views, ApiError};
use fleetjobs_component::{respond, store};
use fleetjobs_core::device_command::CommandStatus;
use serde_json::Value;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let query = request.query();
    let (limit, next_token) = page_params(query)?;
    let filter = fleetjobs_store::CommandQuery {
        thing_name: query_param(query, "thingName")?,
        status: enum_param(
            query,
            "status",
            CommandStatus::parse,
            "SENT, IN_PROGRESS, SUCCEEDED, FAILED, REJECTED, TIMED_OUT, CANCELED",
        )?,
        limit,
        next_token,
    };
    let page = store()?.list_commands(&filter)?;
    Ok((200, views::page("commands", page, views::command)))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond(operate(&request))
}
