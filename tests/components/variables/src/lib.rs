//! `variables`: `GET ?name=x` → `{"value": "..."}` or `{"error": "<Debug of the error>"}`
//! via `fermyon:spin/variables@2.0.0`. A missing `name` parameter is passed as the empty string
//! (which the host rejects as an invalid name).

use serde_json::json;
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use spin_sdk::variables;

#[http_component]
fn handle(req: Request) -> impl IntoResponse {
    let name = form_urlencoded::parse(req.query().as_bytes())
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let body = match variables::get(&name) {
        Ok(value) => json!({ "value": value }),
        Err(e) => json!({ "error": format!("{e:?}") }),
    };
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}
