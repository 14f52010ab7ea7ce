//! `kv`: drives `fermyon:spin/key-value@2.0.0` from query parameters.
//!
//! `?op=get|set|delete|exists|keys&label=<store, default "default">&key=<k>&value=<utf-8>`
//! → `{"result": null | "<value>" | true/false | ["k", ...] | "ok"}` or `{"error": "<Debug of the error>"}`.
//! Malformed requests (unknown op, missing `key`/`value`) get status 400 with `{"error": "..."}`.

use std::collections::HashMap;

use serde_json::{json, Value};
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use spin_sdk::key_value::{Error, Store};

fn respond(status: u16, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

fn bad_request(msg: String) -> Response {
    respond(400, json!({ "error": msg }))
}

#[http_component]
fn handle(req: Request) -> impl IntoResponse {
    let params: HashMap<String, String> = form_urlencoded::parse(req.query().as_bytes())
        .into_owned()
        .collect();
    let op = params.get("op").map(String::as_str).unwrap_or("");
    let label = params.get("label").map(String::as_str).unwrap_or("default");
    let key = params.get("key");
    let value = params.get("value");

    let needs_key = matches!(op, "get" | "set" | "delete" | "exists");
    if !matches!(op, "get" | "set" | "delete" | "exists" | "keys") {
        return bad_request(format!("unknown op {op:?}"));
    }
    if needs_key && key.is_none() {
        return bad_request("missing query parameter `key`".to_owned());
    }
    if op == "set" && value.is_none() {
        return bad_request("missing query parameter `value`".to_owned());
    }
    let key = key.map(String::as_str).unwrap_or("");

    match run(op, label, key, value.map(String::as_str).unwrap_or("")) {
        Ok(result) => respond(200, json!({ "result": result })),
        Err(e) => respond(200, json!({ "error": format!("{e:?}") })),
    }
}

fn run(op: &str, label: &str, key: &str, value: &str) -> Result<Value, Error> {
    let store = Store::open(label)?;
    Ok(match op {
        "get" => match store.get(key)? {
            Some(bytes) => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
            None => Value::Null,
        },
        "set" => {
            store.set(key, value.as_bytes())?;
            json!("ok")
        }
        "delete" => {
            store.delete(key)?;
            json!("ok")
        }
        "exists" => Value::Bool(store.exists(key)?),
        "keys" => json!(store.get_keys()?),
        _ => unreachable!("op validated by caller"),
    })
}
