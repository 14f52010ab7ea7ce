//! `sqlite`: runs a list of statements on ONE connection and reports every result.
//!
//! `POST {"database": "default", "api": "v2"|"v3", "statements": [{"sql": "...", "params": [..]}]}`
//! → `{"results": [{"columns": [..], "rows": [[..]]} | {"error": "<Debug>"}]}`; v3 results also carry
//! `"changes"` and `"last_insert_rowid"`. If `open` fails: `{"error": "<Debug>"}`.
//! `api` defaults to "v2", `database` to "default", `params` to `[]`.
//! With v2 a statement may say `"connection": N` to run on the guest's N-th connection to the
//! database (opened on first use; default 0), and `"trap": true` in the body makes the guest trap
//! after its statements, with whatever transaction it left open.
//!
//! Value mapping (both ways): integer ↔ JSON integer, real ↔ `{"real": f64}`, text ↔ JSON string,
//! blob ↔ `{"blob": [u8, ...]}`, null ↔ null. v2 = `fermyon:spin/sqlite@2.0.0`, v3 = `spin:sqlite/sqlite@3.0.0`.

use serde::Deserialize;
use serde_json::{json, Map, Value as Json};
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use spin_sdk::{sqlite, sqlite3};

#[derive(Deserialize)]
struct Body {
    #[serde(default = "default_database")]
    database: String,
    #[serde(default = "default_api")]
    api: String,
    statements: Vec<Statement>,
    #[serde(default)]
    trap: bool,
}

#[derive(Deserialize)]
struct Statement {
    sql: String,
    #[serde(default)]
    params: Vec<Json>,
    #[serde(default)]
    connection: usize,
}

fn default_database() -> String {
    "default".to_owned()
}

fn default_api() -> String {
    "v2".to_owned()
}

/// A SQLite value independent of the binding version.
enum Val {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

impl Val {
    fn from_json(v: &Json) -> Result<Val, String> {
        Ok(match v {
            Json::Null => Val::Null,
            Json::String(s) => Val::Text(s.clone()),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Val::Integer(i),
                None => return Err(format!("not an i64 integer: {n} (use {{\"real\": x}})")),
            },
            Json::Object(o) if o.len() == 1 && o.contains_key("real") => match o["real"].as_f64() {
                Some(f) => Val::Real(f),
                None => return Err(format!("bad real: {v}")),
            },
            Json::Object(o) if o.len() == 1 && o.contains_key("blob") => {
                let bytes = o["blob"]
                    .as_array()
                    .ok_or_else(|| format!("bad blob: {v}"))?
                    .iter()
                    .map(|b| {
                        b.as_u64()
                            .and_then(|b| u8::try_from(b).ok())
                            .ok_or_else(|| format!("bad blob byte: {b}"))
                    })
                    .collect::<Result<Vec<u8>, String>>()?;
                Val::Blob(bytes)
            }
            other => return Err(format!("unsupported parameter value: {other}")),
        })
    }

    fn to_json(&self) -> Json {
        match self {
            Val::Integer(i) => json!(i),
            Val::Real(f) => json!({ "real": f }),
            Val::Text(s) => json!(s),
            Val::Blob(b) => json!({ "blob": b }),
            Val::Null => Json::Null,
        }
    }
}

/// `{"columns": [..], "rows": [[..], ..]}` for either binding's `QueryResult`.
trait ResultJson {
    fn to_json_map(&self) -> Map<String, Json>;
}

macro_rules! value_conversions {
    ($m:ident) => {
        impl From<Val> for $m::Value {
            fn from(v: Val) -> Self {
                match v {
                    Val::Integer(i) => $m::Value::Integer(i),
                    Val::Real(f) => $m::Value::Real(f),
                    Val::Text(s) => $m::Value::Text(s),
                    Val::Blob(b) => $m::Value::Blob(b),
                    Val::Null => $m::Value::Null,
                }
            }
        }

        impl From<&$m::Value> for Val {
            fn from(v: &$m::Value) -> Self {
                match v {
                    $m::Value::Integer(i) => Val::Integer(*i),
                    $m::Value::Real(f) => Val::Real(*f),
                    $m::Value::Text(s) => Val::Text(s.clone()),
                    $m::Value::Blob(b) => Val::Blob(b.clone()),
                    $m::Value::Null => Val::Null,
                }
            }
        }

        impl ResultJson for $m::QueryResult {
            fn to_json_map(&self) -> Map<String, Json> {
                let r = self;
                let rows: Vec<Json> = r
                    .rows
                    .iter()
                    .map(|row| {
                        Json::Array(row.values.iter().map(|v| Val::from(v).to_json()).collect())
                    })
                    .collect();
                let mut out = Map::new();
                out.insert("columns".to_owned(), json!(r.columns));
                out.insert("rows".to_owned(), Json::Array(rows));
                out
            }
        }
    };
}

value_conversions!(sqlite);
value_conversions!(sqlite3);

fn respond(status: u16, body: Json) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

/// Converts the JSON parameters, or yields the per-statement error object.
fn params<V: From<Val>>(stmt: &Statement) -> Result<Vec<V>, Json> {
    stmt.params
        .iter()
        .map(|p| Val::from_json(p).map(V::from))
        .collect::<Result<Vec<V>, String>>()
        .map_err(|e| json!({ "error": format!("bad params: {e}") }))
}

fn run_v2(body: &Body) -> Json {
    let mut connections: Vec<sqlite::Connection> = Vec::new();
    let mut results: Vec<Json> = Vec::new();
    for stmt in &body.statements {
        while connections.len() <= stmt.connection {
            match sqlite::Connection::open(&body.database) {
                Ok(c) => connections.push(c),
                Err(e) => return json!({ "error": format!("{e:?}") }),
            }
        }
        let params = match params::<sqlite::Value>(stmt) {
            Ok(p) => p,
            Err(e) => {
                results.push(e);
                continue;
            }
        };
        results.push(
            match connections[stmt.connection].execute(&stmt.sql, &params) {
                Ok(r) => Json::Object(r.to_json_map()),
                Err(e) => json!({ "error": format!("{e:?}") }),
            },
        );
    }
    if body.trap {
        panic!(
            "trapping with {} connection(s) open, as asked",
            connections.len()
        );
    }
    json!({ "results": results })
}

fn run_v3(body: &Body) -> Json {
    let conn = match sqlite3::Connection::open(&body.database) {
        Ok(c) => c,
        Err(e) => return json!({ "error": format!("{e:?}") }),
    };
    let results: Vec<Json> = body
        .statements
        .iter()
        .map(|stmt| {
            let params = match params::<sqlite3::Value>(stmt) {
                Ok(p) => p,
                Err(e) => return e,
            };
            match conn.execute(&stmt.sql, &params) {
                Ok(r) => {
                    let mut out = r.to_json_map();
                    out.insert("changes".to_owned(), json!(conn.changes()));
                    out.insert(
                        "last_insert_rowid".to_owned(),
                        json!(conn.last_insert_rowid()),
                    );
                    Json::Object(out)
                }
                Err(e) => json!({ "error": format!("{e:?}") }),
            }
        })
        .collect();
    json!({ "results": results })
}

#[http_component]
fn handle(req: Request) -> impl IntoResponse {
    let body: Body = match serde_json::from_slice(req.body()) {
        Ok(b) => b,
        Err(e) => return respond(400, json!({ "error": format!("bad request body: {e}") })),
    };
    match body.api.as_str() {
        "v2" => respond(200, run_v2(&body)),
        "v3" => respond(200, run_v3(&body)),
        other => respond(400, json!({ "error": format!("unknown api {other:?}") })),
    }
}
