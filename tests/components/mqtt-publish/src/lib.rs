//! `mqtt-publish`: `POST {"address": "mqtt://127.0.0.1:1883?client_id=x", "topic": "t",
//! "payload": "utf-8 text", "qos": 0|1|2, "username"?: "u", "password"?: "p"}` →
//! `Connection::open(address, username, password, 30)` + `publish`
//! via `fermyon:spin/mqtt@2.0.0`; answers `{"ok": true}` or `{"error": "<Debug>"}`.
//! `qos` defaults to 0. A malformed body or qos → 400 `{"error": ...}`.

use serde::Deserialize;
use serde_json::{json, Value};
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use spin_sdk::mqtt::{Connection, Qos};

#[derive(Deserialize)]
struct Body {
    address: String,
    topic: String,
    payload: String,
    #[serde(default)]
    qos: u8,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

fn respond(status: u16, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

#[http_component]
fn handle(req: Request) -> impl IntoResponse {
    let body: Body = match serde_json::from_slice(req.body()) {
        Ok(b) => b,
        Err(e) => return respond(400, json!({ "error": format!("bad request body: {e}") })),
    };
    let qos = match body.qos {
        0 => Qos::AtMostOnce,
        1 => Qos::AtLeastOnce,
        2 => Qos::ExactlyOnce,
        n => return respond(400, json!({ "error": format!("bad qos {n}") })),
    };
    let result = Connection::open(&body.address, &body.username, &body.password, 30)
        .and_then(|conn| conn.publish(&body.topic, body.payload.as_bytes(), qos));
    match result {
        Ok(()) => respond(200, json!({ "ok": true })),
        Err(e) => respond(200, json!({ "error": format!("{e:?}") })),
    }
}
