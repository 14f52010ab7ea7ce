//! The gateway on the public routes: authenticates the bearer token, limits
//! the body size, matches method + path and forwards to the operation's
//! private component by service chaining (Spin routes on path only).

use fleetjobs_api::request::{path_segments, MAX_BODY_BYTES};
use fleetjobs_api::routing::{find_route, RouteMiss};
use fleetjobs_api::ApiError;
use fleetjobs_component::{error, forward_with_id, method_name, new_request_id, require_bearer};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

mod openapi;

/// One operation of the API (docs/control-plane.md#routes).
pub struct Route {
    pub method: &'static str,
    /// Under `/api/v1/`; `{name}` is one path segment.
    pub path: &'static str,
    pub component: &'static str,
    pub operation: &'static str,
    /// The success status.
    pub status: u16,
    /// The request body's schema in the OpenAPI document, if any.
    pub body: Option<&'static str>,
}

const fn route_of(
    method: &'static str,
    path: &'static str,
    component: &'static str,
    operation: &'static str,
    status: u16,
    body: Option<&'static str>,
) -> Route {
    Route {
        method,
        path,
        component,
        operation,
        status,
        body,
    }
}

pub const ROUTES: &[Route] = &[
    route_of(
        "POST",
        "jobs",
        "create-job",
        "CreateJob",
        201,
        Some("CreateJob"),
    ),
    route_of("GET", "jobs", "list-jobs", "ListJobs", 200, None),
    route_of(
        "GET",
        "jobs/{jobId}",
        "describe-job",
        "DescribeJob",
        200,
        None,
    ),
    route_of(
        "PATCH",
        "jobs/{jobId}",
        "update-job",
        "UpdateJob",
        200,
        Some("UpdateJob"),
    ),
    route_of(
        "DELETE",
        "jobs/{jobId}",
        "delete-job",
        "DeleteJob",
        204,
        None,
    ),
    route_of(
        "POST",
        "jobs/{jobId}/cancel",
        "cancel-job",
        "CancelJob",
        200,
        Some("CancelJob"),
    ),
    route_of(
        "GET",
        "jobs/{jobId}/document",
        "get-job-document",
        "GetJobDocument",
        200,
        None,
    ),
    route_of(
        "POST",
        "jobs/{jobId}/targets",
        "associate-targets",
        "AssociateTargetsWithJob",
        200,
        Some("AssociateTargets"),
    ),
    route_of(
        "GET",
        "jobs/{jobId}/executions",
        "list-job-executions",
        "ListJobExecutionsForJob",
        200,
        None,
    ),
    route_of(
        "GET",
        "jobs/{jobId}/executions/{thingName}",
        "describe-job-execution",
        "DescribeJobExecution",
        200,
        None,
    ),
    route_of(
        "DELETE",
        "jobs/{jobId}/executions/{thingName}",
        "delete-job-execution",
        "DeleteJobExecution",
        204,
        None,
    ),
    route_of(
        "POST",
        "jobs/{jobId}/executions/{thingName}/cancel",
        "cancel-job-execution",
        "CancelJobExecution",
        200,
        Some("CancelJobExecution"),
    ),
    route_of(
        "GET",
        "things/{thingName}/executions",
        "list-thing-executions",
        "ListJobExecutionsForThing",
        200,
        None,
    ),
    route_of(
        "POST",
        "things",
        "things",
        "CreateThing",
        201,
        Some("CreateThing"),
    ),
    route_of("GET", "things", "things", "ListThings", 200, None),
    route_of(
        "GET",
        "things/{thingName}",
        "things",
        "DescribeThing",
        200,
        None,
    ),
    route_of(
        "PATCH",
        "things/{thingName}",
        "things",
        "UpdateThing",
        200,
        Some("UpdateThing"),
    ),
    route_of(
        "DELETE",
        "things/{thingName}",
        "things",
        "DeleteThing",
        204,
        None,
    ),
    route_of(
        "POST",
        "things/{thingName}/token",
        "things",
        "RotateDeviceToken",
        200,
        None,
    ),
    route_of(
        "POST",
        "thing-groups",
        "thing-groups",
        "CreateThingGroup",
        201,
        Some("CreateThingGroup"),
    ),
    route_of(
        "GET",
        "thing-groups",
        "thing-groups",
        "ListThingGroups",
        200,
        None,
    ),
    route_of(
        "GET",
        "thing-groups/{thingGroupName}",
        "thing-groups",
        "DescribeThingGroup",
        200,
        None,
    ),
    route_of(
        "DELETE",
        "thing-groups/{thingGroupName}",
        "thing-groups",
        "DeleteThingGroup",
        204,
        None,
    ),
    route_of(
        "GET",
        "thing-groups/{thingGroupName}/things",
        "thing-groups",
        "ListThingsInThingGroup",
        200,
        None,
    ),
    route_of(
        "PUT",
        "thing-groups/{thingGroupName}/things/{thingName}",
        "thing-groups",
        "AddThingToThingGroup",
        204,
        None,
    ),
    route_of(
        "DELETE",
        "thing-groups/{thingGroupName}/things/{thingName}",
        "thing-groups",
        "RemoveThingFromThingGroup",
        204,
        None,
    ),
];

/// The OpenAPI document's own path (served without authentication).
const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// Which component serves `method` on `path`; a known path with another
/// method is a 405 that lists the allowed ones.
fn route(method: &str, path: &str) -> Result<&'static str, ApiError> {
    let segments = path_segments(path, "/api/v1/")?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match find_route(ROUTES, method, &segments, |r| (r.method, r.path)) {
        Ok(route) => Ok(route.component),
        Err(RouteMiss::NotFound) => Err(ApiError::not_found(format!("no API route {path}"))),
        Err(RouteMiss::MethodNotAllowed(allowed)) => {
            Err(ApiError::method_not_allowed(method, path, allowed))
        }
    }
}

async fn serve(request: Request, request_id: &str) -> Result<Response, ApiError> {
    if request.path() == OPENAPI_PATH && method_name(request.method()) == "GET" {
        return Ok(fleetjobs_component::json(200, &openapi::document()));
    }
    require_bearer(&request, "api_token")?;
    if request.body().len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let method = method_name(request.method()).to_owned();
    let component = route(&method, request.path())?;
    forward_with_id(component, &request, request_id)
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
