//! The gateway on the public routes: authenticates the bearer token, limits
//! the body size, matches method + path and forwards to the operation's
//! private component by service chaining (Spin routes on path only). The
//! route table is `fleetjobs_api::routes::ROUTES`, shared with the
//! operation components, which read their path parameters by name from it.

use fleetjobs_api::request::MAX_BODY_BYTES;
use fleetjobs_api::routes::API_PREFIX;
use fleetjobs_api::ApiError;
use fleetjobs_component::{
    api_route, error, forward_with_id, method_name, new_request_id, require_bearer,
};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

mod openapi;

/// The OpenAPI document's own path under [`API_PREFIX`] (served without
/// authentication).
const OPENAPI_PATH: &str = "openapi.json";

async fn serve(request: Request, request_id: &str) -> Result<Response, ApiError> {
    let is_openapi = request.path().strip_prefix(API_PREFIX) == Some(OPENAPI_PATH);
    if is_openapi && method_name(request.method()) == "GET" {
        return Ok(fleetjobs_component::json(200, &openapi::document()));
    }
    require_bearer(&request, "api_token")?;
    if request.body().len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let (route, _) = api_route(&request)?;
    forward_with_id(route.component, &request, request_id)
        .await
        .ok_or_else(|| ApiError::internal(request_id))
}

#[http_component]
async fn handle(request: Request) -> Response {
    let request_id = new_request_id();
    let mut response = serve(request, &request_id)
        .await
        .unwrap_or_else(|e| error(&e));
    response.set_header("x-request-id", request_id);
    response
}
