//! What every fleetjobs component shares: the store on Spin's SQLite, the
//! clock, path parsing and JSON responses. Components stay thin adapters:
//! parse, call the store (which calls the core), answer.

use fleetjobs_api::request::percent_decode;
use fleetjobs_api::ApiError;
use fleetjobs_core::Timestamp;
use fleetjobs_store::backend::spin::SpinSql;
use fleetjobs_store::{Store, StoreOptions};
use serde_json::Value;
use spin_sdk::http::{Method, Request, Response};

/// Now, as the host's wall clock says (the test clock moves it).
pub fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(since_epoch.as_millis() as i64)
}

/// A variable of the component, or its default when it is not defined.
pub fn variable(name: &str, default: &str) -> String {
    spin_sdk::variables::get(name).unwrap_or_else(|_| default.to_owned())
}

/// The store on the `default` database, migrated.
pub fn store() -> Result<Store<SpinSql>, ApiError> {
    let sql =
        SpinSql::open("default").map_err(|e| ApiError::from(fleetjobs_store::Error::from(e)))?;
    let store = Store::new(
        sql,
        StoreOptions {
            topic_prefix: variable("topic_prefix", "$emqx/things"),
        },
    );
    store.migrate(now())?;
    Ok(store)
}

/// The percent-decoded path segments after `/api/v1/`.
pub fn api_segments(request: &Request) -> Vec<String> {
    request
        .path()
        .trim_start_matches("/api/v1")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

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
    Response::builder()
        .status(error.status)
        .header("content-type", "application/json")
        .body(error.body())
        .build()
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
