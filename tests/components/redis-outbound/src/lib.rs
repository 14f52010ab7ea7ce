//! `redis-outbound`: `POST {"address": "redis://127.0.0.1:6379", "commands": [...]}` →
//! `Connection::open(address)` via `fermyon:spin/redis@2.0.0`, then every command in order on that
//! connection → `{"results": [...]}`, one result per command: its value or
//! `{"error": "<Debug>"}`. If `open` fails the whole answer is `{"error": "<Debug>"}`.
//!
//! Commands (`op` and its fields; values and payloads are UTF-8 text):
//! `set {key, value}` → "ok"; `get {key}` → text or null; `incr {key}` → n; `del {keys}` → n;
//! `publish {channel, payload}` → "ok"; `sadd {key, values}` → n; `srem {key, values}` → n;
//! `smembers {key}` → [text] (sorted); `execute {command, args: [n | "text"]}` →
//! `[null | {"status": s} | n | "text"]`. A malformed body is a 400.

use serde::Deserialize;
use serde_json::{json, Value};
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use spin_sdk::redis::{Connection, RedisParameter, RedisResult};

#[derive(Deserialize)]
struct Body {
    address: String,
    #[serde(default)]
    commands: Vec<Command>,
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Command {
    Set { key: String, value: String },
    Get { key: String },
    Incr { key: String },
    Del { keys: Vec<String> },
    Publish { channel: String, payload: String },
    Sadd { key: String, values: Vec<String> },
    Srem { key: String, values: Vec<String> },
    Smembers { key: String },
    Execute { command: String, args: Vec<Value> },
}

fn respond(status: u16, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

fn run(connection: &Connection, command: Command) -> Result<Value, String> {
    let error = |e: spin_sdk::redis::Error| format!("{e:?}");
    Ok(match command {
        Command::Set { key, value } => {
            connection.set(&key, &value.into_bytes()).map_err(error)?;
            json!("ok")
        }
        Command::Get { key } => match connection.get(&key).map_err(error)? {
            Some(bytes) => json!(String::from_utf8_lossy(&bytes)),
            None => Value::Null,
        },
        Command::Incr { key } => json!(connection.incr(&key).map_err(error)?),
        Command::Del { keys } => json!(connection.del(&keys).map_err(error)?),
        Command::Publish { channel, payload } => {
            connection
                .publish(&channel, &payload.into_bytes())
                .map_err(error)?;
            json!("ok")
        }
        Command::Sadd { key, values } => json!(connection.sadd(&key, &values).map_err(error)?),
        Command::Srem { key, values } => json!(connection.srem(&key, &values).map_err(error)?),
        Command::Smembers { key } => {
            let mut members = connection.smembers(&key).map_err(error)?;
            members.sort();
            json!(members)
        }
        Command::Execute { command, args } => {
            let args: Vec<RedisParameter> = args
                .iter()
                .map(|arg| match arg {
                    Value::Number(n) => RedisParameter::Int64(n.as_i64().unwrap_or_default()),
                    other => RedisParameter::Binary(
                        other.as_str().unwrap_or_default().as_bytes().to_vec(),
                    ),
                })
                .collect();
            let results = connection.execute(&command, &args).map_err(error)?;
            Value::Array(
                results
                    .into_iter()
                    .map(|result| match result {
                        RedisResult::Nil => Value::Null,
                        RedisResult::Status(status) => json!({ "status": status }),
                        RedisResult::Int64(n) => json!(n),
                        RedisResult::Binary(bytes) => json!(String::from_utf8_lossy(&bytes)),
                    })
                    .collect(),
            )
        }
    })
}

#[http_component]
fn handle(req: Request) -> impl IntoResponse {
    let body: Body = match serde_json::from_slice(req.body()) {
        Ok(body) => body,
        Err(e) => return respond(400, json!({ "error": format!("bad request body: {e}") })),
    };
    let connection = match Connection::open(&body.address) {
        Ok(connection) => connection,
        Err(e) => return respond(200, json!({ "error": format!("{e:?}") })),
    };
    let results: Vec<Value> = body
        .commands
        .into_iter()
        .map(|command| run(&connection, command).unwrap_or_else(|e| json!({ "error": e })))
        .collect();
    respond(200, json!({ "results": results }))
}
