//! What every fleetjobs component shares: the store on Spin's SQLite, the
//! clock, path parsing and JSON responses. Components stay thin adapters:
//! parse, call the store (which calls the core), answer.

pub mod broker_accounts;
pub mod device;

use fleetjobs_api::request::path_segments;
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

/// The device topics' prefix (`topic_prefix`).
pub fn topic_prefix() -> String {
    variable(
        "topic_prefix",
        fleetjobs_core::protocol::DEFAULT_TOPIC_PREFIX,
    )
}

/// The store on the `default` database, migrated.
pub fn store() -> Result<Store<SpinSql>, ApiError> {
    let sql =
        SpinSql::open("default").map_err(|e| ApiError::from(fleetjobs_store::Error::from(e)))?;
    let store = Store::new(
        sql,
        StoreOptions {
            topic_prefix: topic_prefix(),
        },
    );
    store.migrate(now())?;
    Ok(store)
}

/// The decoded path segments after `/api/v1/` (a malformed escape is a 400).
pub fn api_segments(request: &Request) -> Result<Vec<String>, ApiError> {
    path_segments(request.path(), "/api/v1/")
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

/// Calls a private component by Spin local service chaining.
pub async fn chain(
    component: &str,
    method: Method,
    path_and_query: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> Result<Response, String> {
    let mut outgoing = Request::builder();
    outgoing
        .method(method)
        .uri(format!("http://{component}.spin.internal{path_and_query}"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        outgoing.header(*name, *value);
    }
    outgoing.body(body);
    spin_sdk::http::send(outgoing.build())
        .await
        .map_err(|e| format!("{component} did not answer: {e}"))
}

/// Forwards an incoming request unchanged (method, path, query, body) to a
/// private component, with `headers` added.
pub async fn forward(
    component: &str,
    request: &Request,
    headers: &[(&str, &str)],
) -> Result<Response, String> {
    let path_and_query = request.path_and_query().unwrap_or("/");
    let body = request.body().to_vec();
    chain(
        component,
        request.method().clone(),
        path_and_query,
        body,
        headers,
    )
    .await
}

/// Answers an operation that may have changed executions, then publishes
/// the notices its commit wrote (for at most [`REQUEST_PUBLISH_BUDGET`]).
pub fn respond_and_publish(outcome: Result<(u16, Value), ApiError>) -> Response {
    let response = respond(outcome);
    match store() {
        Ok(store) => publish_outbox(&store, REQUEST_PUBLISH_BUDGET),
        Err(e) => eprintln!("outbox: {}", e.message),
    }
    response
}

/// A new id for a request, under which the log keeps what the caller is not
/// told.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The request's id as the gateway assigned it (`x-request-id`), or a new one.
pub fn request_id(request: &Request) -> String {
    request
        .header("x-request-id")
        .and_then(|h| h.as_str())
        .map_or_else(new_request_id, str::to_owned)
}

/// Forwards the request to a private component with the request id. A
/// failure (no answer, or any 5xx but 503 whatever its body) is logged
/// under the id and comes back as `None`: the caller answers with the id
/// alone. A 503 says a dependency (the broker) is unavailable; it passes.
pub async fn forward_with_id(
    component: &str,
    request: &Request,
    request_id: &str,
) -> Option<Response> {
    let failure = match forward(component, request, &[("x-request-id", request_id)]).await {
        Ok(response) if *response.status() < 500 || *response.status() == 503 => {
            return Some(response)
        }
        Ok(response) => format!(
            "{component} answered {}: {}",
            response.status(),
            String::from_utf8_lossy(response.body())
        ),
        Err(e) => e,
    };
    eprintln!("request {request_id}: {failure}");
    None
}

/// The error for a path or method the component does not serve.
pub fn no_route(request: &Request) -> ApiError {
    ApiError::not_found(format!(
        "no operation {} {}",
        method_name(request.method()),
        request.path()
    ))
}

/// Checks that the request carries `Authorization: Bearer <secret>`, the
/// secret being the component variable `variable` (empty: nobody may).
pub fn require_bearer(request: &Request, variable_name: &str) -> Result<(), ApiError> {
    let expected = variable(variable_name, "");
    if expected.is_empty() {
        return Err(ApiError::unauthorized(format!(
            "the server has no {variable_name} configured; set SPIN_VARIABLE_{}",
            variable_name.to_ascii_uppercase()
        )));
    }
    let presented = request
        .header("authorization")
        .and_then(|h| h.as_str())
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::unauthorized(format!("send Authorization: Bearer <{variable_name}>"))
        })?;
    if !same_secret(presented.trim().as_bytes(), expected.as_bytes()) {
        return Err(ApiError::unauthorized("the bearer token is not valid"));
    }
    Ok(())
}

/// Compares without an early exit, so timing does not reveal a secret.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The stored form of a device token: its SHA-256, hex.
pub fn device_token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How many outbox messages one claim takes.
const OUTBOX_BATCH: usize = 500;
/// How long a request spends publishing after its commit (a device request
/// writes a few messages, a job for many things many): a larger backlog is
/// left to the sweeper, so a request stays short.
pub const REQUEST_PUBLISH_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// An outbound MQTT connection to `mqtt_url` as the service account
/// (`mqtt_username`, `mqtt_password`), with a client id of its own (the
/// broker allows one connection per client id).
pub fn mqtt_connection() -> Result<spin_sdk::mqtt::Connection, spin_sdk::mqtt::Error> {
    let url = variable("mqtt_url", "mqtt://127.0.0.1:1883");
    let separator = if url.contains('?') { '&' } else { '?' };
    let address = format!(
        "{url}{separator}client_id=fleetjobs-{}",
        uuid::Uuid::new_v4().simple()
    );
    spin_sdk::mqtt::Connection::open(
        &address,
        &variable("mqtt_username", ""),
        &variable("mqtt_password", ""),
        30,
    )
}

/// Publishes what the outbox holds, oldest first, for at most `budget`:
/// the notices a commit wrote, and any left over from a broker outage.
/// Called after the commit; a failure is logged and the messages stay for
/// the next publisher.
pub fn publish_outbox(store: &Store<SpinSql>, budget: std::time::Duration) {
    use spin_sdk::mqtt::{Connection, Qos};
    let started = std::time::Instant::now();
    let mut connection: Option<Connection> = None;
    let mut publish = |topic: &str, payload: &[u8]| {
        if connection.is_none() {
            connection = Some(mqtt_connection().map_err(|e| e.to_string())?);
        }
        let connection = connection.as_ref().expect("opened above");
        connection
            .publish(topic, payload, Qos::AtLeastOnce)
            .map_err(|e| e.to_string())
    };
    let mut total = 0;
    let outcome = loop {
        match store.publish_outbox(now(), OUTBOX_BATCH, OUTBOX_BATCH, &mut publish) {
            Ok(batch)
                if batch.failure.is_none()
                    && batch.count == OUTBOX_BATCH
                    && started.elapsed() < budget =>
            {
                total += batch.count;
            }
            Ok(mut last) => {
                last.count += total;
                break Ok(last);
            }
            Err(e) => break Err(e),
        }
    };
    match outcome {
        Ok(published) => {
            if let Some(failure) = published.failure {
                eprintln!(
                    "outbox: published {}, then stopped: {failure}",
                    published.count
                );
            }
        }
        Err(e) => eprintln!("outbox: {e}"),
    }
}
