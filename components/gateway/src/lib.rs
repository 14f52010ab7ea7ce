//! The gateway on the public routes: authenticates the bearer token, limits
//! the body size, matches method + path and forwards to the operation's
//! private component by service chaining (Spin routes on path only).

use fleetjobs_api::request::MAX_BODY_BYTES;
use fleetjobs_api::ApiError;
use fleetjobs_component::{error, method_name, variable};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

/// `(method, path pattern under /api/v1, component)`; `*` is one segment.
const ROUTES: &[(&str, &str, &str)] = &[
    ("POST", "jobs", "create-job"),
    ("GET", "jobs", "list-jobs"),
    ("GET", "jobs/*", "describe-job"),
    ("PATCH", "jobs/*", "update-job"),
    ("DELETE", "jobs/*", "delete-job"),
    ("POST", "jobs/*/cancel", "cancel-job"),
    ("GET", "jobs/*/document", "get-job-document"),
    ("POST", "jobs/*/targets", "associate-targets"),
    ("GET", "jobs/*/executions", "list-job-executions"),
    ("GET", "jobs/*/executions/*", "describe-job-execution"),
    ("DELETE", "jobs/*/executions/*", "delete-job-execution"),
    ("POST", "jobs/*/executions/*/cancel", "cancel-job-execution"),
    ("GET", "things/*/executions", "list-thing-executions"),
    ("POST", "things", "things"),
    ("GET", "things", "things"),
    ("GET", "things/*", "things"),
    ("PATCH", "things/*", "things"),
    ("DELETE", "things/*", "things"),
    ("POST", "things/*/token", "things"),
    ("POST", "thing-groups", "thing-groups"),
    ("GET", "thing-groups", "thing-groups"),
    ("GET", "thing-groups/*", "thing-groups"),
    ("DELETE", "thing-groups/*", "thing-groups"),
    ("GET", "thing-groups/*/things", "thing-groups"),
    ("PUT", "thing-groups/*/things/*", "thing-groups"),
    ("DELETE", "thing-groups/*/things/*", "thing-groups"),
];

fn matches(pattern: &str, segments: &[&str]) -> bool {
    let parts: Vec<&str> = pattern.split('/').collect();
    parts.len() == segments.len() && parts.iter().zip(segments).all(|(p, s)| *p == "*" || p == s)
}

/// Which component serves `method` on `path`; a known path with another
/// method is a 405 that lists the allowed ones.
fn route(method: &str, path: &str) -> Result<&'static str, ApiError> {
    let segments: Vec<&str> = path
        .strip_prefix("/api/v1/")
        .unwrap_or_default()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let candidates: Vec<_> = ROUTES
        .iter()
        .filter(|(_, pattern, _)| matches(pattern, &segments))
        .collect();
    if let Some((_, _, component)) = candidates.iter().find(|(m, _, _)| *m == method) {
        return Ok(component);
    }
    if candidates.is_empty() {
        return Err(ApiError::not_found(format!("no API route {path}")));
    }
    let allowed: Vec<&str> = candidates.iter().map(|(m, _, _)| *m).collect();
    Err(ApiError::new(
        405,
        "MethodNotAllowed",
        format!(
            "{method} is not supported on {path}; use {}",
            allowed.join(", ")
        ),
    ))
}

/// Compares without an early exit, so timing does not reveal the token.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authenticate(request: &Request) -> Result<(), ApiError> {
    let expected = variable("api_token", "");
    if expected.is_empty() {
        return Err(ApiError::unauthorized(
            "the server has no api_token configured; set SPIN_VARIABLE_API_TOKEN",
        ));
    }
    let presented = request
        .header("authorization")
        .and_then(|h| h.as_str())
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <api token>"))?;
    if !same_secret(presented.trim().as_bytes(), expected.as_bytes()) {
        return Err(ApiError::unauthorized("the bearer token is not valid"));
    }
    Ok(())
}

async fn forward(request: Request) -> Result<Response, ApiError> {
    authenticate(&request)?;
    if request.body().len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let method = method_name(request.method()).to_owned();
    let component = route(&method, request.path())?;
    let request_id = uuid::Uuid::new_v4().to_string();
    let target = format!(
        "http://{component}.spin.internal{}",
        request.path_and_query().unwrap_or("/")
    );
    let mut outgoing = Request::builder();
    outgoing
        .method(request.method().clone())
        .uri(target)
        .header("x-request-id", request_id.as_str())
        .header("content-type", "application/json")
        .body(request.body().to_vec());
    let mut response: Response = spin_sdk::http::send(outgoing.build()).await.map_err(|e| {
        ApiError::new(
            502,
            "InternalError",
            format!("{component} did not answer: {e}"),
        )
    })?;
    response.set_header("x-request-id", request_id);
    Ok(response)
}

#[http_component]
async fn handle(request: Request) -> Response {
    forward(request).await.unwrap_or_else(|e| error(&e))
}
