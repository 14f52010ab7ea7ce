//! `chain`: `GET ?url=<absolute url>` → sends `GET <url>` with `spin_sdk::http::send`
//! (`wasi:http/outgoing-handler`) and answers `{"status": <u16>, "body": "<utf-8 body, lossy>"}`
//! or `{"error": "<Display> (<Debug>)"}`. A missing `url` parameter → 400 `{"error": ...}`.

use serde_json::{json, Value};
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

fn respond(status: u16, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

#[http_component]
async fn handle(req: Request) -> impl IntoResponse {
    let Some(url) = form_urlencoded::parse(req.query().as_bytes())
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.into_owned())
    else {
        return respond(400, json!({ "error": "missing query parameter `url`" }));
    };
    let outgoing = Request::get(url).build();
    match spin_sdk::http::send::<_, Response>(outgoing).await {
        Ok(resp) => respond(
            200,
            json!({
                "status": *resp.status(),
                "body": String::from_utf8_lossy(resp.body()),
            }),
        ),
        Err(e) => respond(200, json!({ "error": format!("{e} ({e:?})") })),
    }
}
