//! The fleetjobs application (the repository's spin.toml) on the real host,
//! and the control-plane calls its end-to-end tests share.

use std::path::Path;
use std::sync::Mutex;

use serde_json::{json, Value};

use super::{authorized_request, Host, SHARED_CACHE_DIR};

pub const API_TOKEN: &str = "test-token-0123456789";

/// Whether a host of this test binary has started on the shared cache.
static CACHE_FILLED: Mutex<bool> = Mutex::new(false);

/// `fleetjobs up` on the repository's spin.toml with `args` and `env` added.
///
/// The first host compiles every component into the shared cache (half a
/// minute on a quiet 2-core machine); tests starting beside it wait for it
/// and then start warm, rather than compile the same components at once and
/// outrun the start-up deadline together.
pub fn fleetjobs(args: &[&str], env: &[(&str, &str)]) -> Host {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml");
    let mut all_args = vec!["--cache-dir", SHARED_CACHE_DIR];
    all_args.extend_from_slice(args);
    let mut all_env = vec![("SPIN_VARIABLE_API_TOKEN", API_TOKEN)];
    all_env.extend_from_slice(env);
    // A first start that failed (a poisoned lock) leaves the cache to the next.
    let mut filled = CACHE_FILLED.lock().unwrap_or_else(|e| e.into_inner());
    if *filled {
        drop(filled);
        return Host::start(&manifest, &all_args, &all_env);
    }
    let host = Host::start(&manifest, &all_args, &all_env);
    *filled = true;
    host
}

/// A control-plane call with the API token: status and JSON body (null when
/// empty, a string when not JSON).
pub fn api(host: &Host, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, text) = authorized_request(host.port, method, path, &body, Some(API_TOKEN));
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

/// A call that must answer `expected`; returns the body.
pub fn api_ok(host: &Host, method: &str, path: &str, body: Value, expected: u16) -> Value {
    let (status, reply) = api(host, method, path, &body);
    assert_eq!(status, expected, "{method} {path}: {reply}");
    reply
}

/// Registers a thing; returns its device token (which the host keeps too).
pub fn create_thing(host: &Host, name: &str) -> String {
    let reply = api_ok(
        host,
        "POST",
        "/api/v1/things",
        json!({"thingName": name}),
        201,
    );
    let token = reply["deviceToken"].as_str().unwrap().to_owned();
    host.keep_device_token(name, &token);
    token
}

/// Registers `count` things named `{prefix}{i:05}` (on a few connections at
/// once) in a new group named `prefix`; returns their names.
pub fn create_fleet(host: &Host, prefix: &str, count: usize) -> Vec<String> {
    create_fleet_on(&[host], prefix, count)
}

/// [`create_fleet`] with the calls spread over `hosts` (replicas of one
/// fleet); the first host keeps every device token.
pub fn create_fleet_on(hosts: &[&Host], prefix: &str, count: usize) -> Vec<String> {
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}{i:05}")).collect();
    api_ok(
        hosts[0],
        "POST",
        "/api/v1/thing-groups",
        json!({"thingGroupName": prefix}),
        201,
    );
    std::thread::scope(|scope| {
        let chunks = names.chunks(count.div_ceil(4 * hosts.len()).max(1));
        for (host, chunk) in hosts.iter().cycle().zip(chunks) {
            scope.spawn(move || {
                for name in chunk {
                    let token = create_thing(host, name);
                    hosts[0].keep_device_token(name, &token);
                    api_ok(
                        host,
                        "PUT",
                        &format!("/api/v1/thing-groups/{prefix}/things/{name}"),
                        Value::Null,
                        204,
                    );
                }
            });
        }
    });
    names
}

/// Registers `count` things named `{prefix}{i:05}` in a new group named
/// `prefix` straight into the running host's database (one transaction), for
/// fleets too large to register call by call; returns their names.
pub fn seed_fleet(host: &Host, prefix: &str, count: usize) -> Vec<String> {
    use fleetjobs_store::backend::native::NativeSql;
    use fleetjobs_store::{Store, StoreOptions};

    let names: Vec<String> = (0..count).map(|i| format!("{prefix}{i:05}")).collect();
    let path = host.state_dir().join("sqlite_db.db");
    let store = Store::new(NativeSql::open(path).unwrap(), StoreOptions::default());
    let now = fleetjobs_core::Timestamp(0);
    store.migrate(now).unwrap();
    store.register_group_of_things(prefix, &names, now).unwrap();
    names
}

/// A CreateJob body for `things` with a document naming the job.
pub fn job_body(job_id: &str, things: &[&str]) -> Value {
    json!({
        "jobId": job_id,
        "targets": {"thingNames": things},
        "document": {"operation": "update", "version": job_id},
    })
}

pub fn create_job(host: &Host, body: &Value) -> Value {
    api_ok(host, "POST", "/api/v1/jobs", body.clone(), 201)
}

pub fn describe_job(host: &Host, job_id: &str) -> Value {
    api_ok(
        host,
        "GET",
        &format!("/api/v1/jobs/{job_id}"),
        Value::Null,
        200,
    )
}

/// The control plane's view of one execution.
pub fn execution(host: &Host, job_id: &str, thing: &str) -> Value {
    api_ok(
        host,
        "GET",
        &format!("/api/v1/jobs/{job_id}/executions/{thing}"),
        Value::Null,
        200,
    )
}

/// The app with the test clock: cron runs only when the test asks, and the
/// sweeper makes a pass on every run.
pub fn fleetjobs_on_test_clock() -> Host {
    fleetjobs(
        &["--test-clock"],
        &[("SPIN_VARIABLE_SWEEP_EVERY_SECONDS", "1")],
    )
}

/// The test clock's now, in milliseconds.
pub fn now_ms(host: &Host) -> i64 {
    let (status, body) = host.get("/.well-known/fleetjobs/clock");
    assert_eq!(status, 200, "{body}");
    body.trim().parse().unwrap()
}

pub fn advance_minutes(host: &Host, minutes: u64) {
    let path = format!(
        "/.well-known/fleetjobs/clock/advance?seconds={}",
        minutes * 60
    );
    let (status, body) = host.post(&path, "");
    assert_eq!(status, 200, "{body}");
}

/// One sweeper pass, now.
pub fn sweep(host: &Host) {
    let (status, body) = host.post("/.well-known/fleetjobs/cron/run?component=sweeper", "");
    assert_eq!(status, 200, "{body}");
}

/// All executions of a job, from its counters.
pub fn executions(host: &Host, job_id: &str) -> u64 {
    describe_job(host, job_id)["jobProcessDetails"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum()
}
