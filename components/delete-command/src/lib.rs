//! DeleteCommand: `DELETE /api/v1/commands/{executionId}` → 204; only a
//! terminal execution (else a 409).

use fleetjobs_api::routes::Operation;
use fleetjobs_api::ApiError;
use fleetjobs_component::{path_params, respond, store};
use serde_json::Value;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let params = path_params(request, Operation::DeleteCommand)?;
    store()?.delete_command(params.execution_id()?)?;
    Ok((204, Value::Null))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond(operate(&request))
}
