//! `spin:postgres/postgres@4.0.0` and `@3.0.0` on the real `fleetjobs up`,
//! against a real PostgreSQL at `FLEETJOBS_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`; scripts/postgres.sh, which
//! setup.sh runs, makes sure one answers). The guest is
//! `tests/components/pg`; each test works in a schema of its own, so they
//! run in parallel.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// The database, as the guests are given it: TLS off, since Spin (and so this
/// host) verifies a server's certificate, which a test machine's
/// self-signed one fails.
fn database_url() -> String {
    let url = std::env::var("FLEETJOBS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if url.contains("sslmode=") {
        url
    } else if url.contains('?') {
        format!("{url}&sslmode=disable")
    } else {
        format!("{url}?sslmode=disable")
    }
}

/// `postgres://host:port` of the database, for `allowed_outbound_hosts`.
fn database_host() -> String {
    let url = url::Url::parse(&database_url()).expect("FLEETJOBS_TEST_DATABASE_URL is a URL");
    format!(
        "postgres://{}:{}",
        url.host_str().expect("the database URL has a host"),
        url.port().unwrap_or(5432)
    )
}

fn wasm(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/components/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"))
}

/// A host running the `pg` guest at `/pg` (allowed the database) and at
/// `/denied` (allowed `denied_hosts` only), with its application directory.
struct PgHost {
    host: Host,
    _dir: tempfile::TempDir,
}

fn start_with(denied_hosts: &[&str], args: &[&str]) -> PgHost {
    let dir = tempfile::tempdir().unwrap();
    let source = wasm("pg").display().to_string();
    let manifest = format!(
        "spin_manifest_version = 2\n[application]\nname = \"pg\"\n\
         [[trigger.http]]\nroute = \"/pg\"\ncomponent = \"pg\"\n\
         [component.pg]\nsource = {source:?}\nallowed_outbound_hosts = [{:?}]\n\
         [[trigger.http]]\nroute = \"/denied\"\ncomponent = \"denied\"\n\
         [component.denied]\nsource = {source:?}\nallowed_outbound_hosts = {denied_hosts:?}\n",
        database_host()
    );
    let path = dir.path().join("spin.toml");
    std::fs::write(&path, manifest).unwrap();
    let mut all_args = vec![
        "--cache-dir",
        SHARED_CACHE_DIR,
        "--mqtt-url",
        "mqtt://127.0.0.1:1",
    ];
    all_args.extend_from_slice(args);
    PgHost {
        host: Host::start(&path, &all_args, &[]),
        _dir: dir,
    }
}

fn start() -> PgHost {
    start_with(&[], &[])
}

/// A schema of the test's own, dropped first if a killed run left it.
fn schema(test: &str) -> String {
    format!("fleetjobs_pg_{test}_{}", std::process::id())
}

impl PgHost {
    /// One request to the guest: `steps` on `connections` connections to the
    /// database (each with `search_path` set to `schema` first).
    fn run(&self, schema: &str, connections: usize, steps: Value) -> Value {
        self.run_api("pg4", schema, connections, steps)
    }

    fn run_api(&self, api: &str, schema: &str, connections: usize, steps: Value) -> Value {
        let mut all = Vec::new();
        for conn in 0..connections {
            all.push(json!({ "conn": conn, "execute": format!("SET search_path TO {schema}") }));
        }
        all.extend(steps.as_array().expect("steps").iter().cloned());
        let body = json!({
            "api": api,
            "connections": vec![database_url(); connections],
            "steps": all,
        });
        let reply = self.host.post_json("/pg", &body);
        let mut results = reply["results"]
            .as_array()
            .unwrap_or_else(|| panic!("no results: {reply}"))
            .clone();
        for set in results.drain(..connections) {
            assert_eq!(set, json!({ "affected": 0 }), "SET search_path: {reply}");
        }
        Value::Array(results)
    }

    /// A fresh, empty schema `schema` with `ddl` run in it.
    fn create_schema(&self, schema: &str, ddl: &[&str]) {
        let body = json!({
            "connections": [database_url()],
            "steps": [
                { "conn": 0, "execute": format!("DROP SCHEMA IF EXISTS {schema} CASCADE") },
                { "conn": 0, "execute": format!("CREATE SCHEMA {schema}") },
            ],
        });
        let reply = self.host.post_json("/pg", &body);
        for result in reply["results"].as_array().unwrap() {
            assert!(result.get("error").is_none(), "{reply}");
        }
        let steps: Vec<Value> = ddl
            .iter()
            .map(|sql| json!({ "conn": 0, "execute": sql }))
            .collect();
        for result in self.run(schema, 1, Value::Array(steps)).as_array().unwrap() {
            assert!(result.get("error").is_none(), "{result}");
        }
    }

    fn drop_schema(&self, schema: &str) {
        let body = json!({
            "connections": [database_url()],
            "steps": [{ "conn": 0, "execute": format!("DROP SCHEMA {schema} CASCADE") }],
        });
        self.host.post_json("/pg", &body);
    }

    /// The rows of one query, as the guest prints each value.
    fn rows(&self, schema: &str, sql: &str) -> Value {
        let results = self.run(schema, 1, json!([{ "conn": 0, "query": sql }]));
        results[0]["rows"].clone()
    }
}

fn errors_of(results: &Value) -> Vec<&Value> {
    results
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("error").is_some())
        .collect()
}

#[test]
fn every_mapped_type_round_trips_with_its_column_type() {
    let pg = start();
    let schema = schema("types");
    pg.create_schema(
        &schema,
        &[
            "CREATE TABLE t (id int PRIMARY KEY, b bool, c \"char\", i2 int2, i4 int4, i8 int8, \
           f4 float4, f8 float8, tx text, vc varchar(10), bp char(4), by bytea, d date, tm time, \
           ts timestamp, tz timestamptz, u uuid, j jsonb, n numeric, r4 int4range, \
           r8 int8range, rn numrange, a4 int4[], a8 int8[], an numeric[], atx text[], \
           iv interval, ip inet)",
        ],
    );
    let insert = "INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                  $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)";
    let params = json!([
        { "int32": 1 },
        { "boolean": true },
        { "int8": -7 },
        { "int16": -32768 },
        { "int32": 2147483647 },
        { "int64": -9223372036854775808i64 },
        { "floating32": 1.5 },
        { "floating64": -0.25 },
        { "str": "héllo ✓" },
        { "str": "varying" },
        { "str": "ab" },
        { "binary": [0, 1, 254, 255] },
        { "date": [2024, 2, 29] },
        { "time": [23, 59, 58, 123456000] },
        { "datetime": [1999, 12, 31, 23, 59, 59, 999999000] },
        { "timestamp": 86400 },
        { "uuid": "12345678-1234-1234-1234-123456789abc" },
        { "jsonb": "{\"a\": [1, true, null], \"b\": \"x\"}" },
        { "decimal": "-123456789.000000001" },
        { "range-int32": [[1, "exclusive"], [10, "inclusive"]] },
        { "range-int64": [[-5, "inclusive"], null] },
        { "range-decimal": [null, ["2.5", "inclusive"]] },
        { "array-int32": [1, null, 3] },
        { "array-int64": [9007199254740993i64, null] },
        { "array-decimal": ["1.10", null] },
        { "array-str": ["a", null, "c"] },
        { "interval": [3723000004i64, 5, 14] },
        "db-null",
    ]);
    let nulls = json!([{ "int32": 2 }, "db-null", "db-null", "db-null", "db-null", "db-null",
        "db-null", "db-null", "db-null", "db-null", "db-null", "db-null", "db-null", "db-null",
        "db-null", "db-null", "db-null", "db-null", "db-null", "db-null", "db-null", "db-null",
        "db-null", "db-null", "db-null", "db-null", "db-null", "db-null"]);
    let results = pg.run(
        &schema,
        1,
        json!([
            { "conn": 0, "execute": insert, "params": params },
            { "conn": 0, "execute": insert, "params": nulls },
            { "conn": 0, "execute": "UPDATE t SET ip = '10.1.2.3' WHERE id = 1" },
            { "conn": 0, "query": "SELECT b, i2, i4, i8, f4, f8, tx, vc, bp, by, d, tm, ts, u, j, \
                n, r4, r8, rn, a4, a8, an, atx, iv, ip, c FROM t ORDER BY id" },
        ]),
    );
    assert_eq!(results[0], json!({ "affected": 1 }));
    assert_eq!(results[1], json!({ "affected": 1 }));
    let set = &results[3];
    let types: Vec<&str> = set["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("{set}"))
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "DbDataType::Boolean",
            "DbDataType::Int16",
            "DbDataType::Int32",
            "DbDataType::Int64",
            "DbDataType::Floating32",
            "DbDataType::Floating64",
            "DbDataType::Str",
            "DbDataType::Str",
            "DbDataType::Str",
            "DbDataType::Binary",
            "DbDataType::Date",
            "DbDataType::Time",
            "DbDataType::Datetime",
            "DbDataType::Uuid",
            "DbDataType::Jsonb",
            "DbDataType::Decimal",
            "DbDataType::RangeInt32",
            "DbDataType::RangeInt64",
            "DbDataType::RangeDecimal",
            "DbDataType::ArrayInt32",
            "DbDataType::ArrayInt64",
            "DbDataType::ArrayDecimal",
            "DbDataType::ArrayStr",
            "DbDataType::Interval",
            "DbDataType::Other(\"inet\")",
            "DbDataType::Other(\"char\")",
        ]
    );
    let values: Vec<&str> = set["rows"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let json_bytes = format!("{:?}", br#"{"a":[1,true,null],"b":"x"}"#.to_vec());
    assert_eq!(
        values,
        [
            "DbValue::Boolean(true)".to_owned(),
            "DbValue::Int16(-32768)".into(),
            "DbValue::Int32(2147483647)".into(),
            "DbValue::Int64(-9223372036854775808)".into(),
            "DbValue::Floating32(1.5)".into(),
            "DbValue::Floating64(-0.25)".into(),
            "DbValue::Str(\"héllo ✓\")".into(),
            "DbValue::Str(\"varying\")".into(),
            // char(4) pads.
            "DbValue::Str(\"ab  \")".into(),
            "DbValue::Binary([0, 1, 254, 255])".into(),
            "DbValue::Date((2024, 2, 29))".into(),
            "DbValue::Time((23, 59, 58, 123456000))".into(),
            "DbValue::Datetime((1999, 12, 31, 23, 59, 59, 999999000))".into(),
            "DbValue::Uuid(\"12345678-1234-1234-1234-123456789abc\")".into(),
            // jsonb normalises the text.
            format!("DbValue::Jsonb({json_bytes})"),
            "DbValue::Decimal(\"-123456789.000000001\")".into(),
            // Discrete ranges come back canonical: [lower, upper).
            "DbValue::RangeInt32((Some((2, RangeBoundKind::Inclusive)), Some((11, RangeBoundKind::Exclusive))))".into(),
            "DbValue::RangeInt64((Some((-5, RangeBoundKind::Inclusive)), None))".into(),
            "DbValue::RangeDecimal((None, Some((\"2.5\", RangeBoundKind::Inclusive))))".into(),
            "DbValue::ArrayInt32([Some(1), None, Some(3)])".into(),
            "DbValue::ArrayInt64([Some(9007199254740993), None])".into(),
            "DbValue::ArrayDecimal([Some(\"1.10\"), None])".into(),
            "DbValue::ArrayStr([Some(\"a\"), None, Some(\"c\")])".into(),
            "DbValue::Interval(Interval { micros: 3723000004, days: 5, months: 14 })".into(),
            // Other types: their binary encoding (inet: family, bits, is_cidr, length, address).
            "DbValue::Unsupported([2, 32, 0, 4, 10, 1, 2, 3])".into(),
            // "char" is a parameter type (int8) but not a value type.
            "DbValue::Unsupported([249])".into(),
        ]
    );
    // NULL of every type.
    assert!(
        set["rows"][1]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v == "DbValue::DbNull"),
        "{set}"
    );
    // `timestamp` parameters are seconds since the epoch, for timestamptz; a
    // timestamptz value does not convert (as on Spin).
    let results = pg.run(
        &schema,
        1,
        json!([
            { "conn": 0, "query": "SELECT tz = '1970-01-02T00:00:00Z' AS same FROM t WHERE id = 1" },
            { "conn": 0, "query": "SELECT tz FROM t WHERE id = 1" },
            // An empty result has no columns, as on Spin (they come from the first row).
            { "conn": 0, "query": "SELECT id FROM t WHERE false" },
        ]),
    );
    assert_eq!(results[0]["rows"], json!([["DbValue::Boolean(true)"]]));
    let error = results[1]["error"].as_str().unwrap();
    assert!(
        error.starts_with("Error::QueryFailed(QueryError::Text("),
        "{error}"
    );
    assert!(results[1].get("code").is_none());
    assert_eq!(results[2], json!({ "columns": [], "rows": [] }));

    // pg3: its own types round trip; v4's newer ones narrow to unsupported
    // values of `other` columns.
    let results = pg.run_api(
        "pg3",
        &schema,
        1,
        json!([
            { "conn": 0, "execute": "INSERT INTO t (id, i8, tx, by, d, tm, ts) VALUES ($1, $2, $3, $4, $5, $6, $7)",
              "params": [{ "int32": 3 }, { "int64": 42 }, { "str": "v3" }, { "binary": [9] },
                         { "date": [2000, 1, 1] }, { "time": [1, 2, 3, 0] },
                         { "datetime": [2000, 1, 1, 1, 2, 3, 0] }] },
            { "conn": 0, "query": "SELECT i8, tx, by, d, tm, ts, u FROM t WHERE id IN (1, 3) ORDER BY id" },
        ]),
    );
    assert_eq!(results[0], json!({ "affected": 1 }));
    let columns: Vec<&str> = results[1]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "DbDataType::Int64",
            "DbDataType::Str",
            "DbDataType::Binary",
            "DbDataType::Date",
            "DbDataType::Time",
            "DbDataType::Datetime",
            "DbDataType::Other",
        ]
    );
    assert_eq!(
        results[1]["rows"][1],
        json!([
            "DbValue::Int64(42)",
            "DbValue::Str(\"v3\")",
            "DbValue::Binary([9])",
            "DbValue::Date((2000, 1, 1))",
            "DbValue::Time((1, 2, 3, 0))",
            "DbValue::Datetime((2000, 1, 1, 1, 2, 3, 0))",
            "DbValue::DbNull",
        ])
    );
    assert_eq!(results[1]["rows"][0][6], "DbValue::Unsupported");
    pg.drop_schema(&schema);
}

#[test]
fn a_transaction_across_calls_stays_on_one_connection_and_is_invisible_until_commit() {
    let pg = start();
    let schema = schema("tx");
    pg.create_schema(
        &schema,
        &[
            "CREATE TABLE items (name text PRIMARY KEY)",
            "CREATE TABLE signals (name text PRIMARY KEY)",
        ],
    );
    let writer = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            // Connection 0 holds the transaction; connection 1 (autocommit)
            // says it is ready and waits for the go-ahead.
            pg.run(
                &schema,
                2,
                json!([
                    { "conn": 0, "execute": "BEGIN" },
                    { "conn": 0, "query": "SELECT pg_backend_pid() AS pid" },
                    { "conn": 0, "execute": "INSERT INTO items VALUES ('a'), ('b')" },
                    { "conn": 1, "execute": "INSERT INTO signals VALUES ('ready')" },
                    { "conn": 1, "wait_for": "SELECT 1 FROM signals WHERE name = 'go'" },
                    { "conn": 0, "query": "SELECT count(*) AS n FROM items" },
                    { "conn": 0, "query": "SELECT pg_backend_pid() AS pid" },
                    { "conn": 0, "execute": "COMMIT" },
                ]),
            )
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while pg.rows(&schema, "SELECT name FROM signals WHERE name = 'ready'") == json!([]) {
            assert!(Instant::now() < deadline, "the writer never got ready");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Another guest sees nothing of the open transaction.
        assert_eq!(
            pg.rows(&schema, "SELECT count(*) AS n FROM items"),
            json!([["DbValue::Int64(0)"]])
        );
        let go = pg.run(
            &schema,
            1,
            json!([{ "conn": 0, "execute": "INSERT INTO signals VALUES ('go')" }]),
        );
        assert_eq!(go[0], json!({ "affected": 1 }));
        writer.join().unwrap()
    });
    assert!(errors_of(&writer).is_empty(), "{writer}");
    // Inside its transaction the writer saw its rows, all on one backend.
    assert_eq!(writer[5]["rows"], json!([["DbValue::Int64(2)"]]));
    assert_eq!(writer[1]["rows"], writer[6]["rows"]);
    assert_eq!(
        pg.rows(&schema, "SELECT name FROM items ORDER BY name"),
        json!([["DbValue::Str(\"a\")"], ["DbValue::Str(\"b\")"]])
    );
    pg.drop_schema(&schema);
}

#[test]
fn a_guest_that_traps_inside_a_transaction_leaves_no_lock_behind() {
    let pg = start();
    let schema = schema("trap");
    pg.create_schema(
        &schema,
        &[
            "CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)",
            "INSERT INTO counter VALUES (1, 0)",
        ],
    );
    let bump = json!([
        { "conn": 0, "execute": "SET lock_timeout = '5s'" },
        { "conn": 0, "execute": "UPDATE counter SET n = n + 1 WHERE id = 1" },
    ]);
    let trap = |steps: Value| {
        let mut all = vec![json!({ "conn": 0, "execute": format!("SET search_path TO {schema}") })];
        all.extend(steps.as_array().unwrap().iter().cloned());
        all.push(json!({ "trap": true }));
        let body = json!({ "connections": [database_url()], "steps": all });
        let (status, _) = pg.host.post("/pg", &body.to_string());
        assert_eq!(status, 500);
    };
    for _ in 0..3 {
        // A guest that traps holding the row's lock …
        trap(json!([
            { "conn": 0, "execute": "BEGIN" },
            { "conn": 0, "execute": "UPDATE counter SET n = n + 100 WHERE id = 1" },
        ]));
        // … does not hold up the next writer, and its change is gone.
        let results = pg.run(&schema, 1, bump.clone());
        assert!(errors_of(&results).is_empty(), "{results}");
    }
    assert_eq!(
        pg.rows(&schema, "SELECT n FROM counter"),
        json!([["DbValue::Int32(3)"]])
    );
    // Nor does a session's state outlive its guest: a table lock, an advisory
    // lock and a temporary table are all gone once the client is reset.
    let key = i64::from(std::process::id());
    trap(json!([
        { "conn": 0, "execute": "CREATE TEMP TABLE fleetjobs_pg_scratch (x int)" },
        { "conn": 0, "query": "SELECT pg_advisory_lock($1)", "params": [{ "int64": key }] },
        { "conn": 0, "execute": "BEGIN" },
        { "conn": 0, "execute": "LOCK TABLE counter IN ACCESS EXCLUSIVE MODE" },
    ]));
    let results = pg.run(&schema, 1, bump.clone());
    assert!(errors_of(&results).is_empty(), "{results}");
    let leftovers = format!(
        "SELECT (SELECT count(*) FROM pg_locks WHERE pid <> pg_backend_pid() \
           AND (relation = '{schema}.counter'::regclass OR locktype = 'advisory' AND objid = {key})), \
         (SELECT count(*) FROM pg_class WHERE relname = 'fleetjobs_pg_scratch' AND relpersistence = 't')"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = pg.rows(&schema, &leftovers);
        if left == json!([["DbValue::Int64(0)", "DbValue::Int64(0)"]]) {
            break;
        }
        assert!(Instant::now() < deadline, "left behind: {left}");
        std::thread::sleep(Duration::from_millis(50));
    }
    pg.drop_schema(&schema);
}

#[test]
fn a_hundred_concurrent_writers_all_commit() {
    let pg = start();
    let schema = schema("concurrent");
    pg.create_schema(
        &schema,
        &[
            "CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)",
            "INSERT INTO counter VALUES (1, 0)",
            "CREATE TABLE log (writer int PRIMARY KEY)",
        ],
    );
    let results: Vec<Value> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..100)
            .map(|i| {
                let (pg, schema) = (&pg, &schema);
                scope.spawn(move || {
                    pg.run(
                        schema,
                        1,
                        json!([
                            { "conn": 0, "execute": "BEGIN" },
                            { "conn": 0, "execute": "INSERT INTO log VALUES ($1)", "params": [{ "int32": i }] },
                            { "conn": 0, "execute": "UPDATE counter SET n = n + 1 WHERE id = 1" },
                            { "conn": 0, "execute": "COMMIT" },
                        ]),
                    )
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for result in &results {
        assert_eq!(
            result,
            &json!([{ "affected": 0 }, { "affected": 1 }, { "affected": 1 }, { "affected": 0 }])
        );
    }
    assert_eq!(
        pg.rows(&schema, "SELECT n, (SELECT count(*) FROM log) FROM counter"),
        json!([["DbValue::Int32(100)", "DbValue::Int64(100)"]])
    );
    pg.drop_schema(&schema);
}

#[test]
fn a_host_outside_allowed_outbound_hosts_is_refused_as_spin_refuses_it() {
    let database = database_host();
    let port: u16 = database.rsplit(':').next().unwrap().parse().unwrap();
    let other_port = format!("postgres://127.0.0.1:{}", port + 1);
    let pg = start_with(&[&other_port], &[]);
    let url = url::Url::parse(&database_url()).unwrap();
    let host = url.host_str().unwrap().to_owned();
    let open = |address: String| {
        pg.host
            .post_json("/denied", &json!({ "connections": [address], "steps": [] }))
    };
    let refused = format!("Error::ConnectionFailed(\"address {database} is not permitted\")");
    assert_eq!(open(database_url()), json!({ "error": refused, "open": 0 }));
    // The key=value form is checked the same way.
    assert_eq!(
        open(format!(
            "host={host} port={port} user=postgres sslmode=disable"
        )),
        json!({ "error": refused, "open": 0 })
    );
    // pg3 too.
    let reply = pg.host.post_json(
        "/denied",
        &json!({ "api": "pg3", "connections": [database_url()], "steps": [] }),
    );
    assert_eq!(reply, json!({ "error": refused, "open": 0 }));
    // Unix sockets never.
    let reply = open("host=/var/run/postgresql user=postgres".into());
    assert_eq!(
        reply["error"],
        "Error::ConnectionFailed(\"Unix sockets are not supported on WebAssembly\")"
    );
    // A connection string that does not parse.
    let reply = open("postgres://[nope".into());
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .starts_with("Error::ConnectionFailed("),
        "{reply}"
    );
    // The allowed component still connects.
    let ok = pg.host.post_json(
        "/pg",
        &json!({ "connections": [database_url()], "steps": [{ "conn": 0, "query": "SELECT 1 AS one" }] }),
    );
    assert_eq!(ok["results"][0]["rows"], json!([["DbValue::Int32(1)"]]));
}

#[test]
fn tls_is_negotiated_as_the_connection_string_asks() {
    let pg = start();
    let url = url::Url::parse(&database_url()).unwrap();
    let mut require = url.clone();
    let query: String = url
        .query_pairs()
        .filter(|(k, _)| k != "sslmode")
        .map(|(k, v)| format!("{k}={v}&"))
        .collect();
    require.set_query(Some(&format!("{query}sslmode=require")));
    // The test server has no TLS, or a self-signed certificate this host
    // (like Spin) does not trust: either way TLS is tried and fails.
    let reply = pg.host.post_json(
        "/pg",
        &json!({ "connections": [require.as_str()], "steps": [] }),
    );
    let error = reply["error"].as_str().unwrap_or_else(|| panic!("{reply}"));
    assert!(error.starts_with("Error::ConnectionFailed("), "{error}");
    assert!(error.to_lowercase().contains("tls"), "{error}");
}

#[test]
fn a_failed_statement_is_query_failed_with_its_sqlstate_and_the_host_carries_on() {
    let pg = start();
    let schema = schema("errors");
    pg.create_schema(&schema, &["CREATE TABLE t (id int PRIMARY KEY, u uuid)"]);
    let results = pg.run(
        &schema,
        1,
        json!([
            { "conn": 0, "query": "SELEC 1" },
            { "conn": 0, "query": "SELECT * FROM missing" },
            { "conn": 0, "execute": "INSERT INTO t (id) VALUES (1)" },
            { "conn": 0, "execute": "INSERT INTO t (id) VALUES (1)" },
            { "conn": 0, "execute": "INSERT INTO t (id) VALUES ($1)", "params": [{ "int64": 2 }] },
            { "conn": 0, "query": "SELECT * FROM t WHERE u = $1", "params": [{ "uuid": "nope" }] },
            { "conn": 0, "execute": "UPDATE t SET u = $1", "params": [{ "uuid": "nope" }] },
            { "conn": 0, "query": "SELECT 1 / 0" },
            { "conn": 0, "query": "SELECT id FROM t" },
        ]),
    );
    assert_eq!(results[0]["code"], "42601", "{}", results[0]);
    assert_eq!(results[1]["code"], "42P01", "{}", results[1]);
    let missing = results[1]["error"].as_str().unwrap();
    assert!(
        missing.starts_with("Error::QueryFailed(QueryError::DbError(DbError { as-text: ")
            && missing.contains("severity: \"ERROR\"")
            && missing.contains("message: \"relation \\\"missing\\\" does not exist\""),
        "{missing}"
    );
    assert_eq!(results[2], json!({ "affected": 1 }));
    assert_eq!(results[3]["code"], "23505");
    let duplicate = results[3]["error"].as_str().unwrap();
    assert!(
        duplicate.contains("detail: Some(\"Key (id)=(1) already exists.\")")
            && duplicate.contains("(\"constraint\", \"t_pkey\")")
            && duplicate.contains(&format!("(\"schema\", \"{schema}\")"))
            && duplicate.contains("(\"table\", \"t\")"),
        "{duplicate}"
    );
    // A parameter of the wrong type is refused by the driver: text, no code.
    let wrong_type = results[4]["error"].as_str().unwrap();
    assert!(
        wrong_type.starts_with("Error::QueryFailed(QueryError::Text(")
            && wrong_type.contains("ToSql"),
        "{wrong_type}"
    );
    // A parameter that is no value: bad-parameter in a query,
    // value-conversion-failed in an execute (as Spin names them).
    assert!(
        results[5]["error"]
            .as_str()
            .unwrap()
            .starts_with("Error::BadParameter(\"invalid UUID nope"),
        "{}",
        results[5]
    );
    assert!(
        results[6]["error"]
            .as_str()
            .unwrap()
            .starts_with("Error::ValueConversionFailed(\"invalid UUID nope"),
        "{}",
        results[6]
    );
    assert_eq!(results[7]["code"], "22012");
    assert_eq!(results[8]["rows"], json!([["DbValue::Int32(1)"]]));
    // pg3: the server's error as text.
    let results = pg.run_api(
        "pg3",
        &schema,
        1,
        json!([{ "conn": 0, "query": "SELECT * FROM missing" }]),
    );
    let error = results[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("Error::QueryFailed(\"") && error.contains("42P01"),
        "{error}"
    );
    // A failed statement inside a transaction leaves it aborted until the
    // guest rolls back, as PostgreSQL does; the connection then works.
    let results = pg.run(
        &schema,
        1,
        json!([
            { "conn": 0, "execute": "BEGIN" },
            { "conn": 0, "execute": "INSERT INTO t (id) VALUES (1)" },
            { "conn": 0, "query": "SELECT 1 AS one" },
            { "conn": 0, "execute": "ROLLBACK" },
            { "conn": 0, "query": "SELECT 1 AS one" },
        ]),
    );
    assert_eq!(results[1]["code"], "23505");
    assert_eq!(results[2]["code"], "25P02");
    assert_eq!(results[4]["rows"], json!([["DbValue::Int32(1)"]]));
    // A guest that leaves an aborted transaction open does not hand it on.
    let left_open = pg.run(
        &schema,
        1,
        json!([
            { "conn": 0, "execute": "BEGIN" },
            { "conn": 0, "execute": "INSERT INTO t (id) VALUES (1)" },
        ]),
    );
    assert_eq!(left_open[1]["code"], "23505");
    for _ in 0..5 {
        assert_eq!(
            pg.rows(&schema, "SELECT count(*) FROM t"),
            json!([["DbValue::Int64(1)"]])
        );
    }
    pg.drop_schema(&schema);
}
