//! `pg`: PostgreSQL through spin-sdk's `pg4` (`spin:postgres/postgres@4.0.0`) or `pg3`
//! (`@3.0.0`).
//!
//! `POST {"api": "pg4" | "pg3" (default pg4), "connections": ["<address>", ...], "steps": [...]}`:
//! opens every connection in order (if one fails the answer is
//! `{"error": "<Debug>", "open": i}`), then runs each step, one result per step in
//! `{"results": [...]}`:
//! - `{"conn": i, "execute": sql, "params": [...]}` → `{"affected": n}`;
//! - `{"conn": i, "query": sql, "params": [...]}` → `{"columns": [{"name", "type": "<Debug>"}],
//!   "rows": [["<Debug of each value>", ...]]}`;
//! - `{"conn": i, "wait_for": sql, "params": [...]}` runs the query every 10 ms until it returns
//!   a row (→ `{"waited_ms": n}`) or 20 s pass (→ `{"error": "timed out"}`);
//! - `{"drop": i}` drops connection `i` (→ `"dropped"`);
//! - `{"trap": true}` panics, which traps the instance (its connections are never dropped by
//!   the guest).
//!
//! A failed step's result is `{"error": "<Debug>"}`, with `"code"` (the SQLSTATE) for a v4
//! `query-failed` from the server. Parameters are tagged JSON: `{"int32": 5}`, `{"str": "x"}`,
//! `{"binary": [1, 2]}`, `{"date": [y, m, d]}`, `{"time": [h, m, s, ns]}`,
//! `{"datetime": [y, m, d, h, m, s, ns]}`, `{"timestamp": secs}`, `{"uuid": "…"}`,
//! `{"jsonb": "<JSON text>"}`, `{"decimal": "1.5"}`, `{"range-int32": [[1, "inclusive"], null]}`
//! (likewise `range-int64`, `range-decimal` with text bounds), `{"array-int32": [1, null]}`
//! (likewise `array-int64`, `array-decimal`, `array-str`), `{"interval": [micros, days, months]}`,
//! `"db-null"`; and `boolean`, `int8`, `int16`, `int64`, `floating32`, `floating64`. A malformed
//! body, or a parameter `pg3` does not have, is a 400.

use serde::Deserialize;
use serde_json::{json, Value};
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use spin_sdk::{pg3, pg4};

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    api: Api,
    connections: Vec<String>,
    #[serde(default)]
    steps: Vec<Step>,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Api {
    #[default]
    Pg4,
    Pg3,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Step {
    Execute {
        conn: usize,
        execute: String,
        #[serde(default)]
        params: Vec<Param>,
    },
    Query {
        conn: usize,
        query: String,
        #[serde(default)]
        params: Vec<Param>,
    },
    WaitFor {
        conn: usize,
        wait_for: String,
        #[serde(default)]
        params: Vec<Param>,
    },
    Drop {
        drop: usize,
    },
    Trap {
        trap: bool,
    },
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Inclusive,
    Exclusive,
}

type Bound<T> = Option<(T, Kind)>;

#[derive(Deserialize, Clone)]
#[serde(rename_all = "kebab-case")]
enum Param {
    Boolean(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Floating32(f32),
    Floating64(f64),
    Str(String),
    Binary(Vec<u8>),
    Date((i32, u8, u8)),
    Time((u8, u8, u8, u32)),
    Datetime((i32, u8, u8, u8, u8, u8, u32)),
    Timestamp(i64),
    Uuid(String),
    Jsonb(String),
    Decimal(String),
    RangeInt32((Bound<i32>, Bound<i32>)),
    RangeInt64((Bound<i64>, Bound<i64>)),
    RangeDecimal((Bound<String>, Bound<String>)),
    ArrayInt32(Vec<Option<i32>>),
    ArrayInt64(Vec<Option<i64>>),
    ArrayDecimal(Vec<Option<String>>),
    ArrayStr(Vec<Option<String>>),
    Interval((i64, i32, i32)),
    DbNull,
}

fn kind4(kind: Kind) -> pg4::RangeBoundKind {
    match kind {
        Kind::Inclusive => pg4::RangeBoundKind::Inclusive,
        Kind::Exclusive => pg4::RangeBoundKind::Exclusive,
    }
}

fn range4<T>((lower, upper): (Bound<T>, Bound<T>)) -> (Bound4<T>, Bound4<T>) {
    (
        lower.map(|(v, k)| (v, kind4(k))),
        upper.map(|(v, k)| (v, kind4(k))),
    )
}

type Bound4<T> = Option<(T, pg4::RangeBoundKind)>;

fn param4(param: Param) -> pg4::ParameterValue {
    use pg4::ParameterValue as P;
    match param {
        Param::Boolean(v) => P::Boolean(v),
        Param::Int8(v) => P::Int8(v),
        Param::Int16(v) => P::Int16(v),
        Param::Int32(v) => P::Int32(v),
        Param::Int64(v) => P::Int64(v),
        Param::Floating32(v) => P::Floating32(v),
        Param::Floating64(v) => P::Floating64(v),
        Param::Str(v) => P::Str(v),
        Param::Binary(v) => P::Binary(v),
        Param::Date(v) => P::Date(v),
        Param::Time(v) => P::Time(v),
        Param::Datetime(v) => P::Datetime(v),
        Param::Timestamp(v) => P::Timestamp(v),
        Param::Uuid(v) => P::Uuid(v),
        Param::Jsonb(v) => P::Jsonb(v.into_bytes()),
        Param::Decimal(v) => P::Decimal(v),
        Param::RangeInt32(v) => P::RangeInt32(range4(v)),
        Param::RangeInt64(v) => P::RangeInt64(range4(v)),
        Param::RangeDecimal(v) => P::RangeDecimal(range4(v)),
        Param::ArrayInt32(v) => P::ArrayInt32(v),
        Param::ArrayInt64(v) => P::ArrayInt64(v),
        Param::ArrayDecimal(v) => P::ArrayDecimal(v),
        Param::ArrayStr(v) => P::ArrayStr(v),
        Param::Interval((micros, days, months)) => P::Interval(pg4::Interval {
            micros,
            days,
            months,
        }),
        Param::DbNull => P::DbNull,
    }
}

fn param3(param: Param) -> Option<pg3::ParameterValue> {
    use pg3::ParameterValue as P;
    Some(match param {
        Param::Boolean(v) => P::Boolean(v),
        Param::Int8(v) => P::Int8(v),
        Param::Int16(v) => P::Int16(v),
        Param::Int32(v) => P::Int32(v),
        Param::Int64(v) => P::Int64(v),
        Param::Floating32(v) => P::Floating32(v),
        Param::Floating64(v) => P::Floating64(v),
        Param::Str(v) => P::Str(v),
        Param::Binary(v) => P::Binary(v),
        Param::Date(v) => P::Date(v),
        Param::Time(v) => P::Time(v),
        Param::Datetime(v) => P::Datetime(v),
        Param::Timestamp(v) => P::Timestamp(v),
        Param::DbNull => P::DbNull,
        _ => return None,
    })
}

enum Conn {
    V4(pg4::Connection),
    V3(pg3::Connection),
}

/// Parameters converted for the connection's API version.
enum Params {
    V4(Vec<pg4::ParameterValue>),
    V3(Vec<pg3::ParameterValue>),
}

fn params(api: Api, params: Vec<Param>) -> Result<Params, String> {
    match api {
        Api::Pg4 => Ok(Params::V4(params.into_iter().map(param4).collect())),
        Api::Pg3 => params
            .into_iter()
            .map(param3)
            .collect::<Option<Vec<_>>>()
            .map(Params::V3)
            .ok_or_else(|| "a parameter pg3 does not have".to_owned()),
    }
}

fn error4(error: pg4::PgError) -> Value {
    let code = match &error {
        pg4::PgError::QueryFailed(pg4::QueryError::DbError(db)) => Some(db.code.clone()),
        _ => None,
    };
    match code {
        Some(code) => json!({ "error": format!("{error:?}"), "code": code }),
        None => json!({ "error": format!("{error:?}") }),
    }
}

fn error3(error: pg3::PgError) -> Value {
    json!({ "error": format!("{error:?}") })
}

impl Conn {
    fn open(api: Api, address: &str) -> Result<Conn, Value> {
        match api {
            Api::Pg4 => pg4::Connection::open(address).map(Conn::V4).map_err(error4),
            Api::Pg3 => pg3::Connection::open(address).map(Conn::V3).map_err(error3),
        }
    }

    fn execute(&self, sql: &str, params: &Params) -> Value {
        let result = match (self, params) {
            (Conn::V4(c), Params::V4(p)) => c.execute(sql, p).map_err(error4),
            (Conn::V3(c), Params::V3(p)) => c.execute(sql, p).map_err(error3),
            _ => unreachable!("one API per request"),
        };
        match result {
            Ok(n) => json!({ "affected": n }),
            Err(e) => e,
        }
    }

    fn query(&self, sql: &str, params: &Params) -> Result<Value, Value> {
        fn rows<V: std::fmt::Debug>(rows: Vec<Vec<V>>) -> Value {
            rows.iter()
                .map(|row| row.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>())
                .collect::<Vec<_>>()
                .into()
        }
        match (self, params) {
            (Conn::V4(c), Params::V4(p)) => {
                let set = c.query(sql, p).map_err(error4)?;
                let columns: Vec<Value> = set
                    .columns
                    .iter()
                    .map(|c| json!({ "name": c.name, "type": format!("{:?}", c.data_type) }))
                    .collect();
                Ok(json!({ "columns": columns, "rows": rows(set.rows) }))
            }
            (Conn::V3(c), Params::V3(p)) => {
                let set = c.query(sql, p).map_err(error3)?;
                let columns: Vec<Value> = set
                    .columns
                    .iter()
                    .map(|c| json!({ "name": c.name, "type": format!("{:?}", c.data_type) }))
                    .collect();
                Ok(json!({ "columns": columns, "rows": rows(set.rows) }))
            }
            _ => unreachable!("one API per request"),
        }
    }
}

fn respond(status: u16, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

fn run(api: Api, connections: &mut [Option<Conn>], step: Step) -> Result<Value, String> {
    let conn = |connections: &[Option<Conn>], i: usize| -> Result<usize, String> {
        match connections.get(i) {
            Some(Some(_)) => Ok(i),
            _ => Err(format!("no open connection {i}")),
        }
    };
    Ok(match step {
        Step::Execute {
            conn: i,
            execute,
            params: p,
        } => {
            let i = conn(connections, i)?;
            let p = params(api, p)?;
            connections[i].as_ref().unwrap().execute(&execute, &p)
        }
        Step::Query {
            conn: i,
            query,
            params: p,
        } => {
            let i = conn(connections, i)?;
            let p = params(api, p)?;
            let c = connections[i].as_ref().unwrap();
            c.query(&query, &p).unwrap_or_else(|e| e)
        }
        Step::WaitFor {
            conn: i,
            wait_for,
            params: p,
        } => {
            let i = conn(connections, i)?;
            let p = params(api, p)?;
            let c = connections[i].as_ref().unwrap();
            let mut waited_ms = 0;
            loop {
                match c.query(&wait_for, &p) {
                    Err(e) => break e,
                    Ok(set) if set["rows"].as_array().is_some_and(|r| !r.is_empty()) => {
                        break json!({ "waited_ms": waited_ms });
                    }
                    Ok(_) if waited_ms >= 20_000 => break json!({ "error": "timed out" }),
                    Ok(_) => {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                        waited_ms += 10;
                    }
                }
            }
        }
        Step::Drop { drop: i } => {
            let i = conn(connections, i)?;
            connections[i] = None;
            json!("dropped")
        }
        Step::Trap { trap } => {
            if trap {
                panic!("trap requested");
            }
            json!("not trapped")
        }
    })
}

#[http_component]
fn handle(req: Request) -> impl IntoResponse {
    let body: Body = match serde_json::from_slice(req.body()) {
        Ok(body) => body,
        Err(e) => return respond(400, json!({ "error": format!("bad request body: {e}") })),
    };
    let mut connections = Vec::new();
    for (i, address) in body.connections.iter().enumerate() {
        match Conn::open(body.api, address) {
            Ok(conn) => connections.push(Some(conn)),
            Err(mut error) => {
                error["open"] = json!(i);
                return respond(200, error);
            }
        }
    }
    let mut results = Vec::new();
    for step in body.steps {
        match run(body.api, &mut connections, step) {
            Ok(result) => results.push(result),
            Err(e) => return respond(400, json!({ "error": e })),
        }
    }
    respond(200, json!({ "results": results }))
}
