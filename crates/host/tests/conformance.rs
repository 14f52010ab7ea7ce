//! Host conformance: the real `fleetjobs up`, the purpose-built components of
//! tests/components, and a real mosquitto.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn header<'a>(echo: &'a Value, name: &str) -> &'a str {
    echo["headers"][name].as_str().unwrap_or_default()
}

#[test]
fn http_routes_headers_private_routes_and_chaining() {
    let host = Host::start(&app_manifest(), &[], &[]);

    let exact = host.json("/echo/exact");
    assert_eq!(header(&exact, "spin-matched-route"), "/echo/exact");
    assert_eq!(header(&exact, "spin-path-info"), "");
    let wildcard = host.json("/echo/other/x");
    assert_eq!(header(&wildcard, "spin-matched-route"), "/echo/...");
    assert_eq!(header(&wildcard, "spin-path-info"), "/other/x");

    let users = host.json("/users/42/bar?x=1");
    assert_eq!(
        header(&users, "spin-full-url"),
        format!("http://127.0.0.1:{}/users/42/bar?x=1", host.port)
    );
    assert_eq!(header(&users, "spin-path-info"), "/bar");
    assert_eq!(header(&users, "spin-matched-route"), "/users/:id/...");
    assert_eq!(header(&users, "spin-raw-component-route"), "/users/:id/...");
    assert_eq!(header(&users, "spin-component-route"), "/users/:id");
    assert_eq!(header(&users, "spin-base-path"), "/");
    assert_eq!(header(&users, "spin-path-match-id"), "42");
    assert!(header(&users, "spin-client-addr").starts_with("127.0.0.1:"));
    assert_eq!(
        users["path"]
            .as_str()
            .unwrap()
            .rsplit_once("/users")
            .unwrap()
            .1,
        "/42/bar?x=1"
    );

    assert_eq!(host.get("/private-echo").0, 404);
    assert_eq!(host.get("/nothing-here").0, 404);
    assert_eq!(
        host.get("/.well-known/fleetjobs/clock").0,
        404,
        "test clock without the flag"
    );

    let chained = host.json("/chain?url=http://private-echo.spin.internal/hello");
    assert_eq!(chained["status"], 200, "{chained}");
    let body: Value = serde_json::from_str(chained["body"].as_str().unwrap()).unwrap();
    assert!(body["path"].as_str().unwrap().ends_with("/hello"), "{body}");
    assert!(
        body["headers"].get("host").is_none(),
        "chaining drops Host: {body}"
    );

    let not_allowed = host.json("/chain?url=http://echo.spin.internal/x");
    assert!(
        not_allowed.get("error").is_some(),
        "chaining to an unlisted component: {not_allowed}"
    );
    let outside = host.json("/chain?url=http://example.org/");
    assert!(
        outside.get("error").is_some(),
        "outbound to a host not allowed: {outside}"
    );
}

#[test]
fn key_value_semantics() {
    let host = Host::start(&app_manifest(), &[], &[]);
    assert_eq!(host.json("/kv?op=get&key=missing")["result"], Value::Null);
    assert_eq!(host.json("/kv?op=set&key=a&value=1")["result"], "ok");
    assert_eq!(host.json("/kv?op=set&key=b&value=2")["result"], "ok");
    assert_eq!(host.json("/kv?op=get&key=a")["result"], "1");
    assert_eq!(host.json("/kv?op=exists&key=a")["result"], true);
    // The cron component shares the default store: look at our keys only.
    let keys = host.json("/kv?op=keys")["result"].clone();
    let ours: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|k| ["a", "b"].contains(k))
        .collect();
    assert_eq!(ours, ["a", "b"]);
    assert_eq!(host.json("/kv?op=delete&key=a")["result"], "ok");
    assert_eq!(host.json("/kv?op=exists&key=a")["result"], false);
    assert_eq!(
        host.json("/kv?op=delete&key=a")["result"],
        "ok",
        "deleting a missing key is fine"
    );
    let denied = host.json("/kv?op=get&key=a&label=other");
    assert!(
        denied["error"].as_str().unwrap().contains("AccessDenied"),
        "{denied}"
    );
}

fn sqlite(host: &Host, api: &str, statements: Value) -> Vec<Value> {
    let reply = host.post_json(
        "/sqlite",
        &json!({"database": "default", "api": api, "statements": statements}),
    );
    reply["results"].as_array().unwrap().clone()
}

#[test]
fn sqlite_transactions_types_and_single_statements() {
    let host = Host::start(&app_manifest(), &[], &[]);
    for api in ["v2", "v3"] {
        let table = format!("t_{api}");
        let results = sqlite(
            &host,
            api,
            json!([
                {"sql": format!("CREATE TABLE {table} (i INTEGER, r REAL, t TEXT, b BLOB, n)"), "params": []},
                {"sql": "BEGIN", "params": []},
                {"sql": format!("INSERT INTO {table} VALUES (?, ?, ?, ?, ?)"),
                 "params": [7, {"real": 1.5}, "text", {"blob": [0, 1, 255]}, null]},
                {"sql": "COMMIT", "params": []},
                {"sql": "BEGIN", "params": []},
                {"sql": format!("INSERT INTO {table} VALUES (8, 0, 'rolled back', NULL, NULL)"), "params": []},
                {"sql": "ROLLBACK", "params": []},
                {"sql": format!("SELECT i, r, t, b, n FROM {table}"), "params": []},
                {"sql": format!("SELECT 1; SELECT 2"), "params": []},
            ]),
        );
        for (i, result) in results.iter().enumerate().take(8) {
            assert!(
                result.get("error").is_none(),
                "{api} statement {i}: {result}"
            );
        }
        assert_eq!(results[7]["columns"], json!(["i", "r", "t", "b", "n"]));
        assert_eq!(
            results[7]["rows"],
            json!([[7, {"real": 1.5}, "text", {"blob": [0, 1, 255]}, null]])
        );
        assert!(
            results[8].get("error").is_some(),
            "two statements in one call: {}",
            results[8]
        );
    }
    // A later request (new connection) sees the committed row only.
    let later = sqlite(
        &host,
        "v2",
        json!([{"sql": "SELECT COUNT(*) FROM t_v2", "params": []}]),
    );
    assert_eq!(later[0]["rows"], json!([[1]]));
}

/// `guests` requests to the SQLite component at once, the `n`th running
/// `statements(n)` on its interface version; every statement must succeed.
fn all_at_once(
    host: &Host,
    guests: usize,
    statements: impl Fn(usize) -> (&'static str, Value) + Sync,
) {
    std::thread::scope(|scope| {
        for n in 0..guests {
            let statements = &statements;
            scope.spawn(move || {
                let (api, statements) = statements(n);
                let results = sqlite(host, api, statements);
                for result in &results {
                    assert!(result.get("error").is_none(), "guest {n}: {results:?}");
                }
            });
        }
    });
}

/// Writers queue in the host: 200 guests writing at once all commit (none
/// sees `database is locked`), and a guest that ends inside a transaction
/// (finished or trapped: its connection is dropped) is rolled back and does
/// not hold up the next writer.
#[test]
fn sqlite_concurrent_writers_queue_and_an_abandoned_transaction_is_rolled_back() {
    let host = Host::start(&app_manifest(), &[], &[]);
    sqlite(
        &host,
        "v3",
        json!([{"sql": "CREATE TABLE w (n INTEGER)", "params": []}]),
    );
    let abandoned = sqlite(
        &host,
        "v3",
        json!([
            {"sql": "BEGIN IMMEDIATE", "params": []},
            {"sql": "INSERT INTO w VALUES (-1)", "params": []},
        ]),
    );
    assert!(
        abandoned.iter().all(|r| r.get("error").is_none()),
        "{abandoned:?}"
    );
    all_at_once(&host, 200, |n| {
        let api = if n % 2 == 0 { "v2" } else { "v3" };
        let statements = json!([
            {"sql": "BEGIN IMMEDIATE", "params": []},
            {"sql": "SELECT COUNT(*) FROM w", "params": []},
            {"sql": "INSERT INTO w VALUES (?)", "params": [n]},
            {"sql": "COMMIT", "params": []},
        ]);
        (api, statements)
    });
    let rows = sqlite(
        &host,
        "v2",
        json!([{"sql": "SELECT COUNT(*), MIN(n) FROM w", "params": []}]),
    );
    assert_eq!(
        rows[0]["rows"],
        json!([[200, 0]]),
        "all committed, the abandoned row gone"
    );

    // Connections are pooled, but what a guest left on its connection
    // (a temporary table) does not reach the next guest.
    let temp = sqlite(
        &host,
        "v2",
        json!([{"sql": "CREATE TEMP TABLE mine (n)", "params": []}]),
    );
    assert!(temp[0].get("error").is_none(), "{temp:?}");
    for _ in 0..20 {
        let seen = sqlite(
            &host,
            "v2",
            json!([{"sql": "SELECT COUNT(*) FROM temp.sqlite_master", "params": []}]),
        );
        assert_eq!(seen[0]["rows"], json!([[0]]));
    }
}

/// A guest that traps inside a transaction leaves no lock behind: its
/// connection is rolled back and the next writer commits at once.
#[test]
fn sqlite_a_guest_trapping_inside_a_transaction_does_not_block_the_next_writer() {
    let host = Host::start(&app_manifest(), &[], &[]);
    sqlite(
        &host,
        "v2",
        json!([{"sql": "CREATE TABLE trapped (n INTEGER)", "params": []}]),
    );
    let body = json!({"database": "default", "api": "v2", "trap": true, "statements": [
        {"sql": "BEGIN IMMEDIATE", "params": []},
        {"sql": "INSERT INTO trapped VALUES (1)", "params": []},
    ]});
    let (status, _) = host.post("/sqlite", &body.to_string());
    assert_eq!(status, 500, "the guest trapped");
    let next = sqlite(
        &host,
        "v2",
        json!([
            {"sql": "BEGIN IMMEDIATE", "params": []},
            {"sql": "INSERT INTO trapped VALUES (2)", "params": []},
            {"sql": "COMMIT", "params": []},
            {"sql": "SELECT n FROM trapped", "params": []},
        ]),
    );
    assert!(next.iter().all(|r| r.get("error").is_none()), "{next:?}");
    assert_eq!(next[3]["rows"], json!([[2]]), "the trapped insert is gone");
}

/// A transaction spans calls on one connection and is invisible to the
/// database's other connections until it commits.
#[test]
fn sqlite_a_transaction_spans_calls_and_is_invisible_until_commit() {
    let host = Host::start(&app_manifest(), &[], &[]);
    let results = sqlite(
        &host,
        "v2",
        json!([
            {"sql": "CREATE TABLE isolated (n INTEGER)", "params": []},
            {"sql": "BEGIN", "params": [], "connection": 0},
            {"sql": "INSERT INTO isolated VALUES (1)", "params": [], "connection": 0},
            {"sql": "SELECT COUNT(*) FROM isolated", "params": [], "connection": 0},
            {"sql": "SELECT COUNT(*) FROM isolated", "params": [], "connection": 1},
            {"sql": "COMMIT", "params": [], "connection": 0},
            {"sql": "SELECT COUNT(*) FROM isolated", "params": [], "connection": 1},
        ]),
    );
    assert!(
        results.iter().all(|r| r.get("error").is_none()),
        "{results:?}"
    );
    assert_eq!(
        results[3]["rows"],
        json!([[1]]),
        "seen inside the transaction"
    );
    assert_eq!(
        results[4]["rows"],
        json!([[0]]),
        "not seen by another connection"
    );
    assert_eq!(
        results[6]["rows"],
        json!([[1]]),
        "seen by it after the commit"
    );
}

/// A write transaction runs on the database's writer connection (its page
/// cache stays warm), which the guest cannot tell: `changes` and
/// `last-insert-rowid` report its last write inside the transaction and
/// after COMMIT, an autocommit write after it reports its own, and a
/// temporary table made inside a transaction does not reach the next guest.
#[test]
fn sqlite_a_write_transaction_on_the_writer_connection_looks_like_the_guests_own() {
    let host = Host::start(&app_manifest(), &[], &[]);
    let results = sqlite(
        &host,
        "v3",
        json!([
            {"sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)", "params": []},
            {"sql": "INSERT INTO t (n) VALUES (1), (2), (3)", "params": []},
            {"sql": "BEGIN IMMEDIATE", "params": []},
            {"sql": "UPDATE t SET n = n + 1 WHERE n >= 2", "params": []},
            {"sql": "INSERT INTO t (n) VALUES (10)", "params": []},
            {"sql": "COMMIT", "params": []},
            {"sql": "SELECT COUNT(*) FROM t", "params": []},
            {"sql": "UPDATE t SET n = 0", "params": []},
        ]),
    );
    assert!(
        results.iter().all(|r| r.get("error").is_none()),
        "{results:?}"
    );
    let counts = |i: usize| {
        (
            results[i]["changes"].clone(),
            results[i]["last_insert_rowid"].clone(),
        )
    };
    assert_eq!(counts(1), (json!(3), json!(3)), "autocommit insert");
    assert_eq!(counts(3), (json!(2), json!(3)), "update in the transaction");
    assert_eq!(counts(4), (json!(1), json!(4)), "insert in the transaction");
    assert_eq!(
        counts(5),
        (json!(1), json!(4)),
        "after COMMIT: its last write"
    );
    assert_eq!(counts(6), (json!(1), json!(4)), "a read changes nothing");
    assert_eq!(results[6]["rows"], json!([[4]]));
    assert_eq!(
        counts(7),
        (json!(4), json!(4)),
        "an autocommit write after it"
    );

    let temp = sqlite(
        &host,
        "v3",
        json!([
            {"sql": "BEGIN IMMEDIATE", "params": []},
            {"sql": "CREATE TEMP TABLE mine (n)", "params": []},
            {"sql": "INSERT INTO t (n) VALUES (5)", "params": []},
            {"sql": "COMMIT", "params": []},
        ]),
    );
    assert!(temp.iter().all(|r| r.get("error").is_none()), "{temp:?}");
    let next = sqlite(
        &host,
        "v3",
        json!([
            {"sql": "BEGIN IMMEDIATE", "params": []},
            {"sql": "SELECT COUNT(*) FROM temp.sqlite_master", "params": []},
            {"sql": "SELECT COUNT(*) FROM t", "params": []},
            {"sql": "COMMIT", "params": []},
        ]),
    );
    assert_eq!(next[1]["rows"], json!([[0]]), "{next:?}");
    assert_eq!(next[2]["rows"], json!([[5]]), "{next:?}");
}

/// Connections are pooled with their prepared statements: running the same
/// statements again and again parses them once per pooled connection, not
/// once per use (the host's metrics hook counts both).
#[test]
fn sqlite_statements_are_prepared_once_per_pooled_connection() {
    let host = Host::start(&app_manifest(), &["--test-clock"], &[]);
    sqlite(
        &host,
        "v2",
        json!([{"sql": "CREATE TABLE reused (n INTEGER)", "params": []}]),
    );
    let metrics = || host.json("/.well-known/fleetjobs/metrics")["sqlite"].clone();
    let before = metrics();
    for n in 0..100 {
        sqlite(
            &host,
            "v2",
            json!([
                {"sql": "INSERT INTO reused VALUES (?)", "params": [n]},
                {"sql": "SELECT COUNT(*) FROM reused", "params": []},
            ]),
        );
    }
    let after = metrics();
    let delta = |key: &str| after[key].as_u64().unwrap() - before[key].as_u64().unwrap();
    assert_eq!(delta("statementsRun"), 200);
    // Requests here run one at a time, so one pooled connection serves them:
    // its two statements are prepared once.
    assert!(delta("statementsPrepared") <= 2, "{before} → {after}");
}

/// A guest holds a pooled connection for a statement, or while a
/// transaction is open on it, not for its whole life: 100 guests waiting
/// for the writer at once do not open a connection each.
#[test]
fn sqlite_guests_waiting_for_the_writer_hold_no_connection() {
    let host = Host::start(&app_manifest(), &["--test-clock"], &[]);
    sqlite(
        &host,
        "v3",
        json!([{"sql": "CREATE TABLE waiting (n INTEGER)", "params": []}]),
    );
    all_at_once(&host, 100, |n| {
        let statements = json!([
            {"sql": "SELECT COUNT(*) FROM waiting", "params": []},
            {"sql": "BEGIN IMMEDIATE", "params": []},
            {"sql": "INSERT INTO waiting VALUES (?)", "params": [n]},
            {"sql": "COMMIT", "params": []},
        ]);
        ("v3", statements)
    });
    let metrics = host.json("/.well-known/fleetjobs/metrics")["sqlite"].clone();
    let opened = metrics["connectionsOpened"].as_u64().unwrap();
    // The pool's 16 and the writer's at most.
    assert!(opened <= 17, "{metrics}");
    let rows = sqlite(
        &host,
        "v2",
        json!([{"sql": "SELECT COUNT(*) FROM waiting", "params": []}]),
    );
    assert_eq!(rows[0]["rows"], json!([[100]]));
}

/// The request's authority is the one the client asked for (its `Host`
/// header), as on Spin, not the listener's address; `spin-full-url` too.
#[test]
fn the_request_authority_comes_from_the_host_header() {
    use std::io::{Read, Write};
    let host = Host::start(&app_manifest(), &[], &[]);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", host.port)).unwrap();
    stream
        .write_all(
            b"GET /echo/exact?x=1 HTTP/1.0\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    let seen: Value = serde_json::from_str(body).unwrap();
    assert_eq!(seen["uri"], "http://example.com/echo/exact?x=1", "{seen}");
    assert_eq!(
        header(&seen, "spin-full-url"),
        "http://example.com/echo/exact?x=1"
    );
}

/// A denied outbound MQTT address fails with Spin's own words.
#[test]
fn a_denied_mqtt_address_is_refused_in_spins_words() {
    let host = Host::start(&app_manifest(), &[], &[]);
    let address = "mqtt://localhost:1884?client_id=spintest";
    let reply = host.post_json(
        "/mqtt",
        &json!({"address": address, "topic": "t", "payload": "p", "qos": 0,
                "username": "", "password": ""}),
    );
    let error = reply["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("\"address {address} is not permitted\"")),
        "{reply}"
    );
}

#[test]
fn variables_defaults_templates_and_environment() {
    let host = Host::start(
        &app_manifest(),
        &[],
        &[("SPIN_VARIABLE_OVERRIDDEN", "from-env")],
    );
    assert_eq!(
        host.json("/variables?name=greeting")["value"],
        "hello, world"
    );
    assert_eq!(host.json("/variables?name=overridden")["value"], "from-env");
    let undefined = host.json("/variables?name=nope");
    assert!(
        undefined["error"].as_str().unwrap().contains("Undefined"),
        "{undefined}"
    );
}

#[test]
fn a_missing_required_variable_and_a_bad_manifest_stop_start_up_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[variables]\ntoken = { required = true }\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fleetjobs"))
        .args([
            "up",
            "--mqtt-url",
            "mqtt://127.0.0.1:1",
            "--listen",
            "127.0.0.1:0",
            "--from",
        ])
        .arg(&manifest)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("token"), "{stderr}");

    std::fs::write(
        &manifest,
        "spin_manifest_version = 2\n[application]\nname = \"x\"\nnmae = 1\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fleetjobs"))
        .args(["check", "--from"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("application.nmae"), "{stderr}");
}

#[test]
fn a_cron_or_mqtt_component_listing_a_chaining_host_is_refused_like_spin() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("spin.toml");
    for trigger in [
        "[[trigger.cron]]\ncomponent = \"worker\"\ncron_expression = \"* * * * * *\"\n",
        "[application.trigger.mqtt]\naddress = \"mqtt://127.0.0.1:1\"\nusername = \"\"\npassword = \"\"\nkeep_alive_interval = \"30\"\n\
         [[trigger.mqtt]]\ncomponent = \"worker\"\ntopic = \"a/+\"\nqos = \"1\"\n",
    ] {
        std::fs::write(
            &manifest,
            format!(
                "spin_manifest_version = 2\n[application]\nname = \"x\"\n{trigger}\
                 [component.worker]\nsource = \"worker.wasm\"\n\
                 allowed_outbound_hosts = [\"mqtt://127.0.0.1:1883\", \"http://*.spin.internal\"]\n"
            ),
        )
        .unwrap();
        let state_dir = dir.path().join("state");
        let up = [
            "up",
            "--mqtt-url",
            "mqtt://127.0.0.1:1",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            state_dir.to_str().unwrap(),
        ];
        for command in [&["check"][..], &up[..]] {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_fleetjobs"))
                .args(command)
                .arg("--from")
                .arg(&manifest)
                .output()
                .unwrap();
            assert!(!output.status.success(), "{command:?} accepted it");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("component.worker.allowed_outbound_hosts[1]")
                    && stderr.contains("\"worker\"")
                    && stderr.contains("local_service_chaining"),
                "{command:?}: {stderr}"
            );
        }
    }
}

#[test]
fn a_runaway_component_is_stopped_while_others_keep_serving() {
    let host = Host::start(&app_manifest(), &["--execution-deadline-ms", "500"], &[]);
    let port = host.port;
    let runaway = std::thread::spawn(move || request(port, "GET", "/loop", ""));
    for _ in 0..5 {
        assert_eq!(host.get("/echo/still-here").0, 200);
    }
    let (status, body) = runaway.join().unwrap();
    assert_eq!(status, 500, "{body}");
    assert_eq!(host.get("/echo/after").0, 200);
}

fn kv_number(host: &Host, key: &str) -> u64 {
    host.json(&format!("/cron-kv?op=get&key={key}"))["result"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn cron_fires_every_tick_even_while_a_slow_run_is_busy() {
    // Spin's trigger-cron spawns each tick's run, so a run that outlasts the
    // one-second schedule overlaps the next.
    let host = Host::start(&app_manifest(), &[], &[("SPIN_VARIABLE_SLEEP_MS", "1500")]);
    eventually("a run that started while another was busy", || {
        (kv_number(&host, "overlaps") >= 1).then_some(())
    });
}

#[test]
fn test_clock_moves_time_and_runs_cron_on_demand() {
    let host = Host::start(&app_manifest(), &["--test-clock"], &[]);
    let before = host.json("/clock")["now_secs"].as_u64().unwrap();
    let (status, _) = host.post("/.well-known/fleetjobs/clock/advance?seconds=3600", "");
    assert_eq!(status, 200);
    let after = host.json("/clock")["now_secs"].as_u64().unwrap();
    assert!(
        after >= before + 3600 && after < before + 3700,
        "{before} → {after}"
    );

    let ticks = kv_number(&host, "ticks");
    let (status, body) = host.post("/.well-known/fleetjobs/cron/run?component=cron-counter", "");
    assert_eq!(status, 200, "{body}");
    assert!(kv_number(&host, "ticks") > ticks);
    let timestamps = host.json("/cron-kv?op=get&key=timestamps");
    let last: Vec<u64> = serde_json::from_str(timestamps["result"].as_str().unwrap()).unwrap();
    assert!(
        *last.last().unwrap() >= before + 3600,
        "cron saw the moved clock: {last:?}"
    );
    assert_eq!(
        host.post("/.well-known/fleetjobs/cron/run?component=nope", "")
            .0,
        400
    );
}

/// A managed mosquitto on a free port, and the conformance app's host
/// logged in to it with the broker's service account (plus `args`).
async fn host_with_broker(
    state: &std::path::Path,
    args: &'static [&'static str],
) -> (
    fleetjobs::broker::ManagedBroker,
    std::sync::Arc<Host>,
    fleetjobs::broker::ServiceAccount,
) {
    let broker = fleetjobs::broker::ManagedBroker::start(state, free_port(), &[])
        .await
        .unwrap();
    let login = broker.service_account().clone();
    let host = broker_host(&broker, app_manifest(), args, &[]).await;
    (broker, host, login)
}

/// A host of `manifest` logged in to `broker` (plus `args` and `env`).
async fn broker_host(
    broker: &fleetjobs::broker::ManagedBroker,
    manifest: std::path::PathBuf,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
) -> std::sync::Arc<Host> {
    let login = broker.service_account().clone();
    let url = broker.url();
    let host = tokio::task::spawn_blocking(move || {
        let mut all = vec!["--mqtt-url", url.as_str()];
        all.extend_from_slice(args);
        let mut vars = vec![
            ("SPIN_VARIABLE_MQTT_USERNAME", login.username.as_str()),
            ("SPIN_VARIABLE_MQTT_PASSWORD", login.password.as_str()),
        ];
        vars.extend_from_slice(env);
        Host::start(&manifest, &all, &vars)
    })
    .await
    .unwrap();
    std::sync::Arc::new(host)
}

/// A device client of `broker` with the service account's login, its
/// event loop polled in the background.
fn broker_client(broker: &fleetjobs::broker::ManagedBroker, id: &str) -> rumqttc::AsyncClient {
    let login = broker.service_account();
    let mut options = rumqttc::MqttOptions::new(id, "127.0.0.1", broker.port());
    options.set_credentials(&login.username, &login.password);
    let (client, mut events) = rumqttc::AsyncClient::new(options, 1000);
    tokio::spawn(async move {
        loop {
            if events.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    client
}

/// What `mqtt-recorder` recorded for `topic`, oldest first.
fn recorded(host: &Host, topic: &str) -> Vec<String> {
    host.json(&format!("/cron-kv?op=get&key=topic:{topic}"))["result"]
        .as_str()
        .map(|list| serde_json::from_str(list).unwrap())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_outbound_trigger_ordering_and_broker_restart() {
    use fleetjobs::broker::ManagedBroker;
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

    let broker_state = tempfile::tempdir().unwrap();
    let (broker, host, login) = host_with_broker(broker_state.path(), &[]).await;
    let url = broker.url();
    let port = broker.port();
    let logged_in = |id: &str| {
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_credentials(&login.username, &login.password);
        options
    };

    // Outbound publish is seen by a real subscriber.
    let (subscriber, mut events) = AsyncClient::new(logged_in("conformance-sub"), 100);
    subscriber
        .subscribe("conformance/out", QoS::AtLeastOnce)
        .await
        .unwrap();
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = seen_tx.send(String::from_utf8_lossy(&p.payload).into_owned());
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    let publish = {
        let host = host.clone();
        let login = login.clone();
        let address = format!("{url}?client_id=conformance-out");
        move || {
            host.post_json(
                "/mqtt",
                &json!({"address": address, "topic": "conformance/out", "payload": "hi", "qos": 1,
                        "username": login.username, "password": login.password}),
            )
        }
    };
    let got = tokio::time::timeout(DEADLINE, async {
        loop {
            let reply = tokio::task::spawn_blocking(publish.clone()).await.unwrap();
            assert_eq!(reply["ok"], true, "{reply}");
            if let Ok(Some(payload)) =
                tokio::time::timeout(Duration::from_millis(500), seen.recv()).await
            {
                return payload;
            }
        }
    })
    .await
    .expect("the subscriber never saw the publish");
    assert_eq!(got, "hi");

    // The trigger: a burst per device stays in order.
    let (device, mut device_events) = AsyncClient::new(logged_in("conformance-dev"), 1000);
    tokio::spawn(async move {
        loop {
            if device_events.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let burst = 40;
    for i in 0..burst {
        for dev in ["d1", "d2"] {
            device
                .publish(
                    format!("conformance/{dev}/events/x"),
                    QoS::AtLeastOnce,
                    false,
                    i.to_string(),
                )
                .await
                .unwrap();
        }
    }
    let expected: Vec<String> = (0..burst).map(|i| i.to_string()).collect();
    for dev in ["d1", "d2"] {
        let host = host.clone();
        let topic = format!("conformance/{dev}/events/x");
        let wanted = expected.len();
        let list = tokio::task::spawn_blocking(move || {
            eventually("the burst to be recorded", || {
                let list = recorded(&host, &topic);
                (list.len() >= wanted).then_some(list)
            })
        })
        .await
        .unwrap();
        assert_eq!(list, expected, "messages of {dev} out of order");
    }

    // An MQTT instance's request to `*.spin.internal` is not served
    // in-process (only the HTTP trigger chains, as on Spin): it fails, while
    // the same component reaches an ordinary URL.
    for (dev, url) in [
        ("d4", "http://private-echo.spin.internal/".to_owned()),
        ("d5", format!("http://127.0.0.1:{}/echo/exact", host.port)),
    ] {
        let topic = format!("conformance/{dev}/events/fetch");
        device
            .publish(&topic, QoS::AtLeastOnce, false, format!("fetch {url}"))
            .await
            .unwrap();
        let host = host.clone();
        let list = tokio::task::spawn_blocking(move || {
            eventually("the fetch to be recorded", || {
                let list = recorded(&host, &topic);
                (!list.is_empty()).then_some(list)
            })
        })
        .await
        .unwrap();
        match dev {
            "d4" => assert!(list[0].starts_with("error ErrorCode::Dns"), "{list:?}"),
            _ => assert_eq!(list[0], "status 200"),
        }
    }

    // Delivery resumes after the broker restarts.
    broker.stop().await;
    let broker = ManagedBroker::start(broker_state.path(), port, &[])
        .await
        .unwrap();
    assert_eq!(broker.port(), port);
    let topic = "conformance/d3/events/after-restart";
    let list = tokio::task::spawn_blocking({
        let host = host.clone();
        move || {
            eventually("delivery after the broker restart", || {
                let list = recorded(&host, topic);
                (!list.is_empty()).then_some(list)
            })
        }
    });
    // Publish until the trigger has resubscribed and records it.
    let deadline = std::time::Instant::now() + DEADLINE;
    while !list.is_finished() {
        assert!(std::time::Instant::now() < deadline);
        let _ = device.publish(topic, QoS::AtLeastOnce, false, "back").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(list.await.unwrap()[0], "back");
    broker.stop().await;
}

/// The MQTT trigger's lanes live only while they have messages: after one
/// message from each of 20,000 distinct devices and a quiet moment no lane
/// is left, and a device's burst afterwards is still handled in order.
#[tokio::test(flavor = "multi_thread")]
async fn mqtt_trigger_lanes_are_retired_when_idle() {
    use rumqttc::{AsyncClient, MqttOptions, QoS};

    let broker_state = tempfile::tempdir().unwrap();
    let (broker, host, login) = host_with_broker(broker_state.path(), &["--test-clock"]).await;
    let mut options = MqttOptions::new("conformance-lanes", "127.0.0.1", broker.port());
    options.set_credentials(&login.username, &login.password);
    let (device, mut events) = AsyncClient::new(options, 1000);
    tokio::spawn(async move {
        loop {
            if events.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let devices = 20_000;
    for i in 0..devices {
        device
            .publish(
                format!("conformance/lane{i}/events/x"),
                QoS::AtLeastOnce,
                false,
                i.to_string(),
            )
            .await
            .unwrap();
    }
    let trigger = |host: &Host| host.json("/.well-known/fleetjobs/metrics")["mqttTrigger"].clone();
    let last = format!("conformance/lane{}/events/x", devices - 1);
    tokio::task::spawn_blocking({
        let host = host.clone();
        move || {
            // The last message was dispatched after every other one: once it
            // is recorded and nothing is in the host, all were handled.
            // 20,000 instances: minutes on a loaded machine in a debug build.
            let flood = Duration::from_secs(180);
            eventually_within(flood, "the last device's message to be recorded", || {
                (!recorded(&host, &last).is_empty()).then_some(())
            });
            eventually_within(flood, "every lane to be retired", || {
                let now = trigger(&host);
                (now["lanes"] == 0 && now["messagesInHost"] == 0).then_some(())
            });
        }
    })
    .await
    .unwrap();

    let burst = 40;
    let topic = "conformance/lane7/events/x";
    for i in 0..burst {
        device
            .publish(topic, QoS::AtLeastOnce, false, format!("after {i}"))
            .await
            .unwrap();
    }
    let mut expected = vec!["7".to_owned()];
    expected.extend((0..burst).map(|i| format!("after {i}")));
    let list = tokio::task::spawn_blocking({
        let host = host.clone();
        let wanted = expected.len();
        move || {
            eventually("the burst to be recorded", || {
                let list = recorded(&host, topic);
                (list.len() >= wanted).then_some(list)
            })
        }
    })
    .await
    .unwrap();
    assert_eq!(list, expected, "one device's messages in order");
    broker.stop().await;
}

/// An HTTP server that answers every request after `delay` and logs each
/// request's path when it arrives: the slow part of a slow MQTT component.
async fn slow_server(delay: Duration) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let paths = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            let paths = paths.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split(' ').nth(1).unwrap_or_default().to_owned();
                paths.lock().unwrap().push(path);
                tokio::time::sleep(delay).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (port, log)
}

/// More messages than the host may hold, for a slow component: the host
/// holds at most its limit (the broker stops sending while acknowledgements
/// are withheld), its connection stays up through the keep-alive while the
/// window is closed (a clean session would lose what the broker held), and
/// every message arrives once, in order per thing.
#[tokio::test(flavor = "multi_thread")]
async fn mqtt_trigger_holds_a_flood_within_its_bound_and_loses_nothing() {
    const LIMIT: usize = 300;
    let broker_state = tempfile::tempdir().unwrap();
    let broker = fleetjobs::broker::ManagedBroker::start(broker_state.path(), free_port(), &[])
        .await
        .unwrap();
    let host = broker_host(
        &broker,
        app_manifest(),
        &["--test-clock"],
        &[("FLEETJOBS_MQTT_QUEUE_LIMIT", "300")],
    )
    .await;
    // 100 ms a message, 20 things of 60 messages each: a thing's lane takes
    // six seconds, longer than the connection's 5 s keep-alive.
    let (port, paths) = slow_server(Duration::from_millis(100)).await;
    let device = broker_client(&broker, "conformance-flood");
    let (things, each) = (20, 60);
    assert!(things * each > 3 * LIMIT);
    for i in 0..each {
        for thing in 0..things {
            device
                .publish(
                    format!("conformance/flood{thing}/events/slow"),
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    format!("fetch http://127.0.0.1:{port}/flood{thing}/{i}"),
                )
                .await
                .unwrap();
        }
    }
    let trigger = |host: &Host| host.json("/.well-known/fleetjobs/metrics")["mqttTrigger"].clone();
    let done = tokio::task::spawn_blocking({
        let host = host.clone();
        let paths = paths.clone();
        move || {
            eventually_within(
                Duration::from_secs(180),
                "every message to be handled",
                || {
                    let now = trigger(&host);
                    let arrived = paths.lock().unwrap().len();
                    (arrived >= things * each && now["messagesInHost"] == 0).then_some(now)
                },
            )
        }
    })
    .await
    .unwrap();
    eprintln!("mqttTrigger after the flood: {done}");
    let high_water = done["queueHighWater"].as_u64().unwrap() as usize;
    assert_eq!(done["queueLimit"], LIMIT);
    assert!(high_water <= LIMIT, "the host held {high_water} > {LIMIT}");
    assert!(
        high_water >= LIMIT * 2 / 3 && done["pauses"].as_u64().unwrap() > 0,
        "the flood never filled the host ({high_water}): the bound was not exercised"
    );
    let paths = paths.lock().unwrap().clone();
    assert_eq!(paths.len(), things * each, "a message handled twice");
    for thing in 0..things {
        let prefix = format!("/flood{thing}/");
        let seen: Vec<String> = paths
            .iter()
            .filter_map(|p| p.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        let expected: Vec<String> = (0..each).map(|i| i.to_string()).collect();
        assert_eq!(seen, expected, "thing {thing}: lost or out of order");
    }
    broker.stop().await;
}

/// Two hosts subscribed to one shared subscription
/// (`$share/{group}/{filter}`) split the messages: each is handled exactly
/// once, by one of them, and both take part. (mosquitto shares only topics
/// that do not start with `$`.)
#[tokio::test(flavor = "multi_thread")]
async fn mqtt_trigger_shared_subscription_splits_messages_between_hosts() {
    let broker_state = tempfile::tempdir().unwrap();
    let broker = fleetjobs::broker::ManagedBroker::start(
        broker_state.path(),
        free_port(),
        &["$share".to_owned()],
    )
    .await
    .unwrap();
    let app = tempfile::tempdir().unwrap();
    let wasm = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/components/target/wasm32-wasip2/release");
    let manifest = app.path().join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"spin_manifest_version = 2
[application]
name = "shared"
[application.trigger.mqtt]
address = "{{{{ mqtt_url }}}}"
username = "{{{{ mqtt_username }}}}"
password = "{{{{ mqtt_password }}}}"
keep_alive_interval = "5"
[variables]
mqtt_url = {{ default = "mqtt://127.0.0.1:1883" }}
mqtt_username = {{ default = "" }}
mqtt_password = {{ default = "" }}
[[trigger.http]]
route = "/cron-kv"
component = "kv"
[[trigger.mqtt]]
component = "mqtt-recorder"
topic = "$share/replicas/shared/+/events/#"
qos = "1"
[component.kv]
source = "{wasm}/kv.wasm"
key_value_stores = ["default"]
[component.mqtt-recorder]
source = "{wasm}/mqtt_recorder.wasm"
key_value_stores = ["default"]
"#,
            wasm = wasm.display()
        ),
    )
    .unwrap();
    let first = broker_host(&broker, manifest.clone(), &["--test-clock"], &[]).await;
    let second = broker_host(&broker, manifest, &["--test-clock"], &[]).await;
    let device = broker_client(&broker, "conformance-shared");
    let (things, each) = (10, 20);
    // Both hosts' subscriptions are in place once a probe reaches each.
    for host in [&first, &second] {
        let host = host.clone();
        let probe = tokio::spawn({
            let device = device.clone();
            async move {
                for i in 0.. {
                    let _ = device
                        .publish(
                            format!("shared/probe{i}/events/x"),
                            rumqttc::QoS::AtLeastOnce,
                            false,
                            "probe",
                        )
                        .await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        });
        tokio::task::spawn_blocking(move || {
            eventually("a probe to reach the host", || {
                (host.json("/.well-known/fleetjobs/metrics")["mqttTrigger"]["queueHighWater"]
                    .as_u64()
                    .unwrap_or(0)
                    > 0)
                .then_some(())
            })
        })
        .await
        .unwrap();
        probe.abort();
    }
    for i in 0..each {
        for thing in 0..things {
            device
                .publish(
                    format!("shared/t{thing}/events/x"),
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    i.to_string(),
                )
                .await
                .unwrap();
        }
    }
    let recorded_by = move |host: &Host| -> Vec<Vec<String>> {
        (0..things)
            .map(|thing| recorded(host, &format!("shared/t{thing}/events/x")))
            .collect()
    };
    let (mine, theirs) = tokio::task::spawn_blocking({
        let (first, second) = (first.clone(), second.clone());
        move || {
            eventually("every message to be handled by one host", || {
                let (a, b) = (recorded_by(&first), recorded_by(&second));
                let total: usize = a.iter().chain(&b).map(Vec::len).sum();
                (total >= things * each).then_some((a, b))
            })
        }
    })
    .await
    .unwrap();
    let (count_a, count_b): (usize, usize) = (
        mine.iter().map(Vec::len).sum(),
        theirs.iter().map(Vec::len).sum(),
    );
    assert!(
        count_a > 0 && count_b > 0,
        "one host took everything: {count_a} / {count_b}"
    );
    for thing in 0..things {
        let mut all: Vec<u32> = mine[thing]
            .iter()
            .chain(&theirs[thing])
            .map(|payload| payload.parse().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..each as u32).collect::<Vec<_>>(),
            "thing {thing}: not exactly once"
        );
    }
    // Nothing more arrives later (no message was handled twice).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later: usize = recorded_by(&first)
        .iter()
        .chain(&recorded_by(&second))
        .map(Vec::len)
        .sum();
    assert_eq!(later, things * each);
    broker.stop().await;
}

#[test]
fn up_starts_a_managed_mosquitto_and_caches_compiled_components() {
    let host = Host::start(&app_manifest(), &[], &[]);
    let url = host.printed("MQTT").expect("the MQTT line");
    assert!(url.starts_with("mqtt://127.0.0.1:"), "{url}");
    let cached = std::fs::read_dir(host.state_dir().join("cache"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "cwasm")
        })
        .count();
    // Ten distinct wasm files; components sharing one file share its entry.
    assert_eq!(cached, 10);
}

#[test]
fn build_runs_each_components_build_command_in_its_workdir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let manifest = dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        r#"spin_manifest_version = 2
[application]
name = "build-test"
[component.one]
source = "one.wasm"
[component.one.build]
command = ["touch first", "touch second"]
workdir = "sub"
[component.two]
source = "two.wasm"
[component.two.build]
command = "false"
"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fleetjobs"))
        .args(["build", "--from"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(dir.path().join("sub/first").is_file());
    assert!(dir.path().join("sub/second").is_file());
    assert!(
        !output.status.success(),
        "a failing build command fails the build"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("component two"), "{stderr}");
}

#[test]
fn sigterm_lets_the_running_cron_job_finish_before_exiting() {
    let host = Host::start(&app_manifest(), &[], &[("SPIN_VARIABLE_SLEEP_MS", "1500")]);
    eventually("a cron run in progress", || {
        (host.json("/cron-kv?op=get&key=running")["result"] == "1").then_some(())
    });
    let (status, state) = host.stop();
    assert!(status.is_some_and(|s| s.success()), "exit: {status:?}");
    let kv = state
        .path()
        .join(fleetjobs::runtime_config::DEFAULT_KEY_VALUE_FILE);
    let conn = rusqlite::Connection::open(kv).unwrap();
    let running: Vec<u8> = conn
        .query_row(
            "SELECT value FROM spin_key_value WHERE store = 'default' AND key = 'running'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(running, b"0", "the in-flight cron run was cut off");
}
