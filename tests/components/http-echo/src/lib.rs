//! `http-echo`: answers every request with a JSON description of what the component saw:
//! `{"method": "GET", "uri": "http://host/a/b?x=1", "path": "/a/b?x=1",
//! "headers": {"lowercase-name": "value", ...}}`.

use serde_json::{json, Map, Value};
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> impl IntoResponse {
    let mut headers = Map::new();
    for (name, value) in req.headers() {
        let value = match value.as_str() {
            Some(s) => s.to_owned(),
            None => String::from_utf8_lossy(value.as_bytes()).into_owned(),
        };
        headers.insert(name.to_ascii_lowercase(), Value::String(value));
    }
    let path = req
        .path_and_query()
        .map(str::to_owned)
        .unwrap_or_else(|| req.uri().to_owned());
    let body = json!({
        "method": req.method().to_string(),
        "uri": req.uri(),
        "path": path,
        "headers": headers,
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}
