//! DescribeCommand: `GET /api/v1/commands/{executionId}`.

use fleetjobs_api::routes::Operation;
use fleetjobs_api::{views, ApiError};
use fleetjobs_component::{path_params, respond, store};
use serde_json::Value;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let params = path_params(request, Operation::DescribeCommand)?;
    let command = store()?.existing_command(params.execution_id()?)?;
    Ok((200, views::command(&command)))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond(operate(&request))
}
