//! Service chaining: calling and forwarding to private components, with
//! the request id the gateway assigns.

use spin_sdk::http::{Method, Request, Response};

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
