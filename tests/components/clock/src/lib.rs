//! `clock`: answers `{"now_secs": <SystemTime::now() since the UNIX epoch, whole seconds>}`
//! (reads `wasi:clocks/wall-clock`, so a host test clock is observable).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(_req: Request) -> impl IntoResponse {
    let now_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(json!({ "now_secs": now_secs }).to_string())
        .build()
}
