//! CancelCommand: `POST /api/v1/commands/{executionId}/cancel`: a SENT or
//! IN_PROGRESS execution becomes CANCELED (a terminal one is a 409).

use fleetjobs_api::routes::Operation;
use fleetjobs_api::{views, ApiError};
use fleetjobs_component::{now, path_params, respond, store};
use serde_json::Value;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let params = path_params(request, Operation::CancelCommand)?;
    let command = store()?.cancel_command(params.execution_id()?, now())?;
    Ok((200, views::command(&command)))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond(operate(&request))
}
