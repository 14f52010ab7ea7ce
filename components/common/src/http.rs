//! HTTP answers: JSON bodies, the one error shape, and the method's name.

use fleetjobs_api::ApiError;
use serde_json::Value;
use spin_sdk::http::{Method, Request, Response};

pub fn method_name(method: &Method) -> &str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Patch => "PATCH",
        Method::Head => "HEAD",
        Method::Options => "OPTIONS",
        Method::Connect => "CONNECT",
        Method::Trace => "TRACE",
        Method::Other(other) => other,
    }
}

pub fn json(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

pub fn error(error: &ApiError) -> Response {
    if error.status >= 500 {
        eprintln!("{}: {}", error.code, error.message);
    }
    let mut response = Response::builder();
    response
        .status(error.status)
        .header("content-type", "application/json");
    if !error.allow.is_empty() {
        response.header("allow", error.allow.join(", "));
    }
    response.body(error.body()).build()
}

/// Answers an operation's outcome: `(status, body)` or the error shape.
pub fn respond(outcome: Result<(u16, Value), ApiError>) -> Response {
    match outcome {
        Ok((204, _)) => Response::builder().status(204).body(Vec::new()).build(),
        Ok((status, body)) => json(status, &body),
        Err(e) => error(&e),
    }
}

/// The error for a path or method the component does not serve.
pub fn no_route(request: &Request) -> ApiError {
    ApiError::not_found(format!(
        "no operation {} {}",
        method_name(request.method()),
        request.path()
    ))
}
