//! The one description of the HTTP paths: the control plane's operations
//! (docs/control-plane.md#routes) under [`API_PREFIX`] and the device
//! operations (docs/device-protocol.md#http-device-api) under
//! [`DEVICE_PREFIX`], each with its method, path pattern (`{name}` is
//! one path segment) and the component serving it. The gateways route by
//! these tables, the OpenAPI document is generated from [`ROUTES`], and the
//! operation components read their path parameters by name through them.

use std::fmt;

use crate::device::DeviceError;
use crate::error::ApiError;
use crate::request::path_segments;
use crate::routing::{find_route, path_matches, RouteMiss};
use fleetjobs_core::protocol::NEXT_JOB;

/// The control plane's path prefix.
pub const API_PREFIX: &str = "/api/v1/";
/// The device API's path prefix: `/device/v1/things/{thingName}/jobs[/{jobId}]`.
pub const DEVICE_PREFIX: &str = "/device/v1/";

macro_rules! operations {
    ($($name:ident),* $(,)?) => {
        /// An operation of the control plane (docs/control-plane.md#routes), by its AWS name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation {
            $($name),*
        }

        impl Operation {
            pub const ALL: &'static [Operation] = &[$(Operation::$name),*];

            /// The name, as the OpenAPI document's `operationId`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Operation::$name => stringify!($name)),*
                }
            }
        }
    };
}

operations! {
    CreateJob,
    ListJobs,
    DescribeJob,
    UpdateJob,
    DeleteJob,
    CancelJob,
    GetJobDocument,
    AssociateTargetsWithJob,
    ListJobExecutionsForJob,
    DescribeJobExecution,
    DeleteJobExecution,
    CancelJobExecution,
    ListJobExecutionsForThing,
    CreateThing,
    ListThings,
    DescribeThing,
    UpdateThing,
    DeleteThing,
    RotateDeviceToken,
    ListThingGroupsForThing,
    CreateThingGroup,
    ListThingGroups,
    DescribeThingGroup,
    DeleteThingGroup,
    ListThingsInThingGroup,
    AddThingToThingGroup,
    RemoveThingFromThingGroup,
    SendCommand,
    ListCommands,
    DescribeCommand,
    CancelCommand,
    DeleteCommand,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One operation of the API (docs/control-plane.md#routes).
#[derive(Debug)]
pub struct Route {
    pub method: &'static str,
    /// Under [`API_PREFIX`]; `{name}` is one path segment.
    pub path: &'static str,
    pub component: &'static str,
    pub operation: Operation,
    /// The success status.
    pub status: u16,
    /// The request body's schema in the OpenAPI document, if any.
    pub body: Option<&'static str>,
}

const fn route(
    method: &'static str,
    path: &'static str,
    component: &'static str,
    operation: Operation,
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

use Operation as Op;

/// Every operation of the control plane, once.
pub const ROUTES: &[Route] = &[
    route(
        "POST",
        "jobs",
        "create-job",
        Op::CreateJob,
        201,
        Some("CreateJob"),
    ),
    route("GET", "jobs", "list-jobs", Op::ListJobs, 200, None),
    route(
        "GET",
        "jobs/{jobId}",
        "describe-job",
        Op::DescribeJob,
        200,
        None,
    ),
    route(
        "PATCH",
        "jobs/{jobId}",
        "update-job",
        Op::UpdateJob,
        200,
        Some("UpdateJob"),
    ),
    route(
        "DELETE",
        "jobs/{jobId}",
        "delete-job",
        Op::DeleteJob,
        204,
        None,
    ),
    route(
        "POST",
        "jobs/{jobId}/cancel",
        "cancel-job",
        Op::CancelJob,
        200,
        Some("CancelJob"),
    ),
    route(
        "GET",
        "jobs/{jobId}/document",
        "get-job-document",
        Op::GetJobDocument,
        200,
        None,
    ),
    route(
        "POST",
        "jobs/{jobId}/targets",
        "associate-targets",
        Op::AssociateTargetsWithJob,
        200,
        Some("AssociateTargets"),
    ),
    route(
        "GET",
        "jobs/{jobId}/executions",
        "list-job-executions",
        Op::ListJobExecutionsForJob,
        200,
        None,
    ),
    route(
        "GET",
        "jobs/{jobId}/executions/{thingName}",
        "describe-job-execution",
        Op::DescribeJobExecution,
        200,
        None,
    ),
    route(
        "DELETE",
        "jobs/{jobId}/executions/{thingName}",
        "delete-job-execution",
        Op::DeleteJobExecution,
        204,
        None,
    ),
    route(
        "POST",
        "jobs/{jobId}/executions/{thingName}/cancel",
        "cancel-job-execution",
        Op::CancelJobExecution,
        200,
        Some("CancelJobExecution"),
    ),
    route(
        "GET",
        "things/{thingName}/executions",
        "list-thing-executions",
        Op::ListJobExecutionsForThing,
        200,
        None,
    ),
    route(
        "POST",
        "things",
        "things",
        Op::CreateThing,
        201,
        Some("CreateThing"),
    ),
    route("GET", "things", "things", Op::ListThings, 200, None),
    route(
        "GET",
        "things/{thingName}",
        "things",
        Op::DescribeThing,
        200,
        None,
    ),
    route(
        "PATCH",
        "things/{thingName}",
        "things",
        Op::UpdateThing,
        200,
        Some("UpdateThing"),
    ),
    route(
        "DELETE",
        "things/{thingName}",
        "things",
        Op::DeleteThing,
        204,
        None,
    ),
    route(
        "POST",
        "things/{thingName}/token",
        "things",
        Op::RotateDeviceToken,
        200,
        None,
    ),
    route(
        "GET",
        "things/{thingName}/thing-groups",
        "things",
        Op::ListThingGroupsForThing,
        200,
        None,
    ),
    route(
        "POST",
        "thing-groups",
        "thing-groups",
        Op::CreateThingGroup,
        201,
        Some("CreateThingGroup"),
    ),
    route(
        "GET",
        "thing-groups",
        "thing-groups",
        Op::ListThingGroups,
        200,
        None,
    ),
    route(
        "GET",
        "thing-groups/{thingGroupName}",
        "thing-groups",
        Op::DescribeThingGroup,
        200,
        None,
    ),
    route(
        "DELETE",
        "thing-groups/{thingGroupName}",
        "thing-groups",
        Op::DeleteThingGroup,
        204,
        None,
    ),
    route(
        "GET",
        "thing-groups/{thingGroupName}/things",
        "thing-groups",
        Op::ListThingsInThingGroup,
        200,
        None,
    ),
    route(
        "PUT",
        "thing-groups/{thingGroupName}/things/{thingName}",
        "thing-groups",
        Op::AddThingToThingGroup,
        204,
        None,
    ),
    route(
        "DELETE",
        "thing-groups/{thingGroupName}/things/{thingName}",
        "thing-groups",
        Op::RemoveThingFromThingGroup,
        204,
        None,
    ),
    route(
        "POST",
        "commands",
        "send-command",
        Op::SendCommand,
        201,
        Some("SendCommand"),
    ),
    route(
        "GET",
        "commands",
        "list-commands",
        Op::ListCommands,
        200,
        None,
    ),
    route(
        "GET",
        "commands/{executionId}",
        "describe-command",
        Op::DescribeCommand,
        200,
        None,
    ),
    route(
        "POST",
        "commands/{executionId}/cancel",
        "cancel-command",
        Op::CancelCommand,
        200,
        None,
    ),
    route(
        "DELETE",
        "commands/{executionId}",
        "delete-command",
        Op::DeleteCommand,
        204,
        None,
    ),
];

/// The name of a `{name}` part of a pattern.
fn param_name(part: &'static str) -> Option<&'static str> {
    part.strip_prefix('{')?.strip_suffix('}')
}

/// The parameter names of `pattern`, in order.
fn param_names(pattern: &'static str) -> impl Iterator<Item = &'static str> {
    pattern.split('/').filter_map(param_name)
}

/// The decoded path parameters of a matched route, by name (`jobId`,
/// `thingName`, `thingGroupName`, `executionId`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams {
    pattern: &'static str,
    values: Vec<(&'static str, String)>,
}

impl PathParams {
    /// The parameters `pattern` gives `segments` (decoded), if it matches.
    fn of(pattern: &'static str, segments: &[String]) -> Option<PathParams> {
        let borrowed: Vec<&str> = segments.iter().map(String::as_str).collect();
        if !path_matches(pattern, &borrowed) {
            return None;
        }
        let values = pattern
            .split('/')
            .zip(segments)
            .filter_map(|(part, value)| Some((param_name(part)?, value.clone())))
            .collect();
        Some(PathParams { pattern, values })
    }

    /// The value of the parameter `name`, if the route has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of the parameter `name`; a route without it is the
    /// caller's mistake (a 500, naming the pattern).
    pub fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| {
            ApiError::new(
                500,
                "InternalError",
                format!("the route {} has no parameter {name}", self.pattern),
            )
        })
    }

    /// `{jobId}`.
    pub fn job_id(&self) -> Result<&str, ApiError> {
        self.require("jobId")
    }

    /// `{thingName}`.
    pub fn thing_name(&self) -> Result<&str, ApiError> {
        self.require("thingName")
    }

    /// `{thingGroupName}`.
    pub fn thing_group_name(&self) -> Result<&str, ApiError> {
        self.require("thingGroupName")
    }

    /// `{executionId}` (a command's execution).
    pub fn execution_id(&self) -> Result<&str, ApiError> {
        self.require("executionId")
    }

    /// The matched pattern.
    pub fn pattern(&self) -> &'static str {
        self.pattern
    }
}

impl Route {
    /// The names of the path parameters, in order (`jobId`, `thingName`).
    pub fn param_names(&self) -> impl Iterator<Item = &'static str> {
        param_names(self.path)
    }

    /// The route of `operation` (each operation has exactly one).
    pub fn of(operation: Operation) -> &'static Route {
        ROUTES
            .iter()
            .find(|r| r.operation == operation)
            .expect("every operation has a route (tested)")
    }
}

/// The decoded segments of an API path (a malformed escape is a 400 that
/// names the segment).
fn api_segments(path: &str) -> Result<Vec<String>, ApiError> {
    path_segments(path, API_PREFIX)
}

/// The route serving `method` on `path` (under [`API_PREFIX`]) and its
/// decoded parameters. An unknown path is a 404; a known path with another
/// method is a 405 that lists the allowed ones.
pub fn api_route(method: &str, path: &str) -> Result<(&'static Route, PathParams), ApiError> {
    let segments = api_segments(path)?;
    let borrowed: Vec<&str> = segments.iter().map(String::as_str).collect();
    match find_route(ROUTES, method, &borrowed, |r| (r.method, r.path)) {
        Ok(route) => {
            let params = PathParams::of(route.path, &segments).expect("the route matched");
            Ok((route, params))
        }
        Err(RouteMiss::NotFound) => Err(ApiError::not_found(format!("no API route {path}"))),
        Err(RouteMiss::MethodNotAllowed(allowed)) => {
            Err(ApiError::method_not_allowed(method, path, allowed))
        }
    }
}

/// The decoded parameters of `path` as the route of `operation` reads it
/// (`params.job_id()`); a path of another shape is a 404.
pub fn operation_params(operation: Operation, path: &str) -> Result<PathParams, ApiError> {
    let route = Route::of(operation);
    PathParams::of(route.path, &api_segments(path)?).ok_or_else(|| {
        ApiError::not_found(format!(
            "no operation {operation} at {path} (it serves {} {API_PREFIX}{})",
            route.method, route.path
        ))
    })
}

/// One device operation over HTTP (docs/device-protocol.md#http-device-api).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRoute {
    pub method: &'static str,
    /// Under [`DEVICE_PREFIX`].
    pub path: &'static str,
    pub component: &'static str,
}

/// The device API. `$next` ([`NEXT_JOB`]) is a
/// literal only for PUT; GET reads it as a job id.
pub const DEVICE_ROUTES: &[DeviceRoute] = &[
    DeviceRoute {
        method: "GET",
        path: "things/{thingName}/jobs",
        component: "get-pending-executions",
    },
    DeviceRoute {
        method: "PUT",
        path: "things/{thingName}/jobs/$next",
        component: "start-next-execution",
    },
    DeviceRoute {
        method: "GET",
        path: "things/{thingName}/jobs/{jobId}",
        component: "describe-device-execution",
    },
    DeviceRoute {
        method: "POST",
        path: "things/{thingName}/jobs/{jobId}",
        component: "update-device-execution",
    },
];

/// The error for a path the device API does not have.
pub fn no_device_operation(path: &str) -> DeviceError {
    DeviceError::not_found(format!("no device operation at {path}"))
}

fn device_segments(path: &str) -> Result<Vec<String>, DeviceError> {
    path_segments(path, DEVICE_PREFIX).map_err(|e| DeviceError::invalid(e.message))
}

/// The device route serving `method` on `path` (under [`DEVICE_PREFIX`])
/// and its decoded parameters (`thingName`, and `jobId` but for
/// `$next` on PUT).
pub fn device_route(
    method: &str,
    path: &str,
) -> Result<(&'static DeviceRoute, PathParams), DeviceError> {
    let segments = device_segments(path)?;
    let borrowed: Vec<&str> = segments.iter().map(String::as_str).collect();
    // `$next` is only a literal for PUT; GET reads it as a job id.
    let table: Vec<&'static DeviceRoute> = DEVICE_ROUTES
        .iter()
        .filter(|r| !(r.path.ends_with(NEXT_JOB) && r.method != method))
        .collect();
    match find_route(&table, method, &borrowed, |r| (r.method, r.path)) {
        Ok(route) => {
            let params = PathParams::of(route.path, &segments).expect("the route matched");
            Ok((*route, params))
        }
        Err(RouteMiss::NotFound) => Err(no_device_operation(path)),
        Err(RouteMiss::MethodNotAllowed(allowed)) => Err(DeviceError::new(
            405,
            "MethodNotAllowed",
            format!(
                "{method} is not supported on {path}; use {}",
                allowed.join(", ")
            ),
        )),
    }
}

/// The thing a device API path names, whatever the method.
pub fn device_thing_name(path: &str) -> Result<String, DeviceError> {
    let segments = device_segments(path)?;
    DEVICE_ROUTES
        .iter()
        .find_map(|r| PathParams::of(r.path, &segments))
        .and_then(|params| params.get("thingName").map(str::to_owned))
        .ok_or_else(|| no_device_operation(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_operation_has_one_route_and_known_parameters() {
        for operation in Operation::ALL {
            let routes: Vec<_> = ROUTES
                .iter()
                .filter(|r| r.operation == *operation)
                .collect();
            assert_eq!(routes.len(), 1, "{operation}");
        }
        assert_eq!(ROUTES.len(), Operation::ALL.len());
        let mut seen = HashSet::new();
        for route in ROUTES {
            assert!(seen.insert((route.method, route.path)), "{route:?}");
            for name in route.param_names() {
                assert!(
                    ["jobId", "thingName", "thingGroupName", "executionId"].contains(&name),
                    "{route:?}"
                );
            }
            assert_eq!(
                route.param_names().count(),
                route.path.matches('{').count(),
                "{route:?}"
            );
        }
    }

    /// The table as it was when the gateway held it (the OpenAPI document
    /// is generated from it and must not change).
    #[test]
    fn the_table_is_the_documented_api() {
        let rows: Vec<String> = ROUTES
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {} {} {}",
                    r.method,
                    r.path,
                    r.component,
                    r.operation,
                    r.status,
                    r.body.unwrap_or("-")
                )
            })
            .collect();
        let expected = [
            "POST jobs create-job CreateJob 201 CreateJob",
            "GET jobs list-jobs ListJobs 200 -",
            "GET jobs/{jobId} describe-job DescribeJob 200 -",
            "PATCH jobs/{jobId} update-job UpdateJob 200 UpdateJob",
            "DELETE jobs/{jobId} delete-job DeleteJob 204 -",
            "POST jobs/{jobId}/cancel cancel-job CancelJob 200 CancelJob",
            "GET jobs/{jobId}/document get-job-document GetJobDocument 200 -",
            "POST jobs/{jobId}/targets associate-targets AssociateTargetsWithJob 200 AssociateTargets",
            "GET jobs/{jobId}/executions list-job-executions ListJobExecutionsForJob 200 -",
            "GET jobs/{jobId}/executions/{thingName} describe-job-execution DescribeJobExecution 200 -",
            "DELETE jobs/{jobId}/executions/{thingName} delete-job-execution DeleteJobExecution 204 -",
            "POST jobs/{jobId}/executions/{thingName}/cancel cancel-job-execution CancelJobExecution 200 CancelJobExecution",
            "GET things/{thingName}/executions list-thing-executions ListJobExecutionsForThing 200 -",
            "POST things things CreateThing 201 CreateThing",
            "GET things things ListThings 200 -",
            "GET things/{thingName} things DescribeThing 200 -",
            "PATCH things/{thingName} things UpdateThing 200 UpdateThing",
            "DELETE things/{thingName} things DeleteThing 204 -",
            "POST things/{thingName}/token things RotateDeviceToken 200 -",
            "GET things/{thingName}/thing-groups things ListThingGroupsForThing 200 -",
            "POST thing-groups thing-groups CreateThingGroup 201 CreateThingGroup",
            "GET thing-groups thing-groups ListThingGroups 200 -",
            "GET thing-groups/{thingGroupName} thing-groups DescribeThingGroup 200 -",
            "DELETE thing-groups/{thingGroupName} thing-groups DeleteThingGroup 204 -",
            "GET thing-groups/{thingGroupName}/things thing-groups ListThingsInThingGroup 200 -",
            "PUT thing-groups/{thingGroupName}/things/{thingName} thing-groups AddThingToThingGroup 204 -",
            "DELETE thing-groups/{thingGroupName}/things/{thingName} thing-groups RemoveThingFromThingGroup 204 -",
            "POST commands send-command SendCommand 201 SendCommand",
            "GET commands list-commands ListCommands 200 -",
            "GET commands/{executionId} describe-command DescribeCommand 200 -",
            "POST commands/{executionId}/cancel cancel-command CancelCommand 200 -",
            "DELETE commands/{executionId} delete-command DeleteCommand 204 -",
        ];
        assert_eq!(rows, expected);
    }

    #[test]
    fn parameters_by_name_are_decoded() {
        let params = operation_params(
            Operation::DescribeJobExecution,
            "/api/v1/jobs/job-1/executions/a%3Ab%20c+d",
        )
        .unwrap();
        assert_eq!(params.job_id().unwrap(), "job-1");
        assert_eq!(params.thing_name().unwrap(), "a:b c+d");
        assert_eq!(params.get("thingName"), Some("a:b c+d"));
        assert_eq!(params.get("thingGroupName"), None);
        let missing = params.thing_group_name().unwrap_err();
        assert_eq!(missing.status, 500);
        assert!(
            missing.message.contains("thingGroupName"),
            "{}",
            missing.message
        );

        let params = operation_params(
            Operation::AddThingToThingGroup,
            "/api/v1/thing-groups/com.example%20(default)/things/t1",
        )
        .unwrap();
        assert_eq!(params.thing_group_name().unwrap(), "com.example (default)");
        assert_eq!(params.thing_name().unwrap(), "t1");
        // A decoded `/` stays inside its segment.
        let params = operation_params(Operation::DescribeJob, "/api/v1/jobs/a%2Fb").unwrap();
        assert_eq!(params.job_id().unwrap(), "a/b");
    }

    #[test]
    fn a_malformed_escape_is_a_400_that_names_the_segment() {
        for bad in ["%zz", "%4", "%C3%28"] {
            let path = format!("/api/v1/jobs/{bad}/executions/t1");
            let error = operation_params(Operation::DescribeJobExecution, &path).unwrap_err();
            assert_eq!(error.status, 400, "{bad}");
            assert!(error.message.contains(bad), "{}", error.message);
            let error = api_route("GET", &path).unwrap_err();
            assert_eq!(error.status, 400, "{bad}");
            assert!(error.message.contains(bad), "{}", error.message);
        }
    }

    #[test]
    fn a_path_of_another_shape_is_a_404() {
        let error =
            operation_params(Operation::DescribeJobExecution, "/api/v1/jobs/j1").unwrap_err();
        assert_eq!(error.status, 404);
        assert!(
            error
                .message
                .starts_with("no operation DescribeJobExecution"),
            "{}",
            error.message
        );
    }

    #[test]
    fn method_and_path_find_the_route() {
        let (route, params) = api_route("PUT", "/api/v1/thing-groups/g%201/things/t1").unwrap();
        assert_eq!(route.operation, Operation::AddThingToThingGroup);
        assert_eq!(params.thing_group_name().unwrap(), "g 1");
        let (route, params) = api_route("GET", "/api/v1/things").unwrap();
        assert_eq!(route.operation, Operation::ListThings);
        assert_eq!(
            params,
            PathParams {
                pattern: "things",
                values: vec![]
            }
        );
        let (route, _) = api_route("POST", "/api/v1/things/t1/token").unwrap();
        assert_eq!(route.component, "things");
        let error = api_route("PUT", "/api/v1/jobs/j1").unwrap_err();
        assert_eq!(error.status, 405);
        assert_eq!(error.allow, ["GET", "PATCH", "DELETE"]);
        let error = api_route("GET", "/api/v1/nothing").unwrap_err();
        assert_eq!(error.status, 404);
        assert!(
            error.message.starts_with("no API route"),
            "{}",
            error.message
        );
    }

    #[test]
    fn device_routes() {
        assert!(DEVICE_ROUTES[1].path.ends_with(NEXT_JOB));
        let (route, params) = device_route("PUT", "/device/v1/things/t%201/jobs/$next").unwrap();
        assert_eq!(route.component, "start-next-execution");
        assert_eq!(params.get("thingName"), Some("t 1"));
        assert_eq!(params.get("jobId"), None);
        let (route, params) = device_route("GET", "/device/v1/things/t1/jobs/$next").unwrap();
        assert_eq!(route.component, "describe-device-execution");
        assert_eq!(params.get("jobId"), Some("$next"));
        let (route, params) = device_route("POST", "/device/v1/things/t1/jobs/j%2D1").unwrap();
        assert_eq!(route.component, "update-device-execution");
        assert_eq!(params.get("jobId"), Some("j-1"));
        let (route, _) = device_route("GET", "/device/v1/things/t1/jobs").unwrap();
        assert_eq!(route.component, "get-pending-executions");

        let error = device_route("DELETE", "/device/v1/things/t1/jobs/$next").unwrap_err();
        assert_eq!(error.status, 405);
        assert!(
            error.message.ends_with("use GET, POST"),
            "{}",
            error.message
        );
        assert_eq!(
            device_route("GET", "/device/v1/things/t1")
                .unwrap_err()
                .status,
            404
        );
        let error = device_route("GET", "/device/v1/things/%zz/jobs").unwrap_err();
        assert_eq!(error.status, 400);
        assert!(error.message.contains("%zz"), "{}", error.message);

        assert_eq!(
            device_thing_name("/device/v1/things/a%20b/jobs/x").unwrap(),
            "a b"
        );
        assert_eq!(
            device_thing_name("/device/v1/things/a/jobs/$next").unwrap(),
            "a"
        );
        assert_eq!(
            device_thing_name("/device/v1/things/a").unwrap_err().status,
            404
        );
    }
}
