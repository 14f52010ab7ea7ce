//! A request's operation and path parameters, read from the route table of
//! `fleetjobs_api::routes` (the one description of the API's paths).

use fleetjobs_api::routes::{self, Operation, PathParams, Route};
use fleetjobs_api::ApiError;
use spin_sdk::http::Request;

use crate::http::method_name;

/// The decoded path parameters of `operation` on this request, by name
/// (`params.job_id()?`); a malformed escape is a 400 naming the segment.
pub fn path_params(request: &Request, operation: Operation) -> Result<PathParams, ApiError> {
    routes::operation_params(operation, request.path())
}

/// The route serving this request's method and path, with its decoded
/// parameters: for a component that serves several operations.
pub fn api_route(request: &Request) -> Result<(&'static Route, PathParams), ApiError> {
    routes::api_route(method_name(request.method()), request.path())
}
